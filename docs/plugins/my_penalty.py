"""A gansweep plugin: a new D penalty and an objective that uses it, in one file.

Progressive GAN (Karras et al., "Progressive Growing of GANs", ICLR 2018, Appendix A.1) trains
with WGAN-GP plus a small drift penalty ε · E_real[D(x)²], ε = 0.001, which keeps the critic's
output from drifting far from zero. This plugin registers the penalty ``drift`` and the
objective ``wgan_gp_drift``: the WGAN losses with the built-in ``wgan_gp`` penalty and ``drift``.

    plugins: [docs/plugins/my_penalty.py]
    studies:
      my_study:
        dataset: ring
        grids:
          - objective: wgan_gp_drift

The trainers call the objective's losses and its penalties' hooks (gansweep/penalties.py) and
never ask which objective they run, so neither trainer changes (docs/extending.md).
"""

from gansweep.losses import LOSSES, Objective
from gansweep.penalties import PENALTIES, BasePenalty

DRIFT_EPSILON = 1e-3  # the paper's ε


class Drift(BasePenalty):
    name = "drift"
    description = "ProGAN's drift penalty ε · E_real[D(x)²]"

    def __init__(self, epsilon: float):
        self.epsilon = epsilon

    def d_term(self, batch, train):
        # D's outputs have shape [*lead, batch]; the term is one value per leading index.
        return self.epsilon * batch.critic(batch.real).pow(2).mean(-1)


PENALTIES.register("drift")(Drift(DRIFT_EPSILON))

wgan_gp = LOSSES["wgan_gp"]
LOSSES.register("wgan_gp_drift")(
    Objective(
        name="wgan_gp_drift",
        d_loss=wgan_gp.d_loss,
        g_loss=wgan_gp.g_loss,
        regularisers=("wgan_gp", "drift"),
        description="WGAN-GP with ProGAN's drift penalty (a plugin)",
    )
)
