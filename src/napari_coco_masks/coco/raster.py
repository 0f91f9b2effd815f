"""pycocotools-exact masks, decoded only inside each annotation's bounding-box window.

``annToMask`` rasterises every annotation over the whole image; for a small object in a large
image nearly all of that work is zeros (COCO-NOTES "Scale"). Here every segmentation is first
turned into *runs* (half-open intervals of column-major pixel indices, see :mod:`.rle`):

- a polygon part with the same integer arithmetic as ``rleFrPoly`` in pycocotools'
  ``maskApi.c`` (5x upsampled boundary, y-boundary points, downsampling), evaluated in the
  same float64 operations, so the pixels are identical to ``frPyObjects`` + ``decode``;
- an RLE by summing its counts;
- a bbox-only annotation (``"segmentation": []``) as the polygon ``frBbox`` makes of its box.

The runs of all parts are then painted into a window just large enough to hold them. Several
polygon parts are united, as ``maskUtils.merge`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import CocoError
from .geometry import check_finite, clip_margin, clip_polygon
from .rle import MAX_SIDE, check_rle, rle_runs

if TYPE_CHECKING:
    from .model import CocoDataset

__all__ = [
    "MAX_SIDE",
    "annotation_mask",
    "check_image_size",
    "pixel_budget",
    "set_pixel_budget",
    "annotation_window",
    "paint_order",
    "rasterize_image",
]

_SCALE = 5.0

#: Largest coordinate pycocotools can rasterise: it scales by 5 into a C ``int``. Polygons
#: reaching beyond it (where pycocotools overflows or crashes) are clipped to the image.
MAX_EXACT_COORD = (2**31 - 1) / _SCALE - 1
#: Most boundary steps the step-by-step (dense) polygon path may hold at once.
DENSE_BUDGET = 1 << 24
#: Most column crossings (toggles) the polygons of one call may make.
TOGGLE_BUDGET = 1 << 25
_PIXEL_BUDGET = [1 << 28]


def pixel_budget() -> int:
    """The most pixels one image (or one batch of annotation windows) may allocate.

    Returns
    -------
    int
        Pixels (default 2**28, a 16384 x 16384 image).

    Examples
    --------
    >>> pixel_budget() >= 384 * 303
    True
    """
    return _PIXEL_BUDGET[0]


def set_pixel_budget(pixels: int) -> int:
    """Set the pixel budget of :func:`pixel_budget`; returns the previous value.

    Parameters
    ----------
    pixels : int
        The new budget (positive).

    Returns
    -------
    int
        The previous budget, to restore it.

    Examples
    --------
    >>> old = set_pixel_budget(1000)
    >>> check_image_size(303, 384)
    Traceback (most recent call last):
    ...
    napari_coco_masks.coco.errors.CocoError: ...
    >>> set_pixel_budget(old)
    1000
    """
    if int(pixels) <= 0:
        raise ValueError(f"the pixel budget must be positive, got {pixels}")
    old = _PIXEL_BUDGET[0]
    _PIXEL_BUDGET[0] = int(pixels)
    return old


def check_image_size(height: Any, width: Any, *, path: Any = None, where: str | None = None) -> tuple[int, int]:
    """``(height, width)`` as ints, if each is in ``[1, MAX_SIDE]`` and their product in budget.

    Raises
    ------
    CocoError
        Naming ``path``/``where`` (the image) before anything of that size is allocated.

    Parameters
    ----------
    height, width : int-like
        The image's ``height`` and ``width`` fields.
    path : str or PathLike, optional
        The file, for the message.
    where : str, optional
        The JSON path of the image, for the message.

    Returns
    -------
    tuple of int
        ``(height, width)``.

    Examples
    --------
    >>> check_image_size(303, 384)
    (303, 384)
    >>> check_image_size(0, 384, where="images[0]")
    Traceback (most recent call last):
    ...
    napari_coco_masks.coco.errors.CocoError: images[0]: ...
    """
    ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (height, width))
    if not ok or not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
        raise CocoError(
            f"image size {height!r} x {width!r} is not in 1..{MAX_SIDE} pixels per side: "
            "fix the image's height and width",
            path=path,
            where=where,
        )
    h, w = int(height), int(width)
    if h * w > pixel_budget():
        raise CocoError(
            f"image size {h} x {w} ({h * w:,} pixels) is over the pixel budget of "
            f"{pixel_budget():,} (raster.set_pixel_budget raises it)",
            path=path,
            where=where,
        )
    return h, w


def _edges(parts: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """The polygon edges of ``rleFrPoly`` on its 5x grid, oriented and sloped as ``maskApi.c``.

    Returns ``(lens, n_edges, along_x, flip, xs, xe, ys, length, slope)``: vertices per part,
    the edge count, whether each edge is longer in x, whether ``rleFrPoly`` walks it backwards,
    its start/end on the long axis' ordering, its length in steps and its slope.
    """
    lens = np.fromiter((p.size // 2 for p in parts), dtype=np.int64, count=len(parts))
    xy = np.concatenate([p[: 2 * n] for p, n in zip(parts, lens, strict=True)])
    # x[j] = (int)(scale * xy + .5): C casts truncate toward zero.
    x = np.trunc(_SCALE * xy[0::2] + 0.5).astype(np.int64)
    y = np.trunc(_SCALE * xy[1::2] + 0.5).astype(np.int64)
    first_vertex = np.cumsum(lens) - lens
    nxt = np.arange(1, x.size + 1)
    nxt[first_vertex + lens - 1] = first_vertex
    xe, ye = x[nxt], y[nxt]
    dx = np.abs(xe - x)
    dy = np.abs(y - ye)
    along_x = dx >= dy
    flip = np.where(along_x, x > xe, y > ye)
    xs = np.where(flip, xe, x)
    xe = np.where(flip, x, xe)
    ys = np.where(flip, ye, y)
    ye = np.where(flip, y, ye)
    length = np.where(along_x, dx, dy)
    # A repeated vertex gives 0/0 in C; its single point is never used (its neighbours share
    # its column), so any finite slope gives the same mask.
    slope = np.where(along_x, ye - ys, xe - xs).astype(float) / np.maximum(length, 1)
    return lens, x.size, along_x, flip, xs, xe, ys, length, slope


def _polygon_toggles_dense(parts: Sequence[np.ndarray], h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Toggle positions of ``rleFrPoly`` for many polygon parts at once.

    Returns ``(part, index)``: for each toggle the part it belongs to and its column-major pixel
    index. Within one part a pixel is foreground when an odd number of that part's toggles lie
    at or before it. The arithmetic is ``maskApi.c``'s, in the same float64 operations.
    """
    lens, n_edges, along_x, flip, xs, xe, ys, length, s = _edges(parts)
    n = length + 1
    edge = np.repeat(np.arange(n_edges), n)
    d = np.arange(edge.size) - np.repeat(np.cumsum(n) - n, n)
    t = np.where(flip[edge], length[edge] - d, d)
    ax = along_x[edge]
    # along x: u = t + xs exactly; along y: u = (int)(xs + s*t + .5).
    u = np.where(ax, t + xs[edge], 0)
    ny = np.flatnonzero(~ax)
    if ny.size:
        e = edge[ny]
        u[ny] = np.trunc(xs[e].astype(float) + s[e] * t[ny] + 0.5).astype(np.int64)
    part_of_vertex = np.repeat(np.arange(lens.size), lens)
    pid = part_of_vertex[edge]
    change = np.flatnonzero((u[1:] != u[:-1]) & (pid[1:] == pid[:-1])) + 1
    uj, uprev = u[change], u[change - 1]
    xi = np.where(uj < uprev, uj, uj - 1)
    # xd = (xi + .5) / scale - .5 is an integer in [0, w - 1] exactly when xi = 5 * col + 2.
    keep = (xi % 5 == 2) & (xi >= 2) & (xi <= 5 * (w - 1) + 2)
    change, xi = change[keep], xi[keep]
    if change.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    both = np.concatenate([change, change - 1])
    eb = edge[both]
    axb = ax[both]
    v = np.where(axb, 0, t[both] + ys[eb])
    nx = np.flatnonzero(axb)
    if nx.size:
        e = eb[nx]
        v[nx] = np.trunc(ys[e].astype(float) + s[e] * t[both][nx] + 0.5).astype(np.int64)
    v = np.minimum(v[: change.size], v[change.size :])
    yd = (v.astype(float) + 0.5) / _SCALE - 0.5
    yd = np.ceil(np.clip(yd, 0, h)).astype(np.int64)
    return pid[change], (xi - 2) // 5 * h + yd


def _polygon_toggles(parts: Sequence[np.ndarray], h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Toggle positions of ``rleFrPoly`` for many polygon parts at once, without the dense boundary.

    Same result as :func:`_polygon_toggles_dense`, which follows ``maskApi.c`` step by step.
    Of the 5x-upsampled boundary points only the steps from column ``c`` to ``c + 1`` with
    ``c = 5 * col + 2`` (``col`` in the image) make toggles, so those are enumerated directly:

    - on an edge that is longer in x, ``u = t + xs`` and ``v(t) = (int)(ys + s*t + .5)``; the
      toggle row comes from ``min(v(t), v(t + 1))`` at ``t = c - xs``;
    - on an edge that is longer in y, ``v = t + ys`` and ``u(t) = (int)(xs + s*t + .5)`` is
      monotonic; the step ``t`` where ``u`` passes from ``c`` to ``c + 1`` (or back) is solved
      for and then checked with the exact C expression (floating-point rounding can move it
      by one); the toggle row comes from ``v(t - 1)``.

    Steps between vertices that the two orders of rounding could make differ all have
    ``u <= 0`` and are never toggles. If a solved step cannot be confirmed, the dense path runs.
    """
    lens, n_edges, along_x, flip, xs, xe, ys, length, s = _edges(parts)
    # Columns crossed: c = 5 * col + 2 with lo <= c < hi and 0 <= col <= w - 1.
    lo = np.maximum(np.minimum(xs, xe), 2)
    hi = np.minimum(np.maximum(xs, xe) - 1, 5 * (w - 1) + 2)
    c_first = lo + (2 - lo) % 5
    count = np.where(c_first <= hi, (hi - c_first) // 5 + 1, 0)
    total = int(count.sum())
    if total > TOGGLE_BUDGET:
        raise CocoError(
            f"the polygons cross the image's columns {total:,} times, more than the "
            f"{TOGGLE_BUDGET:,} that can be rasterised in memory: simplify them"
        )
    edge = np.repeat(np.arange(n_edges), count)
    if edge.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    c = np.repeat(c_first, count) + 5 * (np.arange(edge.size) - np.repeat(np.cumsum(count) - count, count))
    v = np.empty(edge.size, dtype=np.int64)
    ex = along_x[edge]
    ix = np.flatnonzero(ex)
    if ix.size:
        e = edge[ix]
        t = c[ix] - xs[e]
        base = ys[e].astype(float)
        v1 = np.trunc(base + s[e] * t + 0.5)
        v2 = np.trunc(base + s[e] * (t + 1) + 0.5)
        v[ix] = np.minimum(v1, v2).astype(np.int64)
    iy = np.flatnonzero(~ex)
    if iy.size:
        e = edge[iy]
        se, xse, dye = s[e], xs[e].astype(float), length[e]
        up = se > 0
        # u(t) >= c + 1 (rising) or u(t) <= c (falling); for c >= 2 trunc is floor here.
        target = np.where(up, c[iy] + 1, c[iy])

        def reached(t):
            u = np.trunc(xse + se * t + 0.5)
            return np.where(up, u >= target, u <= target)

        with np.errstate(divide="ignore", invalid="ignore"):
            est = np.ceil((np.where(up, c[iy] + 0.5, c[iy] + 0.5) - xse) / se)
        est = np.clip(np.nan_to_num(est, nan=1.0), 1, dye).astype(np.int64)
        t = est.copy()
        lower = np.maximum(est - 1, 1)
        step_back = reached(lower) & (lower < est)
        t[step_back] = lower[step_back]
        bump = ~reached(t)
        t[bump] += 1
        ok = (t >= 1) & (t <= dye) & reached(t) & ((t == 1) | ~reached(np.maximum(t - 1, 1)))
        if not np.all(ok):
            return _dense_toggles_bounded(parts, h, w)
        v[iy] = ys[e] + t - 1
    yd = (v.astype(float) + 0.5) / _SCALE - 0.5
    yd = np.ceil(np.clip(yd, 0, h)).astype(np.int64)
    part_of_vertex = np.repeat(np.arange(lens.size), lens)
    return part_of_vertex[edge], (c - 2) // 5 * h + yd


def _dense_steps(part: np.ndarray) -> int:
    """Boundary steps the dense path walks for one flat polygon part."""
    xy = np.trunc(_SCALE * part[: part.size // 2 * 2] + 0.5).reshape(-1, 2)
    d = np.abs(np.roll(xy, -1, axis=0) - xy).max(axis=1)
    return int(d.sum()) + len(d)


def _dense_toggles_bounded(parts: Sequence[np.ndarray], h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_polygon_toggles_dense` in batches of parts of at most :data:`DENSE_BUDGET` steps.

    A part longer than the budget alone is first clipped to its image's margin (it then
    reaches far outside the image; see :func:`.geometry.clip_polygon`).
    """
    margin = clip_margin(h, w)
    parts = [
        p if _dense_steps(p) <= DENSE_BUDGET else clip_polygon(p, h, w, margin) for p in parts
    ]
    out_part, out_index = [], []
    batch: list[int] = []
    steps = 0

    def flush() -> None:
        if batch:
            usable = [parts[i] for i in batch]
            pid, idx = _polygon_toggles_dense(usable, h, w)
            out_part.append(np.asarray(batch, dtype=np.int64)[pid])
            out_index.append(idx)
            batch.clear()

    for i, p in enumerate(parts):
        if p.size < 6:
            continue
        n = _dense_steps(p)
        if batch and steps + n > DENSE_BUDGET:
            flush()
            steps = 0
        batch.append(i)
        steps += n
    flush()
    if not out_part:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(out_part), np.concatenate(out_index)


def _runs_by_part(part: np.ndarray, toggles: np.ndarray, n_parts: int, n_pixels: int):
    """Foreground runs ``(part, start, end)`` from per-part toggles (parity rule)."""
    inside = toggles < n_pixels
    key = part[inside] * (n_pixels + 1) + toggles[inside]
    values, counts = np.unique(key, return_counts=True)
    values = values[(counts & 1) == 1]
    part, pos = np.divmod(values, n_pixels + 1)
    # Parts with an odd number of toggles run to the end of the image.
    per_part = np.bincount(part, minlength=n_parts)
    odd = np.flatnonzero(per_part & 1)
    if odd.size:
        part = np.concatenate([part, odd])
        pos = np.concatenate([pos, np.full(odd.size, n_pixels, dtype=np.int64)])
        order = np.lexsort((pos, part))
        part, pos = part[order], pos[order]
    return part[0::2], pos[0::2], pos[1::2]


def _bbox_polygon(bbox: Sequence[float]) -> np.ndarray:
    """The polygon pycocotools' ``frBbox`` rasterises for a ``[x, y, w, h]`` box."""
    x, y, w, h = (float(v) for v in bbox)
    return np.array([x, y, x, y + h, x + w, y + h, x + w, y], dtype=np.float64)


def _checked_part(part: Any, h: int, w: int) -> np.ndarray:
    """A polygon part as finite float64, clipped where it reaches beyond pycocotools' range."""
    xy = check_finite(part)
    if xy.size and np.abs(xy).max() > MAX_EXACT_COORD:
        xy = clip_polygon(xy, h, w, clip_margin(h, w))
    return xy


def _polygon_parts(ann: Mapping[str, Any], h: int, w: int) -> list[np.ndarray] | None:
    """The polygon parts pycocotools rasterises for an annotation; None for an RLE."""
    if not isinstance(ann, Mapping):
        raise CocoError(f"an annotation must be a JSON object, got {type(ann).__name__}")
    seg = ann.get("segmentation")
    if isinstance(seg, Mapping):
        return None
    if isinstance(seg, list) and len(seg) > 0:
        if not all(isinstance(part, (list, tuple, np.ndarray)) for part in seg):
            raise CocoError("a polygon segmentation must be a list of lists of numbers")
        return [_checked_part(part, h, w) for part in seg]
    bbox = ann.get("bbox")
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        return []
    try:
        box = _bbox_polygon(bbox)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CocoError(f"bbox must be 4 finite numbers ({exc})") from None
    return [_checked_part(box, h, w)]


def _annotations_runs(records: Sequence[Mapping[str, Any]], height: int, width: int) -> list:
    """Runs of each annotation (a list of ``(starts, ends)`` per annotation, parts united later).

    All polygon parts of all annotations are rasterised in one vectorised pass.
    """
    height, width = check_image_size(height, width)
    n_pixels = height * width
    out: list[list] = [[] for _ in records]
    parts: list[np.ndarray] = []
    owner: list[int] = []
    for i, rec in enumerate(records):
        poly = _polygon_parts(rec, height, width)
        if poly is None:
            counts = check_rle(rec["segmentation"], (height, width))
            out[i].append(rle_runs(counts))
            continue
        for part in poly:
            if part.size >= 6:
                parts.append(part)
                owner.append(i)
    if parts:
        part_of, toggles = _polygon_toggles(parts, height, width)
        part, starts, ends = _runs_by_part(part_of, toggles, len(parts), n_pixels)
        bounds = np.searchsorted(part, np.arange(len(parts) + 1))
        for j, i in enumerate(owner):
            a, b = bounds[j], bounds[j + 1]
            if b > a:
                out[i].append((starts[a:b], ends[a:b]))
    return out


def _record(ann: Any) -> Mapping[str, Any]:
    """The JSON dict of an annotation given as a dict or a :class:`CocoAnnotation`."""
    return ann.record if hasattr(ann, "record") else ann


def annotation_window(ann: Any, height: int, width: int) -> tuple[int, int, np.ndarray] | None:
    """The mask of one annotation inside its own bounding-box window.

    Parameters
    ----------
    ann : dict or CocoAnnotation
        The annotation (its ``segmentation`` and, for bbox-only ones, ``bbox``).
    height, width : int
        Size of its image.

    Returns
    -------
    (row0, col0, mask) or None
        ``mask`` is a bool array; ``annotation_mask(ann, h, w)[row0:row0 + mh, col0:col0 + mw]``
        equals it and the full mask is zero elsewhere. None when the mask is empty.

    Examples
    --------
    >>> ann = {"segmentation": [[1, 1, 4, 1, 4, 3, 1, 3]], "bbox": [1, 1, 3, 2]}
    >>> row0, col0, mask = annotation_window(ann, 4, 6)
    >>> row0, col0, mask.shape
    (1, 1, (2, 3))
    """
    runs = _annotations_runs([_record(ann)], height, width)
    owner, starts, ends = _merge_runs(*_flatten_runs(runs), height * width)
    atlas, _, r0, c0, nrows, ncols, area = _window_atlas(owner, starts, ends, 1, height)
    if not area[0]:
        return None
    nr, nc = int(nrows[0]), int(ncols[0])
    mask = atlas.reshape(nc, nr + 1)[:, :nr].T.copy()
    return int(r0[0]), int(c0[0]), mask


def annotation_mask(ann: Any, height: int, width: int) -> np.ndarray:
    """pycocotools-exact bool mask ``(height, width)`` of one annotation.

    Identical to ``COCO.annToMask`` for polygons (multi-part: united), uncompressed and
    compressed RLE; a bbox-only annotation (``"segmentation": []``, on which ``annToMask``
    raises) gives its filled box as pycocotools rasterises ``[x, y, w, h]``.

    Parameters
    ----------
    ann : dict or CocoAnnotation
        The annotation (its ``segmentation`` and, for bbox-only ones, ``bbox``).
    height, width : int
        Size of its image.

    Returns
    -------
    (height, width) ndarray of bool

    Examples
    --------
    >>> ann = {"segmentation": [[1, 1, 4, 1, 4, 3, 1, 3]], "bbox": [1, 1, 3, 2]}
    >>> annotation_mask(ann, 4, 6).astype(int)
    array([[0, 0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0, 0],
           [0, 1, 1, 1, 0, 0],
           [0, 0, 0, 0, 0, 0]])
    """
    height, width = check_image_size(height, width)
    out = np.zeros((height, width), dtype=bool)
    win = annotation_window(ann, height, width)
    if win is not None:
        r0, c0, mask = win
        out[r0 : r0 + mask.shape[0], c0 : c0 + mask.shape[1]] = mask
    return out


def paint_order(areas: Sequence[int]) -> np.ndarray:
    """Indices in paint order: larger first, smaller over them; ties keep file order.

    Parameters
    ----------
    areas : sequence of int
        Pixel count of each instance.

    Returns
    -------
    ndarray of int
        Positions into ``areas``.

    Examples
    --------
    >>> paint_order([5, 9, 5, 1])
    array([1, 0, 2, 3])
    """
    areas = np.asarray(areas, dtype=np.int64)
    return np.lexsort((np.arange(areas.size), -areas))


def _merge_runs(owner: np.ndarray, starts: np.ndarray, ends: np.ndarray, n_pixels: int):
    """Unite the runs of each owner: sorted, disjoint, non-touching runs per owner."""
    if starts.size == 0:
        return owner, starts, ends
    shift = owner * (n_pixels + 1)
    s, e = starts + shift, ends + shift
    order = np.argsort(s, kind="stable")
    s, e, owner = s[order], e[order], owner[order]
    reach = np.maximum.accumulate(e)
    new = np.ones(s.size, dtype=bool)
    new[1:] = s[1:] > reach[:-1]
    first = np.flatnonzero(new)
    last = np.append(first[1:], s.size) - 1
    owner = owner[first]
    shift = owner * (n_pixels + 1)
    return owner, s[first] - shift, reach[last] - shift


def _window_atlas(owner: np.ndarray, starts: np.ndarray, ends: np.ndarray, n_owners: int, height: int):
    """Masks of many owners, each in its own bounding-box window, in one flat buffer.

    ``owner``/``starts``/``ends`` are merged runs (see :func:`_merge_runs`). Each owner's window
    is stored column by column with one spare row per column (where the run ends are marked),
    so one cumulative sum over the whole buffer turns the marks into every mask at once.

    Returns
    -------
    atlas : (K,) bool ndarray
    offset, row0, col0, n_rows, n_cols, area : (n_owners,) int64 ndarrays
        Window ``k`` is ``atlas[offset[k]: offset[k] + n_cols[k] * (n_rows[k] + 1)]`` reshaped
        ``(n_cols, n_rows + 1)``, spare row last; ``area`` counts its pixels.
    """
    zeros = np.zeros(n_owners, dtype=np.int64)
    if starts.size == 0:
        return np.zeros(0, dtype=bool), zeros, zeros, zeros, zeros, zeros, zeros
    c_first = starts // height
    c_last = (ends - 1) // height
    r_first = starts - c_first * height
    r_last = ends - c_last * height
    n_cols = c_last - c_first + 1
    if np.all(n_cols == 1):
        cols, rs, re, who = c_first, r_first, r_last, owner
    else:
        piece = np.repeat(np.arange(n_cols.size), n_cols)
        k = np.arange(piece.size) - np.repeat(np.cumsum(n_cols) - n_cols, n_cols)
        cols = c_first[piece] + k
        rs = np.where(k == 0, r_first[piece], 0)
        re = np.where(k == n_cols[piece] - 1, r_last[piece], height)
        who = owner[piece]
    big = np.iinfo(np.int64).max
    c0 = np.full(n_owners, big)
    r0 = np.full(n_owners, big)
    c1 = np.full(n_owners, -1)
    r1 = np.full(n_owners, -1)
    np.minimum.at(c0, who, cols)
    np.minimum.at(r0, who, rs)
    np.maximum.at(c1, who, cols)
    np.maximum.at(r1, who, re)
    present = c1 >= 0
    c0[~present] = r0[~present] = 0
    c1[~present] = -1
    r1[~present] = 0
    ncols = c1 - c0 + 1
    nrows = r1 - r0
    stride = nrows + 1
    size = ncols * stride
    offset = np.cumsum(size) - size
    base = offset[who] + (cols - c0[who]) * stride[who] - r0[who]
    total = int(size.sum())
    if total > max(pixel_budget(), int(size.max(initial=0))) or total < 0:
        raise CocoError(
            f"the annotation windows need {total:,} pixels, over the pixel budget of "
            f"{pixel_budget():,} (raster.set_pixel_budget raises it)"
        )
    marks = np.zeros(total + 1, dtype=np.int8)
    marks[base + rs] = 1
    marks[base + re] = -1
    atlas = np.cumsum(marks[:-1], dtype=np.int8).view(bool)
    area = np.bincount(who, weights=re - rs, minlength=n_owners).astype(np.int64)
    return atlas, offset, r0, c0, nrows, ncols, area


def rasterize_image(
    dataset: CocoDataset,
    image_position: int,
    *,
    per_image: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The label image of one image of a dataset, pycocotools-exact.

    The annotation at position ``k`` of the file's ``annotations`` list is painted with label
    value ``k + 1`` (with ``per_image``: the ``j``-th drawable annotation of the image with
    ``j + 1``, what the reader's Labels layer shows); larger instances are painted first and
    smaller ones over them (ties: file order). Annotations the model skipped (unknown image or
    category) are not painted.

    Parameters
    ----------
    dataset : CocoDataset
        The parsed dataset.
    image_position : int
        Position of the image in the file's ``images`` list.
    per_image : bool
        Label values per image instead of file positions.
    out : (H', W') int32 ndarray of zeros, optional
        Painted in place (its top-left ``H, W``), e.g. a padded plane; ``H' >= H``, ``W' >= W``.

    Returns
    -------
    (H, W) ndarray of int32
        With ``H, W`` the image's ``height`` and ``width`` (a view of ``out`` when given).

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> from napari_coco_masks.coco import load_coco
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> labels = rasterize_image(dataset, 0)
    >>> labels.shape, labels.dtype, int(labels.max())
    ((303, 384), dtype('int32'), 24)
    """
    image = dataset.images[image_position]
    h, w = check_image_size(
        image.height, image.width, path=dataset.path, where=f"images[{image_position}]"
    )
    anns = dataset.image_annotations(image_position)
    runs = _runs_naming_culprit(dataset, anns, h, w)
    if out is not None:
        if out.dtype != np.int32 or out.shape[0] < h or out.shape[1] < w:
            raise ValueError(f"`out` must be int32 of at least {h} x {w}, got {out.dtype} {out.shape}")
        labels = out[:h, :w]
    else:
        labels = np.zeros((h, w), dtype=np.int32)
    values = (
        list(range(1, len(anns) + 1)) if per_image else [a.position + 1 for a in anns]
    )
    owner, starts, ends = _flatten_runs(runs)
    owner, starts, ends = _merge_runs(owner, starts, ends, h * w)
    area = np.bincount(owner, weights=ends - starts, minlength=len(anns)).astype(np.int64)
    order = [i for i in paint_order(area).tolist() if area[i]]
    for batch in _window_batches(order, owner, starts, ends, h):
        _paint_batch(labels, batch, values, owner, starts, ends)
    return labels


def _runs_naming_culprit(dataset: CocoDataset, anns: Sequence[Any], h: int, w: int) -> list:
    """:func:`_annotations_runs` of ``anns``; a CocoError names the annotation at fault."""
    try:
        return _annotations_runs([a.record for a in anns], h, w)
    except CocoError:
        for ann in anns:  # find the culprit for the message
            try:
                _annotations_runs([ann.record], h, w)
            except CocoError as exc:
                raise CocoError(
                    str(exc), path=dataset.path, where=f"annotations[{ann.position}].segmentation"
                ) from None
        raise


def _window_batches(
    order: list[int], owner: np.ndarray, starts: np.ndarray, ends: np.ndarray, height: int
) -> list[list[int]]:
    """Owners in paint order, grouped so each group's windows fit in the pixel budget."""
    if not order:
        return []
    first = np.searchsorted(owner, np.arange(owner.max() + 2 if owner.size else 1))
    budget = pixel_budget()
    batches: list[list[int]] = [[]]
    used = 0
    for i in order:
        a, b = first[i], first[i + 1]
        cols = (int(ends[b - 1]) - 1) // height - int(starts[a]) // height + 1
        size = cols * (height + 1)
        if batches[-1] and used + size > budget:
            batches.append([])
            used = 0
        batches[-1].append(i)
        used += size
    return batches


def _paint_batch(
    labels: np.ndarray,
    batch: list[int],
    values: Sequence[int],
    owner: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
) -> None:
    """Paint the owners of ``batch`` (in that order) into ``labels``, owner ``i`` as
    ``values[i]``."""
    h = labels.shape[0]
    remap = np.full(len(values), -1, dtype=np.int64)
    remap[batch] = np.arange(len(batch))
    sel = remap[owner] >= 0
    atlas, offset, r0, c0, nrows, ncols, _ = _window_atlas(
        remap[owner[sel]], starts[sel], ends[sel], len(batch), h
    )
    for k, i in enumerate(batch):
        nr, nc, off = int(nrows[k]), int(ncols[k]), int(offset[k])
        r, c = int(r0[k]), int(c0[k])
        mask = atlas[off : off + nc * (nr + 1)].reshape(nc, nr + 1)[:, :nr].T
        np.copyto(labels[r : r + nr, c : c + nc], values[i], where=mask)


def _flatten_runs(runs: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(owner, starts, ends)`` arrays from a list (per owner) of lists of ``(starts, ends)``."""
    owners, all_starts, all_ends = [], [], []
    for k, ann_runs in enumerate(runs):
        for st, en in ann_runs:
            owners.append(np.full(st.size, k, dtype=np.int64))
            all_starts.append(st)
            all_ends.append(en)
    if not owners:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(owners), np.concatenate(all_starts), np.concatenate(all_ends)
