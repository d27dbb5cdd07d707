"""stacked_linear: every arrangement of the per-model product is the same x @ w + b."""

import pytest
import torch

from gansweep.models.mlp import THIN_OUTPUT, stacked_linear


@pytest.mark.parametrize("out", [1, 2, THIN_OUTPUT - 1, THIN_OUTPUT, 40])
@pytest.mark.parametrize("models,batch", [(1, 1), (3, 5), (2, 128)])
@pytest.mark.parametrize("column_major_input", [False, True])
def test_stacked_linear_equals_per_model_matmul_in_value_and_gradient(
    out, models, batch, column_major_input
):
    gen = torch.Generator().manual_seed(out * 100 + batch)
    x = torch.randn(models, batch, 7, generator=gen, dtype=torch.float64)
    if column_major_input:  # G's output feeds D in this layout
        x = x.mT.contiguous().mT
    w = torch.randn(models, 7, out, generator=gen, dtype=torch.float64)
    b = torch.randn(models, 1, out, generator=gen, dtype=torch.float64)
    grad_out = torch.randn(models, batch, out, generator=gen, dtype=torch.float64)

    def value_and_grads(f):
        leaves = [t.detach().requires_grad_(True) for t in (x, w, b)]
        y = f(*leaves)
        return (y, *torch.autograd.grad(y, leaves, grad_out))

    ours = value_and_grads(stacked_linear)
    # Each model on its own, as nn.Linear would compute it.
    reference = value_and_grads(
        lambda x, w, b: torch.stack([x[s] @ w[s] + b[s] for s in range(models)])
    )
    assert ours[0].shape == (models, batch, out)
    for got, want in zip(ours, reference):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
