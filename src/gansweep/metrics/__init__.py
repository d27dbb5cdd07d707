"""Metrics: one registry, filled by the modules below."""

from gansweep.metrics.modes import METRICS, mode_metrics

__all__ = ["METRICS", "mode_metrics"]
