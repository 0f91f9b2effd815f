"""Tests for napari_coco_masks.segment.clusters against scikit-learn / scikit-image and truth."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from skimage import color, data, segmentation
from sklearn.cluster import KMeans

from napari_coco_masks.segment import clusters as cm
from napari_coco_masks.segment.clusters import (
    felzenszwalb_segments,
    kmeans_colour,
    segments_at,
    select_segments,
    slic_superpixels,
)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()[::6, ::6]


def patches(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three colour patches of the same lightness range with noise, and their truth 1..3."""
    rng = np.random.default_rng(seed)
    truth = np.ones((40, 60), np.int32)
    truth[:, 20:40] = 2
    truth[:, 40:] = 3
    colours = np.array([[40, 40, 40], [200, 40, 40], [230, 230, 230]], float)  # dark, red, white
    rgb = colours[truth - 1] + rng.normal(0, 8, (40, 60, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8), truth


def test_kmeans_is_sklearn_on_lab_pixels(astronaut) -> None:
    ours = kmeans_colour(astronaut, 5, sample=None, random_state=3)
    lab = color.rgb2lab(astronaut).reshape(-1, 3)
    ref = KMeans(5, random_state=3, n_init=3).fit(lab)
    rank = np.argsort(np.argsort(ref.cluster_centers_[:, 0])) + 1  # darkest first
    np.testing.assert_array_equal(ours.ravel(), rank[ref.labels_])
    np.testing.assert_array_equal(kmeans_colour(astronaut, 5, sample=None, random_state=3), ours)


def test_kmeans_recovers_colour_patches_and_respects_the_mask() -> None:
    rgb, truth = patches()
    np.testing.assert_array_equal(kmeans_colour(rgb, 3, sample=500), truth)  # darkest = 1
    np.testing.assert_array_equal(kmeans_colour(rgb, 3, mini_batch=True), truth)
    mask = truth != 2
    masked = kmeans_colour(rgb, 2, mask=mask)
    assert (masked[~mask] == 0).all()
    np.testing.assert_array_equal(masked[mask], np.where(truth[mask] == 1, 1, 2))
    grey = kmeans_colour(rgb[..., 0], 2, channel_axis=None)
    np.testing.assert_array_equal(grey, np.where(truth == 1, 1, 2))
    with pytest.raises(
        ValueError, match=r"has 2 channel\(s\) on axis -1; colour needs RGB or RGBA"
    ):
        kmeans_colour(rgb[..., :2], 3)
    with pytest.raises(ValueError, match="`mask` is empty"):
        kmeans_colour(rgb, 3, mask=np.zeros_like(mask))


def test_slic_is_skimage_with_sigma_in_physical_units(astronaut) -> None:
    ours = slic_superpixels(astronaut, 50, 10, sigma=1.0, spacing=0.5)
    # skimage divides a scalar sigma by the spacing too; per axis it is in pixels
    ref = segmentation.slic(
        astronaut, 50, compactness=10, sigma=[2.0, 2.0], spacing=[0.5, 0.5], start_label=1
    )
    np.testing.assert_array_equal(ours, ref)
    assert not np.array_equal(ours, slic_superpixels(astronaut, 50, 10, sigma=1.0))
    assert ours.min() == 1 and ours.dtype == np.int32
    mask = np.zeros(astronaut.shape[:2], bool)
    mask[10:60, 10:60] = True
    masked = slic_superpixels(astronaut, 20, mask=mask)
    assert (masked[~mask] == 0).all() and (masked[mask] > 0).all()
    grey = slic_superpixels(astronaut[..., 1] / 255, 30, 0.1, channel_axis=None)
    np.testing.assert_array_equal(grey, segmentation.slic(astronaut[..., 1] / 255, 30, compactness=0.1,
                                                          channel_axis=None, start_label=1))  # fmt: skip


def test_felzenszwalb_is_skimage_plus_one(astronaut) -> None:
    ours = felzenszwalb_segments(astronaut, 50, 1.0, 40, spacing=2.0)
    ref = segmentation.felzenszwalb(astronaut, scale=50, sigma=0.5, min_size=10)
    np.testing.assert_array_equal(ours, ref + 1)
    with pytest.raises(ValueError, match="Felzenszwalb needs square pixels"):
        felzenszwalb_segments(astronaut, spacing=(1, 2))


def test_clicked_segments_become_an_object() -> None:
    rgb, truth = patches(1)
    segments = kmeans_colour(rgb, 3)
    clicks = np.array(
        [[5.2, 3.7], [30, 50], [6, 4], [100, 100]]
    )  # dark, white, dark again, outside
    picked = segments_at(segments, clicks)
    assert picked == [1, 3]
    obj = select_segments(segments, picked, label=4)
    np.testing.assert_array_equal(obj, np.where(truth != 2, 4, 0))
    existing = np.zeros_like(truth)
    existing[0, 25] = 9
    added = select_segments(segments, {2: [2]}, labels=existing)
    assert added[0, 25] == 2 and (added == 2).sum() == (truth == 2).sum() and existing[0, 25] == 9
    with pytest.raises(
        ValueError, match=r"segment id\(s\) \[7\] are not in `segments` \(ids 1..3\)"
    ):
        select_segments(segments, [1, 7])
    with pytest.raises(ValueError, match="labels must be >= 1"):
        select_segments(segments, [1], label=0)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(cm, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0
