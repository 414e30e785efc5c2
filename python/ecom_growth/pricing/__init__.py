"""Dynamic pricing: price elasticity (PPML), price recommendations within guard rails, demand forecasts."""
