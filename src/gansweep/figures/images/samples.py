"""Image-array figures from the final generators: sample grids, latent interpolations and AC-GAN
per-class grids (first seed per cell). Mosaics are ``torchvision.utils.make_grid``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torchvision.utils import make_grid

from gansweep.figures import common
from gansweep.figures.common import apply_theme, num_text, save_message, set_title
from gansweep.figures.images.cells import _cell_info, _labels

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def _rgb(images: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W, 3] (grey [N, H, W] or [N, H, W, 1] is repeated to RGB)."""
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[..., None]
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    return a


def _mosaic(images: np.ndarray, ncol: int, pad: int = 2) -> np.ndarray:
    """Tile [N, H, W, 3] row-major into one image with white ``pad``-pixel gutters (make_grid,
    without its outer frame, so that image i of row r starts at r·(H + pad))."""
    a = torch.from_numpy(_rgb(images)).permute(0, 3, 1, 2)
    grid = make_grid(a, nrow=ncol, padding=pad, pad_value=255)
    return grid[:, pad : grid.shape[1] - pad, pad : grid.shape[2] - pad].permute(1, 2, 0).numpy()


def _first_seed(per_seed: Mapping, key: str) -> tuple[int, np.ndarray] | None:
    for seed in sorted(per_seed):
        arr = per_seed[seed].get(key) if isinstance(per_seed[seed], Mapping) else None
        if arr is not None and np.asarray(arr).size:
            return seed, np.asarray(arr)
    return None


def _image_cells(
    images: Mapping, key: str
) -> tuple[list[tuple[str, int, np.ndarray]], dict[str, str]]:
    """(cell, first seed, array) for each cell that has ``key``, in reading order, and labels."""
    found = {str(cell): _first_seed(per_seed, key) for cell, per_seed in (images or {}).items()}
    info = _cell_info(found)  # labels from all cells, so that they match across figures
    labels = _labels(info, sep="\n")
    return [(cell, *found[cell]) for cell in info.index if found[cell] is not None], labels


def _imshow(ax, mosaic: np.ndarray) -> None:
    ax.imshow(mosaic, interpolation="antialiased")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _more_text(shown: int, total: int) -> str:
    return f"; first {shown} of {total} cells" if total > shown else ""


def plot_interpolations(images: Mapping, stem: Path, max_cells: int = 8) -> None:
    """One row per cell (first seed): the images along a straight line between two latents
    (seed 001 figs. 6–7; 21 images there), final generator."""
    cells, labels = _image_cells(images, "interpolation")
    if not cells:
        save_message(stem, "no latent interpolations in this study")
        return
    apply_theme()
    shown = cells[:max_cells]
    n = max(len(a) for _, _, a in shown)
    width = min(12.0, 0.45 * n + 0.5)  # inches for the image strip
    ratios = [a.shape[1] / (len(a) * a.shape[2]) for _, _, a in shown]
    heights = [width * r + 0.05 for r in ratios]
    fig, axes = plt.subplots(
        len(shown),
        1,
        figsize=(width + 1.6, sum(heights) + 0.6),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, (cell, seed, arr) in zip(axes[:, 0], shown):
        _imshow(ax, _mosaic(arr, len(arr)))
        ax.set_ylabel(
            f"{labels[cell]}\nseed {seed}", rotation=0, ha="right", va="center", fontsize=7
        )
    # λ ticks on the last strip: first, middle and last image.
    last = shown[-1][2]
    k, pitch = len(last), last.shape[2] + 2
    ticks = sorted({0, (k - 1) // 2, k - 1})
    axes[-1, 0].set_xticks(
        [t * pitch + last.shape[2] / 2 for t in ticks],
        [f"λ = {num_text(round(t / max(k - 1, 1), 3))}" for t in ticks],
        fontsize=7,
    )
    axes[-1, 0].tick_params(length=0, pad=2)
    fig.tight_layout(h_pad=0.3)
    set_title(
        fig,
        f"Latent-space interpolation: {n} images along λ·z₁ + (1 − λ)·z₂\n"
        f"(final generator, first seed per cell{_more_text(len(shown), len(cells))})",
    )
    common.save_figure(fig, stem)


def plot_sample_grids(images: Mapping, stem: Path, max_cells: int = 12) -> None:
    """The final generator's sample grid (8×8 for 64 images) per cell, first seed."""
    cells, labels = _image_cells(images, "grid")
    if not cells:
        save_message(stem, "no sample grids in this study")
        return
    apply_theme()
    shown = cells[:max_cells]
    ncol = min(4, len(shown))
    nrow = math.ceil(len(shown) / ncol)
    side = max(a.shape[1] for _, _, a in shown)
    per_row = max(math.ceil(math.sqrt(len(a))) for _, _, a in shown)
    panel = float(np.clip(side * per_row / 280, 2.0, 3.2))  # inches per panel
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(panel * ncol, (panel + 0.45) * nrow + 0.3), squeeze=False
    )
    for ax, (cell, seed, arr) in zip(axes.flat, shown):
        _imshow(ax, _mosaic(arr, math.ceil(math.sqrt(len(arr)))))
        ax.set_title(f"{labels[cell]}\nseed {seed}", fontsize=7)
    for ax in axes.flat[len(shown) :]:
        ax.set_axis_off()
    sizes = sorted({a.shape[1:3] for _, _, a in shown})
    size = " to ".join(dict.fromkeys(f"{h}×{w}" for h, w in (sizes[0], sizes[-1])))
    fig.tight_layout()
    set_title(
        fig,
        f"Samples from the final generator ({size} pixels)\n"
        f"(first seed per cell{_more_text(len(shown), len(cells))})",
    )
    common.save_figure(fig, stem)


def _class_count(per_seed: Mapping, arr: np.ndarray, n_classes: int | None) -> int:
    """Classes in a class-major per-class array: the argument, an ``n_classes`` entry
    saved next to the arrays, else the square layout the evaluation writes (k = n)."""
    if n_classes:
        return int(n_classes)
    for seed_arrays in per_seed.values():
        if isinstance(seed_arrays, Mapping) and "n_classes" in seed_arrays:
            return int(np.asarray(seed_arrays["n_classes"]).ravel()[0])
    root = math.isqrt(len(arr))
    return root if root * root == len(arr) else (10 if len(arr) % 10 == 0 else 1)


def plot_class_grids(images: Mapping, stem: Path, n_classes: int | None = None) -> None:
    """AC-GAN per-class samples (rows = classes; CIFAR-10 names for 10 classes), one panel
    per conditional cell; a placeholder figure when no cell is conditional."""
    cells, labels = _image_cells(images, "classes")
    if not cells:
        save_message(
            stem, "no class-conditional (AC-GAN) cell in this study:\nno per-class sample grids"
        )
        return
    apply_theme()
    ncol = min(3, len(cells))
    nrow = math.ceil(len(cells) / ncol)
    specs = []
    for cell, seed, arr in cells:
        k_classes = _class_count(images[cell] if cell in images else {}, arr, n_classes)
        specs.append((cell, seed, arr, k_classes, math.ceil(len(arr) / k_classes)))
    per_class = max(s[4] for s in specs)
    rows = max(s[3] for s in specs)
    side = max(a.shape[1] for _, _, a, _, _ in specs)
    panel_w = float(np.clip(side * per_class / 300, 2.4, 4.0))
    panel_h = panel_w * rows / per_class
    if panel_h > 7.0:  # few images per class: keep the panel on a page
        panel_w, panel_h = panel_w * 7.0 / panel_h, 7.0
    fig, axes = plt.subplots(
        nrow, ncol, figsize=((panel_w + 0.9) * ncol, (panel_h + 0.5) * nrow + 0.3), squeeze=False
    )
    for ax, (cell, seed, arr, k_classes, k) in zip(axes.flat, specs):
        _imshow(ax, _mosaic(arr, k))
        pitch = arr.shape[1] + 2
        cifar = k_classes == len(CIFAR10_CLASSES)
        names = CIFAR10_CLASSES if cifar else [f"class {i}" for i in range(k_classes)]
        ax.set_yticks([i * pitch + arr.shape[1] / 2 for i in range(k_classes)], names, fontsize=7)
        ax.tick_params(axis="y", length=0, pad=2)
        ax.set_title(f"{labels[cell]}\nseed {seed}", fontsize=7)
    for ax in axes.flat[len(specs) :]:
        ax.set_axis_off()
    fig.tight_layout()
    set_title(
        fig,
        f"Class-conditional samples, {per_class} per class\n(final generator, first seed per cell)",
    )
    common.save_figure(fig, stem)
