"""CelebA, aligned images (img_align_celeba): the zip, or its extracted folder, 64×64.

Google Drive often refuses scripted downloads, so ``download`` uses a mirror when one is given,
then an extracted folder or a verified zip already in place, then Drive through torchvision;
failing all, the error says exactly which file to place where.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gansweep.data.errors import ChecksumError, DataMissingError
from gansweep.data.fetching import (
    existing_ok,
    file_digests,
    log,
    mismatch,
    publish_mode,
    write_sidecar,
)
from gansweep.data.preparing import decode_split
from gansweep.data.source import ImageSource
from gansweep.data.toy2d import DATASETS

_CELEBA_MEMBER = re.compile(r"(?:^|/)img_align_celeba/(\d+\.jpg)$")


@dataclass(frozen=True, kw_only=True)
class CelebA(ImageSource):
    drive_id: str
    folder: str = "img_align_celeba"

    def describe_preprocessing(self) -> str:
        s = self.resolution
        return (
            f"sorted img_align_celeba/*.jpg (as torchvision ImageFolder orders them); PIL decode, "
            f"convert('RGB'); torchvision.transforms.functional.resize({s}) (shorter side, bilinear, "
            f"antialias, PIL) then center_crop({s}); uint8 NHWC"
        )

    def _missing_message(self, data_root: Path, reason: str) -> str:
        raw = self.raw_dir(data_root)
        return (
            f"CelebA could not be fetched ({reason}). Place EITHER the aligned-image zip at\n"
            f"  {raw / self.archive}   (MD5 {self.md5}; Google Drive file id {self.drive_id}: {self.url} ,\n"
            f"   listed on {self.homepage}; `pip install gdown` lets `gansweep download celeba` fetch it)\n"
            f"OR its extracted images at\n"
            f"  {raw / self.folder}/000001.jpg ... {self.n_images:06d}.jpg\n"
            f"then run `gansweep prepare celeba --data-root {data_root}`."
        )

    def download(
        self,
        data_root: str | os.PathLike,
        url: str | None = None,
        md5: str | None = None,
        sha256: str | None = None,
        n_images: int | None = None,
    ) -> Path:
        """``url`` (a mirror, file:// or a local path) is fetched like any archive; otherwise an
        extracted folder or a verified zip already in place is used; otherwise Google Drive via
        torchvision (needs gdown); failing that, an error says which files to place where."""
        if url or n_images is not None:
            return super().download(data_root, url, md5, sha256, n_images)
        data_root = Path(data_root)
        raw, dest = self.raw_dir(data_root), self.archive_path(data_root)
        md5 = md5 or (None if sha256 else self.md5)
        if self._folder_images(data_root):
            log(f"{raw / self.folder} holds the extracted images; download skipped")
            return raw / self.folder
        if existing_ok(dest, md5, sha256):
            return dest
        note = ""
        if dest.is_file():
            note = (
                f"; {dest} is there but does not verify (its MD5 is {file_digests(dest)['md5']}): if it is "
                f"a trusted copy, pass --md5 with that value, or run `gansweep prepare celeba` directly"
            )
        raw.mkdir(parents=True, exist_ok=True)
        tmpdir = Path(tempfile.mkdtemp(prefix=".celeba-download.", dir=raw))
        try:
            from torchvision.datasets import utils as tv_utils

            tv_utils.download_file_from_google_drive(
                self.drive_id, str(tmpdir), filename=self.archive, md5=self.md5
            )
            got = tmpdir / self.archive
            digests = file_digests(got)
            if problem := mismatch(digests, md5, sha256):
                raise ChecksumError(
                    f"checksum mismatch for Google Drive file {self.drive_id}: {problem}"
                )
            publish_mode(got)
            os.replace(got, dest)
            write_sidecar(dest, digests["sha256"])
        except Exception as err:
            raise DataMissingError(
                self._missing_message(data_root, f"{type(err).__name__}: {err}{note}")
            ) from err
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        return dest

    def _folder_images(self, data_root: Path) -> tuple[Path, list[str]] | None:
        base = self.raw_dir(data_root) / self.folder
        for d in (base, base / self.folder):  # the Kaggle copy nests the folder once more
            if d.is_dir():
                names = sorted(p.name for p in d.iterdir() if p.suffix.lower() == ".jpg")
                if names:
                    return d, names
        return None

    def _zip_images(self, path: Path) -> list[str]:
        with zipfile.ZipFile(path) as zf:
            members = [
                m.filename
                for m in zf.infolist()
                if not m.is_dir() and _CELEBA_MEMBER.search(m.filename)
            ]
        members.sort(key=lambda m: m.rsplit("/", 1)[-1])
        names = [m.rsplit("/", 1)[-1] for m in members]
        if len(set(names)) != len(names):
            raise ValueError(f"{path} holds the same image name in several folders")
        return members

    def _write_arrays(
        self, data_root: Path, out: Path, seed: int, fraction: float, workers: int
    ) -> dict:
        zip_path = self.archive_path(data_root)
        found = self._folder_images(data_root)
        if found:
            folder, keys = found
            spec: tuple = ("dir", str(folder))
            source: dict[str, Any] = {"folder": str(folder)}
        elif zip_path.is_file():
            keys = self._zip_images(zip_path)
            if not keys:
                raise DataMissingError(f"{zip_path} has no img_align_celeba/*.jpg members")
            spec = ("zip", str(zip_path))
            digests = file_digests(zip_path)
            if digests["md5"] != self.md5:
                log(f"warning: {zip_path} has MD5 {digests['md5']}, not the published {self.md5}")
            source = {
                "files": [{"path": str(zip_path), **digests}],
                "published_md5": self.md5,
                "md5_matches_published": digests["md5"] == self.md5,
            }
        else:
            raise DataMissingError(self._missing_message(data_root, "no CelebA images found"))
        self._warn_count(len(keys))
        facts = decode_split(spec, keys, self.resolution, out, seed, fraction, workers)
        facts["source"] = {
            **source,
            "url": self.url,
            "first": keys[0].rsplit("/", 1)[-1],
            "last": keys[-1].rsplit("/", 1)[-1],
            "content_sha256": facts.pop("content_sha256"),
            "content_rule": "sha256 over the MD5 digests (16 bytes each) of the raw files in sorted order",
        }
        return facts


CELEBA = DATASETS.register("celeba")(
    CelebA(
        name="celeba",
        resolution=64,
        n_classes=0,
        url="https://drive.google.com/uc?id=0B7EVK8r0v71pZjFTYXZWM3FlRnM",
        archive="img_align_celeba.zip",
        md5="00d2c5bc6d35e252742224ab0c1e8fcb",  # as listed by torchvision.datasets.CelebA
        n_images=202_599,
        homepage="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
        drive_id="0B7EVK8r0v71pZjFTYXZWM3FlRnM",
    )
)
