"""Benchmark: split_touching against the bare scikit-image/scipy pipeline, in the same run.

The reference is the textbook pipeline: ``scipy.ndimage.distance_transform_edt`` +
``skimage.feature.peak_local_max`` (per connected component, same min_distance) +
``scipy.ndimage.label`` of the peaks + ``skimage.segmentation.watershed`` of the negated
distance inside the mask. Target (issue 5): split_touching <= 1.2x the reference on a
2048x2048 mask with about 1,500 touching objects. A second case compares the h-maxima option
with ``skimage.morphology.h_maxima`` markers.

Run: ``.venv/bin/python benchmarks/bench_watershed.py [--quick]``
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.morphology import h_maxima
from skimage.segmentation import watershed as sk_watershed

from napari_coco_masks.segment.watershed import split_touching

TARGET_RATIO = 1.2


def touching_disks(size: int, step: int, seed: int = 0) -> np.ndarray:
    """Truth labels of disks on a jittered grid whose neighbours overlap (touching objects).

    Radii are 0.40-0.52 of the grid step; a pixel covered by two disks goes to the nearer
    centre (relative to the radius).
    """
    rng = np.random.default_rng(seed)
    ticks = np.arange(step / 2, size - step / 2 + 1, step)
    centres = np.stack(np.meshgrid(ticks, ticks, indexing="ij"), -1).reshape(-1, 2)
    centres += rng.uniform(-0.1 * step, 0.1 * step, centres.shape)
    radii = rng.uniform(0.40 * step, 0.52 * step, len(centres))
    truth = np.zeros((size, size), np.int32)
    best = np.full((size, size), np.inf)
    for index, ((cy, cx), r) in enumerate(zip(centres, radii, strict=True)):
        y0, y1 = max(int(cy - r) - 1, 0), min(int(cy + r) + 2, size)
        x0, x1 = max(int(cx - r) - 1, 0), min(int(cx + r) + 2, size)
        rows, cols = np.mgrid[y0:y1, x0:x1]
        rel = np.hypot(rows - cy, cols - cx) / r
        window = best[y0:y1, x0:x1]
        inside = (rel <= 1) & (rel < window)
        truth[y0:y1, x0:x1][inside] = index + 1
        window[inside] = rel[inside]
    return truth


def reference_split(mask: np.ndarray, min_distance: int) -> np.ndarray:
    """The bare scikit-image/scipy pipeline (edt + peak_local_max + label + watershed)."""
    distance = ndi.distance_transform_edt(mask)
    components, _ = ndi.label(mask)
    coords = peak_local_max(
        distance, min_distance=min_distance, labels=components, exclude_border=False
    )
    peaks = np.zeros(mask.shape, bool)
    peaks[tuple(coords.T)] = True
    markers, _ = ndi.label(peaks)
    return sk_watershed(-distance, markers, mask=mask)


def reference_split_h(mask: np.ndarray, h: float) -> np.ndarray:
    """The bare pipeline with h-maxima markers (edt + h_maxima + label + watershed)."""
    distance = ndi.distance_transform_edt(mask)
    markers, _ = ndi.label(h_maxima(distance, h))
    return sk_watershed(-distance, markers, mask=mask)


def best_time(function: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    """Best wall time of ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def mean_iou(truth: np.ndarray, found: np.ndarray) -> float:
    """Mean over truth objects of the IoU with the found object overlapping it most."""
    n_truth, n_found = int(truth.max()) + 1, int(found.max()) + 1
    pairs = np.bincount(truth.ravel() * n_found + found.ravel(), minlength=n_truth * n_found)
    table = pairs.reshape(n_truth, n_found)[1:, 1:]
    if not table.size:
        return 0.0
    best = table.argmax(axis=1)
    inter = table[np.arange(len(best)), best]
    union = table.sum(axis=1) + table.sum(axis=0)[best] - inter
    return float(np.mean(inter / union))


def compare(
    name: str,
    truth: np.ndarray,
    ours: Callable[[], np.ndarray],
    reference: Callable[[], np.ndarray],
    repeats: int,
) -> dict:
    """Time ``ours`` and ``reference`` alternately (machine load hits both alike); best times."""
    ours_t = ref_t = np.inf
    for _ in range(repeats):
        t, found = best_time(ours, 1)
        ours_t = min(ours_t, t)
        t, found_ref = best_time(reference, 1)
        ref_t = min(ref_t, t)
    return {
        "name": name,
        "objects": int(truth.max()),
        "components": int(ndi.label(truth > 0)[1]),
        "found": int(found.max()),
        "found_reference": int(found_ref.max()),
        "iou": round(mean_iou(truth, found), 4),
        "iou_reference": round(mean_iou(truth, found_ref), 4),
        "seconds": round(ours_t, 3),
        "seconds_reference": round(ref_t, 3),
        "ratio": round(ours_t / ref_t, 3),
        "target": f"<= {TARGET_RATIO}",
    }


def main(quick: bool = False) -> list[dict]:
    """Time split_touching and the reference pipelines; return one row per case.

    Each row has ``name``, ``ratio`` (ours / reference time), ``target`` and the counts, IoUs
    and seconds of both pipelines.
    """
    size, step, repeats = (512, 52, 1) if quick else (2048, 52, 3)
    truth = touching_disks(size, step)
    mask = truth > 0
    min_distance, h = 10, 2.0
    rows = [
        compare(
            f"split_touching {size}x{size}",
            truth,
            lambda: split_touching(mask, min_distance=min_distance),
            lambda: reference_split(mask, min_distance),
            repeats,
        ),
        compare(
            f"split_touching h={h} {size}x{size}",
            truth,
            lambda: split_touching(mask, min_distance=1, h=h),
            lambda: reference_split_h(mask, h),
            1,
        ),
    ]
    for row in rows:
        verdict = "OK" if row["ratio"] <= TARGET_RATIO else "SLOWER THAN TARGET"
        print(
            f"{row['name']}: {row['objects']} objects ({row['components']} components), "
            f"found {row['found']} (reference {row['found_reference']}), "
            f"mean IoU {row['iou']} (reference {row['iou_reference']}); "
            f"{row['seconds']} s vs {row['seconds_reference']} s -> "
            f"ratio {row['ratio']} (target <= {TARGET_RATIO}) {verdict}"
        )
    return rows


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
