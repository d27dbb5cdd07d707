"""A gansweep plugin: least-squares GAN with the −1/1 coding (Mao et al. 2017), in one file.

LSGAN minimises squared distances to target codes a (fake), b (real) for D and c for G:

    D:  ½·E_x[(D(x) − b)²] + ½·E_z[(D(G(z)) − a)²]
    G:  ½·E_z[(D(G(z)) − c)²]

gansweep's built-in ``lsgan`` uses the 0-1 coding (a = 0, b = c = 1) of the (αD, αG)-GAN
papers. This plugin registers ``lsgan_pearson``, the coding a = −1, b = 1, c = 0 that satisfies
Mao et al.'s conditions b − c = 1 and b − a = 2, under which minimising G's loss minimises the
Pearson χ² divergence between p_data + p_g and 2·p_g (Mao et al., "Least Squares Generative
Adversarial Networks", ICCV 2017, Sec. 3.2).

Use it from a config (the path is relative to the directory you run snakemake in):

    plugins: [docs/plugins/my_loss.py]
    studies:
      my_study:
        dataset: ring
        grids:
          - objective: lsgan_pearson

Conventions every loss follows (see gansweep/losses.py): inputs are D's raw outputs of shape
[*lead, batch] (a leading axis of stacked runs on the ring), and each loss returns the batch
mean, shape [*lead]. The third argument is α (ignored unless ``uses_alpha=True``).
"""

from gansweep.losses import LOSSES, Objective

A, B, C = -1.0, 1.0, 0.0  # fake code, real code, the code G wants D to give its samples

LOSSES.register("lsgan_pearson")(
    Objective(
        name="lsgan_pearson",
        d_loss=lambda real, fake, _alpha: 0.5 * ((real - B) ** 2).mean(-1) + 0.5 * ((fake - A) ** 2).mean(-1),
        g_loss=lambda fake, _alpha: 0.5 * ((fake - C) ** 2).mean(-1),
        description="least-squares GAN with the -1/1 coding (a=-1, b=1, c=0; Pearson chi2), a plugin",
    )
)
