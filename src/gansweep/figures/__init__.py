"""Publication figures drawn from the aggregated result tables (PNG and PDF)."""
