"""A grown region: a boolean mask over a window of the image, painted into label images,
merged with another region, cropped to its bounding box. The window flood
(:mod:`._window_flood`) makes them. No napari or Qt import lives here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Region", "merge_regions", "tight_window"]


@dataclass(frozen=True)
class Region:
    """One grown object: a boolean mask over a window of the image.

    Attributes
    ----------
    slices : tuple of slice
        The window of the image that ``mask`` covers.
    mask : ndarray of bool
        The region inside the window.
    truncated : bool
        True when growth was stopped at ``max_size`` pixels.
    lower, upper : float
        The intensity bounds of the last flood (after the cast to the pixel type).
    """

    slices: tuple[slice, ...]
    mask: np.ndarray
    truncated: bool = False
    lower: float = math.nan
    upper: float = math.nan

    @property
    def size(self) -> int:
        """Number of pixels in the region."""
        return int(np.count_nonzero(self.mask))

    def paint(self, out: np.ndarray, value: int, *, overwrite: bool = False) -> None:
        """Write ``value`` into ``out`` (shaped like the image) where the region is.

        Pixels that already hold a non-zero label keep it unless ``overwrite`` is True.
        """
        view = out[self.slices]
        where = self.mask if overwrite else self.mask & (view == 0)
        np.copyto(view, value, where=where, casting="unsafe")

    def _paint_fresh(self, out: np.ndarray, value: int) -> None:
        """``paint`` into an all-zero ``out``: a cast and a scale beat a masked copy."""
        view = out[self.slices]
        view[...] = self.mask
        if value != 1:
            view *= value


def tight_window(slices: tuple[slice, ...], mask: np.ndarray) -> tuple[tuple[slice, ...], np.ndarray]:
    """Crop a window and its mask to the mask's bounding box (empty mask: empty window)."""
    crop = []
    for ax in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != ax)
        hit = np.flatnonzero(mask.any(axis=others) if others else mask)
        if hit.size == 0:
            crop = [slice(0, 0)] * mask.ndim
            break
        crop.append(slice(int(hit[0]), int(hit[-1]) + 1))
    tight = tuple(
        slice(s.start + c.start, s.start + c.stop) for s, c in zip(slices, crop, strict=True)
    )
    cropped = mask[tuple(crop)]
    return tight, cropped.copy() if 2 * cropped.size < mask.size else cropped


def merge_regions(a: Region, b: Region) -> Region:
    """Union of two regions over the window that covers both."""
    lo = [min(s.start, t.start) for s, t in zip(a.slices, b.slices, strict=True)]
    hi = [max(s.stop, t.stop) for s, t in zip(a.slices, b.slices, strict=True)]
    slices = tuple(slice(x, y) for x, y in zip(lo, hi, strict=True))
    mask = np.zeros([y - x for x, y in zip(lo, hi, strict=True)], dtype=bool)
    for r in (a, b):
        sub = tuple(slice(s.start - x, s.stop - x) for s, x in zip(r.slices, lo, strict=True))
        mask[sub] |= r.mask
    return Region(
        slices, mask, a.truncated or b.truncated, min(a.lower, b.lower), max(a.upper, b.upper)
    )
