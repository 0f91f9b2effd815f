"""Benchmark: tiled ONNX inference against bare onnxruntime calls on the same tiles, same run.

Two small fully convolutional networks are built here with the ``onnx`` package (fixed random
weights) and run with one onnxruntime thread:

* ``light``: 3x3 conv 3->16, ReLU, 3x3 conv 16->16, ReLU, 1x1 conv 16->2 (about 2,800
  multiply-adds per pixel): the tiling overhead at its most visible;
* ``unet-width``: 3x3 convs 3->32->32->32 with ReLUs, 1x1 conv 32->2 (about 19,000 per pixel,
  still lighter than a small U-Net).

The reference runs ``session.run`` on the same, already normalised NCHW tiles and nothing else;
ours is ``segment.onnx_model.predict_onnx`` (normalisation, tiling, blending of the overlaps,
argmax). Target (issue 16): ours <= 1.2x the reference on a 2048x2048 RGB image in 512-pixel
tiles with a 32-pixel overlap. Times are the best of alternating runs (timeit's rule: the least
disturbed run), so load from other processes slows both alike.

Run: ``.venv/bin/python benchmarks/bench_onnx.py [--quick]``
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from napari_coco_masks.segment.onnx_model import load_onnx_model, predict_onnx, tile_starts

TARGET = 1.2


#: The networks: (out, in, k, k) of each convolution.
MODELS = {
    "light": [(16, 3, 3, 3), (16, 16, 3, 3), (2, 16, 1, 1)],
    "unet-width": [(32, 3, 3, 3), (32, 32, 3, 3), (32, 32, 3, 3), (2, 32, 1, 1)],
}


def _model_bytes(shapes: list[tuple[int, int, int, int]], seed: int = 0) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits, current = [], [], "x"
    for k, shape in enumerate(shapes):
        inits.append(numpy_helper.from_array(rng.normal(0, 0.3, shape).astype(np.float32), f"w{k}"))
        inits.append(
            numpy_helper.from_array(rng.normal(0, 0.1, shape[0]).astype(np.float32), f"b{k}")
        )
        pad = shape[-1] // 2
        nodes.append(
            helper.make_node("Conv", [current, f"w{k}", f"b{k}"], [f"c{k}"], pads=[pad] * 4)
        )
        current = f"c{k}"
        if k < len(shapes) - 1:
            nodes.append(helper.make_node("Relu", [current], [f"r{k}"]))
            current = f"r{k}"
    nodes.append(helper.make_node("Identity", [current], ["y"]))
    graph = helper.make_graph(
        nodes, "bench", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, "H", "W"])], inits,
    )  # fmt: skip
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def _alternate(
    ours: Callable[[], Any], reference: Callable[[], Any], repeats: int
) -> tuple[float, float]:
    """Best seconds of each, measured alternately after one warm-up of each."""
    ours()
    reference()
    times: dict[str, list[float]] = {"ours": [], "ref": []}
    for _ in range(repeats):
        for key, func in (("ours", ours), ("ref", reference)):
            start = time.perf_counter()
            func()
            times[key].append(time.perf_counter() - start)
    return min(times["ours"]), min(times["ref"])


def main(quick: bool = False) -> list[dict]:
    """Time tiled inference against the bare session calls; one row per network."""
    size, tile, overlap, repeats = (512, 128, 16, 2) if quick else (2048, 512, 32, 7)
    image = np.random.default_rng(1).integers(0, 256, (size, size, 3)).astype(np.uint8)
    x = image.astype(np.float32) / 255
    tiles = [
        np.ascontiguousarray(x[r : r + tile, c : c + tile].transpose(2, 0, 1)[None])
        for r in tile_starts(size, tile, overlap) for c in tile_starts(size, tile, overlap)
    ]  # fmt: skip
    rows = []
    for name, shapes in MODELS.items():
        model = load_onnx_model(_model_bytes(shapes), threads=1)

        def reference(model=model) -> list:
            return [model.session.run(["y"], {"x": t})[0] for t in tiles]

        def ours(model=model) -> np.ndarray:
            return predict_onnx(
                model, image, channel_axis=-1, scale=1 / 255, tile_size=tile, overlap=overlap
            )

        ours_s, ref_s = _alternate(ours, reference, repeats)
        rows.append({
            "name": f"tiled onnx ({name}) {size}^2 RGB, {len(tiles)} tiles of {tile} "
                    f"(overlap {overlap})",
            "ours_s": round(ours_s, 3), "reference_s": round(ref_s, 3),
            "ratio": round(ours_s / ref_s, 3), "target": TARGET,
        })  # fmt: skip
    for row in rows:
        verdict = "OK" if row["ratio"] <= TARGET else "SLOWER THAN TARGET"
        print(
            f"{row['name']}: ours {row['ours_s']} s, bare session.run on the same tiles "
            f"{row['reference_s']} s -> ratio {row['ratio']} (target <= {TARGET}) {verdict}"
        )
    return rows


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
