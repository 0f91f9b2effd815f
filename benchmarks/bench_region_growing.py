"""Benchmark: seeded region growing vs SimpleITK, measured in the same run.

Rows (time per seed; ratio = ours / SimpleITK, below 1 means faster):

- ``range, per seed``: ``grow_regions(image, [seed], tolerance=15)`` (full label image out) vs
  ``sitk.ConnectedThreshold`` + ``GetArrayFromImage`` on a 2048 x 2048 real image (camera,
  upscaled); the SimpleITK image is converted once, outside the timing.
- ``confidence, per seed``: ``mode="confidence"`` vs ``sitk.ConfidenceConnected``.
- ``small region``: a 100-pixel region in a 4-megapixel image (goal: well under 10 ms).

Run ``.venv/bin/python benchmarks/bench_region_growing.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
import SimpleITK as sitk
from skimage import data, transform

from napari_coco_masks.segment.region_growing import grow_region, grow_regions


def _best(func: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` calls, in milliseconds (after one warm-up call)."""
    return _best_pair(func, func, repeat)[0]


def _best_pair(
    first: Callable[[], object], second: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Best wall times (ms) of two functions timed alternately, so both see the same load."""
    first()
    second()
    times: list[list[float]] = [[], []]
    for _ in range(repeat):
        for k, func in enumerate((first, second)):
            start = time.perf_counter()
            func()
            times[k].append(time.perf_counter() - start)
    return 1e3 * min(times[0]), 1e3 * min(times[1])


def _image(size: int) -> np.ndarray:
    image = transform.resize(data.camera(), (size, size), order=1, preserve_range=True)
    return np.rint(image).astype(np.uint8)


def _per_seed(image: np.ndarray, seeds: np.ndarray, repeat: int, mode: str) -> dict:
    """Mean time per seed of ours and SimpleITK's, on the same seeds."""
    sitk_image = sitk.GetImageFromArray(image)
    ours, ref = [], []
    for seed in seeds:
        index = [int(c) for c in seed[::-1]]
        if mode == "range":
            value = int(image[tuple(seed)])
            lo, hi = max(value - 15, 0), min(value + 15, 255)

            def reference(index=index, lo=lo, hi=hi):
                out = sitk.ConnectedThreshold(sitk_image, seedList=[index], lower=lo, upper=hi)
                return sitk.GetArrayFromImage(out)

            def mine(seed=seed):
                return grow_regions(image, [seed], tolerance=15)
        else:

            def reference(index=index):
                out = sitk.ConfidenceConnected(
                    sitk_image,
                    seedList=[index],
                    multiplier=2.5,
                    numberOfIterations=4,
                    initialNeighborhoodRadius=1,
                )
                return sitk.GetArrayFromImage(out)

            def mine(seed=seed):
                return grow_regions(image, [seed], mode="confidence")

        assert np.array_equal(mine() == 1, reference() == 1) or mode == "confidence"
        mine_ms, reference_ms = _best_pair(mine, reference, repeat)
        ours.append(mine_ms)
        ref.append(reference_ms)
    ratios = np.asarray(ours) / np.asarray(ref)
    return {
        "name": f"{mode}, per seed, {image.shape[0]}x{image.shape[1]}, {len(seeds)} seeds",
        "ours_ms": float(np.mean(ours)),
        "reference_ms": float(np.mean(ref)),
        "ratio": float(np.mean(ours) / np.mean(ref)),
        "median_seed_ratio": float(np.median(ratios)),
        "worst_seed_ratio": float(np.max(ratios)),
    }


def _small_region(size: int, repeat: int) -> dict:
    """A 10 x 10 region in a noisy size x size image."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 200, size=(size, size)).astype(np.uint8)
    c = size // 2
    image[c : c + 10, c : c + 10] = 250
    sitk_image = sitk.GetImageFromArray(image)
    seed = (c + 5, c + 5)
    assert grow_region(image, [seed], tolerance=2).size == 100
    ours_full = _best(lambda: grow_regions(image, [seed], tolerance=2), repeat)
    ours, ref = _best_pair(
        lambda: grow_region(image, [seed], tolerance=2),
        lambda: sitk.GetArrayFromImage(
            sitk.ConnectedThreshold(sitk_image, seedList=[seed[::-1]], lower=248, upper=252)
        ),
        repeat,
    )
    return {
        "name": f"small region (100 px) in {size}x{size}",
        "ours_ms": ours,
        "ours_full_label_image_ms": ours_full,
        "reference_ms": ref,
        "ratio": ours / ref,
    }


def main(quick: bool = False) -> list[dict]:
    """Run the benchmark; ``quick`` uses a small image and few seeds (a smoke run)."""
    size, n_seeds, repeat = (512, 3, 1) if quick else (2048, 20, 5)
    image = _image(size)
    seeds = np.random.default_rng(1).integers(0, size, size=(n_seeds, 2))
    rows = [
        _per_seed(image, seeds, repeat, "range"),
        _per_seed(image, seeds[: max(3, n_seeds // 2)], repeat, "confidence"),
        _small_region(size, 5 if quick else 20),
    ]
    for row in rows:
        extras = ", ".join(
            f"{k}={v:.3g}"
            for k, v in row.items()
            if k not in ("name", "ours_ms", "reference_ms", "ratio")
        )
        print(
            f"{row['name']}: ours {row['ours_ms']:.2f} ms, SimpleITK "
            f"{row['reference_ms']:.2f} ms, ratio {row['ratio']:.2f}"
            + (f" ({extras})" if extras else "")
        )
    return rows


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
