"""A real dask.distributed cluster on localhost: a scheduler and two worker *processes* started
with the ``dask scheduler`` / ``dask worker`` commands. ``napari-coco-masks run --scheduler``
runs a batch on it; one worker is killed (SIGKILL) in the middle; every image is still done,
and written, exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd

from napari_coco_masks.demo import DATA
from napari_coco_masks.recipes import Recipe

N_IMAGES = 12
DASK = Path(sys.executable).with_name("dask")


def _wait(condition, what: str, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _images(folder: Path) -> list[Path]:
    """Coins tiled 2 x 2 (606 x 768), each a little shifted: about 0.2-0.5 s of work each."""
    folder.mkdir()
    coins = iio.imread(DATA / "coins.png")
    tiled = np.block([[coins, coins], [coins, coins]])
    paths = []
    for k in range(N_IMAGES):
        paths.append(folder / f"plate_{k:02d}.png")
        iio.imwrite(paths[-1], np.roll(tiled, 7 * k, axis=1))
    return paths


def _start(args: list, log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(a) for a in args], stdout=subprocess.DEVNULL,
                            stderr=log.open("w"), start_new_session=True)


def test_killing_a_worker_mid_batch_still_does_every_image_once(tmp_path: Path) -> None:
    paths = _images(tmp_path / "plates")
    recipe = Recipe.from_steps([
        ("threshold", {"method": "local_gaussian", "block_size": 51, "sigma": 1.0,
                       "fill_holes": True, "min_size": 500.0}),
        ("split_touching", {"min_distance": 20.0}), "measure"], category="coin",
    ).save(tmp_path / "recipe.yaml")  # fmt: skip
    info = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen] = []
    try:
        procs.append(_start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                             "--no-dashboard", "--scheduler-file", info],
                            tmp_path / "scheduler.log"))
        _wait(lambda: info.exists() and info.stat().st_size > 0, "the scheduler")
        address = json.loads(info.read_text())["address"]
        workers = [
            _start([DASK, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                    "--name", f"w{k}", "--local-directory", tmp_path / f"w{k}"],
                   tmp_path / f"worker{k}.log")
            for k in range(2)
        ]
        procs += workers
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
            assert len(client.scheduler_info()["workers"]) == 2
        out = tmp_path / "out"
        run = subprocess.Popen(
            [sys.executable, "-m", "napari_coco_masks.cli", "run", str(recipe),
             str(tmp_path / "plates"), "-o", str(out), "--scheduler", address, "--no-progress"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        procs.append(run)
        parts = out / ".napari-coco-masks" / "parts"
        _wait(lambda: parts.is_dir() and len(list(parts.glob("*.json"))) >= 3, "3 images done")
        workers[0].kill()  # SIGKILL: no goodbye to the scheduler
        workers[0].wait(timeout=10)
        assert len(list(parts.glob("*.json"))) < N_IMAGES, "the worker died after the batch"
        stdout, stderr = run.communicate(timeout=180)
        assert run.returncode == 0, stderr
        assert f"dask scheduler {address}" in stderr
        assert f"images: {N_IMAGES} of {N_IMAGES} done (0 from an earlier run), 0 failed" in stdout
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    report = json.loads((out / "report.json").read_text())
    assert report["failed"] == [] and report["done"] == N_IMAGES
    assert report["scheduler"] == address
    # every image exactly once: one COCO record, one part, one overlay, its rows in the table
    coco = json.loads((out / "annotations.json").read_text())
    names = Counter(im["file_name"] for im in coco["images"])
    assert names == Counter(f"../plates/{p.name}" for p in paths)
    assert len(list(parts.glob("*.json"))) == N_IMAGES
    assert len(list((out / "overlays").glob("*.png"))) == N_IMAGES
    per_image = Counter(a["image_id"] for a in coco["annotations"])
    table = pd.read_csv(out / "measurements.csv")
    ids = {im["file_name"]: im["id"] for im in coco["images"]}
    assert Counter(ids[f] for f in table["file_name"]) == per_image
    assert min(per_image.values()) >= 40  # 4 x 24 coins, minus the ones split or cut at edges
