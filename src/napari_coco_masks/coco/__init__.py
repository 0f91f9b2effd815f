"""The COCO model: reading, validating, rasterising and writing COCO instance files.

No napari or Qt import lives here.
"""

from .errors import CocoError

__all__ = ["CocoError"]
