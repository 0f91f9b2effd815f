"""The half-pixel convention between COCO and napari (COCO-NOTES "Coordinates")."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils
from skimage.measure import points_in_poly

from napari_coco_masks.coco.geometry import (
    coco_bbox_to_napari,
    coco_keypoints_to_napari,
    coco_polygon_to_napari,
    napari_keypoints_to_coco,
    napari_polygon_to_coco,
    napari_rect_to_coco_bbox,
)


def test_polygon_vertex_maps_with_half_pixel_shift():
    verts = coco_polygon_to_napari([0, 0, 10, 0, 10, 10])
    assert np.allclose(verts, [[-0.5, -0.5], [-0.5, 9.5], [9.5, 9.5]])


def test_polygon_round_trip():
    flat = [1.25, 2.5, 30.0, 4.75, 12.5, 40.0]
    assert np.allclose(napari_polygon_to_coco(coco_polygon_to_napari(flat)), flat)


def test_polygon_round_trip_keeps_trailing_axes_of_a_stack():
    verts = np.array([[3, 1.0, 2.0], [3, 5.0, 2.0], [3, 5.0, 7.0]])
    assert napari_polygon_to_coco(verts) == [2.5, 1.5, 2.5, 5.5, 7.5, 5.5]


def test_bbox_corners_and_back():
    corners = coco_bbox_to_napari([2, 1, 5, 3])
    assert np.allclose(corners, [[0.5, 1.5], [0.5, 6.5], [3.5, 6.5], [3.5, 1.5]])
    assert napari_rect_to_coco_bbox(corners) == [2, 1, 5, 3]


def test_keypoints_have_no_shift():
    rc, vis = coco_keypoints_to_napari([4, 7, 2, 0, 0, 0, 1, 2, 1])
    assert np.allclose(rc, [[7, 4], [0, 0], [2, 1]])
    assert vis.tolist() == [2, 0, 1]
    assert napari_keypoints_to_coco(rc, vis) == [4, 7, 2, 0, 0, 0, 1, 2, 1]


def test_napari_polygon_covers_the_pycocotools_pixels():
    """Pixel centres inside the napari polygon are (up to boundary ties) pycocotools' pixels."""
    rng = np.random.default_rng(0)
    h = w = 200
    rr, cc = np.mgrid[:h, :w]
    centres = np.column_stack([rr.ravel(), cc.ravel()])
    worse = []
    for _ in range(20):
        ang = np.sort(rng.uniform(0, 2 * np.pi, 30))
        r = rng.uniform(20, 80)
        xy = np.column_stack([100 + r * np.cos(ang), 100 + r * np.sin(ang)]).ravel()
        ref = mask_utils.decode(mask_utils.frPyObjects([xy.tolist()], h, w))[:, :, 0].astype(bool)
        ours = points_in_poly(centres, coco_polygon_to_napari(xy)).reshape(h, w)
        unshifted = points_in_poly(centres, xy.reshape(-1, 2)[:, ::-1]).reshape(h, w)
        assert (ours != ref).sum() <= 0.02 * ref.sum()
        worse.append((unshifted != ref).sum() > (ours != ref).sum())
    assert all(worse)
