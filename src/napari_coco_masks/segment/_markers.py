"""Watershed markers: a label image, or point coordinates rounded to pixels; their checks.

No napari or Qt import lives here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["check_label_markers", "check_points_in_mask", "marker_kind", "point_labels",
           "points_to_pixels"]  # fmt: skip


def marker_kind(markers: Any, image: Any) -> str:
    """Return ``"labels"`` or ``"points"`` for ``markers``, or raise a clear ValueError."""
    if tuple(markers.shape) == tuple(image.shape):
        if not (markers.dtype == bool or np.issubdtype(markers.dtype, np.integer)):
            raise ValueError(
                f"`markers` as a label image must be integer, got dtype {markers.dtype}."
            )
        return "labels"
    if markers.ndim == 2 and markers.shape[1] == image.ndim:
        if not (np.issubdtype(markers.dtype, np.number) and markers.dtype != bool):
            raise ValueError(f"`markers` points must be numeric, got dtype {markers.dtype}.")
        return "points"
    hint = ""
    if markers.ndim == 2:
        hint = (
            f" As points they have {markers.shape[1]} coordinates but `image` is {image.ndim}D:"
            " give one coordinate per image axis (a Points layer of the image's dimensionality)."
        )
    raise ValueError(
        f"`markers` (shape {tuple(markers.shape)}) must be a label image of the shape of "
        f"`image` {tuple(image.shape)} or an (N, {image.ndim}) array of point coordinates.{hint}"
    )


def points_to_pixels(points: NDArray, shape: tuple[int, ...]) -> NDArray[np.intp]:
    """Round ``(N, ndim)`` point coordinates to pixel indices, checking they lie in ``shape``."""
    if points.shape[0] == 0:
        raise ValueError("`markers` has no points: add at least one marker.")
    if not np.all(np.isfinite(points)):
        raise ValueError("`markers` contains NaN or infinite coordinates.")
    pixels = np.round(points).astype(np.intp)
    outside = np.any((pixels < 0) | (pixels >= np.asarray(shape)), axis=1)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{int(outside.sum())} of {len(points)} marker points lie outside the image of "
            f"shape {shape} (first: point {first} at {tuple(points[first].tolist())}); "
            "move or delete them."
        )
    _, first_seen, counts = np.unique(pixels, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        twice = pixels[first_seen[counts > 1][0]]
        raise ValueError(
            f"several marker points round to the same pixel {tuple(twice.tolist())}; "
            "keep one point per object."
        )
    return pixels


def check_points_in_mask(pixels: NDArray[np.intp], mask: Any) -> None:
    """Raise if marker points (``pixels``, one row per point) fall outside ``mask``."""
    if isinstance(mask, np.ndarray):
        inside = mask[tuple(pixels.T)].astype(bool)
    else:  # dask and other lazy arrays: read the few marker pixels one by one
        inside = np.array([bool(mask[tuple(p)]) for p in pixels], dtype=bool)
    if not inside.all():
        first = int(np.flatnonzero(~inside)[0])
        raise ValueError(
            f"{int((~inside).sum())} of {len(pixels)} marker points lie outside `mask` "
            f"(first: point {first} at pixel {tuple(pixels[first].tolist())}); "
            "move them inside the mask or remove them."
        )


def check_label_markers(markers: NDArray, mask: NDArray | None, where: str) -> None:
    """Raise if a marker label image has negative labels or marker pixels outside ``mask``."""
    if markers.size and markers.min() < 0:
        raise ValueError(f"`markers` labels must be non-negative, got {int(markers.min())}{where}.")
    if mask is None:
        return
    outside = int(np.count_nonzero((markers != 0) & ~mask))
    if outside:
        raise ValueError(
            f"{outside} marker pixels lie outside `mask`{where}; erase them or enlarge the mask."
        )


def point_labels(pixels: NDArray[np.intp], shape: tuple[int, ...]) -> NDArray[np.int32]:
    """Label image with point ``i`` painted as label ``i + 1``."""
    markers = np.zeros(shape, dtype=np.int32)
    markers[tuple(pixels.T)] = np.arange(1, len(pixels) + 1, dtype=np.int32)
    return markers
