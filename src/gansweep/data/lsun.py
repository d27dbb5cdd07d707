"""LSUN scenes (Classroom train): the official zip of an LMDB, 112×112.

No checksum is published for the zip, so the download is verified by its content: it must
unzip to one LMDB that opens, holds exactly the published number of images (Classroom train:
168,103, as listed in LSUN's statistics and used by the (αD, αG)-GAN authors through
torchvision's LSUN class) and whose first record decodes as an image. Only then is the zip's
SHA-256 recorded in ``<zip>.sha256``; a zip or folder that fails is moved aside to
``*.rejected`` and never trusted again, so fixing a wrong mirror URL and rerunning fetches the
right file. A mirror holding another count (the tiny test fixtures) states it with
``downloads.lsun_classroom.n_images``.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from gansweep.data.errors import ContentError, DataMissingError
from gansweep.data.fetching import (
    as_url,
    existing_ok,
    fetch,
    file_digests,
    log,
    move_aside,
    publish_mode,
    read_sidecar,
    write_sidecar,
)
from gansweep.data.preparing import decode_split, open_lmdb
from gansweep.data.source import ImageSource
from gansweep.data.toy2d import DATASETS


@dataclass(frozen=True, kw_only=True)
class LsunScene(ImageSource):
    folder: str  # the lmdb folder inside the zip and under <data_root>/<name>/

    def describe_preprocessing(self) -> str:
        s = self.resolution
        return (
            f"lmdb values in key order (as torchvision LSUNClass); PIL decode from bytes (webp), "
            f"convert('RGB'); torchvision.transforms.functional.resize({s}) (shorter side, bilinear, "
            f"antialias, PIL) then center_crop({s}); uint8 NHWC"
        )

    def lmdb_dir(self, data_root: str | os.PathLike) -> Path:
        return self.raw_dir(data_root) / self.folder

    def download(
        self,
        data_root: str | os.PathLike,
        url: str | None = None,
        md5: str | None = None,
        sha256: str | None = None,
        n_images: int | None = None,
    ) -> Path:
        """Fetch the zip (checked against ``md5``/``sha256`` when given), unzip it atomically to
        ``<data_root>/<name>/<folder>/`` and verify the LMDB holds ``n_images`` images (default:
        the published count); returns the LMDB folder. See the module docstring."""
        expected = self.n_images if n_images is None else int(n_images)
        if expected < 1:
            raise ValueError(
                f"n_images (downloads.{self.name}.n_images) must be >= 1, not {expected}"
            )
        target, zip_path = self.lmdb_dir(data_root), self.archive_path(data_root)
        if target.exists() or target.is_symlink():
            problem = lmdb_problem(target, expected)
            if problem is None:
                log(f"{target} is an LMDB of {expected:,} images; download skipped")
                return target
            log(
                f"warning: {target} is not LSUN {self.folder} ({problem}); moved to {move_aside(target)}"
            )
        if existing_ok(zip_path, md5, sha256, record=False):
            try:
                self._install(zip_path, target, expected, file_digests(zip_path)["sha256"])
                return target
            except ContentError as err:
                log(
                    f"warning: {zip_path} is not LSUN {self.folder} ({err}); moved to {move_aside(zip_path)}"
                )
        source = as_url(url or self.url)
        digests = fetch(source, zip_path, md5=md5, sha256=sha256, record=False)
        try:
            self._install(zip_path, target, expected, digests["sha256"])
        except ContentError as err:
            moved = move_aside(zip_path)
            count = (
                ""
                if n_images is None
                else f" (or a mirror of {expected:,} images, as n_images says)"
            )
            raise ContentError(
                f"{source}, downloaded to {zip_path}, is not LSUN {self.folder}: {err}. It was moved to "
                f"{moved} and no checksum was recorded for it. Point downloads.{self.name}.url (the "
                f"--url option) at a copy of {self.url}{count} and run `gansweep download {self.name}` again."
            ) from None
        return target

    def _install(self, zip_path: Path, target: Path, expected: int, sha256: str) -> None:
        """Unzip, verify the content, rename into place, and only then record the zip's digest."""
        _unzip_lmdb(zip_path, target, expected)
        write_sidecar(zip_path, sha256)
        log(f"{target}: an LMDB of {expected:,} images; {zip_path} sha256 {sha256} recorded")

    def _write_arrays(
        self, data_root: Path, out: Path, seed: int, fraction: float, workers: int
    ) -> dict:
        target = self.lmdb_dir(data_root)
        if not (target / "data.mdb").is_file():
            raise DataMissingError(
                f"LSUN {self.folder} missing: expected {target / 'data.mdb'} (and lock.mdb). Run "
                f"`gansweep download {self.name} --data-root {data_root}`, or fetch {self.url} , save it as "
                f"{self.archive_path(data_root)} and run the same command to unzip it."
            )
        env = open_lmdb(target)
        try:
            with env.begin(write=False) as txn:
                entries = txn.stat()["entries"]
                keys = [bytes(k) for k in txn.cursor().iternext(keys=True, values=False)]
        finally:
            env.close()
        if len(keys) != entries:
            raise ValueError(f"{target}: iterated {len(keys)} keys, lmdb reports {entries}")
        self._warn_count(len(keys))
        facts = decode_split(
            ("lmdb", str(target)), keys, self.resolution, out, seed, fraction, workers
        )
        zip_path = self.archive_path(data_root)
        facts["source"] = {
            "lmdb": str(target),
            "url": self.url,
            "zip": {"path": str(zip_path), "sha256": read_sidecar(zip_path)}
            if zip_path.is_file()
            else None,
            "first_key": keys[0].decode("latin1"),
            "last_key": keys[-1].decode("latin1"),
            "content_sha256": facts.pop("content_sha256"),
            "content_rule": "sha256 over the MD5 digests (16 bytes each) of the lmdb values in key order",
        }
        return facts


def lmdb_problem(folder: Path, expected: int) -> str | None:
    """Why ``folder`` is not an LMDB of ``expected`` images, or None when it is one."""
    import lmdb
    from PIL import Image

    try:
        env = open_lmdb(folder)
    except lmdb.Error as err:
        return f"it does not open as an LMDB: {err}"
    try:
        with env.begin(write=False) as txn:
            entries = txn.stat()["entries"]
            if entries != expected:
                return f"its LMDB holds {entries:,} records, not {expected:,}"
            cursor = txn.cursor()
            first = bytes(cursor.value()) if cursor.first() else b""
    finally:
        env.close()
    try:
        with Image.open(io.BytesIO(first)) as img:
            img.load()
    except Exception as err:  # PIL raises several types for bytes that are not an image
        return f"its first record is not an image: {type(err).__name__}: {err}"
    return None


def _unzip_lmdb(zip_path: Path, target: Path, expected: int) -> None:
    """Extract the folder holding data.mdb into a temp folder beside ``target``, verify it is an
    LMDB of ``expected`` images (else :class:`ContentError`), then rename it to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        try:
            _extract(zip_path, tmpdir)
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:  # not a zip, or a corrupt one
            raise ContentError(
                f"it is not a readable zip archive ({type(err).__name__}: {err})"
            ) from err
        if problem := lmdb_problem(tmpdir, expected):
            raise ContentError(problem)
        publish_mode(tmpdir, directory=True)
        os.replace(tmpdir, target)  # ``target`` is absent: the caller moved any old one aside
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise


def _extract(zip_path: Path, out: Path) -> None:
    with zipfile.ZipFile(zip_path) as zf:
        names = [m.filename for m in zf.infolist() if not m.is_dir()]
        data = [n for n in names if n == "data.mdb" or n.endswith("/data.mdb")]
        if len(data) != 1:
            raise ContentError(f"the zip should hold one data.mdb, it holds {len(data)}")
        prefix = data[0][: -len("data.mdb")]
        log(f"unzipping {zip_path} ({prefix or './'}) -> {out}")
        for name in names:
            if not name.startswith(prefix):
                continue
            rel = Path(name[len(prefix) :])
            if rel.is_absolute() or ".." in rel.parts:
                raise ContentError(f"the zip has an unsafe member {name!r}")
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(name) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
                dst.flush()
                os.fsync(dst.fileno())
            publish_mode(dest)


LSUN_CLASSROOM = DATASETS.register("lsun_classroom")(
    LsunScene(
        name="lsun_classroom",
        resolution=112,
        n_classes=0,
        url="http://dl.yf.io/lsun/scenes/classroom_train_lmdb.zip",
        archive="classroom_train_lmdb.zip",
        md5=None,  # none published: the content is verified, then the SHA-256 is recorded
        n_images=168_103,  # LSUN's statistics for classroom (train); the authors' protocol §4
        homepage="https://www.yf.io/p/lsun",
        folder="classroom_train_lmdb",
    )
)
