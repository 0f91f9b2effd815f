"""The COCO model: reading, validating, rasterising and writing COCO instance files.

No napari or Qt import lives here.
"""

from .errors import CocoError
from .model import (
    CocoAnnotation,
    CocoCategory,
    CocoDataset,
    CocoImage,
    CocoResultsError,
    NotCocoError,
    load_coco,
    parse_coco,
)
from .raster import annotation_mask, rasterize_image

__all__ = [
    "CocoAnnotation",
    "CocoCategory",
    "CocoDataset",
    "CocoError",
    "CocoImage",
    "CocoResultsError",
    "NotCocoError",
    "annotation_mask",
    "load_coco",
    "parse_coco",
    "rasterize_image",
]
