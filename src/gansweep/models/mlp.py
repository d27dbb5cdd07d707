"""MLPs for the 2D studies, stacked on a leading seed axis.

``StackedMLP`` holds S independent networks as tensors ``W[s]`` of shape [S, in, out] and
evaluates all of them with one batched product per layer (``stacked_linear``). Seed s's slice is
exactly the network a single-seed run would train, so stacking changes the speed, not the
mathematics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gansweep.registry import Registry

MODELS: Registry = Registry("model")

# In place: they are only applied to a fresh baddbmm output, which autograd does not save, and
# their backward needs only the output (the sign of the output is the sign of the input).
# Saves one activation-sized allocation and write per hidden layer.
ACTIVATIONS = {
    "relu": lambda x: torch.relu_(x),
    "leaky_relu": lambda x: nn.functional.leaky_relu_(x, 0.2),
}


def init_linear_params(
    sizes: Sequence[int], generator: torch.Generator, dtype=torch.float64
) -> list[tuple[Tensor, Tensor]]:
    """PyTorch's default ``nn.Linear`` init, U(±1/√fan_in) for weight and bias, drawn from
    ``generator`` layer by layer (weight [out, in] first, then bias)."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        w = (torch.rand(fan_out, fan_in, generator=generator, dtype=dtype) * 2 - 1) * bound
        b = (torch.rand(fan_out, generator=generator, dtype=dtype) * 2 - 1) * bound
        params.append((w, b))
    return params


@MODELS.register("mlp")
class StackedMLP(nn.Module):
    """S independent MLPs ``sizes[0] → … → sizes[-1]`` with a hidden activation."""

    def __init__(self, n_models: int, sizes: Sequence[int], activation: str):
        super().__init__()
        self.sizes = list(sizes)
        self.activation = activation
        self._act = ACTIVATIONS[activation]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(n_models, i, o)) for i, o in zip(sizes[:-1], sizes[1:])
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.empty(n_models, 1, o)) for o in sizes[1:])

    @torch.no_grad()
    def load_per_model(self, per_model: Sequence[list[tuple[Tensor, Tensor]]]) -> None:
        """Set model s from ``per_model[s]`` = [(W [out, in], b [out]), ...]."""
        for layer, (w, b) in enumerate(zip(self.weights, self.biases)):
            w.copy_(torch.stack([p[layer][0].T for p in per_model]))
            b.copy_(torch.stack([p[layer][1].unsqueeze(0) for p in per_model]))

    def forward(self, x: Tensor) -> Tensor:
        """x: [S, B, in] → [S, B, out]."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = stacked_linear(x, w, b)
            if i < last:
                x = self._act(x)
        return x


THIN_OUTPUT = 16  # below this many output columns, stacked_linear uses the transposed product


def stacked_linear(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """``x @ w + b`` per model: x [S, B, in], w [S, in, out], b [S, 1, out].

    The same product, arranged by output width. A batched GEMM with an output only a few
    columns wide (a critic's 1 logit, a 2D generator's 2 coordinates) falls on a slow path
    of the CPU BLAS; its forward and backward together took 3-5× longer than a weighted sum
    (out = 1) or the transposed product wᵀxᵀ (out < 16) for S = 16, B = 128 (AMD EPYC, 1-2
    threads). benchmarks/ring_throughput.py times a ring step both ways, side by side.
    """
    out = w.shape[-1]
    if out == 1:
        return (x * w.mT).sum(-1, keepdim=True) + b
    if out < THIN_OUTPUT:
        return torch.bmm(w.mT, x.mT).mT + b
    return torch.baddbmm(b, x, w)


def mlp_sizes(in_dim: int, hidden: int, width: int, out_dim: int) -> list[int]:
    return [in_dim] + [width] * hidden + [out_dim]
