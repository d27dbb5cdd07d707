"""Figures for the image studies (DCGAN / SNGAN / AC-GAN on CIFAR-10, CelebA, LSUN).

Same conventions as :mod:`gansweep.figures.ring`: every figure function takes result tables
(pandas DataFrames) or the image-array dict and an output *stem* (a path without suffix) and
writes ``stem.png`` (200 dpi) and ``stem.pdf`` atomically. Nothing about the data is hard-coded:
cells, objectives, α values, learning rates, checkpoints, seeds, layers, resolutions and class
counts all come from the inputs. :data:`FIGURES` maps each figure name to its function;
:data:`gansweep.figures.registry.IMAGE_FIGURE_INPUTS` names the tables it is drawn from.

cells.py      cell ids → info rows, reading order, legend labels
axes.py       shared axis / legend / text helpers
fid.py        FID vs learning rate, FID over epochs (standard and the authors' FID, never mixed)
diversity.py  recall and coverage (PRDC) vs learning rate beside FID
training.py   loss curves, vanishing-gradient counts
samples.py    sample grids, latent interpolations, AC-GAN per-class grids
"""

import functools

from gansweep.figures.images.diversity import plot_diversity_vs_lr
from gansweep.figures.images.fid import plot_fid_over_epochs, plot_fid_vs_lr
from gansweep.figures.images.samples import plot_class_grids, plot_interpolations, plot_sample_grids
from gansweep.figures.images.training import plot_loss_curves, plot_vanishing_gradients

FIGURES = {
    "fid_vs_lr": plot_fid_vs_lr,
    "fid_over_epochs": plot_fid_over_epochs,
    "fid_tv_logits_vs_lr": functools.partial(plot_fid_vs_lr, metric="fid_tv_logits"),
    "diversity_vs_lr": plot_diversity_vs_lr,
    "loss_curves": plot_loss_curves,
    "vanishing_gradients": plot_vanishing_gradients,
    "interpolations": plot_interpolations,
    "class_grids": plot_class_grids,
    "sample_grids": plot_sample_grids,
}

__all__ = [
    "FIGURES",
    "plot_class_grids",
    "plot_diversity_vs_lr",
    "plot_fid_over_epochs",
    "plot_fid_vs_lr",
    "plot_interpolations",
    "plot_loss_curves",
    "plot_sample_grids",
    "plot_vanishing_gradients",
]
