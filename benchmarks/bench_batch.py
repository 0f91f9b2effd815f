"""Benchmark: a recipe batch on dask.distributed, 2 workers against 1, and its overhead.

Targets (issue 15), on 200 images of 1024 x 1024 with threshold + split touching + measure:

- 2 worker processes at least 1.7x faster than 1 (on a 2-core machine);
- the batch machinery (scheduling, transfer of the results, writing the part files, overlays,
  the COCO file, the tables and the report) adds less than 5 % to the work.

The work is :func:`napari_coco_masks.recipes.process_image` (read, steps, measure, COCO
encoding, overlay). The overhead is given three ways: the 1-worker batch's wall time over the
work as the worker timed it in the same run; the CPU seconds of the batch (client process with
the scheduler, plus the worker) over those of the bare loop in this process (robust on a
loaded machine); and wall over wall (sensitive to what else runs). Every figure is measured
in the same run, in rounds (each round: the bare loop, 1 worker, 2 workers on the same images)
so that a change of load weighs on all three; the clusters (:func:`local_cluster`, worker
processes) are started before the clock starts. Run ``.venv/bin/python benchmarks/bench_batch.py``
(``--quick`` for a smoke run of a few small images).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from skimage import data, transform

from napari_coco_masks.recipes import Recipe, process_image, run_recipe
from napari_coco_masks.recipes.batch import local_cluster

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


def _bare(paths: list[Path]) -> tuple[float, float]:
    """The work alone: :func:`process_image` of every image in a loop, in this process.

    Returns ``(wall seconds, CPU seconds)``.
    """
    doc = RECIPE.to_dict()
    wall, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        result = process_image(str(path), path.name, doc)
        assert result["status"] == "done", result
    return time.perf_counter() - wall, time.process_time() - cpu


def _worker_cpu() -> float:
    import psutil

    times = psutil.Process().cpu_times()
    return times.user + times.system


def _batch(client, paths: list[Path], out: Path) -> dict[str, float]:
    """Run the batch of ``paths`` on ``client``; its times.

    ``wall``: run_recipe; ``work``: the per-image work as the workers timed it; ``cpu``: CPU
    seconds of the client process (scheduler, results, writing) and of the workers.
    """
    before = sum(client.run(_worker_cpu).values())
    wall, cpu = time.perf_counter(), time.process_time()
    report = run_recipe(RECIPE, paths, out, client=client, progress=False, log=io.StringIO())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    cpu += sum(client.run(_worker_cpu).values()) - before
    assert report.ok and report.done == len(paths), report.failed
    return {"wall": wall, "work": report.work_seconds, "cpu": cpu}


def _client(workers: int, warm: Path):
    """A client of :func:`local_cluster` (worker processes, as a run starts them), warmed up
    (every worker has run the recipe on ``warm`` once: imports off the clock)."""
    from distributed import Client

    cluster = local_cluster(workers, processes=True)
    client = Client(cluster)
    client.wait_for_workers(workers)
    doc = RECIPE.to_dict()
    client.run(lambda: process_image(str(warm), warm.name, doc, overlay=True)["status"])
    return cluster, client


def _load() -> str:
    try:
        return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "load average unknown"


def main(quick: bool = False) -> list[dict]:
    """Time the bare loop, 1 worker and 2 workers in the same run; return the ratios.

    The images are done in rounds, each round by all three in turn, so that a change of the
    machine's load during the run weighs on all three alike.
    """
    n, size, rounds = (6, 256, 2) if quick else (200, 1024, 4)
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    totals = {k: {"wall": 0.0, "work": 0.0, "cpu": 0.0} for k in ("bare", "one", "two")}
    clusters = []
    try:
        folder = tmp / "images"
        folder.mkdir()
        paths = _images(folder, n, size)
        _bare(paths[:1])  # warm-up: imports, caches
        start = time.perf_counter()
        clusters = [_client(1, paths[0]), _client(2, paths[0])]
        started = time.perf_counter() - start
        for r in range(rounds):
            chunk = paths[r::rounds]
            wall, cpu = _bare(chunk)
            totals["bare"]["wall"] += wall
            totals["bare"]["cpu"] += cpu
            for key, (_, client) in zip(("one", "two"), clusters, strict=True):
                for k, v in _batch(client, chunk, tmp / f"{key}{r}").items():
                    totals[key][k] += v
    finally:
        for cluster, client in reversed(clusters):  # each restores the log level it found
            client.close()
            cluster.close()
        shutil.rmtree(tmp, ignore_errors=True)
    bare, one, two = totals["bare"], totals["one"], totals["two"]
    print(f"{n} images of {size}^2 in {rounds} rounds ({_load()}): bare loop {bare['wall']:.1f} s "
          f"wall, {bare['cpu']:.1f} s CPU ({1000 * bare['wall'] / n:.0f} ms/image); 1 worker "
          f"{one['wall']:.1f} s ({one['work']:.1f} s of work), {one['cpu']:.1f} s CPU; 2 workers "
          f"{two['wall']:.1f} s; cluster start-up {started:.1f} s, not counted")
    label = f"batch {n}x{size}^2"
    return [
        {"name": f"{label}: 2 workers vs 1, wall (speed-up, higher is better)",
         "ratio": round(one["wall"] / two["wall"], 3), "target": f">= {TARGET_SPEEDUP}"},
        {"name": f"{label}: 1-worker batch wall / its work on the worker",
         "ratio": round(one["wall"] / one["work"], 3), "target": f"< {TARGET_OVERHEAD}",
         "overhead_ms_per_image": round(1000 * (one["wall"] - one["work"]) / n, 2)},
        {"name": f"{label}: 1-worker batch CPU (client + worker) / bare loop CPU",
         "ratio": round(one["cpu"] / bare["cpu"], 3), "target": f"< {TARGET_OVERHEAD}"},
        {"name": f"{label}: 1-worker batch wall / bare loop wall (load-sensitive)",
         "ratio": round(one["wall"] / bare["wall"], 3), "target": None},
    ]  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few small images")
    for row in main(parser.parse_args().quick):
        print(f"  {row['name']:<72} ratio {row['ratio']:>7.3f}  target {row['target'] or '-'}")
    sys.exit(0)
