"""Image-study figures on small synthetic tables (no training, no torch)."""

import inspect

import numpy as np
import pandas as pd
import pytest

from gansweep.figures import common
from gansweep.figures import images as F
from gansweep.figures.images import cells as C
from gansweep.figures.images import samples as S
from gansweep.figures.registry import IMAGE_FIGURE_INPUTS

RNG = np.random.default_rng(0)
STUDY = dict(study="s", dataset="celeba", architecture="dcgan64")


def cell_id(objective, alpha_d, lr, arch="dcgan64"):
    alpha = f"-ad{alpha_d:g}-ag1" if alpha_d is not None else ""
    return f"{arch}-{objective}{alpha}-lr{lr:g}"


def make_summary(lrs=(1e-4, 5e-4, 1e-3), epochs=(10.0, 20.0), dead=None, n=8):
    """(αD, 1)-GANs for αD ∈ {0.6, 1} and LSGAN (NaN α); ``dead``: the (αD, lr) cell whose
    seeds all diverged."""
    rows = []
    for alpha_d, objective in ((0.6, "non_saturating"), (1.0, "non_saturating"), (None, "lsgan")):
        for lr in lrs:
            for epoch in epochs:
                m = 50 * (1 + lr * 1e4 * (alpha_d or 0.8)) * (1 + 10 / epoch)
                n_ok = n - 2
                if dead == (alpha_d, lr):
                    m, n_ok = np.nan, 0
                rows.append(
                    dict(
                        **STUDY,
                        cell=cell_id(objective, alpha_d, lr),
                        objective=objective,
                        alpha_d=np.nan if alpha_d is None else alpha_d,
                        alpha_g=np.nan if alpha_d is None else 1.0,
                        lr_d=lr,
                        lr_g=lr,
                        step=int(epoch * 100),
                        epoch=epoch,
                        n_seeds=n,
                        n_ok=n_ok,
                        fid_mean=m,
                        fid_std=5.0,
                        fid_ci_low=m - 4,
                        fid_ci_high=m + 4,
                        fid_median=m,
                    )
                )
    return pd.DataFrame(rows)


CELLS = [
    dict(
        cell="dcgan32-non_saturating-ad1-ag1-lr0.0002-batch_size128",
        architecture="dcgan32",
        objective="non_saturating",
        alpha_d=1.0,
        alpha_g=1.0,
        lr_d=2e-4,
        lr_g=2e-4,
        layers=5,
    ),
    dict(
        cell="dcgan32-wgan-lr5e-05-batch_size64-n_critic5",
        architecture="dcgan32",
        objective="wgan",
        alpha_d=np.nan,
        alpha_g=np.nan,
        lr_d=5e-5,
        lr_g=5e-5,
        layers=5,
    ),
    dict(
        cell="acgan32-non_saturating-ad1-ag1-lr0.0002-batch_size100",
        architecture="acgan32",
        objective="non_saturating",
        alpha_d=1.0,
        alpha_g=1.0,
        lr_d=2e-4,
        lr_g=2e-4,
        layers=7,
    ),
]


def make_training(optional=True, seeds=(1, 2, 3), n_steps=40):
    logs, grads, runs = [], [], []
    for c in CELLS:
        for seed in seeds:
            step = np.arange(1, n_steps + 1) * 10
            wgan = c["objective"] == "wgan"
            g = (-2000.0 if wgan else 0.7) * (1 + 0.1 * RNG.standard_normal(n_steps))
            d = (1500.0 if wgan else 1.4) * (1 + 0.1 * RNG.standard_normal(n_steps))
            status = "ok"
            if wgan and seed == 2:  # diverged: the last logged row is non-finite
                g[-1], d[-1], status = np.nan, np.inf, "diverged"
            log = dict(
                cell=c["cell"],
                seed=seed,
                step=step,
                epoch=step / 100,
                d_loss=d,
                g_loss=g,
                d_real=0.0,
                d_fake=0.0,
                wall_time_s=step * 0.1,
                job="seeds1-3",
            )
            if optional:
                log.update(p_real=0.6, p_fake=0.4, d_aux_loss=0.0, g_aux_loss=0.0)
            logs.append(pd.DataFrame(log))
            for i in range(c["layers"]):
                n_small = RNG.integers(0, 1000, n_steps) * (i + 1)
                n_small[:3] = 0  # zero counts: gaps on a log axis, not errors
                grads.append(
                    pd.DataFrame(
                        dict(
                            cell=c["cell"],
                            seed=seed,
                            step=step,
                            epoch=step / 100,
                            layer=f"conv{i + 1}",
                            grad_norm=1.0,
                            n_small=n_small,
                            n_entries=10_000 * (i + 1),
                        )
                    )
                )
            runs.append(
                {
                    **{k: v for k, v in c.items() if k != "layers"},
                    "seed": seed,
                    "status": status,
                    "diverged_step": 400 if status == "diverged" else np.nan,
                    "dataset": "cifar10",
                }
            )
    return (
        pd.concat(logs, ignore_index=True),
        pd.DataFrame(runs),
        pd.concat(grads, ignore_index=True),
    )


def make_images(res=32, classes=True, seeds=(2, 1)):
    def arr(n):
        return RNG.integers(0, 256, (n, res, res, 3), dtype=np.uint8)

    out = {}
    for c in CELLS:
        out[c["cell"]] = {}
        for seed in seeds:
            out[c["cell"]][seed] = {"grid": arr(64), "interpolation": arr(21)}
            if classes and c["architecture"] == "acgan32":
                out[c["cell"]][seed]["classes"] = arr(100)
    return out


def assert_written(stem, min_png=5_000, min_pdf=2_000):
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert png.stat().st_size > min_png and pdf.stat().st_size > min_pdf
    assert not [
        p for p in stem.parent.iterdir() if ".tmp." in p.name
    ]  # atomic: no temporaries left


@pytest.fixture
def figures(monkeypatch):
    """Keep each figure handed to save_figure, so tests can look at its axes."""
    kept = []
    save = common.save_figure

    def keep(fig, stem):
        kept.append(fig)
        save(fig, stem)

    monkeypatch.setattr(common, "save_figure", keep)
    return kept


def legend_texts(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


# --------------------------------------------------------------------------- registry


def test_figures_match_registry():
    assert set(F.FIGURES) == set(IMAGE_FIGURE_INPUTS)
    for name, inputs in IMAGE_FIGURE_INPUTS.items():
        required = [
            p
            for p in inspect.signature(F.FIGURES[name]).parameters.values()
            if p.default is inspect.Parameter.empty
        ]
        assert len(required) == len(inputs) + 1, name  # the tables, then the stem


# --------------------------------------------------------------------------- cell labels


def test_cell_ids_parse_and_label():
    info = C._cell_info(
        [
            "dcgan64-non_saturating-ad0.6-ag1-lr0.0005",
            "dcgan64-lsgan-lr5e-05",
            "dcgan64-non_saturating-ad1-ag1-lr2e-05-lrg1e-05-n_critic5",
            "free-form name",
        ]
    )
    assert info.loc["dcgan64-lsgan-lr5e-05", "lr_d"] == pytest.approx(5e-5)
    assert np.isnan(info.loc["dcgan64-lsgan-lr5e-05", "alpha_d"])
    row = info.loc["dcgan64-non_saturating-ad1-ag1-lr2e-05-lrg1e-05-n_critic5"]
    assert (row["lr_d"], row["lr_g"], row["extra"]) == (2e-5, 1e-5, "n_critic5")
    assert not info.loc["free-form name", "known"]
    labels = C._labels(C._cell_info(make_summary()["cell"]), skip_lr=True)
    assert (
        labels["dcgan64-non_saturating-ad0.6-ag1-lr0.0001"]
        == r"($\alpha_D$, $\alpha_G$) = (0.6, 1)"
    )
    assert labels["dcgan64-lsgan-lr0.0001"] == "LSGAN"
    assert C._labels(info)["free-form name"] == "free-form name"


def test_labels_never_collide():
    info = C._cell_info(c["cell"] for c in CELLS)
    labels = C._labels(info)
    assert len(set(labels.values())) == len(CELLS)
    assert any("WGAN" in v for v in labels.values())


# --------------------------------------------------------------------------- FID


def test_fid_vs_lr(tmp_path, figures):
    summary = make_summary(lrs=(1e-4, 5e-4, 1e-3), dead=(1.0, 1e-3))
    F.plot_fid_vs_lr(summary, tmp_path / "fid_vs_lr")
    assert_written(tmp_path / "fid_vs_lr")
    ax = figures[-1].axes[0]
    assert ax.get_xscale() == "log"  # lrs span 10×
    assert "FID" in ax.get_ylabel() and "authors" not in ax.get_ylabel()
    assert "epoch 20" in figures[-1]._suptitle.get_text()  # default: the last checkpoint
    texts = legend_texts(figures[-1])
    assert any(t.startswith("LSGAN") for t in texts)
    assert any("n$_{ok}$ 0–6 of 8" in t for t in texts)  # the family with an all-diverged point
    assert any("diverged" in t for t in texts)
    F.plot_fid_vs_lr(summary, tmp_path / "fid_vs_lr_10", epoch=10)
    assert "epoch 10" in figures[-1]._suptitle.get_text()


def test_fid_single_lr_single_checkpoint(tmp_path, figures):
    summary = make_summary(
        lrs=(2e-4,), epochs=(5.0,), dead=(None, 2e-4)
    )  # LSGAN: every seed diverged
    F.plot_fid_vs_lr(summary, tmp_path / "a")
    F.plot_fid_over_epochs(summary, tmp_path / "b")
    for stem in ("a", "b"):
        assert_written(tmp_path / stem)
    assert figures[0].axes[0].get_xscale() == "linear"


def test_authors_fid_is_kept_apart(tmp_path, figures):
    summary = make_summary()
    F.plot_fid_vs_lr(summary, tmp_path / "none", metric="fid_tv_logits")  # absent: placeholder
    assert_written(tmp_path / "none", min_png=1_000, min_pdf=1_000)
    summary = summary.assign(
        fid_tv_logits_mean=summary["fid_mean"] * 30,
        fid_tv_logits_ci_low=summary["fid_ci_low"] * 30,
        fid_tv_logits_ci_high=summary["fid_ci_high"] * 30,
    )
    F.plot_fid_over_epochs(summary, tmp_path / "tv", metric="fid_tv_logits")
    assert_written(tmp_path / "tv")
    fig = figures[-1]
    assert "authors" in fig.axes[0].get_ylabel() and "non-standard" in fig._suptitle.get_text()
    assert max(line.get_ydata().max() for line in fig.axes[0].lines if len(line.get_ydata())) > 1000


def test_fid_over_epochs_facets_per_lr(tmp_path, figures):
    summary = make_summary(lrs=(1e-4, 2e-4, 5e-4, 1e-3, 2e-3), epochs=(10.0, 20.0, 30.0))
    F.plot_fid_over_epochs(summary, tmp_path / "f")
    assert_written(tmp_path / "f")
    visible = [ax for ax in figures[-1].axes if ax.get_visible() and ax.axison]
    assert len(visible) == 5


# --------------------------------------------------------------------------- training curves


@pytest.mark.parametrize("optional", [True, False])
def test_loss_curves(tmp_path, figures, optional):
    log, runs, _ = make_training(optional=optional)
    F.plot_loss_curves(log, runs, tmp_path / "loss")
    assert_written(tmp_path / "loss")
    g_ax, d_ax = figures[-1].axes[:2]
    assert g_ax.get_yscale() == "symlog" and "symlog" in g_ax.get_ylabel()  # WGAN ≈ 2000 vs BCE ≈ 1
    assert "diverged" in figures[-1]._suptitle.get_text()
    assert len(legend_texts(figures[-1])) == len(CELLS)


def test_vanishing_gradients(tmp_path, figures):
    _, runs, grads = make_training()
    F.plot_vanishing_gradients(grads, runs, tmp_path / "grads")
    assert_written(tmp_path / "grads")
    fig = figures[-1]
    assert "log$_{10}$ count" in fig.axes[0].get_ylabel()
    assert legend_texts(fig) == [
        f"conv{i}" for i in range(1, 8)
    ]  # forward order, merged over cells
    F.plot_vanishing_gradients(
        grads.iloc[:0], runs, tmp_path / "empty"
    )  # nothing logged: placeholder
    assert_written(tmp_path / "empty", min_png=1_000, min_pdf=1_000)


# --------------------------------------------------------------------------- image arrays


@pytest.mark.parametrize("res", [32, 64, 112])
def test_image_figures(tmp_path, figures, res):
    images = make_images(res)
    F.plot_sample_grids(images, tmp_path / "grids")
    F.plot_interpolations(images, tmp_path / "interp")
    F.plot_class_grids(images, tmp_path / "classes")
    for stem in ("grids", "interp", "classes"):
        assert_written(tmp_path / stem, min_png=20_000)
    grids, interp, classes = figures[-3:]
    assert len([ax for ax in grids.axes if ax.images]) == len(CELLS)
    assert all("seed 1" in ax.get_title() for ax in grids.axes if ax.images)  # the first seed
    assert len(interp.axes) == len(CELLS)
    assert [t.get_text() for t in classes.axes[0].get_yticklabels()][:3] == [
        "airplane",
        "automobile",
        "bird",
    ]


def test_class_grids_without_acgan(tmp_path):
    F.plot_class_grids(make_images(classes=False), tmp_path / "classes")
    assert_written(tmp_path / "classes", min_png=1_000, min_pdf=1_000)


def test_image_figures_limit_cells(tmp_path, figures):
    images = make_images()
    F.plot_sample_grids(images, tmp_path / "g", max_cells=2)
    F.plot_interpolations(images, tmp_path / "i", max_cells=1)
    assert "first 2 of 3 cells" in figures[0]._suptitle.get_text()
    assert len(figures[1].axes) == 1


# --------------------------------------------------------------------------- mode coverage (PRDC)


def test_diversity_vs_lr(tmp_path, figures):
    summary = make_summary(lrs=(1e-4, 5e-4, 1e-3), dead=(1.0, 1e-3))
    F.plot_diversity_vs_lr(summary, tmp_path / "none")  # no PRDC recorded: a placeholder
    assert_written(tmp_path / "none", min_png=1_000, min_pdf=1_000)
    figures.clear()
    recall = 1 / (1 + summary["lr_d"] * 1e3)
    summary = summary.assign(
        recall_mean=recall,
        recall_ci_low=recall - 0.1,
        recall_ci_high=recall + 0.1,
        coverage_mean=recall / 2,
        coverage_ci_low=recall / 2 - 0.05,
        coverage_ci_high=recall / 2 + 0.05,
        prdc_k=5,
    )
    F.plot_diversity_vs_lr(summary, tmp_path / "div")
    assert_written(tmp_path / "div")
    fig = figures[-1]
    assert [ax.get_title() for ax in fig.axes] == ["fid", "recall", "coverage"]
    assert "FID" in fig.axes[0].get_ylabel() and "recall" in fig.axes[1].get_ylabel()
    assert (
        fig.axes[1].get_ylim() == pytest.approx((-0.03, 1.03))
        and fig.axes[2].get_yscale() == "linear"
    )
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    assert "Inception features" in fig._suptitle.get_text()
    assert any(t.startswith("LSGAN") for t in legend_texts(fig))


def test_mosaic_is_make_grid_without_its_frame():
    images = RNG.integers(0, 256, (7, 5, 4, 3), dtype=np.uint8)
    out = S._mosaic(images, 3, pad=2)
    assert out.shape == (3 * 7 - 2, 3 * 6 - 2, 3) and out.dtype == np.uint8
    for i in range(7):  # image i at row r, column k: offset r·(h + pad), k·(w + pad)
        r, k = divmod(i, 3)
        np.testing.assert_array_equal(out[r * 7 : r * 7 + 5, k * 6 : k * 6 + 4], images[i])
    assert (out[5:7] == 255).all() and (out[14:, 6:] == 255).all()  # gutters and the empty slots
