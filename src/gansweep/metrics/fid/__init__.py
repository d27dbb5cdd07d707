"""Fréchet Inception Distance: the standard FID and the (αD, αG) authors' logit variant.

Two named metrics, never mixed (each has its own column, weights, reference statistics):

``fid``            the standard FID of pytorch-fid 0.3.0: its InceptionV3 with the TF-ported
                   weights ``pt_inception-2015-12-05-6726825d.pth`` (``use_fid_inception=True``),
                   2048-d pool3 features, bilinear resize to 299 inside the network
                   (``resize_input``), [0, 1] → [−1, 1] (``normalize_input``). Reference: the
                   train split by default.
``fid_tv_logits``  the authors' non-standard FID (protocol §4): torchvision ``inception_v3``
                   with ``IMAGENET1K_V1`` weights (``inception_v3_google-0cc3c7bd.pth``; built as
                   torchvision builds it for those weights, i.e. ``transform_input=True``,
                   ``aux_logits=True``), eval mode, the 1000-d ImageNet **logits**, after
                   ``Inception_V3_Weights.IMAGENET1K_V1.transforms()`` (resize 342, centre-crop
                   299, ImageNet mean/std) on images in [0, 1]. Reference: the test split, as many
                   fakes as test images. Its values are only comparable with the authors'.

Every image goes through the same quantisation: real images are the prepared uint8 arrays / 255;
generated images in [−1, 1] are rounded to uint8 exactly as a saved PNG would be
(:func:`to_unit_range`). Features are accumulated in float64 by :class:`FeatureStats`, and the
distance is pytorch-fid's ``calculate_frechet_distance``.

Modules: ``protocols`` (the two variants), ``weights`` (files, fetching, SHA-256), ``extractor``
(building the networks offline, the extractor module), ``standin`` (random weights for tests and
smoke runs: FID values computed with them mean nothing), ``statistics`` (quantisation, streaming
statistics, real and generated passes), ``distance`` (Fréchet distance), ``reference`` (cached
reference statistics). Everything public is re-exported here.
"""

from gansweep.metrics.fid.distance import frechet_distance
from gansweep.metrics.fid.extractor import (
    FeatureExtractor,
    hub_cache_holding,
    load_extractor,
    resolve_device,
)
from gansweep.metrics.fid.protocols import FEATURE_EXTRACTORS, FID, FID_TV_LOGITS, FidProtocol
from gansweep.metrics.fid.reference import (
    REFERENCE_RULE,
    check_compatible,
    compute_reference_stats,
    load_stats,
    reference_stats_name,
    save_stats,
)
from gansweep.metrics.fid.standin import (
    fid_inception_architecture,
    standin_state_dict,
    write_standin_weights,
)
from gansweep.metrics.fid.statistics import (
    REFERENCE_FEATURES,
    FeatureSample,
    FeatureStats,
    generated_stats,
    reference_stats,
    to_unit_range,
)
from gansweep.metrics.fid.weights import (
    FETCH_RULE,
    WeightsChecksumError,
    WeightsMissingError,
    fetch_weights,
    sha256_of,
    verify_weights,
    weights_path,
)

__all__ = [
    "FEATURE_EXTRACTORS",
    "FETCH_RULE",
    "FID",
    "FID_TV_LOGITS",
    "REFERENCE_FEATURES",
    "REFERENCE_RULE",
    "FeatureExtractor",
    "FeatureSample",
    "FeatureStats",
    "FidProtocol",
    "WeightsChecksumError",
    "WeightsMissingError",
    "check_compatible",
    "compute_reference_stats",
    "fetch_weights",
    "fid_inception_architecture",
    "frechet_distance",
    "generated_stats",
    "hub_cache_holding",
    "load_extractor",
    "load_stats",
    "reference_stats",
    "reference_stats_name",
    "resolve_device",
    "save_stats",
    "sha256_of",
    "standin_state_dict",
    "to_unit_range",
    "verify_weights",
    "weights_path",
    "write_standin_weights",
]
