"""Image data sets: download (checksums, atomic, skip), prepare (formats, split, resize), load.

The archives are tiny but in the exact real formats (gansweep/testing/fixtures.py) and are served to
the real download code through file:// URLs and plain local paths.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pooch
import pytest
import torch

import gansweep.data as im
import gansweep.testing.fixtures as fx
from gansweep.data import DATASETS, preparing

N_CELEBA = 13  # int(0.8 * 13) = 10 train, 3 test
N_LSUN = 8  # 6 / 2


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """The tiny archives, built once: {name: (path, md5)}."""
    d = tmp_path_factory.mktemp("sources")
    cifar = fx.make_cifar10_archive(d / "cifar", n_train_per_batch=6, n_test=5)
    celeba = fx.make_celeba_zip(d / "celeba", n=N_CELEBA)
    lsun = fx.make_lsun_zip(d / "lsun", n=N_LSUN)
    return {"cifar10": cifar, "celeba": celeba, "lsun_classroom": (lsun, fx.md5_of(lsun))}


@pytest.fixture(scope="module")
def cifar_root(sources, tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar_root")
    path, md5 = sources["cifar10"]
    im.download("cifar10", root, url=path.as_uri(), md5=md5)
    im.prepare("cifar10", root)
    return root


@pytest.fixture(scope="module")
def celeba_root(sources, tmp_path_factory):
    root = tmp_path_factory.mktemp("celeba_root")
    path, md5 = sources["celeba"]
    im.download("celeba", root, url=str(path), md5=md5)  # a plain local path
    im.prepare("celeba", root, workers=0)
    return root


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp")


# -- registry ---------------------------------------------------------------------------------


def test_registry_entries():
    expected = {"cifar10": (32, 10), "celeba": (64, 0), "lsun_classroom": (112, 0)}
    for name, (res, classes) in expected.items():
        src = DATASETS[name]
        assert (src.name, src.kind, src.resolution, src.n_classes) == (name, "image", res, classes)
        assert im.image_source(name) is src
    assert DATASETS["cifar10"].md5 == "c58f30108f718f92721af3b95e74349a"
    assert DATASETS["celeba"].md5 == "00d2c5bc6d35e252742224ab0c1e8fcb"
    assert DATASETS["lsun_classroom"].url == "http://dl.yf.io/lsun/scenes/classroom_train_lmdb.zip"
    assert not hasattr(DATASETS["ring"], "kind")  # 2D entries are untouched
    with pytest.raises(ValueError, match="not an image"):
        im.image_source("ring")


# -- download ---------------------------------------------------------------------------------


def test_download_verifies_writes_sidecar_and_skips(sources, tmp_path, monkeypatch):
    path, md5 = sources["cifar10"]
    got = im.download("cifar10", tmp_path, url=path.as_uri(), md5=md5)
    assert got == tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    assert got.read_bytes() == path.read_bytes()
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (
        tmp_path / "cifar10" / "cifar-10-python.tar.gz.sha256"
    ).read_text() == f"{sha}  cifar-10-python.tar.gz\n"
    assert _leftovers(tmp_path) == []

    def no_network(*args, **kwargs):
        raise AssertionError("the verified file should not be fetched again")

    monkeypatch.setattr(pooch, "retrieve", no_network)
    mtime = got.stat().st_mtime_ns
    assert im.download("cifar10", tmp_path, url=path.as_uri(), md5=md5) == got
    assert got.stat().st_mtime_ns == mtime


def test_wrong_checksum_raises_and_leaves_no_file(sources, tmp_path):
    path, md5 = sources["cifar10"]
    with pytest.raises(im.ChecksumError) as err:
        im.download("cifar10", tmp_path, url=path.as_uri(), md5="0" * 32)
    message = str(err.value)
    assert "0" * 32 in message and md5 in message and path.as_uri() in message
    with pytest.raises(im.ChecksumError, match="c58f30108f718f92721af3b95e74349a"):
        im.download("cifar10", tmp_path, url=str(path))  # the published MD5 is the default
    assert list((tmp_path / "cifar10").iterdir()) == []


def test_corrupt_existing_file_is_replaced(sources, tmp_path):
    path, md5 = sources["cifar10"]
    dest = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    dest.parent.mkdir()
    dest.write_bytes(b"half a download")
    im.download("cifar10", tmp_path, url=path.as_uri(), md5=md5)
    assert fx.md5_of(dest) == md5


def test_unreachable_url_names_destination(tmp_path):
    with pytest.raises(im.DataMissingError) as err:
        im.download("cifar10", tmp_path, url=(tmp_path / "nowhere.tar.gz").as_uri(), md5="0" * 32)
    assert str(tmp_path / "cifar10" / "cifar-10-python.tar.gz") in str(err.value)
    assert _leftovers(tmp_path) == []


def test_celeba_without_drive_says_what_to_place_where(tmp_path, monkeypatch):
    from torchvision.datasets import utils as tv_utils

    def fail(*args, **kwargs):
        raise RuntimeError("To download files from GDrive, 'gdown' is required.")

    monkeypatch.setattr(tv_utils, "download_file_from_google_drive", fail)
    with pytest.raises(im.DataMissingError) as err:
        im.download("celeba", tmp_path)
    message = str(err.value)
    for needle in (
        str(tmp_path / "celeba" / "img_align_celeba.zip"),
        str(tmp_path / "celeba" / "img_align_celeba") + "/000001.jpg",
        "0B7EVK8r0v71pZjFTYXZWM3FlRnM",
        "00d2c5bc6d35e252742224ab0c1e8fcb",
        "gdown",
    ):
        assert needle in message
    assert _leftovers(tmp_path) == []
    with pytest.raises(im.DataMissingError, match="img_align_celeba.zip"):
        im.prepare("celeba", tmp_path)
    # A zip in place that does not verify is named in the error (with its MD5).
    bad = tmp_path / "celeba" / "img_align_celeba.zip"
    bad.write_bytes(b"not the CelebA zip")
    with pytest.raises(im.DataMissingError, match=f"does not verify .*{fx.md5_of(bad)}"):
        im.download("celeba", tmp_path)
    bad.unlink()
    # An extracted folder already in place is used as is.
    fx.make_celeba_tree(tmp_path / "celeba", n=2)
    assert im.download("celeba", tmp_path) == tmp_path / "celeba" / "img_align_celeba"


def test_lsun_download_unzips_atomically_and_records_sha256(sources, tmp_path):
    path, _ = sources["lsun_classroom"]
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(im.ChecksumError, match=sha):
        im.download("lsun_classroom", tmp_path, url=path.as_uri(), sha256="f" * 64, n_images=N_LSUN)
    assert list((tmp_path / "lsun_classroom").iterdir()) == []

    got = im.download("lsun_classroom", tmp_path, url=path.as_uri(), n_images=N_LSUN)
    assert got == tmp_path / "lsun_classroom" / "classroom_train_lmdb"
    assert sorted(p.name for p in got.iterdir()) == ["data.mdb", "lock.mdb"]
    sidecar = tmp_path / "lsun_classroom" / "classroom_train_lmdb.zip.sha256"
    assert sidecar.read_text().split()[0] == sha
    assert _leftovers(tmp_path) == []
    assert (
        im.download("lsun_classroom", tmp_path, url="/nonexistent.zip", n_images=N_LSUN) == got
    )  # verified, kept


# -- prepare and load: CIFAR-10 ---------------------------------------------------------------


def test_cifar_prepared_arrays_round_trip(sources, cifar_root):
    path, md5 = sources["cifar10"]
    batches = fx.read_cifar10_batches(path)
    prepared = cifar_root / "cifar10" / "prepared"
    for split, names in (
        ("train", [f"data_batch_{i}" for i in range(1, 6)]),
        ("test", ["test_batch"]),
    ):
        chw = np.concatenate([batches[n][b"data"] for n in names])
        labels = np.concatenate([batches[n][b"labels"] for n in names])
        images = np.load(prepared / f"{split}_images.npy", mmap_mode="r")
        assert images.shape == (len(chw), 32, 32, 3) and images.dtype == np.uint8
        assert images.flags.c_contiguous
        # pixel (row y, column x, channel c) of image i is byte c*1024 + y*32 + x of its row
        i, y, x, c = len(chw) - 1, 7, 30, 2
        assert images[i, y, x, c] == chw[i, c * 1024 + y * 32 + x]
        np.testing.assert_array_equal(images, chw.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        stored = np.load(prepared / f"{split}_labels.npy")
        assert stored.dtype == np.int64
        np.testing.assert_array_equal(stored, labels)
    meta = json.loads((prepared / "meta.json").read_text())
    assert meta["counts"] == {"train": 30, "test": 5} and meta["resolution"] == 32
    assert (
        meta["source"]["files"][0]["md5"] == md5
        and meta["source"]["md5_matches_published"] is False
    )
    assert meta["gansweep_version"]

    arrays = im.load_split("cifar10", cifar_root, "test")
    assert isinstance(arrays.images, np.memmap) and len(arrays) == 5
    x, y = arrays.batch(torch.tensor([4, 0]), "cpu")
    assert y.dtype == torch.long and y.tolist() == [int(labels[4]), int(labels[0])]

    mtime = (prepared / "meta.json").stat().st_mtime_ns
    im.prepare("cifar10", cifar_root)  # done already: skipped
    assert (prepared / "meta.json").stat().st_mtime_ns == mtime


def test_cifar_pickle_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    path.parent.mkdir()
    with tarfile.open(path, "w:gz") as tar:
        data = pickle.dumps({b"data": Evil()}, protocol=2)
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(pickle.UnpicklingError, match=r"builtin__\.print|builtins\.print"):
        im.prepare("cifar10", tmp_path)
    assert not (tmp_path / "cifar10" / "prepared" / "meta.json").exists()


# -- prepare: CelebA --------------------------------------------------------------------------


def test_celeba_split_counts_disjoint_reproducible(celeba_root):
    prepared = celeba_root / "celeba" / "prepared"
    meta = json.loads((prepared / "meta.json").read_text())
    n_train = int(0.8 * N_CELEBA)
    assert meta["counts"] == {"train": n_train, "test": N_CELEBA - n_train}
    assert meta["split"]["seed"] == 1 and meta["source"]["first"] == "000001.jpg"
    train = np.load(prepared / "train_indices.npy")
    test = np.load(prepared / "test_indices.npy")
    assert len(train) == n_train and len(test) == N_CELEBA - n_train
    assert set(train).isdisjoint(test) and sorted(np.concatenate([train, test])) == list(
        range(N_CELEBA)
    )
    subsets = torch.utils.data.random_split(
        range(N_CELEBA), [n_train, N_CELEBA - n_train], generator=torch.Generator().manual_seed(1)
    )
    assert list(train) == list(subsets[0].indices) and list(test) == list(subsets[1].indices)
    assert list(preparing.split_indices(N_CELEBA, 2)[0]) != list(train)  # the seed matters
    images = np.load(prepared / "train_images.npy", mmap_mode="r")
    assert images.shape == (n_train, 64, 64, 3) and images.dtype == np.uint8
    assert np.load(prepared / "test_images.npy").shape == (N_CELEBA - n_train, 64, 64, 3)


def test_celeba_folder_and_pool_match_zip(sources, celeba_root, tmp_path, monkeypatch):
    """Same arrays from the extracted folder decoded by a 2-process pool in chunks of 4."""
    fx.make_celeba_tree(tmp_path / "celeba", n=N_CELEBA)  # same seed -> same files as the zip
    monkeypatch.setattr(preparing, "_CHUNK", 4)
    im.prepare("celeba", tmp_path, workers=2)
    for name in ("train_images.npy", "test_images.npy", "train_indices.npy"):
        a = np.load(celeba_root / "celeba" / "prepared" / name)
        b = np.load(tmp_path / "celeba" / "prepared" / name)
        np.testing.assert_array_equal(a, b)
    meta_zip = json.loads((celeba_root / "celeba" / "prepared" / "meta.json").read_text())
    meta_dir = json.loads((tmp_path / "celeba" / "prepared" / "meta.json").read_text())
    assert meta_zip["source"]["content_sha256"] == meta_dir["source"]["content_sha256"]
    assert _leftovers(tmp_path) == []


def test_celeba_resize_crop_matches_torchvision(celeba_root, tmp_path):
    import torchvision.transforms as T
    from PIL import Image

    folder = fx.make_celeba_tree(tmp_path, n=N_CELEBA)
    train_idx = np.load(celeba_root / "celeba" / "prepared" / "train_indices.npy")
    images = im.load_split("celeba", celeba_root, "train").images
    files = sorted(folder.iterdir())
    authors = T.Compose([T.Resize(64), T.CenterCrop(64)])
    for row in (0, len(train_idx) - 1):
        with Image.open(files[train_idx[row]]) as img:
            assert img.size == (178, 218)
            expected = np.asarray(authors(img.convert("RGB")))
        assert expected.shape == (64, 64, 3)
        np.testing.assert_array_equal(images[row], expected)


def test_undecodable_image_leaves_nothing_prepared(tmp_path):
    folder = fx.make_celeba_tree(tmp_path / "celeba", n=4)
    (folder / "000003.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="000003.jpg"):
        im.prepare("celeba", tmp_path, workers=0, train_fraction=0.5)
    prepared = tmp_path / "celeba" / "prepared"
    assert sorted(p.name for p in prepared.iterdir()) == []


# -- prepare: LSUN ----------------------------------------------------------------------------


def test_lsun_prepare_order_sizes_and_pixels(sources, tmp_path):
    import torchvision.transforms as T
    from PIL import Image

    with pytest.raises(im.DataMissingError) as err:
        im.prepare("lsun_classroom", tmp_path)
    assert str(tmp_path / "lsun_classroom" / "classroom_train_lmdb" / "data.mdb") in str(err.value)
    assert "http://dl.yf.io/lsun/scenes/classroom_train_lmdb.zip" in str(err.value)

    path, _ = sources["lsun_classroom"]
    lmdb_dir = im.download("lsun_classroom", tmp_path, url=path.as_uri(), n_images=N_LSUN)
    im.prepare("lsun_classroom", tmp_path, workers=0)
    records = fx.lsun_records(lmdb_dir)
    keys = [k for k, _ in records]
    assert keys == sorted(keys) and all(len(k) == 40 for k in keys)
    formats = [Image.open(io.BytesIO(v)).format for _, v in records]
    assert sorted(set(formats)) == ["JPEG", "WEBP"]

    train = im.load_split("lsun_classroom", tmp_path, "train")
    test = im.load_split("lsun_classroom", tmp_path, "test")
    assert (len(train), len(test)) == (int(0.8 * N_LSUN), N_LSUN - int(0.8 * N_LSUN))
    assert train.images.shape[1:] == (112, 112, 3) and train.labels is None
    train_idx, test_idx = preparing.split_indices(N_LSUN, 1, 0.8)
    authors = T.Compose([T.Resize(112), T.CenterCrop(112)])
    checked = set()
    for arrays, idx in ((train, train_idx), (test, test_idx)):
        for row, i in enumerate(idx):
            with Image.open(io.BytesIO(records[i][1])) as img:
                expected = np.asarray(authors(img.convert("RGB")))
                checked.add(img.format)
            np.testing.assert_array_equal(arrays.images[row], expected)
    assert checked == {"JPEG", "WEBP"}
    meta = json.loads((tmp_path / "lsun_classroom" / "prepared" / "meta.json").read_text())
    assert meta["source"]["zip"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


# -- batches and errors -----------------------------------------------------------------------


def test_batch_range_shape_and_channels_last(celeba_root):
    arrays = im.load_split("celeba", celeba_root, "train")
    idx = [3, 0, 7]
    x, y = arrays.batch(idx, "cpu")
    assert (
        y is None and x.shape == (3, 3, 64, 64) and x.dtype == torch.float32 and x.is_contiguous()
    )
    assert -1.0 <= x.min() and x.max() <= 1.0
    raw = torch.from_numpy(np.asarray(arrays.images[idx])).permute(0, 3, 1, 2).float()
    torch.testing.assert_close(x, raw / 127.5 - 1, rtol=0, atol=0)
    xc, _ = arrays.batch(np.array(idx), "cpu", dtype=torch.float64, channels_last=True)
    assert xc.dtype == torch.float64 and xc.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(xc.float(), x)
    xs, _ = arrays.batch(slice(0, 4), "cpu")
    assert xs.shape == (4, 3, 64, 64)


def test_missing_prepared_files_name_paths_and_command(tmp_path):
    with pytest.raises(im.DataMissingError) as err:
        im.load_split("lsun_classroom", tmp_path, "train")
    message = str(err.value)
    assert str(tmp_path / "lsun_classroom" / "prepared" / "train_images.npy") in message
    assert str(tmp_path / "lsun_classroom" / "prepared" / "meta.json") in message
    assert "gansweep prepare lsun_classroom" in message
    with pytest.raises(im.DataMissingError) as err:
        im.prepare("cifar10", tmp_path)
    assert str(tmp_path / "cifar10" / "cifar-10-python.tar.gz") in str(err.value)
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in str(err.value)
