"""Tests for napari_coco_masks.segment.edges against scikit-image / scipy and drawn truth."""

from __future__ import annotations

import doctest
from importlib.resources import files

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import data, draw, feature, filters
from skimage.segmentation import watershed as sk_watershed

from napari_coco_masks.segment import edges as em
from napari_coco_masks.segment.edges import (
    canny,
    edge_magnitude,
    edges_to_objects,
    laplacian_of_gaussian,
)
from napari_coco_masks.segment.watershed import watershed

COINS_JSON = str(files("napari_coco_masks") / "data" / "coins.json")


@pytest.fixture(scope="module")
def coins() -> np.ndarray:
    return data.coins()


@pytest.mark.parametrize("method", em.EDGE_METHODS)
def test_magnitude_is_skimage_in_pixels(coins, method) -> None:
    reference = getattr(filters, method)
    np.testing.assert_array_equal(edge_magnitude(coins, method), reference(coins))
    mask = coins > 80
    np.testing.assert_array_equal(
        edge_magnitude(coins, method, mask=mask), reference(coins, mask=mask)
    )


def test_magnitude_in_physical_units(coins) -> None:
    image = coins.astype(float)
    # square pixels of 0.5: sigma 2 is 4 pixels, and the gradient per unit length doubles
    ours = edge_magnitude(image, sigma=2.0, spacing=0.5)
    smooth = filters.gaussian(image, sigma=4.0, preserve_range=True)
    np.testing.assert_allclose(ours, 2 * filters.sobel(smooth), rtol=1e-12)
    # anisotropic: a ramp of 3 per column is 6 per unit along columns 0.5 wide, so it has the
    # magnitude of a ramp of 6 per column with square unit pixels (rows 1 unit: unchanged)
    ramp = np.tile(np.arange(20.0) * 3, (10, 1))
    mag = edge_magnitude(ramp, spacing=(1.0, 0.5))
    np.testing.assert_allclose(mag[1:-1, 1:-1], filters.sobel(2 * ramp)[1:-1, 1:-1])
    assert not np.allclose(mag, filters.sobel(ramp))
    with pytest.raises(ValueError, match="`method` must be one of sobel, scharr, prewitt"):
        edge_magnitude(coins, "roberts")


def test_canny_sigma_and_hysteresis_in_physical_units(coins) -> None:
    ours = canny(coins, 2.0, low_threshold=0.1, high_threshold=0.2, spacing=0.5)
    ref = feature.canny(coins, sigma=4.0, low_threshold=0.05, high_threshold=0.1)
    np.testing.assert_array_equal(ours, ref)
    assert ours.any()
    np.testing.assert_array_equal(canny(coins, 1.5), feature.canny(coins, sigma=1.5))
    quant = canny(coins, 1.0, low_threshold=0.8, high_threshold=0.9, use_quantiles=True, spacing=3)
    np.testing.assert_array_equal(quant, feature.canny(coins, 1 / 3, 0.8, 0.9, use_quantiles=True))
    with pytest.raises(ValueError, match=r"Canny needs square pixels, got spacing \(1.0, 2.0\)"):
        canny(coins, spacing=(1, 2))
    with pytest.raises(ValueError, match="must not exceed"):
        canny(coins, low_threshold=0.3, high_threshold=0.2)


def test_laplacian_of_gaussian_is_scipy_and_finds_blobs() -> None:
    image = np.zeros((40, 50))
    rr, cc = draw.disk((20, 30), 4)
    image[rr, cc] = 1
    ours = laplacian_of_gaussian(image, 1.5, spacing=0.5)
    np.testing.assert_allclose(ours, -9.0 * ndi.gaussian_laplace(image, 3.0), rtol=1e-12)
    # the scale-normalised response peaks at the blob centre for sigma = r / sqrt(2)
    peak = laplacian_of_gaussian(image, 4 / np.sqrt(2))
    assert np.unravel_index(peak.argmax(), peak.shape) == (20, 30)
    np.testing.assert_array_equal(
        laplacian_of_gaussian(image, 2, normalise=False), ndi.gaussian_laplace(image, 2)
    )
    with pytest.raises(ValueError, match="must be > 0"):
        laplacian_of_gaussian(image, 0)


def test_closed_edges_become_filled_objects_and_open_edges_nothing() -> None:
    edges = np.zeros((60, 80), bool)
    truth = np.zeros((60, 80), np.int32)
    for k, (r, c, radius) in enumerate([(15, 15, 9), (40, 50, 12), (15, 60, 6)], start=1):
        ring = np.zeros_like(edges)
        ring[draw.circle_perimeter(r, c, radius)] = True
        edges |= ring
        truth[ndi.binary_fill_holes(ring)] = k
    edges[50:58, 5] = True  # an open line
    arc_r, arc_c = draw.circle_perimeter(45, 18, 8)
    keep = arc_c < 18
    edges[arc_r[keep], arc_c[keep]] = True  # a half circle: open
    found = edges_to_objects(edges)
    assert found.max() == 3
    for k in range(1, 4):
        obj = found == found[truth == k][0]
        np.testing.assert_array_equal(obj, truth == k)
    # min_size is an area in units of spacing: the smallest disk at 0.5 x 0.5 pixels
    smallest = np.count_nonzero(truth == 3) * 0.25
    assert edges_to_objects(edges, min_size=smallest + 0.25, spacing=0.5).max() == 2
    assert edges_to_objects(edges, min_size=smallest, spacing=0.5).max() == 3


def test_shared_wall_goes_to_one_side() -> None:
    edges = np.zeros((9, 15), bool)
    edges[[0, -1], :] = True
    edges[:, [0, 7, 14]] = True
    found = edges_to_objects(edges)
    assert found.max() == 2 and np.count_nonzero(found) == edges.size
    assert set(np.unique(found[:, 7])) <= {1, 2}


def test_canny_of_drawn_disks_gives_the_disks() -> None:
    image = np.full((70, 90), 40.0)
    truth = np.zeros(image.shape, np.int32)
    for k, (r, c, radius) in enumerate([(20, 20, 10), (45, 60, 14)], start=1):
        rr, cc = draw.disk((r, c), radius)
        image[rr, cc] = 200
        truth[rr, cc] = k
    found = edges_to_objects(canny(image, 1.0, low_threshold=20, high_threshold=60))
    assert found.max() == 2
    for k in (1, 2):
        obj = found == found[truth == k].max()
        assert np.count_nonzero(obj & (truth == k)) / np.count_nonzero(obj | (truth == k)) > 0.9


def test_edges_are_the_elevation_of_the_seeded_watershed(coins) -> None:
    from napari_coco_masks.segment.classifier import coco_training_labels

    markers = np.zeros(coins.shape, np.int32)
    markers[coins < 30] = 1
    markers[coins > 150] = 2
    elevation = edge_magnitude(coins)
    ours = watershed(elevation, markers)
    np.testing.assert_array_equal(ours, sk_watershed(filters.sobel(coins), markers))
    np.testing.assert_array_equal(ours, watershed(coins, markers, gradient=True))
    coins_mask = ndi.binary_fill_holes(ours == 2)
    truth = coco_training_labels(COINS_JSON, by="object")[0][0] == 2
    assert np.count_nonzero(coins_mask & truth) / np.count_nonzero(coins_mask | truth) > 0.95


def test_docstring_examples_run() -> None:
    result = doctest.testmod(em, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0
