"""gansweep: reproducible comparisons of adversarial losses for GANs."""

__version__ = "0.1.0"
