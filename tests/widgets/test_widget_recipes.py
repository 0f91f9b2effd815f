"""Save recipe… / Load recipe… of the segmentation widgets: the widget's result on an image
equals the batch result of the recipe it saved (same labels, same measurement table)."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
import tifffile
from skimage import data

from napari_coco_masks._widgets import _recipe_buttons
from napari_coco_masks._widgets.measure import MeasureWidget
from napari_coco_masks._widgets.region_growing import RegionGrowingWidget
from napari_coco_masks._widgets.threshold import ThresholdWidget
from napari_coco_masks._widgets.watershed import FLOOD_GRADIENT, SEEDED, WatershedWidget
from napari_coco_masks.demo import DATA
from napari_coco_masks.recipes import Recipe, apply_recipe, run_recipe

TIMEOUT = 20_000
SCALE = (0.5, 0.5)


@pytest.fixture
def dialog(monkeypatch, tmp_path: Path):
    """The file dialog answers with ``dialog.path``; ``dialog.asked`` counts the questions."""

    class Dialog:
        path: Path | None = tmp_path / "recipe.yaml"
        asked = 0

    def ask(parent, *, save):
        Dialog.asked += 1
        return None if Dialog.path is None else str(Dialog.path)

    monkeypatch.setattr(_recipe_buttons, "ask_path", ask)
    return Dialog


@pytest.fixture
def coins() -> np.ndarray:
    return iio.imread(DATA / "coins.png")[:150, :200]  # the bundled sample (skimage's coins)


def _save(widget, dialog) -> Recipe:
    dialog.path.unlink(missing_ok=True)
    widget.save_recipe_button.changed.emit(True)
    assert dialog.path.is_file(), _status(widget)
    return Recipe.load(dialog.path)


def _status(widget) -> str:
    status = getattr(widget, "status", None) or widget._status
    return status.text() if hasattr(status, "text") else status.value


def _apply(qtbot, widget: ThresholdWidget) -> np.ndarray:
    widget.apply()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT)
    return np.asarray(widget.output_layer.data)


def _same_table(widget_table: pd.DataFrame, batch_table: pd.DataFrame) -> None:
    assert list(widget_table.columns) == list(batch_table.columns)
    pd.testing.assert_frame_equal(widget_table.reset_index(drop=True),
                                  batch_table.reset_index(drop=True), check_dtype=False)


# (controls, expected step names): every threshold method, local ones, preprocess, morphology
THRESHOLD_CASES = [
    ({"method": "otsu", "sigma": 1.0, "fill_holes": True, "min_size": 20.0,
      "clear_border": True}, ["threshold", "measure"]),
    ({"method": "li"}, None), ({"method": "yen"}, None), ({"method": "triangle"}, None),
    ({"method": "isodata"}, None), ({"method": "mean"}, None), ({"method": "minimum"}, None),
    ({"method": "multiotsu", "classes": 3}, None),
    ({"method": "manual", "value": 120.0, "dark_objects": True}, None),
    ({"method": "local_mean", "block_size": 31, "offset": -5.0}, None),
    ({"method": "local_gaussian", "block_size": 41, "offset": -2.0}, None),
    ({"method": "sauvola", "block_size": 25, "k": 0.1}, None),
    ({"method": "niblack", "block_size": 25, "k": -0.2, "min_size": 5.0}, None),
    ({"method": "otsu", "prepare": "median", "prepare_radius": 2, "morphology": "open",
      "morphology_radius": 2}, ["preprocess", "threshold", "morphology", "measure"]),
    ({"method": "li", "prepare": "white_tophat", "prepare_radius": 10,
      "morphology": "fill_holes"}, ["preprocess", "threshold", "morphology", "measure"]),
]  # fmt: skip


def test_threshold_methods_equal_their_recipe(make_napari_viewer, qtbot, dialog, coins) -> None:
    viewer = make_napari_viewer()
    viewer.add_image(coins, name="coins", scale=SCALE, units="um")
    widget = ThresholdWidget(viewer)
    widget.live.value = False
    defaults = {name: getattr(widget, name).value for name, _ in
                [(n, 0) for case, _ in THRESHOLD_CASES for n in case]}  # fmt: skip
    for index, (controls, names) in enumerate(THRESHOLD_CASES):
        for name, value in {**defaults, **controls}.items():
            getattr(widget, name).value = value
        labels = _apply(qtbot, widget)
        assert labels.max() > 0, (controls, _status(widget))
        recipe = _save(widget, dialog)
        if names is not None:
            assert [s.name for s in recipe.steps] == names
        assert recipe.units == "µm" and recipe.spacing == SCALE
        assert "Saved recipe recipe.yaml: " in _status(widget)
        state = apply_recipe(recipe, coins, spacing=SCALE)
        np.testing.assert_array_equal(state.labels, labels, err_msg=str(controls))
        if index == 0:  # the Measure widget on the output and the image: the recipe's table
            table = MeasureWidget(viewer).run_measure(widget.output_layer, viewer.layers["coins"])
            _same_table(table, state.table)


def test_rgb_channel_and_colour_mask_equal_their_recipe(make_napari_viewer, qtbot,
                                                        dialog) -> None:
    rgb = data.astronaut()[:160, :160]
    viewer = make_napari_viewer()
    viewer.add_image(rgb, name="astronaut", rgb=True, scale=SCALE)
    widget = ThresholdWidget(viewer)
    widget.live.value = False
    cases = [
        {"mode": "threshold", "channel": 1, "method": "otsu", "min_size": 4.0},
        {"mode": "threshold", "channel": 0, "method": "li", "prepare": "median",
         "prepare_radius": 1},
        {"mode": "colour", "hue": 10.0, "hue_tolerance": 25.0, "saturation": (0.3, 1.0),
         "brightness": (0.2, 1.0), "fill_holes": True, "min_size": 2.0, "prepare": ""},
        {"mode": "colour", "hue": 350.0, "hue_tolerance": 30.0, "morphology": "dilate",
         "morphology_radius": 1},
    ]  # fmt: skip
    for controls in cases:
        for name, value in controls.items():
            getattr(widget, name).value = value
        labels = _apply(qtbot, widget)
        assert labels.max() > 0, (controls, _status(widget))
        recipe = _save(widget, dialog)
        assert recipe.units is None  # pixels
        state = apply_recipe(recipe, rgb, rgb=True, spacing=SCALE)
        np.testing.assert_array_equal(state.labels, labels, err_msg=str(controls))
        if controls["mode"] == "colour":
            assert recipe.steps[0].name == "colour_mask"
    # the last (colour) recipe loads back into the same colour controls
    widget.mode.value, widget.hue.value, widget.hue_tolerance.value = "threshold", 90.0, 5.0
    widget.morphology.value = ""
    widget.load_recipe_button.changed.emit(True)
    assert (widget.mode.value, widget.hue.value, widget.hue_tolerance.value) == (
        "colour", pytest.approx(350.0), pytest.approx(30.0))
    assert (widget.morphology.value, widget.morphology_radius.value) == ("dilate", 1)


def test_3d_stack_and_run_recipe_on_dask(make_napari_viewer, qtbot, dialog, tmp_path) -> None:
    from distributed import Client

    rng = np.random.default_rng(1)
    volume = rng.integers(0, 30, (10, 48, 48)).astype(np.uint8)
    volume[2:6, 5:20, 5:20] += 150
    volume[4:9, 25:44, 22:40] += 120
    scale = (2.0, 0.5, 0.5)
    viewer = make_napari_viewer()
    viewer.add_image(volume, name="stack", scale=scale, units="um")
    widget = ThresholdWidget(viewer)
    widget.live.value = False
    widget.stack.value = "volume"
    widget.method.value, widget.sigma.value, widget.min_size.value = "otsu", 0.5, 10.0
    labels = _apply(qtbot, widget)
    assert labels.max() == 2
    recipe = _save(widget, dialog)
    assert recipe.spacing == scale
    state = apply_recipe(recipe, volume, spacing=scale)
    np.testing.assert_array_equal(state.labels, labels)
    table = MeasureWidget(viewer).run_measure(widget.output_layer, viewer.layers["stack"])
    _same_table(table, state.table)

    # the same recipe as a batch on dask: the file's measurements are the widget's
    tifffile.imwrite(tmp_path / "stack.tif", volume)
    with Client(processes=False, n_workers=1, threads_per_worker=1,
                dashboard_address=":0") as client:  # fmt: skip
        report = run_recipe(dialog.path, [tmp_path / "stack.tif"], tmp_path / "out",
                            client=client, spacing=scale, progress=False)
    assert report.done == 1 and report.objects == 2
    batch = pd.read_csv(tmp_path / "out" / "measurements.csv")  # only volumes: no _3d suffix
    np.testing.assert_allclose(batch["area [µm³]"], table["area"])
    np.testing.assert_allclose(batch["intensity_mean"], table["intensity_mean"])


def test_watershed_split_and_seeded_equal_their_recipe(make_napari_viewer, qtbot, dialog,
                                                        coins) -> None:
    mask = coins > 110
    viewer = make_napari_viewer()
    viewer.add_image(mask, name="mask", scale=SCALE)
    labels_in = viewer.add_labels(apply_recipe(Recipe.from_steps(
        [("threshold", {"method": "otsu", "min_size": 5.0})]), coins, spacing=SCALE).labels,
        name="objects", scale=SCALE)  # fmt: skip
    widget = WatershedWidget(viewer)
    for layer, name, inputs in ((viewer.layers["mask"], "mask split", mask),
                                (labels_in, "objects split", labels_in.data)):
        widget.mask_layer.value = layer
        widget.min_distance.value, widget.h.value = 4.0, 0.5
        widget.run()
        qtbot.waitUntil(lambda n=name: not widget.busy and n in viewer.layers, timeout=TIMEOUT)
        out = viewer.layers[name].data
        assert out.max() > labels_in.data.max() // 2
        recipe = _save(widget, dialog)
        assert [s.name for s in recipe.steps] == ["input_labels", "split_touching", "measure"]
        state = apply_recipe(recipe, inputs, spacing=SCALE)
        np.testing.assert_array_equal(state.labels, out, err_msg=name)
        table = MeasureWidget(viewer).run_measure(viewer.layers[name])
        _same_table(table, state.table)

    # seeded: the markers are the Points layer's points, in physical units, in the recipe
    image = viewer.add_image(coins, name="coins", scale=SCALE)
    viewer.add_points(np.array([[20.0, 25.0], [40.0, 60.0], [60.0, 20.0]]), name="seeds")
    widget.mode.value = SEEDED
    widget.image_layer.value, widget.markers_layer.value = image, viewer.layers["seeds"]
    widget.flood.value, widget.compactness.value = FLOOD_GRADIENT, 0.01
    widget.run()
    qtbot.waitUntil(lambda: not widget.busy and "coins watershed" in viewer.layers,
                    timeout=TIMEOUT)  # fmt: skip
    out = viewer.layers["coins watershed"].data
    recipe = _save(widget, dialog)
    assert recipe.steps[0].params["markers"] == [[20.0, 25.0], [40.0, 60.0], [60.0, 20.0]]
    assert "the same points for every image" in recipe.description
    np.testing.assert_array_equal(apply_recipe(recipe, coins, spacing=SCALE).labels, out)
    # loaded back: the recipe's markers become a Points layer over the image, same result
    widget.compactness.value, widget.flood.value = 0.0, "image"
    widget.load_recipe_button.changed.emit(True)
    assert (widget.compactness.value, widget.flood.value) == (0.01, FLOOD_GRADIENT)
    assert widget.markers_layer.value is viewer.layers["coins recipe markers"]
    viewer.layers.remove("coins watershed")
    widget.run()
    qtbot.waitUntil(lambda: not widget.busy and "coins watershed" in viewer.layers,
                    timeout=TIMEOUT)  # fmt: skip
    np.testing.assert_array_equal(viewer.layers["coins watershed"].data, out)


def test_measure_widget_equals_its_recipe(make_napari_viewer, dialog, coins) -> None:
    labels = apply_recipe(Recipe.from_steps([("threshold", {"method": "li"})]), coins).labels
    viewer = make_napari_viewer()
    layer = viewer.add_labels(labels, name="cells", scale=(0.25, 0.5), units="um")
    viewer.add_image(coins, name="coins", scale=(0.25, 0.5))
    widget = MeasureWidget(viewer)
    widget.image_combo.setCurrentText("coins")
    assert widget.run_measure(layer) is not None
    # with an intensity image there is no recipe of this widget alone: said, no file dialog
    widget.save_recipe_button.changed.emit(True)
    assert dialog.asked == 0 and "intensity '(none)'" in _status(widget)
    widget.image_combo.setCurrentText("(none)")
    table = widget.run_measure(layer)
    recipe = _save(widget, dialog)
    assert recipe.units == "µm" and recipe.spacing == (0.25, 0.5)
    state = apply_recipe(recipe, labels)
    _same_table(table, state.table)
    np.testing.assert_array_equal(state.labels, labels)


def test_threshold_recipe_round_trip_and_bad_recipes(make_napari_viewer, dialog, tmp_path,
                                                     coins) -> None:
    viewer = make_napari_viewer()
    viewer.add_image(coins, name="coins", scale=SCALE, units="um")
    widget = ThresholdWidget(viewer)
    widget.live.value = False
    controls = {"method": "sauvola", "block_size": 45, "k": 0.15, "offset": 1.5, "sigma": 0.5,
                "fill_holes": True, "min_size": 12.5, "clear_border": True,
                "prepare": "rolling_ball", "prepare_radius": 20, "morphology": "close",
                "morphology_radius": 3, "dark_objects": True}  # fmt: skip
    for name, value in controls.items():
        getattr(widget, name).value = value
    _save(widget, dialog)
    for name, value in {"method": "otsu", "block_size": 35, "k": 0.2, "offset": 0.0,
                        "sigma": 0.0, "fill_holes": False, "min_size": 0.0,
                        "clear_border": False, "prepare": "", "morphology": "",
                        "dark_objects": False}.items():  # fmt: skip
        getattr(widget, name).value = value
    widget.load_recipe_button.changed.emit(True)
    assert {name: getattr(widget, name).value for name in controls} == controls
    assert _status(widget).startswith("Loaded recipe recipe.yaml: preprocess → threshold")
    assert not widget.block_size.native.isHidden() and not widget.morphology_radius.native.isHidden()

    # an unknown key: the RecipeError message, nothing changed
    text = dialog.path.read_text().replace("dark_objects: true", "dark_object: true")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    dialog.path = bad
    widget.min_size.value = 3.0
    widget.load_recipe_button.changed.emit(True)
    assert "steps[1] (threshold): unknown key 'dark_object'" in _status(widget)
    assert widget.min_size.value == 3.0 and widget.method.value == "sauvola"
    # a recipe of steps this widget does not run: named, nothing changed
    Recipe.from_steps([("threshold", {"method": "li", "min_size": 99.0}),
                       ("split_touching", {})]).save(bad)  # fmt: skip
    widget.load_recipe_button.changed.emit(True)
    assert "steps[1] (split_touching): the Threshold widget runs" in _status(widget)
    assert widget.min_size.value == 3.0 and widget.method.value == "sauvola"
    # a value outside a control's range: named, nothing changed
    Recipe.from_steps([("threshold", {"method": "li", "min_size": 5.0, "k": 7.0})]).save(bad)
    widget.load_recipe_button.changed.emit(True)
    assert "`k` 7.0 is outside" in _status(widget) and widget.method.value == "sauvola"
    # a setting with no recipe: said before any dialog
    asked = dialog.asked
    widget.output.value = "binary"
    widget.save_recipe_button.changed.emit(True)
    assert dialog.asked == asked and "set output to 'labels (objects)'" in _status(widget)
    # cancelled dialog: nothing written, nothing said
    widget.output.value = "labels"
    dialog.path = None
    widget.save_recipe_button.changed.emit(True)
    assert dialog.asked == asked + 1


def test_watershed_and_region_growing_round_trip(make_napari_viewer, qtbot, dialog,
                                                 coins) -> None:
    viewer = make_napari_viewer()
    image = viewer.add_image(coins, name="coins", scale=SCALE, units="um")
    points = viewer.add_points(np.array([[30.0, 30.0], [50.0, 70.0]]), name="seeds",
                               scale=SCALE)  # fmt: skip
    viewer.add_labels((coins > 110).astype(np.uint8), name="mask", scale=SCALE)
    water = WatershedWidget(viewer)
    water.min_distance.value, water.h.value = 7.5, 2.0
    _save(water, dialog)
    water.min_distance.value, water.h.value = 1.0, 0.0
    water.load_recipe_button.changed.emit(True)
    assert (water.min_distance.value, water.h.value) == (7.5, 2.0)

    grow = RegionGrowingWidget(viewer)
    grow._image.value, grow._seeds.value = image, points
    # settings with no exact recipe: said before any file dialog
    asked = dialog.asked
    grow.save_recipe_button.changed.emit(True)  # tolerance 0: auto bounds
    assert dialog.asked == asked and "tolerance 0" in _status(grow)
    grow._smoothing.value = 1.0
    grow._tolerance.value = 20.0
    grow.save_recipe_button.changed.emit(True)
    assert dialog.asked == asked and "pre-smoothing σ has no exact recipe" in _status(grow)
    settings = {"_mode": "confidence", "_multiplier": 1.5, "_iterations": 3, "_radius": 2,
                "_smoothing": 0.0, "_connectivity": "full", "_max_size": 200.0}  # fmt: skip
    for name, value in settings.items():
        getattr(grow, name).value = value
    qtbot.waitUntil(lambda: not grow.busy and "coins regions" in viewer.layers, timeout=TIMEOUT)
    recipe = _save(grow, dialog)
    assert [s.name for s in recipe.steps] == ["grow_regions", "measure"]
    assert recipe.steps[0].params["seeds"] == [[15.0, 15.0], [25.0, 35.0]]  # physical units
    assert "seeds are per-image input" in recipe.description
    assert "seeds are per-image input" in _status(grow)
    regions = viewer.layers["coins regions"].data
    assert regions.max() == 2
    with pytest.warns(Warning, match="reached max_size=800"):  # 200 µm² of 0.25 µm² pixels
        batch = apply_recipe(recipe, coins, spacing=SCALE).labels
    np.testing.assert_array_equal(batch, regions)  # truncated where the widget's are
    for name, value in {"_mode": "range", "_multiplier": 2.5, "_iterations": 4, "_radius": 1,
                        "_connectivity": "face", "_max_size": 0.0}.items():  # fmt: skip
        getattr(grow, name).value = value
    grow.load_recipe_button.changed.emit(True)
    assert {name: getattr(grow, name).value for name in settings} == settings
    loaded = viewer.layers["coins recipe seeds"]  # the recipe's seeds, over the image
    assert grow._seeds.value is loaded
    np.testing.assert_allclose(loaded.data, [[30.0, 30.0], [50.0, 70.0]])
    np.testing.assert_allclose(loaded.scale, SCALE)
    qtbot.waitUntil(lambda: not grow.busy, timeout=TIMEOUT)
    np.testing.assert_array_equal(viewer.layers["coins regions"].data, regions)
    # a watershed recipe is not a region-growing recipe
    water.mode.value = SEEDED
    water.image_layer.value, water.markers_layer.value = image, points
    _save(water, dialog)
    grow.load_recipe_button.changed.emit(True)
    assert "steps[0] (watershed): the Seeded region growing widget runs" in _status(grow)
    assert grow._mode.value == "confidence"
