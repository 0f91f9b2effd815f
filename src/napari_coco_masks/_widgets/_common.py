"""Moved to :mod:`napari_coco_masks._widgets._base` (the one toolkit of the dock widgets).

Kept so that imports of ``napari_coco_masks._widgets._common`` keep working.
"""

from napari_coco_masks._widgets._base import (
    DockWatcher,
    ScrollingNative,
    keeping_choices,
    scroll_area,
    wrap_status,
)

__all__ = ["DockWatcher", "ScrollingNative", "keeping_choices", "scroll_area", "wrap_status"]
