"""Metrics: one registry, filled by the modules below.

modes.py      mode coverage of 2D Gaussian mixtures (the ring / grid studies)
fid/          the Fréchet Inception Distance: weights, extractors, statistics, reference caches
diversity.py  precision / recall / density / coverage and KID on the FID's Inception features
progress.py   progress bars (terminal) and plain progress lines (logs) for feature passes
"""

from gansweep.metrics import (
    diversity,  # noqa: E402,F401  registers "prdc" and "kid"
    fid,  # noqa: E402,F401  registers "fid" and "fid_tv_logits"
)
from gansweep.metrics.modes import METRICS, mode_metrics

__all__ = ["METRICS", "mode_metrics"]
