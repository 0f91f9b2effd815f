"""Tests for napari_coco_masks.segment.onnx_model with small models built by the onnx package."""

from __future__ import annotations

import doctest

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from scipy import ndimage as ndi

from napari_coco_masks.segment import onnx_model as om
from napari_coco_masks.segment.onnx_model import (
    load_onnx_model,
    predict_onnx,
    preferred_providers,
    tile_starts,
    tile_weights,
)

#: Integer 3x3 kernel: float32 sums of integers stay exact.
KERNEL = np.array([[1, 2, 0], [-1, 4, 1], [0, -2, 3]], np.float32)


def conv_model(
    weights: list[np.ndarray],
    *,
    in_shape: list,
    out_shape: list,
    biases: list[np.ndarray] | None = None,
    nhwc: bool = False,
    final: str | None = None,
    strides: int = 1,
) -> bytes:
    """A chain of convolutions (OIHW weights, 'same' padding), optionally in NHWC and a final op."""
    nodes, inits = [], []
    current = "x"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]))
        current = "x_nchw"
    for k, w in enumerate(weights):
        pad = w.shape[-1] // 2
        inputs = [current, f"w{k}"]
        inits.append(numpy_helper.from_array(w.astype(np.float32), f"w{k}"))
        if biases is not None:
            inits.append(numpy_helper.from_array(biases[k].astype(np.float32), f"b{k}"))
            inputs.append(f"b{k}")
        nodes.append(
            helper.make_node("Conv", inputs, [f"c{k}"], pads=[pad] * 4, strides=[strides] * 2)
        )
        current = f"c{k}"
    if final:
        nodes.append(helper.make_node(final, [current], ["f"]))
        current = "f"
    if nhwc:
        nodes.append(helper.make_node("Transpose", [current], ["y"], perm=[0, 2, 3, 1]))
    else:
        nodes.append(helper.make_node("Identity", [current], ["y"]))
    graph = helper.make_graph(
        nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits,
    )  # fmt: skip
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture(scope="module")
def rgb_image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (37, 53, 3)).astype(np.uint8)


def test_1x1_conv_gives_the_known_output_exactly(rgb_image) -> None:
    w = np.array([[1, -2, 4], [0.5, 1, -1]], np.float32).reshape(2, 3, 1, 1)
    b = np.array([3, -8], np.float32)
    model = load_onnx_model(
        conv_model([w], biases=[b], in_shape=[1, 3, "H", "W"], out_shape=[1, 2, "H", "W"])
    )
    assert model.layout == "NCHW" and model.channels == 3 and model.tile_shape is None
    out = predict_onnx(model, rgb_image, channel_axis=-1, output="probabilities")
    expected = rgb_image.astype(np.float32) @ w[:, :, 0, 0].T + b
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(
        predict_onnx(model, rgb_image, channel_axis=-1), expected.argmax(-1)
    )
    # channels first in the image, and the normalisation (powers of two: exact in float32)
    chw = np.moveaxis(rgb_image, -1, 0)
    normed = predict_onnx(model, chw, channel_axis=0, scale=1 / 256, mean=(0.5, 0.25, 0), std=0.25,
                          output="probabilities")  # fmt: skip
    x = (rgb_image.astype(np.float32) / 256 - np.array([0.5, 0.25, 0], np.float32)) / 0.25
    np.testing.assert_array_equal(normed, x @ w[:, :, 0, 0].T + b)


def test_fixed_3x3_conv_equals_scipy_correlate() -> None:
    image = np.random.default_rng(1).integers(0, 100, (40, 31)).astype(np.float32)
    model = load_onnx_model(
        conv_model([KERNEL[None, None]], in_shape=[1, 1, "H", "W"], out_shape=[1, 1, "H", "W"])
    )
    out = predict_onnx(model, image, output="probabilities")[..., 0]
    np.testing.assert_array_equal(out, ndi.correlate(image, KERNEL, mode="constant"))
    np.testing.assert_array_equal(predict_onnx(model, image, threshold=50), out > 50)


def test_tiled_equals_whole_image_when_receptive_field_fits_the_overlap() -> None:
    rng = np.random.default_rng(2)
    image = rng.integers(0, 50, (100, 77)).astype(np.float32)
    w0 = rng.integers(-2, 3, (4, 1, 3, 3)).astype(np.float32)
    w1 = rng.integers(-2, 3, (3, 4, 3, 3)).astype(np.float32)
    biases = [rng.integers(-3, 4, 4).astype(np.float32), rng.integers(-3, 4, 3).astype(np.float32)]
    model = load_onnx_model(
        conv_model([w0, w1], biases=biases, in_shape=[1, 1, "H", "W"], out_shape=[1, 3, "H", "W"])
    )
    whole = predict_onnx(model, image, output="probabilities")
    # two 3x3 convolutions reach 2 pixels; overlap 8 leaves a 2-pixel zero-weight margin
    tiled = predict_onnx(model, image, output="probabilities", tile_size=32, overlap=8)
    np.testing.assert_allclose(tiled, whole, rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(predict_onnx(model, image, tile_size=(24, 40), overlap=12),
                                  predict_onnx(model, image))  # fmt: skip
    # and the overlap is really needed: without it the tile edges differ
    assert not np.allclose(
        predict_onnx(model, image, output="probabilities", tile_size=32, overlap=0), whole
    )


def test_fixed_size_model_is_tiled_and_padded() -> None:
    image = np.random.default_rng(3).integers(0, 100, (70, 45)).astype(np.float32)
    fixed = load_onnx_model(
        conv_model([KERNEL[None, None]], in_shape=[1, 1, 32, 32], out_shape=[1, 1, 32, 32])
    )
    assert fixed.tile_shape == (32, 32)
    out = predict_onnx(fixed, image, overlap=8, output="probabilities")[..., 0]
    np.testing.assert_allclose(out, ndi.correlate(image, KERNEL, mode="constant"), atol=1e-3)
    np.testing.assert_array_equal(predict_onnx(fixed, image, overlap=8, threshold=300), out > 300)
    small = image[:20, :10]  # smaller than the tile: zero padding, as the model's own
    np.testing.assert_array_equal(predict_onnx(fixed, small, output="probabilities")[..., 0],
                                  ndi.correlate(small, KERNEL, mode="constant"))  # fmt: skip
    with pytest.raises(
        ValueError, match=r"`tile_size` \(64, 64\) does not fit the model: .*exactly \(32, 32\)"
    ):
        predict_onnx(fixed, image, tile_size=64)


def test_nhwc_model_is_recognised(rgb_image) -> None:
    w = np.array([[1, 0, 0], [0, 0, 1]], np.float32).reshape(2, 3, 1, 1)
    model = load_onnx_model(
        conv_model([w], in_shape=[1, "H", "W", 3], out_shape=[1, "H", "W", 2], nhwc=True)
    )
    assert model.layout == "NHWC" and model.channels == 3
    out = predict_onnx(model, rgb_image, channel_axis=-1, output="probabilities")
    np.testing.assert_array_equal(out, rgb_image[..., [0, 2]].astype(np.float32))
    np.testing.assert_array_equal(predict_onnx(model, rgb_image, channel_axis=-1, tile_size=16, overlap=4),
                                  rgb_image[..., 2] > rgb_image[..., 0])  # fmt: skip


def test_probability_map_model_is_thresholded() -> None:
    image = np.linspace(-4, 4, 81, dtype=np.float32).reshape(9, 9)
    w = np.ones((1, 1, 1, 1), np.float32)
    model = load_onnx_model(
        conv_model([w], in_shape=[1, 1, "H", "W"], out_shape=[1, 1, "H", "W"], final="Sigmoid")
    )
    prob = predict_onnx(model, image, output="probabilities")[..., 0]
    np.testing.assert_allclose(prob, 1 / (1 + np.exp(-image)), rtol=1e-5)
    np.testing.assert_array_equal(predict_onnx(model, image, threshold=0.9), prob > 0.9)


def test_shapes_that_do_not_fit_name_both_shapes_and_the_layout(rgb_image, tmp_path) -> None:
    w = np.ones((2, 3, 1, 1), np.float32)
    model = load_onnx_model(conv_model([w], in_shape=[1, 3, "H", "W"], out_shape=[1, 2, "H", "W"]))
    with pytest.raises(ValueError, match=r"needs 3 input channel\(s\) but the image \(shape \(37, 53\)\) has 1; "
                       r"model input 'x' \(1, 3, H, W\), output 'y' \(1, 2, H, W\), layout NCHW"):  # fmt: skip
        predict_onnx(model, rgb_image[..., 0])
    strided = load_onnx_model(
        conv_model([w], in_shape=[1, 3, "H", "W"], out_shape=[1, 2, "h", "w"], strides=2)
    )
    with pytest.raises(ValueError, match=r"output has shape \(1, 2, 19, 27\) for an input tile of shape "
                       r"\(1, 3, 37, 53\).*must return \(1, classes, 37, 53\) in layout NCHW"):  # fmt: skip
        predict_onnx(strided, rgb_image, channel_axis=-1)
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ValueError, match="onnxruntime cannot open it as an ONNX model"):
        load_onnx_model(bad)
    with pytest.raises(ValueError, match="no ONNX model at"):
        load_onnx_model(tmp_path / "missing.onnx")
    flat = conv_model([w], in_shape=[1, 3, "H", "W"], out_shape=[1, 2, "H", "W"])
    with pytest.raises(
        ValueError, match="`overlap` \\(40\\) must be >= 0 and smaller than the tile"
    ):
        predict_onnx(load_onnx_model(flat), rgb_image, channel_axis=-1, tile_size=32, overlap=40)


def unet_like(skip: bool) -> bytes:
    """Down-sample by 2 (3x3 conv, stride 2), up-sample back (nearest), optionally concat the input."""
    w = numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["down"], pads=[1] * 4, strides=[2, 2]),
        helper.make_node("Resize", ["down", "", "scales"], ["up"], mode="nearest"),
    ]
    if skip:
        nodes.append(helper.make_node("Concat", ["up", "x"], ["y"], axis=1))
    else:
        nodes.append(helper.make_node("Identity", ["up"], ["y"]))
    channels = 2 if skip else 1
    graph = helper.make_graph(
        nodes, "unet", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, "h", "w"])], [w, scales],
    )  # fmt: skip
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_models_that_down_sample_get_padded_to_a_multiple() -> None:
    image = np.random.default_rng(4).integers(0, 10, (37, 53)).astype(np.float32)
    crops = load_onnx_model(unet_like(skip=False))
    with pytest.raises(ValueError, match=r"output has shape \(1, 1, 38, 54\) for an input tile of shape "
                       r"\(1, 1, 37, 53\).*pass `multiple`"):  # fmt: skip
        predict_onnx(crops, image, output="probabilities")
    out = predict_onnx(crops, image, output="probabilities", multiple=2)[..., 0]
    padded = np.pad(image, ((0, 1), (0, 1)))[None, None]
    direct = crops.session.run(["y"], {"x": padded})[0][0, 0, :37, :53]
    np.testing.assert_array_equal(out, direct)
    skip = load_onnx_model(unet_like(skip=True))
    with pytest.raises(
        ValueError, match=r"onnxruntime failed on an input tile of shape \(1, 1, 37, 53\)"
    ):
        predict_onnx(skip, image)
    both = predict_onnx(skip, image, output="probabilities", multiple=2, tile_size=24, overlap=8)
    np.testing.assert_allclose(both[..., 1], image, rtol=1e-6)  # the skip connection: the input


def test_float16_models_run_and_integer_inputs_are_refused() -> None:
    w = numpy_helper.from_array(np.full((1, 1, 1, 1), 3.0, np.float16), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Cast", ["c"], ["y"], to=TensorProto.FLOAT)],
        "half", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 1, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "H", "W"])], [w],
    )  # fmt: skip
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    half = load_onnx_model(model.SerializeToString())
    assert half.input_dtype == "float16"
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(
        predict_onnx(half, image, output="probabilities")[..., 0], 3.0 * image
    )
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)], "ints",
        [helper.make_tensor_value_info("x", TensorProto.INT64, [1, 1, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "H", "W"])],
    )  # fmt: skip
    ints = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])
    ints.ir_version = 8
    with pytest.raises(
        ValueError,
        match=r"model input 'x' is a tensor\(int64\); a segmentation model takes a float",
    ):
        load_onnx_model(ints.SerializeToString())


def test_iter_predict_validates_first_then_reports_each_tile(rgb_image) -> None:
    w = np.ones((2, 3, 1, 1), np.float32)
    model = load_onnx_model(conv_model([w], in_shape=[1, 3, "H", "W"], out_shape=[1, 2, "H", "W"]))
    with pytest.raises(ValueError, match=r"needs 3 input channel\(s\)"):
        om.iter_predict_onnx(model, rgb_image[..., 0])  # raises before the first step
    steps = om.iter_predict_onnx(model, rgb_image, channel_axis=-1, tile_size=16, overlap=4)
    progress = []
    while True:
        try:
            progress.append(next(steps))
        except StopIteration as stop:
            result = stop.value
            break
    n = len(tile_starts(37, 16, 4)) * len(tile_starts(53, 16, 4))
    assert progress == [(k, n) for k in range(1, n + 1)]
    np.testing.assert_array_equal(result, predict_onnx(model, rgb_image, channel_axis=-1))


def test_providers_prefer_an_installed_gpu() -> None:
    assert preferred_providers(["CPUExecutionProvider", "CUDAExecutionProvider", "DmlExecutionProvider"]) == [
        "CUDAExecutionProvider", "DmlExecutionProvider", "CPUExecutionProvider"]  # fmt: skip
    assert preferred_providers()[-1] == "CPUExecutionProvider"
    model = load_onnx_model(conv_model([np.ones((1, 1, 1, 1), np.float32)], in_shape=[1, 1, "H", "W"],
                                       out_shape=[1, 1, "H", "W"]))  # fmt: skip
    assert model.providers == [
        p for p in preferred_providers() if p in ort.get_available_providers()
    ]


def test_tiles_cover_the_image_and_weights_blend() -> None:
    for length, tile, overlap in [(100, 32, 8), (77, 24, 12), (32, 32, 8), (33, 32, 0)]:
        starts = tile_starts(length, tile, overlap)
        covered = np.zeros(length, int)
        for s in starts:
            covered[s : s + tile] += tile_weights(tile, overlap, s, length)[: length - s] > 0
        assert covered.min() >= 1 and starts[-1] + tile >= length
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:], strict=False))
    assert tile_weights(32, 8, 0, 32).min() == 1


def test_docstring_examples_run() -> None:
    result = doctest.testmod(om, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0
