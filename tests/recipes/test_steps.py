"""A recipe's result equals the public segment functions called directly (what the widgets call).

One test per method of every step, on real images (the coins photo, scikit-image's astronaut),
with a non-unit pixel size so that every physical-unit conversion is exercised.
"""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
from skimage import data as skdata

from napari_coco_masks import segment
from napari_coco_masks.demo import DATA
from napari_coco_masks.recipes import Recipe, apply_recipe

SPACING = (0.5, 0.5)
COINS = iio.imread(DATA / "coins.png")
GREY = segment.luminance(COINS) if COINS.ndim == 3 else COINS


def _labels(steps, image=GREY, rgb=False, spacing=SPACING) -> np.ndarray:
    return apply_recipe(Recipe.from_steps(steps, units="mm"), image, rgb=rgb,
                        spacing=spacing).labels


@pytest.mark.parametrize("method", segment.METHODS)
def test_threshold_equals_segment_threshold(method: str) -> None:
    options = {"sigma": 0.5, "fill_holes": True, "min_size": 20.0, "clear_border": True}
    if method == "manual":
        options["value"] = float(np.median(GREY))
    if method in segment.LOCAL_METHODS:
        options["block_size"] = 35
    expected = segment.threshold(GREY, method, spacing=SPACING, **options)
    got = _labels([("threshold", {"method": method, **options})])
    np.testing.assert_array_equal(got, expected)
    assert got.max() > 0


def test_threshold_of_rgb_uses_the_widgets_channel_choice() -> None:
    rgb = skdata.astronaut()
    for channel in ("luminance", 1):
        expected = segment.threshold(rgb, "otsu", channel_axis=-1, channel=channel,
                                     dark_objects=True, spacing=SPACING)
        got = _labels([("threshold", {"method": "otsu", "channel": channel,
                                      "dark_objects": True})], rgb, rgb=True)
        np.testing.assert_array_equal(got, expected)


def test_colour_mask_equals_colour_labels() -> None:
    rgb = skdata.astronaut()
    options = {"hue": [340.0, 20.0], "saturation": [0.4, 1.0], "value": [0.2, 1.0],
               "fill_holes": True, "min_size": 10.0}
    ((_, expected),) = segment.colour_labels(rgb, (340.0, 20.0), (0.4, 1.0), (0.2, 1.0),
                                             fill_holes=True, min_size=10.0, spacing=SPACING)
    got = _labels([("colour_mask", options)], rgb, rgb=True)
    np.testing.assert_array_equal(got, expected)
    assert got.max() > 0


def test_colour_mask_of_a_grey_image_is_refused() -> None:
    with pytest.raises(ValueError, match="colour_mask needs an RGB image"):
        _labels([("colour_mask", {})])


def test_split_touching_and_cleaning_equal_the_direct_calls() -> None:
    base = segment.threshold(GREY, "local_gaussian", block_size=51, sigma=1.0, spacing=SPACING)
    split = segment.split_touching(base, min_distance=5.0, spacing=SPACING, h=0.5)
    # remove_small and clear_border after a split keep split objects apart (per label)
    area = np.bincount(split.ravel()) * 0.25
    small = np.flatnonzero(area < 100.0)
    edge = np.unique(np.concatenate([split[0], split[-1], split[:, 0], split[:, -1]]))
    gone = np.isin(split, np.union1d(small, edge)) & (split > 0)
    got = _labels([("threshold", {"method": "local_gaussian", "block_size": 51, "sigma": 1.0}),
                   ("split_touching", {"min_distance": 5.0, "h": 0.5}),
                   ("remove_small", {"min_size": 100.0}), "clear_border"])
    np.testing.assert_array_equal(got > 0, (split > 0) & ~gone)
    kept = np.setdiff1d(np.unique(split[split > 0]), np.union1d(small, edge))
    assert got.max() == len(kept) > 15
    # same objects, numbered 1..n in order
    lut = np.zeros(split.max() + 1, np.int32)
    lut[kept] = np.arange(1, len(kept) + 1)
    np.testing.assert_array_equal(got, lut[split])


def test_fill_holes_fills_each_object() -> None:
    ring = np.zeros((40, 40), np.uint8)
    ring[5:20, 5:20] = 200
    ring[9:15, 9:15] = 0  # a hole
    ring[25:35, 25:35] = 200
    got = _labels([("threshold", {"method": "manual", "value": 100.0}), "fill_holes"], ring)
    expected = segment.threshold(ring, "manual", value=100.0, fill_holes=True)
    np.testing.assert_array_equal(got, expected)


def test_smooth_then_threshold_equals_threshold_sigma() -> None:
    expected = segment.threshold(GREY, "otsu", sigma=1.5, spacing=SPACING)
    got = _labels([("smooth", {"sigma": 1.5}), ("threshold", {"method": "otsu"})])
    np.testing.assert_array_equal(got, expected)


def test_watershed_equals_segment_watershed() -> None:
    seeds = segment.threshold(GREY, "otsu", sigma=2.0, min_size=25.0, spacing=SPACING)
    for gradient, compactness in ((False, 0.0), (True, 0.01)):
        expected = segment.watershed(GREY, seeds, gradient=gradient, compactness=compactness)
        got = _labels([("threshold", {"method": "otsu", "sigma": 2.0, "min_size": 25.0}),
                       ("watershed", {"markers": "labels", "gradient": gradient,
                                      "compactness": compactness})])
        np.testing.assert_array_equal(got, expected)
    points = [[20.0, 30.0], [80.0, 100.0]]  # physical (mm): pixels (40, 60), (160, 200)
    expected = segment.watershed(GREY, np.array([[40.0, 60.0], [160.0, 200.0]]))
    np.testing.assert_array_equal(_labels([("watershed", {"markers": points})]), expected)


def test_grow_regions_equals_segment_grow_regions() -> None:
    points = [[28.0, 28.0], [61.0, 121.0]]  # physical: pixels (56, 56) and (122, 242)
    pixels = np.array([[56.0, 56.0], [122.0, 242.0]])
    with pytest.warns(segment.RegionSizeWarning, match=r"regions \[2\] reached max_size=4000"):
        expected = segment.grow_regions(GREY, pixels, tolerance=30.0, max_size=4000)
    with pytest.warns(segment.RegionSizeWarning, match=r"regions \[2\] reached max_size=4000"):
        got = _labels([("grow_regions", {"seeds": points, "tolerance": 30.0,
                                         "max_size": 1000.0})])  # 1000 mm² = 4000 px
    np.testing.assert_array_equal(got, expected)
    assert got.max() == 2
    expected = segment.grow_regions(GREY, pixels, mode="confidence", multiplier=2.0)
    got = _labels([("grow_regions", {"seeds": points, "mode": "confidence", "multiplier": 2.0})])
    np.testing.assert_array_equal(got, expected)


def test_grow_regions_from_labels_seeds_each_object() -> None:
    got = _labels([("threshold", {"method": "otsu", "sigma": 1.0, "min_size": 100.0}),
                   ("grow_regions", {"seeds": "labels", "tolerance": 40.0})])
    first = segment.threshold(GREY, "otsu", sigma=1.0, min_size=100.0, spacing=SPACING)
    assert got.max() == first.max() > 5


def test_measure_equals_segment_measure_in_physical_units() -> None:
    recipe = Recipe.from_steps([("threshold", {"method": "otsu", "sigma": 1.0}),
                                ("measure", {"properties": ["area", "perimeter"]})], units="mm")
    state = apply_recipe(recipe, GREY, spacing=SPACING)
    expected = segment.measure(state.labels, GREY, spacing=SPACING, units="mm",
                               properties=["area", "perimeter"])
    pd.testing.assert_frame_equal(state.table, expected)
    assert state.table.attrs["units"]["area"] == "mm²"


def test_a_3d_volume_runs_every_step_in_3d() -> None:
    rng = np.random.default_rng(0)
    volume = np.zeros((12, 40, 40), np.float32)
    volume[2:7, 5:15, 5:15] = 1
    volume[4:10, 20:34, 18:30] = 1
    volume += rng.normal(0, 0.05, volume.shape).astype(np.float32)
    spacing = (2.0, 0.5, 0.5)
    state = apply_recipe(Recipe.from_steps([("threshold", {"method": "otsu", "min_size": 2.0}),
                                            "measure"], units="µm"), volume, spacing=spacing)
    expected = segment.threshold(volume, "otsu", min_size=2.0, spacing=spacing)
    np.testing.assert_array_equal(state.labels, expected)
    assert state.labels.max() == 2
    assert state.table.attrs["units"]["area"] == "µm³"
