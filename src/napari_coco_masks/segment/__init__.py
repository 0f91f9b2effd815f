"""Segmentation and measurement on numpy and dask arrays. No napari or Qt import lives here."""

from .colour import colour_labels, colour_mask, hsv_range_around, rgb_to_hsv
from .measure import (
    PROPERTIES,
    concat_frames,
    iter_frames,
    join_features,
    measure,
    measure_shapes,
    summarize,
    to_csv,
    unit_label,
    with_unit_headers,
)
from .region_growing import Region, RegionSizeWarning, grow_region, grow_regions
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
    "Region",
    "RegionSizeWarning",
    "grow_region",
    "grow_regions",
    "PROPERTIES",
    "concat_frames",
    "iter_frames",
    "join_features",
    "measure",
    "measure_shapes",
    "summarize",
    "to_csv",
    "unit_label",
    "with_unit_headers",
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
