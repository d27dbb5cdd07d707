"""FID plumbing with stand-in (random) Inception weights, and the Fréchet distance on Gaussians.

No test asserts an FID value computed with stand-in weights: those values mean nothing. The
Inception runs on CPU, so every test feeds only a handful of 32×32 images.
"""

import json
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

from gansweep.data import download, load_split, prepare
from gansweep.metrics import METRICS
from gansweep.metrics import fid as F
from gansweep.testing.fixtures import make_cifar10_archive

N_TRAIN_PER_BATCH, N_TEST = 1, 4  # CIFAR fixture: 5 train images, 4 test images


@pytest.fixture(autouse=True)
def _few_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(min(2, threads))
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """Stand-in weights of both metrics: {metric: (path, sha256)}."""
    d = tmp_path_factory.mktemp("standin")
    out = {}
    for metric in ("fid", "fid_tv_logits"):
        path = d / F.FEATURE_EXTRACTORS[metric].file_name
        out[metric] = (path, F.write_standin_weights(metric, path))
    return out


def _no_network(*args, **kwargs):
    raise AssertionError(f"network access while building an extractor: {args}")


@pytest.fixture(scope="module")
def extractors(standin):
    """Built with every download path of torch, torchvision and urllib made to fail."""
    with (
        mock.patch("urllib.request.urlopen", _no_network),
        mock.patch("torch.hub.download_url_to_file", _no_network),
        mock.patch("torch.hub.load_state_dict_from_url", _no_network),
        mock.patch("torch.utils.model_zoo.load_url", _no_network),
    ):
        return {m: F.load_extractor(m, p, "cpu", sha[:16]) for m, (p, sha) in standin.items()}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    src, root = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("data")
    archive, md5 = make_cifar10_archive(src, n_train_per_batch=N_TRAIN_PER_BATCH, n_test=N_TEST)
    download("cifar10", root, url=archive.as_uri(), md5=md5)
    prepare("cifar10", root, workers=0)
    return root


# --------------------------------------------------------------------------------------------
# Fréchet distance: closed forms
# --------------------------------------------------------------------------------------------


def _random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _psd_sqrt(s):
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def test_frechet_equal_gaussians_is_zero():
    rng = np.random.default_rng(0)
    mu, s = rng.normal(size=6), _random_spd(rng, 6)
    assert F.frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-8)


def test_frechet_same_covariance_is_squared_mean_distance():
    rng = np.random.default_rng(1)
    mu1, mu2, s = rng.normal(size=5), rng.normal(size=5), _random_spd(rng, 5)
    assert F.frechet_distance(mu1, s, mu2, s) == pytest.approx(
        np.sum((mu1 - mu2) ** 2), rel=1e-7, abs=1e-9
    )


def test_frechet_diagonal_covariances():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0.1, 3, 7), rng.uniform(0.1, 3, 7)
    mu1, mu2 = rng.normal(size=7), rng.normal(size=7)
    want = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2) + np.sum((mu1 - mu2) ** 2)
    assert F.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want, rel=1e-7)


def test_frechet_full_covariance_against_eigh():
    rng = np.random.default_rng(3)
    d = 12
    s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    r1 = _psd_sqrt(s1)
    want = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * _psd_sqrt(r1 @ s2 @ r1))
    assert F.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-7)
    assert METRICS["fid"](mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-7)  # the registry entry


def test_frechet_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes"):
        F.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# --------------------------------------------------------------------------------------------
# Streaming statistics and quantisation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 1e4])  # a large common offset tests the stable merge
def test_feature_stats_match_numpy(offset):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(103, 9)) * rng.uniform(0.5, 2, 9) + offset
    stats = F.FeatureStats()
    lo = 0
    for size in (1, 7, 0, 40, 2, 53):
        stats.update(torch.from_numpy(x[lo : lo + size]))
        lo += size
    assert lo == len(x) and stats.n == len(x) and stats.dims == 9
    np.testing.assert_allclose(stats.mean(), x.mean(0), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(stats.cov(), np.cov(x, rowvar=False), rtol=1e-9, atol=1e-9)
    assert stats.mean().dtype == stats.cov().dtype == np.float64


def test_feature_stats_errors():
    stats = F.FeatureStats()
    stats.update(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        stats.cov()
    with pytest.raises(ValueError, match="dims"):
        stats.update(np.zeros((2, 4)))


def test_to_unit_range_quantises_like_png():
    x = torch.tensor([-1.0, -0.99999, 0.0, 0.00393, 0.5, 1.0, 1.7, -3.0]).view(1, 2, 2, 2)
    png = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)  # what a saved PNG holds
    np.testing.assert_array_equal(F.to_unit_range(x).numpy(), F.to_unit_range(png).numpy())
    assert F.to_unit_range(png).dtype == torch.float32
    assert F.to_unit_range(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [0.0, 1.0]


# --------------------------------------------------------------------------------------------
# Weights: fetching and verification
# --------------------------------------------------------------------------------------------


def test_fetch_weights_from_local_path_and_file_url(standin, tmp_path):
    src, sha = standin["fid_tv_logits"]
    dest = F.fetch_weights("fid_tv_logits", tmp_path / "w", url=str(src), sha256_prefix=sha[:8])
    assert dest == tmp_path / "w" / "inception_v3_google-0cc3c7bd.pth"
    assert F.sha256_of(dest) == sha
    assert (tmp_path / "w" / (dest.name + ".sha256")).read_text().split()[0] == sha
    mtime = dest.stat().st_mtime_ns
    # present and verified: skipped, even with a source that does not exist
    again = F.fetch_weights(
        "fid_tv_logits", tmp_path / "w", url=str(tmp_path / "nowhere.pth"), sha256_prefix=sha[:8]
    )
    assert again == dest and dest.stat().st_mtime_ns == mtime
    # a file:// URL works too, and nothing but the file and its sidecar is left
    dest2 = F.fetch_weights("fid_tv_logits", tmp_path / "w2", url=src.as_uri(), sha256_prefix=sha)
    assert F.sha256_of(dest2) == sha
    assert sorted(p.name for p in dest2.parent.iterdir()) == [dest2.name, dest2.name + ".sha256"]


def test_fetch_weights_wrong_prefix_leaves_nothing(standin, tmp_path):
    src, sha = standin["fid"]
    with pytest.raises(F.WeightsChecksumError) as err:
        F.fetch_weights("fid", tmp_path / "w", url=src.as_uri())  # official prefix 6726825d
    message = str(err.value)
    assert "6726825d" in message and sha in message
    assert str(tmp_path / "w" / "pt_inception-2015-12-05-6726825d.pth") in message
    assert list((tmp_path / "w").iterdir()) == []
    # a wrong file already in place is replaced by a verified fetch
    dest = tmp_path / "w" / "pt_inception-2015-12-05-6726825d.pth"
    dest.write_bytes(b"not the weights")
    assert F.fetch_weights("fid", tmp_path / "w", url=src.as_uri(), sha256_prefix=sha[:8]) == dest
    assert F.sha256_of(dest) == sha


def test_fetch_weights_missing_source(tmp_path):
    with pytest.raises(F.WeightsMissingError) as err:
        F.fetch_weights("fid", tmp_path / "w", url=str(tmp_path / "absent.pth"))
    message = str(err.value)
    assert str(tmp_path / "w" / "pt_inception-2015-12-05-6726825d.pth") in message
    assert F.FETCH_RULE in message and "file://" in message
    assert list((tmp_path / "w").iterdir()) == []


def test_load_extractor_missing_or_wrong_weights(standin, tmp_path):
    missing = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    with pytest.raises(F.WeightsMissingError) as err:
        F.load_extractor("fid", missing, "cpu")
    assert str(missing) in str(err.value) and F.FETCH_RULE in str(err.value)
    assert F.FEATURE_EXTRACTORS["fid"].url in str(err.value)
    path, sha = standin["fid"]
    with pytest.raises(F.WeightsChecksumError) as err:  # the stand-in is not the official file
        F.load_extractor("fid", path, "cpu")
    assert "6726825d" in str(err.value) and sha in str(err.value) and str(path) in str(err.value)


def test_official_urls_and_prefixes():
    from pytorch_fid.inception import FID_WEIGHTS_URL
    from torchvision.models import Inception_V3_Weights

    fid, tv = F.FEATURE_EXTRACTORS["fid"], F.FEATURE_EXTRACTORS["fid_tv_logits"]
    assert fid.url == FID_WEIGHTS_URL and fid.url.endswith(fid.file_name) and fid.dims == 2048
    assert (
        tv.url == Inception_V3_Weights.IMAGENET1K_V1.url
        and tv.url.endswith(tv.file_name)
        and tv.dims == 1000
    )
    assert (fid.sha256_prefix, tv.sha256_prefix) == ("6726825d", "0cc3c7bd")
    assert (fid.default_split, tv.default_split) == ("train", "test")
    assert METRICS["fid"] is fid and METRICS["fid_tv_logits"] is tv


# --------------------------------------------------------------------------------------------
# Extractors on stand-in weights
# --------------------------------------------------------------------------------------------


def test_standin_layout_matches_architectures(standin):
    from torchvision.models import inception_v3

    tv_sd = torch.load(standin["fid_tv_logits"][0], weights_only=True)
    # independent: what torchvision builds for IMAGENET1K_V1 (aux logits, 1000 classes)
    want = inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict()
    assert {k: v.shape for k, v in tv_sd.items()} == {k: v.shape for k, v in want.items()}
    fid_sd = torch.load(standin["fid"][0], weights_only=True)
    # pytorch-fid's FID Inception: 1008 classes, no aux classifier, FID-patched blocks
    assert fid_sd["fc.weight"].shape == (1008, 2048)
    assert not any(k.startswith("AuxLogits") for k in fid_sd)
    assert fid_sd["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
    assert set(fid_sd) == set(F.standin_state_dict("fid", seed=1))


def test_extractors_load_the_file(standin, extractors):
    fid_sd = torch.load(standin["fid"][0], weights_only=True)
    net = extractors["fid"].net.inception
    torch.testing.assert_close(
        net.blocks[0][0].conv.weight, fid_sd["Conv2d_1a_3x3.conv.weight"], rtol=0, atol=0
    )
    torch.testing.assert_close(
        net.blocks[3][2].branch_pool.conv.weight, fid_sd["Mixed_7c.branch_pool.conv.weight"]
    )
    assert net.resize_input and net.normalize_input and net.output_blocks == [3]
    tv_sd = torch.load(standin["fid_tv_logits"][0], weights_only=True)
    torch.testing.assert_close(
        extractors["fid_tv_logits"].net.fc.weight, tv_sd["fc.weight"], rtol=0, atol=0
    )
    assert extractors["fid_tv_logits"].net.transform_input
    for metric in ("fid", "fid_tv_logits"):
        ex = extractors[metric]
        assert not ex.training and not any(p.requires_grad for p in ex.parameters())
        assert (
            ex.protocol()["weights_sha256"] == standin[metric][1]
            and not ex.protocol()["official_weights"]
        )
    x = torch.rand(1, 3, 32, 32)
    for bad in (x * 2 - 1, x[:, :1]):
        with pytest.raises(ValueError):
            extractors["fid"](bad)


class Spy:
    """Records the output shapes of an extractor (the Inception is too slow on CPU to run twice)."""

    def __init__(self, extractor):
        self.extractor, self.metric, self.shapes = extractor, extractor.metric, []

    def __call__(self, x):
        out = self.extractor(x)
        self.shapes.append((tuple(out.shape), out.dtype, bool(torch.isfinite(out).all())))
        return out


# --------------------------------------------------------------------------------------------
# Reference and generated statistics, end to end
# --------------------------------------------------------------------------------------------


def test_reference_stats_save_load(standin, extractors, data_root, tmp_path):
    path, sha = standin["fid"]
    mu, sigma, n = F.reference_stats(
        "fid",
        "cifar10",
        data_root,
        "train",
        path,
        "cpu",
        batch_size=1,
        max_images=2,
        sha256_prefix=sha[:8],
    )
    assert n == 2 and mu.shape == (2048,) and sigma.shape == (2048, 2048)
    # the same as running the extractor on the uint8 images / 255 in one batch
    images = torch.from_numpy(
        np.array(load_split("cifar10", data_root, "train").images[:2])
    ).permute(0, 3, 1, 2)
    feats = extractors["fid"](images.float() / 255)
    assert (
        feats.shape == (2, 2048) and feats.dtype == torch.float64
    )  # the extractor's output contract
    feats = feats.numpy()
    np.testing.assert_allclose(mu, feats.mean(0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sigma, np.cov(feats, rowvar=False), rtol=1e-5, atol=1e-10)

    out = tmp_path / F.reference_stats_name("fid", "cifar10", "train", 32, sha)
    proto = {
        "metric": "fid",
        "dataset": "cifar10",
        "split": "train",
        "resolution": 32,
        "weights_sha256": sha,
    }
    F.save_stats(out, mu, sigma, n, proto)
    ref = F.load_stats(out)
    np.testing.assert_array_equal(ref["mu"], mu)
    np.testing.assert_array_equal(ref["sigma"], sigma)
    assert ref["n"] == 2 and ref["protocol"] == {**proto, "n": 2, "dims": 2048}
    with np.load(out) as f:  # what pytorch-fid reads from an .npz
        assert f["mu"].shape == (2048,) and f["sigma"].shape == (2048, 2048)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # atomic: no temp files left
    F.check_compatible(ref, extractors["fid"])
    with pytest.raises(ValueError, match="metric"):
        F.check_compatible(ref, extractors["fid_tv_logits"])


def test_fid_tv_logits_end_to_end(standin, extractors, data_root, tmp_path):
    """The rule's function writes the reference npz with its protocol; generated statistics from
    a deterministic sampler; the whole plumbing gives a finite, non-negative number."""
    path, sha = standin["fid_tv_logits"]
    out = tmp_path / "ref.npz"
    record = F.compute_reference_stats(
        "fid_tv_logits",
        "cifar10",
        data_root,
        None,
        path,
        out,
        device="cpu",
        batch_size=2,
        max_images=3,
        sha256_prefix=sha[:8],
    )
    ref = F.load_stats(out)
    proto = ref["protocol"]
    assert proto == json.loads(json.dumps(record)) | {"n": 3, "dims": 1000}
    want = ("fid_tv_logits", "cifar10", "test", 32)
    assert (proto["metric"], proto["dataset"], proto["split"], proto["resolution"]) == want
    assert (proto["n"], proto["n_split"], proto["max_images"]) == (3, N_TEST, 3)
    assert (proto["dims"], proto["weights_sha256"], proto["official_weights"]) == (1000, sha, False)
    assert proto["gansweep_version"] and proto["versions"]["pytorch_fid"] == "0.3.0"
    assert ref["n"] == 3 and ref["mu"].shape == (1000,)

    gen = torch.Generator().manual_seed(7)
    calls = []

    def sample(k):
        calls.append(k)
        return torch.rand(k, 3, 32, 32, generator=gen) * 1.2 - 0.6  # "generated", in [−1, 1]

    spy = Spy(extractors["fid_tv_logits"])
    mu, sigma, n = F.generated_stats("fid_tv_logits", sample, 3, 2, spy, "cpu")
    assert calls == [2, 1] and n == 3 and mu.shape == (1000,) and sigma.shape == (1000, 1000)
    assert spy.shapes == [((2, 1000), torch.float64, True), ((1, 1000), torch.float64, True)]
    F.check_compatible(ref, extractors["fid_tv_logits"])
    value = F.frechet_distance(mu, sigma, ref["mu"], ref["sigma"])
    assert isinstance(value, float) and np.isfinite(value) and value >= 0
    with pytest.raises(ValueError, match="not 'fid'"):
        F.generated_stats("fid", sample, 4, 2, extractors["fid_tv_logits"])


# --------------------------------------------------------------------------------------------
# The public build path, kept features, progress (issue 10)
# --------------------------------------------------------------------------------------------


def test_fid_inception_is_built_by_pytorch_fid_from_the_hub_cache(standin, monkeypatch):
    """pytorch-fid's own builder runs untouched (no patched private function) and reads our file
    from a private torch.hub cache under its published name; the user's hub dir is restored."""
    import pytorch_fid.inception as pfi

    path, sha = standin["fid"]
    loader, build = pfi.load_state_dict_from_url, pfi.fid_inception_v3
    seen = {}

    def spying():
        seen["loader_untouched"] = pfi.load_state_dict_from_url is loader
        cached = Path(torch.hub.get_dir()) / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth"
        seen["cached"] = cached.resolve() == path.resolve()
        return build()

    monkeypatch.setattr(pfi, "fid_inception_v3", spying)
    before = torch.hub.get_dir()
    with mock.patch("torch.hub.download_url_to_file", _no_network):
        extractor = F.load_extractor("fid", path, "cpu", sha[:16])
    assert seen == {"loader_untouched": True, "cached": True}
    assert torch.hub.get_dir() == before
    assert extractor.weights_sha256 == sha


def test_standin_architecture_is_pytorch_fids():
    import pytorch_fid.inception as pfi

    net = F.fid_inception_architecture()
    for name, cls in (
        ("Mixed_5b", pfi.FIDInceptionA),
        ("Mixed_6e", pfi.FIDInceptionC),
        ("Mixed_7b", pfi.FIDInceptionE_1),
        ("Mixed_7c", pfi.FIDInceptionE_2),
    ):
        assert type(getattr(net, name)) is cls
    assert net.fc.out_features == 1008 and net.AuxLogits is None


def test_feature_sample_keeps_chosen_positions():
    x = torch.arange(40, dtype=torch.float64).reshape(20, 2)
    sample = F.FeatureSample(np.array([13, 0, 7, 19]))
    for lo, hi in ((0, 3), (3, 3), (3, 11), (11, 20)):
        sample.update(x[lo:hi])
    np.testing.assert_array_equal(sample.features(), x[[0, 7, 13, 19]].numpy().astype(np.float32))
    assert F.FeatureSample(5).positions.tolist() == [0, 1, 2, 3, 4]
    random = F.FeatureSample.random(100, 10, seed=3)
    assert len(set(random.positions)) == 10 and random.positions.max() < 100
    assert F.FeatureSample.random(4, 10).positions.tolist() == [0, 1, 2, 3]


def test_progress_lines_in_logs_and_a_bar_in_a_terminal():
    import io

    from gansweep.metrics.progress import progress

    log = io.StringIO()
    with progress(10, "fid reference cifar10 train", stream=log, every_s=0) as bar:
        for _ in range(5):
            bar.update(2)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) >= 2
    assert all(line.startswith("[gansweep] fid reference cifar10 train: ") for line in lines)
    assert "10/10 (100 %)" in lines[-1] and "img/s" in lines[-1] and "ETA" in lines[-1]
    assert len(lines) == len(set(lines))  # the final state is not repeated on close

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    with progress(10, "fid", stream=term) as bar:
        bar.update(10)
    assert "\r" in term.getvalue() and "100%" in term.getvalue()  # tqdm's redrawn bar


def test_reference_stats_report_progress(standin, extractors, data_root, capsys, monkeypatch):
    from gansweep.metrics import progress

    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    F.reference_stats(
        "fid_tv_logits",
        "cifar10",
        data_root,
        "test",
        None,
        "cpu",
        batch_size=2,
        max_images=4,
        extractor=extractors["fid_tv_logits"],
    )
    err = capsys.readouterr().err
    assert "fid_tv_logits reference cifar10 test: 2/4 (50 %)" in err
    assert "4/4 (100 %)" in err and "ETA" in err
