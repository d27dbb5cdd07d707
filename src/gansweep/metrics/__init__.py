"""Metrics: one registry, filled by the modules below."""

from gansweep.metrics.modes import METRICS, mode_metrics
from gansweep.metrics import fid  # noqa: E402,F401  registers "fid" and "fid_tv_logits"

__all__ = ["METRICS", "mode_metrics"]
