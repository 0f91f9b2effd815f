"""Run your own ONNX semantic-segmentation or probability-map model on an image.

Pure numpy / onnxruntime: no napari or Qt import lives here, and nothing is downloaded (the user
brings the ``.onnx`` file).

* :func:`load_onnx_model` opens the model with onnxruntime on the CPU, or on a GPU provider when
  one is installed (:func:`preferred_providers`), and finds its input layout (``NCHW`` or
  ``NHWC``; channels, fixed or free tile size).
* :func:`predict_onnx` normalises the image (``(image * scale - mean) / std``, per channel),
  runs the model on the whole image or on overlapping tiles blended with linear ramps, and turns
  the output into class labels (argmax over the classes; a 1-channel output is thresholded) or
  returns the blended outputs.

Tiles: each tile's weight is 0 within ``overlap // 4`` pixels of an edge it shares with another
tile and ramps up to 1 across the rest of the overlap. A model whose receptive field reaches no
further than ``overlap // 4`` pixels (a 3x3 convolution reaches 1) therefore gives the same
result tiled as on the whole image, with the model's zero padding at the image border.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._frames import drain

__all__ = [
    "GPU_PROVIDERS",
    "LAYOUTS",
    "OnnxModel",
    "iter_predict_onnx",
    "load_onnx_model",
    "predict_onnx",
    "preferred_providers",
    "tile_starts",
    "tile_weights",
]

#: Input layouts the model may use (batch, channels, rows, columns).
LAYOUTS = ("NCHW", "NHWC")

#: GPU execution providers tried before the CPU, in this order, when onnxruntime offers them.
GPU_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "ROCMExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
)

Dim = int | str | None

#: ONNX input element types the model may take, and the numpy dtype it is fed as.
_INPUT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
}


@dataclass
class OnnxModel:
    """An opened ONNX model and what its input and output look like.

    Attributes
    ----------
    session : onnxruntime.InferenceSession
        The session (its providers: ``session.get_providers()``).
    input_name, output_name : str
        The model's (first) input and output.
    input_shape, output_shape : tuple
        Their shapes as the model declares them (``str`` or None for a free dimension).
    layout : {"NCHW", "NHWC"}
        Layout of the input (and of a 4D output).
    source : str
        The file, or ``"<bytes>"``.
    providers : list of str
        The execution providers the session uses.
    input_dtype : str
        numpy dtype the input is fed as (float32, float16 or float64).
    """

    session: Any
    input_name: str
    output_name: str
    input_shape: tuple[Dim, ...]
    output_shape: tuple[Dim, ...]
    layout: str
    source: str = "<bytes>"
    providers: list[str] = field(default_factory=list)
    input_dtype: str = "float32"

    @property
    def channels(self) -> int | None:
        """Input channels the model needs (None: any)."""
        dim = self.input_shape[1 if self.layout == "NCHW" else 3]
        return dim if isinstance(dim, int) else None

    @property
    def tile_shape(self) -> tuple[int, int] | None:
        """Fixed (rows, columns) of the input, or None when the model takes any size."""
        rows, cols = self.input_shape[2:4] if self.layout == "NCHW" else self.input_shape[1:3]
        if isinstance(rows, int) and isinstance(cols, int):
            return rows, cols
        return None

    def describe(self) -> str:
        """One line naming the input and output shapes and the layout, for messages."""
        return (
            f"model input {self.input_name!r} {_fmt(self.input_shape)}, output "
            f"{self.output_name!r} {_fmt(self.output_shape)}, layout {self.layout}"
        )


def _fmt(shape: Sequence[Dim]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _dims(shape: Sequence[Any]) -> tuple[Dim, ...]:
    return tuple(d if isinstance(d, int) and d > 0 else (d if isinstance(d, str) else None)
                 for d in shape)  # fmt: skip


# --------------------------------------------------------------------------- opening


def preferred_providers(available: Sequence[str] | None = None) -> list[str]:
    """Execution providers to ask for: the installed GPU ones first, then the CPU.

    Examples
    --------
    >>> preferred_providers(["CPUExecutionProvider", "CUDAExecutionProvider"])
    ['CUDAExecutionProvider', 'CPUExecutionProvider']
    >>> preferred_providers(["AzureExecutionProvider", "CPUExecutionProvider"])
    ['CPUExecutionProvider']
    """
    if available is None:
        import onnxruntime

        available = onnxruntime.get_available_providers()
    return [p for p in GPU_PROVIDERS if p in available] + ["CPUExecutionProvider"]


def _guess_layout(shape: tuple[Dim, ...]) -> str:
    """NHWC when only the last dimension looks like channels (1, 3 or 4), else NCHW."""

    def is_channels(d: Dim) -> bool:
        return isinstance(d, int) and d in (1, 3, 4)

    return "NHWC" if is_channels(shape[3]) and not is_channels(shape[1]) else "NCHW"


def load_onnx_model(
    model: str | os.PathLike | bytes,
    *,
    layout: str = "auto",
    providers: Sequence[str] | None = None,
    threads: int | None = None,
) -> OnnxModel:
    """Open an ONNX segmentation model with onnxruntime.

    Parameters
    ----------
    model : path or bytes
        The ``.onnx`` file (or its bytes).
    layout : {"auto", "NCHW", "NHWC"}
        Input layout; ``"auto"`` takes NHWC only when the last input dimension is 1, 3 or 4 and
        the second is not (PyTorch exports are NCHW, Keras/TensorFlow ones NHWC).
    providers : sequence of str, optional
        onnxruntime execution providers (default: :func:`preferred_providers`).
    threads : int, optional
        Threads onnxruntime may use (default: its own choice).

    Returns
    -------
    OnnxModel

    Raises
    ------
    ValueError
        Not an ONNX file, or an input that is not 4D (batch, channels, rows, columns).

    Examples
    --------
    >>> from onnx import TensorProto, helper, numpy_helper
    >>> import numpy as np
    >>> w = numpy_helper.from_array(np.full((2, 1, 1, 1), 2.0, np.float32), "w")
    >>> graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, "H", "W"])], [w])
    >>> m = load_onnx_model(helper.make_model(graph, ir_version=8).SerializeToString())
    >>> m.describe()
    "model input 'x' (1, 1, H, W), output 'y' (1, 2, H, W), layout NCHW"
    """
    import onnxruntime as ort

    if layout != "auto" and layout not in LAYOUTS:
        raise ValueError(f"`layout` must be 'auto', 'NCHW' or 'NHWC', got {layout!r}")
    source = "<bytes>" if isinstance(model, (bytes, bytearray)) else str(model)
    if source != "<bytes>" and not Path(source).is_file():
        raise ValueError(f"no ONNX model at {source!r}: choose an existing .onnx file")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors reach the caller as exceptions, not as log lines
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    chosen = list(providers) if providers is not None else preferred_providers()
    try:
        session = ort.InferenceSession(
            bytes(model) if source == "<bytes>" else source, options, providers=chosen
        )
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidProtobuf / RuntimeError
        raise ValueError(f"{source}: onnxruntime cannot open it as an ONNX model ({exc})") from None
    inp, out = session.get_inputs()[0], session.get_outputs()[0]
    in_shape, out_shape = _dims(inp.shape), _dims(out.shape)
    if len(in_shape) != 4:
        raise ValueError(
            f"{source}: model input {inp.name!r} has shape {_fmt(in_shape)}; a segmentation model "
            "needs a 4D input (batch, channels, rows, columns) in layout NCHW or NHWC"
        )
    dtype = _INPUT_TYPES.get(inp.type)
    if dtype is None:
        raise ValueError(
            f"{source}: model input {inp.name!r} is a {inp.type}; a segmentation model takes a "
            f"float tensor ({', '.join(_INPUT_TYPES)})"
        )
    found = _guess_layout(in_shape) if layout == "auto" else layout
    return OnnxModel(session, inp.name, out.name, in_shape, out_shape, found, source,
                     session.get_providers(), dtype)  # fmt: skip


# --------------------------------------------------------------------------- tiles


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Starts of tiles of ``tile`` pixels covering ``length``, ``overlap`` pixels apart or more.

    Examples
    --------
    >>> tile_starts(100, 40, 8)
    [0, 32, 60]
    >>> tile_starts(30, 40, 8)
    [0]
    """
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def tile_weights(tile: int, overlap: int, start: int, length: int) -> NDArray[np.float32]:
    """Blending weights of one tile along one axis (0 near a shared edge, ramping up to 1).

    Edges on the image border get weight 1 (no neighbour to blend with).

    Examples
    --------
    >>> [round(float(v), 2) for v in tile_weights(10, 8, 0, 20)]
    [1.0, 1.0, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.0, 0.0]
    """
    margin = overlap // 4
    d = np.arange(tile, dtype=np.float32)
    ramp = np.clip((d - margin + 1) / (overlap - 2 * margin + 1), 0, 1)
    w = np.ones(tile, np.float32)
    if start > 0:
        w = np.minimum(w, ramp)
    if start + tile < length:
        w = np.minimum(w, ramp[::-1])
    return w


# --------------------------------------------------------------------------- running


def _norm_values(
    n: int, mean: float | Sequence[float], std: float | Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel float32 ``mean`` and ``std`` (one value broadcast to ``n`` channels)."""
    out = []
    for name, value in (("mean", mean), ("std", std)):
        v = np.asarray(value, np.float32).ravel()
        if v.size not in (1, n):
            raise ValueError(f"`{name}` has {v.size} values; give one, or one per channel ({n})")
        out.append(np.broadcast_to(v, (n,)))
    if np.any(out[1] == 0):
        raise ValueError("`std` must not be 0")
    return out[0], out[1]


def _normalise(
    image: np.ndarray,
    scale: float,
    mean: np.ndarray,
    std: np.ndarray,
    out: np.ndarray | None = None,
) -> NDArray[np.float32]:
    """(channels, rows, cols) float32 ``(image * scale - mean) / std`` of a channels-last image.

    Computed as ``image * (scale / std) - mean / std`` (one multiply and one add per pixel,
    either left out when it does nothing). With ``out`` (channels, >= rows, >= cols), written
    into its top-left corner.
    """
    n, rows, cols = image.shape[-1], *image.shape[:2]
    x = np.empty((n, rows, cols), np.float32) if out is None else out
    target = x[:, :rows, :cols]
    factor = (np.float32(scale) / std).astype(np.float32)[:, None, None]
    shift = (-mean / std).astype(np.float32)[:, None, None]
    # one ufunc call over the channels-first view of the channels-last image
    np.multiply(image.transpose(2, 0, 1), factor, out=target, dtype=np.float32, casting="unsafe")
    if shift.any():
        target += shift
    return x


def _run(
    model: OnnxModel, x: np.ndarray, image_shape: tuple[int, ...], multiple: int = 1
) -> NDArray[np.float32]:
    """Run one (channels, rows, cols) tile; return the output as (classes, rows, cols) float32.

    With ``multiple`` > 1 the tile is zero-padded on the bottom and right to multiples of it
    and the output cropped back.
    """
    rows, cols = x.shape[1:]
    pad_r, pad_c = -rows % multiple, -cols % multiple
    if pad_r or pad_c:
        x = np.pad(x, ((0, 0), (0, pad_r), (0, pad_c)))
    batch = x[None] if model.layout == "NCHW" else x.transpose(1, 2, 0)[None]
    batch = np.ascontiguousarray(batch, dtype=model.input_dtype)
    try:
        y = np.asarray(model.session.run([model.output_name], {model.input_name: batch})[0])
    except Exception as exc:  # onnxruntime's Fail / InvalidArgument / RuntimeException
        raise ValueError(
            f"onnxruntime failed on an input tile of shape {tuple(batch.shape)} (image "
            f"{tuple(image_shape)}): {str(exc).strip()[:300]}; {model.describe()}. A model that "
            "down-samples needs tiles whose sides are multiples of its stride: pass "
            "`multiple` (e.g. 32) or a `tile_size` that is one"
        ) from None
    if y.dtype != np.float32:
        y = y.astype(np.float32)
    out_rows, out_cols = rows + pad_r, cols + pad_c
    if y.ndim == 3 and y.shape[1:] == (out_rows, out_cols):
        return y[:, :rows, :cols]
    if y.ndim == 4 and model.layout == "NCHW" and y.shape[2:] == (out_rows, out_cols):
        return y[0, :, :rows, :cols]
    if y.ndim == 4 and model.layout == "NHWC" and y.shape[1:3] == (out_rows, out_cols):
        return y[0, :rows, :cols].transpose(2, 0, 1)
    expected = (
        f"(1, classes, {out_rows}, {out_cols})"
        if model.layout == "NCHW"
        else f"(1, {out_rows}, {out_cols}, classes)"
    )
    raise ValueError(
        f"the model's output has shape {tuple(y.shape)} for an input tile of shape "
        f"{tuple(batch.shape)} (image {tuple(image_shape)}): a segmentation model must return "
        f"{expected} in layout {model.layout} or (1, {out_rows}, {out_cols}); "
        f"{model.describe()}. Check `layout`, or pass `multiple` (the model's stride) if it "
        "crops odd sizes, or use a model whose output has the input's rows and columns"
    )


def _check_input(model: OnnxModel, image: np.ndarray, original: tuple[int, ...]) -> None:
    need = model.channels
    if need is not None and image.shape[-1] != need:
        axis = "channel_axis=-1 (or the image's channel axis)" if need > 1 else "one channel"
        raise ValueError(
            f"the model needs {need} input channel(s) but the image (shape {original}) has "
            f"{image.shape[-1]}; {model.describe()}. Pass {axis}, or a model for "
            f"{image.shape[-1]} channel(s)"
        )


def _tile_size(
    model: OnnxModel, tile_size: int | Sequence[int] | None, shape: tuple[int, int]
) -> tuple[int, int]:
    fixed = model.tile_shape
    if tile_size is None:
        return fixed if fixed is not None else shape
    size = tuple(int(t) for t in np.broadcast_to(np.asarray(tile_size), (2,)))
    if min(size) < 1:
        raise ValueError(f"`tile_size` must be >= 1, got {tile_size!r}")
    if fixed is not None and size != fixed:
        raise ValueError(
            f"`tile_size` {size} does not fit the model: its input takes exactly {fixed} "
            f"(rows, columns); {model.describe()}. Leave `tile_size` unset"
        )
    return size  # type: ignore[return-value]


def iter_predict_onnx(
    model: OnnxModel,
    image: ArrayLike,
    *,
    channel_axis: int | None = None,
    scale: float = 1.0,
    mean: float | Sequence[float] = 0.0,
    std: float | Sequence[float] = 1.0,
    tile_size: int | Sequence[int] | None = None,
    overlap: int = 32,
    output: str = "labels",
    threshold: float = 0.5,
    multiple: int = 1,
) -> NDArray[Any]:
    """Validate the inputs of :func:`predict_onnx` and return its step generator.

    Every check (channels, tile size, overlap, options) raises here, before any work; the
    generator yields ``(tiles_done, n_tiles)`` after each model run and returns what
    :func:`predict_onnx` returns, so a GUI can show progress and stop between tiles.
    Parameters are those of :func:`predict_onnx`.

    Examples
    --------
    >>> from onnx import TensorProto, helper, numpy_helper
    >>> import numpy as np
    >>> w = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")
    >>> graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "H", "W"])], [w])
    >>> m = load_onnx_model(helper.make_model(graph, ir_version=8).SerializeToString())
    >>> steps = iter_predict_onnx(m, np.zeros((50, 40)), tile_size=32, overlap=8)
    >>> [next(steps) for _ in range(4)]
    [(1, 4), (2, 4), (3, 4), (4, 4)]
    """
    if output not in ("labels", "probabilities"):
        raise ValueError(f"`output` must be 'labels' or 'probabilities', got {output!r}")
    if int(multiple) != multiple or multiple < 1:
        raise ValueError(f"`multiple` must be an integer >= 1, got {multiple!r}")
    multiple = int(multiple)
    array = np.asarray(image)
    original = tuple(array.shape)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or array.size == 0:
        raise ValueError(
            f"`image` (shape {original}, dtype {array.dtype}) must be a non-empty numeric array"
        )
    if channel_axis is not None:
        array = np.moveaxis(array, channel_axis, -1)
    elif array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(
            f"`image` (shape {original}) must be 2D, or 3D with `channel_axis`; for a stack run "
            "each frame"
        )
    _check_input(model, array, original)
    rows, cols = array.shape[:2]
    overlap = int(overlap)
    th, tw = _tile_size(model, tile_size, (rows, cols))
    tiled = rows > th or cols > tw
    if overlap < 0 or (tiled and overlap >= min(th, tw)):
        raise ValueError(
            f"`overlap` ({overlap}) must be >= 0 and smaller than the tile ({th} x {tw})"
        )
    norm = (float(scale), *_norm_values(array.shape[-1], mean, std))

    def steps() -> Generator[tuple[int, int], None, Any]:
        if (th, tw) == (rows, cols):
            total, weight = _run(model, _normalise(array, *norm), original, multiple), None
            yield 1, 1
        else:
            blend = _blend_tiles(model, array, norm, (th, tw), overlap, original, multiple)
            total = yield from blend
            # an argmax of the weighted sums needs no division (the weights are positive)
            need_weight = output == "probabilities" or total.shape[0] == 1
            weight = _weight_sum((rows, cols), (th, tw), overlap) if need_weight else None
        if output == "probabilities" or total.shape[0] == 1:
            if weight is not None:
                total /= weight
            if output == "probabilities":
                return np.moveaxis(total, 0, -1)
            return (total[0] > threshold).astype(np.uint8)
        return _argmax_planes(total)

    return steps()


def predict_onnx(
    model: OnnxModel,
    image: ArrayLike,
    *,
    channel_axis: int | None = None,
    scale: float = 1.0,
    mean: float | Sequence[float] = 0.0,
    std: float | Sequence[float] = 1.0,
    tile_size: int | Sequence[int] | None = None,
    overlap: int = 32,
    output: str = "labels",
    threshold: float = 0.5,
    multiple: int = 1,
) -> NDArray[Any]:
    """Segment a 2D image with an ONNX model, whole or in overlapping blended tiles.

    Parameters
    ----------
    model : OnnxModel
        From :func:`load_onnx_model`.
    image : (M, N) or (M, N, C) array_like
        Grey image, or with ``channel_axis`` a multichannel one.
    channel_axis : int, optional
        Axis of the channels in ``image``.
    scale, mean, std : float or sequence of float
        The model sees ``(image * scale - mean) / std`` (``mean`` / ``std`` per channel or one
        value), e.g. ``scale=1/255, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)``.
    tile_size : int or (int, int), optional
        Tile rows and columns. Default: the model's fixed input size, else the whole image.
    overlap : int
        Pixels shared by neighbouring tiles (blended; see the module docstring).
    output : {"labels", "probabilities"}
        ``"labels"``: the class of each pixel (argmax over the output channels, class 0 being
        the first channel; a 1-channel output gives 1 where it exceeds ``threshold``).
        ``"probabilities"``: the blended model output, (M, N, classes) float32.
    threshold : float
        For 1-channel outputs.
    multiple : int
        Zero-pad each model input (tile or whole image) on the bottom and right to multiples of
        this (e.g. 32 for a U-Net that down-samples 5 times), cropping the output back.

    Returns
    -------
    (M, N) ndarray of uint8/uint16, or (M, N, classes) ndarray of float32

    Raises
    ------
    ValueError
        An image whose channels do not fit the model's input, a model output whose shape does
        not match its input tile (both shapes and the expected layout are named), a
        ``tile_size`` other than a fixed-size model's, or bad options.

    Examples
    --------
    A 1x1 convolution that doubles channel 0 and negates it into channel 1:

    >>> from onnx import TensorProto, helper, numpy_helper
    >>> import numpy as np
    >>> w = numpy_helper.from_array(np.array([2.0, -1.0], np.float32).reshape(2, 1, 1, 1), "w")
    >>> graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, "H", "W"])], [w])
    >>> m = load_onnx_model(helper.make_model(graph, ir_version=8).SerializeToString())
    >>> image = np.array([[-1, 0, 3]], np.float32)
    >>> predict_onnx(m, image, output="probabilities")[..., 0].tolist()
    [[-2.0, 0.0, 6.0]]
    >>> predict_onnx(m, image).tolist()
    [[1, 0, 0]]
    """
    steps = iter_predict_onnx(
        model, image, channel_axis=channel_axis, scale=scale, mean=mean, std=std,
        tile_size=tile_size, overlap=overlap, output=output, threshold=threshold,
        multiple=multiple,
    )  # fmt: skip
    return drain(steps)


def _argmax_planes(planes: np.ndarray) -> NDArray[np.unsignedinteger]:
    """``argmax(planes, axis=0)`` (first maximum) one contiguous plane at a time: faster."""
    n = planes.shape[0]
    if n == 2:
        return np.greater(planes[1], planes[0]).view(np.uint8)
    labels = np.zeros(planes.shape[1:], np.uint8 if n <= 256 else np.uint16)
    best = planes[0].copy()
    for c in range(1, n):
        better = planes[c] > best
        np.copyto(labels, c, where=better)
        if c < n - 1:
            np.maximum(best, planes[c], out=best)
    return labels


def _weight_sum(shape: tuple[int, int], tile: tuple[int, int], overlap: int) -> NDArray[np.float32]:
    """Sum of the blending weights of every tile at each pixel (> 0 everywhere)."""
    rows, cols = shape
    (th, tw) = tile
    weight = np.zeros(shape, np.float32)
    for r0 in tile_starts(rows, th, overlap):
        wr = tile_weights(th, overlap, r0, rows)[: rows - r0]
        for c0 in tile_starts(cols, tw, overlap):
            wc = tile_weights(tw, overlap, c0, cols)[: cols - c0]
            weight[r0 : r0 + th, c0 : c0 + tw] += wr[:, None] * wc[None, :]
    return weight


def _blend_tiles(
    model: OnnxModel,
    image: np.ndarray,
    norm: tuple[float, np.ndarray, np.ndarray],
    tile: tuple[int, int],
    overlap: int,
    original: tuple[int, ...],
    multiple: int = 1,
) -> Generator[tuple[int, int], None, NDArray[np.float32]]:
    """Sums of every tile's output times its weights (:func:`tile_weights`), (classes, rows, cols).

    ``image`` is (rows, cols, channels); each tile is normalised on its own into one reused
    buffer (tiles past the end of a short image are zero-padded, as a convolution pads).
    """
    rows, cols = image.shape[:2]
    th, tw = tile
    total = None
    weights: dict[tuple[int, int], np.ndarray] = {}  # tiles of one kind share their weights
    buffer = np.zeros((image.shape[-1], th, tw), np.float32)  # one input buffer for every tile
    row_starts, col_starts = tile_starts(rows, th, overlap), tile_starts(cols, tw, overlap)
    n_tiles, done = len(row_starts) * len(col_starts), 0
    for i, r0 in enumerate(row_starts):
        wr = tile_weights(th, overlap, r0, rows)
        # rows [r0, seen_r) were covered by the previous row of tiles
        seen_r = min(row_starts[i - 1] + th, rows) if i else r0
        for j, c0 in enumerate(col_starts):
            kind = (
                min(i, 1) + (i == len(row_starts) - 1) * 2,
                min(j, 1) + (j == len(col_starts) - 1) * 2,
            )
            piece = image[r0 : r0 + th, c0 : c0 + tw]
            pr, pc = piece.shape[:2]
            # every tile of an axis has the same size (a short one only when the image is
            # shorter than the tile), so the zeros past (pr, pc) are never overwritten
            buffer = _normalise(piece, *norm, out=buffer)
            y = _run(model, buffer, original, multiple)[:, :pr, :pc]
            if total is None:  # every pixel is assigned by the first tile over it
                total = np.empty((y.shape[0], rows, cols), np.float32)
            if not y.flags.writeable:
                y = y.copy()
            w = weights.get(kind)
            if w is None:
                wc = tile_weights(tw, overlap, c0, cols)
                w = weights[kind] = wr[:pr, None] * wc[None, :pc]
            y *= w  # in place: the session's output buffer is ours
            seen_c = min(col_starts[j - 1] + tw, cols) if j else c0
            dr, dc = seen_r - r0, seen_c - c0
            total[:, r0:seen_r, c0 : c0 + pc] += y[:, :dr]  # over the tiles above
            total[:, seen_r : r0 + pr, c0:seen_c] += y[:, dr:, :dc]  # over the tile on the left
            total[:, seen_r : r0 + pr, seen_c : c0 + pc] = y[:, dr:, dc:]  # first cover
            done += 1
            yield done, n_tiles
    return total
