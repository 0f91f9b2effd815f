"""Tests for the watershed dock widget with real napari viewers (make_napari_viewer)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_coco_masks._widgets import watershed as widget_module
from napari_coco_masks._widgets._base import Failure, Task
from napari_coco_masks._widgets.watershed import (
    FLOOD_GRADIENT,
    SEEDED,
    SPLIT,
    WatershedWidget,
)
from napari_coco_masks.segment.watershed import split_touching, watershed


def touching_pair(shape=(40, 60)) -> np.ndarray:
    """Two overlapping disks: one connected component, two objects."""
    rows, cols = np.indices(shape)
    a = (rows - 20) ** 2 + (cols - 20) ** 2 <= 12**2
    b = (rows - 20) ** 2 + (cols - 39) ** 2 <= 12**2
    return a | b


def blobs(shape=(40, 60), seed=0) -> np.ndarray:
    return ndi.gaussian_filter(np.random.default_rng(seed).normal(size=shape), 2.0)


@pytest.fixture
def errors(monkeypatch) -> list[str]:
    """Capture the messages the widget shows with napari's show_error."""
    shown: list[str] = []
    monkeypatch.setattr(widget_module, "show_error", shown.append)
    return shown


def wait_done(qtbot, widget: WatershedWidget, viewer, name: str) -> None:
    qtbot.waitUntil(lambda: not widget.busy and name in viewer.layers, timeout=20000)


def test_split_mode_adds_labels_with_geometry(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    mask = viewer.add_labels(
        touching_pair().astype(np.uint8),
        name="mask",
        scale=(0.5, 0.5),
        translate=(3.0, -2.0),
        units=("um", "um"),
    )
    widget = WatershedWidget(viewer)
    assert widget.mask_layer.value is mask
    widget.min_distance.value = 3.0  # physical: 6 pixels
    worker = widget.run()
    assert worker is not None
    wait_done(qtbot, widget, viewer, "mask split")
    out = viewer.layers["mask split"]
    expected = split_touching(mask.data, min_distance=3.0, spacing=(0.5, 0.5))
    np.testing.assert_array_equal(out.data, expected)
    assert out.data.max() == 2
    np.testing.assert_allclose(out.scale, mask.scale)
    np.testing.assert_allclose(out.translate, mask.translate)
    assert tuple(out.units) == tuple(mask.units)
    assert errors == []
    assert "2 objects" in widget.status.value
    # re-running updates the same output layer instead of adding one
    n_layers = len(viewer.layers)
    widget.h.value = 100.0
    widget.run()
    wait_done(qtbot, widget, viewer, "mask split")
    qtbot.waitUntil(lambda: viewer.layers["mask split"].data.max() == 1, timeout=20000)
    assert len(viewer.layers) == n_layers


def test_seeded_mode_points_equals_core(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    image = viewer.add_image(blobs(), name="img", scale=(2.0, 2.0))
    # points are placed in world coordinates: world (10, 20) is pixel (5, 10) of the image
    points = viewer.add_points(np.array([[10.0, 20.0], [60.0, 90.0]]), name="seeds")
    mask_layer = viewer.add_labels(np.ones((40, 60), np.uint8), name="roi", scale=(2.0, 2.0))
    mask_layer.data[:, 55:] = 0
    widget = WatershedWidget(viewer)
    widget.mode.value = SEEDED
    widget.image_layer.value = image
    widget.markers_layer.value = points
    widget.seeded_mask.value = mask_layer
    widget.flood.value = FLOOD_GRADIENT
    widget.compactness.value = 0.01
    widget.run()
    wait_done(qtbot, widget, viewer, "img watershed")
    out = viewer.layers["img watershed"]
    expected = watershed(
        image.data,
        np.array([[5.0, 10.0], [30.0, 45.0]]),
        mask=mask_layer.data != 0,
        gradient=True,
        compactness=0.01,
    )
    np.testing.assert_array_equal(out.data, expected)
    assert set(np.unique(out.data)) == {0, 1, 2}
    np.testing.assert_allclose(out.scale, image.scale)
    assert errors == []


def test_seeded_mode_labels_markers(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    image = viewer.add_image(blobs(seed=1), name="img")
    seeds = np.zeros((40, 60), np.int32)
    seeds[5, 5], seeds[30, 50] = 4, 9
    markers = viewer.add_labels(seeds, name="seeds")
    widget = WatershedWidget(viewer)
    widget.mode.value = SEEDED
    widget.image_layer.value = image
    widget.markers_layer.value = markers
    widget.run()
    wait_done(qtbot, widget, viewer, "img watershed")
    np.testing.assert_array_equal(viewer.layers["img watershed"].data, watershed(image.data, seeds))


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (np.zeros((0, 2)), "has no points"),
        (np.array([[1.0, 2.0, 3.0]]), "is 3D but image 'img' is 2D"),
        (np.array([[100.0, 2.0]]), "outside the image"),
    ],
)
def test_bad_markers_show_one_message(make_napari_viewer, qtbot, errors, points, message):
    viewer = make_napari_viewer()
    viewer.add_image(blobs(), name="img")
    viewer.add_points(points, ndim=points.shape[1], name="seeds")
    widget = WatershedWidget(viewer)
    widget.mode.value = SEEDED
    assert widget.run() is None
    assert len(errors) == 1
    assert message in errors[0]
    assert message in widget.status.value
    assert "img watershed" not in viewer.layers


def test_split_mode_float_image_is_refused_with_message(make_napari_viewer, errors):
    viewer = make_napari_viewer()
    viewer.add_image(blobs(), name="img")
    widget = WatershedWidget(viewer)
    assert widget.run() is None
    assert len(errors) == 1
    assert "threshold an intensity image" in errors[0]


def test_no_layer_message(make_napari_viewer, errors):
    viewer = make_napari_viewer()
    widget = WatershedWidget(viewer)
    assert widget.run() is None
    assert errors == ["Choose a mask or Labels layer to split."]


def test_time_series_runs_per_frame_with_progress(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    stack = np.stack([touching_pair(), np.roll(touching_pair(), 3, axis=1), touching_pair()])
    layer = viewer.add_labels(stack.astype(np.uint8), name="movie", scale=(1.0, 2.0, 2.0))
    widget = WatershedWidget(viewer)
    widget.time_series.value = True
    widget.min_distance.value = 6.0
    worker = widget.run()
    assert worker.pbar.total == 3
    wait_done(qtbot, widget, viewer, "movie split")
    expected = split_touching(stack, min_distance=6.0, spacing=(2.0, 2.0), frame_axis=0)
    np.testing.assert_array_equal(viewer.layers["movie split"].data, expected)
    assert expected.max() == 6
    np.testing.assert_allclose(viewer.layers["movie split"].scale, layer.scale)


def test_3d_volume_runs_in_worker(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    z, y, x = np.indices((15, 30, 40))
    volume = ((z - 7) ** 2 + (y - 15) ** 2 + (x - 12) ** 2 <= 64) | (
        (z - 7) ** 2 + (y - 15) ** 2 + (x - 26) ** 2 <= 64
    )
    viewer.add_labels(volume.astype(np.uint8), name="vol")
    widget = WatershedWidget(viewer)
    widget.preview.value = True  # no preview on 3D: nothing starts before Run
    qtbot.wait(widget_module.PREVIEW_DELAY_MS + 100)
    assert "vol split" not in viewer.layers
    worker = widget.run()
    assert worker.pbar.total == 0  # one volume: indeterminate progress
    wait_done(qtbot, widget, viewer, "vol split")
    assert viewer.layers["vol split"].data.max() == 2


def test_live_preview_2d_follows_parameters(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_labels(touching_pair().astype(np.uint8), name="mask")
    widget = WatershedWidget(viewer)
    widget.min_distance.value = 5.0
    widget.preview.value = True
    wait_done(qtbot, widget, viewer, "mask split")
    assert viewer.layers["mask split"].data.max() == 2
    # a burst of changes: only the last one may end up in the layer
    for value in (8.0, 30.0, 60.0):
        widget.min_distance.value = value
    qtbot.waitUntil(lambda: viewer.layers["mask split"].data.max() == 1, timeout=20000)
    qtbot.waitUntil(lambda: not widget.busy and not widget._runner.pending, timeout=20000)
    qtbot.wait(widget_module.PREVIEW_DELAY_MS + 100)
    qtbot.waitUntil(lambda: not widget.busy, timeout=20000)
    np.testing.assert_array_equal(
        viewer.layers["mask split"].data,
        split_touching(viewer.layers["mask"].data, min_distance=60.0),
    )


def test_stale_result_is_dropped(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_labels(touching_pair().astype(np.uint8), name="mask")
    widget = WatershedWidget(viewer)
    job = widget.build_job()
    runner = widget._runner
    runner.generation = 5
    task = Task(job.steps, lambda result: widget._show(job, result))
    result = (np.ones((40, 60), np.int32), 1)
    runner.deliver(task, result, generation=4, preview=False, drop_stale=True)
    assert "mask split" not in viewer.layers
    runner.deliver(task, result, generation=5, preview=True, drop_stale=True)
    assert "mask split" in viewer.layers
    runner.deliver(task, Failure("bad input"), generation=5, preview=False, drop_stale=True)
    assert widget.status.value == "bad input"


def test_modes_and_layer_choices(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = WatershedWidget(viewer)
    assert widget.mode.value == SPLIT
    # isHidden: explicitly hidden, whether or not the dock itself is shown
    assert not widget.mask_layer.native.isHidden()
    assert widget.image_layer.native.isHidden()
    widget.mode.value = SEEDED
    assert widget.mask_layer.native.isHidden()
    assert not widget.image_layer.native.isHidden()
    image = viewer.add_image(blobs(), name="img")
    points = viewer.add_points(np.array([[3.0, 4.0]]), name="seeds")
    assert widget.image_layer.choices == (image,)
    assert widget.markers_layer.choices == (points,)
    viewer.layers.remove(points)
    assert widget.markers_layer.choices == ()


def test_seeded_preview_follows_points(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(blobs(seed=3), name="img")
    points = viewer.add_points(np.array([[5.0, 5.0], [30.0, 50.0]]), name="seeds")
    widget = WatershedWidget(viewer)
    widget.mode.value = SEEDED
    widget.markers_layer.value = points
    widget.preview.value = True
    wait_done(qtbot, widget, viewer, "img watershed")
    qtbot.waitUntil(lambda: viewer.layers["img watershed"].data.max() == 2, timeout=20000)
    points.add(np.array([20.0, 30.0]))  # a new point: the preview grows a third object
    qtbot.waitUntil(lambda: viewer.layers["img watershed"].data.max() == 3, timeout=20000)
    qtbot.waitUntil(lambda: not widget.busy, timeout=20000)


def test_widget_loads_from_the_manifest(make_napari_viewer):
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Watershed")
    assert isinstance(widget, WatershedWidget)


def test_empty_labels_markers_message_from_worker(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    viewer.add_image(blobs(), name="img")
    viewer.add_labels(np.zeros((40, 60), np.uint8), name="seeds")
    widget = WatershedWidget(viewer)
    widget.mode.value = SEEDED
    assert widget.run() is not None  # the label image is read in the worker
    qtbot.waitUntil(lambda: not widget.busy, timeout=20000)
    assert len(errors) == 1
    assert "`markers` is empty" in errors[0]
    assert "img watershed" not in viewer.layers


def test_labels_markers_outside_mask_message(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    viewer.add_image(blobs(), name="img")
    seeds = np.zeros((40, 60), np.uint8)
    seeds[5, 5] = seeds[35, 55] = 1
    viewer.add_labels(seeds, name="seeds")
    roi = np.zeros((40, 60), np.uint8)
    roi[:20] = 1
    roi_layer = viewer.add_labels(roi, name="roi")
    widget = WatershedWidget(viewer)
    widget.mode.value = SEEDED
    widget.markers_layer.value = viewer.layers["seeds"]
    widget.seeded_mask.value = roi_layer
    widget.run()
    qtbot.waitUntil(lambda: not widget.busy, timeout=20000)
    assert len(errors) == 1
    assert "1 marker pixels lie outside `mask`" in errors[0]


def test_min_distance_label_shows_the_layer_unit(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = WatershedWidget(viewer)
    viewer.add_labels(touching_pair().astype(np.uint8), name="m", units=("um", "um"))
    assert widget.min_distance.label == "Min distance (µm)"


def test_preview_reports_bad_input_in_status_only(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    viewer.add_image(blobs(), name="img")
    viewer.add_points(np.zeros((0, 2)), name="seeds")
    widget = WatershedWidget(viewer)
    widget.mode.value = SEEDED
    widget.preview.value = True
    qtbot.waitUntil(lambda: "has no points" in widget.status.value, timeout=20000)
    assert errors == []  # no notification on every change while previewing
    assert "img watershed" not in viewer.layers


def test_seeded_time_series_with_points(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    frames = np.stack([blobs(seed=6), blobs(seed=7)])
    viewer.add_image(frames, name="movie")
    viewer.add_points(np.array([[0, 5.0, 5.0], [1, 30.0, 50.0], [1, 8.0, 40.0]]), name="seeds")
    widget = WatershedWidget(viewer)
    widget.mode.value = SEEDED
    widget.time_series.value = True
    worker = widget.run()
    assert worker.pbar.total == 2
    wait_done(qtbot, widget, viewer, "movie watershed")
    out = viewer.layers["movie watershed"].data
    np.testing.assert_array_equal(out, watershed(frames, viewer.layers["seeds"].data, frame_axis=0))
    assert set(np.unique(out[0])) == {1}
    assert set(np.unique(out[1])) == {2, 3}
    assert errors == []


def test_new_points_layer_becomes_the_markers(make_napari_viewer, qtbot, errors):
    """With only COCO labels at first, the markers default to them; seeds the user adds
    afterwards must be used, not silently ignored."""
    viewer = make_napari_viewer()
    viewer.open_sample("napari-coco-masks", "coins")
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Watershed")
    widget.mode.value = SEEDED
    assert widget.markers_layer.value is viewer.layers["coins labels"]
    seeds = viewer.add_points(np.array([[60.0, 60.0], [60.0, 300.0]]), name="seeds")
    assert widget.markers_layer.value is seeds
    assert widget.image_layer.value is viewer.layers["coins image"]
    worker = widget.run()
    assert worker is not None
    wait_done(qtbot, widget, viewer, "coins image watershed")
    assert widget.status.value == "2 objects in 'coins image watershed'"
    other = viewer.add_points(np.array([[5.0, 5.0]]), name="other points")
    assert widget.markers_layer.value is seeds  # a Points choice is kept
    assert other in widget.markers_layer.choices
    assert not errors


def test_new_labels_layer_replaces_an_image_as_the_mask_but_not_own_output(
    make_napari_viewer, qtbot
):
    viewer = make_napari_viewer()
    viewer.add_image(blobs(), name="img")
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Watershed")
    assert widget.mask_layer.value == viewer.layers["img"]  # the only candidate
    mask = viewer.add_labels(touching_pair().astype(np.uint8), name="mask")
    assert widget.mask_layer.value == mask
    widget.run()
    wait_done(qtbot, widget, viewer, "mask split")
    assert widget.status.value == "2 objects in 'mask split'"

    binary = viewer.add_image(touching_pair().astype(np.uint8), name="binary")
    widget.mask_layer.value = binary  # an integer Image as the mask, chosen by the user
    widget.min_distance.value = 1000.0  # one object only
    widget.run()
    wait_done(qtbot, widget, viewer, "binary split")
    assert widget.status.value == "1 object in 'binary split'"
    assert widget.mask_layer.value == binary  # its own new output did not steal the choice


def test_closed_dock_stops_previewing_and_reopens(make_napari_viewer, qtbot):
    """napari's close button orphans the widget (it stays alive): it must go quiet."""
    viewer = make_napari_viewer()
    mask = viewer.add_labels(touching_pair().astype(np.uint8), name="m")
    dock, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Watershed")
    widget.preview.value = True
    wait_done(qtbot, widget, viewer, "m split")
    viewer.layers.remove("m split")
    dock.title.close_button.click()
    assert widget.native.parent() is None
    mask.data = touching_pair().astype(np.uint8) * 2  # used to start a preview of the closed dock
    viewer.add_labels(touching_pair().astype(np.uint8), name="late")
    qtbot.wait(3 * widget_module.PREVIEW_DELAY_MS)
    qtbot.waitUntil(lambda: not widget.busy, timeout=20000)
    assert [layer.name for layer in viewer.layers] == ["m", "late"]
    viewer.window.add_dock_widget(widget)  # docked again: previews again
    wait_done(qtbot, widget, viewer, "m split")
    assert viewer.layers["m split"].data.max() == 2


def test_pixel_unit_is_px(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_labels(touching_pair().astype(np.uint8), name="m")
    widget = WatershedWidget(viewer)
    assert widget.min_distance.label == "Min distance (px)"


@pytest.mark.parametrize("docked", [False, True])
def test_renamed_layers_stay_chosen(make_napari_viewer, docked):
    """magicgui matches choices by text: a renamed layer used to fall back to the first one."""
    viewer = make_napari_viewer()
    viewer.add_labels(touching_pair().astype(np.uint8), name="first")
    mask = viewer.add_labels(touching_pair().astype(np.uint8), name="mask")
    viewer.add_image(blobs(), name="other image")
    image = viewer.add_image(blobs(seed=1), name="img")
    viewer.add_points(np.array([[3.0, 4.0]]), name="first points")
    seeds = viewer.add_points(np.array([[5.0, 5.0]]), name="seeds")
    if docked:  # napari resets a docked widget's choices on every rename
        _, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Watershed")
    else:
        widget = WatershedWidget(viewer)
    widget.mask_layer.value = mask
    widget.image_layer.value = image
    widget.markers_layer.value = seeds
    widget.seeded_mask.value = mask
    mask.name = "nuclei mask"
    image.name = "DAPI"
    seeds.name = "my seeds"
    assert widget.mask_layer.value == mask
    assert widget.mask_layer.native.currentText() == "nuclei mask"
    assert widget.image_layer.value == image
    assert widget.markers_layer.value == seeds
    assert widget.seeded_mask.value == mask
    assert widget.min_distance.label == "Min distance (px)"
    viewer.layers.remove(mask)  # a deleted choice still falls back (and says so)
    assert widget.mask_layer.value == viewer.layers["first"]
    assert widget.seeded_mask.value != mask


def test_opens_on_the_active_layer(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_labels(touching_pair().astype(np.uint8), name="coco annotations")
    mask = viewer.add_labels(touching_pair().astype(np.uint8), name="threshold output")
    viewer.add_image(blobs(), name="img")
    viewer.layers.selection.active = mask
    _, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Watershed")
    assert widget.mask_layer.value == mask


def test_split_mode_refuses_a_grey_image_and_splits_a_binary_one(make_napari_viewer, qtbot, errors):
    """Issue 13 defect 3: a grey uint8 image was split as labels, one object per grey level."""
    from skimage import data

    viewer = make_napari_viewer()
    viewer.add_image(data.camera()[:128, :128], name="camera")
    widget = WatershedWidget(viewer)
    assert widget.mask_layer.value.name == "camera"
    assert widget.run() is None
    assert len(errors) == 1 and "more than two grey levels" in errors[0]
    assert "threshold" in errors[0] and "camera split" not in viewer.layers

    pair = touching_pair()
    viewer.add_image(pair.astype(np.uint8) * 255, name="mask png")  # a mask read as an image
    widget.mask_layer.value = viewer.layers["mask png"]
    assert widget.run() is not None
    wait_done(qtbot, widget, viewer, "mask png split")
    expected = split_touching(pair, min_distance=5.0)
    np.testing.assert_array_equal(viewer.layers["mask png split"].data, expected)
    assert expected.max() == 2 and len(errors) == 1


def test_seeded_nan_image_gives_one_clear_message(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    image = blobs()
    image[0, :5] = np.nan
    viewer.add_image(image, name="img")
    viewer.add_points(np.array([[10.0, 10.0], [30.0, 45.0]]), name="markers")
    widget = WatershedWidget(viewer)
    widget.mode.value = SEEDED
    widget.image_layer.value = viewer.layers["img"]
    worker = widget.run()
    assert worker is not None
    qtbot.waitUntil(lambda: not widget.busy, timeout=20000)
    assert "5 NaN or infinite" in widget.status.value
    assert len(errors) == 1 and "img watershed" not in viewer.layers


def test_split_with_a_tiny_pixel_size_does_not_exhaust_memory(make_napari_viewer, qtbot, errors):
    """Widget fuzz case {"entry": "widgets", "seed": 3575322645}: an image of scale 1e-9 made
    the peak box ``min_distance / spacing`` = 5e9 pixels wide, and ``maximum_filter`` raised
    MemoryError in the worker (``_plateau_peaks``). The box is capped at the image's size."""
    mask = touching_pair((20, 30))
    spacing = (1e-9, 1e-9)
    labels = split_touching(mask, min_distance=5.0, spacing=spacing)
    assert labels.max() == 1  # every pixel is within 5 units: one marker per object
    viewer = make_napari_viewer()
    viewer.add_labels(mask.astype(np.int32), name="mask", scale=spacing)
    widget = WatershedWidget(viewer)
    widget.mask_layer.value = viewer.layers["mask"]
    widget.run()
    qtbot.waitUntil(lambda: not widget.busy, timeout=20000)
    assert "mask split" in viewer.layers or "mask watershed" in viewer.layers or not errors, errors
    assert not any("Memory" in e for e in errors), errors
