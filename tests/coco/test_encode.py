"""Mask -> COCO segmentation, checked against pycocotools' own rasterisation and measures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from scipy import ndimage as ndi
from skimage import data as skdata
from skimage import draw, filters, measure

from napari_coco_masks.coco.encode import (
    encode_labels,
    encode_mask,
    has_holes,
    label_windows,
    mask_to_polygons,
    rle_counts,
)
from napari_coco_masks.coco.errors import CocoError


def _blob(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    noise = ndi.gaussian_filter(rng.random(shape), rng.uniform(0.7, 3))
    return noise > np.quantile(noise, rng.uniform(0.3, 0.8))


def _pyco_mask(segmentation, h: int, w: int) -> np.ndarray:
    """pycocotools' rasterisation of a written segmentation (as annToMask does)."""
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, h, w))
    elif isinstance(segmentation["counts"], list):
        rle = mask_utils.frPyObjects(segmentation, h, w)
    else:
        rle = segmentation
    return mask_utils.decode(rle).astype(bool)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / max(np.count_nonzero(a | b), 1)


def _pyco_reference(mask: np.ndarray) -> dict:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def _real_masks() -> list[np.ndarray]:
    """Objects of a real image: skimage's coins (Otsu + fill), and the raw Otsu mask (holes)."""
    coins = skdata.coins()
    fg = ndi.binary_fill_holes(coins > filters.threshold_otsu(coins))
    lab = measure.label(fg)
    sizes = np.bincount(lab.ravel())
    objects = [lab == v for v in range(1, lab.max() + 1) if sizes[v] > 50]
    return objects + [coins > filters.threshold_otsu(coins)]


@pytest.mark.parametrize("seed", range(40))
def test_polygons_rerasterise_exactly_on_random_blobs(seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(3, 70, 2))
    mask = _blob(rng, (h, w))
    polygons = mask_to_polygons(mask)
    back = _pyco_mask(polygons, h, w)
    filled = ndi.binary_fill_holes(mask, structure=np.ones((3, 3)))
    assert _iou(back, filled) == 1.0
    if not has_holes(mask):
        assert np.array_equal(back, mask)


@pytest.mark.parametrize("seed", range(30))
def test_auto_mode_is_lossless_on_noise(seed):
    rng = np.random.default_rng(100 + seed)
    h, w = (int(v) for v in rng.integers(1, 25, 2))
    mask = rng.random((h, w)) < rng.uniform(0.05, 0.95)
    if not mask.any():
        mask[0, 0] = True
    enc = encode_mask(mask)
    assert np.array_equal(_pyco_mask(enc["segmentation"], h, w), mask)
    ref = _pyco_reference(mask)
    assert enc["area"] == float(mask_utils.area(ref))
    assert enc["bbox"] == [float(v) for v in mask_utils.toBbox(ref)]
    assert isinstance(enc["segmentation"], list) == (not has_holes(mask))


def test_real_masks_polygon_iou_is_one():
    masks = _real_masks()
    assert len(masks) > 10
    for mask in masks:
        h, w = mask.shape
        enc = encode_mask(mask, mode="polygon")
        filled = ndi.binary_fill_holes(mask, structure=np.ones((3, 3)))
        assert _iou(_pyco_mask(enc["segmentation"], h, w), filled) == 1.0
        auto = encode_mask(mask)
        assert np.array_equal(_pyco_mask(auto["segmentation"], h, w), mask)


def test_single_pixel_and_lines():
    for mask in (np.ones((1, 1), bool), np.ones((1, 7), bool), np.ones((9, 1), bool), np.eye(6, dtype=bool)):
        enc = encode_mask(mask, mode="polygon")
        assert all(len(p) >= 6 and len(p) % 2 == 0 for p in enc["segmentation"])
        assert np.array_equal(_pyco_mask(enc["segmentation"], *mask.shape), mask)


def test_square_polygon_uses_corner_coordinates():
    mask = np.zeros((20, 20), bool)
    mask[2:12, 5:15] = True
    (polygon,) = mask_to_polygons(mask)
    xy = np.asarray(polygon).reshape(-1, 2)
    # the outline runs along the pixel edges x = 5, 15 and y = 2, 12, cutting each corner
    assert (xy[:, 0].min(), xy[:, 0].max(), xy[:, 1].min(), xy[:, 1].max()) == (5, 15, 2, 12)
    assert len(xy) == 8
    assert float(mask_utils.area(_pyco_reference(_pyco_mask([polygon], 20, 20)))) == 100.0


def test_hole_becomes_rle_in_auto_and_filled_in_polygon_mode():
    mask = np.zeros((12, 12), bool)
    mask[2:10, 2:10] = True
    mask[5:7, 5:7] = False
    assert has_holes(mask)
    auto = encode_mask(mask)
    assert isinstance(auto["segmentation"], dict)
    assert isinstance(auto["segmentation"]["counts"], str)
    assert np.array_equal(_pyco_mask(auto["segmentation"], 12, 12), mask)
    assert auto["area"] == 60.0
    poly = encode_mask(mask, mode="polygon")
    assert isinstance(poly["segmentation"], list)
    assert poly["area"] == 64.0
    rle = encode_mask(np.ones((3, 3), bool), mode="rle")
    assert rle["segmentation"] == {"size": [3, 3], "counts": rle["segmentation"]["counts"]}


def test_diagonal_background_is_not_a_hole():
    mask = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], bool)
    assert not has_holes(mask)
    enc = encode_mask(mask)
    assert isinstance(enc["segmentation"], list) and len(enc["segmentation"]) == 4
    assert np.array_equal(_pyco_mask(enc["segmentation"], 3, 3), mask)


@pytest.mark.parametrize("seed", range(10))
def test_window_rle_equals_pycocotools_full_image(seed):
    rng = np.random.default_rng(200 + seed)
    h, w = (int(v) for v in rng.integers(5, 50, 2))
    full = np.zeros((h, w), bool)
    r0, c0 = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
    r1, c1 = int(rng.integers(r0 + 1, h + 1)), int(rng.integers(c0 + 1, w + 1))
    full[r0:r1, c0:c1] = rng.random((r1 - r0, c1 - c0)) < 0.6
    window = full[r0:r1, c0:c1]
    counts = rle_counts(window, offset=(r0, c0), image_shape=(h, w))
    ref = _pyco_reference(full)
    assert mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)["counts"] == ref["counts"]
    enc = encode_mask(window, offset=(r0, c0), image_shape=(h, w), mode="rle")
    assert enc["segmentation"]["counts"] == ref["counts"].decode()
    assert enc["area"] == float(mask_utils.area(ref))
    assert enc["bbox"] == [float(v) for v in mask_utils.toBbox(ref)]
    raw = encode_mask(window, offset=(r0, c0), image_shape=(h, w), mode="rle", uncompressed=True)
    assert raw["segmentation"]["counts"] == counts
    assert sum(counts) == h * w


def test_rle_starting_with_foreground_begins_with_zero():
    mask = np.zeros((4, 4), bool)
    mask[0, 0] = True
    assert rle_counts(mask)[0] == 0
    assert rle_counts(np.ones((2, 2), bool)) == [0, 4]


def test_encode_labels_matches_full_image_reference():
    rng = np.random.default_rng(7)
    labels = np.zeros((120, 90), np.int32)
    for value in range(1, 25):
        r, c = rng.integers(0, 120), rng.integers(0, 90)
        rr, cc = draw.ellipse(r, c, rng.integers(2, 15), rng.integers(2, 15), shape=labels.shape)
        labels[rr, cc] = value
    labels[50:60, 40:50] = 30  # a gap in the label values
    labels[54, 44] = 0  # and a hole
    out = encode_labels(labels)
    assert sorted(out) == sorted(int(v) for v in np.unique(labels) if v)
    for value, enc in out.items():
        truth = labels == value
        assert np.array_equal(_pyco_mask(enc["segmentation"], 120, 90), truth)
        ref = _pyco_reference(truth)
        assert enc["area"] == float(mask_utils.area(ref))
        assert enc["bbox"] == [float(v) for v in mask_utils.toBbox(ref)]
    assert isinstance(out[30]["segmentation"], dict)
    json.dumps(out)  # str counts, plain floats
    assert list(encode_labels(labels, values=[30, 999])) == [30]


def test_label_windows_with_huge_sparse_values():
    labels = np.zeros((10, 10), np.int64)
    labels[1:3, 1:3] = 5_000_000_000
    labels[6, 6:9] = 7
    windows = label_windows(labels)
    assert windows == {7: (slice(6, 7), slice(6, 9)), 5_000_000_000: (slice(1, 3), slice(1, 3))}
    out = encode_labels(labels, mode="rle")
    assert out[5_000_000_000]["area"] == 4.0


def test_bad_input_names_the_parameter():
    with pytest.raises(CocoError, match="`mode`"):
        encode_mask(np.ones((2, 2), bool), mode="mesh")
    with pytest.raises(CocoError, match="`mask` must be a 2D"):
        encode_mask(np.ones((2, 2, 2), bool))
    with pytest.raises(CocoError, match="does not fit"):
        encode_mask(np.ones((4, 4), bool), offset=(2, 2), image_shape=(5, 5))
    with pytest.raises(CocoError, match="`labels` must be 2D"):
        encode_labels(np.ones((2, 2, 2), int))
