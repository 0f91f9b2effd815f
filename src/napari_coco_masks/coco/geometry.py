"""The half-pixel convention between COCO and napari, in exactly one place.

COCO polygon vertices and bounding boxes are continuous coordinates whose origin is the
top-left *corner* of the top-left pixel; pycocotools fills pixel (row r, col c) when its centre
(c + 0.5, r + 0.5) lies inside the polygon. napari puts pixel *centres* at integer indices and
orders coordinates (row, col). Hence a COCO vertex (x, y) is the napari point
(y - 0.5, x - 0.5). COCO keypoints are pixel indices and map to (y, x) with no shift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import CocoError

#: Offset between COCO's corner-based and napari's centre-based pixel coordinates.
HALF_PIXEL = 0.5


def coco_polygon_to_napari(flat: Sequence[float]) -> np.ndarray:
    """Convert a flat COCO polygon ``[x0, y0, x1, y1, ...]`` to napari (N, 2) ``(row, col)``.

    An odd trailing number is dropped, as pycocotools does.

    Raises
    ------
    CocoError
        For a coordinate that is not a finite number.
    """
    xy = check_finite(flat)
    xy = xy[: xy.size // 2 * 2].reshape(-1, 2)
    return xy[:, ::-1] - HALF_PIXEL


def napari_polygon_to_coco(vertices: np.ndarray) -> list[float]:
    """Convert napari (N, 2) ``(row, col)`` vertices to a flat COCO polygon ``[x0, y0, ...]``."""
    rc = np.asarray(vertices, dtype=float)[:, -2:]
    return (rc[:, ::-1] + HALF_PIXEL).ravel().tolist()


def coco_bbox_to_napari(bbox: Sequence[float]) -> np.ndarray:
    """Convert a COCO ``[x, y, w, h]`` box to the four napari rectangle corners ``(row, col)``."""
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError, OverflowError):
        raise CocoError(f"a bbox must be 4 numbers [x, y, w, h], got {bbox!r}"[:200]) from None
    if not all(np.isfinite([x, y, w, h])):
        raise CocoError(f"a bbox must be 4 finite numbers, got {[x, y, w, h]}")
    r0, c0 = y - HALF_PIXEL, x - HALF_PIXEL
    r1, c1 = r0 + h, c0 + w
    return np.array([[r0, c0], [r0, c1], [r1, c1], [r1, c0]])


def napari_rect_to_coco_bbox(corners: np.ndarray) -> list[float]:
    """Convert napari rectangle corners ``(row, col)`` to a COCO ``[x, y, w, h]`` box."""
    rc = np.asarray(corners, dtype=float)
    if rc.ndim != 2 or rc.shape[0] == 0 or rc.shape[1] < 2:
        raise CocoError(f"a rectangle needs its corners as (N, 2) vertices, got shape {rc.shape}")
    rc = rc[:, -2:]
    if not np.all(np.isfinite(rc)):
        raise CocoError(f"a rectangle has non-finite corners: {rc.tolist()}")
    (r0, c0), (r1, c1) = rc.min(axis=0), rc.max(axis=0)
    return [c0 + HALF_PIXEL, r0 + HALF_PIXEL, c1 - c0, r1 - r0]


def coco_keypoints_to_napari(flat: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Split COCO keypoints ``[x, y, v, ...]`` into napari (N, 2) ``(row, col)`` and visibility."""
    try:
        xyv = np.asarray(flat, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise CocoError(f"keypoints must be numbers [x, y, v, ...] ({exc})") from None
    if xyv.size % 3:
        raise CocoError(f"keypoints must be triples [x, y, v, ...], got {xyv.size} numbers")
    if not np.all(np.isfinite(xyv)):
        raise CocoError("keypoints must be finite numbers")
    xyv = xyv.reshape(-1, 3)
    return xyv[:, 1::-1].copy(), xyv[:, 2].astype(int)


def napari_keypoints_to_coco(points: np.ndarray, visibility: Sequence[int]) -> list[float]:
    """Join napari (N, 2) ``(row, col)`` keypoints and visibility into COCO ``[x, y, v, ...]``."""
    rc = np.asarray(points, dtype=float)[:, -2:]
    v = np.asarray(visibility, dtype=float)[:, None]
    return np.hstack([rc[:, ::-1], v]).ravel().tolist()


#: Polygons reaching further than this many pixels beyond the image (or beyond its size,
#: twice its size, whichever is more) are clipped before pycocotools sees them.
CLIP_MARGIN = 1024


def clip_margin(height: int, width: int) -> float:
    """How far (pixels) outside an image a polygon may reach before it is clipped."""
    return float(max(CLIP_MARGIN, 2 * int(height), 2 * int(width)))


def _clip_half(xy: np.ndarray, axis: int, bound: float, keep_below: bool) -> np.ndarray:
    """One Sutherland-Hodgman pass: keep the side ``xy[:, axis] <= bound`` (or ``>=``)."""
    if xy.shape[0] == 0:
        return xy
    a = xy
    b = np.roll(xy, -1, axis=0)
    da = a[:, axis] - bound
    db = b[:, axis] - bound
    ina = da <= 0 if keep_below else da >= 0
    inb = db <= 0 if keep_below else db >= 0
    cross = ina != inb
    other = 1 - axis
    # Interpolate from the endpoint nearer the bound: precise even when the other is 1e300 away.
    near_a = np.abs(da) <= np.abs(db)
    base = np.where(near_a[:, None], a, b)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        slope = (b[:, other] - a[:, other]) / (b[:, axis] - a[:, axis])
        along = base[:, other] + (bound - base[:, axis]) * slope
    hit = np.empty_like(a)
    hit[:, axis] = bound  # exactly on the boundary
    hit[:, other] = np.where(cross, along, 0.0)
    # For each edge: its start vertex when inside, then the crossing when it crosses.
    pts = np.stack([a, hit], axis=1).reshape(-1, 2)
    keep = np.stack([ina, cross], axis=1).reshape(-1)
    return pts[keep]


def clip_polygon(
    flat: Sequence[float] | np.ndarray, height: int, width: int, margin: float = 1.0
) -> np.ndarray:
    """Clip a flat COCO polygon to the box ``[-margin, width + margin] x [-margin, height + margin]``.

    The clipped polygon covers the same region of the image; pycocotools' rounding of the
    cut edges can move a pixel along those edges. Returns a flat array, possibly with fewer
    than 3 points (nothing of the polygon inside the box).
    """
    xy = np.asarray(flat, dtype=np.float64).reshape(-1)
    xy = xy[: xy.size // 2 * 2].reshape(-1, 2)
    xy = _clip_half(xy, 0, -margin, keep_below=False)
    xy = _clip_half(xy, 0, float(width) + margin, keep_below=True)
    xy = _clip_half(xy, 1, -margin, keep_below=False)
    xy = _clip_half(xy, 1, float(height) + margin, keep_below=True)
    return xy.reshape(-1)


def check_finite(flat: Sequence[float] | np.ndarray) -> np.ndarray:
    """``flat`` as a flat float64 array of finite numbers.

    Raises
    ------
    CocoError
        Naming the first NaN or infinite value, or what is not a number.
    """
    try:
        xy = np.asarray(flat, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CocoError(f"polygon coordinates must be numbers ({exc})") from None
    if not np.all(np.isfinite(xy)):
        bad = xy[~np.isfinite(xy)][0]
        raise CocoError(f"polygon coordinates must be finite numbers, got {bad}")
    return xy


def reaches_beyond(xy: np.ndarray, height: int, width: int, margin: float) -> bool:
    """Whether a finite flat polygon has a vertex more than ``margin`` outside the image."""
    n = xy.size // 2 * 2
    if n == 0:
        return False
    x, y = xy[0:n:2], xy[1:n:2]
    return bool(
        x.min() < -margin or y.min() < -margin or x.max() > width + margin or y.max() > height + margin
    )


def safe_polygon(flat: Sequence[float] | np.ndarray, height: int, width: int) -> np.ndarray:
    """A flat polygon safe to hand to pycocotools: finite, and clipped when it reaches far out.

    A polygon within :func:`clip_margin` of the image is returned unchanged (it rasterises
    exactly as before); one reaching further is clipped to that margin with
    :func:`clip_polygon`, so pycocotools' cost stays bounded by the image size.

    Raises
    ------
    CocoError
        If a coordinate is not a finite number.
    """
    xy = check_finite(flat)
    margin = clip_margin(height, width)
    if not reaches_beyond(xy, height, width, margin):
        return xy
    return clip_polygon(xy, height, width, margin)
