"""The inputs of the watershed functions: array, frame-axis and option checks, and markers
(a label image, or point coordinates rounded to pixels) with their checks.

No napari or Qt import lives here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "as_array",
    "check_frame_axis",
    "check_image",
    "check_label_markers",
    "check_mask_dtype",
    "check_points_in_mask",
    "check_positive",
    "check_same_shape",
    "marker_kind",
    "point_labels",
    "points_to_pixels",
]

#: Spatial dimensionalities the functions segment (series add a frame axis).
SPATIAL_NDIMS = (2, 3)


def as_array(data: Any) -> Any:
    """Return ``data`` unchanged if it is array-like with a shape (numpy, dask), else an ndarray."""
    return data if hasattr(data, "shape") and hasattr(data, "dtype") else np.asarray(data)


def check_frame_axis(ndim: int, frame_axis: int | None, name: str) -> int | None:
    """Validate ``frame_axis`` and the dimensionality of the array called ``name``.

    Returns the non-negative frame axis (or None).
    """
    if frame_axis is None:
        if ndim not in SPATIAL_NDIMS:
            hint = (
                " For a time series pass `frame_axis` (the time axis)."
                if ndim == max(SPATIAL_NDIMS) + 1
                else ""
            )
            raise ValueError(f"`{name}` must be 2D or 3D, got {ndim}D.{hint}")
        return None
    if not isinstance(frame_axis, (int, np.integer)) or isinstance(frame_axis, bool):
        raise ValueError(f"`frame_axis` must be an int or None, got {frame_axis!r}.")
    if not -ndim <= frame_axis < ndim:
        raise ValueError(
            f"`frame_axis` ({frame_axis}) is out of range for `{name}` with {ndim} dimensions."
        )
    if ndim - 1 not in SPATIAL_NDIMS:
        raise ValueError(
            f"`{name}` must be 3D or 4D with `frame_axis` (2D or 3D frames), got {ndim}D."
        )
    return int(frame_axis) % ndim


def check_positive(value: float, name: str, *, allow_none: bool = False) -> float | None:
    """Return ``value`` as a positive finite float; None passes when ``allow_none``."""
    if value is None and allow_none:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a positive number, got {value!r}.") from None
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
    return number


def check_mask_dtype(mask: Any) -> None:
    """A split needs a boolean mask or non-negative integer labels, not intensities."""
    if not (mask.dtype == bool or np.issubdtype(mask.dtype, np.integer)):
        raise ValueError(
            f"`mask` must be a boolean mask or an integer label image, got dtype {mask.dtype}; "
            "threshold an intensity image first (e.g. `image > t`)."
        )


def check_image(image: Any) -> None:
    """The flooded image must be real-valued (an RGB image must be converted to grey first)."""
    if image.dtype == bool or not (
        np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)
    ):
        raise ValueError(f"`image` must be a real-valued intensity image, got dtype {image.dtype}.")


def check_same_shape(array: Any, image: Any, name: str) -> None:
    """Raise if ``array`` and ``image`` differ in shape."""
    if tuple(array.shape) != tuple(image.shape):
        raise ValueError(
            f"`{name}` (shape {tuple(array.shape)}) must have the same shape as `image` "
            f"(shape {tuple(image.shape)})."
        )


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
