"""Segmentation and measurement on numpy and dask arrays. No napari or Qt import lives here."""

from .watershed import iter_split_touching, iter_watershed, split_touching, watershed

__all__ = [
    "iter_split_touching",
    "iter_watershed",
    "split_touching",
    "watershed",
]
