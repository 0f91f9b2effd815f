"""ONNX widget in a real viewer, with small models built by the onnx package."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from napari_coco_masks._widgets.onnx_model import OnnxWidget
from napari_coco_masks.segment import onnx_model as om
from napari_coco_masks.segment.classifier import semantic_to_instances

SCALE, TRANSLATE = (0.25, 0.25), (1.0, 2.0)


def conv(weight: np.ndarray, bias: np.ndarray, in_shape: list, out_shape: list) -> bytes:
    """One convolution (OIHW weights, 'same' padding) as an ONNX model."""
    pad = weight.shape[-1] // 2
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[pad] * 4)], "test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(weight.astype(np.float32), "w"),
         numpy_helper.from_array(bias.astype(np.float32), "b")],
    )
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def _setup(make_napari_viewer, image, model: bytes, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(model)
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="img", scale=SCALE, translate=TRANSLATE,
                             units=("µm", "µm"))
    widget = OnnxWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.model_file.value = str(path)
    return viewer, layer, widget, path


def _run(qtbot, widget) -> None:
    widget.run_button.clicked.emit()
    qtbot.waitUntil(lambda: not widget.busy, timeout=30_000)


def test_known_weights_give_the_known_classes(make_napari_viewer, qtbot, tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (37, 53, 3)).astype(np.uint8)
    w = np.array([[1, -2, 4], [0.5, 1, -1]], np.float32).reshape(2, 3, 1, 1)
    b = np.array([3, -8], np.float32)
    model = conv(w, b, [1, 3, "H", "W"], [1, 2, "H", "W"])
    viewer, layer, widget, _ = _setup(make_napari_viewer, rgb, model, tmp_path)
    widget.instances.value = "connected"
    _run(qtbot, widget)
    out = viewer.layers["img model"]
    expected = (rgb.astype(np.float32) @ w[:, :, 0, 0].T + b).argmax(-1)
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(viewer.layers["img model objects"].data,
                                  semantic_to_instances(expected, [1]))
    np.testing.assert_array_equal(out.scale, SCALE)
    np.testing.assert_array_equal(out.translate, TRANSLATE)
    assert tuple(map(str, out.units)) == tuple(map(str, layer.units))
    assert "layout NCHW" in widget.status.value


def test_tiled_equals_whole_and_the_normalisation_is_used(make_napari_viewer, qtbot, tmp_path):
    grey = np.random.default_rng(1).integers(0, 256, (70, 90)).astype(np.uint8)
    kernel = np.array([[1, 2, 0], [-1, 4, 1], [0, -2, 3]], np.float32)
    w = np.stack([kernel, -kernel]).reshape(2, 1, 3, 3)
    model = conv(w, np.zeros(2), [1, 1, "H", "W"], [1, 2, "H", "W"])
    viewer, _, widget, path = _setup(make_napari_viewer, grey, model, tmp_path)
    widget.scale.value, widget.mean.value, widget.std.value = 0.5, "16", "2"
    _run(qtbot, widget)
    whole = viewer.layers["img model"].data.copy()
    loaded = om.load_onnx_model(path)
    np.testing.assert_array_equal(
        whole, om.predict_onnx(loaded, grey, scale=0.5, mean=16.0, std=2.0))
    widget.tile.value, widget.overlap.value = 32, 8
    _run(qtbot, widget)
    np.testing.assert_array_equal(viewer.layers["img model"].data, whole)
    assert [la.name for la in viewer.layers].count("img model") == 1


def test_a_model_that_does_not_fit_names_both_shapes(make_napari_viewer, qtbot, tmp_path):
    grey = np.zeros((20, 30), np.uint8)
    model = conv(np.ones((2, 3, 1, 1)), np.zeros(2), [1, 3, "H", "W"], [1, 2, "H", "W"])
    viewer, _, widget, _ = _setup(make_napari_viewer, grey, model, tmp_path)
    _run(qtbot, widget)
    assert "needs 3 input channel(s)" in widget.status.value
    assert "layout NCHW" in widget.status.value
    assert "img model" not in viewer.layers
    assert widget.run_button.enabled
