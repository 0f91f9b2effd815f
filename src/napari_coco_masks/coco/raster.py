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
from .rle import check_rle, rle_runs

if TYPE_CHECKING:
    from .model import CocoDataset

__all__ = [
    "annotation_mask",
    "annotation_window",
    "paint_order",
    "polygon_runs",
    "rasterize_image",
]

_SCALE = 5.0


def _toggles_from_polygon(xy: np.ndarray, h: int, w: int) -> np.ndarray:
    """Column-major indices where ``rleFrPoly`` switches between background and foreground.

    A pixel is foreground when an odd number of toggles lie at or before it.
    """
    k = xy.size // 2
    # x[j] = (int)(scale * xy + .5): C casts truncate toward zero.
    x = np.trunc(_SCALE * xy[0 : 2 * k : 2] + 0.5).astype(np.int64)
    y = np.trunc(_SCALE * xy[1 : 2 * k : 2] + 0.5).astype(np.int64)
    xs, ys = x, y
    xe, ye = np.roll(x, -1), np.roll(y, -1)
    dx = np.abs(xe - xs)
    dy = np.abs(ys - ye)
    along_x = dx >= dy
    flip = (along_x & (xs > xe)) | (~along_x & (ys > ye))
    xs, xe = np.where(flip, xe, xs), np.where(flip, xs, xe)
    ys, ye = np.where(flip, ye, ys), np.where(flip, ys, ye)
    length = np.where(along_x, dx, dy)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(
            along_x, (ye - ys).astype(float) / dx, (xe - xs).astype(float) / dy
        )
    # A repeated vertex gives 0/0 in C; its single point is never used (its neighbours share
    # its column), so any finite slope gives the same mask.
    s[length == 0] = 0.0
    n = length + 1
    edge = np.repeat(np.arange(k), n)
    first = np.cumsum(n) - n
    d = np.arange(edge.size) - first[edge]
    t = np.where(flip[edge], length[edge] - d, d)
    ax = along_x[edge]
    se = s[edge]
    xse = xs[edge]
    yse = ys[edge]
    # u = t + xs, v = (int)(ys + s*t + .5) along x; v = t + ys, u = (int)(xs + s*t + .5) along y.
    interp = np.trunc(np.where(ax, yse, xse).astype(float) + se * t + 0.5).astype(np.int64)
    u = np.where(ax, t + xse, interp)
    v = np.where(ax, interp, t + yse)
    # Points along the y-boundary, downsampled.
    change = np.flatnonzero(u[1:] != u[:-1]) + 1
    if change.size == 0:
        return np.zeros(0, dtype=np.int64)
    uj, uprev = u[change], u[change - 1]
    xd = np.where(uj < uprev, uj, uj - 1).astype(float)
    xd = (xd + 0.5) / _SCALE - 0.5
    keep = (np.floor(xd) == xd) & (xd >= 0) & (xd <= w - 1)
    yd = np.minimum(v[change], v[change - 1])[keep].astype(float)
    yd = (yd + 0.5) / _SCALE - 0.5
    yd = np.ceil(np.clip(yd, 0, h))
    return xd[keep].astype(np.int64) * h + yd.astype(np.int64)


def _runs_from_toggles(toggles: np.ndarray, n_pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """Foreground runs of a mask given as toggle positions (parity of toggles at or before)."""
    toggles = toggles[toggles < n_pixels]
    if toggles.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    values, counts = np.unique(toggles, return_counts=True)
    points = values[(counts & 1) == 1]
    if points.size & 1:
        points = np.append(points, n_pixels)
    return points[0::2], points[1::2]


def polygon_runs(flat: Sequence[float] | np.ndarray, height: int, width: int):
    """Foreground runs of one COCO polygon part, exactly as pycocotools rasterises it.

    Parameters
    ----------
    flat : sequence of float
        ``[x0, y0, x1, y1, ...]`` with at least 3 points (checked by the model).
    height, width : int
        Size of the image.

    Returns
    -------
    starts, ends : (R,) ndarray of int64
        Half-open column-major index intervals ``[start, end)`` of foreground pixels.
    """
    xy = np.asarray(flat, dtype=np.float64).reshape(-1)
    return _runs_from_toggles(_toggles_from_polygon(xy, height, width), height * width)


def _bbox_polygon(bbox: Sequence[float]) -> np.ndarray:
    """The polygon pycocotools' ``frBbox`` rasterises for a ``[x, y, w, h]`` box."""
    x, y, w, h = (float(v) for v in bbox)
    return np.array([x, y, x, y + h, x + w, y + h, x + w, y], dtype=np.float64)


def _segmentation_runs(ann: Mapping[str, Any], height: int, width: int):
    """Runs of all parts of an annotation's segmentation (bbox-only: its box)."""
    seg = ann.get("segmentation")
    if isinstance(seg, Mapping):
        counts = check_rle(seg, (height, width))
        return [rle_runs(counts)]
    if isinstance(seg, list) and len(seg) > 0:
        try:
            return [polygon_runs(part, height, width) for part in seg]
        except (TypeError, ValueError) as exc:
            raise CocoError(f"polygon coordinates must be numbers ({exc})") from None
    bbox = ann.get("bbox")
    if bbox is None or len(bbox) != 4:
        return []
    return [_runs_from_toggles(
        _toggles_from_polygon(_bbox_polygon(bbox), height, width), height * width
    )]


def _paint_runs(runs, height: int) -> tuple[int, int, np.ndarray] | None:
    """Paint (unite) runs into the smallest window that holds them.

    Returns ``(row0, col0, mask)`` with ``mask`` a bool (rows, cols) array, or None if empty.
    """
    runs = [r for r in runs if r[0].size]
    if not runs:
        return None
    if len(runs) == 1:
        starts, ends = runs[0]
    else:
        starts = np.concatenate([r[0] for r in runs])
        ends = np.concatenate([r[1] for r in runs])
    c_first = starts // height
    c_last = (ends - 1) // height
    r_first = starts - c_first * height
    r_last = ends - c_last * height  # exclusive row end in the last column
    n_cols = c_last - c_first + 1
    if np.all(n_cols == 1):
        cols, rs, re = c_first, r_first, r_last
    else:
        piece = np.repeat(np.arange(n_cols.size), n_cols)
        k = np.arange(piece.size) - np.repeat(np.cumsum(n_cols) - n_cols, n_cols)
        cols = c_first[piece] + k
        rs = np.where(k == 0, r_first[piece], 0)
        re = np.where(k == n_cols[piece] - 1, r_last[piece], height)
    c0, c1 = int(cols.min()), int(cols.max()) + 1
    r0, r1 = int(rs.min()), int(re.max())
    nr = r1 - r0 + 1
    size = (c1 - c0) * nr
    base = (cols - c0) * nr - r0
    diff = np.bincount(base + rs, minlength=size)[:size] - np.bincount(base + re, minlength=size)[
        :size
    ]
    mask = np.cumsum(diff.reshape(c1 - c0, nr), axis=1)[:, :-1] > 0
    return r0, c0, mask.T


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
    """
    return _paint_runs(_segmentation_runs(_record(ann), height, width), height)


def annotation_mask(ann: Any, height: int, width: int) -> np.ndarray:
    """pycocotools-exact bool mask ``(height, width)`` of one annotation.

    Identical to ``COCO.annToMask`` for polygons (multi-part: united), uncompressed and
    compressed RLE; a bbox-only annotation (``"segmentation": []``, on which ``annToMask``
    raises) gives its filled box as pycocotools rasterises ``[x, y, w, h]``.
    """
    out = np.zeros((height, width), dtype=bool)
    win = annotation_window(ann, height, width)
    if win is not None:
        r0, c0, mask = win
        out[r0 : r0 + mask.shape[0], c0 : c0 + mask.shape[1]] = mask
    return out


def paint_order(areas: Sequence[int]) -> np.ndarray:
    """Indices in paint order: larger first, smaller over them; ties keep file order."""
    areas = np.asarray(areas, dtype=np.int64)
    return np.lexsort((np.arange(areas.size), -areas))


def rasterize_image(dataset: CocoDataset, image_position: int) -> np.ndarray:
    """The label image of one image of a dataset: exactly what the reader's Labels layer holds.

    The annotation at position ``k`` of the file's ``annotations`` list is painted with label
    value ``k + 1``; larger instances are painted first and smaller ones over them (ties:
    file order). Annotations the model skipped (unknown image or category) are not painted.

    Parameters
    ----------
    dataset : CocoDataset
        The parsed dataset.
    image_position : int
        Position of the image in the file's ``images`` list.

    Returns
    -------
    (H, W) ndarray of int32
        With ``H, W`` the image's ``height`` and ``width``.
    """
    image = dataset.images[image_position]
    h, w = image.height, image.width
    labels = np.zeros((h, w), dtype=np.int32)
    windows = []
    areas = []
    for ann in dataset.image_annotations(image_position):
        try:
            win = annotation_window(ann.record, h, w)
        except CocoError as exc:
            raise CocoError(
                str(exc), path=dataset.path, where=f"annotations[{ann.position}].segmentation"
            ) from None
        if win is None:
            continue
        windows.append((ann.position + 1, win))
        areas.append(int(np.count_nonzero(win[2])))
    for i in paint_order(areas):
        value, (r0, c0, mask) = windows[i]
        labels[r0 : r0 + mask.shape[0], c0 : c0 + mask.shape[1]][mask] = value
    return labels
