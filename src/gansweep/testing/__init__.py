"""Tiny format-exact datasets and stand-in weights for tests and smoke runs (never results)."""
