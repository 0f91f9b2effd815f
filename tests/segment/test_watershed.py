"""Tests for napari_coco_masks.segment.watershed against generated truth and scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.filters import sobel
from skimage.segmentation import watershed as sk_watershed

from napari_coco_masks.segment.watershed import (
    iter_split_touching,
    iter_watershed,
    split_touching,
    watershed,
)


def balls(
    shape: tuple[int, ...],
    centres: np.ndarray,
    radii: np.ndarray,
    spacing: tuple[float, ...] | None = None,
) -> np.ndarray:
    """Truth labels of (possibly overlapping) balls given in physical units.

    A pixel covered by several balls goes to the one whose centre is nearest relative to its
    radius, so the truth boundaries between touching balls are where a split should cut.
    """
    spacing = np.ones(len(shape)) if spacing is None else np.asarray(spacing, float)
    grid = np.indices(shape).reshape(len(shape), -1).T * spacing
    rel = np.linalg.norm(grid[:, None, :] - centres[None], axis=2) / radii[None]
    best = rel.argmin(axis=1)
    inside = rel[np.arange(len(grid)), best] <= 1
    return np.where(inside, best + 1, 0).reshape(shape).astype(np.int32)


def touching_disks(seed: int = 0) -> np.ndarray:
    """A 2D grid of 12 disks of radius 9-12 whose neighbours overlap (touching objects)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.meshgrid(np.arange(3) * 19 + 14, np.arange(4) * 19 + 14, indexing="ij")
    centres = np.stack([ys.ravel(), xs.ravel()], axis=1) + rng.uniform(-1.5, 1.5, (12, 2))
    radii = rng.uniform(9, 12, 12)
    return balls((66, 85), centres, radii)


def match_iou(truth: np.ndarray, found: np.ndarray) -> tuple[int, float]:
    """Return (number of objects matched one-to-one by best overlap, mean IoU over the truth)."""
    ious, matched = [], set()
    for value in range(1, int(truth.max()) + 1):
        obj = truth == value
        hit = np.bincount(found[obj], minlength=int(found.max()) + 1)
        hit[0] = 0
        best = int(hit.argmax())
        union = np.count_nonzero(obj | (found == best))
        ious.append(hit[best] / union if best else 0.0)
        if best:
            matched.add(best)
    return len(matched), float(np.mean(ious))


def test_split_touching_disks_count_and_iou():
    truth = touching_disks()
    assert ndi.label(truth > 0)[1] < truth.max()  # the disks really touch
    found = split_touching(truth > 0, min_distance=5)
    matched, iou = match_iou(truth, found)
    assert found.max() == truth.max() == 12
    assert matched == 12
    assert iou > 0.9
    assert found.dtype == np.int32
    np.testing.assert_array_equal(found > 0, truth > 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_split_touching_disks_other_layouts(seed):
    truth = touching_disks(seed)
    found = split_touching(truth > 0, min_distance=5)
    matched, iou = match_iou(truth, found)
    assert (found.max(), matched) == (12, 12)
    assert iou > 0.9


def test_split_touching_3d_balls():
    centres = np.array([[10.0, 10, 10], [10, 10, 25], [10, 24, 17]])
    truth = balls((21, 36, 36), centres, np.array([8.0, 8, 7.5]))
    assert ndi.label(truth > 0)[1] == 1
    found = split_touching(truth > 0, min_distance=4)
    matched, iou = match_iou(truth, found)
    assert (found.max(), matched) == (3, 3)
    assert iou > 0.9


def test_split_touching_anisotropic_spacing():
    # physical balls sampled with a z step of 3: in pixels they are flat ellipsoids
    spacing = (3.0, 1.0, 1.0)
    centres = np.array([[15.0, 12, 12], [15, 12, 29], [33, 12, 20]])
    truth = balls((17, 25, 42), centres, np.array([10.0, 10, 10]), spacing)
    assert ndi.label(truth > 0)[1] == 1
    found = split_touching(truth > 0, min_distance=6, spacing=spacing)
    matched, iou = match_iou(truth, found)
    assert (found.max(), matched) == (3, 3)
    assert iou > 0.9
    # the isotropic distance of the same voxels is a different relief (sanity of the test)
    iso = ndi.distance_transform_edt(truth > 0)
    aniso = ndi.distance_transform_edt(truth > 0, sampling=spacing)
    assert not np.allclose(iso, aniso)


def test_min_distance_is_in_physical_units():
    truth = touching_disks()
    pixels = split_touching(truth > 0, min_distance=6)
    physical = split_touching(truth > 0, min_distance=3, spacing=(0.5, 0.5))
    np.testing.assert_array_equal(pixels, physical)


def test_large_min_distance_merges_markers_of_one_object():
    truth = touching_disks()
    found = split_touching(truth > 0, min_distance=60)
    # one object per connected component: nothing is split
    _, n_components = ndi.label(truth > 0)
    assert found.max() == n_components


def test_h_maxima_stops_shallow_splits():
    centres = np.array([[30.0, 25], [30, 52]])
    truth = balls((60, 80), centres, np.array([20.0, 12.0]))
    distance = ndi.distance_transform_edt(truth > 0)
    # dynamic of the small disk's maximum: its height above the saddle towards the big one
    dynamic = distance[30, 52] - distance[30, 25:53].min()
    assert dynamic > 1
    assert split_touching(truth > 0, min_distance=3).max() == 2
    assert split_touching(truth > 0, min_distance=3, h=0.5 * dynamic).max() == 2
    assert split_touching(truth > 0, min_distance=3, h=1.5 * dynamic).max() == 1


@pytest.mark.parametrize("h", [0.7, 2.0, 3.5])
def test_fast_h_maxima_equals_skimage(h):
    from skimage.morphology import h_maxima

    from napari_coco_masks.segment._split import _h_maxima

    truth = np.concatenate([touching_disks(0), touching_disks(1)], axis=1)
    distance = ndi.distance_transform_edt(truth > 0)
    objects, _ = ndi.label(truth > 0)
    expected = h_maxima(distance, h).astype(bool) & (distance > 0)
    np.testing.assert_array_equal(_h_maxima(distance, objects, h), expected)


def test_labels_are_split_per_label_and_never_merge():
    # label 1 holds two touching disks; label 2 is a disk touching label 1
    truth = balls((50, 80), np.array([[25.0, 15], [25, 35], [25, 60]]), np.array([11.0, 11, 14]))
    labels = np.where(truth == 3, 2, np.where(truth > 0, 1, 0)).astype(np.uint16)
    found = split_touching(labels, min_distance=5)
    assert found.max() == 3
    for value in range(1, 4):
        assert len(np.unique(labels[found == value])) == 1  # each object in one input label
    matched, iou = match_iou(truth, found)
    assert matched == 3
    assert iou > 0.9


def test_labels_without_contact_take_the_fast_path_with_same_result():
    truth = touching_disks()
    labels = np.where(truth > 0, 7, 0).astype(np.int64)
    labels[:, 60:] = np.where(truth[:, 60:] > 0, 9, 0)
    labels[:, 59] = 0  # the two labels no longer touch
    found = split_touching(labels, min_distance=5)
    for value in range(1, found.max() + 1):
        assert len(np.unique(labels[found == value])) == 1
    np.testing.assert_array_equal(found > 0, labels > 0)


def test_split_touching_time_series_per_frame_unique_ids():
    a, b = touching_disks(0) > 0, touching_disks(1) > 0
    stack = np.stack([a, b])
    found = split_touching(stack, min_distance=5, frame_axis=0)
    first = split_touching(a, min_distance=5)
    second = split_touching(b, min_distance=5)
    np.testing.assert_array_equal(found[0], first)
    np.testing.assert_array_equal(found[1], np.where(second > 0, second + first.max(), 0))
    moved = split_touching(np.moveaxis(stack, 0, 2), min_distance=5, frame_axis=2)
    np.testing.assert_array_equal(np.moveaxis(moved, 2, 0), found)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.uint64, np.int64])
def test_split_touching_label_dtypes(dtype):
    truth = touching_disks()
    labels = np.where(truth > 0, 3, 0).astype(dtype)
    labels[:, 60:] = np.where(truth[:, 60:] > 0, 5, 0)
    expected = split_touching(labels.astype(np.int32), min_distance=5)
    np.testing.assert_array_equal(split_touching(labels, min_distance=5), expected)
    assert expected.max() == 12


def test_dask_inputs_match_numpy():
    import dask.array as da

    truth = touching_disks()
    stack = np.stack([truth > 0, truth > 0])
    lazy = da.from_array(stack, chunks=(1, 33, 85))
    np.testing.assert_array_equal(
        split_touching(lazy, min_distance=5, frame_axis=0),
        split_touching(stack, min_distance=5, frame_axis=0),
    )
    image = np.stack([noisy_blobs((66, 85), seed=s) for s in (0, 1)])
    mask = np.ones(image.shape, bool)
    mask[:, :, -5:] = False
    points = np.array([[0, 5, 5], [1, 40, 60]])
    np.testing.assert_array_equal(
        watershed(da.from_array(image), points, mask=da.from_array(mask), frame_axis=0),
        watershed(image, points, mask=mask, frame_axis=0),
    )


def test_empty_mask_gives_empty_labels():
    assert not split_touching(np.zeros((8, 9), bool)).any()


def test_iter_split_touching_reports_progress():
    stack = np.stack([touching_disks(0) > 0] * 3)
    steps = iter_split_touching(stack, min_distance=5, frame_axis=0)
    ticks = []
    while True:
        try:
            ticks.append(next(steps))
        except StopIteration as stop:
            result = stop.value
            break
    assert ticks == [(1, 3), (2, 3), (3, 3)]
    assert result.shape == stack.shape


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mask": np.ones((4, 4, 4, 4), bool)}, "pass `frame_axis`"),
        ({"mask": np.ones(5, bool)}, "must be 2D or 3D, got 1D"),
        ({"mask": np.ones((4, 4), float)}, "threshold an intensity image"),
        ({"mask": np.ones((4, 4), bool), "spacing": (1.0, 2, 3)}, "one per spatial axis"),
        ({"mask": np.ones((4, 4), bool), "spacing": (1.0, -2)}, "positive finite"),
        ({"mask": np.ones((4, 4), bool), "min_distance": 0}, "`min_distance` must be a positive"),
        ({"mask": np.ones((4, 4), bool), "h": -1}, "`h` must be a positive"),
        ({"mask": -np.ones((4, 4), int)}, "non-negative"),
        ({"mask": np.ones((4, 4), bool), "frame_axis": 0}, "3D or 4D with `frame_axis`"),
        ({"mask": np.ones((3, 4, 4), bool), "frame_axis": 3}, "out of range"),
    ],
)
def test_split_touching_bad_input(kwargs, match):
    mask = kwargs.pop("mask")
    with pytest.raises(ValueError, match=match):
        split_touching(mask, **kwargs)


# ---------------------------------------------------------------------------------------------
# seeded watershed
# ---------------------------------------------------------------------------------------------


def noisy_blobs(shape=(40, 50), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.normal(size=shape), 2.0)


def test_watershed_equals_skimage_label_markers():
    image = noisy_blobs()
    markers = np.zeros(image.shape, np.int32)
    markers[5, 5], markers[30, 40], markers[20, 25:28] = 3, 8, 5
    mask = np.ones(image.shape, bool)
    mask[:, -6:] = False
    for compactness in (0.0, 0.01):
        expected = sk_watershed(image, markers, mask=mask, compactness=compactness)
        found = watershed(image, markers, mask=mask, compactness=compactness)
        np.testing.assert_array_equal(found, expected)
        assert set(np.unique(found)) == {0, 3, 5, 8}


def test_watershed_points_equal_skimage_with_painted_markers():
    image = noisy_blobs(seed=1)
    points = np.array([[4.2, 6.7], [33.4, 40.1], [20.0, 10.6]])
    markers = np.zeros(image.shape, np.int32)
    for i, (r, c) in enumerate(np.round(points).astype(int)):
        markers[r, c] = i + 1
    expected = sk_watershed(image, markers)
    np.testing.assert_array_equal(watershed(image, points), expected)
    assert watershed(image, points).max() == 3  # one object per point


def test_watershed_gradient_equals_skimage_on_sobel():
    image = noisy_blobs(seed=2)
    markers = np.zeros(image.shape, np.int32)
    markers[3, 3], markers[35, 45] = 1, 2
    expected = sk_watershed(sobel(image), markers, compactness=0.001)
    found = watershed(image, markers, gradient=True, compactness=0.001)
    np.testing.assert_array_equal(found, expected)
    assert not np.array_equal(found, watershed(image, markers, compactness=0.001))


def test_watershed_3d_equals_skimage():
    image = noisy_blobs((12, 20, 22), seed=3)
    points = np.array([[2, 3, 4], [9, 15, 18]])
    markers = np.zeros(image.shape, np.int32)
    markers[2, 3, 4], markers[9, 15, 18] = 1, 2
    np.testing.assert_array_equal(watershed(image, points), sk_watershed(image, markers))


def test_watershed_time_series_per_frame():
    frames = np.stack([noisy_blobs(seed=4), noisy_blobs(seed=5)])
    points = np.array([[0, 5, 5], [0, 30, 30], [1, 10, 40]])
    found = watershed(frames, points, frame_axis=0)
    m0 = np.zeros(frames.shape[1:], np.int32)
    m0[5, 5], m0[30, 30] = 1, 2
    m1 = np.zeros(frames.shape[1:], np.int32)
    m1[10, 40] = 3
    np.testing.assert_array_equal(found[0], sk_watershed(frames[0], m0))
    np.testing.assert_array_equal(found[1], sk_watershed(frames[1], m1))
    label_markers = np.stack([m0, m1])
    np.testing.assert_array_equal(watershed(frames, label_markers, frame_axis=0), found)
    ticks = list(iter_watershed(frames, points, frame_axis=0))
    assert ticks == [(1, 2), (2, 2)]


def test_watershed_frame_without_markers_stays_empty():
    frames = np.stack([noisy_blobs(seed=4), noisy_blobs(seed=5)])
    found = watershed(frames, np.array([[1, 5, 5]]), frame_axis=0)
    assert not found[0].any()
    assert (found[1] == 1).all()


def _bad_watershed_cases():
    image = noisy_blobs((10, 12))
    mask = np.zeros(image.shape, bool)
    mask[:5] = True
    labels = np.zeros(image.shape, np.int32)
    labels[8, 8] = 1
    return [
        (image, np.zeros(image.shape, np.int32), {}, "empty"),
        (image, np.zeros((0, 2)), {}, "no points"),
        (
            image,
            np.array([[1.0, 2.0], [10.2, 3.0]]),
            {},
            "1 of 2 marker points lie outside the image",
        ),
        (image, np.array([[1.0, -0.7]]), {}, "outside the image"),
        (image, np.array([[1.0, 2.0], [8.0, 3.0]]), {"mask": mask}, "outside `mask`"),
        (image, labels, {"mask": mask}, "1 marker pixels lie outside `mask`"),
        (image, np.array([[1.0, 2.0, 3.0]]), {}, "3 coordinates but `image` is 2D"),
        (image, np.array([[1.0, 2.0], [1.2, 1.9]]), {}, "same pixel"),
        (image, np.ones((3, 3), np.int32), {}, "must be a label image of the shape"),
        (image, labels, {"mask": np.ones((3, 3), bool)}, r"`mask` \(shape \(3, 3\)\)"),
        (image, np.array([[np.nan, 1.0]]), {}, "NaN"),
        (image, labels, {"compactness": -1}, "compactness"),
        (image.astype(complex), labels, {}, "real-valued"),
        (np.zeros((2, 3, 4, 5)), np.array([[0, 0, 0, 0]]), {}, "pass `frame_axis`"),
        (image, labels.astype(float), {}, "must be integer"),
    ]


@pytest.mark.parametrize(("image", "markers", "kwargs", "match"), _bad_watershed_cases())
def test_watershed_bad_input(image, markers, kwargs, match):
    with pytest.raises(ValueError, match=match):
        watershed(image, markers, **kwargs)


def test_benchmark_quick_smoke():
    """The benchmark runs in quick mode and both pipelines find every generated disk."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "benchmarks" / "bench_watershed.py"
    spec = importlib.util.spec_from_file_location("bench_watershed", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(quick=True)
    assert len(rows) == 2
    for row in rows:
        assert row["found"] == row["found_reference"] == row["objects"]
        assert row["components"] < row["objects"]  # the disks touch
        assert row["iou"] > 0.9
        assert row["ratio"] > 0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_watershed_refuses_nan_and_inf_images(bad):
    """Issue 13 defect 7: NaN flooded silently (scikit-image gives arbitrary labels)."""
    image = ndi.gaussian_filter(np.random.default_rng(0).normal(size=(30, 30)), 2)
    image[3:5, 3:5] = bad
    with pytest.raises(ValueError, match=r"4 NaN or infinite value\(s\).*nan_to_num"):
        watershed(image, [[15, 15], [25, 25]])
    movie = np.stack([np.where(np.isfinite(image), image, 0), image])
    with pytest.raises(ValueError, match=r"value\(s\) in frame 1"):
        watershed(movie, [[0, 15, 15], [1, 25, 25]], frame_axis=0)
