"""Widget tests: real napari viewers, seeds added/moved/deleted programmatically."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from napari_coco_masks._widgets.region_growing import RegionGrowingWidget
from napari_coco_masks.segment import region_growing as rg


def _blocks_2d() -> np.ndarray:
    """Three flat squares of distinct values on a noisy background."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 40, size=(64, 80)).astype(np.uint8)
    image[5:20, 5:25] = 200
    image[30:50, 40:70] = 120
    image[40:60, 5:15] = 200
    return image


def _wait(qtbot, widget: RegionGrowingWidget) -> None:
    qtbot.waitUntil(lambda: not widget.busy, timeout=10_000)


def _setup(make_napari_viewer, image: np.ndarray, **image_kwargs):
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="img", **image_kwargs)
    widget = RegionGrowingWidget(viewer)
    widget._new_seeds.clicked.emit()  # the "New seeds layer" button
    points = viewer.layers["img seeds"]
    return viewer, layer, widget, points


def test_added_point_grows_its_region_at_once(make_napari_viewer, qtbot):
    image = _blocks_2d()
    viewer, layer, widget, points = _setup(make_napari_viewer, image)
    widget._tolerance.value = 5
    points.add([10, 10])
    _wait(qtbot, widget)
    labels = viewer.layers["img regions"].data
    expected = rg.grow_regions(image, [[10, 10]], tolerance=5)
    np.testing.assert_array_equal(labels, expected)
    assert np.count_nonzero(labels == 1) == 15 * 20
    assert viewer.layers.selection.active is points  # the next click adds a seed again
    names = [layer.name for layer in viewer.layers]
    assert names.index("img regions") < names.index("img seeds")  # seeds drawn on top

    points.add([35, 50])
    _wait(qtbot, widget)
    labels = viewer.layers["img regions"].data
    assert np.count_nonzero(labels == 2) == 20 * 30
    assert np.count_nonzero(labels == 1) == 15 * 20
    assert [layer.name for layer in viewer.layers].count("img regions") == 1


def test_moving_and_deleting_points_update_regions(make_napari_viewer, qtbot):
    image = _blocks_2d()
    viewer, layer, widget, points = _setup(make_napari_viewer, image)
    widget._tolerance.value = 5
    points.add([10, 10])
    points.add([35, 50])
    _wait(qtbot, widget)
    out = viewer.layers["img regions"]
    assert set(np.unique(out.data)) == {0, 1, 2}

    points.data = np.array([[50, 10], [35, 50]], dtype=float)  # move the first point
    _wait(qtbot, widget)
    assert np.all(out.data[40:60, 5:15] == 1)
    assert np.all(out.data[5:20, 5:25] == 0)

    points.selected_data = {1}
    points.remove_selected()
    _wait(qtbot, widget)
    assert set(np.unique(out.data)) == {0, 1}
    assert np.count_nonzero(out.data) == 20 * 10


def test_label_feature_merges_seeds_into_one_object(make_napari_viewer, qtbot):
    image = _blocks_2d()
    viewer, layer, widget, points = _setup(make_napari_viewer, image)
    widget._tolerance.value = 5
    points.features = {"label": np.empty(0, dtype=int)}
    points.feature_defaults = {"label": 7}
    points.add([10, 10])
    points.add([50, 10])
    _wait(qtbot, widget)
    out = viewer.layers["img regions"].data
    assert set(np.unique(out)) == {0, 7}
    assert np.count_nonzero(out == 7) == 15 * 20 + 20 * 10


def test_output_keeps_scale_translate_units(make_napari_viewer, qtbot):
    image = _blocks_2d()
    viewer, layer, widget, points = _setup(
        make_napari_viewer, image, scale=(0.5, 2.0), translate=(10, -4), units=("um", "um")
    )
    widget._tolerance.value = 5
    np.testing.assert_allclose(points.scale, layer.scale)  # seeds layer shares the geometry
    points.add([35, 50])
    _wait(qtbot, widget)
    out = viewer.layers["img regions"]
    np.testing.assert_allclose(out.scale, layer.scale)
    np.testing.assert_allclose(out.translate, layer.translate)
    assert tuple(str(u) for u in out.units) == tuple(str(u) for u in layer.units)
    assert np.count_nonzero(out.data == 1) == 20 * 30


def test_points_with_other_geometry_map_through_world(make_napari_viewer, qtbot):
    image = _blocks_2d()
    viewer = make_napari_viewer()
    viewer.add_image(image, name="img", scale=(2, 2))
    points = viewer.add_points(np.array([[70.0, 100.0]]), name="clicks")  # world = pixel (35, 50)
    widget = RegionGrowingWidget(viewer)
    widget._tolerance.value = 5
    widget._seeds.value = points
    _wait(qtbot, widget)
    assert np.count_nonzero(viewer.layers["img regions"].data == 1) == 20 * 30


def test_3d_seed_in_current_slice_grows_in_3d(make_napari_viewer, qtbot):
    volume = np.zeros((12, 30, 30), dtype=np.uint16)
    volume[2:9, 5:20, 8:25] = 1000
    viewer, layer, widget, points = _setup(make_napari_viewer, volume)
    assert widget._dims.value == 3
    widget._tolerance.value = 10
    viewer.dims.set_point(0, 4)
    points.add([4, 10, 10])
    _wait(qtbot, widget)
    out = viewer.layers["img regions"].data
    assert out.shape == volume.shape
    np.testing.assert_array_equal(out == 1, volume == 1000)


def test_time_series_grows_per_frame(make_napari_viewer, qtbot):
    movie = np.zeros((3, 20, 20), dtype=np.uint8)
    movie[:, 5:15, 5:15] = 100  # same square in every frame: 3D growth would fill all frames
    viewer, layer, widget, points = _setup(make_napari_viewer, movie)
    widget._dims.value = 2
    widget._tolerance.value = 1
    points.add([1, 8, 8])
    _wait(qtbot, widget)
    out = viewer.layers["img regions"].data
    assert np.count_nonzero(out[1] == 1) == 100
    assert np.count_nonzero(out[0]) == 0 and np.count_nonzero(out[2]) == 0


def test_confidence_mode_and_option_change_recompute(make_napari_viewer, qtbot):
    image = data.coins()
    viewer, layer, widget, points = _setup(make_napari_viewer, image)
    points.add([60, 60])
    _wait(qtbot, widget)
    widget._mode.value = "confidence"
    _wait(qtbot, widget)
    out = viewer.layers["img regions"].data
    np.testing.assert_array_equal(out, rg.grow_regions(image, [[60, 60]], mode="confidence"))
    widget._multiplier.value = 1.0
    _wait(qtbot, widget)
    expected = rg.grow_regions(image, [[60, 60]], mode="confidence", multiplier=1.0)
    np.testing.assert_array_equal(viewer.layers["img regions"].data, expected)


def test_max_size_is_reported_in_the_widget(make_napari_viewer, qtbot):
    image = _blocks_2d()
    viewer, layer, widget, points = _setup(make_napari_viewer, image)
    widget._tolerance.value = 5
    widget._max_size.value = 50
    points.add([35, 50])
    _wait(qtbot, widget)
    assert np.count_nonzero(viewer.layers["img regions"].data) == 50
    assert "max size" in widget._status.value


def test_mismatched_seeds_layer_gives_one_clear_message(make_napari_viewer, qtbot, monkeypatch):
    messages = []
    monkeypatch.setattr("napari_coco_masks._widgets.region_growing.show_error", messages.append)
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 10, 10), dtype=np.uint8), name="img")
    viewer.add_points(np.array([[1.0, 1.0]]), name="2d points")
    widget = RegionGrowingWidget(viewer)
    widget._seeds.value = viewer.layers["2d points"]
    _wait(qtbot, widget)
    assert len(messages) == 1
    assert "2D" in messages[0] and "3D" in messages[0]
    assert "img regions" not in viewer.layers


@pytest.mark.parametrize("rgb", [True])
def test_rgb_image_uses_luminance(make_napari_viewer, qtbot, rgb):
    image = np.zeros((20, 20, 3), dtype=np.uint8)
    image[5:15, 5:15] = (200, 100, 50)
    viewer, layer, widget, points = _setup(make_napari_viewer, image, rgb=rgb)
    widget._tolerance.value = 0
    points.add([8, 8])
    _wait(qtbot, widget)
    out = viewer.layers["img regions"].data
    assert out.shape == (20, 20)
    assert np.count_nonzero(out == 1) == 100


def test_editing_the_label_feature_regroups_seeds(make_napari_viewer, qtbot):
    image = _blocks_2d()
    viewer, layer, widget, points = _setup(make_napari_viewer, image)
    widget._tolerance.value = 5
    points.features = {"label": np.empty(0, dtype=int)}
    points.feature_defaults = {"label": 1}
    points.add([10, 10])
    points.feature_defaults = {"label": 2}
    points.add([50, 10])
    _wait(qtbot, widget)
    out = viewer.layers["img regions"]
    assert set(np.unique(out.data)) == {0, 1, 2}
    points.features = {"label": np.array([5, 5])}
    _wait(qtbot, widget)
    assert set(np.unique(out.data)) == {0, 5}


def test_deleting_the_last_point_clears_the_output(make_napari_viewer, qtbot):
    image = _blocks_2d()
    viewer, layer, widget, points = _setup(make_napari_viewer, image)
    points.add([10, 10])
    _wait(qtbot, widget)
    assert np.any(viewer.layers["img regions"].data)
    points.selected_data = {0}
    points.remove_selected()
    _wait(qtbot, widget)
    assert not np.any(viewer.layers["img regions"].data)


def test_widget_docks_from_the_manifest(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(_blocks_2d(), name="img")
    _, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Seeded region growing")
    assert isinstance(widget, RegionGrowingWidget)
    assert widget._image.value is viewer.layers["img"]
    widget._new_seeds.clicked.emit()
    viewer.layers["img seeds"].add([35, 50])
    _wait(qtbot, widget)
    assert np.count_nonzero(viewer.layers["img regions"].data == 1) == 20 * 30


def test_a_new_point_only_grows_its_own_region(make_napari_viewer, qtbot, monkeypatch):
    from napari_coco_masks._widgets import _region_job as module  # where the worker grows

    calls = []

    def counting(image, seeds, **options):
        calls.append(np.asarray(seeds).tolist())
        return rg.grow_region(image, seeds, **options)

    monkeypatch.setattr(module, "grow_region", counting)
    image = _blocks_2d()
    viewer, layer, widget, points = _setup(make_napari_viewer, image)
    widget._tolerance.value = 5
    points.add([10, 10])
    _wait(qtbot, widget)
    points.add([35, 50])
    _wait(qtbot, widget)
    assert calls == [[[10, 10]], [[35, 50]]]
    assert set(np.unique(viewer.layers["img regions"].data)) == {0, 1, 2}


def test_rotated_seeds_layer_maps_through_world_coordinates(make_napari_viewer, qtbot):
    image = _blocks_2d()
    viewer = make_napari_viewer()
    viewer.add_image(image, name="img")
    # a points layer rotated by 90 degrees: its data (50, -35) is world (35, 50)
    points = viewer.add_points(np.array([[50.0, -35.0]]), name="rot", rotate=90)
    np.testing.assert_allclose(points.data_to_world(points.data[0]), [35, 50], atol=1e-9)
    widget = RegionGrowingWidget(viewer)
    widget._tolerance.value = 5
    widget._seeds.value = points
    _wait(qtbot, widget)
    assert np.count_nonzero(viewer.layers["img regions"].data == 1) == 20 * 30


def test_renamed_image_stays_chosen_and_closed_dock_stops_growing(make_napari_viewer, qtbot):
    """QA findings: a rename must not switch the image; a closed dock must not grow regions."""
    viewer = make_napari_viewer()
    rng = np.random.default_rng(3)
    viewer.add_image(rng.integers(0, 50, (40, 40)).astype(np.uint8), name="first")
    second = viewer.add_image(np.full((40, 40), 100, np.uint8), name="second")
    dock, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Seeded region growing")
    widget._image.value = second
    second.name = "renamed"
    assert widget._image.value == second
    points = viewer.add_points(np.array([[20.0, 20.0]]), name="seeds")
    widget._seeds.value = points
    qtbot.waitUntil(lambda: "renamed regions" in viewer.layers, timeout=10_000)
    _wait(qtbot, widget)
    assert (viewer.layers["renamed regions"].data == 1).all()  # the constant image, fully grown
    viewer.window.remove_dock_widget(dock)
    viewer.layers.remove("renamed regions")
    points.add(np.array([[5.0, 5.0]]))
    qtbot.wait(300)
    _wait(qtbot, widget)
    assert "renamed regions" not in viewer.layers


def test_time_axis_is_not_grown_through_by_default(make_napari_viewer, qtbot):
    """Issue 13 defect 4: one seed filled all frames of a (t, y, x) stack in s, µm, µm."""
    movie = np.zeros((10, 20, 20), dtype=np.uint8)
    movie[:, 5:15, 5:15] = 100
    viewer, layer, widget, points = _setup(
        make_napari_viewer, movie, units=("s", "um", "um"), scale=(2.0, 0.5, 0.5)
    )
    assert widget._dims.value == 2 and not widget._dims.native.isHidden()
    widget._tolerance.value = 1
    points.add([3, 8, 8])  # the seeds layer shares the image geometry: pixel indices
    _wait(qtbot, widget)
    out = viewer.layers["img regions"].data
    assert np.count_nonzero(out[3] == 1) == 100
    assert np.count_nonzero(out) == 100  # no other frame
    np.testing.assert_allclose(viewer.layers["img regions"].scale, layer.scale)

    volume = viewer.add_image(movie, name="volume", units=("um", "um", "um"))
    widget._image.value = volume
    assert widget._dims.value == 3  # a z axis is space: grow in 3D
    flat = viewer.add_image(movie[0], name="flat")
    widget._image.value = flat
    assert widget._dims.native.isHidden()  # no "3D" offered for a 2D image


def test_sigma_and_max_size_are_in_physical_units(make_napari_viewer, qtbot):
    image = _blocks_2d()
    viewer, layer, widget, points = _setup(
        make_napari_viewer, image, scale=(0.5, 0.5), units=("um", "um")
    )
    assert widget._smoothing.label == "pre-smoothing σ (µm)"
    assert widget._max_size.label == "max size (µm², 0 = none)"
    widget._tolerance.value = 5
    widget._max_size.value = 12.5  # µm²: 50 pixels of 0.25 µm²
    points.add([35, 50])
    _wait(qtbot, widget)
    assert np.count_nonzero(viewer.layers["img regions"].data) == 50
    widget._max_size.value = 0
    widget._smoothing.value = 1.0  # µm: 2 pixels
    _wait(qtbot, widget)
    expected = rg.grow_regions(image, [[35, 50]], tolerance=5, sigma=2.0)
    np.testing.assert_array_equal(viewer.layers["img regions"].data, expected)
    assert not np.array_equal(expected, rg.grow_regions(image, [[35, 50]], tolerance=5, sigma=1.0))
    # the same call in physical units, as the widget now makes it
    np.testing.assert_array_equal(
        expected, rg.grow_regions(image, [[35, 50]], tolerance=5, sigma=1.0, spacing=0.5))


def test_widget_passes_physical_sigma_and_max_size_with_spacing(
    make_napari_viewer, qtbot, monkeypatch
):
    """No pixel conversion in the widget: grow_region gets µm / µm² and the image's spacing."""
    from napari_coco_masks._widgets import _region_job

    calls = []
    real = _region_job.grow_region

    def spy(frame, seeds, **kwargs):
        calls.append(kwargs)
        return real(frame, seeds, **kwargs)

    monkeypatch.setattr(_region_job, "grow_region", spy)
    image = _blocks_2d()
    viewer, layer, widget, points = _setup(
        make_napari_viewer, image, scale=(0.5, 2.0), units=("um", "um")
    )
    widget._tolerance.value = 5
    widget._max_size.value = 50.0  # µm²: 50 pixels of 1 µm²
    widget._smoothing.value = 1.0  # µm: (2, 0.5) pixels
    points.add([35, 50])
    _wait(qtbot, widget)
    assert calls and calls[-1]["spacing"] == (0.5, 2.0) and calls[-1]["max_size"] == 50.0
    got = viewer.layers["img regions"].data
    with pytest.warns(rg.RegionSizeWarning, match="max_size=50.0"):
        expected = rg.grow_regions(image, [[35, 50]], tolerance=5, sigma=1.0, max_size=50.0,
                                   spacing=(0.5, 2.0))
    np.testing.assert_array_equal(got, expected)
    assert np.count_nonzero(got) == 50


def test_nan_image_gives_one_clear_message(make_napari_viewer, qtbot, monkeypatch):
    messages: list[str] = []
    monkeypatch.setattr("napari_coco_masks._widgets.region_growing.show_error", messages.append)
    image = _blocks_2d().astype(np.float32)
    image[0, 0] = np.nan
    viewer, layer, widget, points = _setup(make_napari_viewer, image)
    points.add([10, 10])
    _wait(qtbot, widget)
    assert "NaN or infinite" in widget._status.value
    assert len(messages) == 1 and "nan_to_num" in messages[0]
    assert "img regions" not in viewer.layers


def _coin_centres(image: np.ndarray, n: int) -> tuple[np.ndarray, list[float]]:
    from skimage import filters, measure

    objects = measure.label(image > filters.threshold_otsu(image))
    props = sorted(measure.regionprops(objects), key=lambda p: -p.area)[1 : n + 1]
    return np.array([np.round(p.centroid) for p in props]), [float(p.area) for p in props]


def test_default_range_grows_whole_coins_and_tiny_regions_are_reported(
    make_napari_viewer, qtbot
):
    """Issue 13 defect 8: with ±10, 2 of 5 clicks on coin centres grew 1-pixel regions and
    the status still said "5 region(s)"."""
    image = data.coins()
    viewer, layer, widget, points = _setup(make_napari_viewer, image)
    assert widget._tolerance.value == 0  # auto
    centres, areas = _coin_centres(image, 5)
    points.data = centres
    _wait(qtbot, widget)
    labels = viewer.layers["img regions"].data
    sizes = np.bincount(labels.ravel(), minlength=6)[1:]
    np.testing.assert_allclose(sizes, areas, rtol=0.05)  # each coin, as Otsu + components
    assert widget._status.value == "5 region(s)"

    widget._tolerance.value = 10  # the old default: some seeds sit on texture
    _wait(qtbot, widget)
    sizes = np.bincount(viewer.layers["img regions"].data.ravel(), minlength=6)[1:]
    tiny = [label for label, size in enumerate(sizes, start=1) if size < 9]
    assert tiny, sizes  # the coins picked here do include such seeds
    assert f"{len(tiny)} tiny (< 9 px): labels {tiny}" in widget._status.value


def test_otsu_of_an_integer_image_with_a_huge_range():
    """Widget fuzz (issue 12), seed 3044343123: a uint64 image up to 2**63 asked scikit-image
    for a histogram with one bin per integer ("array is too big")."""
    import numpy as np

    from napari_coco_masks._widgets._region_job import otsu as _otsu

    frame = np.array([[0, 1, 2], [2**63, 2**63, 2**63 - 5]], dtype=np.uint64)
    t = _otsu(frame)
    assert 2 < t < 2**63 - 5
    assert _otsu(np.array([[3, 9]], np.uint8)) == pytest.approx(3.0)
