"""Widget tests for ThresholdWidget with real napari viewers (pytest-qt + napari's fixture)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from napari.layers import Labels
from skimage import data, filters

from napari_coco_masks._widgets import threshold as widget_module
from napari_coco_masks._widgets.threshold import OUTPUT_SUFFIX, ThresholdWidget
from napari_coco_masks.segment.colour import colour_labels
from napari_coco_masks.segment.threshold import threshold

TIMEOUT = 15_000


def _idle(qtbot, widget: ThresholdWidget) -> None:
    """Wait until no preview / apply is requested or computing."""
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT)


def _labels_layers(viewer) -> list[Labels]:
    return [layer for layer in viewer.layers if isinstance(layer, Labels)]


@pytest.fixture
def coins() -> np.ndarray:
    return data.coins()[:160, :200]


def test_preview_creates_then_updates_one_layer(make_napari_viewer, qtbot, coins) -> None:
    viewer = make_napari_viewer()
    image = viewer.add_image(coins, scale=(0.5, 0.25), translate=(10.0, -4.0), units="um")
    widget = ThresholdWidget(viewer)
    _idle(qtbot, widget)
    out = viewer.layers[f"coins{OUTPUT_SUFFIX}"]
    np.testing.assert_array_equal(out.data, threshold(coins))
    np.testing.assert_allclose(out.scale, image.scale)
    np.testing.assert_allclose(out.translate, image.translate)
    assert tuple(out.units) == tuple(image.units)
    assert widget.last_threshold == filters.threshold_otsu(coins)
    assert widget.value.value == pytest.approx(float(filters.threshold_otsu(coins)), abs=1)
    assert "objects" in widget.status.value

    # several quick changes: only the last settings reach the layer, still one output layer
    widget.method.value = "yen"
    widget.method.value = "li"
    widget.fill_holes.value = True
    widget.min_size.value = 5.0  # um^2: 40 pixels of 0.125 um^2
    _idle(qtbot, widget)
    expected = threshold(coins, "li", fill_holes=True, min_size=5.0, spacing=(0.5, 0.25))
    np.testing.assert_array_equal(viewer.layers[f"coins{OUTPUT_SUFFIX}"].data, expected)
    assert len(_labels_layers(viewer)) == 1
    assert widget.min_size.label == "min size (µm²)"
    assert widget.sigma.label == "smooth σ (µm)"


def test_manual_value_slider_and_histogram(make_napari_viewer, qtbot, coins) -> None:
    viewer = make_napari_viewer()
    viewer.add_image(coins)
    widget = ThresholdWidget(viewer)
    assert widget.mode.native.isHidden() and widget.channel.native.isHidden()
    assert widget.block_size.native.isHidden()
    assert (widget.value.min, widget.value.max) == (coins.min(), coins.max())
    counts, edges = widget.histogram_data
    assert counts.sum() == coins.size and edges[0] == coins.min()
    widget.method.value = "manual"
    assert widget.value.enabled
    widget.value.value = 140
    _idle(qtbot, widget)
    np.testing.assert_array_equal(widget.output_layer.data > 0, coins > 140)
    pixmap = widget.histogram.native.pixmap()
    assert pixmap is not None and not pixmap.isNull() and pixmap.width() > 100
    # the red threshold line is drawn where 140 falls on the histogram's axis
    x = round((140 - coins.min()) / (coins.max() - coins.min()) * (pixmap.width() - 1))
    colour = pixmap.toImage().pixelColor(x, 2)
    assert colour.red() > 200 and colour.green() < 120


def test_local_and_multiotsu_methods(make_napari_viewer, qtbot, coins) -> None:
    viewer = make_napari_viewer()
    viewer.add_image(coins)
    widget = ThresholdWidget(viewer)
    widget.method.value = "sauvola"
    assert not widget.block_size.native.isHidden()
    widget.block_size.value = 25
    _idle(qtbot, widget)
    np.testing.assert_array_equal(
        widget.output_layer.data, threshold(coins, "sauvola", block_size=25)
    )
    widget.method.value = "multiotsu"
    widget.output.value = "classes"
    _idle(qtbot, widget)
    np.testing.assert_array_equal(
        widget.output_layer.data, threshold(coins, "multiotsu", output="classes")
    )
    assert "thresholds" in widget.status.value


def test_volume_is_thresholded_in_3d(make_napari_viewer, qtbot) -> None:
    rng = np.random.default_rng(1)
    volume = rng.normal(size=(8, 40, 50)).cumsum(axis=0).astype(np.float32)
    viewer = make_napari_viewer()
    image = viewer.add_image(volume, name="vol", scale=(2.0, 0.5, 0.5))
    widget = ThresholdWidget(viewer)
    assert widget.stack.value == "volume"
    widget.sigma.value = 1.0
    _idle(qtbot, widget)
    out = viewer.layers[f"vol{OUTPUT_SUFFIX}"]
    expected = threshold(volume, sigma=1.0, spacing=(2.0, 0.5, 0.5))
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_allclose(out.scale, image.scale)
    assert widget.min_size.label == "min size (px³)"


def test_time_series_preview_frame_then_apply(make_napari_viewer, qtbot, coins) -> None:
    series = np.stack([coins, coins // 2, np.roll(coins, 30, axis=1)])
    viewer = make_napari_viewer()
    viewer.add_image(series, name="movie", translate=(0, 5, 5))
    widget = ThresholdWidget(viewer)
    widget.stack.value = "per_frame"
    viewer.dims.set_current_step(0, 1)
    _idle(qtbot, widget)
    out = viewer.layers[f"movie{OUTPUT_SUFFIX}"]
    assert out.data.shape == series.shape
    np.testing.assert_array_equal(out.data[1] > 0, threshold(series[1]) > 0)
    assert out.data[0].max() == 0 and out.data[2].max() == 0  # preview: displayed frame only
    assert "in frame 1" in widget.status.value
    # scrolling previews the new frame and keeps the frames already computed...
    viewer.dims.set_current_step(0, 2)
    assert widget.busy
    _idle(qtbot, widget)
    np.testing.assert_array_equal(out.data[2] > 0, threshold(series[2]) > 0)
    assert out.data[1].max() > 0 and out.data[0].max() == 0
    # ...and going back to a computed frame computes nothing
    viewer.dims.set_current_step(0, 1)
    assert not widget.busy

    worker = widget.apply()
    assert worker is not None
    _idle(qtbot, widget)
    np.testing.assert_array_equal(out.data, threshold(series, frame_axis=0))
    np.testing.assert_allclose(out.translate, (0, 5, 5))

    widget.stack.value = "global"
    _idle(qtbot, widget)
    widget.apply()
    _idle(qtbot, widget)
    expected = threshold(series, frame_axis=0, per_frame=False)
    np.testing.assert_array_equal(viewer.layers[f"movie{OUTPUT_SUFFIX}"].data, expected)
    assert len(_labels_layers(viewer)) == 1


def test_rgb_channel_threshold(make_napari_viewer, qtbot) -> None:
    rgb = data.astronaut()[::4, ::4]
    viewer = make_napari_viewer()
    viewer.add_image(rgb, name="astro", rgb=True, scale=(2.0, 2.0))
    widget = ThresholdWidget(viewer)
    # RGB: the mode and channel pickers are offered (explicitly hidden for grey images)
    assert not widget.mode.native.isHidden() and not widget.channel.native.isHidden()
    _idle(qtbot, widget)
    np.testing.assert_array_equal(widget.output_layer.data, threshold(rgb, channel_axis=-1))
    widget.channel.value = 1
    _idle(qtbot, widget)
    expected = threshold(rgb, channel_axis=-1, channel=1)
    np.testing.assert_array_equal(widget.output_layer.data, expected)
    assert widget.output_layer.data.shape == rgb.shape[:2]


def test_rgb_colour_mask_picked_by_click(make_napari_viewer, qtbot) -> None:
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[..., 1] = 120  # green background
    rgb[5:15, 5:20] = (220, 20, 30)  # two red patches
    rgb[25:35, 30:50] = (200, 40, 10)
    rgb[20:24, 2:8] = (20, 20, 220)  # a blue one
    viewer = make_napari_viewer()
    viewer.add_image(rgb, name="patches", scale=(0.5, 0.5), translate=(3.0, 3.0))
    widget = ThresholdWidget(viewer)
    _idle(qtbot, widget)
    widget.start_pick()
    assert widget._on_pick_click in viewer.mouse_drag_callbacks
    # a click at world (3 + 0.5 * 8, 3 + 0.5 * 10) is pixel (8, 10) of the first red patch
    event = SimpleNamespace(type="mouse_press", position=(7.0, 8.0))
    widget._on_pick_click(viewer, event)
    assert widget._on_pick_click not in viewer.mouse_drag_callbacks
    assert widget.mode.value == "colour"
    assert widget.hue.value > 350  # red, near the wrap-around
    _idle(qtbot, widget)
    lo, hi = (widget.hue.value - 20) % 360, (widget.hue.value + 20) % 360
    [(_, expected)] = colour_labels(rgb, (lo, hi), widget.saturation.value, widget.brightness.value)
    out = viewer.layers[f"patches{OUTPUT_SUFFIX}"]
    np.testing.assert_array_equal(out.data, expected)
    assert out.data.max() == 2  # both red patches, neither the blue one nor the background
    assert out.data[22, 4] == 0
    np.testing.assert_allclose(out.translate, (3.0, 3.0))
    # a click outside the image changes nothing and says so
    assert widget.pick_colour((500.0, 500.0)) is None
    assert "outside the image" in widget.status.value


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.full((20, 20), 7.0, np.float32), "constant"),
        (np.where(np.eye(20) > 0, np.nan, 1.0), "NaN"),
        (np.zeros((20, 20), np.uint8), "constant"),
    ],
)
def test_bad_image_gives_one_message(make_napari_viewer, qtbot, image, message) -> None:
    viewer = make_napari_viewer()
    viewer.add_image(image, name="bad")
    widget = ThresholdWidget(viewer)
    _idle(qtbot, widget)
    assert message in widget.status.value
    assert len(_labels_layers(viewer)) == 0


def test_labels_layer_and_empty_result_messages(
    make_napari_viewer, qtbot, monkeypatch, coins
) -> None:
    errors: list[str] = []
    monkeypatch.setattr(widget_module, "show_error", errors.append)
    viewer = make_napari_viewer()
    labels = viewer.add_labels(np.zeros((10, 10), np.int32), name="masks")
    widget = ThresholdWidget(viewer)
    assert widget.image.value is labels
    _idle(qtbot, widget)
    assert "'masks' is a Labels layer" in widget.status.value
    assert widget.apply() is None
    assert errors and "Labels layer" in errors[-1]

    viewer.add_image(coins, name="coins")
    widget.image.value = viewer.layers["coins"]
    widget.method.value = "manual"
    widget.value.value = widget.value.max
    _idle(qtbot, widget)
    assert "No object found" in widget.status.value
    assert widget.output_layer.data.max() == 0


def test_stale_preview_results_are_dropped(make_napari_viewer, qtbot, monkeypatch, coins) -> None:
    viewer = make_napari_viewer()
    viewer.add_image(coins, name="coins")
    widget = ThresholdWidget(viewer)
    _idle(qtbot, widget)
    shown: list[str] = []
    original = ThresholdWidget._show

    def spy(self, job, result, **kwargs):
        shown.append(job.options["method"])
        original(self, job, result, **kwargs)

    monkeypatch.setattr(ThresholdWidget, "_show", spy)
    widget.method.value = "yen"
    widget._runner.preview_now()  # a Yen preview is now computing...
    assert widget._runner.preview_worker is not None
    widget.method.value = "li"  # ...and the controls change before its result arrives
    widget._runner.preview_now()  # queued behind the running worker, not run in parallel
    assert widget._runner.pending
    _idle(qtbot, widget)
    assert shown and set(shown) == {"li"}  # the Yen result was dropped, never shown
    np.testing.assert_array_equal(widget.output_layer.data, threshold(coins, "li"))


def test_docked_from_the_manifest_and_image_added_later(make_napari_viewer, qtbot, coins) -> None:
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(
        "napari-coco-masks", "Threshold and colour mask"
    )
    assert isinstance(widget, ThresholdWidget)
    _idle(qtbot, widget)
    assert "choose an Image layer" in widget.status.value
    viewer.add_image(coins, name="late")
    assert widget.image.value is viewer.layers["late"]
    _idle(qtbot, widget)
    np.testing.assert_array_equal(viewer.layers[f"late{OUTPUT_SUFFIX}"].data, threshold(coins))


def test_deleted_widget_stops_listening(make_napari_viewer, qtbot) -> None:
    viewer = make_napari_viewer()
    viewer.add_image(data.astronaut()[::8, ::8], rgb=True)
    widget = ThresholdWidget(viewer)
    _idle(qtbot, widget)
    widget.start_pick()
    assert widget._on_pick_click in viewer.mouse_drag_callbacks
    assert "_refresh_layers" in _callback_names(viewer)
    with qtbot.waitSignal(widget.native.destroyed, timeout=TIMEOUT):
        widget.native.deleteLater()
    assert widget._on_pick_click not in viewer.mouse_drag_callbacks
    assert "_refresh_layers" not in _callback_names(viewer)
    assert "_on_step" not in [name for _, name in _tuples(viewer.dims.events.current_step)]
    viewer.add_image(data.coins())  # must not reach the deleted Qt widget
    assert len(viewer.layers) == 3  # image, its preview, the new image


def _tuples(emitter) -> list[tuple]:
    return [cb for cb in emitter.callbacks if isinstance(cb, tuple)]


def _callback_names(viewer) -> list[str]:
    return [name for _, name in _tuples(viewer.layers.events.inserted)]


def test_closed_dock_stops_previewing_and_reopens(make_napari_viewer, qtbot, coins) -> None:
    """napari's close button orphans the widget instead of deleting it: it must go quiet."""
    viewer = make_napari_viewer()
    viewer.add_image(coins[::-1], name="other")
    viewer.add_image(coins, name="coins")
    dock, widget = viewer.window.add_plugin_dock_widget(
        "napari-coco-masks", "Threshold and colour mask"
    )
    widget.image.value = viewer.layers["coins"]
    _idle(qtbot, widget)
    assert f"coins{OUTPUT_SUFFIX}" in viewer.layers
    dock.title.close_button.click()  # what a user does
    assert widget.native.parent() is None
    viewer.layers.remove("coins")  # the closed widget used to switch to 'other' and preview it
    viewer.add_image(coins[:50], name="late")
    viewer.dims.set_current_step(0, 3)
    qtbot.wait(3 * widget_module._DEBOUNCE_MS)
    _idle(qtbot, widget)
    assert [layer.name for layer in viewer.layers] == ["other", f"coins{OUTPUT_SUFFIX}", "late"]
    assert "_refresh_layers" not in _callback_names(viewer)

    viewer.window.add_dock_widget(widget)  # docked again: listens and previews again
    assert "_refresh_layers" in _callback_names(viewer)
    _idle(qtbot, widget)
    name = f"{widget.image.value.name}{OUTPUT_SUFFIX}"
    assert name in viewer.layers
    np.testing.assert_array_equal(viewer.layers[name].data, threshold(widget.image.value.data))


@pytest.mark.parametrize("docked", [False, True])
def test_renamed_input_renames_its_output_and_the_choice(
    make_napari_viewer, qtbot, coins, docked
) -> None:
    viewer = make_napari_viewer()
    image = viewer.add_image(coins, name="coins", scale=(0.5, 0.5), units="um")
    if docked:  # napari hands a plugin widget a proxy of the viewer (and of its layers)
        _, widget = viewer.window.add_plugin_dock_widget(
            "napari-coco-masks", "Threshold and colour mask"
        )
    else:
        widget = ThresholdWidget(viewer)
    _idle(qtbot, widget)
    out = viewer.layers[f"coins{OUTPUT_SUFFIX}"]
    image.name = "sample 1"
    assert widget.image.native.currentText() == "sample 1"
    assert widget.image.value is image
    assert out.name == f"sample 1{OUTPUT_SUFFIX}"
    widget.min_size.value = 2.0  # the next preview updates the same layer: nothing piles up
    _idle(qtbot, widget)
    assert _labels_layers(viewer) == [out]
    np.testing.assert_allclose(out.scale, (0.5, 0.5))
    out.name = "my mask"  # an output the user renamed is left alone
    image.name = "sample 2"
    assert out.name == "my mask"
    assert widget.image.native.currentText() == "sample 2"


def test_apply_right_after_a_change_is_not_overwritten_by_the_preview(
    make_napari_viewer, qtbot, coins
) -> None:
    """Change a control and press Apply at once: the debounced preview of the displayed frame
    used to land after the full result (frame labels renumbered from 1, 'in frame 1')."""
    series = np.stack([coins, np.roll(coins, 30, axis=1), coins[::-1]])
    viewer = make_napari_viewer()
    viewer.add_image(series, name="movie", scale=(1.0, 0.5, 0.5), units=("s", "um", "um"))
    widget = ThresholdWidget(viewer)
    widget.stack.value = "per_frame"
    viewer.dims.set_current_step(0, 1)
    _idle(qtbot, widget)
    widget.fill_holes.value = True  # starts the preview's debounce...
    widget.apply()  # ...and Apply is pressed before it fires
    qtbot.wait(3 * widget_module._DEBOUNCE_MS)
    _idle(qtbot, widget)
    expected = threshold(series, frame_axis=0, fill_holes=True, spacing=(0.5, 0.5))
    np.testing.assert_array_equal(viewer.layers[f"movie{OUTPUT_SUFFIX}"].data, expected)
    assert "in frame" not in widget.status.value
    assert widget.status.value.startswith(f"{expected.max()} objects")


def test_opens_on_the_active_image(make_napari_viewer, qtbot, coins) -> None:
    viewer = make_napari_viewer()
    viewer.add_image(coins[::-1], name="first")
    chosen = viewer.add_image(coins, name="chosen")
    viewer.add_image(coins[:, ::-1], name="last")
    viewer.layers.selection.active = chosen  # the image the user clicked in the layer list
    _, widget = viewer.window.add_plugin_dock_widget(
        "napari-coco-masks", "Threshold and colour mask"
    )
    assert widget.image.value == chosen
    _idle(qtbot, widget)
    assert [layer.name for layer in _labels_layers(viewer)] == [f"chosen{OUTPUT_SUFFIX}"]


def test_status_names_the_step_that_emptied_the_result(make_napari_viewer, qtbot) -> None:
    """Issue 13 defect 9: "no pixel is above the threshold" was said when clear border (or
    min size) removed every object."""
    viewer = make_napari_viewer()
    frame = np.zeros((40, 40), np.uint8)
    frame[:10, :10] = 200  # one bright object, touching the edge
    frame[0, 39] = 200  # and one pixel
    viewer.add_image(frame, name="corner", scale=(0.5, 0.5), units="um")
    widget = ThresholdWidget(viewer)
    widget.clear_border.value = True
    _idle(qtbot, widget)
    assert "'clear border' removed every object" in widget.status.value
    assert "no pixel is above" not in widget.status.value
    widget.clear_border.value = False
    widget.min_size.value = 30.0  # µm²: 120 px, the square is 100 px
    _idle(qtbot, widget)
    assert "smaller than min size 30" in widget.status.value
    widget.min_size.value = 0.0
    widget.method.value = "manual"
    widget.value.value = 200
    _idle(qtbot, widget)
    assert "no pixel is above the threshold 200" in widget.status.value
    widget.value.value = 100
    _idle(qtbot, widget)
    assert widget.output_layer.data.max() == 2 and "2 objects" in widget.status.value


def test_preview_output_is_compact_so_napari_does_not_hash_it(make_napari_viewer, qtbot) -> None:
    """Issue 13 defect 10: changing the image re-showed an int32 2048² preview, which napari
    hashes pixel by pixel on the Qt thread; uint8/uint16 labels are drawn as they are."""
    from napari.utils.colormaps.colormap import _cast_labels_data_to_texture_dtype_auto

    viewer = make_napari_viewer()
    coins = data.coins()
    viewer.add_image(coins, name="coins")
    many = np.kron(np.indices((20, 20)).sum(0) % 2, np.ones((4, 4))).astype(np.uint8) * 200
    viewer.add_image(many, name="checker")  # 200 squares touching by corners: 200 objects
    widget = ThresholdWidget(viewer)
    widget.image.value = viewer.layers["coins"]
    _idle(qtbot, widget)
    out = viewer.layers["coins threshold"]
    assert out.data.dtype == np.uint8
    np.testing.assert_array_equal(out.data, threshold(coins))
    texture = _cast_labels_data_to_texture_dtype_auto(out.data, out.colormap)
    assert np.shares_memory(texture, out.data)  # no per-pixel copy on the Qt thread
    widget.image.value = viewer.layers["checker"]
    _idle(qtbot, widget)
    labels = viewer.layers["checker threshold"].data
    assert labels.dtype == np.uint8 and labels.max() == threshold(many).max()
    wide = np.arange(600, dtype=np.int32).reshape(20, 30)  # 599 objects
    compact = widget_module.compact_labels(wide)
    assert compact.dtype == np.uint16
    np.testing.assert_array_equal(compact, wide)


@pytest.mark.parametrize(
    "image",
    [np.full((1, 1), 50000, np.float16), np.full((3, 4), 1e20), np.array([[0.0, 1e-320]])],
    ids=["float16-constant", "huge-constant", "denormal-range"],
)
def test_histogram_of_a_range_too_narrow_for_128_bins(make_napari_viewer, image):
    """Widget fuzz case {"entry": "widgets", "seed": 2301595691}: a constant float16 image
    (and any range narrower than 128 representable steps) made ``np.histogram`` raise "Too
    many bins for data range" in ``_update_range``: a traceback instead of a histogram."""
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="flat")
    widget = ThresholdWidget(viewer)
    widget._update_range(layer)
    counts, edges = widget.histogram_data
    assert counts.sum() == image.size and np.all(np.diff(edges) > 0)


def test_colour_pick_on_a_float_rgb_image_outside_0_1(make_napari_viewer):
    """Widget fuzz case {"entry": "widgets", "seed": 4243591148}: picking a colour on a float
    RGB(A) image with negative values set the brightness slider to -5.1 and magicgui raised
    "value -5.11 is outside of the allowed range: (0.0, 1.0)". The ranges are clipped."""
    viewer = make_napari_viewer()
    rgba = np.random.default_rng(0).normal(-100, 50, (4, 4, 4))
    viewer.add_image(rgba, rgb=True, name="rgba")
    widget = ThresholdWidget(viewer)
    hsv = widget.pick_colour((1.0, 1.0))
    assert hsv is not None and widget.mode.value == "colour"
    for slider in (widget.saturation, widget.brightness):
        lo, hi = slider.value
        assert slider.min <= lo <= hi <= slider.max


def test_preprocess_and_label_morphology_steps(make_napari_viewer, qtbot, coins) -> None:
    """The toolkit next to the threshold: background subtraction before it, morphology on the
    labels after it (each equal to its segment function), and an emptying step named."""
    from napari_coco_masks.segment.morphology import erode_labels, open_labels
    from napari_coco_masks.segment.preprocess import white_tophat

    viewer = make_napari_viewer()
    viewer.add_image(coins, name="coins")
    widget = ThresholdWidget(viewer)
    _idle(qtbot, widget)
    # offered for a grey image; the radius only once a step that has one is chosen
    assert not widget.prepare.native.isHidden() and widget.prepare_radius.native.isHidden()
    widget.prepare.value = "white_tophat"
    assert not widget.prepare_radius.native.isHidden()
    widget.prepare_radius.value = 12
    _idle(qtbot, widget)
    expected = threshold(white_tophat(coins, 12))
    np.testing.assert_array_equal(widget.output_layer.data, expected)
    widget.morphology.value = "open"
    widget.morphology_radius.value = 2
    _idle(qtbot, widget)
    np.testing.assert_array_equal(widget.output_layer.data, open_labels(expected, 2))
    widget.morphology.value = "erode"
    widget.morphology_radius.value = 200
    _idle(qtbot, widget)
    assert not erode_labels(expected, 200).any()
    assert "'erode' by 200 px removed every object" in widget.status.value


def test_preprocess_per_frame_of_a_series(make_napari_viewer, qtbot, coins) -> None:
    from napari_coco_masks.segment.preprocess import median

    series = np.stack([coins, coins[::-1], coins[:, ::-1]])
    viewer = make_napari_viewer()
    viewer.add_image(series, name="series")
    widget = ThresholdWidget(viewer)
    widget.live.value = False
    widget.stack.value = "per_frame"
    widget.prepare.value = "median"
    widget.prepare_radius.value = 2
    with qtbot.waitSignal(widget.apply().finished, timeout=TIMEOUT):
        pass
    _idle(qtbot, widget)
    filtered = np.stack([median(frame, 2) for frame in series])
    np.testing.assert_array_equal(widget.output_layer.data, threshold(filtered, frame_axis=0))
