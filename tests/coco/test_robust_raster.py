"""Robustness of the rasteriser and the RLE checks: every bad number is a CocoError, no crash."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from napari_coco_masks.coco import CocoError, annotation_mask, parse_coco, raster, rasterize_image
from napari_coco_masks.coco.raster import (
    MAX_SIDE,
    _polygon_toggles,
    _polygon_toggles_dense,
    _runs_by_part,
    annotation_window,
    check_image_size,
    set_pixel_budget,
)
from napari_coco_masks.coco.rle import check_rle, decode_counts_string


def _dataset(width=30, height=20, segmentation=None):
    return parse_coco(
        {
            "images": [{"id": 1, "file_name": "a.png", "width": width, "height": height}],
            "categories": [{"id": 1, "name": "a"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1,
                 "segmentation": segmentation or [[1, 1, 5, 1, 5, 5]]}
            ],
        }
    )


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_polygon_is_a_coco_error(bad):
    with pytest.raises(CocoError, match="finite"):
        annotation_mask({"segmentation": [[1, 1, 5, 1, 5, bad]]}, 20, 30)


def test_non_finite_polygon_in_the_dense_path_is_a_coco_error():
    with pytest.raises(CocoError, match="finite"):
        annotation_window({"segmentation": [[1, 1, 5, 1, 5, float("nan")]]}, 20, 30)


def test_bbox_only_with_nan_is_a_coco_error():
    with pytest.raises(CocoError, match="finite"):
        annotation_mask({"segmentation": [], "bbox": [1, 1, float("nan"), 3]}, 20, 30)


@pytest.mark.parametrize("big", [1e9, 1e18, 1e300])
def test_huge_coordinates_are_clipped_to_the_image(big):
    # A triangle covering the lower-left half of the image, with one far vertex.
    mask = annotation_mask({"segmentation": [[0, 0, 0, big, big, big]]}, 20, 30)
    assert mask.shape == (20, 30)
    assert mask[1:, 0].all() and mask[19, :18].all() and not mask[0, 29]
    assert 150 <= mask.sum() <= 250


def test_far_vertex_below_pycocotools_limit_is_exact():
    poly = [[0, 0, 0, 5e6, 3e6, 5e6]]
    ref = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(poly, 20, 30))).astype(bool)
    assert np.array_equal(annotation_mask({"segmentation": poly}, 20, 30), ref)


def test_dense_fallback_is_batched_and_matches():
    rng = np.random.default_rng(3)
    parts = [rng.uniform(-20, 120, 12) for _ in range(6)]
    old = raster.DENSE_BUDGET
    try:
        raster.DENSE_BUDGET = 600  # forces several batches
        got = _runs_by_part(*raster._dense_toggles_bounded(parts, 100, 100), 6, 10000)
    finally:
        raster.DENSE_BUDGET = old
    ref = _runs_by_part(*_polygon_toggles_dense(parts, 100, 100), 6, 10000)
    assert all(np.array_equal(a, b) for a, b in zip(got, ref, strict=True))
    assert all(
        np.array_equal(a, b)
        for a, b in zip(_runs_by_part(*_polygon_toggles(parts, 100, 100), 6, 10000), ref, strict=True)
    )


class _FakeDataset:
    """What rasterize_image reads of a dataset, without the model's own size checks."""

    def __init__(self, height: int, width: int) -> None:
        self.path = "fake.json"
        self.images = [SimpleNamespace(height=height, width=width, position=0)]

    def image_annotations(self, position: int) -> list:
        return []


def test_huge_declared_width_names_the_image_before_allocating():
    ds = _FakeDataset(20, 2**31)
    with pytest.raises(CocoError, match=r"images\[0\]"):
        rasterize_image(ds, 0)


def test_pixel_budget_is_settable():
    ds = _dataset(width=300, height=200)
    old = set_pixel_budget(1000)
    try:
        with pytest.raises(CocoError, match="pixel budget"):
            rasterize_image(ds, 0)
    finally:
        set_pixel_budget(old)
    assert rasterize_image(ds, 0).shape == (200, 300)


@pytest.mark.parametrize("size", [(0, 5), (MAX_SIDE + 1, 1), (5, True), (5.0, 5)])
def test_check_image_size_refuses(size):
    with pytest.raises(CocoError):
        check_image_size(*size)


def test_windows_over_budget_are_painted_in_batches():
    segs = [[[0, 0, 30, 0, 30, 20, 0, 20]], [[2, 2, 12, 2, 12, 12, 2, 12]], [[5, 5, 8, 5, 8, 8]]]
    ds = parse_coco(
        {
            "images": [{"id": 1, "file_name": "a.png", "width": 30, "height": 20}],
            "categories": [{"id": 1, "name": "a"}],
            "annotations": [
                {"id": k + 1, "image_id": 1, "category_id": 1, "segmentation": s}
                for k, s in enumerate(segs)
            ],
        }
    )
    ref = rasterize_image(ds, 0)
    old = set_pixel_budget(700)  # one full window (30 x 21 = 630) per batch
    try:
        got = rasterize_image(ds, 0)
    finally:
        set_pixel_budget(old)
    assert np.array_equal(got, ref) and set(np.unique(ref)) == {1, 2, 3}


def test_rle_counts_that_wrap_int64_are_refused():
    seg = {"size": [20, 30], "counts": [600, 2**62, 2**62, 2**62, 2**62]}
    with pytest.raises(CocoError, match="sum to"):
        check_rle(seg)


@pytest.mark.parametrize(
    "seg",
    [
        {"size": [20, 30], "counts": [2**64, 0]},
        {"size": [20, 30], "counts": [-1, 601]},
        {"size": [20, 30], "counts": [600.0]},
        {"size": [2**31, 1], "counts": [2**31]},
        {"size": [0, 0], "counts": []},
        {"size": [20, 30], "counts": "\x00\x00"},
    ],
)
def test_bad_rle_is_a_coco_error(seg):
    with pytest.raises(CocoError):
        check_rle(seg)


def test_compressed_counts_that_would_wrap_are_refused():
    with pytest.raises(ValueError, match="too large"):
        decode_counts_string(("o" * 11 + "?") * 20)


def test_valid_rle_still_passes():
    rle = mask_utils.encode(np.asfortranarray(np.eye(20, 30, dtype=np.uint8)))
    counts = check_rle({"size": [20, 30], "counts": rle["counts"].decode()})
    assert int(counts.sum()) == 600


@pytest.mark.parametrize("ann", ["abc", None, 5, {"segmentation": [5, 6, 7]}, {"segmentation": ["ab"]}])
def test_malformed_annotation_records_are_coco_errors(ann):
    with pytest.raises(CocoError):
        annotation_window(ann, 10, 10)


def test_too_many_column_crossings_are_refused_before_allocating(monkeypatch):
    zigzag = np.zeros((200, 2))
    zigzag[:, 0] = np.where(np.arange(200) % 2, 0.0, 100.0)
    zigzag[:, 1] = np.arange(200) * 0.5
    seg = {"segmentation": [zigzag.ravel().tolist()]}
    assert annotation_mask(seg, 100, 100).any()
    monkeypatch.setattr(raster, "TOGGLE_BUDGET", 5000)
    with pytest.raises(CocoError, match="cross the image's columns"):
        annotation_mask(seg, 100, 100)
