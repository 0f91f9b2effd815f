"""Moved to :mod:`napari_coco_masks._widgets._base` (the one toolkit of the dock widgets).

Kept so that imports of ``napari_coco_masks._layers`` keep working.
"""

from napari_coco_masks._widgets._base import (
    is_time_unit,
    layer_geometry,
    layer_spacing,
    time_axes,
    unit_text,
    upsert_labels,
)

__all__ = ["is_time_unit", "layer_geometry", "layer_spacing", "time_axes", "unit_text", "upsert_labels"]
