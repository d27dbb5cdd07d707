"""Convolutional GAN architectures: shapes, parameter counts, init, spectral norm, labels,
gradient flow, grad-stat layer listing, determinism, channels-last."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gansweep.models import MODELS, GanPair, count_parameters, layer_weight
from gansweep.models.common import WEIGHT_LAYERS, weight_layers

ARCHS = ["dcgan32", "dcgan64", "dcgan112", "sngan_resnet32", "acgan32"]
RESOLUTION = {"dcgan32": 32, "dcgan64": 64, "dcgan112": 112, "sngan_resnet32": 32, "acgan32": 32}
Z_DIM = {"dcgan32": 100, "dcgan64": 100, "dcgan112": 100, "sngan_resnet32": 128, "acgan32": 100}


def conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def bn(c):
    return 2 * c


# Parameter counts worked out by hand from the layer tables (weights + biases + BN affine).
EXPECTED_PARAMS = {
    # Seed 001 Table 2 / Table 1 (all layers with biases; BN on the four hidden D convs).
    "dcgan32": (
        conv(100, 1024, 4)
        + bn(1024)
        + conv(1024, 512, 4)
        + bn(512)
        + conv(512, 256, 4)
        + bn(256)
        + conv(256, 3, 4),
        conv(3, 32, 4)
        + bn(32)
        + conv(32, 64, 4)
        + bn(64)
        + conv(64, 128, 4)
        + bn(128)
        + conv(128, 256, 4)
        + bn(256)
        + conv(256, 1, 4),
    ),
    "dcgan64": (
        conv(100, 512, 4, False)
        + bn(512)
        + conv(512, 256, 4, False)
        + bn(256)
        + conv(256, 128, 4, False)
        + bn(128)
        + conv(128, 64, 4, False)
        + bn(64)
        + conv(64, 3, 4, False),
        conv(3, 64, 4, False)
        + conv(64, 128, 4, False)
        + bn(128)
        + conv(128, 256, 4, False)
        + bn(256)
        + conv(256, 512, 4, False)
        + bn(512)
        + conv(512, 1, 4, False),
    ),
    "dcgan112": (
        conv(100, 512, 7, False)
        + bn(512)
        + conv(512, 256, 4, False)
        + bn(256)
        + conv(256, 128, 4, False)
        + bn(128)
        + conv(128, 64, 4, False)
        + bn(64)
        + conv(64, 3, 4, False),
        conv(3, 64, 4, False)
        + conv(64, 128, 4, False)
        + bn(128)
        + conv(128, 256, 4, False)
        + bn(256)
        + conv(256, 512, 4, False)
        + bn(512)
        + conv(512, 1, 7, False),
    ),
    "sngan_resnet32": (
        (128 * 256 * 16 + 256 * 16)  # linear z → 256×4×4
        + 3 * (bn(256) + conv(256, 256, 3) + bn(256) + conv(256, 256, 3) + conv(256, 256, 1))
        + bn(256)
        + conv(256, 3, 3),
        (conv(3, 128, 3) + conv(128, 128, 3) + conv(3, 128, 1))  # optimized block
        + (2 * conv(128, 128, 3) + conv(128, 128, 1))  # down block
        + 2 * (2 * conv(128, 128, 3))  # plain blocks, identity shortcut
        + (128 + 1),  # linear
    ),
    "acgan32": (
        (110 * 384 * 16 + 384 * 16)
        + conv(384, 192, 5)
        + bn(192)
        + conv(192, 96, 5)
        + bn(96)
        + conv(96, 3, 5),
        conv(3, 16, 3)
        + conv(16, 32, 3)
        + bn(32)
        + conv(32, 64, 3)
        + bn(64)
        + conv(64, 128, 3)
        + bn(128)
        + conv(128, 256, 3)
        + bn(256)
        + conv(256, 512, 3)
        + bn(512)
        + (512 * 16 * 11 + 11),
    ),
}

EXPECTED_GRAD_LAYERS = {
    "dcgan32": [f"conv{i}" for i in range(1, 6)],
    "dcgan64": [f"conv{i}" for i in range(1, 6)],
    "dcgan112": [f"conv{i}" for i in range(1, 6)],
    "sngan_resnet32": [
        "block1.c1",
        "block1.c2",
        "block1.c_sc",
        "block2.c1",
        "block2.c2",
        "block2.c_sc",
        "block3.c1",
        "block3.c2",
        "block4.c1",
        "block4.c2",
        "linear",
    ],
    "acgan32": [f"conv{i}" for i in range(1, 7)] + ["linear"],
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: the test boxes are small and shared, and OpenMP barriers on a
    busy second core make tiny ops (spectral-norm power iterations) 500× slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def build(name: str, seed: int = 0) -> GanPair:
    torch.manual_seed(seed)
    return MODELS[name]()


def generate(pair: GanPair, batch: int = 4, memory_format=None):
    z = pair.sample_z(batch)
    y = pair.sample_labels(batch)
    x = pair.generator(z, y) if y is not None else pair.generator(z)
    return z, y, x


def d_sum(out):
    if isinstance(out, tuple):
        return sum(o.sum() for o in out)
    return out.sum()


def test_all_registered():
    for name in ARCHS:
        assert name in MODELS


def test_hand_counts_dcgan32():
    # Spelled out (seed 001 Tables 1–2), independent of the helpers above.
    d = (
        (3 * 32 * 16 + 32)
        + (32 * 64 * 16 + 64)
        + (64 * 128 * 16 + 128)
        + (128 * 256 * 16 + 256)
        + (256 * 1 * 16 + 1)
        + 2 * (32 + 64 + 128 + 256)
    )
    g = (
        (100 * 1024 * 16 + 1024)
        + (1024 * 512 * 16 + 512)
        + (512 * 256 * 16 + 256)
        + (256 * 3 * 16 + 3)
        + 2 * (1024 + 512 + 256)
    )
    assert (g, d) == (12_141_827, 695_201)
    pair = build("dcgan32")
    assert count_parameters(pair.generator) == g
    assert count_parameters(pair.discriminator) == d


@pytest.mark.parametrize(
    "name", ARCHS, ids=[f"{n}-G{EXPECTED_PARAMS[n][0]}-D{EXPECTED_PARAMS[n][1]}" for n in ARCHS]
)
def test_shapes_range_and_counts(name):
    pair = build(name)
    assert pair.name == name
    assert pair.z_dim == Z_DIM[name] and pair.resolution == RESOLUTION[name]
    assert pair.n_classes == (10 if name == "acgan32" else 0)
    assert pair.parameter_counts() == {
        "generator": EXPECTED_PARAMS[name][0],
        "discriminator": EXPECTED_PARAMS[name][1],
    }
    _, _, x = generate(pair)
    r = RESOLUTION[name]
    assert x.shape == (4, 3, r, r) and x.dtype == torch.float32
    assert x.abs().max() <= 1.0
    out = pair.discriminator(x)
    if name == "acgan32":
        src, cls = out
        assert src.shape == (4,) and cls.shape == (4, 10)
    else:
        assert out.shape == (4,)
    # The generator also works in eval mode (BN running statistics).
    pair.generator.eval()
    _, _, x = generate(pair, batch=2)
    assert x.shape == (2, 3, r, r)


@pytest.mark.parametrize("name", ["dcgan32", "dcgan64", "dcgan112", "sngan_resnet32"])
def test_unconditional_rejects_labels(name):
    with pytest.raises(ValueError):
        MODELS[name](n_classes=10)
    pair = build(name)
    with pytest.raises(ValueError):
        pair.generator(pair.sample_z(2), torch.zeros(2, dtype=torch.long))


def test_z_dim_override():
    for name in ARCHS:
        pair = MODELS[name](z_dim=64)
        assert pair.z_dim == 64
        _, _, x = generate(pair, batch=2)
        assert x.shape[0] == 2


def test_dcgan_init_statistics():
    pair = build("dcgan64")
    w = pair.generator.main.conv2.weight  # 512×256×4×4 = 2.1M entries
    assert abs(w.std().item() - 0.02) < 0.0005 and abs(w.mean().item()) < 0.0005
    w = pair.discriminator.main.conv4.weight  # 256×512×4×4
    assert abs(w.std().item() - 0.02) < 0.0005
    bn_w = pair.generator.main.bn1.weight
    assert abs(bn_w.mean().item() - 1.0) < 0.005 and abs(bn_w.std().item() - 0.02) < 0.005
    assert torch.count_nonzero(pair.generator.main.bn1.bias) == 0
    # dcgan32 / acgan32 have biases, all zero at init; the Linear layers get N(0, 0.02).
    for name in ["dcgan32", "acgan32"]:
        pair = build(name)
        for net in (pair.generator, pair.discriminator):
            for _, m in weight_layers(net):
                assert m.bias is not None and torch.count_nonzero(m.bias) == 0
        if name == "acgan32":
            assert abs(pair.generator.linear.weight.std().item() - 0.02) < 0.001
            assert abs(pair.discriminator.main.linear.weight.std().item() - 0.02) < 0.001


def test_sngan_xavier_init():
    pair = build("sngan_resnet32")
    g = pair.generator
    w = g.block1.c1.weight  # gain √2 on residual convs
    bound = 2**0.5 * (6 / (256 * 9 + 256 * 9)) ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound
    w = g.block1.c_sc.weight  # gain 1 on shortcuts
    bound = (6 / (256 + 256)) ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound
    for _, m in weight_layers(g) + weight_layers(pair.discriminator):
        assert torch.count_nonzero(m.bias) == 0


def test_spectral_norm_on_every_sngan_d_layer_and_not_on_g():
    pair = build("sngan_resnet32")
    d = pair.discriminator
    layers = d.layers_for_grad_stats()
    assert len(layers) == len(weight_layers(d)) == 11
    for _, m in layers:
        assert parametrize.is_parametrized(m, "weight")
        assert type(m.parametrizations.weight[0]).__name__ == "_SpectralNorm"
    d.train()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for _ in range(10):  # power iterations on top of the 15 done at registration
            d(x)
    for name, m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2).item()
        # W / σ̂ with σ̂ = uᵀWv ≤ σ(W): the estimate approaches σ from below, so the
        # normalised weight's σ approaches 1 from above (slowly for close top singular values).
        assert 0.999 < sigma < 1.05, (name, sigma)
        # The raw weight is not normalised: SN does real work.
        raw = torch.linalg.matrix_norm(layer_weight(m).detach().flatten(1), ord=2).item()
        assert abs(raw - 1.0) > 0.05, (name, raw)
    for net in (pair.generator,):
        for m in net.modules():
            assert not parametrize.is_parametrized(m)
    # Only SNGAN uses spectral norm.
    for name in ["dcgan32", "dcgan64", "acgan32"]:
        p = build(name)
        for net in (p.generator, p.discriminator):
            assert not any(parametrize.is_parametrized(m) for m in net.modules())


def test_acgan_generator_depends_on_label():
    pair = build("acgan32")
    g = pair.generator.eval()  # BN running statistics: samples are independent
    z = torch.randn(1, 100).expand(11, 100)
    y = torch.tensor(list(range(10)) + [4])
    with torch.no_grad():
        x = g(z, y)
        assert torch.equal(x, g(z, y))
    for i in range(1, 10):  # same z, different label → different image
        assert (x[i] - x[0]).abs().max() > 1e-4, i
    assert torch.allclose(x[10], x[4], atol=1e-6)  # same z, same label → same image
    # Without labels the generator draws them uniformly itself.
    with torch.no_grad():
        assert g(z[:2]).shape == (2, 3, 32, 32)
    # The discriminator's class head is trainable against the labels.
    src, cls = pair.discriminator(x)
    loss = nn.functional.cross_entropy(cls, y) + src.sum()
    loss.backward()
    assert pair.discriminator.main.linear.weight.grad is not None


@pytest.mark.parametrize("name", ARCHS)
def test_gradient_reaches_every_generator_parameter(name):
    pair = build(name)
    _, _, x = generate(pair)
    d_sum(pair.discriminator(x)).backward()
    for pname, p in pair.generator.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname
    # And every discriminator weight layer gets a gradient on its trained parameter.
    for lname, m in pair.discriminator.layers_for_grad_stats():
        g = layer_weight(m).grad
        assert g is not None and g.abs().sum() > 0, lname


@pytest.mark.parametrize("name", ARCHS)
def test_layers_for_grad_stats(name):
    pair = build(name)
    layers = pair.discriminator.layers_for_grad_stats()
    assert [n for n, _ in layers] == EXPECTED_GRAD_LAYERS[name]
    assert all(isinstance(m, WEIGHT_LAYERS) for _, m in layers)
    # Complete: every weight layer of D, in registration (= forward) order.
    assert [m for _, m in layers] == [m for _, m in weight_layers(pair.discriminator)]
    # ... and that order is the order in which the forward pass calls them (SNGAN: a
    # block's residual convs, then its shortcut conv).
    calls: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: calls.append(mod)) for _, m in layers]
    _, _, x = generate(pair, batch=2)
    pair.discriminator(x)
    for h in hooks:
        h.remove()
    assert calls == [m for _, m in layers]


@pytest.mark.parametrize("name", ARCHS)
def test_determinism(name):
    a, b, c = build(name, 7), build(name, 7), build(name, 8)
    for net in ("generator", "discriminator"):
        sa = getattr(a, net).state_dict()
        sb = getattr(b, net).state_dict()
        sc = getattr(c, net).state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())


@pytest.mark.parametrize("name", ARCHS)
def test_channels_last(name):
    pair = build(name)
    pair.generator.eval()
    pair.discriminator.eval()
    cl = copy.deepcopy(pair).to(memory_format=torch.channels_last)
    r = RESOLUTION[name]
    torch.manual_seed(1)
    z = pair.sample_z(2)
    y = pair.sample_labels(2)
    x = torch.rand(2, 3, r, r) * 2 - 1
    x_cl = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        g_ref, g_cl = pair.generator(z, y), cl.generator(z, y)
        d_ref, d_cl = pair.discriminator(x), cl.discriminator(x_cl)
    assert torch.allclose(g_ref, g_cl, atol=1e-5)
    if isinstance(d_ref, tuple):
        assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(d_ref, d_cl))
    else:
        assert torch.allclose(d_ref, d_cl, atol=1e-4, rtol=1e-4)
    # Training mode forward + backward in channels-last.
    cl.generator.train()
    cl.discriminator.train()
    fake = cl.generator(z, y)
    d_sum(cl.discriminator(fake)).backward()
    assert all(p.grad is not None for p in cl.generator.parameters())
