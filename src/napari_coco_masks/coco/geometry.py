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

#: Offset between COCO's corner-based and napari's centre-based pixel coordinates.
HALF_PIXEL = 0.5


def coco_polygon_to_napari(flat: Sequence[float]) -> np.ndarray:
    """Convert a flat COCO polygon ``[x0, y0, x1, y1, ...]`` to napari (N, 2) ``(row, col)``."""
    xy = np.asarray(flat, dtype=float).reshape(-1, 2)
    return xy[:, ::-1] - HALF_PIXEL


def napari_polygon_to_coco(vertices: np.ndarray) -> list[float]:
    """Convert napari (N, 2) ``(row, col)`` vertices to a flat COCO polygon ``[x0, y0, ...]``."""
    rc = np.asarray(vertices, dtype=float)[:, -2:]
    return (rc[:, ::-1] + HALF_PIXEL).ravel().tolist()


def coco_bbox_to_napari(bbox: Sequence[float]) -> np.ndarray:
    """Convert a COCO ``[x, y, w, h]`` box to the four napari rectangle corners ``(row, col)``."""
    x, y, w, h = (float(v) for v in bbox)
    r0, c0 = y - HALF_PIXEL, x - HALF_PIXEL
    r1, c1 = r0 + h, c0 + w
    return np.array([[r0, c0], [r0, c1], [r1, c1], [r1, c0]])


def napari_rect_to_coco_bbox(corners: np.ndarray) -> list[float]:
    """Convert napari rectangle corners ``(row, col)`` to a COCO ``[x, y, w, h]`` box."""
    rc = np.asarray(corners, dtype=float)[:, -2:]
    (r0, c0), (r1, c1) = rc.min(axis=0), rc.max(axis=0)
    return [c0 + HALF_PIXEL, r0 + HALF_PIXEL, c1 - c0, r1 - r0]


def coco_keypoints_to_napari(flat: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Split COCO keypoints ``[x, y, v, ...]`` into napari (N, 2) ``(row, col)`` and visibility."""
    xyv = np.asarray(flat, dtype=float).reshape(-1, 3)
    return xyv[:, 1::-1].copy(), xyv[:, 2].astype(int)


def napari_keypoints_to_coco(points: np.ndarray, visibility: Sequence[int]) -> list[float]:
    """Join napari (N, 2) ``(row, col)`` keypoints and visibility into COCO ``[x, y, v, ...]``."""
    rc = np.asarray(points, dtype=float)[:, -2:]
    v = np.asarray(visibility, dtype=float)[:, None]
    return np.hstack([rc[:, ::-1], v]).ravel().tolist()
