"""User plugins: files that register losses / architectures before validation, seen by every job."""

import copy
import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import torch
from conftest import REPO, tiny_study

from gansweep.config import ConfigError, validate_config
from gansweep.losses import LOSSES
from gansweep.plan import image_jobs, ring_jobs

EXAMPLE = REPO / "docs/plugins/my_loss.py"


# Registries are restored after every test (conftest.clean_registries).


def ring_config(objective="lsgan_pearson", **top):
    return {"studies": {"s": tiny_study(grids=[{"objective": objective}])}, **top}


def test_a_plugin_loss_is_accepted_only_with_its_plugin():
    with pytest.raises(
        ConfigError, match="'lsgan_pearson' is not allowed; allowed values: saturating"
    ):
        validate_config(ring_config())
    config = validate_config(ring_config(plugins=[str(EXAMPLE)]))
    assert "lsgan_pearson" in LOSSES and LOSSES.origin("lsgan_pearson") == str(EXAMPLE)
    assert config["plugins"] == [str(EXAMPLE)]
    (spec,) = ring_jobs("s", config["studies"]["s"]).values()
    assert spec["plugins"] == [str(EXAMPLE)]  # every job imports it before training


def test_plugin_paths_are_relative_to_the_working_directory_and_loaded_once(monkeypatch):
    monkeypatch.chdir(REPO / "docs")
    config = validate_config(
        ring_config(plugins=["plugins/my_loss.py", "plugins/../plugins/my_loss.py"])
    )
    assert config["plugins"] == [str(EXAMPLE)]
    validate_config(copy.deepcopy(config))  # a second validation does not register it twice


def test_the_example_loss_is_the_least_squares_loss_with_the_minus_one_one_coding():
    validate_config(ring_config(plugins=[str(EXAMPLE)]))
    real, fake = torch.tensor([[0.5, -2.0]]), torch.tensor([[0.25, 3.0]])
    objective = LOSSES["lsgan_pearson"]
    d = objective.d_loss(real, fake, 1.0)
    g = objective.g_loss(fake, 1.0)
    expected_d = (
        0.5 * ((0.5 - 1) ** 2 + (-2 - 1) ** 2) / 2 + 0.5 * ((0.25 + 1) ** 2 + (3 + 1) ** 2) / 2
    )
    assert torch.allclose(d, torch.tensor([expected_d])) and d.shape == (1,)
    assert torch.allclose(g, torch.tensor([0.5 * (0.25**2 + 3.0**2) / 2]))


def write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "import no_such_module_xyz\n",
            "failed to import: ModuleNotFoundError: No module named 'no_such_module_xyz'",
        ),
        ("def broken(:\n", "failed to import: SyntaxError"),
        ("raise RuntimeError('boom')\n", "failed to import: RuntimeError: boom"),
    ],
)
def test_a_plugin_that_fails_to_import_names_its_file(tmp_path, body, message):
    path = write(tmp_path, "bad_plugin.py", body)
    with pytest.raises(ConfigError) as err:
        validate_config(ring_config("hinge", plugins=[str(path)]))
    assert f"config key 'plugins': plugin {path} {message}" in str(err.value)


def test_a_missing_plugin_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"config key 'plugins': plugin .*nope\.py: no such file"):
        validate_config(ring_config("hinge", plugins=[str(tmp_path / "nope.py")]))


def test_a_clashing_name_names_the_file_and_the_name(tmp_path):
    path = write(
        tmp_path,
        "clash.py",
        """\
        from gansweep.losses import LOSSES
        LOSSES.register("hinge")(LOSSES["lsgan"])
    """,
    )
    with pytest.raises(ConfigError) as err:
        validate_config(ring_config("hinge", plugins=[str(path)]))
    text = str(err.value)
    assert (
        f"plugin {path} failed to import" in text
        and "loss 'hinge' is already registered (by the gansweep package)" in text
    )
    # Two plugins registering the same name: the second names the first.
    write(
        tmp_path,
        "first.py",
        "from gansweep.losses import LOSSES\nLOSSES.register('mine')(LOSSES['lsgan'])\n",
    )
    write(
        tmp_path,
        "second.py",
        "from gansweep.losses import LOSSES\nLOSSES.register('mine')(LOSSES['hinge'])\n",
    )
    with pytest.raises(
        ConfigError,
        match=r"plugin .*second\.py failed to import: ValueError: loss 'mine' is already registered \(by .*first\.py\)",
    ):
        validate_config(
            ring_config("mine", plugins=[str(tmp_path / "first.py"), str(tmp_path / "second.py")])
        )


def test_a_plugin_architecture_is_accepted_for_image_studies_and_carried_by_image_jobs(tmp_path):
    path = write(
        tmp_path,
        "tiny_arch.py",
        """\
        from gansweep.models import MODELS
        from gansweep.models.common import register_gan

        @register_gan("my_dcgan")
        def my_dcgan(z_dim=None, n_classes=0):
            \"\"\"The seed 001 DCGAN under another name.\"\"\"
            return MODELS["dcgan32"](z_dim=z_dim, n_classes=n_classes)
    """,
    )
    study = {
        "dataset": "cifar10",
        "architecture": "my_dcgan",
        "train": {"steps": 2},
        "seeds": 1,
        "grids": [{"objective": "hinge", "lr": [2e-4]}],
    }
    with pytest.raises(ConfigError, match="'my_dcgan' is not allowed; allowed values: "):
        validate_config({"studies": {"img": copy.deepcopy(study)}})
    config = validate_config({"studies": {"img": study}, "plugins": [str(path)]})
    (spec,) = image_jobs("img", config["studies"]["img"], "data").values()
    assert spec["architecture"] == "my_dcgan" and spec["plugins"] == [str(path)]


def test_included_presets_bring_their_plugins(tmp_path):
    preset = write(
        tmp_path,
        "with_plugin.yaml",
        f"""\
        plugins: [{EXAMPLE}]
        studies:
          inc: {{dataset: ring, grids: [{{objective: lsgan_pearson}}], train: {{steps: 2}}}}
    """,
    )
    config = validate_config({"include": [str(preset)]})
    assert config["plugins"] == [str(EXAMPLE)] and config["studies"]["inc"]["plugins"] == [
        str(EXAMPLE)
    ]


def test_specs_without_plugins_are_unchanged():
    config = validate_config({"studies": {"s": tiny_study()}})
    (spec,) = ring_jobs("s", config["studies"]["s"]).values()
    assert "plugins" not in spec  # plugin-free studies keep their specs (no Snakemake reruns)


@pytest.mark.slow  # a fresh Python process (imports torch): about 13 s on the 2-core CI machine
def test_the_worked_example_trains_on_the_ring_through_the_cli(tmp_path):
    """The README's worked example: a tiny ring study of the plugin loss, one `gansweep
    train-ring` job in a fresh process (which only learns of the loss from the job spec)."""
    study = tiny_study(grids=[{"objective": "lsgan_pearson"}, {"objective": "lsgan"}], seeds=2)
    config = validate_config({"studies": {"mine": study}, "plugins": [str(EXAMPLE)]})
    jobs = ring_jobs("mine", config["studies"]["mine"])
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(jobs["lsgan_pearson-lr0.0001-000"]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gansweep",
            "train-ring",
            "--spec",
            str(spec_path),
            "--runs",
            str(tmp_path / "runs.parquet"),
            "--samples",
            str(tmp_path / "samples.parquet"),
            "--checkpoint",
            str(tmp_path / "ckpt.pt"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    final = runs[runs["step"] == 20]
    assert set(final["objective"]) == {"lsgan_pearson"} and sorted(final["seed"]) == [1, 2]
    assert (final["status"] == "ok").all() and final["modes_covered"].between(0, 8).all()


def test_the_plugins_page_shows_the_example_file_and_a_valid_config(monkeypatch):
    import re

    import yaml

    readme = (REPO / "docs/plugins.md").read_text()
    section = readme[readme.index("## Add your own loss / architecture") :]
    python, config = re.findall(r"```(?:python|yaml)\n(.*?)```", section, re.S)[:2]
    assert python in EXAMPLE.read_text()  # the README shows the file's own code
    monkeypatch.chdir(REPO)
    validated = validate_config(yaml.safe_load(config))
    assert [g["objective"] for g in validated["studies"]["my_loss_ring"]["grids"]] == [
        "lsgan_pearson",
        "lsgan",
    ]
