"""grow_regions / grow_region against SimpleITK (ConnectedThreshold, ConfidenceConnected)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi
from skimage import data, io
from skimage.segmentation import flood

from napari_coco_masks.segment._grow_criteria import cast_bounds
from napari_coco_masks.segment.region_growing import (
    GrowOptions,
    RegionSizeWarning,
    grow_region,
    grow_regions,
)

DATA = Path(__file__).parents[1] / "data"
JPGS = (
    sorted((DATA / "coco2017-4img").rglob("*.jpg"))[:2]
    + sorted((DATA / "roboflow-braintumor-polygons").rglob("*.jpg"))[:2]
)


def _grey(path: Path) -> np.ndarray:
    image = io.imread(path)
    if image.ndim == 3:
        image = np.rint(image[..., :3] @ np.array([0.2125, 0.7154, 0.0721])).astype(np.uint8)
    return image


REAL = {
    "camera": data.camera,
    "coins": data.coins,
    "moon": data.moon,
    **{p.stem[:12]: (lambda p=p: _grey(p)) for p in JPGS},
}


def _seeds(image: np.ndarray, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, image.shape, size=(n, image.ndim))


def _sitk_connected_threshold(image, seed, lower, upper, full):
    connectivity = (
        sitk.ConnectedThresholdImageFilter.FullConnectivity
        if full
        else sitk.ConnectedThresholdImageFilter.FaceConnectivity
    )
    out = sitk.ConnectedThreshold(
        sitk.GetImageFromArray(image),
        seedList=[tuple(int(c) for c in seed[::-1])],
        lower=float(lower),
        upper=float(upper),
        connectivity=connectivity,
    )
    return sitk.GetArrayFromImage(out).astype(bool)


def _sitk_confidence(image, seeds, multiplier, iterations, radius):
    out = sitk.ConfidenceConnected(
        sitk.GetImageFromArray(image),
        seedList=[tuple(int(c) for c in s[::-1]) for s in seeds],
        numberOfIterations=iterations,
        multiplier=multiplier,
        initialNeighborhoodRadius=radius,
    )
    return sitk.GetArrayFromImage(out).astype(bool)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def _clamped(image, value, tolerance):
    info = np.iinfo(image.dtype)
    return max(value - tolerance, info.min), min(value + tolerance, info.max)


# ------------------------------------------------------------------------- range mode


@pytest.mark.parametrize("name", sorted(REAL))
@pytest.mark.parametrize("connectivity", [1, 2])
def test_range_mode_equals_sitk_connected_threshold(name, connectivity):
    image = REAL[name]()
    assert image.ndim == 2
    rng = np.random.default_rng(len(name))
    for seed in _seeds(image, 6, len(name) + connectivity):
        tolerance = int(rng.integers(0, 40))
        value = int(image[tuple(seed)])
        expected = _sitk_connected_threshold(
            image, seed, *_clamped(image, value, tolerance), connectivity == 2
        )
        labels = grow_regions(image, [seed], tolerance=tolerance, connectivity=connectivity)
        np.testing.assert_array_equal(labels == 1, expected)
        assert set(np.unique(labels)) <= {0, 1}


@pytest.mark.parametrize("lower, upper", [(10.7, 90.2), (100, 255), (0, 60.9)])
def test_fixed_bounds_truncate_like_sitk(lower, upper):
    image = data.camera()
    seeds = [s for s in _seeds(image, 20, 3) if lower <= image[tuple(s)] <= upper][:3]
    assert seeds
    for seed in seeds:
        expected = _sitk_connected_threshold(image, seed, lower, upper, False)
        got = grow_regions(image, [seed], lower=lower, upper=upper) == 1
        np.testing.assert_array_equal(got, expected)


def test_signed_and_float_images_match_sitk():
    camera = data.camera()
    signed = camera.astype(np.int16) - 128
    for seed in _seeds(signed, 4, 5):
        expected = _sitk_connected_threshold(signed, seed, -30.6, 20.4, True)
        got = grow_regions(signed, [seed], lower=-30.6, upper=20.4, connectivity=2) == 1
        np.testing.assert_array_equal(got, expected)
    phantom = data.shepp_logan_phantom().astype(np.float32)
    for seed in _seeds(phantom, 4, 6):
        value = float(phantom[tuple(seed)])
        expected = _sitk_connected_threshold(phantom, seed, value - 0.05, value + 0.05, False)
        got = grow_regions(phantom, [seed], tolerance=0.05) == 1
        np.testing.assert_array_equal(got, expected)


def _mri_volume() -> np.ndarray:
    paths = sorted((DATA / "roboflow-braintumor-polygons").rglob("*.jpg"))[:6]
    return np.stack([_grey(p)[200:360, 200:360] for p in paths])


@pytest.mark.parametrize("connectivity", [1, 3])
def test_3d_range_mode_equals_sitk(connectivity):
    volume = _mri_volume()
    assert volume.shape == (6, 160, 160)
    for seed in _seeds(volume, 4, connectivity):
        value = int(volume[tuple(seed)])
        expected = _sitk_connected_threshold(
            volume, seed, *_clamped(volume, value, 12), connectivity == 3
        )
        got = grow_regions(volume, [seed], tolerance=12, connectivity=connectivity) == 1
        np.testing.assert_array_equal(got, expected)


def test_winding_region_leaving_and_reentering_windows_is_complete():
    """A spiral corridor forces many window enlargements in all directions."""
    size = 301
    maze = np.zeros((size, size), dtype=bool)
    lo, hi = 0, size - 1
    while lo < hi:
        maze[lo, lo : hi + 1] = maze[lo : hi + 1, hi] = maze[hi, lo : hi + 1] = True
        maze[lo + 2 : hi + 1, lo] = True
        if lo + 2 <= hi:
            maze[lo + 2, lo : lo + 3] = True
        lo, hi = lo + 2, hi - 2
    image = np.where(maze, 200, 10).astype(np.uint8)
    centre = np.argwhere(maze)[np.argmin(np.abs(np.argwhere(maze) - size // 2).sum(axis=1))]
    for connectivity in (1, 2):
        got = grow_regions(image, [centre], tolerance=0, connectivity=connectivity) == 1
        expected = flood(maze, tuple(centre), connectivity=connectivity)
        np.testing.assert_array_equal(got, expected)
        assert np.count_nonzero(got) > 10_000


# ------------------------------------------------------------------------- confidence mode


@pytest.mark.parametrize("name", sorted(REAL))
def test_confidence_mode_agrees_with_sitk(name):
    image = REAL[name]()
    rng = np.random.default_rng(7 + len(name))
    ious = []
    for seed in _seeds(image, 5, 11 + len(name)):
        multiplier = float(rng.uniform(1.5, 3.0))
        iterations = int(rng.integers(0, 5))
        radius = int(rng.integers(1, 3))
        expected = _sitk_confidence(image, [seed], multiplier, iterations, radius)
        got = (
            grow_regions(
                image,
                [seed],
                mode="confidence",
                multiplier=multiplier,
                iterations=iterations,
                radius=radius,
            )
            == 1
        )
        ious.append(_iou(got, expected))
    assert min(ious) > 0.99, ious


def test_confidence_seed_group_pools_statistics_like_sitk():
    for image in (data.camera(), data.coins(), _mri_volume()):
        seeds = _seeds(image, 3, 2)
        expected = _sitk_confidence(image, seeds, 2.5, 4, 1)
        got = grow_regions(image, seeds, mode="confidence", labels=[4, 4, 4])
        assert set(np.unique(got)) <= {0, 4}
        assert _iou(got == 4, expected) > 0.99


def test_confidence_with_radius_zero_and_one_seed_grows_equal_values():
    image = data.coins()
    seed = (100, 100)
    got = grow_regions(image, [seed], mode="confidence", radius=0) == 1
    expected = flood(image, seed, tolerance=0)
    np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------------- seeds and labels


@pytest.mark.parametrize(("top", "dtype"), [(255, np.uint8), (256, np.uint16), (70_000, np.uint32)])
def test_label_dtype_is_the_smallest_that_holds_the_labels(top, dtype):
    image = np.zeros((8, 8), dtype=np.uint8)
    image[:, 4:] = 9
    labels = grow_regions(image, [[0, 0], [0, 7]], tolerance=0, labels=[top, 1])
    assert labels.dtype == dtype
    assert np.all(labels[:, :4] == top) and np.all(labels[:, 4:] == 1)


def test_labels_follow_seed_order_and_earlier_seeds_keep_overlaps():
    image = np.zeros((20, 30), dtype=np.uint8)
    image[:, 10:20] = 100
    seeds = [[5, 25], [5, 15], [5, 2], [10, 15]]  # the 4th seed's region is the 2nd's
    labels = grow_regions(image, seeds, tolerance=0)
    assert labels.dtype == np.uint8  # the smallest type that holds every label, as SimpleITK
    assert np.all(labels[:, 20:] == 1) and np.all(labels[:, 10:20] == 2)
    assert np.all(labels[:, :10] == 3) and not np.any(labels == 4)


def test_labels_argument_merges_seeds():
    image = np.zeros((20, 30), dtype=np.uint8)
    image[:, 10:20] = 100
    labels = grow_regions(image, [[5, 25], [5, 15], [5, 2]], tolerance=0, labels=[9, 3, 9])
    assert np.all(labels[:, 20:] == 9) and np.all(labels[:, :10] == 9)
    assert np.all(labels[:, 10:20] == 3)


def test_seed_outside_fixed_bounds_grows_nothing():
    image = data.camera()
    seed = (10, 10)
    value = int(image[seed])
    labels = grow_regions(image, [seed], lower=value + 1, upper=255)
    assert not labels.any()
    expected = _sitk_connected_threshold(image, seed, value + 1, 255, False)
    assert not expected.any()


def test_fractional_seeds_round_to_the_nearest_pixel_and_1d_works():
    signal = np.array([0, 5, 5, 5, 0, 5, 5], dtype=np.uint8)
    labels = grow_regions(signal, [[1.6]], tolerance=0)
    np.testing.assert_array_equal(labels, [0, 1, 1, 1, 0, 0, 0])


def test_smoothing_is_a_gaussian_prefilter():
    image = data.coins()
    seeds = _seeds(image, 3, 9)
    got = grow_regions(image, seeds, GrowOptions(tolerance=6, sigma=1.5))
    with pytest.warns(DeprecationWarning, match="use sigma"):
        np.testing.assert_array_equal(grow_regions(image, seeds, tolerance=6, smoothing=1.5), got)
    prefiltered = ndi.gaussian_filter(image.astype(np.float32), 1.5)
    np.testing.assert_array_equal(got, grow_regions(prefiltered, seeds, tolerance=6))
    assert not np.array_equal(got, grow_regions(image, seeds, tolerance=6))


def test_sigma_and_max_size_are_in_the_units_of_spacing():
    """Like every segment function: sigma is a length, max_size an area, in spacing's units."""
    image = data.coins()
    seeds = _seeds(image, 3, 9)
    spacing = (0.5, 2.0)
    got = grow_regions(image, seeds, tolerance=6, sigma=1.0, spacing=spacing)
    prefiltered = ndi.gaussian_filter(image.astype(np.float32), (2.0, 0.5))  # 1 / spacing
    np.testing.assert_array_equal(got, grow_regions(prefiltered, seeds, tolerance=6))
    # per-axis sigma too; without spacing it stays in pixels
    np.testing.assert_array_equal(
        grow_regions(image, seeds, tolerance=6, sigma=(1.0, 0.25), spacing=(0.5, 0.5)), got)
    full = grow_region(image, seeds[:1], tolerance=40)
    pixel_area = spacing[0] * spacing[1]
    limit = full.size // 3 * pixel_area  # an area: full.size // 3 pixels of 1 unit² each
    with pytest.warns(RegionSizeWarning, match=f"max_size={limit}"):
        capped = grow_regions(image, seeds[:1], tolerance=40, max_size=limit, spacing=spacing)
    assert np.count_nonzero(capped) == full.size // 3
    region = grow_region(image, seeds[:1], tolerance=40, max_size=limit, spacing=spacing)
    assert region.truncated and region.size == full.size // 3
    assert grow_region(image, seeds[:1], tolerance=40, max_size=limit).size == round(limit)


def test_deprecated_smoothing_keeps_its_pixel_meaning_with_spacing():
    image = data.coins()
    seeds = _seeds(image, 3, 9)
    with pytest.warns(DeprecationWarning, match="use sigma"):
        old = grow_regions(image, seeds, tolerance=6, smoothing=1.5, spacing=(0.5, 2.0))
    np.testing.assert_array_equal(old, grow_regions(image, seeds, tolerance=6, sigma=1.5))
    with pytest.warns(DeprecationWarning, match="use sigma"):
        region = grow_region(image, seeds[:1], tolerance=6, smoothing=1.5, spacing=3.0)
    expected = grow_region(image, seeds[:1], tolerance=6, sigma=4.5, spacing=3.0)
    np.testing.assert_array_equal(region.mask, expected.mask)
    with pytest.raises(ValueError, match="`sigma`"):
        GrowOptions(tolerance=1, sigma=(1.0, -1.0))
    with pytest.raises(ValueError, match="`max_size`"):
        GrowOptions(tolerance=1, max_size=float("inf"))


# ------------------------------------------------------------------------- max_size


def _geodesic_steps(mask: np.ndarray, seed: tuple[int, ...], connectivity: int) -> np.ndarray:
    """Steps from ``seed`` inside ``mask`` by repeated dilation (-1 where unreachable)."""
    footprint = ndi.generate_binary_structure(mask.ndim, connectivity)
    steps = np.full(mask.shape, -1)
    reached = np.zeros(mask.shape, dtype=bool)
    reached[seed] = True
    k = 0
    while True:
        steps[reached & (steps < 0)] = k
        grown = ndi.binary_dilation(reached, footprint) & mask
        if np.array_equal(grown, reached):
            return steps
        reached, k = grown, k + 1


@pytest.mark.parametrize("connectivity", [1, 2])
@pytest.mark.parametrize("fraction", [0.05, 0.6])  # inside the first window / after growing it
def test_max_size_keeps_the_pixels_nearest_the_seed_and_warns(connectivity, fraction, monkeypatch):
    from napari_coco_masks.segment import _window_flood as region_growing

    monkeypatch.setattr(region_growing, "_FIRST_MARGIN", 32)  # a first window to grow out of
    image = data.camera()[:200, :200]
    seed = (150, 100)
    value = int(image[seed])
    full = grow_regions(image, [seed], tolerance=40, connectivity=connectivity) == 1
    assert np.count_nonzero(full) > 10_000
    max_size = int(fraction * np.count_nonzero(full))
    with pytest.warns(RegionSizeWarning, match=rf"max_size={max_size}"):
        got = (
            grow_regions(image, [seed], tolerance=40, connectivity=connectivity, max_size=max_size)
            == 1
        )
    assert np.count_nonzero(got) == max_size
    assert not np.any(got & ~full)
    lo, hi = max(value - 40, 0), min(value + 40, 255)
    steps = _geodesic_steps((image >= lo) & (image <= hi), seed, connectivity)
    last = steps[got].max()
    assert np.all(got[(steps >= 0) & (steps < last)])  # every nearer pixel is kept
    region = grow_region(image, [seed], tolerance=40, connectivity=connectivity, max_size=max_size)
    assert region.truncated and region.size == max_size


def test_max_size_not_reached_gives_no_warning(recwarn):
    image = data.camera()
    grow_regions(image, [[100, 100]], tolerance=5, max_size=10**7)
    assert not [w for w in recwarn if issubclass(w.category, RegionSizeWarning)]


def test_small_region_window_stays_small():
    image = np.zeros((2048, 2048), dtype=np.uint8)
    image[1000:1010, 1000:1010] = 250
    region = grow_region(image, [[1005, 1005]], tolerance=2)
    assert region.size == 100
    assert np.prod(region.mask.shape) < 128 * 128  # the window, not the 4 MP image


# ------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"seeds": [[600, 3]]}, r"`seeds\[0\]` = \(600.0, 3.0\) lies outside the image"),
        ({"seeds": [[1, 2, 3]]}, r"`seeds` \(shape \(1, 3\)\) must be an \(N, 2\)"),
        ({"mode": "otsu"}, r"`mode` = 'otsu'"),
        ({"tolerance": None}, r"needs `tolerance`"),
        ({"lower": 3}, r"either `tolerance`"),
        ({"tolerance": -1}, r"`tolerance` = -1 must be >= 0"),
        ({"connectivity": 3}, r"`connectivity` = 3 must be an int from 1"),
        ({"max_size": 0}, r"`max_size` = 0"),
        ({"labels": [1, 2]}, r"`labels` \(shape \(2,\)\)"),
        ({"mode": "confidence"}, r"belong to mode='range'"),
        ({"tolerance": None, "lower": 9, "upper": 3}, r"`lower` = 9 must not exceed"),
    ],
)
def test_bad_options_name_the_parameter(kwargs, match):
    options = {"seeds": [[1, 2]], "tolerance": 3, **kwargs}
    seeds = options.pop("seeds")
    with pytest.raises(ValueError, match=match):
        grow_regions(data.camera(), seeds, **options)


def test_colour_image_is_rejected_with_advice():
    with pytest.raises(ValueError, match="one channel"):
        grow_regions(np.zeros((4, 4), dtype=complex), [[1, 1]], tolerance=1)


@pytest.mark.parametrize("sparse", [0.0, 2.0])  # always runs / breadth-first after window 1
@pytest.mark.parametrize("small_graph", [0, 10**9])  # SciPy's graph pass / union-find only
def test_both_window_fill_methods_equal_sitk(sparse, small_graph, monkeypatch):
    from napari_coco_masks.segment import _window_flood as region_growing

    monkeypatch.setattr(region_growing, "_SPARSE", sparse)
    monkeypatch.setattr(region_growing, "_SPARSE_PIXELS", 10**9)
    from napari_coco_masks.segment import _runs

    monkeypatch.setattr(_runs, "_SMALL_GRAPH", small_graph)
    monkeypatch.setattr(region_growing, "_FIRST_MARGIN", 32)  # several windows per region
    image = data.camera()
    for connectivity in (1, 2):
        for seed in _seeds(image, 6, 21):
            value = int(image[tuple(seed)])
            expected = _sitk_connected_threshold(
                image, seed, *_clamped(image, value, 25), connectivity == 2
            )
            got = grow_regions(image, [seed], tolerance=25, connectivity=connectivity) == 1
            np.testing.assert_array_equal(got, expected)


def test_union_find_components_equal_scipy():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from napari_coco_masks.segment._runs import roots as union_find

    rng = np.random.default_rng(5)
    for n, m in [(1, 0), (10, 0), (50, 40), (500, 450), (3000, 2990)]:
        first, second = rng.integers(0, n, size=(2, m))
        chain = rng.permutation(n)  # a long path too, the worst case for hooking
        first = np.concatenate([first, chain[:-1]])[: m + n // 2]
        second = np.concatenate([second, chain[1:]])[: m + n // 2]
        roots = union_find(n, first, second)
        graph = coo_matrix((np.ones(first.size), (first, second)), shape=(n, n))
        _, expected = connected_components(graph, directed=False)
        # same partition, each node labelled with the smallest node of its component
        assert np.array_equal(expected[roots], expected)
        for label in np.unique(expected):
            members = np.flatnonzero(expected == label)
            assert np.all(roots[members] == members.min())


def test_region_window_is_the_regions_bounding_box():
    image = data.camera()
    for seed in _seeds(image, 8, 3):
        region = grow_region(image, [seed], tolerance=20)
        assert region.size > 0
        for ax in range(2):
            profile = region.mask.any(axis=1 - ax)
            assert profile[0] and profile[-1]  # the window is tight on every side
        expected = _sitk_connected_threshold(
            image, seed, *_clamped(image, int(image[tuple(seed)]), 20), False
        )
        out = np.zeros(image.shape, dtype=bool)
        out[region.slices] = region.mask
        np.testing.assert_array_equal(out, expected)


def test_no_seeds_give_an_empty_label_image():
    labels = grow_regions(data.camera(), np.empty((0, 2)), tolerance=5)
    assert labels.shape == (512, 512) and labels.dtype == np.uint8 and not labels.any()


@pytest.mark.parametrize("kernel", [True, False])  # scikit-image's kernel / public ``flood``
@pytest.mark.parametrize("connectivity", [1, 2, 3])
def test_breadth_first_fill_equals_flood_in_3d(kernel, connectivity, monkeypatch):
    from napari_coco_masks.segment import _window_flood as region_growing

    if not kernel:
        monkeypatch.setattr(region_growing, "_flood_fill_equal", None)
    rng = np.random.default_rng(connectivity)
    mask = ndi.gaussian_filter(rng.random((20, 30, 25)), 1.5) > 0.5
    seeds = np.argwhere(mask)[rng.integers(0, np.count_nonzero(mask), size=3)]
    seeds = np.vstack([seeds, np.argwhere(~mask)[:1]])  # an out-of-range seed grows nothing
    footprint = ndi.generate_binary_structure(3, connectivity)
    before = mask.copy()
    got = region_growing._fill(mask, seeds, footprint)
    expected = np.zeros(mask.shape, dtype=bool)
    for seed in seeds[:3]:
        expected |= flood(mask, tuple(seed), footprint=footprint)
    np.testing.assert_array_equal(got, expected)
    assert np.count_nonzero(got) > 0 and np.array_equal(mask, before)  # the mask is untouched


def test_without_the_scikit_image_kernel_regions_still_equal_sitk(monkeypatch):
    from napari_coco_masks.segment import _window_flood as region_growing

    monkeypatch.setattr(region_growing, "_flood_fill_equal", None)  # public ``flood`` instead
    monkeypatch.setattr(region_growing, "_flood_fill_tolerance", None)
    monkeypatch.setattr(region_growing, "_FIRST_MARGIN", 32)
    image = data.camera()
    for seed in _seeds(image, 6, 8):
        value = int(image[tuple(seed)])
        expected = _sitk_connected_threshold(image, seed, *_clamped(image, value, 25), False)
        np.testing.assert_array_equal(grow_regions(image, [seed], tolerance=25) == 1, expected)


def test_without_the_tolerance_kernel_the_flag_buffer_fill_still_equals_sitk(monkeypatch):
    from napari_coco_masks.segment import _window_flood as region_growing

    monkeypatch.setattr(region_growing, "_flood_fill_tolerance", None)  # in-range flag buffer
    monkeypatch.setattr(region_growing, "_SPARSE", 2.0)  # breadth-first in every window
    monkeypatch.setattr(region_growing, "_FIRST_MARGIN", 16)
    image = data.camera()
    for seed in _seeds(image, 6, 9):
        value = int(image[tuple(seed)])
        expected = _sitk_connected_threshold(image, seed, *_clamped(image, value, 25), False)
        np.testing.assert_array_equal(grow_regions(image, [seed], tolerance=25) == 1, expected)


def _spiral(size: int) -> np.ndarray:
    """A one-pixel corridor (1) spiralling out from the centre, one-pixel walls (0) between arms."""
    image = np.zeros((size, size), dtype=np.uint8)
    r = c = size // 2
    image[r, c] = 1
    directions = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    length, k = 2, 0
    while True:
        dr, dc = directions[k % 4]
        for _ in range(length):
            r, c = r + dr, c + dc
            if not (0 <= r < size and 0 <= c < size):
                return image
            image[r, c] = 1
        k += 1
        if k % 2 == 0:
            length += 2


@pytest.mark.parametrize("connectivity", [1, 2])
def test_carried_over_fill_follows_a_spiral_out_and_back_in(connectivity, monkeypatch):
    from napari_coco_masks.segment import _window_flood as region_growing

    image = _spiral(121)
    seed = np.array([60, 60])  # the centre: the corridor leaves every window it is grown in
    calls = []
    fill_window = region_growing._fill_window

    def counting(view, lo, seeds, lower, upper, footprint, carry):
        calls.append(carry is not None)
        return fill_window(view, lo, seeds, lower, upper, footprint, carry)

    monkeypatch.setattr(region_growing, "_fill_window", counting)
    monkeypatch.setattr(region_growing, "_SPARSE", 2.0)  # breadth-first in every window
    monkeypatch.setattr(region_growing, "_FIRST_MARGIN", 3)  # many windows
    monkeypatch.setattr(region_growing, "_GROWTH", 2)
    expected = _sitk_connected_threshold(image, seed, 1, 1, connectivity == 2)
    got = grow_regions(image, [seed], lower=1, upper=1, connectivity=connectivity) == 1
    np.testing.assert_array_equal(got, expected)
    assert np.count_nonzero(got) == np.count_nonzero(expected) > 1000
    assert sum(calls) >= 3  # the fill really was carried over several times


@pytest.mark.parametrize("connectivity", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_carried_over_fill_equals_flood_in_3d(connectivity, dtype, monkeypatch):
    from napari_coco_masks.segment import _window_flood as region_growing

    monkeypatch.setattr(region_growing, "_SPARSE", 2.0)  # breadth-first in every window
    monkeypatch.setattr(region_growing, "_FIRST_MARGIN", 2)
    monkeypatch.setattr(region_growing, "_GROWTH", 2)
    rng = np.random.default_rng(10 + connectivity)
    image = (ndi.gaussian_filter(rng.random((24, 30, 28)), 2.0) * 1000 - 500).astype(dtype)
    image[5, :, :] = -30_000  # a wall no range reaches (NaN is refused, see below)
    footprint = ndi.generate_binary_structure(3, connectivity)
    for seed in rng.integers(0, 24, size=(4, 3)):
        value = float(image[tuple(seed)])
        if value == -30_000:
            continue
        lo, hi = cast_bounds(value - 8, value + 8, image.dtype)
        expected = flood((image >= lo) & (image <= hi), tuple(seed), footprint=footprint)
        got = grow_regions(image, [seed], tolerance=8, connectivity=connectivity) == 1
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("connectivity", [1, 2])
def test_fill_carried_over_from_a_runs_window_equals_sitk(connectivity, monkeypatch):
    from napari_coco_masks.segment import _window_flood as region_growing

    order = []
    fill_window, runs_of = region_growing._fill_window, region_growing.Runs.of

    def fill_counting(view, lo, seeds, lower, upper, footprint, carry):
        order.append("carried" if carry is not None else "fresh")
        return fill_window(view, lo, seeds, lower, upper, footprint, carry)

    def runs_counting(mask):
        order.append("runs")
        return runs_of(mask)

    monkeypatch.setattr(region_growing, "_fill_window", fill_counting)
    monkeypatch.setattr(region_growing.Runs, "of", staticmethod(runs_counting))
    monkeypatch.setattr(region_growing, "_FIRST_MARGIN", 8)
    monkeypatch.setattr(region_growing, "_SPARSE", 0.5)  # dense windows -> runs, sparse -> fill
    camera = data.camera()
    for image in (camera, np.ascontiguousarray(camera[::-1, ::-1])):  # windows move both ways
        for seed in _seeds(image, 8, 31):
            value = int(image[tuple(seed)])
            expected = _sitk_connected_threshold(
                image, seed, *_clamped(image, value, 25), connectivity == 2
            )
            got = grow_regions(image, [seed], tolerance=25, connectivity=connectivity) == 1
            np.testing.assert_array_equal(got, expected)
    pairs = set(zip(order, order[1:], strict=False))
    assert ("runs", "carried") in pairs  # a runs window handed its region to the next fill


@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_nan_and_inf_images_are_refused(bad):
    """Issue 13 defect 7: NaN pixels were compared silently (never inside any range)."""
    image = np.full((20, 20), 100.0)
    image[0, :3] = bad
    with pytest.raises(ValueError, match=r"3 NaN or infinite value\(s\).*nan_to_num"):
        grow_regions(image, [[10, 10]], tolerance=5)
    with pytest.raises(ValueError, match="NaN or infinite"):
        grow_region(image, [[10, 10]], tolerance=5)
    finite = np.nan_to_num(image, neginf=0.0)
    assert np.count_nonzero(grow_regions(finite, [[10, 10]], tolerance=5)) == 397


def test_auto_bounds_grow_the_seeds_component_of_the_otsu_mask():
    from skimage.filters import threshold_otsu

    from napari_coco_masks.segment.region_growing import auto_bounds

    image = data.coins()
    t = threshold_otsu(image)
    dark = tuple(int(v) for v in np.argwhere(ndi.uniform_filter(image, 3) < t - 40)[0])
    for seed in ((120, 45), dark):
        lower, upper = auto_bounds(image, [seed])
        got = grow_regions(image, [seed], lower=lower, upper=upper) == 1
        # flood fills the seed's connected run of equal mask values: its side of Otsu
        np.testing.assert_array_equal(got, flood(image > t, seed, connectivity=1))
        assert got.sum() > 1000
    assert image[dark] <= t < image[120, 45]
    assert auto_bounds(np.full((4, 4), 7.0), [[1, 1]]) == (7.0, 7.0)


def test_options_object_and_keywords_are_one_signature():
    image = data.coins()
    seeds = _seeds(image, 3, 9)
    options = GrowOptions(mode="confidence", multiplier=2.0, iterations=2)
    np.testing.assert_array_equal(
        grow_regions(image, seeds, options),
        grow_regions(image, seeds, mode="confidence", multiplier=2.0, iterations=2),
    )
    region = grow_region(image, seeds[:1], options, max_size=50)  # a keyword changes one field
    assert region.truncated and region.size == 50
    with pytest.raises(TypeError, match="unknown region growing option\\(s\\): toleranse"):
        grow_regions(image, seeds, toleranse=3)
    with pytest.raises(AttributeError):
        options.mode = "range"  # type: ignore[misc]
