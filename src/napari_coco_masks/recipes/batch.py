"""Run a recipe over many images on dask.distributed: :func:`run_recipe`.

Each image is one task (:func:`process_image`) that a worker runs on a *path*: the worker reads
the pixels, runs the steps, measures, encodes the COCO annotations and the overlay PNG, and
returns only those. The client takes results as they complete
(:func:`distributed.as_completed`) and writes them: one part file per image under
``DIR/.napari-coco-masks/parts`` (what ``--resume`` finds), the overlay PNG; at the end one COCO
file, ``measurements.csv``, ``summary.csv``, ``report.json`` and ``report.txt``. Every file is
written atomically. An image that fails (unreadable, truncated, 4D, a step's error, a worker
that died on it more than dask's allowed failures) fails alone: it is listed in the report with
its reason, and retried by the next ``--resume``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from .images import RUN_OVERLAYS, RUN_STATE, expand_inputs, read_input, resolve_spacing
from .model import Recipe, RecipeError
from .steps import State, run_steps

__all__ = ["OUTPUTS", "Report", "process_image", "run_recipe"]

#: The files a run writes into its folder (overlays/ and the state folder besides).
OUTPUTS = {
    "coco": "annotations.json",
    "measurements": "measurements.csv",
    "summary": "summary.csv",
    "report": "report.json",
    "report_text": "report.txt",
}
STATE_DIR = RUN_STATE
OVERLAYS = RUN_OVERLAYS


@dataclass
class Report:
    """What a run did (also written as ``report.json`` and ``report.txt``)."""

    images: int
    done: int
    failed: list[dict[str, str]]
    resumed: int
    objects: int
    seconds: float
    work_seconds: float
    outputs: dict[str, str]
    recipe: str
    scheduler: str = ""
    dashboard: str = ""
    version: str = __version__
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "napari_coco_masks": self.version, "recipe": self.recipe, "images": self.images,
            "done": self.done, "resumed": self.resumed, "failed": self.failed,
            "objects": self.objects, "seconds": round(self.seconds, 3),
            "work_seconds": round(self.work_seconds, 3), "scheduler": self.scheduler,
            "dashboard": self.dashboard, "outputs": self.outputs, "warnings": self.warnings,
        }  # fmt: skip

    def text(self) -> str:
        lines = [
            f"napari-coco-masks {self.version} run of recipe {self.recipe}",
            f"images: {self.done} of {self.images} done ({self.resumed} from an earlier run), "
            f"{len(self.failed)} failed",
            f"objects: {self.objects}",
            f"time: {self.seconds:.1f} s ({self.work_seconds:.1f} s of work on the workers)",
        ]
        lines += [f"failed: {f['file']}: {f['reason']}" for f in self.failed]
        lines += [f"warning: {w['file']}: {w['warning']}" for w in self.warnings]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the task


def _reason(exc: BaseException, path: str = "") -> str:
    """One line of why an image failed (the report names the file: its path is left out)."""
    text = " ".join(str(exc).split()).removesuffix("; the annotations still open")
    text = text.replace(f"{path}: ", "") if path else text
    if isinstance(exc, MemoryError):
        return "not enough memory for this image"
    if isinstance(exc, ValueError | OSError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _coco_part(labels: np.ndarray, file_name: str, category: str) -> dict[str, Any]:
    """The image record(s) and annotations of one image (a 3D volume: one record per plane)."""
    from ..coco.write import dataset_from_labels

    planes = labels if labels.ndim == 3 else labels[np.newaxis]
    dataset = dataset_from_labels(planes, image_names=[file_name] * len(planes),
                                  categories=[category])
    if labels.ndim == 3:
        for z, image in enumerate(dataset["images"]):
            image["plane"] = z
    return {"images": dataset["images"], "annotations": dataset["annotations"]}


def _palette(n: int) -> np.ndarray:
    from skimage.color import hsv2rgb

    hues = (np.arange(1, n + 1) * 0.618033988749895) % 1.0
    hsv = np.stack([hues, np.full(n, 0.85), np.ones(n)], axis=1)
    return (hsv2rgb(hsv[np.newaxis])[0] * 255).astype(np.uint8)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float64)
    finite = image[np.isfinite(image)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scaled = (np.nan_to_num(image, nan=low) - low) / ((high - low) or 1.0)
    return (np.clip(scaled, 0, 1) * 255).astype(np.uint8)


def overlay_png(data: np.ndarray, rgb: bool, labels: np.ndarray) -> bytes:
    """PNG bytes of the image with each object's outline in its own colour.

    A 3D volume is shown as maximum projections of the image and of the labels.
    """
    from PIL import Image
    from skimage.segmentation import find_boundaries

    if labels.ndim == 3:
        labels = labels.max(axis=0)
        data = data.max(axis=0)
    base = _to_uint8(data[..., :3] if rgb else data)
    if base.ndim == 2:
        base = np.repeat(base[..., np.newaxis], 3, axis=2)
    out = base.copy()
    edges = find_boundaries(labels, mode="inner")
    if edges.any():
        colours = _palette(int(labels.max()))
        out[edges] = colours[labels[edges] - 1]
    buffer = io.BytesIO()
    Image.fromarray(out).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def process_image(
    path: str,
    file_name: str,
    recipe: Any,
    spacing: Sequence[float] | None = None,
    *,
    overlay: bool = True,
) -> dict[str, Any]:
    """Run ``recipe`` on one image file; what a worker returns to the client.

    Never raises for a problem of the image: the result is then ``{"status": "failed",
    "reason": ...}``.

    Returns
    -------
    dict
        ``status`` ("done" / "failed"), ``reason``, ``file_name``, ``images`` and
        ``annotations`` (COCO records, ids local to this image), ``table`` (the measurements,
        with ``file_name`` first), ``units``, ``objects``, ``seconds`` (work time),
        ``overlay`` (PNG bytes).
    """
    start = time.perf_counter()
    try:
        recipe = recipe if isinstance(recipe, Recipe) else Recipe.from_dict(recipe)
        image = read_input(path)
        space, units = resolve_spacing(image, override=spacing, recipe_spacing=recipe.spacing,
                                       recipe_units=recipe.units)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            state = run_steps(recipe.steps, State(image.data, image.rgb, space, units))
        labels = np.asarray(state.labels, dtype=np.int32)
        table = state.table.copy()
        table.insert(0, "file_name", file_name)
        part = _coco_part(labels, file_name, recipe.category)
        png = overlay_png(image.data, image.rgb, labels) if overlay else b""
    except Exception as exc:  # one image's failure is reported, never raised (see docstring)
        return {"status": "failed", "file_name": file_name, "path": path,
                "reason": _reason(exc, path), "seconds": time.perf_counter() - start}
    return {
        "status": "done", "file_name": file_name, "path": path, **part, "table": table,
        "units": {"file_name": "", **table.attrs.get("units", {})},
        "objects": int(len(np.unique(labels)) - 1 if labels.any() else 0),
        "spacing": list(space), "unit": units, "overlay": png,
        "warnings": sorted({" ".join(str(w.message).split()) for w in caught}),
        "seconds": time.perf_counter() - start,
    }  # fmt: skip


# --------------------------------------------------------------------------- the run folder


@dataclass(frozen=True)
class _Job:
    index: int
    path: Path
    file_name: str
    key: str
    stamp: list[int]
    overlay: str


def _file_name(path: Path, out: Path) -> str:
    """The COCO ``file_name``: the image's path relative to the output folder (the reader's way)."""
    return Path(os.path.relpath(path.resolve(), out.resolve())).as_posix()


def _jobs(paths: Sequence[Path], out: Path) -> list[_Job]:
    """One job per image; overlays are named by the path below the inputs' common folder."""
    common = Path(os.path.commonpath([p.resolve().parent for p in paths]))
    jobs = []
    for index, path in enumerate(paths):
        st = path.stat()
        key = hashlib.sha1(str(path.resolve()).encode("utf-8")).hexdigest()[:20]
        below = path.resolve().relative_to(common).with_suffix("")
        jobs.append(_Job(index, path, _file_name(path, out), key, [st.st_size, st.st_mtime_ns],
                         "__".join(below.parts) + ".png"))
    return jobs


def _ours(out: Path) -> list[Path]:
    names = [*OUTPUTS.values(), "measurements_3d.csv", "summary_3d.csv", OVERLAYS, STATE_DIR]
    return [out / n for n in names if (out / n).exists()]


def _prepare(out: Path, recipe: Recipe, *, resume: bool, overwrite: bool) -> dict[str, dict]:
    """Check the output folder; return the parts of a resumed run by image key.

    Raises
    ------
    RecipeError
        The folder holds another run's results and neither ``resume`` nor ``overwrite``; or
        ``resume`` with a different recipe.
    """
    if resume and overwrite:
        raise RecipeError("--resume and --overwrite exclude each other: choose one")
    if out.exists() and not out.is_dir():
        raise RecipeError(f"the output {out} is a file: give a folder")
    found = _ours(out) if out.is_dir() else []
    parts: dict[str, dict] = {}
    if found and overwrite:
        for item in found:
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    elif found and not resume:
        raise RecipeError(
            f"{out} already holds the results of another run ({found[0].name}): pass --resume "
            "to continue that run, --overwrite to replace its results, or another folder"
        )
    elif found:
        run_file = out / STATE_DIR / "run.json"
        try:
            previous = json.loads(run_file.read_text(encoding="utf-8"))["recipe"]
        except (OSError, ValueError, KeyError):
            previous = None
        if previous != recipe.digest():
            raise RecipeError(
                f"{out} holds the results of a run with another recipe ({previous}, this one is "
                f"{recipe.digest()}): --resume needs the same recipe; use --overwrite or "
                "another folder"
            )
        for file in sorted((out / STATE_DIR / "parts").glob("*.json")):
            try:
                part = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # an unreadable part is done again
            parts[file.stem] = part
    from ..coco.write import write_bytes

    (out / STATE_DIR / "parts").mkdir(parents=True, exist_ok=True)
    (out / OVERLAYS).mkdir(exist_ok=True)
    doc = {"recipe": recipe.digest(), "recipe_doc": recipe.to_dict(), "version": __version__}
    write_bytes(json.dumps(doc, ensure_ascii=False, indent=1).encode(), out / STATE_DIR / "run.json")
    return parts


def _save_part(out: Path, job: _Job, result: dict[str, Any], digest: str) -> dict[str, Any]:
    """Write the result of one image (part file, overlay); return the part kept in memory."""
    from ..coco.write import write_bytes

    table: pd.DataFrame = result["table"]
    part = {
        "source": str(job.path.resolve()), "stamp": job.stamp, "recipe": digest,
        "file_name": job.file_name, "images": result["images"],
        "annotations": result["annotations"], "objects": result["objects"],
        "seconds": result["seconds"], "units": result["units"],
        "warnings": result.get("warnings", []),
        "table": {"columns": [str(c) for c in table.columns],
                  "data": table.to_dict(orient="split", index=False)["data"]},
    }  # fmt: skip
    if result.get("overlay"):
        write_bytes(result["overlay"], out / OVERLAYS / job.overlay)
    write_bytes(json.dumps(part, ensure_ascii=False, default=_plain).encode("utf-8"),
                out / STATE_DIR / "parts" / f"{job.key}.json")
    return part


def _plain(value: Any) -> Any:
    """JSON for numpy scalars (exact: ``repr`` of a float round-trips)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _table(part: dict[str, Any]) -> pd.DataFrame:
    split = part["table"]
    return pd.DataFrame(split["data"], columns=split["columns"])


def _csv_bytes(df: pd.DataFrame) -> bytes:
    from ..segment import with_unit_headers

    return with_unit_headers(df).to_csv(index=False).encode("utf-8")


def _assemble(out: Path, jobs: Sequence[_Job], parts: dict[str, dict], recipe: Recipe) -> None:
    """Write the COCO file and the two tables of every done image, in input order."""
    from ..coco.write import write_coco

    images, annotations, tables = [], [], []
    units: dict[int, dict[str, str]] = {2: {"file_name": ""}, 3: {"file_name": ""}}
    for job in jobs:
        part = parts.get(job.key)
        if part is None:
            continue
        ids = {}
        for image in part["images"]:
            ids[image["id"]] = len(images) + 1
            images.append({**image, "id": len(images) + 1})
        for ann in part["annotations"]:
            annotations.append({**ann, "id": len(annotations) + 1, "image_id": ids[ann["image_id"]]})
        tables.append(_table(part))
        units[3 if "centroid-2" in part["table"]["columns"] else 2].update(part["units"])
    dataset = {
        "info": {"description": f"napari-coco-masks {__version__}, recipe {recipe.digest()}"},
        "licenses": [], "images": images,
        "categories": [{"id": 1, "name": recipe.category, "supercategory": ""}],
        "annotations": annotations,
    }  # fmt: skip
    write_coco(dataset, out / OUTPUTS["coco"])
    by_ndim: dict[int, list[pd.DataFrame]] = {}
    for table in tables:
        by_ndim.setdefault(3 if "centroid-2" in table.columns else 2, []).append(table)
    if not by_ndim:
        by_ndim[2] = []
    for ndim, group in sorted(by_ndim.items()):
        # a batch of 2D images and volumes: areas (µm²) and volumes (µm³) get a file each
        suffix = "_3d" if ndim == 3 and len(by_ndim) > 1 else ""
        _write_tables(out, group, units[ndim], recipe.category, suffix)


def _write_tables(out: Path, tables: list[pd.DataFrame], units: dict[str, str], category: str,
                  suffix: str) -> None:
    from ..coco.write import write_bytes
    from ..segment import summarize

    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame({"file_name": []})
    table.attrs["units"] = units
    name = Path(OUTPUTS["measurements"])
    write_bytes(_csv_bytes(table), out / f"{name.stem}{suffix}{name.suffix}")
    if "area" in table.columns and len(table):
        summary = summarize(table.assign(category=category), by="category")
    else:
        summary = pd.DataFrame({"category": [category], "count": [0]})
    name = Path(OUTPUTS["summary"])
    write_bytes(_csv_bytes(summary), out / f"{name.stem}{suffix}{name.suffix}")


# --------------------------------------------------------------------------- dask


@contextlib.contextmanager
def _connect(client: Any, scheduler: str | None, workers: int | None, n_tasks: int
             ) -> Iterator[Any]:
    """The client to use: the caller's, one to ``scheduler``, or a LocalCluster of our own."""
    if client is not None:
        yield client
        return
    import logging

    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        with Client(address, timeout="20s") as own:
            yield own
        return
    n = workers or max(1, min(os.cpu_count() or 1, n_tasks))
    # one image per worker process (no GIL sharing); a single worker needs no process
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=n > 1,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    try:
        with Client(cluster) as own:
            yield own
    finally:
        cluster.close()


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
    parts = _prepare(out, recipe, resume=resume, overwrite=overwrite)
    jobs = _jobs(paths, out)
    digest = recipe.digest()
    parts = {j.key: parts[j.key] for j in jobs
             if j.key in parts and parts[j.key].get("stamp") == j.stamp
             and parts[j.key].get("recipe") == digest}  # fmt: skip
    resumed = len(parts)
    todo = [j for j in jobs if j.key not in parts]
    failed: list[dict[str, str]] = []
    seconds = {key: part.get("seconds", 0.0) for key, part in parts.items()}
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
    _assemble(out, jobs, parts, recipe)
    by_index = {j.file_name: j.index for j in jobs}
    failed.sort(key=lambda f: by_index.get(f["file"], 0))
    report = Report(
        images=len(jobs), done=len(parts), failed=failed, resumed=resumed,
        objects=sum(p["objects"] for p in parts.values()),
        seconds=time.perf_counter() - started, work_seconds=float(sum(seconds.values())),
        outputs={k: str(out / v) for k, v in OUTPUTS.items()} | {"overlays": str(out / OVERLAYS)},
        recipe=digest, scheduler=address, dashboard=dashboard,
        warnings=[{"file": j.file_name, "warning": w} for j in jobs if j.key in parts
                  for w in parts[j.key].get("warnings", [])],
    )  # fmt: skip
    _write_report(out, report)
    return report


def _stream(client: Any, todo: Sequence[_Job], recipe: Recipe, spacing: Any, out: Path,
            parts: dict[str, dict], seconds: dict[str, float], bar: Any) -> list[dict[str, str]]:
    """Submit one task per image; write each result as it completes; return the failures."""
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    doc = recipe.to_dict()
    spacing = None if spacing is None else list(spacing)
    futures = {
        client.submit(process_image, str(j.path.resolve()), j.file_name, doc, spacing,
                      key=f"napari-coco-masks-{run}-{j.index}", pure=False): j
        for j in todo
    }  # fmt: skip
    failed = []
    for future in as_completed(futures):
        job = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # the task never finished: dask gave up on it (KilledWorker)
            result = {"status": "failed", "reason": f"the worker running it failed: {_reason(exc)}",
                      "seconds": 0.0}
        future.release()
        if result["status"] == "done":
            parts[job.key] = _save_part(out, job, result, recipe.digest())
        else:
            failed.append({"file": job.file_name, "reason": result["reason"]})
        seconds[job.key] = result["seconds"]
        bar.update(1)
        if failed:
            bar.set_postfix(failed=len(failed), refresh=False)
    return failed


def _write_report(out: Path, report: Report) -> None:
    from ..coco.write import write_bytes

    text = json.dumps(report.to_dict(), indent=1, ensure_ascii=False)
    write_bytes(text.encode("utf-8"), out / OUTPUTS["report"])
    write_bytes(report.text().encode("utf-8"), out / OUTPUTS["report_text"])
