"""Tests for napari_coco_masks.segment.measure against scikit-image and pycocotools."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from pycocotools import mask as mask_utils
from skimage.data import binary_blobs, coins
from skimage.draw import disk, ellipse
from skimage.measure import label as sk_label
from skimage.measure import marching_cubes, mesh_surface_area, regionprops_table
from skimage.morphology import ball

from napari_coco_masks.coco.geometry import coco_polygon_to_napari
from napari_coco_masks.segment.measure import (
    join_features,
    measure,
    measure_shapes,
    summarize,
    unit_label,
)

#: pycocotools 2.0.x decodes through a numpy-1-style ``__array__`` (its warning, not ours).
PYCOCOTOOLS_NUMPY2 = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

PROPS_2D = [
    "label", "area", "perimeter", "equivalent_diameter_area", "axis_major_length",
    "axis_minor_length", "eccentricity", "orientation", "solidity", "centroid", "bbox",
    "intensity_mean", "intensity_min", "intensity_max", "intensity_std",
]
PROPS_3D = [p for p in PROPS_2D if p not in ("perimeter", "eccentricity", "orientation")]


@pytest.fixture
def coins_labels() -> tuple[np.ndarray, np.ndarray]:
    """A real image cut small: skimage's coins thresholded and labelled (~20 objects)."""
    image = coins()[:150, :200]
    return sk_label(image > 110), image


def assert_same_as_skimage(df: pd.DataFrame, ref: dict[str, np.ndarray]) -> None:
    assert len(df) == len(ref["label"]) > 0
    for name, values in ref.items():
        np.testing.assert_allclose(df[name].to_numpy(), values, rtol=1e-9, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.25, 0.25), (3.0, 3.0)])
def test_2d_equals_regionprops_table(coins_labels, spacing):
    labels, image = coins_labels
    ref = regionprops_table(labels, image, properties=PROPS_2D, spacing=spacing)
    df = measure(labels, image, spacing=spacing, units="µm")
    assert_same_as_skimage(df, ref)
    # circularity and roundness follow their definitions from the same columns
    np.testing.assert_allclose(df["circularity"], 4 * np.pi * df["area"] / df["perimeter"] ** 2)
    np.testing.assert_allclose(df["roundness"], 4 * df["area"] / (np.pi * df["axis_major_length"] ** 2))
    assert df.attrs["units"]["orientation"] == "rad" and df.attrs["units"]["roundness"] == ""


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.5, 2.0)])
def test_feret_diameter_equals_regionprops_table(coins_labels, spacing):
    labels, _ = coins_labels
    ref = regionprops_table(labels, properties=["label", "feret_diameter_max"], spacing=spacing)
    df = measure(labels, spacing=spacing, units="µm", properties=["feret_diameter_max"])
    assert_same_as_skimage(df, ref)
    assert df.attrs["units"]["feret_diameter_max"] == "µm"


def test_feret_diameter_3d_equals_regionprops_table():
    volume = np.zeros((12, 14, 16), np.uint8)
    volume[2:9, 3:7, 4:14] = 1
    volume[9:11, 8:12, 1:3] = 2
    ref = regionprops_table(volume, properties=["label", "feret_diameter_max"], spacing=(2, 1, 1))
    df = measure(volume, spacing=(2, 1, 1), properties=["feret_diameter_max"])
    assert_same_as_skimage(df, ref)


def _brute_force_width(points, angles=20000):
    """The narrowest extent of ``points`` over many directions (an upper bound, tight)."""
    theta = np.linspace(0, np.pi, angles, endpoint=False)
    directions = np.column_stack([np.cos(theta), np.sin(theta)])
    extent = np.asarray(points, float) @ directions.T
    return (extent.max(axis=0) - extent.min(axis=0)).min()


def test_min_width_of_exact_rectangles_and_random_points():
    from napari_coco_masks.segment.measure._crop_shapes import min_width

    corners = np.array([[0, 0], [3, 0], [3, 7], [0, 7]], float)
    assert min_width(corners) == pytest.approx(3.0)
    angle = np.deg2rad(33)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert min_width(corners @ rot.T + [5, -2]) == pytest.approx(3.0)
    assert min_width([[0, 0], [1, 1], [2, 2]]) == 0.0  # collinear
    rng = np.random.default_rng(0)
    for _ in range(20):
        points = rng.normal(size=(40, 2)) * rng.uniform(0.2, 5, size=2)
        exact = min_width(points)
        brute = _brute_force_width(points)
        assert exact <= brute + 1e-12 and brute - exact < 1e-3 * brute


def test_feret_diameter_min_of_rectangles_in_physical_units():
    labels = np.zeros((30, 40), np.uint8)
    labels[5:9, 10:30] = 1  # 4 rows x 20 columns
    df = measure(labels, spacing=(2.0, 1.0), units="µm",
                 properties=["feret_diameter_min", "feret_diameter_max"])
    # the hull contour runs half a pixel outside the pixel centres: 4 rows -> 4 * 2 µm
    assert df["feret_diameter_min"].iloc[0] == pytest.approx(8.0)
    assert df.attrs["units"]["feret_diameter_min"] == "µm"
    df = measure(labels, spacing=(1.0, 0.1), properties=["feret_diameter_min"])
    assert df["feret_diameter_min"].iloc[0] == pytest.approx(20 * 0.1)  # across the columns now


def test_feret_diameter_min_of_a_rotated_rectangle_matches_brute_force():
    from skimage.draw import polygon

    from napari_coco_masks.segment.measure._crop_shapes import feret_points

    angle = np.deg2rad(25)
    u, v = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
    centre = np.array([40.0, 40.0])
    corners = np.array([centre + a * 25 * u + b * 6 * v for a, b in
                        [(-1, -1), (1, -1), (1, 1), (-1, 1)]])
    labels = np.zeros((80, 80), np.uint8)
    labels[polygon(corners[:, 0], corners[:, 1], labels.shape)] = 1
    for spacing in [(1.0, 1.0), (0.7, 1.3)]:
        df = measure(labels, spacing=spacing, properties=["feret_diameter_min"])
        value = df["feret_diameter_min"].iloc[0]
        # independent: brute force over angles on the same boundary points
        points = feret_points(labels.astype(bool), spacing)
        assert value == pytest.approx(_brute_force_width(points), rel=1e-3)
        # and the drawn rectangle's true width (12 px across) in physical units: the hull image
        # (scikit-image's, of pixel corners) and its 0.5 contour add under 2 pixels
        width = _brute_force_width(corners * spacing)
        assert width < value < width + 2 * max(spacing)
    assert measure(labels, properties=["feret_diameter_min"])["feret_diameter_min"].iloc[0] < (
        measure(labels, properties=["feret_diameter_max"])["feret_diameter_max"].iloc[0])


def test_feret_diameter_min_is_2d_only_and_in_the_default_table(coins_labels):
    labels, _ = coins_labels
    assert "feret_diameter_min" in measure(labels).columns
    volume = np.zeros((4, 5, 6), np.uint8)
    volume[1:3, 1:4, 1:5] = 1
    assert "feret_diameter_min" not in measure(volume).columns
    with pytest.raises(ValueError, match="2D objects only"):
        measure(volume, properties=["feret_diameter_min"])


def test_orientation_and_roundness_of_known_shapes():
    """An ellipse tilted by 30° from the rows axis, and a disc (roundness 1)."""
    yy, xx = np.mgrid[-40:41, -40:41].astype(float)
    angle = np.deg2rad(30)
    u = yy * np.cos(angle) + xx * np.sin(angle)  # along the major axis
    v = -yy * np.sin(angle) + xx * np.cos(angle)
    labels = ((u / 30) ** 2 + (v / 10) ** 2 <= 1).astype(np.uint8)
    labels[(yy**2 + xx**2 <= 64) & (labels == 0)] = 0
    df = measure(labels, properties=["orientation", "roundness"])
    assert df["orientation"].iloc[0] == pytest.approx(angle, abs=0.01)
    assert df["roundness"].iloc[0] == pytest.approx(10 / 30, rel=0.03)
    disc = (yy**2 + xx**2 <= 30**2).astype(np.uint8)
    assert measure(disc, properties=["roundness"])["roundness"].iloc[0] == pytest.approx(1, abs=0.01)


def test_whole_image_path_equals_regionprops_table(coins_labels):
    """Without crop-only properties (perimeter, solidity) all objects are measured at once with
    bincount instead of crop by crop: same values."""
    labels, image = coins_labels
    props = [p for p in PROPS_2D if p not in ("perimeter", "solidity")]
    ref = regionprops_table(labels, image, properties=props, spacing=(0.5, 2.0))
    df = measure(labels, image, spacing=(0.5, 2.0), properties=props)
    assert_same_as_skimage(df, ref)


def test_2d_anisotropic_equals_regionprops_except_perimeter(coins_labels):
    labels, image = coins_labels
    props = [p for p in PROPS_2D if p != "perimeter"]  # skimage refuses anisotropic perimeter
    ref = regionprops_table(labels, image, properties=props, spacing=(0.5, 2.0))
    df = measure(labels, image, spacing=(0.5, 2.0))
    assert_same_as_skimage(df, ref)


@pytest.mark.filterwarnings("ignore:Failed to get convex hull image:UserWarning")
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_3d_equals_regionprops_table():
    rng = np.random.default_rng(1)
    labels = sk_label(binary_blobs(24, blob_size_fraction=0.1, n_dim=3, volume_fraction=0.3, rng=1))
    image = rng.random(labels.shape)
    spacing = (2.0, 0.5, 0.5)
    ref = regionprops_table(labels, image, properties=PROPS_3D, spacing=spacing)
    df = measure(labels, image, spacing=spacing, units="µm")
    keep = np.isfinite(ref["solidity"])  # skimage gives inf for objects qhull cannot hull
    assert keep.sum() >= 3
    for name, values in ref.items():
        np.testing.assert_allclose(df[name].to_numpy()[keep], values[keep], rtol=1e-9, atol=1e-9)
    # flat objects (one voxel thick) are hulled in their plane instead of giving infinity
    assert (~keep).any()
    assert np.all((df["solidity"][~keep] > 0) & (df["solidity"][~keep] <= 1))
    assert df.attrs["units"]["area"] == "µm³"
    assert df.attrs["units"]["surface_area"] == "µm²"
    assert "perimeter" not in df and "eccentricity" not in df


def test_3d_surface_area_of_a_ball_matches_marching_cubes_and_sphere():
    r, s = 10, 0.5
    volume = np.pad(ball(r), 2).astype(np.int32)
    df = measure(volume, spacing=s)
    verts, faces, _, _ = marching_cubes(np.pad(volume, 1).astype(float), 0.5, spacing=(s,) * 3)
    assert df["surface_area"].iloc[0] == pytest.approx(mesh_surface_area(verts, faces))
    # a voxelised ball's marching-cubes mesh is ~9 % larger than the sphere (staircase)
    assert df["surface_area"].iloc[0] == pytest.approx(4 * np.pi * (r * s) ** 2, rel=0.12)
    assert df["area"].iloc[0] == pytest.approx(4 / 3 * np.pi * (r * s) ** 3, rel=0.05)


@pytest.mark.parametrize(("r", "s"), [(20, 0.5), (35, 2.0)])
def test_disk_area_is_pi_r2_s2(r, s):
    labels = np.zeros((2 * r + 11, 2 * r + 11), np.uint8)
    labels[disk((r + 5, r + 5), r)] = 7
    df = measure(labels, spacing=(s, s), units="mm")
    row = df.iloc[0]
    assert row["label"] == 7
    assert row["area"] == pytest.approx(np.pi * r**2 * s**2, rel=0.02)
    assert row["equivalent_diameter_area"] == pytest.approx(2 * r * s, rel=0.01)
    assert row["perimeter"] == pytest.approx(2 * np.pi * r * s, rel=0.05)
    assert row["circularity"] == pytest.approx(1.0, abs=0.1)
    assert row["centroid-0"] == pytest.approx((r + 5) * s)
    assert df.attrs["units"]["area"] == "mm²"
    assert df.attrs["units"]["perimeter"] == "mm"


def test_anisotropic_perimeter_of_a_stretched_disk_is_an_ellipse():
    """The anisotropic perimeter (contour length) of a disk of radius r at spacing (1, 3) is the
    perimeter of an ellipse with semi-axes r and 3r, within the staircase error of a contour."""
    r = 30
    labels = np.zeros((2 * r + 5, 2 * r + 5), np.int32)
    labels[disk((r + 2, r + 2), r)] = 1
    a, b = r, 3 * r
    h = ((a - b) / (a + b)) ** 2
    ellipse_perimeter = np.pi * (a + b) * (1 + 3 * h / (10 + np.sqrt(4 - 3 * h)))
    df = measure(labels, spacing=(1, 3))
    assert df["perimeter"].iloc[0] == pytest.approx(ellipse_perimeter, rel=0.05)
    assert df["area"].iloc[0] == pytest.approx(np.pi * a * b, rel=0.02)


def _coco_annotations(h: int, w: int) -> list[dict]:
    """A small COCO annotation list: two polygons (one concave) and one RLE with a hole."""
    hole = np.zeros((h, w), np.uint8, order="F")
    hole[ellipse(40, 60, 15, 25)] = 1
    hole[ellipse(40, 60, 5, 8)] = 0
    rle = mask_utils.encode(np.asfortranarray(hole))
    rle["counts"] = rle["counts"].decode("ascii")
    return [
        {"id": 11, "category_id": 1, "iscrowd": 0, "segmentation": [[5, 5, 30.5, 5, 30.5, 20, 5, 22]]},
        {"id": 12, "category_id": 2, "iscrowd": 0,
         "segmentation": [[70, 60, 95, 60, 95, 90, 82, 70, 70, 90]]},
        {"id": 13, "category_id": 2, "iscrowd": 1, "segmentation": rle},
    ]


@PYCOCOTOOLS_NUMPY2
def test_coco_masks_area_equals_pycocotools_area_times_pixel_area():
    h, w = 100, 120
    anns = _coco_annotations(h, w)
    labels = np.zeros((h, w), np.int32)
    rles = []
    for k, ann in enumerate(anns):
        seg = ann["segmentation"]
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w)) if isinstance(seg, list) else seg
        rles.append(rle)
        labels[mask_utils.decode(rle).astype(bool)] = k + 1
    spacing = (0.2, 0.2)
    df = measure(labels, spacing=spacing, units="µm")
    expected = mask_utils.area(rles) * spacing[0] * spacing[1]
    np.testing.assert_allclose(df["area"].to_numpy(), expected)
    assert df["label"].tolist() == [1, 2, 3]


def test_frame_axis_adds_frame_column_and_measures_each_frame(coins_labels):
    labels, image = coins_labels
    stack = np.stack([labels, np.where(labels == 3, 0, labels), labels[::-1]])
    images = np.stack([image, image, image[::-1]])
    df = measure(stack, images, spacing=(5.0, 0.5, 0.5), units=("s", "µm", "µm"), frame_axis=0)
    assert df.columns[0] == "frame"
    for t in range(3):
        ref = regionprops_table(stack[t], images[t], properties=PROPS_2D, spacing=(0.5, 0.5))
        assert_same_as_skimage(df[df["frame"] == t].reset_index(drop=True), ref)
    assert 3 not in df.loc[df["frame"] == 1, "label"].tolist()
    assert df.attrs["units"]["centroid-1"] == "µm"


def test_dask_and_sparse_label_values_give_the_same_rows(coins_labels):
    labels, image = coins_labels
    ref = measure(labels, image)
    lazy = measure(da.from_array(labels, chunks=64), da.from_array(image, chunks=64))
    pd.testing.assert_frame_equal(lazy, ref)
    for sparse in (labels.astype(np.int64) * 10**9, labels + 90000):  # unique / lookup table
        sparse = np.where(labels > 0, sparse, 0)
        big = measure(sparse, image)
        assert big["label"].tolist() == np.unique(sparse[sparse > 0]).tolist()
        for col in ref.columns.drop("label"):
            np.testing.assert_allclose(big[col], ref[col], err_msg=col)


def test_properties_subset_and_units_without_spacing(coins_labels):
    labels, _ = coins_labels
    df = measure(labels, properties=["area", "centroid"])
    assert list(df.columns) == ["label", "area", "centroid-0", "centroid-1"]
    assert df.attrs["units"] == {"label": "", "area": "px²", "centroid-0": "px", "centroid-1": "px"}
    assert unit_label("area", "px²") == "area [px²]"
    assert unit_label("eccentricity", "") == "eccentricity"


def test_empty_labels_give_empty_frame():
    df = measure(np.zeros((10, 10), np.uint8), np.ones((10, 10)))
    assert len(df) == 0
    assert "intensity_mean" in df.columns


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"labels": np.zeros((4, 4), float)}, "`labels` must be an integer"),
        ({"labels": np.zeros((4, 4), int), "intensity": np.zeros((4, 5))}, r"`intensity` \(shape"),
        ({"labels": np.zeros((4, 4), int), "spacing": (1, 2, 3)}, "`spacing`"),
        ({"labels": np.zeros((4, 4), int), "spacing": (1, -2)}, "positive finite pixel size"),
        ({"labels": np.zeros((4, 4), int), "properties": ["volume"]}, "unknown names"),
        ({"labels": np.zeros((4, 4, 4), int), "properties": ["perimeter"]}, "2D objects only"),
        ({"labels": np.zeros((4, 4), int), "properties": ["intensity_mean"]}, "need an `intensity`"),
        ({"labels": np.full((4, 4), -1)}, "negative"),
        ({"labels": np.zeros((4, 4), int), "frame_axis": 2}, "`frame_axis`"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, match):
    labels = kwargs.pop("labels")
    with pytest.raises(ValueError, match=match):
        measure(labels, **kwargs)


def test_measure_shapes_square_triangle_and_units():
    square = np.array([[0, 0], [0, 10], [10, 10], [10, 0]], float)
    triangle = np.array([[0, 0], [0, 4], [3, 0]], float)
    df = measure_shapes([square, triangle], spacing=(0.5, 2.0), units="µm")
    assert df["area"].tolist() == pytest.approx([10 * 0.5 * 10 * 2.0, 0.5 * 4 * 2.0 * 3 * 0.5])
    assert df["perimeter"].iloc[0] == pytest.approx(2 * (5 + 20))
    assert df["perimeter"].iloc[1] == pytest.approx(8 + 1.5 + np.hypot(8, 1.5))
    assert df[["centroid-0", "centroid-1"]].iloc[0].tolist() == pytest.approx([2.5, 10])
    assert df.attrs["units"]["area"] == "µm²"
    far = measure_shapes([square + 1e8])  # no cancellation far from the origin
    assert far["area"].iloc[0] == 100.0
    assert far["centroid-0"].iloc[0] == pytest.approx(1e8 + 5)


def test_measure_shapes_ellipse_path_and_3d_vertices():
    corners = np.array([[0, 0], [0, 20], [10, 20], [10, 0]], float)  # semi-axes 10 (col) x 5
    path = np.array([[5, 0, 0], [5, 3, 4]], float)
    df = measure_shapes([corners, path], spacing=(1, 1, 1), shape_types=["ellipse", "path"])
    assert df["area"].iloc[0] == pytest.approx(np.pi * 10 * 5)
    assert df["area"].iloc[1] == 0
    assert df["perimeter"].iloc[1] == pytest.approx(5)


def test_measure_shapes_of_coco_polygon_matches_pycocotools_mask_area():
    """A COCO polygon in napari coordinates: shoelace area equals the polygon's own area and is
    within a boundary band of pycocotools' rasterised area."""
    h, w = 100, 120
    flat = _coco_annotations(h, w)[1]["segmentation"][0]
    vertices = coco_polygon_to_napari(flat)
    df = measure_shapes([vertices], spacing=0.5)
    xy = np.asarray(flat).reshape(-1, 2)
    shoelace = 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], 1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], 1)))
    assert df["area"].iloc[0] == pytest.approx(shoelace * 0.25)
    raster = float(mask_utils.area(mask_utils.frPyObjects([flat], h, w))[0])
    assert df["area"].iloc[0] == pytest.approx(raster * 0.25, rel=0.08)


def test_measure_shapes_rejects_mismatched_types():
    with pytest.raises(ValueError, match="`shape_types` has 1 entries"):
        measure_shapes([np.zeros((3, 2)), np.zeros((3, 2))], shape_types=["polygon"])


def test_summarize_counts_total_mean_median_per_category():
    df = pd.DataFrame({"label": [1, 2, 3, 4], "area": [1.0, 3.0, 10.0, 2.0],
                       "category": ["a", "a", "b", "a"]})
    df.attrs["units"] = {"label": "", "area": "µm²", "category": ""}
    out = summarize(df)
    assert out["category"].tolist() == ["a", "b"]
    assert out["count"].tolist() == [3, 1]
    assert out["area_total"].tolist() == [6.0, 10.0]
    assert out["area_mean"].tolist() == [2.0, 10.0]
    assert out["area_median"].tolist() == [2.0, 10.0]
    assert out.attrs["units"]["area_total"] == "µm²"
    everything = summarize(df, by=None)
    assert everything["group"].tolist() == ["all"] and everything["count"].tolist() == [4]
    with pytest.raises(ValueError, match="`by` \\('species'\\)"):
        summarize(df, by="species")


def test_join_features_by_index_column_keeps_row_order_and_units(coins_labels):
    labels, _ = coins_labels
    df = measure(labels, spacing=0.5, units="µm")
    n = int(labels.max())
    feats = pd.DataFrame({
        "index": np.arange(n, 0, -1),
        "annotation_id": np.arange(n, 0, -1) * 100,
        "category": ["coin"] * n,
        "area": np.zeros(n),  # stale column of the same name must not replace measurements
    })
    out = join_features(df, feats)
    assert list(out.columns[:3]) == ["label", "annotation_id", "category"]
    assert (out["annotation_id"] == out["label"] * 100).all()
    pd.testing.assert_series_equal(out["area"], df["area"])
    assert out.attrs["units"]["area"] == "µm²" and out.attrs["units"]["category"] == ""
    # without an index column, row k is label k
    plain = join_features(df, pd.DataFrame({"category": ["bg", *[f"c{k}" for k in range(1, n + 1)]]}))
    assert (plain["category"] == "c" + plain["label"].astype(str)).all()


def test_benchmark_quick_run_gives_the_same_values_as_skimage():
    """Smoke-run benchmarks/bench_measure.py (no timing assertion: only its value check)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "benchmarks" / "bench_measure.py"
    spec = importlib.util.spec_from_file_location("bench_measure", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(quick=True)
    assert len(rows) == len(bench.CASES)
    for row in rows:
        assert row["objects"] > 10
        assert row["same_values"], row
        assert row["ratio"] > 0


@PYCOCOTOOLS_NUMPY2
def test_real_coco_file_areas_equal_pycocotools(data_dir):
    """Every instance of a real COCO file (4 images, 45 annotations), one mask per frame:
    measured area == pycocotools' area of the same mask x pixel area; bbox matches toBbox."""
    from pycocotools.coco import COCO

    coco = COCO(str(data_dir / "coco2017-4img" / "data_samples" / "coco_25k" / "annotations.json"))
    spacing = (0.3, 0.3)
    for image_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        rles = [coco.annToRLE(a) for a in anns]
        stack = np.stack([mask_utils.decode(r).astype(np.int32) * (k + 1) for k, r in enumerate(rles)])
        df = measure(stack, spacing=spacing, units="µm", frame_axis=0,
                     properties=["area", "bbox"])
        assert df["frame"].tolist() == list(range(len(anns)))
        np.testing.assert_allclose(df["area"], mask_utils.area(rles) * 0.09)
        boxes = mask_utils.toBbox(rles)  # x, y, w, h
        np.testing.assert_array_equal(df["bbox-1"], boxes[:, 0])
        np.testing.assert_array_equal(df["bbox-2"] - df["bbox-0"], boxes[:, 3])


def test_to_csv_writes_units_in_headers(coins_labels, tmp_path):
    from napari_coco_masks.segment.measure import to_csv

    labels, image = coins_labels
    df = measure(labels, image, spacing=0.5, units="µm", properties=["area", "intensity_mean"])
    path = to_csv(df, tmp_path / "m.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == ["label", "area [µm²]", "intensity_mean"]
    np.testing.assert_allclose(back["area [µm²]"], df["area"])


def test_to_csv_writes_a_nul_character_on_every_python_and_atomically(tmp_path):
    """Python 3.10's csv refuses NUL (a fuzz case's category name): it becomes U+FFFD there;
    the file is replaced whole, with no temporary file left."""
    from napari_coco_masks.segment.measure import to_csv
    from napari_coco_masks.segment.measure.tables import _without_nul

    df = pd.DataFrame({"label": [1, 2], "category": ["a\x00b", "c"], "area": [1.5, 2.0]})
    df.attrs["units"] = {"area": "µm²"}
    path = tmp_path / "m.csv"
    path.write_text("old")
    to_csv(df, path)
    back = pd.read_csv(path)
    assert back["category"].tolist()[1] == "c" and back["category"][0] in ("a\x00b", "a\ufffdb")
    assert back["area [µm²]"].tolist() == [1.5, 2.0]
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]
    cleaned = _without_nul(df.astype({"category": object}).rename(columns={"area": "ar\x00ea"}))
    assert cleaned["category"].tolist() == ["a\ufffdb", "c"] and "ar\ufffdea" in cleaned.columns
