"""Downloads: pooch over http and file://, and LSUN verified by content (issue 9 item 12).

A wrong LSUN mirror must fail with an error naming it, be moved aside without a ``.sha256``
record, and never be trusted later; the right file afterwards is accepted.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest

import gansweep.data as data
import gansweep.testing.fixtures as fx
from gansweep.cli import main as cli
from gansweep.data import fetching

N_LSUN = 8


@pytest.fixture(scope="module")
def lsun_zips(tmp_path_factory):
    """The right mirror (N_LSUN images), an LSUN-format zip of another count, and a non-zip."""
    d = tmp_path_factory.mktemp("lsun_sources")
    right = fx.make_lsun_zip(d / "right", n=N_LSUN)
    other = fx.make_lsun_zip(d / "other", n=5, seed=1)
    junk = d / "junk" / "classroom_train_lmdb.zip"
    junk.parent.mkdir()
    junk.write_bytes(b"<html>404: the mirror's error page</html>")
    return {"right": right, "other": other, "junk": junk}


def _lsun_dir(root: Path) -> Path:
    return root / "lsun_classroom"


def _sidecars(root: Path) -> list[str]:
    return sorted(p.name for p in _lsun_dir(root).rglob("*.sha256"))


def _temp_leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp")


@pytest.mark.parametrize("wrong", ["junk", "other"])
def test_wrong_lsun_mirror_is_rejected_then_right_one_accepted(lsun_zips, tmp_path, wrong):
    bad = lsun_zips[wrong]
    with pytest.raises(data.ContentError) as err:
        data.download("lsun_classroom", tmp_path, url=str(bad), n_images=N_LSUN)
    message = str(err.value)
    zip_path = _lsun_dir(tmp_path) / "classroom_train_lmdb.zip"
    rejected = zip_path.with_name(zip_path.name + ".rejected")
    reason = "not a readable zip" if wrong == "junk" else f"holds 5 records, not {N_LSUN}"
    for needle in (
        bad.as_uri(),
        str(zip_path),
        str(rejected),
        reason,
        "downloads.lsun_classroom.url",
    ):
        assert needle in message
    assert rejected.read_bytes() == bad.read_bytes()  # moved aside, kept for inspection
    assert not zip_path.exists() and not (_lsun_dir(tmp_path) / "classroom_train_lmdb").exists()
    assert _sidecars(tmp_path) == [] and _temp_leftovers(tmp_path) == []

    got = data.download(
        "lsun_classroom", tmp_path, url=lsun_zips["right"].as_uri(), n_images=N_LSUN
    )
    assert len(fx.lsun_records(got)) == N_LSUN
    sha = hashlib.sha256(lsun_zips["right"].read_bytes()).hexdigest()
    assert (zip_path.parent / "classroom_train_lmdb.zip.sha256").read_text().split()[0] == sha
    assert (
        _sidecars(tmp_path) == ["classroom_train_lmdb.zip.sha256"]
        and _temp_leftovers(tmp_path) == []
    )


def test_lsun_count_defaults_to_the_published_one(lsun_zips, tmp_path):
    assert data.DATASETS["lsun_classroom"].n_images == 168_103
    with pytest.raises(data.ContentError, match=f"holds {N_LSUN} records, not 168,103"):
        data.download("lsun_classroom", tmp_path, url=lsun_zips["right"].as_uri())
    assert _sidecars(tmp_path) == []


def test_wrong_file_trusted_by_an_older_run_is_replaced(lsun_zips, tmp_path):
    """What the old code left after a wrong mirror: the zip with its own .sha256 and, for a zip
    that unzipped, another LMDB in place. Rerun with the fixed URL: both go, the right one lands."""
    raw = _lsun_dir(tmp_path)
    raw.mkdir()
    zip_path = raw / "classroom_train_lmdb.zip"
    zip_path.write_bytes(lsun_zips["junk"].read_bytes())
    (raw / "classroom_train_lmdb.zip.sha256").write_text(
        f"{hashlib.sha256(zip_path.read_bytes()).hexdigest()}  classroom_train_lmdb.zip\n"
    )
    fx.make_lsun_lmdb(raw, n=5, seed=1)  # an LMDB of the wrong size at the target folder
    got = data.download(
        "lsun_classroom", tmp_path, url=lsun_zips["right"].as_uri(), n_images=N_LSUN
    )
    assert len(fx.lsun_records(got)) == N_LSUN
    assert len(fx.lsun_records(raw / "classroom_train_lmdb.rejected")) == 5
    assert (raw / "classroom_train_lmdb.zip.rejected").read_bytes() == lsun_zips[
        "junk"
    ].read_bytes()
    sha = hashlib.sha256(lsun_zips["right"].read_bytes()).hexdigest()
    assert (raw / "classroom_train_lmdb.zip.sha256").read_text().split()[0] == sha


def test_lsun_zip_already_in_place_is_verified_before_use(lsun_zips, tmp_path):
    """A user-placed zip (no record, no checksum) is unzipped, verified and only then recorded."""
    raw = _lsun_dir(tmp_path)
    raw.mkdir()
    (raw / "classroom_train_lmdb.zip").write_bytes(lsun_zips["right"].read_bytes())
    got = data.download(
        "lsun_classroom", tmp_path, url="/nowhere.zip", n_images=N_LSUN
    )  # not fetched
    assert len(fx.lsun_records(got)) == N_LSUN
    assert _sidecars(tmp_path) == ["classroom_train_lmdb.zip.sha256"]


def test_cli_passes_n_images_and_records_it(lsun_zips, tmp_path):
    cli(
        [
            "download",
            "lsun_classroom",
            "--data-root",
            str(tmp_path),
            "--url",
            str(lsun_zips["right"]),
            "--n-images",
            str(N_LSUN),
        ]
    )
    record = json.loads((_lsun_dir(tmp_path) / "download.json").read_text())
    assert record["n_images"] == N_LSUN and record["path"].endswith("classroom_train_lmdb")


def test_n_images_is_refused_where_a_checksum_pins_the_content(tmp_path):
    with pytest.raises(ValueError, match=r"downloads\.cifar10\.n_images.*MD5"):
        data.download("cifar10", tmp_path, url="/nowhere.tar.gz", n_images=10)


# -- pooch over http ------------------------------------------------------------------------


@pytest.fixture()
def http_root(tmp_path):
    """A local HTTP server on 127.0.0.1 serving ``tmp_path / 'www'``; yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    agents: list[str] = []

    def log_message(self, *args) -> None:
        _QuietHandler.agents.append(self.headers.get("User-Agent", ""))


def test_http_download_through_pooch_verifies_and_records(http_root, tmp_path, capfd):
    www, base = http_root
    archive, md5 = fx.make_cifar10_archive(www, n_train_per_batch=2, n_test=2)
    dest = tmp_path / "out" / "file.tar.gz"
    with pytest.raises(data.ChecksumError, match=f"0{{32}}.*{md5}|{md5}.*0{{32}}"):
        data.fetch(f"{base}/{archive.name}", dest, md5="0" * 32)
    assert not dest.exists() and _temp_leftovers(tmp_path / "out") == []

    digests = data.fetch(f"{base}/{archive.name}", dest, md5=md5)
    assert dest.read_bytes() == archive.read_bytes() and digests["md5"] == md5
    assert (tmp_path / "out" / "file.tar.gz.sha256").read_text().split()[0] == digests["sha256"]
    assert any(a.startswith("gansweep/") for a in _QuietHandler.agents)
    assert "pooch.retrieve" not in capfd.readouterr().err  # pooch's own advice is not shown

    with pytest.raises(data.DataMissingError) as err:
        data.fetch(f"{base}/missing.tar.gz", tmp_path / "out" / "missing.tar.gz")
    assert "404" in str(err.value) and str(tmp_path / "out" / "missing.tar.gz") in str(err.value)
    assert _temp_leftovers(tmp_path / "out") == []


def test_unsupported_scheme_is_named(tmp_path):
    with pytest.raises(data.DataMissingError, match="sftp://host/x.zip.*http"):
        data.fetch("sftp://host/x.zip", tmp_path / "x.zip")


def test_progress_in_a_log_file_is_plain_lines(capsys):
    progress = fetching._LogProgress(every=0.0)  # what pooch gets when stderr is not a terminal
    progress.total = 4 * 2**20
    progress.update(2**20)
    progress.update(2**20)
    progress.close()
    assert capsys.readouterr().err.splitlines() == [
        "[gansweep.data]   1 MiB (25 %)",
        "[gansweep.data]   2 MiB (50 %)",
    ]
