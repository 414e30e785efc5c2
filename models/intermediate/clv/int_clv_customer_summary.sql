-- BG/NBD / Gamma-Gamma inputs per customer from completed orders up to as_of (see clv_summary).
{{ clv_summary(as_of()) }}
