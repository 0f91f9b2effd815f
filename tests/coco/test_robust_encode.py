"""Robustness of what the writer hands to pycocotools: coordinates checked and clipped first."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from napari_coco_masks.coco import CocoError, annotation_mask
from napari_coco_masks.coco.encode import compress_counts, encode_mask, polygons_to_rle
from napari_coco_masks.coco.geometry import (
    clip_polygon,
    coco_keypoints_to_napari,
    napari_rect_to_coco_bbox,
    safe_polygon,
)


def _decode(rle) -> np.ndarray:
    return mask_utils.decode(rle).astype(bool)


def test_moderate_polygons_are_passed_unchanged():
    rng = np.random.default_rng(7)
    for _ in range(400):
        h, w = (int(v) for v in rng.integers(1, 60, 2))
        parts = [np.round(rng.uniform(-900, 1000, 2 * int(rng.integers(3, 9))) * 2) / 2 for _ in range(2)]
        ref = mask_utils.merge(mask_utils.frPyObjects([p.tolist() for p in parts], h, w))
        got = polygons_to_rle(parts, h, w)
        assert got["counts"] == ref["counts"]


def test_far_polygon_is_clipped_before_pycocotools_sees_it():
    # Segfaulted inside pycocotools before: run it in a child so a crash is a failure here.
    code = (
        "import numpy as np\n"
        "from napari_coco_masks.coco.encode import polygons_to_rle\n"
        "from pycocotools import mask\n"
        "print(int(mask.area(polygons_to_rle([[0.5, 0.5, 1e9, 0.5, 1e9, 1e9]], 10, 10))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    exact = annotation_mask({"segmentation": [[0.5, 0.5, 1e9, 0.5, 1e9, 1e9]]}, 10, 10)
    assert int(out.stdout) == int(exact.sum()) == 36


def test_clipping_keeps_the_image_pixels_of_a_far_box():
    poly = [-1e7, -1e7, 1e7, -1e7, 1e7, 1e7, -1e7, 1e7]
    assert _decode(polygons_to_rle([poly], 12, 9)).all()
    clipped = safe_polygon(poly, 12, 9)
    assert np.abs(clipped).max() <= 1024 + 12


def test_clip_is_exact_on_far_axis_aligned_edges():
    rng = np.random.default_rng(2)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        x0, y0 = rng.integers(-5, 10, 2)
        y1 = y0 + rng.integers(1, 40)
        poly = [x0, y0, 1e6, y0, 1e6, y1, x0, y1]
        near = [x0, y0, 1024 + w, y0, 1024 + w, y1, x0, y1]
        ref = mask_utils.merge(mask_utils.frPyObjects([list(map(float, near))], h, w))
        assert polygons_to_rle([poly], h, w)["counts"] == ref["counts"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_polygon_is_a_coco_error(bad):
    with pytest.raises(CocoError, match="finite"):
        polygons_to_rle([[0, 0, 5, 0, bad, 5]], 10, 10)


def test_no_usable_part_is_the_empty_mask():
    for polygons in ([], [[1, 2, 3, 4]], [[1, 2]]):
        rle = polygons_to_rle(polygons, 7, 5)
        assert rle["size"] == [7, 5] and not _decode(rle).any()


def test_polygon_wholly_outside_is_empty():
    assert not _decode(polygons_to_rle([[1e8, 1e8, 2e8, 1e8, 2e8, 2e8]], 7, 5)).any()


@pytest.mark.parametrize("size", [(0, 5), (2**31, 5), (5, -1)])
def test_bad_image_size_is_a_coco_error(size):
    with pytest.raises(CocoError):
        polygons_to_rle([[0, 0, 5, 0, 5, 5]], *size)


def test_compress_counts_checks_the_sum():
    with pytest.raises(CocoError, match="sum"):
        compress_counts([3, 2**62], 2, 2)
    assert compress_counts([4], 2, 2)["size"] == [2, 2]


def test_empty_mask_encodes():
    enc = encode_mask(np.zeros((0, 0), dtype=bool), offset=(0, 0), image_shape=(4, 4))
    assert enc["area"] == 0.0


def test_empty_rectangle_is_a_coco_error_not_zero_size():
    with pytest.raises(CocoError, match="corners"):
        napari_rect_to_coco_bbox(np.zeros((0, 2)))


def test_clip_polygon_fully_inside_is_unchanged():
    poly = [1.0, 1.0, 5.0, 1.0, 5.0, 5.0]
    assert clip_polygon(poly, 10, 10).tolist() == poly


@pytest.mark.parametrize("flat", [[1, 2], [1, 2, 1, 4], [1, float("nan"), 2]])
def test_keypoints_of_wrong_length_are_a_coco_error(flat):
    with pytest.raises(CocoError):
        coco_keypoints_to_napari(flat)


def test_huge_uint64_labels_without_background_keep_their_values():
    from napari_coco_masks.coco.encode import encode_labels

    top = 2**64 - 1
    lab = np.array([[top - 2], [top], [2], [top - 1]], dtype=np.uint64)  # no 0 anywhere
    enc = encode_labels(lab)
    assert sorted(enc) == [2, top - 2, top - 1, top]
    assert all(e["area"] == 1.0 for e in enc.values())


def test_coco_polygon_to_napari_drops_an_odd_number_and_refuses_nan():
    from napari_coco_masks.coco.geometry import coco_polygon_to_napari

    assert coco_polygon_to_napari([1, 2, 3, 4, 5, 6, 7]).tolist() == [[1.5, 0.5], [3.5, 2.5], [5.5, 4.5]]
    with pytest.raises(CocoError, match="finite"):
        coco_polygon_to_napari([1, 2, 3, float("nan"), 5, 6])
    with pytest.raises(CocoError, match="finite"):
        coco_polygon_to_napari([1, None, 3, 4, 5, 6])


@pytest.mark.parametrize("bbox", [[1, 2, 3], [1, 2, 3, float("inf")], ["a", 1, 2, 3], None])
def test_coco_bbox_to_napari_refuses_bad_boxes(bbox):
    from napari_coco_masks.coco.geometry import coco_bbox_to_napari

    with pytest.raises(CocoError):
        coco_bbox_to_napari(bbox)
