"""Models: one registry, filled by the modules below."""

from gansweep.models.mlp import MODELS, StackedMLP, init_linear_params

__all__ = ["MODELS", "StackedMLP", "init_linear_params"]
