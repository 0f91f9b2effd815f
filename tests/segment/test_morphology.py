"""Label morphology (segment.morphology) against scikit-image, object by object."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data, measure, morphology, segmentation

from napari_coco_masks.segment.morphology import (
    close_labels,
    dilate_labels,
    erode_labels,
    fill_label_holes,
    open_labels,
)


@pytest.fixture
def coins_labels() -> np.ndarray:
    """Real objects that touch the image edge (coins thresholded, cut)."""
    image = data.coins()[:160, :220]
    return measure.label(image > 110).astype(np.int32)


def _per_object(labels: np.ndarray, operation) -> np.ndarray:
    """The reference: ``operation(labels == k)`` for every k, painted where background or k."""
    out = np.zeros_like(labels)
    for value in np.unique(labels)[1:]:
        own = labels == value
        grown = operation(own) & ((labels == 0) | own) & (out == 0)
        out[grown] = value
    return out


@pytest.mark.parametrize("radius", [1, 2, 4])
def test_erode_and_open_equal_skimage_per_object(coins_labels, radius):
    disk = morphology.disk(radius)
    expected = _per_object(coins_labels, lambda m: morphology.erosion(m, disk))
    np.testing.assert_array_equal(erode_labels(coins_labels, radius), expected)
    expected = _per_object(coins_labels, lambda m: morphology.opening(m, disk))
    np.testing.assert_array_equal(open_labels(coins_labels, radius), expected)


@pytest.mark.parametrize("radius", [1, 3])
def test_close_equals_skimage_per_object_and_never_merges(coins_labels, radius):
    disk = morphology.disk(radius)
    expected = _per_object(coins_labels, lambda m: morphology.closing(m, disk))
    closed = close_labels(coins_labels, radius)
    np.testing.assert_array_equal(closed, expected)
    kept = coins_labels > 0
    np.testing.assert_array_equal(closed[kept], coins_labels[kept])  # no object takes another's


def test_dilate_is_expand_labels_and_fill_holes_per_object(coins_labels):
    np.testing.assert_array_equal(
        dilate_labels(coins_labels, 4), segmentation.expand_labels(coins_labels, 4)
    )
    from scipy import ndimage as ndi

    expected = _per_object(coins_labels, ndi.binary_fill_holes)
    filled = fill_label_holes(coins_labels)
    np.testing.assert_array_equal(filled, expected)
    assert np.count_nonzero(filled) > np.count_nonzero(coins_labels)  # the coins have holes


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="`labels` must be an integer label image"):
        erode_labels(np.zeros((3, 3)), 1)
    with pytest.raises(ValueError, match="`radius` must be a finite number >= 0"):
        open_labels(np.zeros((3, 3), int), -1)
