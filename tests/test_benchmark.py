"""benchmarks/ring_throughput.py: its FLOP count, and that its GEMM bound is the trainer's GEMMs."""

import collections
import importlib.util
import sys

import pytest
from conftest import REPO
from torch.utils._python_dispatch import TorchDispatchMode  # sees the ops autograd runs too

from gansweep.training.ring import RingTrainer


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "ring_throughput", REPO / "benchmarks/ring_throughput.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def gemm_key(a, b):
    """(m, k, n) of a batched product and whether each operand is a transposed (column-major) view."""
    transposed = [x.stride(1) == 1 and x.shape[1] > 1 for x in (a, b)]
    return (a.shape[1], a.shape[2], b.shape[2], *transposed)


class RecordGemms(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.gemms = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in ("bmm", "baddbmm"):
            self.gemms[gemm_key(*(args[:2] if name == "bmm" else args[1:3]))] += 1
        return func(*args, **(kwargs or {}))


def test_flop_count_matches_the_reference_notes(bench):
    bench.check_flops()  # 206.848 MFLOP for perf_baseline.md's 2-hidden-layer net
    assert bench.minimal_flop_per_seed_step(hidden=4) == 616_448_000


@pytest.mark.parametrize("hidden", [2, 3])
def test_gemm_bound_runs_exactly_the_trainers_gemms(bench, hidden):
    trainer = RingTrainer(bench.ring_spec(seeds=3, threads=1, hidden=hidden))
    trainer.train_step()
    with RecordGemms() as recorded:
        trainer.train_step()
    bound = bench.StepGemms(seeds=3, hidden=hidden)
    assert collections.Counter(gemm_key(a, b) for a, b, _ in bound.ops) == recorded.gemms
    assert bound.flop == 3 * bench.minimal_flop_per_seed_step(hidden)
    bound.step()


def test_the_all_baddbmm_variant_runs_every_layer_as_one_gemm(bench):
    """The side-by-side variant really takes the old path: the critic's 1-column output layer
    is a GEMM there (forward in the D step and the G step, weight grads in the D step; a
    weighted sum in the trainer), and the trainer itself is left as it was afterwards."""
    variant = bench.OursAllBaddbmm(seeds=3, threads=1, hidden=2)
    with RecordGemms() as recorded:
        variant.step()
    assert sum(count for (_, _, n, *_), count in recorded.gemms.items() if n == 1) == 3
    trainer = RingTrainer(bench.ring_spec(seeds=3, threads=1, hidden=2))
    with RecordGemms() as recorded:
        trainer.train_step()
    assert not any(n == 1 for (_, _, n, *_) in recorded.gemms)
