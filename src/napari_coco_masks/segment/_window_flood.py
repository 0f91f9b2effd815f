"""The window-flood engine of region growing: one connected region between two bounds.

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
region is painted straight into its own bounding box (:mod:`._region`). Per-call overheads
weigh as much as per-pixel work: a seed growing a few thousand pixels in a 4-megapixel image
costs well under a millisecond.
No napari or Qt import lives here.
"""

from __future__ import annotations

import numpy as np
from skimage.segmentation import flood

from ._region import Region, merge_regions, tight_window
from ._runs import Runs, connected_runs

try:  # scikit-image's breadth-first kernels, used directly to skip its copies of the window
    from skimage.morphology._flood_fill_cy import _flood_fill_equal, _flood_fill_tolerance
except ImportError:  # pragma: no cover - other scikit-image layouts: public ``flood`` instead
    _flood_fill_equal = _flood_fill_tolerance = None

__all__ = ["Region", "flood_window", "merge_regions"]


_FIRST_MARGIN = 96  # pixels around the seeds' bounding box in the first window


_GROWTH = 3  # a window side touched by the region moves this many times further out


_SPARSE = 0.8  # region / window below this: the next window is filled breadth-first


_SPARSE_PIXELS = 200_000  # ... and, unless the fill carries over, it holds fewer pixels than this


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


def flood_window(
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
            runs = Runs.of(mask)
            chosen = connected_runs(runs, local, connectivity)
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
                return Region(*tight_window(slices, limited), True, float(lower), float(upper))
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
            return Region(*tight_window(slices, empty), False, float(lower), float(upper))
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
