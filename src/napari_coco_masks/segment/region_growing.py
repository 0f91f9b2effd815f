"""Seeded region growing: intensity-range and confidence-connected flood fills.

The criteria follow SimpleITK / ITK so that results can be checked against them:

- ``mode="range"`` is ITK's ``ConnectedThresholdImageFilter``: the connected set of pixels whose
  value lies in ``[lower, upper]`` (inclusive), with the bounds clamped to the image's value range
  and cast to its pixel type (integers truncate towards zero, as C++ ``static_cast`` does).
- ``mode="confidence"`` is ITK's ``ConfidenceConnectedImageFilter``: initial mean and sample
  variance over the ``(2 * radius + 1) ** ndim`` neighbourhood of the seeds (border pixels
  replicated), bounds ``mean -/+ multiplier * std`` widened to always hold the seeds' own values,
  then ``iterations`` re-estimations over the grown region; it stops early when the variance is 0.

The flood fill works on a window around the seeds that grows (three times wider on a side) only
while the region touches the window's border, so the cost of a region depends on its size, not on
the image's. Inside a window, connected runs of in-range pixels along the last axis are joined
into components (a vectorised union-find for small run graphs, SciPy's sparse-graph pass for
large ones; cost ~ window size, fast for compact regions), or the region is filled breadth-first
(scikit-image's tolerance kernel on a padded copy of the window; cost ~ region size plus a few
cheap passes over the window) when the previous window showed it to be sparse. A breadth-first
fill carries over from one window to the next: the old fill is copied in and only its pixels on
the old window's moved sides flood on, so an enlarged window costs only its new pixels (plus the
copies); after a runs window a fresh fill is used only for regions that are not large. The
region is painted straight into its own bounding box. Per-call overheads weigh as much as per-pixel work: a seed
growing a few thousand pixels in a 4-megapixel image costs well under a millisecond.
No napari or Qt import lives here.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from skimage.segmentation import flood

try:  # scikit-image's breadth-first kernels, used directly to skip its copies of the window
    from skimage.morphology._flood_fill_cy import _flood_fill_equal, _flood_fill_tolerance
except ImportError:  # pragma: no cover - other scikit-image layouts: public ``flood`` instead
    _flood_fill_equal = _flood_fill_tolerance = None

__all__ = ["Region", "RegionSizeWarning", "auto_bounds", "grow_region", "grow_regions", "smooth"]

Mode = Literal["range", "confidence"]

_FIRST_MARGIN = 96  # pixels around the seeds' bounding box in the first window
_GROWTH = 3  # a window side touched by the region moves this many times further out
_SMALL_GRAPH = 4000  # runs up to which components are found without SciPy's graphs
_SPARSE = 0.8  # region / window below this: the next window is filled breadth-first
_SPARSE_PIXELS = 200_000  # ... and, unless the fill carries over, it holds fewer pixels than this


class RegionSizeWarning(UserWarning):
    """A region reached ``max_size`` pixels and its growth was stopped there."""


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


# --------------------------------------------------------------------------- validation


def _check_image(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as a numeric numpy array (bool becomes uint8); refuse NaN and inf."""
    arr = np.asarray(image)
    if arr.ndim < 1 or arr.size == 0:
        raise ValueError(f"`image` (shape {arr.shape}) must be a non-empty array of 1 or more dims")
    if arr.dtype == bool:
        return arr.view(np.uint8)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(
            f"`image` has dtype {arr.dtype}; region growing needs integer or float intensities "
            "(convert colour images to one channel first)"
        )
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    if arr.dtype.kind == "f" and not (np.isfinite(arr.min()) and np.isfinite(arr.max())):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(
            f"`image` contains {bad} NaN or infinite value(s); region growing compares "
            "intensities, so replace them first (e.g. numpy.nan_to_num) or crop them away"
        )
    return arr


def _check_seeds(seeds: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Return the seeds as an (N, ndim) int array of pixel indices inside ``shape``."""
    pts = np.asarray(seeds, dtype=float)
    if pts.ndim == 1 and pts.size == len(shape):
        pts = pts[np.newaxis]
    if pts.ndim != 2 or pts.shape[1] != len(shape):
        raise ValueError(
            f"`seeds` (shape {pts.shape}) must be an (N, {len(shape)}) array of pixel "
            f"coordinates for an image of shape {shape}"
        )
    if not np.all(np.isfinite(pts)):
        raise ValueError("`seeds` contains NaN or infinite coordinates; remove those points")
    idx = np.rint(pts).astype(np.intp)
    outside = np.any((idx < 0) | (idx >= np.asarray(shape)), axis=1)
    if outside.any():
        k = int(np.argmax(outside))
        raise ValueError(
            f"`seeds[{k}]` = {tuple(pts[k].tolist())} lies outside the image (shape {shape}); "
            "remove it or move it onto the image"
        )
    return idx


def _check_connectivity(connectivity: int, ndim: int) -> np.ndarray:
    """Return the footprint of ``connectivity`` (1 = face ... ndim = full)."""
    if not isinstance(connectivity, (int, np.integer)) or not 1 <= connectivity <= ndim:
        raise ValueError(
            f"`connectivity` = {connectivity!r} must be an int from 1 (face neighbours) to "
            f"{ndim} (full: all {3**ndim - 1} neighbours) for a {ndim}D image"
        )
    return ndi.generate_binary_structure(ndim, int(connectivity))


def _check_options(
    mode: str,
    tolerance: float | None,
    lower: float | None,
    upper: float | None,
    multiplier: float,
    iterations: int,
    radius: int,
    max_size: int | None,
    smoothing: float,
) -> None:
    """Raise ValueError naming the first inconsistent option."""
    if mode not in ("range", "confidence"):
        raise ValueError(f"`mode` = {mode!r} must be 'range' or 'confidence'")
    if mode == "range":
        if tolerance is None and lower is None and upper is None:
            raise ValueError(
                "mode='range' needs `tolerance` (seed value +/- tolerance) or `lower`/`upper` "
                "(fixed bounds); none was given"
            )
        if tolerance is not None and (lower is not None or upper is not None):
            raise ValueError(
                f"give either `tolerance` (= {tolerance}) or `lower`/`upper` "
                f"(= {lower}/{upper}), not both"
            )
        if tolerance is not None and not tolerance >= 0:
            raise ValueError(f"`tolerance` = {tolerance} must be >= 0")
        if lower is not None and upper is not None and lower > upper:
            raise ValueError(f"`lower` = {lower} must not exceed `upper` = {upper}")
    else:
        if tolerance is not None or lower is not None or upper is not None:
            raise ValueError(
                "`tolerance`, `lower` and `upper` belong to mode='range'; mode='confidence' "
                "takes `multiplier`, `iterations` and `radius`"
            )
        if not multiplier >= 0:
            raise ValueError(f"`multiplier` = {multiplier} must be >= 0")
        if int(iterations) != iterations or iterations < 0:
            raise ValueError(f"`iterations` = {iterations} must be an int >= 0")
        if int(radius) != radius or radius < 0:
            raise ValueError(f"`radius` = {radius} must be an int >= 0")
    if max_size is not None and (int(max_size) != max_size or max_size < 1):
        raise ValueError(f"`max_size` = {max_size} must be a positive int or None (no limit)")
    if not smoothing >= 0:
        raise ValueError(f"`smoothing` = {smoothing} must be >= 0 (Gaussian sigma in pixels)")


# --------------------------------------------------------------------------- algorithm


def smooth(image: np.ndarray, sigma: float | Sequence[float]) -> np.ndarray:
    """Gaussian pre-smoothing (float32) used by the ``smoothing`` option; 0 returns ``image``.

    ``sigma`` is in pixels: one value, or one per axis (a physical σ divided by the spacing).
    """
    image = _check_image(image)
    sigmas = np.broadcast_to(np.asarray(sigma, dtype=float), (image.ndim,))
    if not np.any(sigmas > 0):
        return image
    return ndi.gaussian_filter(image.astype(np.float32), tuple(sigmas))


def auto_bounds(
    image: np.ndarray, seeds: np.ndarray, *, threshold: float | None = None
) -> tuple[float, float]:
    """Intensity bounds for a seed when the user gave none: the seed's side of Otsu's threshold.

    A fixed ``± tolerance`` around the seed value grows one pixel when the seed sits on texture
    (the neighbours differ by more than the tolerance). Instead, the seeds' local mean (3×3 or 3×3×3
    window around each seed) is compared with the image's Otsu threshold: a bright seed gets
    ``(threshold, max]``, a dark one ``[min, threshold]``, so the region is the seed's connected
    component of the thresholded image.

    Parameters
    ----------
    image : (M, N[, ...]) ndarray
        Intensities (one frame).
    seeds : (K, ndim) array_like of int
        Seed pixel indices of one object.
    threshold : float, optional
        Otsu's threshold of ``image``, when already known (a cache across seeds).

    Returns
    -------
    lower, upper : float
        Inclusive bounds for ``grow_region(..., lower=lower, upper=upper)``.

    Examples
    --------
    >>> image = np.array([[10, 10, 200, 190], [10, 12, 210, 200]], dtype=np.uint8)
    >>> auto_bounds(image, [[0, 3]])
    (13.0, 210.0)
    """
    from skimage.filters import threshold_otsu

    image = _check_image(image)
    pts = _check_seeds(np.asarray(seeds), image.shape)
    low, high = float(image.min()), float(image.max())
    if low == high:
        return low, high
    from .threshold import histogram_input

    t = float(threshold_otsu(histogram_input(image))) if threshold is None else float(threshold)
    windows = [
        image[tuple(slice(max(c - 1, 0), c + 2) for c in point)] for point in pts.tolist()
    ]
    local = float(np.mean([w.mean() for w in windows]))
    if local <= t:
        return low, t
    above = math.floor(t) + 1.0 if np.issubdtype(image.dtype, np.integer) else np.nextafter(t, np.inf)
    return float(above), high


def _value_range(dtype: np.dtype) -> tuple[float, float]:
    """ITK's ``NonpositiveMin`` and ``max`` of a pixel type."""
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(dtype)
    return float(info.min), float(info.max)


def _cast_bounds(lower: float, upper: float, dtype: np.dtype) -> tuple[np.generic, np.generic]:
    """Clamp the bounds to the pixel type's range and cast them as C++ ``static_cast`` does."""
    lo_min, hi_max = _value_range(dtype)
    lower = min(max(lower, lo_min), hi_max)
    upper = max(min(upper, hi_max), lo_min)
    if np.issubdtype(dtype, np.integer):
        return dtype.type(math.trunc(lower)), dtype.type(math.trunc(upper))
    return dtype.type(lower), dtype.type(upper)


def _window(
    start: np.ndarray, stop: np.ndarray, below: np.ndarray, above: np.ndarray, shape: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Window corners: the seeds' box ``[start, stop)`` widened by the margins, clipped."""
    return np.maximum(start - below, 0), np.minimum(stop + above, shape)


def _in_range(
    view: np.ndarray, lower: np.generic, upper: np.generic, out: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of ``lower <= view <= upper`` (NaN is outside), into ``out`` if given.

    The bounds are compared as Python scalars (already of the pixel type's values): NumPy's
    fast path for them is several times quicker than for NumPy scalars on strided views.
    """
    lo, hi = lower.item(), upper.item()
    mask = np.greater_equal(view, lo, out=out)
    mask &= view <= hi
    return mask


@dataclass(frozen=True)
class _Runs:
    """Runs of True along the last axis of a mask: line (ravelled leading index), [start, stop)."""

    line: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    shape: tuple[int, ...]

    @classmethod
    def of(cls, mask: np.ndarray) -> _Runs:
        """Scan ``mask`` line by line (O(mask.size) vectorised work)."""
        width = mask.shape[-1]
        lines = mask.reshape(-1, width)
        edges = np.empty((lines.shape[0], width + 1), dtype=bool)
        edges[:, 0] = lines[:, 0]
        edges[:, width] = lines[:, -1]
        np.not_equal(lines[:, 1:], lines[:, :-1], out=edges[:, 1:width])
        flips = np.flatnonzero(edges)
        line = flips[0::2] // (width + 1)
        offset = line * (width + 1)
        return cls(line, flips[0::2] - offset, flips[1::2] - offset, mask.shape)

    def neighbour_pairs(self, connectivity: int) -> tuple[np.ndarray, np.ndarray]:
        """Pairs of runs on neighbouring lines that touch under ``connectivity``."""
        lead, width = self.shape[:-1], self.shape[-1]
        if not lead or self.line.size == 0:
            return np.empty(0, np.intp), np.empty(0, np.intp)
        pitch = width + 3
        key_start = self.line * pitch + self.start
        key_stop = self.line * pitch + self.stop
        coords = np.unravel_index(self.line, lead) if len(lead) > 1 else None
        firsts, seconds = [], []
        for step in _positive_steps(len(lead), connectivity):
            if coords is None:  # 2D: the next line; runs are sorted by line
                idx = np.arange(np.searchsorted(self.line, lead[0] - 1, side="left"))
                other = self.line[idx] + 1
            else:
                target = [c + d for c, d in zip(coords, step, strict=True)]
                ok = np.ones(self.line.size, dtype=bool)
                for t, n in zip(target, lead, strict=True):
                    ok &= (t >= 0) & (t < n)
                idx = np.flatnonzero(ok)
                other = np.ravel_multi_index([t[idx] for t in target], lead)
            touch = int(np.count_nonzero(step) + 1 <= connectivity)
            lo = np.searchsorted(key_stop, other * pitch + self.start[idx] - touch, side="right")
            hi = np.searchsorted(key_start, other * pitch + self.stop[idx] + touch, side="left")
            count = np.maximum(hi - lo, 0)
            total = int(count.sum())
            if total == 0:
                continue
            firsts.append(np.repeat(idx, count))
            begin = np.repeat(lo - (np.cumsum(count) - count), count)
            seconds.append(begin + np.arange(total))
        if not firsts:
            return np.empty(0, np.intp), np.empty(0, np.intp)
        return np.concatenate(firsts), np.concatenate(seconds)

    def find(self, points: np.ndarray) -> np.ndarray:
        """Index of the run holding each point (local coordinates), -1 where none does."""
        lead, width = self.shape[:-1], self.shape[-1]
        if self.line.size == 0:
            return np.full(len(points), -1)
        line = np.ravel_multi_index(points[:, :-1].T, lead) if lead else np.zeros(len(points), int)
        col = points[:, -1]
        key = line * (width + 3) + col
        k = np.searchsorted(self.line * (width + 3) + self.start, key, side="right") - 1
        hit = (k >= 0) & (self.line[np.maximum(k, 0)] == line) & (self.stop[np.maximum(k, 0)] > col)
        return np.where(hit, k, -1)

    def touched(self, selected: np.ndarray) -> tuple[list[bool], list[bool]]:
        """Per axis: do the selected runs reach the mask's first / last index?"""
        lead = self.shape[:-1]
        coords = list(np.unravel_index(self.line[selected], lead)) if lead else []
        lows = [c.size > 0 and c.min() == 0 for c in coords]
        highs = [c.size > 0 and c.max() == n - 1 for c, n in zip(coords, lead, strict=True)]
        starts, stops = self.start[selected], self.stop[selected]
        lows.append(starts.size > 0 and starts.min() == 0)
        highs.append(stops.size > 0 and stops.max() == self.shape[-1])
        return [bool(x) for x in lows], [bool(x) for x in highs]

    def paint_tight(self, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The selected runs (at least one) painted into their bounding box: (box start, mask)."""
        line, start, stop = self.line[selected], self.start[selected], self.stop[selected]
        lead = self.shape[:-1]
        coords = list(np.unravel_index(line, lead)) if lead else []
        lo = [int(c.min()) for c in coords] + [int(start.min())]
        hi = [int(c.max()) + 1 for c in coords] + [int(stop.max())]
        box = tuple(b - a for a, b in zip(lo, hi, strict=True))
        if lead:
            inner = np.ravel_multi_index(
                [c - a for c, a in zip(coords, lo, strict=False)], box[:-1]
            )
        else:
            inner = np.zeros(line.size, dtype=np.intp)
        tight = _Runs(inner, start - lo[-1], stop - lo[-1], box)
        return np.asarray(lo), tight.paint(np.ones(line.size, dtype=bool))

    def paint(self, selected: np.ndarray) -> np.ndarray:
        """Boolean mask of the selected runs (one ``np.repeat`` over gaps and runs)."""
        width, size = self.shape[-1], int(np.prod(self.shape))
        if self.line.size == 0:
            return np.zeros(self.shape, dtype=bool)
        begin = self.line * width + self.start
        end = self.line * width + self.stop
        lengths = np.empty(2 * begin.size + 1, dtype=np.intp)
        lengths[0] = begin[0]
        lengths[2:-1:2] = begin[1:] - end[:-1]
        lengths[1::2] = end - begin
        lengths[-1] = size - end[-1]
        values = np.zeros(lengths.size, dtype=bool)
        values[1::2] = selected
        return np.repeat(values, lengths).reshape(self.shape)


def _positive_steps(ndim: int, connectivity: int) -> list[tuple[int, ...]]:
    """Offsets between neighbouring lines (one sign of each pair) allowed by ``connectivity``."""
    steps = []
    for step in itertools.product((-1, 0, 1), repeat=ndim):
        nonzero = [d for d in step if d]
        if nonzero and nonzero[0] > 0 and len(nonzero) <= connectivity:
            steps.append(step)
    return steps


def _connected(runs: _Runs, seeds: np.ndarray, connectivity: int) -> np.ndarray:
    """Boolean selection of the runs connected to the runs holding ``seeds``."""
    selected = np.zeros(runs.line.size, dtype=bool)
    found = runs.find(seeds)
    found = np.unique(found[found >= 0])
    if found.size == 0:
        return selected
    first, second = runs.neighbour_pairs(connectivity)
    n = runs.line.size
    if n <= _SMALL_GRAPH:
        component = _roots(n, first, second)
        keep = np.zeros(n, dtype=bool)
    else:
        graph = coo_matrix((np.ones(first.size, dtype=np.int8), (first, second)), shape=(n, n))
        count, component = connected_components(graph, directed=False)
        keep = np.zeros(count, dtype=bool)
    keep[component[found]] = True
    return keep[component]


def _roots(n: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Connected components of ``n`` nodes joined by the edges ``first[k]``-``second[k]``.

    Returns each node's root (the smallest node of its component): vectorised hooking of
    roots onto smaller roots, then pointer jumping until every node points at its root. For
    small graphs this is several times quicker than building a sparse matrix for SciPy.
    """
    parent = np.arange(n)
    while first.size:
        a, b = parent[first], parent[second]
        differ = a != b
        if not differ.any():
            break
        first, second, a, b = first[differ], second[differ], a[differ], b[differ]
        parent[np.maximum(a, b)] = np.minimum(a, b)
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    return parent


def _bfs_limited(
    mask: np.ndarray, seeds: np.ndarray, footprint: np.ndarray, max_size: int
) -> tuple[np.ndarray, int]:
    """Breadth-first growth over ``mask`` that stops at ``max_size`` pixels.

    Returns the region and the number of layers grown: the pixels nearest (in steps) to the
    seeds are kept, ties in the last layer broken by raster order.
    """
    padded = np.pad(mask, 1)
    flat = padded.ravel()
    centre = np.ones(mask.ndim, dtype=np.intp)
    steps = np.argwhere(footprint) - centre
    steps = steps[np.any(steps != 0, axis=1)]
    offsets = np.ravel_multi_index((steps + 1).T, padded.shape) - np.ravel_multi_index(
        centre, padded.shape
    )
    visited = np.zeros(flat.shape, dtype=bool)
    frontier = np.unique(np.ravel_multi_index((seeds + 1).T, padded.shape))
    frontier = frontier[flat[frontier]][:max_size]
    visited[frontier] = True
    total, layers = frontier.size, 0
    while frontier.size and total < max_size:
        nb = (frontier[:, np.newaxis] + offsets).ravel()
        nb = nb[flat[nb]]
        nb = np.unique(nb[~visited[nb]])[: max_size - total]
        visited[nb] = True
        total += nb.size
        frontier = nb
        layers += 1
    region = visited.reshape(padded.shape)[tuple(slice(1, -1) for _ in range(mask.ndim))]
    return region, layers


def _flood(
    image: np.ndarray,
    seeds: np.ndarray,
    lower: np.generic,
    upper: np.generic,
    footprint: np.ndarray,
    max_size: int | None,
    hint: tuple[slice, ...] | None = None,
) -> Region:
    """Connected pixels with ``lower <= value <= upper`` reachable from ``seeds``.

    Works on a window around the seeds that widens only on the sides the region touches;
    ``hint`` (the window of a previous, similar region) gives the first window.
    """
    shape = np.asarray(image.shape)
    connectivity = _connectivity_of(footprint)
    start, stop = seeds.min(axis=0), seeds.max(axis=0) + 1
    below = np.full(image.ndim, _FIRST_MARGIN)
    above = below.copy()
    if hint is not None:
        below = np.maximum(below, start - [s.start for s in hint])
        above = np.maximum(above, [s.stop for s in hint] - stop)
    sparse = True  # the first window is small: breadth-first costs little even when full
    carry: tuple[np.ndarray, np.ndarray] | None = None  # last breadth-first window: corner, fill
    while True:
        lo, hi = _window(start, stop, below, above, shape)
        slices = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
        view = image[slices]
        local = seeds - lo
        corner = lo
        mask: np.ndarray | None = None
        if sparse:  # breadth-first: cost ~ region size (plus a few passes over the window)
            if _flood_fill_tolerance is not None and view.dtype.isnative:
                # the fill of the previous window is carried over: only its border pixels
                # that touched the old window's moved sides flood on, into the new band
                region = _fill_window(view, lo, local, lower, upper, footprint, carry)
                carry = (lo, region)
            elif _flood_fill_equal is None:  # pragma: no cover - see the import
                carry = None
                mask = _in_range(view, lower, upper)
                region = _component(mask, local, footprint)
            else:  # the in-range test writes straight into the kernel's flag buffer
                carry = None
                buffer, inner = _flag_buffer(view.shape)
                _in_range(view, lower, upper, out=inner.view(bool))
                region = _fill_flags(buffer, inner, local, footprint)
            box, size, lows, highs = _profile(region)
        else:  # runs: cost ~ window size, a few vectorised passes
            carry = None
            mask = _in_range(view, lower, upper)
            runs = _Runs.of(mask)
            chosen = _connected(runs, local, connectivity)
            size = int(np.sum(runs.stop[chosen] - runs.start[chosen]))
            lows, highs = runs.touched(chosen)
            region = None
        grow = _widen(lows, highs, lo > 0, hi < shape, below, above)
        if max_size is not None and size > max_size:
            if mask is None:
                mask = _in_range(view, lower, upper)
            limited, layers = _bfs_limited(mask, local, footprint, max_size)
            open_margins = [s - a for s, a, o in zip(start, lo, lo > 0, strict=True) if o]
            open_margins += [b - e for e, b, o in zip(stop, hi, hi < shape, strict=True) if o]
            if not open_margins or layers <= min(open_margins):
                return Region(*_tight(slices, limited), True, float(lower), float(upper))
            reach = _GROWTH * (layers + 1)
            below, above = np.maximum(below, reach), np.maximum(above, reach)
            continue
        if not grow:
            if region is None and size:  # paint only the region's own bounding box
                first, region = runs.paint_tight(chosen)
                first += lo
                window = tuple(
                    slice(int(a), int(a) + n) for a, n in zip(first, region.shape, strict=True)
                )
                return Region(window, region, False, float(lower), float(upper))
            if region is not None and size:  # crop to the bounding box found by _profile
                cropped = region[box]
                if 2 * cropped.size < region.size:
                    cropped = cropped.copy()
                window = tuple(
                    slice(int(a) + b.start, int(a) + b.stop) for a, b in zip(lo, box, strict=True)
                )
                return Region(window, cropped, False, float(lower), float(upper))
            empty = np.zeros(view.shape, dtype=bool)
            return Region(*_tight(slices, empty), False, float(lower), float(upper))
        lo, hi = _window(start, stop, below, above, shape)
        if np.prod(hi - lo) * 2 > image.size:  # close to the whole image: take all of it
            below[:] = above[:] = shape
        # breadth-first costs per region pixel, runs per window pixel: the former for regions
        # that are sparse in their window; a fill carried over only pays for the new pixels,
        # a fresh one (after runs) for all of them: then only while the region is not large
        sparse = size < _SPARSE * view.size and (carry is not None or size < _SPARSE_PIXELS)
        if sparse and region is None and size and _flood_fill_tolerance is not None:
            # the runs' region seeds the next fill
            carry = (corner, runs.paint(chosen))


def _fill_window(
    view: np.ndarray,
    lo: np.ndarray,
    seeds: np.ndarray,
    lower: np.generic,
    upper: np.generic,
    footprint: np.ndarray,
    carry: tuple[np.ndarray, np.ndarray] | None,
) -> np.ndarray:
    """Breadth-first fill of ``lower <= view <= upper`` from ``seeds`` (local indices).

    scikit-image's tolerance kernel tests the range itself, on a padded copy of the window,
    so no in-range mask is built. ``carry`` = (corner, fill) of the previous window of the
    same flood (inside this one): its fill is copied in, and only its pixels on the sides
    of the old window that moved are flooded again (a path out of the old region leaves it
    through one of those). Returns the region (a bool view of the flag buffer).
    """
    ndim = view.ndim
    inside = (slice(1, -1),) * ndim
    padded = np.empty(tuple(n + 2 for n in view.shape), dtype=view.dtype)
    padded[inside] = view
    flags = np.zeros(padded.shape, dtype=np.uint8)
    for ax in range(ndim):
        faces = [slice(None)] * ndim
        faces[ax] = [0, -1]
        flags[tuple(faces)] = 2  # border: never crossed
    inner = flags[inside]
    starts = [
        int(np.ravel_multi_index(tuple(seed + 1), padded.shape))
        for seed in seeds
        if lower <= view[tuple(seed)] <= upper
    ]
    if carry is not None:
        old_lo, old_fill = carry
        shift = old_lo - lo
        sub = tuple(slice(int(a), int(a) + n) for a, n in zip(shift, old_fill.shape, strict=True))
        target = inner[sub]
        target[...] = old_fill
        for ax in range(ndim):
            n = old_fill.shape[ax]
            for side, moved in ((0, shift[ax] > 0), (n - 1, shift[ax] + n < view.shape[ax])):
                if not moved:
                    continue
                face = [slice(None)] * ndim
                face[ax] = side
                hits = np.argwhere(target[tuple(face)])
                if hits.size == 0:
                    continue
                target[tuple(face)] = 0  # re-flooded from here (they are in range)
                coords = np.insert(hits, ax, side, axis=1) + shift + 1
                starts.extend(np.ravel_multi_index(tuple(coords.T), padded.shape).tolist())
    steps = np.argwhere(footprint) - 1
    steps = steps[np.any(steps != 0, axis=1)]
    pitches = np.cumprod((1, *padded.shape[:0:-1]))[::-1]
    offsets = np.ascontiguousarray(steps @ pitches, dtype=np.intp)
    image, flat = padded.reshape(-1), flags.reshape(-1)
    kind = padded.dtype.type
    low, high = kind(lower), kind(upper)
    for index in starts:
        if flat[index] == 0:
            _flood_fill_tolerance(image, flat, offsets, index, image[index], low, high)
    return inner.view(bool)


def _fill(mask: np.ndarray, seeds: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` connected to any of ``seeds`` (local indices), breadth-first."""
    if _flood_fill_equal is None:  # pragma: no cover - see the import
        return _component(mask, seeds, footprint)
    buffer, inner = _flag_buffer(mask.shape)
    np.copyto(inner, mask)
    return _fill_flags(buffer, inner, seeds, footprint)


def _flag_buffer(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 buffer one pixel wider than ``shape`` on every side (border 2) and its inside."""
    ndim = len(shape)
    buffer = np.empty(tuple(n + 2 for n in shape), dtype=np.uint8)
    for ax in range(ndim):
        faces = [slice(None)] * ndim
        faces[ax] = [0, -1]
        buffer[tuple(faces)] = 2
    return buffer, buffer[(slice(1, -1),) * ndim]


def _fill_flags(
    buffer: np.ndarray, inner: np.ndarray, seeds: np.ndarray, footprint: np.ndarray
) -> np.ndarray:
    """Breadth-first fill from ``seeds`` over ``inner`` (1 = in range, 0 = not) of ``buffer``.

    The buffer serves scikit-image's kernel as both image and flags: 0 = in range and not
    reached yet, 1 = reached, 2 = out of range or border. Returns the reached pixels.
    """
    inner ^= 1
    inner <<= 1
    steps = np.argwhere(footprint) - 1
    steps = steps[np.any(steps != 0, axis=1)]
    pitches = np.cumprod((1, *buffer.shape[:0:-1]))[::-1]
    offsets = np.ascontiguousarray(steps @ pitches, dtype=np.intp)
    flat = buffer.reshape(-1)  # a view: the buffer is contiguous
    for index in np.ravel_multi_index(tuple((seeds + 1).T), buffer.shape):
        if flat[index] == 0:
            _flood_fill_equal(flat, flat, offsets, int(index), np.uint8(0))
    return inner == 1


def _profile(
    region: np.ndarray,
) -> tuple[tuple[slice, ...], int, list[bool], list[bool]]:
    """Bounding box, size, and per axis whether ``region`` reaches its first / last index."""
    box, lows, highs = [], [], []
    for ax in range(region.ndim):
        others = tuple(k for k in range(region.ndim) if k != ax)
        hit = region.any(axis=others) if others else region
        where = np.flatnonzero(hit)
        if where.size == 0:
            return (
                tuple(slice(0, 0) for _ in range(region.ndim)),
                0,
                [False] * region.ndim,
                [False] * region.ndim,
            )
        box.append(slice(int(where[0]), int(where[-1]) + 1))
        lows.append(bool(hit[0]))
        highs.append(bool(hit[-1]))
    box_t = tuple(box)
    return box_t, int(np.count_nonzero(region[box_t])), lows, highs


def _component(mask: np.ndarray, seeds: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` connected to any of ``seeds`` (local indices), breadth-first."""
    region: np.ndarray | None = None
    for seed in map(tuple, seeds):
        if not mask[seed] or (region is not None and region[seed]):
            continue
        filled = flood(mask, seed, footprint=footprint)
        region = filled if region is None else region | filled
    return np.zeros(mask.shape, dtype=bool) if region is None else region


def _tight(slices: tuple[slice, ...], mask: np.ndarray) -> tuple[tuple[slice, ...], np.ndarray]:
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


def _connectivity_of(footprint: np.ndarray) -> int:
    """The connectivity number of a ``generate_binary_structure`` footprint."""
    centre = np.ones(footprint.ndim, dtype=np.intp)
    steps = np.argwhere(footprint) - centre
    return int(np.abs(steps).sum(axis=1).max())


def _widen(
    lows: list[bool],
    highs: list[bool],
    open_low: np.ndarray,
    open_high: np.ndarray,
    below: np.ndarray,
    above: np.ndarray,
) -> bool:
    """Widen ``below``/``above`` (in place) on the open window sides the region touches."""
    grow = False
    for ax, (low, high) in enumerate(zip(lows, highs, strict=True)):
        if low and open_low[ax]:
            below[ax] *= _GROWTH
            grow = True
        if high and open_high[ax]:
            above[ax] *= _GROWTH
            grow = True
    return grow


def _neighbourhood_stats(image: np.ndarray, seeds: np.ndarray, radius: int) -> tuple[float, float]:
    """ITK's initial statistics: mean of the seeds' box means and the pooled sample variance.

    Pixels outside the image are replaced by the nearest border pixel (zero-flux Neumann).
    """
    shape = np.asarray(image.shape)
    offsets = np.arange(-radius, radius + 1)
    sum_means, sum_squares, count = 0.0, 0.0, 0
    for seed in seeds:
        axes = [np.clip(c + offsets, 0, n - 1) for c, n in zip(seed, shape, strict=True)]
        values = image[np.ix_(*axes)].astype(np.float64)
        sum_means += float(values.mean())
        sum_squares += float(np.sum(values * values))
        count += values.size
    mean = sum_means / len(seeds)
    return mean, (sum_squares - mean * mean * count) / (count - 1.0)


def _confidence_bounds(
    mean: float, variance: float, multiplier: float, seed_values: np.ndarray, dtype: np.dtype
) -> tuple[np.generic, np.generic]:
    """``mean -/+ multiplier * std``, widened to the seeds' values, cast to the pixel type."""
    std = math.sqrt(max(variance, 0.0))
    lower = min(mean - multiplier * std, float(seed_values.min()))
    upper = max(mean + multiplier * std, float(seed_values.max()))
    return _cast_bounds(lower, upper, dtype)


def _grow_confidence(
    image: np.ndarray,
    seeds: np.ndarray,
    multiplier: float,
    iterations: int,
    radius: int,
    footprint: np.ndarray,
    max_size: int | None,
) -> Region:
    """ITK's ConfidenceConnected algorithm for one object grown from ``seeds``."""
    seed_values = image[tuple(seeds.T)].astype(np.float64)
    if radius > 0:
        mean, variance = _neighbourhood_stats(image, seeds, radius)
    else:
        mean = float(seed_values.mean())
        variance = float(seed_values.var(ddof=1)) if len(seed_values) > 1 else 0.0
    bounds = _confidence_bounds(mean, variance, multiplier, seed_values, image.dtype)
    region = _flood(image, seeds, *bounds, footprint, max_size)
    tiny = 0.1 * np.finfo(np.float64).eps  # itk::Math::AlmostEquals(variance, 0.0)
    for _ in range(int(iterations)):
        values = image[region.slices][region.mask].astype(np.float64)
        n = values.size
        if n < 2:
            break
        total = float(values.sum())
        variance = (float(np.dot(values, values)) - total * total / n) / (n - 1.0)
        if abs(variance) <= tiny:
            break
        bounds = _confidence_bounds(total / n, variance, multiplier, seed_values, image.dtype)
        region = _flood(image, seeds, *bounds, footprint, max_size, region.slices)
    return region


def _range_bounds(
    seed_value: float, tolerance: float | None, lower: float | None, upper: float | None
) -> tuple[float, float]:
    """The range-mode bounds before the cast: seed value -/+ tolerance, or the fixed bounds."""
    if tolerance is not None:
        return seed_value - tolerance, seed_value + tolerance
    return (-math.inf if lower is None else lower), (math.inf if upper is None else upper)


def _merge(a: Region, b: Region) -> Region:
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


def grow_region(
    image: np.ndarray,
    seeds: np.ndarray,
    *,
    mode: Mode = "range",
    tolerance: float | None = None,
    lower: float | None = None,
    upper: float | None = None,
    multiplier: float = 2.5,
    iterations: int = 4,
    radius: int = 1,
    connectivity: int = 1,
    max_size: int | None = None,
    smoothing: float = 0.0,
) -> Region:
    """Grow ONE object from one or more seeds; see :func:`grow_regions` for the options.

    In range mode with ``tolerance`` each seed floods with the bounds around its own value and
    the object is the union; with fixed bounds, and in confidence mode, all seeds flood together
    (confidence statistics are pooled over the seeds, as ITK does).

    Returns
    -------
    Region
        The object's mask over a window of the image (``Region.paint`` writes it into a label
        image). ``Region.truncated`` tells whether ``max_size`` stopped it.
    """
    image = smooth(_check_image(image), smoothing)
    pts = _check_seeds(seeds, image.shape)
    _check_options(
        mode, tolerance, lower, upper, multiplier, iterations, radius, max_size, smoothing
    )
    footprint = _check_connectivity(connectivity, image.ndim)
    if pts.shape[0] == 0:
        raise ValueError("`seeds` is empty: give at least one (N, ndim) seed")
    if mode == "confidence":
        return _grow_confidence(image, pts, multiplier, iterations, radius, footprint, max_size)
    if tolerance is None:
        bounds = _cast_bounds(*_range_bounds(0.0, None, lower, upper), image.dtype)
        return _flood(image, pts, *bounds, footprint, max_size)
    result: Region | None = None
    for seed in pts:
        value = float(image[tuple(seed)])
        bounds = _cast_bounds(*_range_bounds(value, tolerance, None, None), image.dtype)
        region = _flood(image, seed[np.newaxis], *bounds, footprint, max_size)
        result = region if result is None else _merge(result, region)
    assert result is not None
    return result


def _check_labels(labels: np.ndarray | None, n: int) -> np.ndarray:
    """Per-seed label values (default 1..N), positive ints."""
    if labels is None:
        return np.arange(1, n + 1)
    values = np.asarray(labels)
    if values.shape != (n,):
        raise ValueError(f"`labels` (shape {values.shape}) must have one value per seed ({n},)")
    if values.size and (not np.all(np.equal(np.mod(values, 1), 0)) or values.min() < 1):
        raise ValueError(f"`labels` must be positive integers; got {values.tolist()[:10]}")
    return values.astype(np.int64)


def grow_regions(
    image: np.ndarray,
    seeds: np.ndarray,
    *,
    mode: Mode = "range",
    tolerance: float | None = None,
    lower: float | None = None,
    upper: float | None = None,
    multiplier: float = 2.5,
    iterations: int = 4,
    radius: int = 1,
    connectivity: int = 1,
    max_size: int | None = None,
    labels: np.ndarray | None = None,
    smoothing: float = 0.0,
) -> np.ndarray:
    """Grow one labelled region per seed (or per ``labels`` value) from seed points.

    Parameters
    ----------
    image : (M, N[, ...]) ndarray
        Single-channel intensities (integer or float; bool is taken as 0/1).
    seeds : (S, image.ndim) array_like
        Pixel coordinates (row, col[, ...]); floats are rounded to the nearest pixel.
    mode : {'range', 'confidence'}
        ``'range'``: pixels whose value is within ``tolerance`` of the seed's value, or within
        fixed ``lower``/``upper`` bounds (SimpleITK ConnectedThreshold). ``'confidence'``:
        SimpleITK ConfidenceConnected, ``mean -/+ multiplier * std`` re-estimated
        ``iterations`` times, starting from the ``radius`` neighbourhood of the seeds.
    tolerance : float, optional
        Range mode: the region holds values in ``[seed - tolerance, seed + tolerance]``.
    lower, upper : float, optional
        Range mode: fixed inclusive bounds (one may be omitted: no limit on that side).
    multiplier : float
        Confidence mode: width of the interval in standard deviations.
    iterations : int
        Confidence mode: number of re-estimations of mean and variance over the region.
    radius : int
        Confidence mode: radius of the box around each seed for the first statistics
        (0: the seeds' own values).
    connectivity : int
        1 for face neighbours only (4 in 2D, 6 in 3D) up to ``image.ndim`` for all neighbours
        (8 in 2D, 26 in 3D; SimpleITK's ``FullyConnected``).
    max_size : int, optional
        Largest region in pixels. A region that would be larger keeps the ``max_size`` pixels
        nearest its seeds (in steps) and a :class:`RegionSizeWarning` names it. The limit
        applies to each flood: an object merged from several tolerance seeds may exceed it.
    labels : (S,) array_like of int, optional
        Label value per seed; seeds sharing a value grow one object. Default ``1..S``.
    smoothing : float
        Sigma (pixels) of a Gaussian pre-smoothing of the whole image; 0 (default) for none.

    Returns
    -------
    ndarray of unsigned int, shape ``image.shape``
        Label image: object ``labels[k]`` (default ``k + 1``) where seed ``k`` grew. Where
        objects overlap, the object of the earlier seed keeps the pixel. The dtype is the
        smallest that holds the largest label (uint8 up to 255 objects, like SimpleITK's
        output), which keeps the untouched part of a large image cheap.

    Notes
    -----
    A seed whose own value lies outside fixed bounds grows nothing (as in SimpleITK). In
    confidence mode with ``radius=0`` and a single seed the variance is undefined: the region is
    the connected pixels equal to the seed's value (SimpleITK returns an empty region there).
    """
    image = smooth(_check_image(image), smoothing)
    pts = _check_seeds(seeds, image.shape)
    values = _check_labels(labels, pts.shape[0])
    dtype = np.min_scalar_type(int(values.max()) if values.size else 1)
    out: np.ndarray | None = None  # allocated once the first region is grown
    options = dict(
        mode=mode,
        tolerance=tolerance,
        lower=lower,
        upper=upper,
        multiplier=multiplier,
        iterations=iterations,
        radius=radius,
        connectivity=connectivity,
        max_size=max_size,
    )
    _check_options(
        mode, tolerance, lower, upper, multiplier, iterations, radius, max_size, smoothing
    )
    truncated = []
    _, first = np.unique(values, return_index=True)
    for k in np.sort(first):
        value = values[k]
        region = grow_region(image, pts[values == value], **options)
        if out is None:
            out = np.zeros(image.shape, dtype=dtype)
            region._paint_fresh(out, int(value))
        else:
            region.paint(out, int(value))
        if region.truncated:
            truncated.append(int(value))
    if truncated:
        warnings.warn(
            f"regions {truncated} reached max_size={max_size} pixels and were stopped there; "
            "raise `max_size` or narrow the criterion if they should be complete",
            RegionSizeWarning,
            stacklevel=2,
        )
    return np.zeros(image.shape, dtype=dtype) if out is None else out
