"""Watershed segmentation: split touching objects, and seeded watershed from markers.

Pure functions on numpy (or dask) arrays; no napari or Qt import lives here.

* :func:`split_touching` cuts a mask (or a label image) into objects (:mod:`._split`): a
  distance transform (anisotropic with ``spacing``), one marker per maximum (at least
  ``min_distance`` apart, in physical units, optionally only h-maxima), then a watershed of the
  negated distance inside the mask. Every input label is split on its own.
* :func:`watershed` floods an intensity image (or its Sobel gradient) from markers given as a
  label image or as an ``(N, ndim)`` array of point coordinates, one object per point.

Both work on 2D and 3D arrays, and frame by frame on series (``frame_axis``); their options are
the frozen, self-checking :class:`SplitOptions` and :class:`WatershedOptions` (or their fields
as keyword arguments). :func:`iter_split_touching` and :func:`iter_watershed` validate eagerly
and return a generator that yields ``(frames_done, n_frames)`` after each frame and returns the
label image, so a GUI can report progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._frames import Progress, UniqueIds, drain, frame_of, map_frames, stack_frames
from ._split import split_frame
from ._validate import check_finite, check_spacing
from ._watershed_input import (
    as_array,
    check_frame_axis,
    check_image,
    check_label_markers,
    check_mask_dtype,
    check_points_in_mask,
    check_positive,
    check_same_shape,
    marker_kind,
    point_labels,
    points_to_pixels,
)
from .cleanup import options_from

__all__ = [
    "SplitOptions",
    "WatershedOptions",
    "iter_split_touching",
    "iter_watershed",
    "split_touching",
    "watershed",
]

@dataclass(frozen=True)
class SplitOptions:
    """How :func:`split_touching` cuts objects; checked when made.

    Parameters
    ----------
    min_distance : float
        Minimum distance between two markers of the same object, in the units of ``spacing``
        (pixels when ``spacing`` is None). A marker is the highest point of the box of
        half-width ``min_distance`` around it, and markers of one object closer than
        ``min_distance`` (Euclidean) are reduced to the highest one. Larger values split less.
    h : float, optional
        If given, only maxima of the distance at least ``h`` (physical units) above the saddle
        to a higher maximum become markers (h-maxima), which stops over-splitting of elongated
        or irregular objects. Each h-maximum plateau is one marker.

    Examples
    --------
    >>> SplitOptions(min_distance=0)
    Traceback (most recent call last):
    ...
    ValueError: `min_distance` must be a positive number, got 0.
    """

    min_distance: float = 5.0
    h: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "min_distance", check_positive(self.min_distance, "min_distance"))
        object.__setattr__(self, "h", check_positive(self.h, "h", allow_none=True))

    @classmethod
    def option_names(cls) -> frozenset[str]:
        """The option names (to pick them out of keyword arguments)."""
        return frozenset(f.name for f in fields(cls))


@dataclass(frozen=True)
class WatershedOptions:
    """How :func:`watershed` floods; checked when made.

    Parameters
    ----------
    compactness : float
        Compact watershed parameter (0: classic watershed); higher values give more regular
        regions.
    gradient : bool
        Flood the Sobel gradient magnitude of each frame instead of the image itself.
    connectivity : int
        Neighbourhood: 1 for faces (4-/6-connected), up to ``ndim`` for all neighbours.

    Examples
    --------
    >>> WatershedOptions(compactness=0.01).gradient
    False
    """

    compactness: float = 0.0
    gradient: bool = False
    connectivity: int = 1

    def __post_init__(self) -> None:
        compactness = float(self.compactness)
        if not np.isfinite(compactness) or compactness < 0:
            raise ValueError(f"`compactness` must be >= 0, got {self.compactness!r}.")
        object.__setattr__(self, "compactness", compactness)
        if isinstance(self.connectivity, bool) or int(self.connectivity) != self.connectivity \
                or self.connectivity < 1:  # fmt: skip
            raise ValueError(f"`connectivity` must be an int >= 1, got {self.connectivity!r}.")

    @classmethod
    def option_names(cls) -> frozenset[str]:
        """The option names (to pick them out of keyword arguments)."""
        return frozenset(f.name for f in fields(cls))


def _pick(options: Any, cls: type, kwargs: dict[str, Any], name: str) -> Any:
    """``options`` with the fields of ``kwargs`` applied; unknown keywords are refused."""
    unknown = set(kwargs) - cls.option_names()
    if unknown:
        raise TypeError(f"unknown {name} option(s): {', '.join(sorted(unknown))}")
    return options_from(options, cls, dict(kwargs))


def iter_split_touching(
    mask: ArrayLike,
    options: SplitOptions | None = None,
    *,
    spacing: Sequence[float] | None = None,
    frame_axis: int | None = None,
    **kwargs: Any,
) -> Progress:
    """Validate the inputs of :func:`split_touching` and return its step generator.

    Invalid parameters, shapes and dtypes raise ``ValueError`` here, before any work;
    negative labels are found while a frame is read, from the generator.

    Parameters
    ----------
    mask, options, spacing, frame_axis
        As for :func:`split_touching` (keyword fields of the options too).

    Returns
    -------
    generator
        Yields ``(frames_done, n_frames)`` and returns the label image, so a GUI can show
        progress (``result = yield from iter_split_touching(...)``).

    Examples
    --------
    >>> mask = np.zeros((5, 12), bool)
    >>> mask[1:4, 1:5] = mask[1:4, 6:11] = True
    >>> steps = iter_split_touching(np.stack([mask, mask]), frame_axis=0)
    >>> next(steps), next(steps)
    ((1, 2), (2, 2))
    """
    options = _pick(options, SplitOptions, kwargs, "split_touching")
    mask = as_array(mask)
    axis = check_frame_axis(mask.ndim, frame_axis, "mask")
    check_mask_dtype(mask)
    sampling = np.asarray(check_spacing(spacing, mask.ndim, axis))
    n_frames = 1 if axis is None else mask.shape[axis]
    ids = UniqueIds()

    def segment(index: int) -> NDArray[np.int32]:
        frame = np.asarray(frame_of(mask, axis, index))
        return ids(split_frame(frame, options.min_distance, sampling, options.h))

    return stack_frames(map_frames(n_frames, segment), tuple(mask.shape), axis)


def split_touching(
    mask: ArrayLike,
    options: SplitOptions | None = None,
    *,
    spacing: Sequence[float] | None = None,
    frame_axis: int | None = None,
    **kwargs: Any,
) -> NDArray[np.int32]:
    """Split touching objects of a mask (or of each label of a label image) by watershed.

    The distance to the background is computed (anisotropic with ``spacing``), each object gets
    a marker at every maximum of the distance that is the highest within ``min_distance``, and
    the negated distance is flooded from the markers inside the mask.

    Parameters
    ----------
    mask : (M, N[, P]) array of bool or int
        Foreground mask, or a label image (0 is background). Each label is split on its own,
        so touching labels never merge. With ``frame_axis``, one more (time) axis.
    options : SplitOptions, optional
        ``min_distance`` and ``h``; keyword arguments set its fields instead.
    spacing : float or sequence of float, optional
        Physical pixel size along each spatial axis (e.g. a napari layer's ``scale``).
        Default: 1 on every axis.
    frame_axis : int, optional
        Axis of a series: each frame is split on its own. Ids stay unique over frames.

    Returns
    -------
    labels : (M, N[, P]) ndarray of int32
        One label per object, 0 outside the mask. Every connected part of a mask (every label
        of a label image) gets at least one label.

    Raises
    ------
    ValueError
        If ``mask`` is not 2D/3D (3D/4D with ``frame_axis``), not boolean or integer, has
        negative labels, or if ``spacing``, ``min_distance`` or ``h`` are invalid.

    Examples
    --------
    >>> yy, xx = np.mgrid[:20, :34]
    >>> mask = ((yy - 10) ** 2 + (xx - 10) ** 2 < 64) | ((yy - 10) ** 2 + (xx - 23) ** 2 < 64)
    >>> int(split_touching(mask, min_distance=5).max())
    2
    """
    return drain(iter_split_touching(mask, options, spacing=spacing, frame_axis=frame_axis,
                                     **kwargs))  # fmt: skip


def _flood(
    image: NDArray,
    markers: NDArray,
    mask: NDArray | None,
    compactness: float,
    gradient: bool,
    connectivity: int,
) -> NDArray[np.int32]:
    """One frame of :func:`watershed` (inputs already validated)."""
    from skimage.filters import sobel
    from skimage.segmentation import watershed as sk_watershed

    if not np.any(markers):
        return np.zeros(image.shape, dtype=np.int32)
    relief = sobel(image) if gradient else image
    labels = sk_watershed(
        relief, markers, connectivity=connectivity, mask=mask, compactness=compactness
    )
    return labels.astype(np.int32, copy=False)


def iter_watershed(
    image: ArrayLike,
    markers: ArrayLike,
    options: WatershedOptions | None = None,
    *,
    mask: ArrayLike | None = None,
    frame_axis: int | None = None,
    **kwargs: Any,
) -> Progress:
    """Validate the inputs of :func:`watershed` and return its step generator.

    Checks of shapes, dtypes and marker points raise ``ValueError`` here, before any work;
    checks that read a marker label image (empty, negative or outside the mask) raise from the
    generator, so a GUI does not read big data in its thread.

    Parameters
    ----------
    image, markers, options, mask, frame_axis
        As for :func:`watershed` (keyword fields of the options too).

    Returns
    -------
    generator
        Yields ``(frames_done, n_frames)`` after each frame and returns the label image.

    Examples
    --------
    >>> image = np.zeros((2, 3, 5))
    >>> steps = iter_watershed(image, np.array([[0, 1, 0], [1, 1, 4]]), frame_axis=0)
    >>> next(steps), next(steps)
    ((1, 2), (2, 2))
    """
    options = _pick(options, WatershedOptions, kwargs, "watershed")
    compactness, gradient, connectivity = options.compactness, options.gradient, options.connectivity
    image = as_array(image)
    markers = as_array(markers)
    axis = check_frame_axis(image.ndim, frame_axis, "image")
    check_image(image)
    if mask is not None:
        mask = as_array(mask)
        check_same_shape(mask, image, "mask")
    kind = marker_kind(markers, image)
    if connectivity not in range(1, image.ndim + 1):
        raise ValueError(f"`connectivity` must be 1..{image.ndim}, got {connectivity!r}.")
    spatial_connectivity = min(connectivity, image.ndim - (axis is not None))

    pixels = None
    if kind == "points":
        pixels = points_to_pixels(np.asarray(markers, dtype=float), tuple(image.shape))
        if mask is not None:
            check_points_in_mask(pixels, mask)
    seeded = []  # frames that had markers (label markers are read frame by frame)

    def frame_markers(index: int, shape: tuple[int, ...]) -> NDArray:
        if pixels is None:
            return np.asarray(frame_of(markers, axis, index))
        if axis is None:
            return point_labels(pixels, shape)
        labels = np.zeros(shape, dtype=np.int32)
        in_frame = np.flatnonzero(pixels[:, axis] == index)
        spatial_pixels = np.delete(pixels[in_frame], axis, axis=1)
        labels[tuple(spatial_pixels.T)] = in_frame.astype(np.int32) + 1
        return labels

    def segment_frame(index: int) -> NDArray[np.int32]:
        frame = np.asarray(frame_of(image, axis, index))
        check_finite(frame, "image", "" if axis is None else f" in frame {index}")
        frame_mask = frame_of(mask, axis, index)
        frame_mask = None if frame_mask is None else np.asarray(frame_mask, dtype=bool)
        seeds = frame_markers(index, frame.shape)
        if pixels is None:
            check_label_markers(seeds, frame_mask, "" if axis is None else f" in frame {index}")
            if seeds.any():
                seeded.append(index)
        return _flood(frame, seeds, frame_mask, compactness, gradient, spatial_connectivity)

    n_frames = 1 if axis is None else image.shape[axis]
    steps = stack_frames(map_frames(n_frames, segment_frame), tuple(image.shape), axis)
    return steps if pixels is not None else _require_markers(steps, seeded)


def _require_markers(steps: Progress, seeded: list[int]) -> Progress:
    """Pass ``steps`` through; raise at the end if no frame had a marker label."""
    result = yield from steps
    if not seeded:
        raise ValueError("`markers` is empty (all zeros): paint or place at least one marker.")
    return result


def watershed(
    image: ArrayLike,
    markers: ArrayLike,
    options: WatershedOptions | None = None,
    *,
    mask: ArrayLike | None = None,
    frame_axis: int | None = None,
    **kwargs: Any,
) -> NDArray[np.int32]:
    """Seeded watershed of an intensity image (or of its gradient) from markers.

    Parameters
    ----------
    image : (M, N[, P]) array of float or int
        Intensity image; low values are flooded first (objects that are dark, or separated by
        bright edges, with ``gradient=True`` for edges). With ``frame_axis``, one more axis.
    markers : (M, N[, P]) array of int, or (K, image.ndim) array of float
        A label image of the shape of ``image`` (0: no marker; values are kept in the result)
        or the coordinates of ``K`` points, rounded to the nearest pixel; point ``i`` grows
        object ``i + 1``. With ``frame_axis`` a point's frame coordinate selects its frame.
    mask : (M, N[, P]) array of bool, optional
        Only pixels inside the mask are labelled. Markers must lie inside it.
    options : WatershedOptions, optional
        ``compactness``, ``gradient`` and ``connectivity``; keyword arguments set its fields
        instead.
    frame_axis : int, optional
        Axis of a time series: each frame is flooded on its own.

    Returns
    -------
    labels : (M, N[, P]) ndarray of int32
        The same as ``skimage.segmentation.watershed(image or sobel(image), marker_labels,
        mask=mask, compactness=compactness)`` frame by frame.

    Raises
    ------
    ValueError
        On no markers, marker points outside the image or the mask, marker labels outside the
        mask, points whose dimensionality differs from the image's, several points on one
        pixel, shape mismatches, or an image that is not 2D/3D (3D/4D with ``frame_axis``).

    Examples
    --------
    >>> image = np.array([[0, 1, 5, 1, 0], [0, 1, 5, 1, 0]], dtype=float)
    >>> watershed(image, np.array([[0, 0], [0, 4]]))
    array([[1, 1, 1, 2, 2],
           [1, 1, 1, 2, 2]], dtype=int32)
    """
    return drain(iter_watershed(image, markers, options, mask=mask, frame_axis=frame_axis,
                                **kwargs))  # fmt: skip

