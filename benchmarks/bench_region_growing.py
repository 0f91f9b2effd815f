"""Benchmark: seeded region growing vs SimpleITK, measured in the same run.

Rows (ratio = our time / reference time; below 1 means we are faster):

- ``range per seed``: ``grow_regions(image, [seed], tolerance=15)`` (a full label image out) vs
  ``sitk.ConnectedThreshold`` + ``GetArrayFromImage`` on a 2048 x 2048 real image (camera,
  upscaled), over random seeds (regions from a few thousand pixels to a quarter of the image).
  The SimpleITK image is converted once, outside the timing. Rows: the ratio of the mean times,
  the median and the worst seed's own ratio (mean/median/worst of the per-seed ratios are in the
  first row's extras), and the worst ratio per region-size class (small < 10k px, medium,
  large >= 300k px). Target for all: <= 1.
- ``confidence per seed``: ``mode="confidence"`` vs ``sitk.ConfidenceConnected`` (informative).
- ``small region``: a 100-pixel region in a 4-megapixel image, vs SimpleITK and vs the issue's
  10 ms budget (target: well under 1).

Our function and SimpleITK's are timed alternately (best of ``repeat``), so both see the same
machine load. Run ``.venv/bin/python benchmarks/bench_region_growing.py`` (``--quick``: smoke run).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import SimpleITK as sitk
from skimage import data, transform

from napari_coco_masks.segment.region_growing import grow_region, grow_regions

TOLERANCE = 15
BUDGET_MS = 10.0  # issue 6: a 100-pixel region in a 4 MP image "well under 10 ms"


def _best(funcs: Sequence[Callable[[], object]], repeat: int) -> list[float]:
    """Best wall time (ms) of each function over ``repeat`` alternating rounds (after warm-up)."""
    for func in funcs:
        func()
    times: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeat):
        for k, func in enumerate(funcs):
            start = time.perf_counter()
            func()
            times[k].append(time.perf_counter() - start)
    return [1e3 * min(t) for t in times]


def _image(size: int) -> np.ndarray:
    image = transform.resize(data.camera(), (size, size), order=1, preserve_range=True)
    return np.rint(image).astype(np.uint8)


def _xy(seed: np.ndarray) -> list[int]:
    return [int(c) for c in seed[::-1]]


SIZE_CLASSES = ((0, 10_000, "small"), (10_000, 300_000, "medium"), (300_000, None, "large"))


def _range_per_seed(image: np.ndarray, seeds: np.ndarray, repeat: int) -> list[dict]:
    sitk_image = sitk.GetImageFromArray(image)
    ours, window, ref, sizes = [], [], [], []
    for seed in seeds:
        value = int(image[tuple(seed)])
        lo, hi = max(value - TOLERANCE, 0), min(value + TOLERANCE, 255)

        def reference(seed=seed, lo=lo, hi=hi):
            out = sitk.ConnectedThreshold(sitk_image, seedList=[_xy(seed)], lower=lo, upper=hi)
            return sitk.GetArrayFromImage(out)

        def labels(seed=seed):
            return grow_regions(image, [seed], tolerance=TOLERANCE)

        def region(seed=seed):
            return grow_region(image, [seed], tolerance=TOLERANCE)

        expected = reference() == 1
        assert np.array_equal(labels() == 1, expected)
        t_labels, t_region, t_ref = _best([labels, region, reference], repeat)
        ours.append(t_labels)
        window.append(t_region)
        ref.append(t_ref)
        sizes.append(int(np.count_nonzero(expected)))
    ours_a, ref_a, sizes_a = np.asarray(ours), np.asarray(ref), np.asarray(sizes)
    per_seed = ours_a / ref_a
    name = f"range per seed, {image.shape[0]}x{image.shape[1]}, {len(seeds)} seeds"
    rows = [
        {
            "name": f"{name}: mean time",
            "ratio": float(np.mean(ours) / np.mean(ref)),
            "target": 1.0,
            "ours_ms": float(np.mean(ours)),
            "reference_ms": float(np.mean(ref)),
            "window_only_ratio": float(np.mean(window) / np.mean(ref)),
            "mean_seed_ratio": float(np.mean(per_seed)),
            "median_seed_ratio": float(np.median(per_seed)),
            "worst_seed_ratio": float(np.max(per_seed)),
        },
    ]
    middle = np.argsort(per_seed)[len(per_seed) // 2]
    worst = int(np.argmax(per_seed))
    rows.append(
        {
            "name": f"{name}: median of the per-seed ratios",
            "ratio": float(np.median(per_seed)),
            "target": 1.0,
            "ours_ms": float(ours_a[middle]),
            "reference_ms": float(ref_a[middle]),
        }
    )
    rows.append(
        {
            "name": f"{name}: worst seed ({sizes_a[worst]} px)",
            "ratio": float(per_seed[worst]),
            "target": 1.0,
            "ours_ms": float(ours_a[worst]),
            "reference_ms": float(ref_a[worst]),
        }
    )
    for low, high, label in SIZE_CLASSES:
        inside = (sizes_a >= low) & (sizes_a < (np.inf if high is None else high))
        if not inside.any():
            continue
        span = f">= {low} px" if high is None else f"{low}-{high} px"
        rows.append(
            {
                "name": f"{name}: {label} regions ({span}, {int(inside.sum())} seeds), worst",
                "ratio": float(per_seed[inside].max()),
                "target": 1.0,
                "ours_ms": float(ours_a[inside].mean()),
                "reference_ms": float(ref_a[inside].mean()),
                "mean_seed_ratio": float(per_seed[inside].mean()),
                "median_seed_ratio": float(np.median(per_seed[inside])),
            }
        )
    return rows


def _confidence_per_seed(image: np.ndarray, seeds: np.ndarray, repeat: int) -> dict:
    sitk_image = sitk.GetImageFromArray(image)
    ours, ref = [], []
    for seed in seeds:

        def reference(seed=seed):
            out = sitk.ConfidenceConnected(
                sitk_image,
                seedList=[_xy(seed)],
                multiplier=2.5,
                numberOfIterations=4,
                initialNeighborhoodRadius=1,
            )
            return sitk.GetArrayFromImage(out)

        def labels(seed=seed):
            return grow_regions(image, [seed], mode="confidence")

        t_labels, t_ref = _best([labels, reference], repeat)
        ours.append(t_labels)
        ref.append(t_ref)
    return {
        "name": f"confidence per seed, {image.shape[0]}x{image.shape[1]}, {len(seeds)} seeds",
        "ratio": float(np.mean(ours) / np.mean(ref)),
        "target": None,
        "ours_ms": float(np.mean(ours)),
        "reference_ms": float(np.mean(ref)),
    }


def _small_region(size: int, repeat: int) -> list[dict]:
    """A 10 x 10 region in a noisy ``size`` x ``size`` image."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 200, size=(size, size)).astype(np.uint8)
    c = size // 2
    image[c : c + 10, c : c + 10] = 250
    sitk_image = sitk.GetImageFromArray(image)
    seed = np.array([c + 5, c + 5])
    assert grow_region(image, [seed], tolerance=2).size == 100

    def reference():
        out = sitk.ConnectedThreshold(sitk_image, seedList=[_xy(seed)], lower=248, upper=252)
        return sitk.GetArrayFromImage(out)

    t_labels, t_region, t_ref = _best(
        [
            lambda: grow_regions(image, [seed], tolerance=2),
            lambda: grow_region(image, [seed], tolerance=2),
            reference,
        ],
        repeat,
    )
    name = f"small region (100 px) in {size}x{size}"
    return [
        {
            "name": f"{name} vs SimpleITK",
            "ratio": t_labels / t_ref,
            "target": None,
            "ours_ms": t_labels,
            "reference_ms": t_ref,
            "window_only_ms": t_region,
        },
        {
            "name": f"{name} vs {BUDGET_MS:g} ms budget",
            "ratio": t_labels / BUDGET_MS,
            "target": 1.0,
            "ours_ms": t_labels,
            "reference_ms": BUDGET_MS,
        },
    ]


def main(quick: bool = False) -> list[dict]:
    """Run the benchmark; ``quick`` uses a small image and few seeds (a smoke run)."""
    size, n_seeds, repeat = (512, 3, 1) if quick else (2048, 20, 5)
    image = _image(size)
    seeds = np.random.default_rng(1).integers(0, size, size=(n_seeds, 2))
    rows = [
        *_range_per_seed(image, seeds, repeat),
        _confidence_per_seed(image, seeds[: max(3, n_seeds // 2)], repeat),
        *_small_region(size, 5 if quick else 20),
    ]
    for row in rows:
        extras = ", ".join(
            f"{k}={v:.3g}"
            for k, v in row.items()
            if k not in ("name", "ours_ms", "reference_ms", "ratio", "target")
        )
        target = "" if row["target"] is None else f" (target <= {row['target']:g})"
        print(
            f"{row['name']}: ours {row['ours_ms']:.2f} ms, reference "
            f"{row['reference_ms']:.2f} ms, ratio {row['ratio']:.3f}{target}"
            + (f"; {extras}" if extras else "")
        )
    return rows


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
