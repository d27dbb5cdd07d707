"""Documentation stays true: the configuration reference is the schema's rendering, and every
relative link in the README and docs/ resolves."""

import re
from pathlib import Path

import pytest

from gansweep import schema_docs

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_configuration_reference_is_the_schema_rendering():
    page = (REPO / "docs" / "configuration.md").read_text()
    assert schema_docs.render() in page, (
        "docs/configuration.md is out of date: run python -m gansweep.schema_docs docs/configuration.md"
    )


def test_every_schema_key_has_a_row(tmp_path):
    rendered = schema_docs.render()
    for key in (
        "studies.<name>.train.batch_size",
        "fid.weights_dir",
        "studies.<name>.eval.feature_samples",
    ):
        assert f"| `{key}` |" in rendered


def test_update_rewrites_only_the_generated_block(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(f"intro\n{schema_docs.START}\nstale\n{schema_docs.END}\noutro\n")
    assert schema_docs.update(page)
    text = page.read_text()
    assert text.startswith("intro\n") and text.endswith("\noutro\n") and "stale" not in text
    assert not schema_docs.update(page)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    missing = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            missing.append(target)
    assert not missing, f"{page.relative_to(REPO)}: links to missing files: {missing}"


def test_readme_is_a_front_page():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250
