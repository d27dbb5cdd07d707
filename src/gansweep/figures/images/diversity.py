"""Mode coverage beside FID: recall and coverage (Naeem et al. 2020) vs the D learning rate.

FID mixes sample quality and diversity; the (αD, αG) papers are about mode collapse, which shows
as low recall and coverage. The figure puts FID, recall and coverage at one checkpoint side by
side, one line per cell family, mean and 95 % t-interval over seeds (the layout of FID vs lr).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from gansweep.figures import common
from gansweep.figures.common import apply_theme, epochs_text, save_message, seeds_text, set_title
from gansweep.figures.images.axes import _datasets, _legend_right, _range_text
from gansweep.figures.images.fid import _at_epoch, _clean_summary, _draw_vs_lr, _families, _metric

PANELS = {  # metric → axis label
    "fid": "FID",
    "recall": "recall (Naeem et al. 2020)\nhigher: more of the real data reached",
    "coverage": "coverage (Naeem et al. 2020)\nhigher: more real neighbourhoods hit",
}


def plot_diversity_vs_lr(summary: pd.DataFrame, stem: Path, epoch: float | None = None) -> None:
    """FID, recall and coverage at one checkpoint (default: each cell's last) vs lr_D, one panel
    each, one line per cell family; recall and coverage on a fixed 0–1 axis. A placeholder when
    the study recorded no PRDC (``eval.feature_metrics`` without ``prdc``)."""
    if _metric(summary, "recall") is None or _metric(summary, "coverage") is None:
        save_message(
            stem, "no recall / coverage in this study\n(eval.feature_metrics without prdc)"
        )
        return
    apply_theme()
    at, order, colors = _families(_at_epoch(_clean_summary(summary), epoch))
    shown = [m for m in PANELS if _metric(summary, m) is not None]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.9 * len(shown), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], shown):
        bounded = metric != "fid"
        handles, names = _draw_vs_lr(
            ax,
            at,
            order,
            colors,
            _metric(summary, metric)[:3],
            PANELS[metric],
            log_y=False if bounded else None,
        )
        if bounded:
            ax.set_ylim(-0.03, 1.03)
        ax.set_title(metric)
    epochs = _range_text(at["epoch"], epochs_text)
    fig.tight_layout()
    set_title(
        fig,
        f"FID beside recall and coverage at epoch {epochs} vs learning rate{_datasets(at)}\n"
        f"(mean and 95 % t-CI over seeds with a finite value; {seeds_text(at['n_seeds'])}; "
        "recall / coverage on the FID's Inception features)",
    )
    _legend_right(fig, handles, names)
    common.save_figure(fig, stem)
