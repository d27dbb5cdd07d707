"""Models: one registry, filled by the modules below."""

# Convolutional GAN architectures: importing registers them in MODELS.
from gansweep.models import acgan, dcgan, sngan  # noqa: E402,F401
from gansweep.models.common import GanPair, count_parameters, layer_weight  # noqa: E402
from gansweep.models.mlp import MODELS, StackedMLP, init_linear_params

__all__ = [
    "MODELS",
    "StackedMLP",
    "init_linear_params",
    "GanPair",
    "count_parameters",
    "layer_weight",
]
