"""Preprocessing (segment.preprocess) against scikit-image on real images."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data, exposure, filters, morphology, restoration

from napari_coco_masks.segment.preprocess import (
    contrast_stretch,
    median,
    rolling_ball,
    white_tophat,
)


@pytest.fixture
def coins() -> np.ndarray:
    return data.coins()[:120, :160]


@pytest.mark.parametrize("radius", [1, 3])
def test_median_equals_skimage(coins, radius):
    np.testing.assert_array_equal(median(coins, radius), filters.median(coins, morphology.disk(radius)))


def test_background_subtraction_equals_skimage(coins):
    np.testing.assert_array_equal(
        white_tophat(coins, 10), morphology.white_tophat(coins, morphology.disk(10))
    )
    image = coins.astype(float)
    expected = image - restoration.rolling_ball(image, radius=20)
    np.testing.assert_allclose(rolling_ball(image, 20), expected)
    assert rolling_ball(coins, 20).dtype == coins.dtype


def test_contrast_stretch_equals_rescale_intensity(coins):
    p2, p98 = np.percentile(coins, (2, 98))
    expected = exposure.rescale_intensity(coins.astype(float), in_range=(p2, p98), out_range=(0.0, 1.0))
    stretched = contrast_stretch(coins)
    np.testing.assert_allclose(stretched, expected)
    assert stretched.min() == 0.0 and stretched.max() == 1.0


def test_bad_input_names_the_parameter(coins):
    with pytest.raises(ValueError, match="`radius` must be an integer >= 1"):
        median(coins, 0)
    with pytest.raises(ValueError, match="must be a grey image"):
        white_tophat(np.zeros(5), 2)
    with pytest.raises(ValueError, match="0 <= low < high <= 100"):
        contrast_stretch(coins, 90, 10)
