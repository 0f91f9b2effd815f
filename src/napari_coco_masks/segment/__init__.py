"""Segmentation and measurement on numpy and dask arrays. No napari or Qt import lives here."""

from .colour import colour_labels, colour_mask, hsv_range_around, rgb_to_hsv
from .threshold import (
    GLOBAL_METHODS,
    LOCAL_METHODS,
    METHODS,
    iter_threshold_frames,
    luminance,
    mask_to_labels,
    threshold,
    threshold_value,
)
from .watershed import iter_split_touching, iter_watershed, split_touching, watershed

__all__ = [
    "GLOBAL_METHODS",
    "LOCAL_METHODS",
    "METHODS",
    "colour_labels",
    "colour_mask",
    "hsv_range_around",
    "iter_split_touching",
    "iter_threshold_frames",
    "iter_watershed",
    "luminance",
    "mask_to_labels",
    "rgb_to_hsv",
    "split_touching",
    "threshold",
    "threshold_value",
    "watershed",
]
