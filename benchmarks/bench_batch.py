"""Benchmark: a recipe batch on dask.distributed, 2 workers against 1, and its overhead.

Targets (issue 15), on 200 images of 1024 x 1024 with threshold + split touching + measure:

- 2 worker processes at least 1.7x faster than 1 (on a 2-core machine);
- the batch machinery (scheduling, transfer of the results, writing the part files, overlays,
  the COCO file, the tables and the report) adds less than 5 % to the bare work (the same
  per-image function, :func:`napari_coco_masks.recipes.process_image`, called in a loop).

Every figure is measured in the same run. The clusters are started before the clock starts
(their start-up is printed apart). Run ``.venv/bin/python benchmarks/bench_batch.py``
(``--quick`` for a smoke run of a few small images).
"""

from __future__ import annotations

import argparse
import io
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from skimage import data, transform

from napari_coco_masks.recipes import Recipe, process_image, run_recipe

TARGET_SPEEDUP = 1.7
TARGET_OVERHEAD = 1.05

RECIPE = Recipe.from_steps([
    ("threshold", {"method": "otsu", "sigma": 1.0, "fill_holes": True, "min_size": 60.0}),
    ("split_touching", {"min_distance": 12.0}),
    "measure",
], category="coin")  # fmt: skip


def _images(folder: Path, n: int, size: int) -> list[Path]:
    """``n`` coins-like grey PNGs of ``size`` x ``size`` (coins tiled 2 x 2, shifted, noisy)."""
    coins = data.coins()
    tile = transform.resize(np.block([[coins, coins], [coins, coins]]), (size, size),
                            preserve_range=True, order=1)
    rng = np.random.default_rng(0)
    paths = []
    for k in range(n):
        image = np.roll(tile, 13 * k, axis=1) + rng.normal(0, 4, tile.shape)
        paths.append(folder / f"plate_{k:03d}.png")
        iio.imwrite(paths[-1], np.clip(image, 0, 255).astype(np.uint8))
    return paths


def _bare(paths: list[Path]) -> float:
    """The work alone: :func:`process_image` of every image in a loop, in this process."""
    doc = RECIPE.to_dict()
    start = time.perf_counter()
    for path in paths:
        result = process_image(str(path), path.name, doc)
        assert result["status"] == "done", result
    return time.perf_counter() - start


def _batch(paths: list[Path], out: Path, workers: int) -> tuple[float, float]:
    """``(seconds of run_recipe, seconds of cluster start-up)`` on ``workers`` processes."""
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    try:
        with Client(cluster) as client:
            client.wait_for_workers(workers)
            # warm the workers (imports) so both runs time the batch, not Python start-up
            client.run(lambda: __import__("napari_coco_masks.recipes.batch"))
            started = time.perf_counter() - start
            begin = time.perf_counter()
            report = run_recipe(RECIPE, [paths[0].parent], out, client=client, progress=False,
                                log=io.StringIO())
            took = time.perf_counter() - begin
    finally:
        cluster.close()
    assert report.ok and report.done == len(paths), report.failed
    return took, started


def main(quick: bool = False) -> list[dict]:
    """Time the bare loop, 1 worker and 2 workers; return the two ratios."""
    n, size = (6, 256) if quick else (200, 1024)
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        folder = tmp / "images"
        folder.mkdir()
        paths = _images(folder, n, size)
        _bare(paths[:1])  # warm-up: imports, caches
        bare = _bare(paths)
        one, start_one = _batch(paths, tmp / "out1", 1)
        two, start_two = _batch(paths, tmp / "out2", 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{n} images of {size}^2: bare loop {bare:.2f} s ({1000 * bare / n:.1f} ms/image); "
          f"1 worker {one:.2f} s; 2 workers {two:.2f} s "
          f"(cluster start-up {start_one:.1f} s and {start_two:.1f} s, not counted)")
    return [
        {"name": f"batch {n}x{size}^2: 2 workers vs 1 (speed-up, higher is better)",
         "ratio": round(one / two, 3), "target": f">= {TARGET_SPEEDUP}",
         "one_s": round(one, 3), "two_s": round(two, 3)},
        {"name": f"batch {n}x{size}^2: 1-worker batch / bare work (overhead)",
         "ratio": round(one / bare, 3), "target": f"< {TARGET_OVERHEAD}",
         "bare_s": round(bare, 3), "one_s": round(one, 3),
         "overhead_ms_per_image": round(1000 * (one - bare) / n, 2)},
    ]  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few small images")
    for row in main(parser.parse_args().quick):
        print(f"  {row['name']:<62} ratio {row['ratio']:>7.3f}  target {row['target']}")
    sys.exit(0)
