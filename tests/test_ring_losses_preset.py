"""presets/ring_losses*.yaml: every registered loss, the default study's protocol and seeds;
the rates_by_loss figure and table."""

import pandas as pd
import yaml
from conftest import REPO

from gansweep.config import validate_config
from gansweep.figures.ring import FIGURES
from gansweep.figures.ring_losses import by_loss, markdown_table, plot_rates_by_loss
from gansweep.losses import LOSSES
from gansweep.plan import eval_steps, ring_jobs, study_cells, total_steps


def studies(path):
    return validate_config(yaml.safe_load((REPO / path).read_text()))["studies"]


def test_the_zoo_has_every_registered_loss_under_the_default_protocol():
    default = studies("config.yaml")["ring_quick"]
    zoo = studies("presets/ring_losses.yaml")
    main = zoo["ring_losses"]
    assert {c.objective for c in study_cells(main)} == set(LOSSES.names())
    for study in zoo.values():
        for key in ("seeds", "data", "model"):
            assert study[key] == default[key], key
        # Fewer evaluations (they do not change training), at checkpoints the default has too.
        assert set(eval_steps(study)) <= set(eval_steps(default)) and max(
            eval_steps(study)
        ) == total_steps(default)
        jobs = ring_jobs("zoo", study)
        assert all(
            len(job["runs"]) == default["seeds"] for job in jobs.values()
        )  # one cell per job
        assert {k: v for k, v in study["train"].items() if not k.startswith("r")} == default[
            "train"
        ]
        assert study["execution"]["threads"] == default["execution"]["threads"]
        assert study["figures"]["rates_by_loss"]
    assert (
        zoo["ring_losses_r1r2"]["train"]["r1_gamma"] > 0
        and zoo["ring_losses_r1r2"]["train"]["r2_gamma"] > 0
    )
    assert [c.objective for c in study_cells(zoo["ring_losses_r1r2"])] == ["rpgan"]  # R3GAN
    assert not zoo["ring_losses_r1r2"]["compare_paper"]  # the paper's cells have no penalty


def test_the_paper_length_variant_has_the_same_cells_at_the_paper_protocol():
    quick, paper = studies("presets/ring_losses.yaml"), studies("presets/ring_losses_paper.yaml")
    reference = studies("presets/ring_paper.yaml")["ring_paper_saturating"]
    for q, p in (
        ("ring_losses", "ring_losses_paper"),
        ("ring_losses_r1r2", "ring_losses_paper_r1r2"),
    ):
        assert study_cells(quick[q]) == study_cells(paper[p])
        for key in ("seeds", "data", "model", "train"):
            expected = (
                {**reference[key], **{k: v for k, v in paper[p][key].items() if k.startswith("r")}}
                if key == "train"
                else reference[key]
            )
            assert paper[p][key] == expected, key
    jobs = [j for name, s in paper.items() for j in ring_jobs(name, s).values()]
    assert len(jobs) == 14 and sum(len(j["runs"]) for j in jobs) == 2800


def summary_of(cells):
    rows = []
    for i, (objective, alpha, success, failure, modes) in enumerate(cells):
        rows.append(
            {
                "study": "zoo",
                "dataset": "ring",
                "objective": objective,
                "alpha_d": alpha,
                "alpha_g": alpha,
                "lr": 1e-4,
                "step": 3000,
                "epoch": 7.68,
                "n_seeds": 16,
                "success_rate": success,
                "success_ci_low": max(success - 0.2, 0),
                "success_ci_high": min(success + 0.2, 1),
                "failure_rate": failure,
                "failure_ci_low": 0.0,
                "failure_ci_high": min(failure + 0.2, 1),
                "mean_modes": modes,
                "mean_modes_ci_low": modes - 0.5,
                "mean_modes_ci_high": modes + 0.5,
                "n_diverged": i % 2,
            }
        )
    return pd.DataFrame(rows)


def test_rates_by_loss_sorts_cells_and_writes_png_and_pdf(tmp_path):
    summary = summary_of(
        [
            ("hinge", None, 0.5, 0.1, 6.0),
            ("rpgan", None, 0.75, 0.0, 7.0),
            ("saturating", 0.3, 0.75, 0.0, 7.5),
            ("wgan", None, 0.0, 1.0, 1.0),
        ]
    )
    early = summary.assign(step=500, success_rate=1.0)  # an earlier checkpoint is ignored
    ordered = by_loss(pd.concat([early, summary]))
    assert ordered["cell"].tolist() == ["saturating (αD 0.3, αG 0.3)", "rpgan", "hinge", "wgan"]
    assert FIGURES["rates_by_loss"] is plot_rates_by_loss
    plot_rates_by_loss(summary, tmp_path / "rates_by_loss")
    for ext in ("png", "pdf"):
        assert (tmp_path / f"rates_by_loss.{ext}").stat().st_size > 5000
    table = markdown_table(summary).splitlines()
    assert (
        table[2]
        == "| saturating (αD 0.3, αG 0.3) | 75.0 % | 55.0–95.0 % | 0.0 % | 0.0–20.0 % | 7.50 | 0/16 |"
    )
    assert len(table) == 2 + 4


def test_two_studies_are_told_apart(tmp_path):
    a = summary_of([("rpgan", None, 0.5, 0.0, 6.0)])
    b = a.assign(study="zoo_r1r2", success_rate=0.9)
    assert by_loss(pd.concat([a, b]))["cell"].tolist() == ["rpgan [zoo_r1r2]", "rpgan [zoo]"]


def test_the_workflow_draws_rates_by_loss_for_the_zoo_only(tmp_path):
    """A dry run of the preset plans the figure for both zoo studies; the default study, which
    does not ask for it, keeps its four figures."""
    from test_workflow import snakemake

    out = snakemake("-n", "--configfile", str(REPO / "presets/ring_losses.yaml"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    for study in ("ring_losses", "ring_losses_r1r2"):
        assert f"results/{study}/figures/rates_by_loss.png" in out.stdout
    assert not studies("config.yaml")["ring_quick"]["figures"]["rates_by_loss"]
