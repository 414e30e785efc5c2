"""ecom_growth: the Python library behind the dbt project.

Pure functions (polars / Arrow in, polars out) for the simulator, recommendations, churn,
customer lifetime value and segments. dbt Python models in models/ml/ are thin wrappers.
"""

__version__ = "0.1.0"
