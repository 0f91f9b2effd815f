"""The steps of issue 16: a recipe's result equals the segment function the widget calls."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
from onnx import TensorProto, helper, numpy_helper
from skimage import data as skdata

from napari_coco_masks import segment
from napari_coco_masks.demo import DATA
from napari_coco_masks.recipes import Recipe, RecipeError, apply_recipe, run_recipe
from napari_coco_masks.segment import classifier as cl
from napari_coco_masks.segment import clusters as cs
from napari_coco_masks.segment import edges as ed
from napari_coco_masks.segment import onnx_model as om

SPACING = (0.5, 0.5)
COINS = iio.imread(DATA / "coins.png")
GREY = segment.luminance(COINS) if COINS.ndim == 3 else COINS
RGB = skdata.astronaut()[::4, ::4]


def _labels(steps, image=GREY, rgb=False) -> np.ndarray:
    return apply_recipe(Recipe.from_steps(steps, units="mm"), image, rgb=rgb,
                        spacing=SPACING).labels


def _strokes() -> np.ndarray:
    strokes = np.zeros(GREY.shape, np.uint8)
    strokes[5:8, :] = 1
    strokes[120:124, 40:60] = 2
    strokes[40:44, 150:175] = 2
    return strokes


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory) -> Path:
    clf = cl.train_classifier(GREY, _strokes(), cl.FeatureSettings(sigma_min=0.5, sigma_max=4.0),
                              spacing=SPACING, n_estimators=8)
    return cl.save_classifier(clf, tmp_path_factory.mktemp("clf") / "coins.skops")


def test_pixel_classifier_equals_predict_pixels(classifier_file: Path) -> None:
    clf = cl.load_classifier(classifier_file)
    semantic = cl.predict_pixels(clf, GREY, spacing=SPACING)
    got = _labels([("pixel_classifier", {"classifier": str(classifier_file)})])
    np.testing.assert_array_equal(got, cl.semantic_to_instances(semantic, [2]))
    assert got.max() > 5
    split = _labels([("pixel_classifier", {"classifier": str(classifier_file),
                                           "instances": "split", "min_distance": 4.0})])
    expected = cl.semantic_to_instances(
        semantic, [2], split=partial(segment.split_touching, min_distance=4.0, spacing=SPACING))
    np.testing.assert_array_equal(split, expected)
    classes = _labels([("pixel_classifier", {"classifier": str(classifier_file),
                                             "instances": "none"})])
    np.testing.assert_array_equal(classes, np.where(semantic == 2, 2, 0))


def test_cluster_steps_equal_the_cluster_functions() -> None:
    np.testing.assert_array_equal(_labels([("kmeans_colour", {"n_clusters": 3})], RGB, True),
                                  cs.kmeans_colour(RGB, 3))
    np.testing.assert_array_equal(
        _labels([("slic", {"n_segments": 50, "compactness": 10.0, "sigma": 1.0})], RGB, True),
        cs.slic_superpixels(RGB, 50, 10.0, sigma=1.0, spacing=SPACING))
    np.testing.assert_array_equal(
        _labels([("felzenszwalb", {"scale": 50.0, "sigma": 0.5, "min_size": 10.0})], RGB, True),
        cs.felzenszwalb_segments(RGB, 50.0, 0.5, 10.0, spacing=SPACING))
    grey = _labels([("kmeans_colour", {"n_clusters": 2})])
    np.testing.assert_array_equal(grey, cs.kmeans_colour(GREY, 2, channel_axis=None))


def test_edge_steps_equal_the_edge_functions() -> None:
    got = _labels([("canny_objects", {"sigma": 1.0, "min_size": 20.0})])
    expected = ed.edges_to_objects(ed.canny(GREY, 1.0, spacing=SPACING), min_size=20.0,
                                   spacing=SPACING)
    np.testing.assert_array_equal(got, expected)
    assert got.max() > 0
    points = [[60.0, 40.0], [20.0, 90.0], [140.0, 180.0]]  # physical units
    got = _labels([("edge_watershed", {"markers": points, "method": "scharr", "sigma": 0.5})])
    elevation = ed.edge_magnitude(GREY, "scharr", sigma=0.5, spacing=SPACING)
    np.testing.assert_array_equal(
        got, segment.watershed(elevation, np.asarray(points) / np.asarray(SPACING)))
    log = apply_recipe(Recipe.from_steps([("log", {"sigma": 2.0}),
                                          ("threshold", {"method": "otsu", "dark_objects": True})]),
                       GREY, spacing=SPACING)
    np.testing.assert_array_equal(log.grey, ed.laplacian_of_gaussian(GREY, 2.0, spacing=SPACING))
    np.testing.assert_array_equal(
        log.labels, segment.threshold(log.grey, "otsu", dark_objects=True, spacing=SPACING))


def test_onnx_step_equals_predict_onnx(tmp_path: Path) -> None:
    w = np.array([[1, -2, 4], [0.5, 1, -1]], np.float32).reshape(2, 3, 1, 1)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, "H", "W"])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    params = {"model": str(path), "scale": 0.25, "mean": [1.0, 2.0, 3.0], "std": 2.0,
              "tile_size": 32, "overlap": 8}
    got = _labels([("onnx_model", params)], RGB, True)
    semantic = om.predict_onnx(om.load_onnx_model(path), RGB, channel_axis=-1, scale=0.25,
                               mean=(1.0, 2.0, 3.0), std=2.0, tile_size=32, overlap=8)
    np.testing.assert_array_equal(got, cl.semantic_to_instances(semantic, [1]))
    assert got.max() > 0


def test_bad_parameters_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="object_classes.*a list of integers"):
        Recipe.from_steps([("pixel_classifier", {"classifier": "x.skops", "object_classes": 2})])
    with pytest.raises(RecipeError, match="instances.*one of connected, split, none"):
        Recipe.from_steps([("pixel_classifier", {"classifier": "x.skops", "instances": "all"})])
    with pytest.raises(ValueError, match="no file at .*missing.skops"):
        _labels([("pixel_classifier", {"classifier": str(tmp_path / "missing.skops")})])


def test_a_classifier_saved_by_the_widget_runs_in_a_batch(make_napari_viewer, qtbot, tmp_path,
                                                          client, monkeypatch) -> None:
    from napari_coco_masks._widgets.classifier import ClassifierWidget

    viewer = make_napari_viewer()
    viewer.add_image(GREY, name="coins", scale=SPACING)
    widget = ClassifierWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.live.value = False
    widget.trees.value, widget.sigma_min.value, widget.sigma_max.value = 8, 0.5, 4.0
    widget.add_strokes_layer().data = _strokes()
    widget.train_button.clicked.emit()
    qtbot.waitUntil(lambda: not widget.busy and widget.classifier is not None, timeout=30_000)
    folder = tmp_path / "recipe"
    folder.mkdir()
    widget.save(str(folder / "coins.skops"))
    recipe = Recipe.from_steps([("pixel_classifier", {"classifier": "coins.skops"}), "measure"],
                               units="mm", spacing=SPACING)
    recipe.save(folder / "recipe.yaml")
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(DATA / "coins.png", images / "coins.png")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # relative paths are found beside the recipe, not in the cwd
    report = run_recipe(folder / "recipe.yaml", [images], tmp_path / "out", client=client,
                        progress=False)
    assert report.done == 1, report.failed
    with pytest.raises(ValueError, match="no file at"):  # built in memory: no folder of its own
        apply_recipe(recipe, GREY, spacing=SPACING)
    loaded = Recipe.load(folder / "recipe.yaml")
    assert loaded == recipe and loaded.folder == str(folder.resolve())
    expected = apply_recipe(loaded, GREY, spacing=SPACING)
    assert report.objects == expected.labels.max() > 5
    table = pd.read_csv(tmp_path / "out" / "measurements.csv")
    np.testing.assert_allclose(np.sort(table.filter(like="area [").iloc[:, 0]),
                               np.sort(expected.table.filter(like="area").iloc[:, 0]))
