"""Benchmark: threshold preview updates against the bare scikit-image calls, in the same run.

Target (issue 8): on a 2048x2048 uint16 image, a preview update (Otsu + connected components)
takes no more than 1.5x ``threshold_otsu`` + compare + ``skimage.measure.label``.

Run ``.venv/bin/python benchmarks/bench_threshold.py`` (``--quick`` for a seconds-long smoke run).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from skimage import color, data, filters, measure, transform

from napari_coco_masks.segment.colour import colour_mask
from napari_coco_masks.segment.threshold import threshold

TARGET = 1.5


def _image(size: int) -> np.ndarray:
    """Coins scaled to ``size`` x ``size`` in uint16 with sensor-like noise."""
    rng = np.random.default_rng(0)
    coins = transform.resize(data.coins(), (size, size), preserve_range=True, order=1)
    noisy = coins * 200 + rng.normal(0, 400, (size, size)) + 2000
    return np.clip(noisy, 0, 65535).astype(np.uint16)


def _rgb(size: int) -> np.ndarray:
    return (transform.resize(data.astronaut(), (size, size), order=1) * 255).astype(np.uint8)


def _time(func: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``func`` in milliseconds (one warm-up call first)."""
    func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _widget_preview(image: np.ndarray) -> Callable[[], Any]:
    """What the widget's preview worker runs for one update (no viewer needed)."""
    from napari_coco_masks._widgets.threshold import Job, run_job_now

    options = {
        "method": "otsu", "dark_objects": False, "sigma": 0.0, "offset": 0.0, "classes": 3,
        "k": 0.2, "fill_holes": False, "min_size": 0.0, "clear_border": False,
        "spacing": (1.0, 1.0), "output": "labels",
    }  # fmt: skip
    job = Job(
        layer=None, mode="threshold", data=image, rgb=False, channel="luminance",
        options=options, time_axis=None, per_frame=True, frames=None, shape=image.shape,
    )  # fmt: skip
    return lambda: run_job_now(job)


def _reference_otsu(image: np.ndarray) -> Callable[[], Any]:
    return lambda: measure.label(image > filters.threshold_otsu(image))


def _reference_colour(rgb: np.ndarray) -> Callable[[], Any]:
    def run() -> np.ndarray:
        hsv = color.rgb2hsv(rgb)
        hue = hsv[..., 0] * 360
        return measure.label(((hue >= 340) | (hue <= 20)) & (hsv[..., 1] >= 0.3))

    return run


def main(quick: bool = False) -> list[dict]:
    """Time each case against its scikit-image reference; return one dict per case."""
    size = 512 if quick else 2048
    repeats = 2 if quick else 7
    image = _image(size)
    rgb = _rgb(size // 2 if not quick else 256)
    local_image = image[: size // 2, : size // 2]
    cases = [
        (
            f"preview otsu+label (pure) {size}^2 uint16",
            lambda: threshold(image, "otsu"),
            _reference_otsu(image),
        ),
        (
            f"preview otsu+label (widget job) {size}^2 uint16",
            _widget_preview(image),
            _reference_otsu(image),
        ),
        (
            f"local gaussian block 35 {size // 2}^2",
            lambda: threshold(local_image, "local_gaussian", block_size=35),
            lambda: measure.label(local_image > filters.threshold_local(local_image, 35)),
        ),
        (
            f"colour mask + label {rgb.shape[0]}^2 RGB",
            lambda: measure.label(colour_mask(rgb, (340, 20), (0.3, 1.0))),
            _reference_colour(rgb),
        ),
    ]
    rows = []
    for name, ours, reference in cases:
        ours_ms = _time(ours, repeats)
        ref_ms = _time(reference, repeats)
        rows.append(
            {
                "name": name,
                "ours_ms": round(ours_ms, 2),
                "skimage_ms": round(ref_ms, 2),
                "ratio": round(ours_ms / ref_ms, 3),
                "target": TARGET if name.startswith("preview") else None,
            }
        )
    return rows


if __name__ == "__main__":
    results = main(quick="--quick" in sys.argv)
    for row in results:
        target = "" if row["target"] is None else f"  (target <= {row['target']}x)"
        print(
            f"{row['name']:<48} ours {row['ours_ms']:8.2f} ms   skimage {row['skimage_ms']:8.2f} ms"
            f"   ratio {row['ratio']:.2f}x{target}"
        )
