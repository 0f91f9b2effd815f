"""Tests for napari_coco_masks.segment.threshold and segment.colour against scikit-image."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import color, data, filters, io, measure, segmentation, util

from napari_coco_masks.segment.cleanup import LabelOptions
from napari_coco_masks.segment.colour import (
    colour_labels,
    colour_mask,
    hsv_range_around,
    rgb_to_hsv,
)
from napari_coco_masks.segment.threshold import (
    GLOBAL_METHODS,
    ThresholdOptions,
    foreground,
    iter_threshold_frames,
    luminance,
    mask_to_labels,
    normalize_method,
    threshold,
    threshold_labels,
    threshold_value,
)

DATA = Path(__file__).parents[1] / "data"
SINGLE_GLOBAL = [m for m in GLOBAL_METHODS if m != "multiotsu"]


def _gray(path: Path) -> np.ndarray:
    """A real photograph from tests/data as uint8 grey levels."""
    image = io.imread(path)
    if image.ndim == 3:
        image = util.img_as_ubyte(color.rgb2gray(image[..., :3]))
    return image


def _real_images() -> list[tuple[str, np.ndarray]]:
    paths = sorted((DATA / "coco2017-4img").rglob("*.jpg"))[:2]
    paths += sorted((DATA / "cvat-carinterior-polygons").rglob("*.jpg"))[:1]
    paths += sorted((DATA / "roboflow-braintumor-polygons").rglob("*.jpg"))[:1]
    assert len(paths) == 4, "tests/data images are missing"
    images = [("coins", data.coins()), ("cell", data.cell())]
    images += [(p.name[:20], _gray(p)) for p in paths]
    return images


REAL_IMAGES = _real_images()
IMAGE_IDS = [name for name, _ in REAL_IMAGES]


@pytest.mark.parametrize("method", SINGLE_GLOBAL)
@pytest.mark.parametrize("image", [img for _, img in REAL_IMAGES], ids=IMAGE_IDS)
def test_global_methods_match_skimage(image: np.ndarray, method: str) -> None:
    reference_func = getattr(filters, f"threshold_{method}")
    try:
        reference_value = reference_func(image)
    except RuntimeError:  # threshold_minimum finds no two maxima on some histograms
        with pytest.raises(ValueError, match="found no threshold"):
            threshold(image, method=method)
        return
    labels = threshold(image, method=method)
    reference = image > reference_value
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels > 0, reference)
    np.testing.assert_array_equal(labels, measure.label(reference))
    assert threshold_value(image, method) == reference_value
    _, used = threshold_labels(image, method=method)
    assert used == reference_value


@pytest.mark.parametrize("image", [img for _, img in REAL_IMAGES[:3]], ids=IMAGE_IDS[:3])
def test_multiotsu_brightest_class_and_classes(image: np.ndarray) -> None:
    thresholds = filters.threshold_multiotsu(image, classes=3)
    labels = threshold(image, method="multi-otsu")
    np.testing.assert_array_equal(labels > 0, image > thresholds[-1])
    dark = threshold(image, method="multiotsu", dark_objects=True)
    np.testing.assert_array_equal(dark > 0, image <= thresholds[0])
    classes = threshold(image, method="multiotsu", classes=4, output="classes")
    four = filters.threshold_multiotsu(image, classes=4)
    np.testing.assert_array_equal(classes, np.digitize(image, four, right=True))
    assert set(np.unique(classes)) == {0, 1, 2, 3}


def test_method_aliases() -> None:
    assert normalize_method("Multi-Otsu") == "multiotsu"
    assert normalize_method("multiotsu") == "multiotsu"
    assert normalize_method("LOCAL MEAN") == "local_mean"
    with pytest.raises(ValueError, match="'bogus' is not a threshold method"):
        normalize_method("bogus")


def test_manual_and_dark_objects() -> None:
    image = data.coins()
    np.testing.assert_array_equal(threshold(image, "manual", value=120) > 0, image > 120)
    dark = threshold(image, dark_objects=True)
    np.testing.assert_array_equal(dark > 0, image <= filters.threshold_otsu(image))
    # a manual threshold still works on a constant image
    assert threshold(np.full((5, 5), 3), "manual", value=2).max() == 1


def test_offset_lowers_global_threshold() -> None:
    image = data.coins()
    labels = threshold(image, "otsu", offset=10)
    np.testing.assert_array_equal(labels > 0, image > filters.threshold_otsu(image) - 10)


@pytest.mark.parametrize(
    ("method", "reference"),
    [
        ("local_mean", lambda im: filters.threshold_local(im, 21, method="mean", offset=3)),
        ("local_gaussian", lambda im: filters.threshold_local(im, 21, offset=3)),
        ("sauvola", lambda im: filters.threshold_sauvola(im, window_size=21, k=0.1) - 3),
        ("niblack", lambda im: filters.threshold_niblack(im, window_size=21, k=0.1) - 3),
    ],
)
def test_local_methods_match_skimage(method: str, reference) -> None:
    image = data.coins()[:150, :200]
    labels = threshold(image, method, block_size=21, offset=3, k=0.1, output="binary")
    np.testing.assert_array_equal(labels.astype(bool), image > reference(image))
    assert set(np.unique(labels)) == {0, 1}


def test_sigma_in_physical_units() -> None:
    image = data.coins()
    labels = threshold(image, sigma=(1.0, 3.0), spacing=(0.5, 1.5))
    smoothed = filters.gaussian(image, sigma=(2.0, 2.0), preserve_range=True)
    np.testing.assert_array_equal(labels > 0, smoothed > filters.threshold_otsu(smoothed))
    # anisotropic: the same physical sigma smooths a coarse axis less
    other = threshold(image, sigma=2.0, spacing=(1.0, 4.0))
    smoothed = filters.gaussian(image, sigma=(2.0, 0.5), preserve_range=True)
    np.testing.assert_array_equal(other > 0, smoothed > filters.threshold_otsu(smoothed))


def test_min_size_in_physical_units_and_clear_border() -> None:
    image = data.coins()
    spacing = (0.5, 0.25)  # a pixel is 0.125 square units
    labels = threshold(image, min_size=10.0, clear_border=True, spacing=spacing)
    reference = measure.label(image > filters.threshold_otsu(image))
    reference = segmentation.clear_border(reference)
    areas = np.bincount(reference.ravel())
    keep = areas * 0.125 >= 10.0
    keep[0] = False
    expected = keep[reference]
    np.testing.assert_array_equal(labels > 0, expected)
    assert 0 < labels.max() < reference.max()
    # labels are renumbered 1..n, one per kept component
    assert np.array_equal(np.unique(labels), np.arange(labels.max() + 1))
    assert labels.max() == measure.label(expected).max()


def test_fill_holes() -> None:
    image = np.zeros((30, 30), np.uint8)
    image[5:25, 5:25] = 200
    image[10:15, 10:15] = 0  # a hole
    image[0:3, 0:3] = 200  # a corner object touching the border
    filled = threshold(image, fill_holes=True)
    mask = image > filters.threshold_otsu(image)
    np.testing.assert_array_equal(filled > 0, ndi.binary_fill_holes(mask))
    assert filled.max() == 2
    assert threshold(image, fill_holes=True, clear_border=True).max() == 1


def test_connectivity() -> None:
    mask = np.array([[1, 0], [0, 1]], bool)
    assert mask_to_labels(mask).max() == 1
    assert mask_to_labels(mask, connectivity=1).max() == 2


def test_volume_is_thresholded_as_a_volume() -> None:
    rng = np.random.default_rng(0)
    volume = ndi.gaussian_filter(rng.normal(size=(12, 40, 40)), 2)
    volume[:6] += 0.2  # the first half is brighter: a per-slice threshold would differ
    labels = threshold(volume)
    reference = measure.label(volume > filters.threshold_otsu(volume))
    np.testing.assert_array_equal(labels, reference)
    spacing = (2.0, 0.5, 0.5)
    assert threshold(volume, min_size=5.0, spacing=spacing).max() < labels.max()


def test_time_series_per_frame_and_global() -> None:
    coins = data.coins()[:100, :100]
    series = np.stack([coins, coins // 2 + 60, np.zeros_like(coins)])
    per_frame = threshold(series, frame_axis=0)
    first = measure.label(coins > filters.threshold_otsu(coins))
    second = measure.label(series[1] > filters.threshold_otsu(series[1]))
    np.testing.assert_array_equal(per_frame[0], first)
    np.testing.assert_array_equal(per_frame[1] > 0, second > 0)
    # label values continue across frames; the blank frame has no object
    assert per_frame[1][per_frame[1] > 0].min() == first.max() + 1
    assert per_frame[2].max() == 0
    global_t = filters.threshold_otsu(series)
    one = threshold(series, frame_axis=0, per_frame=False)
    np.testing.assert_array_equal(one > 0, series > global_t)
    frames = list(iter_threshold_frames(series, frame_axis=0, per_frame=False))
    assert [i for i, _, _ in frames] == [0, 1, 2]
    assert all(t == global_t for _, _, t in frames)
    np.testing.assert_array_equal(np.stack([f for _, f, _ in frames]), one)
    # a preview of one frame still uses the series-wide threshold
    [(index, only, used)] = iter_threshold_frames(series, per_frame=False, frames=[1])
    assert index == 1 and used == global_t
    np.testing.assert_array_equal(only > 0, one[1] > 0)
    _, values = threshold_labels(series, frame_axis=0)
    assert values[:2] == [filters.threshold_otsu(coins), filters.threshold_otsu(series[1])]
    assert values[2] is None
    # components never cross frames
    assert not np.intersect1d(np.unique(one[0]), np.unique(one[1]))[1:].size


def test_frame_axis_not_first() -> None:
    coins = data.coins()[:60, :80]
    series = np.stack([coins, 255 - coins], axis=-1)
    labels = threshold(series, frame_axis=-1)
    assert labels.shape == series.shape
    np.testing.assert_array_equal(labels[..., 1] > 0, threshold(255 - coins) > 0)


def test_rgb_channel_and_luminance() -> None:
    rgb = data.astronaut()
    weights = np.array([0.2125, 0.7154, 0.0721])
    grey = (rgb[..., :3] * weights).sum(-1)
    np.testing.assert_allclose(luminance(rgb), grey, rtol=1e-5)
    labels = threshold(rgb, channel_axis=-1)
    lum = luminance(rgb)
    np.testing.assert_array_equal(labels > 0, lum > filters.threshold_otsu(lum))
    green = threshold(rgb, channel_axis=-1, channel=1)
    np.testing.assert_array_equal(green > 0, rgb[..., 1] > filters.threshold_otsu(rgb[..., 1]))
    channels_first = np.moveaxis(rgb, -1, 0)
    np.testing.assert_array_equal(threshold(channels_first, channel_axis=0, channel=1), green)
    with pytest.raises(ValueError, match="3 \\(RGB\\) or 4"):
        threshold(np.zeros((2, 8, 8)), channel_axis=0)
    with pytest.raises(ValueError, match="`channel`=5 is out of range"):
        threshold(rgb, channel_axis=-1, channel=5)


def test_dask_input() -> None:
    coins = data.coins()
    lazy = da.from_array(np.stack([coins, coins]), chunks=(1, 100, 100))
    np.testing.assert_array_equal(threshold(lazy, frame_axis=0)[0], threshold(coins))


def test_all_zero_result_is_an_empty_label_image() -> None:
    labels = threshold(data.coins(), "manual", value=255)
    assert labels.shape == data.coins().shape
    assert labels.max() == 0


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.zeros((0, 5)), {}, r"`image` \(shape \(0, 5\)\) is empty"),
        (np.full((8, 8), 7.0), {}, "constant .* use method='manual'"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), {}, "1 NaN or infinite"),
        (np.arange(10), {}, "at least 2 dimensions"),
        (np.ones((4, 4), complex), {}, "dtype complex128"),
        (data.coins(), {"method": "manual"}, "needs a finite `value`"),
        (data.coins(), {"value": 3}, "only used with method='manual'"),
        (data.coins(), {"method": "sauvola", "block_size": 4}, "odd integer"),
        (data.coins(), {"spacing": (1.0, 2.0, 3.0)}, "`spacing`"),
        (data.coins(), {"sigma": -1}, "`sigma` must be >= 0"),
        (data.coins(), {"sigma": (1, 2, 3)}, "one per spatial axis \\(2\\)"),
        (data.coins(), {"min_size": -1}, "`min_size` must be >= 0"),
        (data.coins(), {"output": "classes"}, "needs method='multiotsu'"),
        (data.coins(), {"frame_axis": 4}, "`frame_axis`=4 is out of range"),
    ],
)
def test_bad_input_messages(image: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        threshold(image, **kwargs)


# --------------------------------------------------------------------------- colour


def test_colour_mask_matches_hsv_definition() -> None:
    rgb = data.astronaut()
    hsv = color.rgb2hsv(rgb)
    mask = colour_mask(rgb, hue=(20, 60), saturation=(0.3, 1.0), value=(0.2, 0.9))
    hue = hsv[..., 0] * 360
    expected = (hue >= 20) & (hue <= 60) & (hsv[..., 1] >= 0.3) & (hsv[..., 2] >= 0.2)
    expected &= hsv[..., 2] <= 0.9
    np.testing.assert_array_equal(mask, expected)
    assert 0 < mask.sum() < mask.size


def test_colour_mask_hue_wraps_around_red() -> None:
    rgb = np.zeros((1, 4, 3), np.uint8)
    rgb[0] = [[255, 0, 0], [255, 0, 40], [255, 40, 0], [0, 255, 0]]  # red, pinkish, orange, green
    hues = rgb_to_hsv(rgb)[0, :, 0]
    assert hues[1] > 340 and hues[2] < 20
    mask = colour_mask(rgb, hue=(340, 20), saturation=(0.5, 1))
    np.testing.assert_array_equal(mask[0], [True, True, True, False])
    assert not colour_mask(rgb, hue=(20, 340), saturation=(0.5, 1))[0, :3].any()


def test_colour_mask_rgba_and_errors() -> None:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 2] = 255
    assert colour_mask(rgba, hue=(230, 250)).all()
    with pytest.raises(ValueError, match="3 \\(RGB\\) or 4"):
        colour_mask(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="`hue` .* within \\[0.0, 360.0\\]"):
        colour_mask(rgba, hue=(0, 400))
    with pytest.raises(ValueError, match="is empty"):
        colour_mask(np.zeros((0, 4, 3)))


def test_hsv_range_around_a_picked_colour() -> None:
    hue, sat, val = hsv_range_around((255, 10, 0), hue_tolerance=10)
    assert hue[0] > hue[1]  # wraps through red
    rgb = np.array([[[255, 10, 0], [0, 0, 255]]], np.uint8)
    mask = colour_mask(rgb, hue, sat, val)
    np.testing.assert_array_equal(mask, [[True, False]])
    assert 0.75 <= sat[0] and val[1] == 1.0


def test_colour_labels_volume_and_series() -> None:
    rgb = np.zeros((3, 20, 20, 3), np.uint8)
    rgb[:, 2:6, 2:6] = (200, 20, 20)  # a red square in every frame
    rgb[1:, 10:15, 10:15] = (210, 30, 10)  # a second one from frame 1
    hue, sat, val = (340.0, 20.0), (0.5, 1.0), (0.3, 1.0)
    [(index, volume)] = colour_labels(rgb, hue, sat, val)
    assert index is None
    np.testing.assert_array_equal(volume, measure.label(colour_mask(rgb, hue, sat, val)))
    frames = list(colour_labels(rgb, hue, sat, val, frame_axis=0, min_size=20))
    assert [i for i, _ in frames] == [0, 1, 2]
    # the 16-pixel squares are removed, the 25-pixel ones kept; labels continue over frames
    assert [int(f.max()) for _, f in frames] == [0, 1, 2]
    assert [len(np.unique(f)) - 1 for _, f in frames] == [0, 1, 1]
    assert len(np.unique(next(colour_labels(rgb, hue, sat, val, frame_axis=0))[1])) == 2
    small = list(colour_labels(rgb, hue, sat, val, frame_axis=0, min_size=17, frames=[2]))
    assert [i for i, _ in small] == [2] and small[0][1].max() == 1


def test_benchmark_quick_smoke() -> None:
    import importlib.util

    path = Path(__file__).parents[2] / "benchmarks" / "bench_threshold.py"
    spec = importlib.util.spec_from_file_location("bench_threshold", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(quick=True)
    assert {"name", "ours_ms", "skimage_ms", "ratio", "target"} <= set(rows[0])
    assert all(row["ours_ms"] > 0 and row["skimage_ms"] > 0 for row in rows)


def test_sauvola_with_smoothing_keeps_the_dynamic_range_of_the_input_dtype() -> None:
    """Issue 13 defect 2: smoothing made the image float64, so Sauvola's R became 1 (of the
    float range [-1, 1]) instead of 127.5 (uint8) and nothing was found."""
    coins = data.coins()
    smoothed = filters.gaussian(coins, 1.0, preserve_range=True, mode="nearest", truncate=4.0)
    reference = smoothed > filters.threshold_sauvola(smoothed, window_size=35, r=127.5)
    labels = threshold(coins, "sauvola", block_size=35, sigma=1.0)
    np.testing.assert_array_equal(labels > 0, reference)
    unsmoothed = threshold(coins, "sauvola", block_size=35)
    assert labels.max() > 20 and unsmoothed.max() > 100  # before the fix: 0 objects
    np.testing.assert_array_equal(  # without smoothing: scikit-image's own R
        unsmoothed > 0, coins > filters.threshold_sauvola(coins, window_size=35)
    )
    series = np.stack([coins, coins])
    frames = list(iter_threshold_frames(series, "sauvola", block_size=35, sigma=1.0))
    np.testing.assert_array_equal(frames[1][1] > 0, reference)
    value = threshold_value(coins, "sauvola", block_size=35, sigma=1.0)
    np.testing.assert_allclose(
        value, filters.threshold_sauvola(smoothed, window_size=35, r=127.5)
    )


@pytest.mark.parametrize("method", ["otsu", "li", "yen", "isodata", "triangle", "mean"])
def test_integer_images_with_a_huge_range_get_a_threshold(method):
    """uint64/int64 images whose range is wider than 2**16 made scikit-image count every value
    (8 TiB for a range of 2**40); they are thresholded as floats, narrower ones unchanged."""
    from napari_coco_masks.segment.threshold import histogram_input

    image = np.zeros((20, 20), np.int64)
    image[5:15, 5:15] = 2**40
    mask = threshold(image, method=method)
    assert mask[10, 10] and not mask[0, 0]
    small = np.arange(100, dtype=np.uint16).reshape(10, 10)
    assert histogram_input(small) is small


def test_auto_bounds_on_a_huge_integer_range():
    from napari_coco_masks.segment.region_growing import auto_bounds

    image = np.zeros((10, 10), np.uint64)
    image[2:8, 2:8] = 2**63
    low, high = auto_bounds(image, [[5, 5]])
    assert low > 0 and high == float(2**63)


# --------------------------------------------------------------------------- options API


def test_value_foreground_labels_as_scikit_image() -> None:
    """threshold_value -> foreground -> mask_to_labels is skimage's threshold_x -> > -> label."""
    coins = data.coins()
    options = ThresholdOptions("yen", sigma=1.0)
    smoothed = filters.gaussian(coins, 1.0, preserve_range=True, mode="nearest")
    value = threshold_value(coins, options)
    assert value == pytest.approx(filters.threshold_yen(smoothed))
    mask = foreground(coins, options)
    np.testing.assert_array_equal(mask, smoothed > value)
    labels = mask_to_labels(mask, LabelOptions(min_size=20))
    expected = measure.label(mask)
    expected = measure.label(np.isin(expected, np.flatnonzero(np.bincount(expected.ravel()) >= 20)[1:]))
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(threshold(coins, options, LabelOptions(min_size=20)), labels)
    np.testing.assert_array_equal(threshold(coins, "yen", sigma=1.0, min_size=20), labels)


def test_options_are_frozen_and_checked() -> None:
    options = ThresholdOptions("Multi-Otsu")
    assert options.method == "multiotsu"
    with pytest.raises(AttributeError):
        options.method = "li"  # type: ignore[misc]
    with pytest.raises(ValueError, match="`classes` must be an integer from 2 to 8"):
        ThresholdOptions("multiotsu", classes=9)
    with pytest.raises(ValueError, match="`output` 'rgb' is not one of"):
        LabelOptions(output="rgb")
    with pytest.raises(TypeError, match="unknown threshold option\\(s\\): bogus"):
        threshold(data.coins(), bogus=1)


def test_deprecated_return_threshold_and_time_axis() -> None:
    coins = data.coins()
    with pytest.warns(DeprecationWarning, match="threshold_labels"):
        labels, used = threshold(coins, return_threshold=True)
    assert used == filters.threshold_otsu(coins)
    np.testing.assert_array_equal(labels, threshold(coins))
    series = np.stack([coins, coins])
    with pytest.warns(DeprecationWarning, match="use frame_axis"):
        old = threshold(series, time_axis=0)
    np.testing.assert_array_equal(old, threshold(series, frame_axis=0))
