"""Run a recipe over many images on dask.distributed: :func:`run_recipe`.

Each image is one task (:func:`.task.process_image`) that a worker runs on a *path*. The
client takes results as they complete (:func:`distributed.as_completed`) and writes them
(:mod:`.outputs`): one part file per image (what ``--resume`` finds) and its overlay PNG; at the
end one COCO file, ``measurements.csv``, ``summary.csv``, ``report.json`` and ``report.txt``.
An image that fails (unreadable, truncated, 4D, a step's error, a worker that died on it more
often than dask's allowed failures) fails alone: it is listed in the report with its reason,
and retried by the next ``--resume``. A worker that dies costs only time: dask runs its images
again elsewhere, and each result is written once.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .images import expand_inputs
from .model import Recipe, RecipeError
from .outputs import (
    OUTPUTS,
    OVERLAYS,
    Job,
    Report,
    assemble,
    make_jobs,
    prepare_folder,
    save_part,
    write_report,
)
from .task import failure_reason, process_image

__all__ = ["OUTPUTS", "Report", "local_cluster", "process_image", "run_recipe"]


@contextlib.contextmanager
def _connect(client: Any, scheduler: str | None, workers: int | None, n_tasks: int
             ) -> Iterator[Any]:
    """The client to use: the caller's, one to ``scheduler``, or a LocalCluster of our own."""
    if client is not None:
        yield client
        return
    from distributed import Client

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        with Client(address, timeout="20s") as own:
            yield own
        return
    n = workers or max(1, min(os.cpu_count() or 1, n_tasks))
    cluster = local_cluster(n)
    try:
        with Client(cluster) as own:
            yield own
    finally:
        cluster.close()


def local_cluster(workers: int, *, processes: bool | None = None):
    """The LocalCluster a run starts when it is given no cluster.

    ``workers`` single-threaded workers (one image at a time each: no GIL shared), in processes
    unless there is only one (``processes`` forces the choice). The statistical profiler of the
    workers is off: it samples the working thread every 10 ms, about 10 % of the work on these
    tasks (the dashboard's Profile tab stays empty). Logs below ERROR are silenced.
    """
    import logging

    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.worker.profile.enabled": False}):
        return LocalCluster(n_workers=workers, threads_per_worker=1,
                            processes=workers > 1 if processes is None else processes,
                            dashboard_address=":0", silence_logs=logging.ERROR)


def _dashboard(client: Any) -> str:
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # an old or remote scheduler that does not say
        services = {}
    return client.dashboard_link if "dashboard" in services else ""


def _as_recipe(recipe: Recipe | str | os.PathLike | dict) -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, dict):
        return Recipe.from_dict(recipe)
    return Recipe.load(recipe)


def run_recipe(
    recipe: Recipe | str | os.PathLike | dict,
    inputs: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    client: Any = None,
    *,
    spacing: Sequence[float] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    log: Any = None,
) -> Report:
    """Run ``recipe`` on every image of ``inputs`` and write the results into ``out``.

    Parameters
    ----------
    recipe : Recipe, path or dict
        The recipe (a path is loaded, a dict validated) -- before any work starts.
    inputs : iterable of path or glob
        Image files, folders (searched recursively) or glob patterns of TIFF, PNG, JPEG.
    out : path
        Output folder (created). It may hold other files, not another run's results unless
        ``resume`` or ``overwrite``.
    client : distributed.Client, optional
        Run on this client. Default: ``scheduler``, else ``DASK_SCHEDULER_ADDRESS``, else a
        LocalCluster of one single-threaded worker process per core (at most one per image),
        closed at the end.
    spacing : sequence of float, optional
        Pixel size (one value, or one per axis) in the recipe's units, over the files' own.
    resume : bool
        Skip the images already done in ``out`` by a run of the same recipe.
    overwrite : bool
        Replace another run's results in ``out`` (only the files a run writes).
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``).
    workers : int, optional
        Workers of the LocalCluster.
    progress : bool
        Show a progress bar on stderr.
    log : file, optional
        Where the dashboard link and notes go (default stderr).

    Returns
    -------
    Report
        Images done and failed (with reasons), objects, times, written files.

    Raises
    ------
    RecipeError
        An invalid recipe, or an output folder that cannot be used (see ``resume``).
    InputError
        An input naming no image.
    """
    started = time.perf_counter()
    log = sys.stderr if log is None else log
    recipe = _as_recipe(recipe)
    out = Path(out)
    paths = expand_inputs(inputs, skip=(out, out / OVERLAYS))
    if not paths:
        raise RecipeError("no input images: give image files, folders or glob patterns")
    parts = prepare_folder(out, recipe, resume=resume, overwrite=overwrite)
    jobs = make_jobs(paths, out)
    digest = recipe.digest()
    parts = {j.key: parts[j.key] for j in jobs
             if j.key in parts and parts[j.key].get("stamp") == j.stamp
             and parts[j.key].get("recipe") == digest}  # fmt: skip
    resumed = len(parts)
    todo = [j for j in jobs if j.key not in parts]
    failed: list[dict[str, str]] = []
    seconds: dict[str, float] = {}  # this run's work per image
    address = dashboard = ""
    if todo:
        from tqdm import tqdm

        with _connect(client, scheduler, workers, len(todo)) as dask_client:
            address = str(dask_client.scheduler.address)
            dashboard = _dashboard(dask_client)
            print(f"dask scheduler {address}" + (f", dashboard {dashboard}" if dashboard
                  else " (no dashboard: install bokeh to get one)"), file=log, flush=True)
            with tqdm(total=len(jobs), initial=resumed, unit="image", file=sys.stderr,
                      disable=not progress, mininterval=0.1, dynamic_ncols=True) as bar:
                failed = _stream(dask_client, todo, recipe, spacing, out, parts, seconds, bar)
    assemble(out, jobs, parts, recipe)
    by_index = {j.file_name: j.index for j in jobs}
    failed.sort(key=lambda f: by_index.get(f["file"], 0))
    report = Report(
        images=len(jobs), done=len(parts), failed=failed, resumed=resumed,
        objects=sum(p["objects"] for p in parts.values()),
        seconds=time.perf_counter() - started, work_seconds=float(sum(seconds.values())),
        outputs=_outputs(out),
        recipe=digest, scheduler=address, dashboard=dashboard,
        warnings=[{"file": j.file_name, "warning": w} for j in jobs if j.key in parts
                  for w in parts[j.key].get("warnings", [])],
    )  # fmt: skip
    write_report(out, report)
    return report


def _outputs(out: Path) -> dict[str, str]:
    """The files of the run by kind (the tables of volumes only when there were some)."""
    written = {k: str(out / v) for k, v in OUTPUTS.items()} | {"overlays": str(out / OVERLAYS)}
    for kind in ("measurements", "summary"):
        path = out / f"{Path(OUTPUTS[kind]).stem}_3d.csv"
        if path.exists():
            written[f"{kind}_3d"] = str(path)
    return written


def _stream(client: Any, todo: Sequence[Job], recipe: Recipe, spacing: Any, out: Path,
            parts: dict[str, dict], seconds: dict[str, float], bar: Any) -> list[dict[str, str]]:
    """Submit one task per image; write each result as it completes; return the failures."""
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    doc = recipe.to_dict()
    spacing = None if spacing is None else list(spacing)
    futures = {
        client.submit(process_image, str(j.path.resolve()), j.file_name, doc, spacing,
                      folder=recipe.folder, key=f"napari-coco-masks-{run}-{j.index}",
                      pure=False): j
        for j in todo
    }  # fmt: skip
    failed = []
    for future in as_completed(futures):
        job = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # the task never finished: dask gave up on it (KilledWorker)
            result = {"status": "failed", "reason": f"the worker running it failed: {failure_reason(exc)}",
                      "seconds": 0.0}
        future.release()
        if result["status"] == "done":
            parts[job.key] = save_part(out, job, result, recipe.digest())
        else:
            failed.append({"file": job.file_name, "reason": result["reason"]})
        seconds[job.key] = result["seconds"]
        bar.update(1)
        if failed:
            bar.set_postfix(failed=len(failed), refresh=False)
    return failed
