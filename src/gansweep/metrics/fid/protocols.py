"""The two FID variants, never mixed: each has its own extractor, weights, reference split and
column. ``FEATURE_EXTRACTORS[name]`` (also ``METRICS[name]``) is a :class:`FidProtocol`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gansweep.metrics.modes import METRICS
from gansweep.registry import Registry


@dataclass(frozen=True)
class FidProtocol:
    """One FID variant: its feature extractor, official weights and reference convention.

    Calling it computes the Fréchet distance of two (mean, covariance) pairs, so
    ``METRICS[name](mu1, sigma1, mu2, sigma2)`` works like the other metrics."""

    name: str
    description: str
    url: str  # official weights
    sha256_prefix: str  # the official file's SHA-256 starts with this
    file_name: str  # under weights_dir
    dims: int
    default_split: str  # reference split
    preprocessing: str
    implementation: str

    def __call__(self, mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
        from gansweep.metrics.fid.distance import frechet_distance

        return frechet_distance(mu1, sigma1, mu2, sigma2)


FEATURE_EXTRACTORS: Registry[FidProtocol] = Registry("FID feature extractor")

FID = FEATURE_EXTRACTORS.register("fid")(
    METRICS.register("fid")(
        FidProtocol(
            name="fid",
            description="standard FID: pytorch-fid InceptionV3 (TF-ported 2015-12-05 weights), pool3, 2048-d",
            url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
            sha256_prefix="6726825d",
            file_name="pt_inception-2015-12-05-6726825d.pth",
            dims=2048,
            default_split="train",
            preprocessing="images in [0,1] (uint8/255); inside pytorch_fid.inception.InceptionV3("
            "resize_input=True, normalize_input=True): F.interpolate to 299x299 (bilinear, "
            "align_corners=False), 2x-1",
            implementation="pytorch-fid InceptionV3([3], use_fid_inception=True)",
        )
    )
)
FID_TV_LOGITS = FEATURE_EXTRACTORS.register("fid_tv_logits")(
    METRICS.register("fid_tv_logits")(
        FidProtocol(
            name="fid_tv_logits",
            description="NON-STANDARD (alpha-GAN authors): torchvision inception_v3 IMAGENET1K_V1, "
            "1000-d logits; not comparable with standard FID",
            url="https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
            sha256_prefix="0cc3c7bd",
            file_name="inception_v3_google-0cc3c7bd.pth",
            dims=1000,
            default_split="test",
            preprocessing="images in [0,1] (uint8/255); Inception_V3_Weights.IMAGENET1K_V1.transforms(): "
            "resize 342 (bilinear, antialias), center-crop 299, ImageNet mean/std; then the model's "
            "transform_input=True",
            implementation="torchvision.models.inception_v3(aux_logits=True, transform_input=True), eval",
        )
    )
)


def spec(metric: str) -> FidProtocol:
    return FEATURE_EXTRACTORS[metric]
