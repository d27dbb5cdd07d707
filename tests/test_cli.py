"""The command line: --version, `list`, and clear errors for unknown figure names."""

from importlib.metadata import version

import pytest

from gansweep.cli import LIST_KINDS, main, registered
from gansweep.data import DATASETS
from gansweep.losses import LOSSES
from gansweep.metrics.fid import FEATURE_EXTRACTORS
from gansweep.models import MODELS


def run(capsys, *argv):
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    out = capsys.readouterr()
    return exit_.value.code, out.out + out.err


def test_version(capsys):
    code, text = run(capsys, "--version")
    assert code == 0 and text.strip() == f"gansweep {version('gansweep')}"


def test_unknown_ring_figure_lists_the_known_names(tmp_path, capsys):
    from gansweep.figures.ring import FIGURES

    code, text = run(
        capsys,
        "figure",
        "rates_vs_alpha",
        "--out",
        str(tmp_path / "x.png"),
        str(tmp_path / "summary.parquet"),
    )
    assert code == 2 and text == (
        "gansweep figure: error: unknown figure 'rates_vs_alpha'; "
        f"known: {', '.join(sorted(FIGURES))}\n"
    )


def test_unknown_image_figure_lists_the_known_names(tmp_path, capsys):
    from gansweep.figures.images import FIGURES

    code, text = run(
        capsys, "image-figure", "fid", "--out", str(tmp_path / "x.png"), str(tmp_path / "s.parquet")
    )
    assert code == 2 and text == (
        f"gansweep image-figure: error: unknown image figure 'fid'; known: {', '.join(sorted(FIGURES))}\n"
    )


def test_list_prints_every_registered_name_with_a_description(capsys):
    expected = {
        "losses": LOSSES.in_order(),
        "architectures": MODELS.in_order(),
        "datasets": DATASETS.in_order(),
        "metrics": None,
        "figures": None,
    }
    for kind in LIST_KINDS:
        main(["list", kind])
        lines = capsys.readouterr().out.splitlines()
        entries = registered(kind)
        assert [line.split()[0] for line in lines] == [n for n, _ in entries]
        if expected[kind] is not None:
            assert [n for n, _ in entries] == expected[kind]
        assert all(text.strip() for _, text in entries), kind  # every entry says what it is
    assert set(FEATURE_EXTRACTORS.in_order()) <= {n for n, _ in registered("metrics")}
    assert {"rates_vs_alpha_d", "fid_vs_lr"} <= {n for n, _ in registered("figures")}


def test_list_hinge_line(capsys):
    main(["list", "losses"])
    out = capsys.readouterr().out
    assert any(line.split(None, 1) == ["hinge", "hinge loss (SNGAN)"] for line in out.splitlines())
