"""The per-object properties of a label image, computed the way scikit-image defines them.

Object crops come from one :func:`scipy.ndimage.find_objects` pass. When a requested property
needs the crops (perimeter, solidity, surface area, feret diameters: :mod:`._crop_shapes`),
one loop over them also gathers moments and intensity statistics from the small arrays;
otherwise every property is computed for all objects at once with :func:`numpy.bincount`, with no per-object Python loop. Only the requested
properties are computed. The public API is :mod:`napari_coco_masks.segment.measure.labels`.
No napari or Qt import lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from ._crop_shapes import (
    convex_count,
    feret_points,
    max_distance,
    min_width,
    perimeter_2d,
    surface_area_3d,
)

#: Every property :func:`measure` knows, in output order. ``perimeter``, ``eccentricity``,
#: ``orientation``, ``circularity`` and ``roundness`` exist in 2D only, ``surface_area`` in 3D
#: only. ``feret_diameter_min`` is the narrowest caliper width (2D). ``orientation`` is
#: scikit-image's (radians, between the rows axis and the major axis);
#: ``roundness`` is ImageJ's 4·area / (π·major axis²).
PROPERTIES: tuple[str, ...] = (
    "label",
    "area",
    "perimeter",
    "surface_area",
    "equivalent_diameter_area",
    "feret_diameter_max",
    "feret_diameter_min",
    "axis_major_length",
    "axis_minor_length",
    "eccentricity",
    "orientation",
    "solidity",
    "circularity",
    "roundness",
    "centroid",
    "bbox",
    "intensity_mean",
    "intensity_min",
    "intensity_max",
    "intensity_std",
)


ONLY_2D = {"perimeter", "eccentricity", "orientation", "circularity", "roundness",
           "feret_diameter_min"}  # fmt: skip


ONLY_3D = {"surface_area"}


INTENSITY = {"intensity_mean", "intensity_min", "intensity_max", "intensity_std"}


_MOMENTS = {"axis_major_length", "axis_minor_length", "eccentricity", "orientation",
            "roundness"}  # fmt: skip


#: Largest label value renumbered through a lookup table (above it: ``np.unique``).
_LUT_LIMIT = 1 << 26


ProgressCallback = Callable[[int, int], None]


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


def _inertia_tensors(
    count: np.ndarray,
    first: list[np.ndarray],
    second: dict[tuple[int, int], np.ndarray],
    spacing: tuple[float, ...],
) -> np.ndarray:
    """scikit-image's inertia tensor of every object, ``(n, ndim, ndim)``."""
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
    return tensor


def _orientation(tensor: np.ndarray) -> np.ndarray:
    """scikit-image's ``orientation`` of 2D objects from their inertia tensors (radians)."""
    a, b, c = tensor[:, 0, 0], tensor[:, 0, 1], tensor[:, 1, 1]
    # rounding noise (or a -0.0) in b flips atan2 between +pi and -pi for objects along an
    # axis: scikit-image's exact zero there gives +pi/2
    b = np.where(np.abs(b) <= 1e-12 * (np.abs(a) + np.abs(c)), 0.0, b)
    ties = np.where(b < 0, np.pi / 4, -np.pi / 4)  # as scikit-image 0.26 breaks ties
    return np.where(a - c == 0, ties, 0.5 * np.arctan2(-2 * b + 0.0, c - a))


def _axes_lengths(eig: np.ndarray, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Major and minor axis lengths from inertia eigenvalues, as scikit-image defines them."""
    if ndim == 2:
        return 4 * np.sqrt(eig[:, 0]), 4 * np.sqrt(eig[:, -1])
    if ndim == 3:
        major = np.sqrt(np.maximum(0, 10 * (eig[:, 0] + eig[:, 1] - eig[:, 2])))
        minor = np.sqrt(np.maximum(0, 10 * (-eig[:, 0] + eig[:, 1] + eig[:, 2])))
        return major, minor
    raise ValueError(f"axis lengths are defined for 2D and 3D objects only, not {ndim}D")


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
    if intensity is not None and any(p in wanted for p in INTENSITY):
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
    need_intensity = intensity is not None and any(p in wanted for p in INTENSITY)
    want_perimeter = "perimeter" in wanted or "circularity" in wanted
    sums = _Sums(count=np.empty(n), origin=origin,
                 first=[np.empty(n) for _ in range(ndim)])
    if need_moments:
        sums.second = {(i, j): np.empty(n) for i in range(ndim) for j in range(i, ndim)}
    if need_intensity:
        sums.intensity = {p: np.empty(n) for p in INTENSITY if p in wanted}
    crop = {p: np.empty(n) for p in ("perimeter", "convex_count", "surface_area", "feret",
                                     "feret_min")}  # fmt: skip
    want_feret = [p for p in ("feret_diameter_max", "feret_diameter_min") if p in wanted]
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
            crop["perimeter"][k] = perimeter_2d(mask, spacing)
        if "solidity" in wanted:
            crop["convex_count"][k] = convex_count(mask)
        if "surface_area" in wanted:
            crop["surface_area"][k] = surface_area_3d(mask, spacing)
        if want_feret:
            points = feret_points(mask, spacing)
            if "feret_diameter_max" in wanted:
                crop["feret"][k] = max_distance(points)
            if "feret_diameter_min" in wanted:
                crop["feret_min"][k] = min_width(points)
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


def frame_properties(
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
    if any(p in wanted for p in ("perimeter", "solidity", "surface_area", "circularity",
                                 "feret_diameter_max", "feret_diameter_min")):  # fmt: skip
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
        tensor = _inertia_tensors(count, sums.first, sums.second, spacing)
        eig = np.clip(np.linalg.eigvalsh(tensor), 0, None)[:, ::-1]  # descending
        cols["axis_major_length"], cols["axis_minor_length"] = _axes_lengths(eig, ndim)
        if ndim == 2:
            l1, l2 = eig[:, 0], eig[:, 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                cols["eccentricity"] = np.where(l1 == 0, 0.0, np.sqrt(1 - l2 / l1))
                cols["roundness"] = 4 * area / (np.pi * cols["axis_major_length"] ** 2)
            cols["orientation"] = _orientation(tensor)
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
    if "feret_diameter_max" in wanted:
        cols["feret_diameter_max"] = sums.crop["feret"]
    if "feret_diameter_min" in wanted:
        cols["feret_diameter_min"] = sums.crop["feret_min"]
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
