"""Measurement, a sibling of segmentation (as :mod:`skimage.measure` is of
:mod:`skimage.segmentation`): label images (:mod:`.labels`), napari shapes (:mod:`.shapes`)
and the tables they give (:mod:`.tables`: units, CSV, summaries, feature joins).

Everything is importable from here (``from napari_coco_masks.segment.measure import measure``).
No napari or Qt import lives here.
"""

from .labels import PROPERTIES, concat_frames, iter_frames, measure
from .shapes import measure_shapes
from .tables import join_features, summarize, to_csv, unit_label, with_unit_headers

__all__ = [
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
]
