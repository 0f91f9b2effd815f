"""Per-object measurements in physical units, with scikit-image's property names.

:func:`measure` returns one row per object of a label image with the columns of
:func:`skimage.measure.regionprops_table` (``label``, ``area``, ``perimeter``, ``centroid-0``,
``intensity_mean``, ...) in the units of ``spacing``, plus ``circularity`` (2D) and
``surface_area`` (3D). ``df.attrs["units"]`` maps every column to its unit string.
:func:`measure_shapes` measures polygons (napari Shapes data), :func:`summarize` gives per-category
counts and areas, :func:`join_features` joins a layer's feature table (COCO ``annotation_id``,
``category``, ...) onto the measurements.

Speed: object crops come from one :func:`scipy.ndimage.find_objects` pass. When a requested
property needs the crops (perimeter, solidity, surface area), one loop over them also gathers
moments and intensity statistics from the small arrays; otherwise every property is computed for
all objects at once with :func:`numpy.bincount`, with no per-object Python loop. Only the
requested properties are computed.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

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

#: Every property :func:`measure` knows, in output order. ``eccentricity`` and ``circularity``
#: exist in 2D only, ``surface_area`` in 3D only, ``perimeter`` in 2D only.
PROPERTIES: tuple[str, ...] = (
    "label",
    "area",
    "perimeter",
    "surface_area",
    "equivalent_diameter_area",
    "axis_major_length",
    "axis_minor_length",
    "eccentricity",
    "solidity",
    "circularity",
    "centroid",
    "bbox",
    "intensity_mean",
    "intensity_min",
    "intensity_max",
    "intensity_std",
)

_ONLY_2D = {"perimeter", "eccentricity", "circularity"}
_ONLY_3D = {"surface_area"}
_INTENSITY = {"intensity_mean", "intensity_min", "intensity_max", "intensity_std"}
_MOMENTS = {"axis_major_length", "axis_minor_length", "eccentricity"}
#: Largest label value renumbered through a lookup table (above it: ``np.unique``).
_LUT_LIMIT = 1 << 26

ProgressCallback = Callable[[int, int], None]


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def _check_spacing(spacing: float | Sequence[float] | None, ndim: int) -> tuple[float, ...]:
    """Return ``spacing`` as ``ndim`` positive floats (a scalar applies to every axis)."""
    if spacing is None:
        return (1.0,) * ndim
    values = np.atleast_1d(np.asarray(spacing, dtype=float))
    if values.ndim != 1 or values.size not in (1, ndim):
        raise ValueError(
            f"`spacing` ({list(values.ravel())}) must be one number or {ndim} numbers, one per "
            f"spatial axis of `labels`"
        )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"`spacing` ({list(values)}) must be finite and > 0; pass pixel sizes")
    return tuple(float(v) for v in np.broadcast_to(values, (ndim,)))


def _check_units(units: str | Sequence[str | None] | None, ndim: int) -> tuple[str, ...]:
    """Return one unit string per spatial axis; ``None``/``"pixel"`` become ``"px"``."""
    if units is None or isinstance(units, str):
        values: list[Any] = [units] * ndim
    else:
        values = list(units)
        if len(values) != ndim:
            raise ValueError(
                f"`units` ({values}) must be one string or {ndim} strings, one per spatial axis"
            )
    return tuple(_normalize_unit(u) for u in values)


def _normalize_unit(unit: Any) -> str:
    """``None``, ``""``, ``"pixel"`` -> ``"px"``; ``"um"``/``"micrometer"`` -> ``"µm"``."""
    text = "" if unit is None else str(unit).strip()
    aliases = {"": "px", "pixel": "px", "pixels": "px", "um": "µm", "micrometer": "µm",
               "micron": "µm", "nanometer": "nm", "millimeter": "mm", "meter": "m"}
    return aliases.get(text, text)


def _check_properties(properties: Iterable[str] | None, ndim: int, has_intensity: bool) -> list[str]:
    """Return the requested properties that apply to ``ndim`` (all of them by default)."""
    if properties is None:
        wanted = [
            p for p in PROPERTIES
            if not (p in _ONLY_2D and ndim != 2)
            and not (p in _ONLY_3D and ndim != 3)
            and not (p in _INTENSITY and not has_intensity)
            and not (p in ("axis_major_length", "axis_minor_length") and ndim not in (2, 3))
        ]
        return wanted
    wanted = list(dict.fromkeys(["label", *properties]))
    unknown = [p for p in wanted if p not in PROPERTIES]
    if unknown:
        raise ValueError(f"`properties` has unknown names {unknown}; choose from {list(PROPERTIES)}")
    if ndim != 2 and (bad := [p for p in wanted if p in _ONLY_2D]):
        raise ValueError(f"`properties` {bad} exist for 2D objects only (objects here are {ndim}D)")
    axes = ("axis_major_length", "axis_minor_length")
    if ndim not in (2, 3) and (bad := [p for p in wanted if p in axes]):
        raise ValueError(f"`properties` {bad} exist for 2D and 3D objects only, not {ndim}D")
    if ndim != 3 and (bad := [p for p in wanted if p in _ONLY_3D]):
        raise ValueError(f"`properties` {bad} exist for 3D objects only (objects here are {ndim}D)")
    if not has_intensity and (bad := [p for p in wanted if p in _INTENSITY]):
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


# --------------------------------------------------------------------------------------------
# units
# --------------------------------------------------------------------------------------------


def _power(units: Sequence[str], power: int) -> str:
    """Unit of a product of ``power`` lengths: ``µm`` -> ``µm²``; mixed units multiply."""
    sup = {1: "", 2: "²", 3: "³"}.get(power, f"^{power}")
    if len(set(units)) == 1:
        return f"{units[0]}{sup}"
    return "·".join(units)


def _column_units(columns: Iterable[str], units: tuple[str, ...]) -> dict[str, str]:
    """Map each output column to its unit string (``""`` for dimensionless values)."""
    ndim = len(units)
    length = units[0] if len(set(units)) == 1 else "·".join(units) + f"^(1/{ndim})"
    table = {
        "area": _power(units, ndim),
        "perimeter": length,
        "surface_area": _power(units, 2) if len(set(units)) == 1 else f"({length})²",
        "equivalent_diameter_area": length,
        "axis_major_length": length,
        "axis_minor_length": length,
        "area_total": _power(units, ndim),
        "area_mean": _power(units, ndim),
        "area_median": _power(units, ndim),
    }
    out = {}
    for col in columns:
        if col in table:
            out[col] = table[col]
        elif col.startswith("centroid-"):
            out[col] = units[int(col.split("-")[1])]
        elif col.startswith("bbox-"):
            out[col] = "px"
        else:
            out[col] = ""
    return out


def unit_label(column: str, unit: str) -> str:
    """Header text for a column: ``"area [µm²]"``, or the bare name when dimensionless."""
    return f"{column} [{unit}]" if unit else column


def with_unit_headers(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose column names carry their units (``"area [µm²]"``)."""
    units = df.attrs.get("units", {})
    return df.rename(columns={c: unit_label(c, units.get(c, "")) for c in df.columns})


def to_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a measurement table as UTF-8 CSV with units in the headers; return the path."""
    path = Path(path)
    with_unit_headers(df).to_csv(path, index=False, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# algorithm
# --------------------------------------------------------------------------------------------


def _compact(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return an ``intp`` label image with values ``0..n`` and the original value of each.

    Dense labels pass through; sparse ones (COCO files number instances across the whole
    dataset, so one image may hold labels 90001..90020) are renumbered through a lookup table,
    or :func:`numpy.unique` for values too large for one.
    """
    lab = np.asarray(labels)
    if lab.dtype == bool:
        lab = lab.view(np.uint8)
    if lab.size == 0:
        return lab.astype(np.intp), np.arange(1)
    if lab.dtype.kind == "i" and (low := lab.min()) < 0:
        raise ValueError(f"`labels` has negative values (min {low}); labels must be >= 0")
    top = int(lab.max())
    if top > _LUT_LIMIT:
        values, inverse = np.unique(lab, return_inverse=True)
        if values[0] != 0:
            values = np.concatenate([[0], values])
            inverse = inverse + 1
        return inverse.reshape(lab.shape).astype(np.intp, copy=False), values
    lab = lab.astype(np.intp, copy=False)
    present = np.flatnonzero(np.bincount(lab.ravel(), minlength=top + 1))
    present = present[present > 0]
    if present.size >= top // 2:
        return lab, np.arange(top + 1)
    lut = np.zeros(top + 1, dtype=np.intp)
    lut[present] = np.arange(1, present.size + 1)
    return lut[lab], np.concatenate([[0], present])


def _coordinate_sums(
    flat: np.ndarray, shape: tuple[int, ...], nbins: int, origin: np.ndarray | None
) -> tuple[list[np.ndarray], dict[tuple[int, int], np.ndarray]]:
    """Per-label sums of pixel indices along each axis and, when ``origin`` is given, of the
    pairwise products of indices taken from each label's ``origin`` (its bounding-box corner,
    which keeps the second moments of small objects in large images accurate)."""
    first: list[np.ndarray] = []
    grids = []
    for axis, size in enumerate(shape):
        view = [1] * len(shape)
        view[axis] = size
        grid = np.broadcast_to(np.arange(size, dtype=float).reshape(view), shape).ravel()
        if origin is not None:
            grid = grid - origin[:, axis][flat]
        grids.append(grid)
        first.append(np.bincount(flat, weights=grid, minlength=nbins))
    second: dict[tuple[int, int], np.ndarray] = {}
    if origin is not None:
        for i in range(len(shape)):
            for j in range(i, len(shape)):
                second[i, j] = np.bincount(flat, weights=grids[i] * grids[j], minlength=nbins)
    return first, second


def _inertia_eigvals(
    count: np.ndarray,
    first: list[np.ndarray],
    second: dict[tuple[int, int], np.ndarray],
    spacing: tuple[float, ...],
) -> np.ndarray:
    """Eigenvalues (descending, clipped at 0) of skimage's inertia tensor of every object."""
    ndim = len(spacing)
    mean = [f / count for f in first]
    cov = np.empty((count.size, ndim, ndim))
    for (i, j), s in second.items():
        c = (s / count - mean[i] * mean[j]) * spacing[i] * spacing[j]
        cov[:, i, j] = cov[:, j, i] = c
    if ndim == 1:
        tensor = cov
    else:
        trace = np.trace(cov, axis1=1, axis2=2)
        tensor = trace[:, None, None] * np.eye(ndim) - cov
    eig = np.linalg.eigvalsh(tensor)
    return np.clip(eig, 0, None)[:, ::-1]


def _axes_lengths(eig: np.ndarray, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Major and minor axis lengths from inertia eigenvalues, as scikit-image defines them."""
    if ndim == 2:
        return 4 * np.sqrt(eig[:, 0]), 4 * np.sqrt(eig[:, -1])
    if ndim == 3:
        major = np.sqrt(np.maximum(0, 10 * (eig[:, 0] + eig[:, 1] - eig[:, 2])))
        minor = np.sqrt(np.maximum(0, 10 * (-eig[:, 0] + eig[:, 1] + eig[:, 2])))
        return major, minor
    raise ValueError(f"axis lengths are defined for 2D and 3D objects only, not {ndim}D")


def _perimeter_2d(mask: np.ndarray, spacing: tuple[float, ...]) -> float:
    """Perimeter of one object crop: scikit-image's 4-neighbourhood estimate when the spacing is
    isotropic (equal to ``regionprops``); the marching-squares contour length otherwise."""
    from skimage.measure import find_contours, perimeter

    if spacing[0] == spacing[1]:
        return float(perimeter(mask, 4)) * spacing[0]
    contours = find_contours(np.pad(mask, 1).astype(np.float32), 0.5)
    total = 0.0
    for contour in contours:
        steps = np.diff(contour, axis=0) * np.asarray(spacing)
        total += float(np.sqrt((steps**2).sum(axis=1)).sum())
    return total


def _surface_area_3d(mask: np.ndarray, spacing: tuple[float, ...]) -> float:
    """Surface area of one 3D object crop: marching cubes at level 0.5 on the padded crop."""
    from skimage.measure import marching_cubes, mesh_surface_area

    verts, faces, _, _ = marching_cubes(np.pad(mask, 1).astype(np.float32), 0.5, spacing=spacing)
    return float(mesh_surface_area(verts, faces))


def _convex_count(mask: np.ndarray) -> float:
    """Pixel count of the convex hull of one object crop (scikit-image's ``convex_hull_image``).

    Flat objects (an axis of length 1) are hulled in the remaining axes; a hull qhull cannot
    build (collinear pixels in 3D) gives NaN instead of scikit-image's warning and infinity.
    """
    from skimage.morphology import convex_hull_image

    flat = mask.reshape([n for n in mask.shape if n > 1])
    if flat.ndim <= 1:
        return float(mask.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        count = np.count_nonzero(convex_hull_image(flat))
    return float(count) if count else float("nan")


@dataclass
class _Sums:
    """Per-object raw sums shared by both strategies (all arrays indexed like ``present``).

    ``first[a]`` and ``second[a, b]`` sum pixel indices (and their products) counted from the
    object's bounding-box corner ``origin``, which keeps second moments of small objects in
    large images exact to float64.
    """

    count: np.ndarray
    origin: np.ndarray
    first: list[np.ndarray] = field(default_factory=list)
    second: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    intensity: dict[str, np.ndarray] = field(default_factory=dict)
    crop: dict[str, np.ndarray] = field(default_factory=dict)


def _sums_from_image(
    lab: np.ndarray,
    intensity: np.ndarray | None,
    present: np.ndarray,
    origin: np.ndarray,
    nbins: int,
    wanted: list[str],
) -> _Sums:
    """All objects at once with :func:`numpy.bincount` (no per-object Python loop)."""
    flat = lab.ravel()
    count_all = np.bincount(flat, minlength=nbins)
    sums = _Sums(count=count_all[present].astype(float), origin=origin)
    need_moments = any(p in wanted for p in _MOMENTS)
    if "centroid" in wanted or need_moments:
        full_origin = None
        if need_moments:
            full_origin = np.zeros((nbins, lab.ndim))
            full_origin[present] = origin
        else:
            sums.origin = np.zeros_like(origin)
        first, second = _coordinate_sums(flat, lab.shape, nbins, full_origin)
        sums.first = [f[present] for f in first]
        sums.second = {k: v[present] for k, v in second.items()}
    if intensity is not None and any(p in wanted for p in _INTENSITY):
        stats = _intensity_properties(flat, np.asarray(intensity).ravel(), count_all, nbins, wanted)
        sums.intensity = {k: v[present] for k, v in stats.items()}
    return sums


def _sums_from_crops(
    lab: np.ndarray,
    intensity: np.ndarray | None,
    present: np.ndarray,
    origin: np.ndarray,
    slices: list[tuple[slice, ...] | None],
    spacing: tuple[float, ...],
    wanted: list[str],
    progress: ProgressCallback | None,
) -> _Sums:
    """One pass over the objects' crops: used when perimeter, solidity or surface area need
    the crops anyway, so moments and intensity statistics come from the same small arrays."""
    n, ndim = present.size, lab.ndim
    need_moments = any(p in wanted for p in _MOMENTS)
    need_intensity = intensity is not None and any(p in wanted for p in _INTENSITY)
    want_perimeter = "perimeter" in wanted or "circularity" in wanted
    sums = _Sums(count=np.empty(n), origin=origin,
                 first=[np.empty(n) for _ in range(ndim)])
    if need_moments:
        sums.second = {(i, j): np.empty(n) for i in range(ndim) for j in range(i, ndim)}
    if need_intensity:
        sums.intensity = {p: np.empty(n) for p in _INTENSITY if p in wanted}
    crop = {p: np.empty(n) for p in ("perimeter", "convex_count", "surface_area")}
    for k, value in enumerate(present):
        slc = slices[value - 1]
        mask = lab[slc] == value
        idx = np.nonzero(mask)
        sums.count[k] = idx[0].size
        for a in range(ndim):
            sums.first[a][k] = idx[a].sum()
        for (i, j), out in sums.second.items():
            out[k] = np.dot(idx[i], idx[j])
        if need_intensity:
            vals = intensity[slc][mask].astype(np.float64, copy=False)
            mean = vals.mean()
            for prop, out in sums.intensity.items():
                if prop == "intensity_mean":
                    out[k] = mean
                elif prop == "intensity_min":
                    out[k] = vals.min()
                elif prop == "intensity_max":
                    out[k] = vals.max()
                else:
                    out[k] = np.sqrt(np.mean((vals - mean) ** 2))
        if want_perimeter:
            crop["perimeter"][k] = _perimeter_2d(mask, spacing)
        if "solidity" in wanted:
            crop["convex_count"][k] = _convex_count(mask)
        if "surface_area" in wanted:
            crop["surface_area"][k] = _surface_area_3d(mask, spacing)
        if progress is not None and k % 64 == 0:
            progress(k, n)
    sums.crop = crop
    return sums


def _intensity_properties(
    flat: np.ndarray, values: np.ndarray, count: np.ndarray, nbins: int, wanted: list[str]
) -> dict[str, np.ndarray]:
    """Per-label mean, min, max and (population) std of ``values`` over each object."""
    out: dict[str, np.ndarray] = {}
    vals = values.astype(np.float64, copy=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(flat, weights=vals, minlength=nbins) / count
    if "intensity_mean" in wanted:
        out["intensity_mean"] = mean
    if "intensity_std" in wanted:
        dev = vals - mean[flat]
        with np.errstate(invalid="ignore", divide="ignore"):
            out["intensity_std"] = np.sqrt(np.bincount(flat, weights=dev * dev, minlength=nbins) / count)
    if "intensity_min" in wanted:
        low = np.full(nbins, np.inf)
        np.minimum.at(low, flat, vals)
        out["intensity_min"] = low
    if "intensity_max" in wanted:
        high = np.full(nbins, -np.inf)
        np.maximum.at(high, flat, vals)
        out["intensity_max"] = high
    return out


def _measure_frame(
    labels: np.ndarray,
    intensity: np.ndarray | None,
    spacing: tuple[float, ...],
    wanted: list[str],
    progress: ProgressCallback | None = None,
) -> dict[str, np.ndarray]:
    """Measure one (non time-series) label image; return columns in ``wanted`` order."""
    ndim = labels.ndim
    lab, original = _compact(labels)
    nbins = original.size
    slices = ndi.find_objects(lab, max_label=nbins - 1)
    present = np.array([v + 1 for v, s in enumerate(slices) if s is not None], dtype=np.intp)
    origin = np.array([[s.start for s in slices[v - 1]] for v in present], dtype=float)
    origin = origin.reshape(-1, ndim)
    if intensity is not None:
        intensity = np.asarray(intensity)
    if any(p in wanted for p in ("perimeter", "solidity", "surface_area", "circularity")):
        sums = _sums_from_crops(lab, intensity, present, origin, slices, spacing, wanted, progress)
    else:
        sums = _sums_from_image(lab, intensity, present, origin, nbins, wanted)

    count = sums.count
    pixel_area = float(np.prod(spacing))
    area = count * pixel_area
    cols: dict[str, np.ndarray] = {"label": original[present], "area": area}
    if "centroid" in wanted:
        for axis in range(ndim):
            local = sums.first[axis] / count
            cols[f"centroid-{axis}"] = (sums.origin[:, axis] + local) * spacing[axis]
    if any(p in wanted for p in _MOMENTS):
        eig = _inertia_eigvals(count, sums.first, sums.second, spacing)
        cols["axis_major_length"], cols["axis_minor_length"] = _axes_lengths(eig, ndim)
        if ndim == 2:
            l1, l2 = eig[:, 0], eig[:, 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                cols["eccentricity"] = np.where(l1 == 0, 0.0, np.sqrt(1 - l2 / l1))
    if "equivalent_diameter_area" in wanted:
        cols["equivalent_diameter_area"] = (2 * ndim * area / np.pi) ** (1 / ndim)
    if "bbox" in wanted:
        stops = np.array([[s.stop for s in slices[v - 1]] for v in present], dtype=np.intp)
        boxes = np.hstack([origin.astype(np.intp), stops.reshape(-1, ndim)])
        for i in range(2 * ndim):
            cols[f"bbox-{i}"] = boxes[:, i]
    if "perimeter" in wanted or "circularity" in wanted:
        cols["perimeter"] = sums.crop["perimeter"]
    if "solidity" in wanted:
        cols["solidity"] = area / (sums.crop["convex_count"] * pixel_area)
    if "surface_area" in wanted:
        cols["surface_area"] = sums.crop["surface_area"]
    if "circularity" in wanted:
        with np.errstate(invalid="ignore", divide="ignore"):
            cols["circularity"] = 4 * np.pi * area / cols["perimeter"] ** 2
    cols.update(sums.intensity)
    return _ordered(cols, wanted, ndim)


def _ordered(cols: dict[str, np.ndarray], wanted: list[str], ndim: int) -> dict[str, np.ndarray]:
    """Keep only the requested columns, in :data:`PROPERTIES` order."""
    out: dict[str, np.ndarray] = {}
    for prop in PROPERTIES:
        if prop not in wanted:
            continue
        if prop == "centroid":
            out.update({f"centroid-{i}": cols[f"centroid-{i}"] for i in range(ndim)})
        elif prop == "bbox":
            out.update({f"bbox-{i}": cols[f"bbox-{i}"] for i in range(2 * ndim)})
        else:
            out[prop] = cols[prop]
    return out


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
        ``circularity`` = 4·π·area/perimeter² (2D) and ``surface_area`` (3D, marching cubes).
        Lengths, areas and centroids are in the units of ``spacing``; ``bbox`` stays in pixel
        indices. ``df.attrs["units"]`` maps each column to its unit (``"µm²"``, ``"px"``,
        ``""`` for dimensionless), ``df.attrs["spacing"]`` holds the spacing used.

    Notes
    -----
    ``perimeter`` equals scikit-image's 4-neighbourhood estimate for isotropic spacing; for
    anisotropic spacing (which scikit-image refuses) it is the length of the marching-squares
    contour at level 0.5 in physical units.
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
    spacing_t = _check_spacing(spacing, ndim)
    units_t = _check_units(units, ndim)
    wanted = _check_properties(properties, ndim, intensity is not None)
    cols = _measure_frame(_load(labels), _load(intensity), spacing_t, wanted, progress)
    return _with_units(pd.DataFrame(cols), units_t, spacing_t)


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

    Same parameters and columns as :func:`measure` with ``frame_axis``; each frame's table
    starts with a ``frame`` column. Useful to report progress or to stop early; join the parts
    with :func:`concat_frames`. Frames of dask arrays are loaded one at a time.
    """
    labels, intensity, ndim = _check_inputs(labels, intensity, frame_axis)
    full_ndim = labels.ndim
    frame_axis %= full_ndim
    if spacing is not None and np.size(spacing) == full_ndim:
        spacing = [s for i, s in enumerate(np.ravel(spacing)) if i != frame_axis]
    if units is not None and not isinstance(units, str) and len(units) == full_ndim:
        units = [u for i, u in enumerate(units) if i != frame_axis]
    spacing_t = _check_spacing(spacing, ndim)
    units_t = _check_units(units, ndim)
    wanted = _check_properties(properties, ndim, intensity is not None)
    for t in range(labels.shape[frame_axis]):
        index = (slice(None),) * frame_axis + (t,)
        lab_t = _load(labels[index])
        img_t = None if intensity is None else _load(intensity[index])
        cols = _measure_frame(lab_t, img_t, spacing_t, wanted)
        frame = np.full(len(cols["label"]), t, dtype=np.intp)
        yield _with_units(pd.DataFrame({"frame": frame, **cols}), units_t, spacing_t)


def concat_frames(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate the per-frame tables of :func:`iter_frames`, keeping units and spacing."""
    if not parts:
        raise ValueError("`parts` is empty: there is no frame to concatenate")
    out = pd.concat(list(parts), ignore_index=True)
    out.attrs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in parts[0].attrs.items()}
    return out


def _with_units(df: pd.DataFrame, units: tuple[str, ...], spacing: tuple[float, ...]) -> pd.DataFrame:
    """Attach ``attrs["units"]`` (per column) and ``attrs["spacing"]`` to a measurement table."""
    df.attrs["units"] = _column_units(df.columns, units)
    df.attrs["spacing"] = spacing
    return df


def _load(array: Any) -> Any:
    """Materialise a numpy/dask/zarr array (``None`` passes through)."""
    if array is None:
        return None
    if hasattr(array, "compute"):
        array = array.compute()
    return np.asarray(array)


# --------------------------------------------------------------------------------------------
# shapes, summaries, feature joins
# --------------------------------------------------------------------------------------------


def _polygon_area_perimeter(vertices: np.ndarray, closed: bool) -> tuple[float, float, np.ndarray]:
    """Shoelace area, boundary length and area centroid of one polygon (physical coordinates)."""
    base = vertices[0]
    y, x = vertices[:, 0] - base[0], vertices[:, 1] - base[1]  # no cancellation far from 0
    ring = np.vstack([vertices, vertices[:1]]) if closed else vertices
    steps = np.diff(ring, axis=0)
    length = float(np.sqrt((steps**2).sum(axis=1)).sum())
    if not closed or len(vertices) < 3:
        return 0.0, length, vertices.mean(axis=0)
    y1, x1 = np.roll(y, -1), np.roll(x, -1)
    cross = x * y1 - x1 * y
    signed = 0.5 * float(cross.sum())
    if signed == 0:
        return 0.0, length, vertices.mean(axis=0)
    cy = float(((y + y1) * cross).sum()) / (6 * signed)
    cx = float(((x + x1) * cross).sum()) / (6 * signed)
    return abs(signed), length, base + np.array([cy, cx])


def _ellipse_area_perimeter(corners: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Area and (Ramanujan) perimeter of the ellipse inscribed in napari's 4 corner points."""
    a = 0.5 * float(np.linalg.norm(corners[1] - corners[0]))
    b = 0.5 * float(np.linalg.norm(corners[2] - corners[1]))
    h = ((a - b) / (a + b)) ** 2 if a + b else 0.0
    perimeter = np.pi * (a + b) * (1 + 3 * h / (10 + np.sqrt(4 - 3 * h)))
    return np.pi * a * b, float(perimeter), corners.mean(axis=0)


def measure_shapes(
    polygons: Sequence[Any],
    *,
    spacing: float | Sequence[float] | None = None,
    units: str | Sequence[str | None] | None = None,
    shape_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Area and perimeter of napari shapes in physical units.

    Parameters
    ----------
    polygons : sequence of (V, D) arrays
        Vertices in napari data coordinates (``Shapes.data``); the last two columns are
        (row, col). Physical coordinates are vertices times ``spacing``.
    spacing : float or sequence of float, optional
        Pixel size of the two last axes (or of all D axes: the last two are used).
    units : str or sequence of str, optional
        Unit of the axes; ``None``/``"pixel"`` mean pixels.
    shape_types : sequence of str, optional
        napari shape types (``"polygon"``, ``"rectangle"``, ``"ellipse"``, ``"path"``,
        ``"line"``); default: every shape is a closed polygon. Ellipses are measured as
        ellipses, paths and lines have area 0 and their length as ``perimeter``.

    Returns
    -------
    pandas.DataFrame
        Columns ``shape`` (index in ``polygons``), ``shape_type``, ``area``, ``perimeter``,
        ``centroid-0``, ``centroid-1`` (area centroid, physical units); units in
        ``df.attrs["units"]``.
    """
    shapes = [np.asarray(p, dtype=float) for p in polygons]
    if shape_types is None:
        types = ["polygon"] * len(shapes)
    else:
        types = list(shape_types)
        if len(types) != len(shapes):
            raise ValueError(
                f"`shape_types` has {len(types)} entries but `polygons` has {len(shapes)} shapes"
            )
    for k, s in enumerate(shapes):
        if s.ndim != 2 or s.shape[1] < 2:
            raise ValueError(f"`polygons[{k}]` (shape {s.shape}) must be a (V, D>=2) vertex array")
    if spacing is not None and np.size(spacing) > 2:
        spacing = np.ravel(spacing)[-2:]
    if units is not None and not isinstance(units, str) and len(units) > 2:
        units = list(units)[-2:]
    spacing_t = _check_spacing(spacing, 2)
    units_t = _check_units(units, 2)
    scale = np.asarray(spacing_t)
    rows = []
    for k, (verts, kind) in enumerate(zip(shapes, types, strict=True)):
        phys = verts[:, -2:] * scale
        if kind == "ellipse" and len(phys) == 4:
            area, perimeter, centre = _ellipse_area_perimeter(phys)
        else:
            area, perimeter, centre = _polygon_area_perimeter(phys, kind not in ("path", "line"))
        rows.append((k, kind, area, perimeter, centre[0], centre[1]))
    df = pd.DataFrame(
        rows, columns=["shape", "shape_type", "area", "perimeter", "centroid-0", "centroid-1"]
    )
    df.attrs["units"] = _column_units(df.columns, units_t)
    df.attrs["units"]["shape"] = ""
    df.attrs["spacing"] = spacing_t
    return df


def summarize(df: pd.DataFrame, by: str | None = "category", column: str = "area") -> pd.DataFrame:
    """Per-group count, total, mean and median of ``column`` (area by default).

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`measure` or :func:`measure_shapes` (possibly joined with features).
    by : str or None
        Grouping column (``"category"``); ``None`` puts every row in one group ``"all"``.
    column : str
        Column to summarise.

    Returns
    -------
    pandas.DataFrame
        Columns ``by`` (or ``"group"``), ``count``, ``<column>_total``, ``<column>_mean``,
        ``<column>_median``; ``attrs["units"]`` carries ``column``'s unit.
    """
    if column not in df.columns:
        raise ValueError(f"`column` ({column!r}) is not a column of `df`; have {list(df.columns)}")
    if by is not None and by not in df.columns:
        raise ValueError(
            f"`by` ({by!r}) is not a column of `df`; have {list(df.columns)}; pass by=None "
            "to summarise all objects together"
        )
    key = by if by is not None else "group"
    data = df.assign(group="all") if by is None else df
    grouped = data.groupby(key, sort=True, dropna=False)[column]
    out = pd.DataFrame({
        "count": grouped.count(),
        f"{column}_total": grouped.sum(),
        f"{column}_mean": grouped.mean(),
        f"{column}_median": grouped.median(),
    }).reset_index()
    unit = df.attrs.get("units", {}).get(column, "")
    out.attrs["units"] = {key: "", "count": "", **{c: unit for c in out.columns[2:]}}
    return out


def join_features(df: pd.DataFrame, features: pd.DataFrame | None, on: str = "label") -> pd.DataFrame:
    """Join a layer's feature table (``annotation_id``, ``category``, ...) onto measurements.

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`measure` (``on="label"``) or :func:`measure_shapes` (``on="shape"``).
    features : pandas.DataFrame or None
        napari ``layer.features``. For labels, an ``index`` column gives each row's label value
        (without it row k is label k); for shapes, row k is shape k.
    on : str
        Key column of ``df``.

    Returns
    -------
    pandas.DataFrame
        ``df`` with the feature columns not already in it inserted after ``on``; rows keep
        ``df``'s order; ``attrs`` are kept (new columns are dimensionless).
    """
    if features is None or len(features.columns) == 0 or len(df) == 0:
        return df
    feats = features.copy()
    if "index" in feats.columns:
        keys = feats.pop("index").to_numpy()
    else:
        keys = np.arange(len(feats))
    extra = [c for c in feats.columns if c not in df.columns]
    if not extra:
        return df
    feats = feats[extra]
    feats.index = keys
    feats = feats[~feats.index.duplicated(keep="first")]
    joined = feats.reindex(df[on].to_numpy())
    joined.index = df.index
    pos = list(df.columns).index(on) + 1
    out = pd.concat([df.iloc[:, :pos], joined, df.iloc[:, pos:]], axis=1)
    out.attrs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in df.attrs.items()}
    units = out.attrs.setdefault("units", {})
    for col in extra:
        units.setdefault(col, "")
    return out
