"""Measure the objects of a label image in physical units, with scikit-image's names.

:func:`measure` returns one row per object with the columns of
:func:`skimage.measure.regionprops_table` (``label``, ``area``, ``perimeter``, ``centroid-0``,
``intensity_mean``, ...) in the units of ``spacing``, plus ``circularity`` (2D) and
``surface_area`` (3D); ``df.attrs["units"]`` maps every column to its unit string. Series are
measured frame by frame (:func:`iter_frames`). No napari or Qt import lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._frames import frame_of, map_frames
from .._validate import check_spacing
from ._properties import (
    INTENSITY,
    ONLY_2D,
    ONLY_3D,
    PROPERTIES,
    ProgressCallback,
    frame_properties,
)
from .tables import check_units, with_units

__all__ = ["PROPERTIES", "concat_frames", "iter_frames", "measure"]


def _check_properties(properties: Iterable[str] | None, ndim: int, has_intensity: bool) -> list[str]:
    """Return the requested properties that apply to ``ndim`` (all of them by default)."""
    if properties is None:
        wanted = [
            p for p in PROPERTIES
            if not (p in ONLY_2D and ndim != 2)
            and not (p in ONLY_3D and ndim != 3)
            and not (p in INTENSITY and not has_intensity)
            and not (p in ("axis_major_length", "axis_minor_length", "feret_diameter_max") and ndim not in (2, 3))
        ]
        return wanted
    wanted = list(dict.fromkeys(["label", *properties]))
    unknown = [p for p in wanted if p not in PROPERTIES]
    if unknown:
        raise ValueError(f"`properties` has unknown names {unknown}; choose from {list(PROPERTIES)}")
    if ndim != 2 and (bad := [p for p in wanted if p in ONLY_2D]):
        raise ValueError(f"`properties` {bad} exist for 2D objects only (objects here are {ndim}D)")
    axes = ("axis_major_length", "axis_minor_length", "feret_diameter_max")
    if ndim not in (2, 3) and (bad := [p for p in wanted if p in axes]):
        raise ValueError(f"`properties` {bad} exist for 2D and 3D objects only, not {ndim}D")
    if ndim != 3 and (bad := [p for p in wanted if p in ONLY_3D]):
        raise ValueError(f"`properties` {bad} exist for 3D objects only (objects here are {ndim}D)")
    if not has_intensity and (bad := [p for p in wanted if p in INTENSITY]):
        raise ValueError(f"`properties` {bad} need an `intensity` image; pass one or drop them")
    return wanted


def _check_inputs(labels: Any, intensity: Any, frame_axis: int | None) -> tuple[Any, Any, int]:
    """Check dtypes and shapes; return labels, intensity and the number of spatial axes."""
    if not hasattr(labels, "shape") or not hasattr(labels, "dtype"):
        labels = np.asarray(labels)
    if labels.dtype.kind not in "iub":
        raise ValueError(
            f"`labels` must be an integer label image, got dtype {labels.dtype}; "
            "convert a mask with skimage.measure.label first"
        )
    if frame_axis is not None:
        if not -labels.ndim <= frame_axis < labels.ndim:
            raise ValueError(
                f"`frame_axis` ({frame_axis}) is out of range for `labels` of {labels.ndim} axes"
            )
    ndim = labels.ndim - (frame_axis is not None)
    if ndim < 1:
        raise ValueError(f"`labels` (shape {labels.shape}) has no spatial axis to measure")
    if intensity is not None:
        if not hasattr(intensity, "shape"):
            intensity = np.asarray(intensity)
        if tuple(intensity.shape) != tuple(labels.shape):
            raise ValueError(
                f"`intensity` (shape {tuple(intensity.shape)}) must have the same shape as "
                f"`labels` (shape {tuple(labels.shape)})"
            )
    return labels, intensity, ndim


def measure(
    labels: Any,
    intensity: Any = None,
    *,
    spacing: float | Sequence[float] | None = None,
    units: str | Sequence[str | None] | None = None,
    properties: Iterable[str] | None = None,
    frame_axis: int | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Measure every object of a label image in physical units.

    Parameters
    ----------
    labels : (M, N[, ...]) array of int
        Label image (numpy or dask); 0 is background. Objects need not be connected.
    intensity : (M, N[, ...]) array, optional
        Intensity image of the same shape, for the ``intensity_*`` columns.
    spacing : float or sequence of float, optional
        Pixel size along each spatial axis (napari's ``layer.scale``); default 1. With
        ``frame_axis`` it may include the frame axis, whose entry is then ignored.
    units : str or sequence of str, optional
        Unit of each spatial axis (``"µm"``); ``None`` or ``"pixel"`` mean pixels (``"px"``).
    properties : iterable of str, optional
        Subset of :data:`PROPERTIES` to compute (``label`` is always included);
        default: every property that applies to the dimensionality and inputs.
    frame_axis : int, optional
        Axis of a time series: each frame is measured on its own and a ``frame`` column added.
    progress : callable, optional
        ``progress(done, total)`` called now and then (frames, or objects of a single frame).

    Returns
    -------
    pandas.DataFrame
        One row per object (per frame), columns named as :func:`skimage.measure.regionprops_table`
        names them (``label``, ``area``, ``perimeter``, ``centroid-0``, ``bbox-0``, ...) plus
        ``circularity`` = 4·π·area/perimeter² and ``roundness`` = 4·area/(π·major axis²)
        (2D; ``orientation`` in radians and ``feret_diameter_max`` as scikit-image;
        ``feret_diameter_min``, the narrowest caliper width of the same convex hull) and
        ``surface_area`` (3D, marching cubes).
        Lengths, areas and centroids are in the units of ``spacing``; ``bbox`` stays in pixel
        indices. ``df.attrs["units"]`` maps each column to its unit (``"µm²"``, ``"px"``,
        ``""`` for dimensionless), ``df.attrs["spacing"]`` holds the spacing used.

    Notes
    -----
    ``perimeter`` equals scikit-image's 4-neighbourhood estimate for isotropic spacing; for
    anisotropic spacing (which scikit-image refuses) it is the length of the marching-squares
    contour at level 0.5 in physical units.

    Examples
    --------
    >>> labels = np.zeros((6, 8), np.uint8)
    >>> labels[1:3, 1:4] = 1
    >>> labels[3:6, 5:8] = 2
    >>> df = measure(labels, spacing=0.5, units="µm", properties=["area"])
    >>> df.values.tolist(), df.attrs["units"]["area"]
    ([[1.0, 1.5], [2.0, 2.25]], 'µm²')
    """
    if frame_axis is not None:
        parts = []
        frames = iter_frames(labels, intensity, spacing=spacing, units=units,
                             properties=properties, frame_axis=frame_axis)
        for part in frames:
            parts.append(part)
            if progress is not None:
                progress(len(parts), np.shape(labels)[frame_axis])
        return concat_frames(parts)
    labels, intensity, ndim = _check_inputs(labels, intensity, frame_axis)
    spacing_t = check_spacing(spacing, ndim)
    units_t = check_units(units, ndim)
    wanted = _check_properties(properties, ndim, intensity is not None)
    cols = frame_properties(_load(labels), _load(intensity), spacing_t, wanted, progress)
    return with_units(pd.DataFrame(cols), units_t, spacing_t)


def iter_frames(
    labels: Any,
    intensity: Any = None,
    *,
    spacing: float | Sequence[float] | None = None,
    units: str | Sequence[str | None] | None = None,
    properties: Iterable[str] | None = None,
    frame_axis: int = 0,
) -> Iterator[pd.DataFrame]:
    """Measure a time series frame by frame, yielding one DataFrame per frame.

    Parameters
    ----------
    labels, intensity, spacing, units, properties
        As for :func:`measure`.
    frame_axis : int
        Axis of the frames.

    Yields
    ------
    pandas.DataFrame
        The columns of :func:`measure`, after a ``frame`` column, one table per frame. Useful
        to report progress or to stop early; join the parts with :func:`concat_frames`.
        Frames of dask arrays are loaded one at a time.

    Examples
    --------
    >>> series = np.zeros((2, 4, 4), np.uint8)
    >>> series[0, :2, :2] = 1
    >>> series[1, 1:, 1:] = 5
    >>> [part[["frame", "label", "area"]].values.tolist() for part in iter_frames(series)]
    [[[0.0, 1.0, 4.0]], [[1.0, 5.0, 9.0]]]
    """
    labels, intensity, ndim = _check_inputs(labels, intensity, frame_axis)
    full_ndim = labels.ndim
    frame_axis %= full_ndim
    if units is not None and not isinstance(units, str) and len(units) == full_ndim:
        units = [u for i, u in enumerate(units) if i != frame_axis]
    spacing_t = check_spacing(spacing, full_ndim, frame_axis)
    units_t = check_units(units, ndim)
    wanted = _check_properties(properties, ndim, intensity is not None)

    def measure_frame(t: int) -> pd.DataFrame:
        lab_t = _load(frame_of(labels, frame_axis, t))
        img_t = None if intensity is None else _load(frame_of(intensity, frame_axis, t))
        cols = frame_properties(lab_t, img_t, spacing_t, wanted)
        frame = np.full(len(cols["label"]), t, dtype=np.intp)
        return with_units(pd.DataFrame({"frame": frame, **cols}), units_t, spacing_t)

    for _, table in map_frames(labels.shape[frame_axis], measure_frame):
        yield table


def concat_frames(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate the per-frame tables of :func:`iter_frames`, keeping units and spacing.

    Parameters
    ----------
    parts : sequence of pandas.DataFrame
        Tables of :func:`iter_frames` (at least one).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> series = np.ones((3, 2, 2), np.uint8)
    >>> table = concat_frames(list(iter_frames(series, properties=["area"])))
    >>> table["frame"].tolist(), table.attrs["units"]["area"]
    ([0, 1, 2], 'px²')
    """
    if not parts:
        raise ValueError("`parts` is empty: there is no frame to concatenate")
    out = pd.concat(list(parts), ignore_index=True)
    out.attrs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in parts[0].attrs.items()}
    return out


def _load(array: Any) -> Any:
    """Materialise a numpy/dask/zarr array (``None`` passes through)."""
    if array is None:
        return None
    if hasattr(array, "compute"):
        array = array.compute()
    return np.asarray(array)
