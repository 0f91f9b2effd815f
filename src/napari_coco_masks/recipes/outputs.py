"""The results folder of a run: its check, the per-image part files, the final files.

Every file is written atomically (:func:`napari_coco_masks.coco.write.write_bytes`). The part
files under ``DIR/.napari-coco-masks/parts`` (one per image done, keyed by the image's path,
stamped with its size, mtime and the recipe's digest) are what ``--resume`` finds; the COCO
file and the tables are assembled from them, in input order, at the end of every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from .images import RUN_OVERLAYS, RUN_STATE
from .model import Recipe, RecipeError

__all__ = ["OUTPUTS", "OVERLAYS", "STATE_DIR", "Job", "Report", "assemble", "make_jobs",
           "prepare_folder", "save_part", "write_report"]

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
    """What a run did (also written as ``report.json`` and ``report.txt``).

    Attributes
    ----------
    images, done, resumed : int
        Images of the inputs; done (this run or an earlier one); of those, done earlier.
    failed : list of dict
        ``{"file": file_name, "reason": ...}`` of every image that failed, in input order.
    objects : int
        Objects of the images done.
    seconds, work_seconds : float
        Wall time of the run; time the workers spent on this run's images.
    outputs : dict
        Written files by kind (``coco``, ``measurements``, ``summary``, ``report``, ...).
    recipe : str
        The recipe's digest (:meth:`Recipe.digest`).
    scheduler, dashboard : str
        The dask scheduler's address and dashboard link ("" when none was needed).
    warnings : list of dict
        ``{"file": file_name, "warning": ...}``: what the steps warned about.
    """

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


@dataclass(frozen=True)
class Job:
    index: int
    path: Path
    file_name: str
    key: str
    stamp: list[int]
    overlay: str


def _file_name(path: Path, out: Path) -> str:
    """The COCO ``file_name``: the image's path relative to the output folder (the reader's way)."""
    return Path(os.path.relpath(path.resolve(), out.resolve())).as_posix()


def make_jobs(paths: Sequence[Path], out: Path) -> list[Job]:
    """One job per image; overlays are named by the path below the inputs' common folder."""
    common = Path(os.path.commonpath([p.resolve().parent for p in paths]))
    jobs = []
    for index, path in enumerate(paths):
        st = path.stat()
        key = hashlib.sha1(str(path.resolve()).encode("utf-8")).hexdigest()[:20]
        below = path.resolve().relative_to(common).with_suffix("")
        jobs.append(Job(index, path, _file_name(path, out), key, [st.st_size, st.st_mtime_ns],
                         "__".join(below.parts) + ".png"))
    return jobs


def _ours(out: Path) -> list[Path]:
    names = [*OUTPUTS.values(), "measurements_3d.csv", "summary_3d.csv", OVERLAYS, STATE_DIR]
    return [out / n for n in names if (out / n).exists()]


def prepare_folder(out: Path, recipe: Recipe, *, resume: bool, overwrite: bool) -> dict[str, dict]:
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


def save_part(out: Path, job: Job, result: dict[str, Any], digest: str) -> dict[str, Any]:
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


def assemble(out: Path, jobs: Sequence[Job], parts: dict[str, dict], recipe: Recipe) -> None:
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


def write_report(out: Path, report: Report) -> None:
    from ..coco.write import write_bytes

    text = json.dumps(report.to_dict(), indent=1, ensure_ascii=False)
    write_bytes(text.encode("utf-8"), out / OUTPUTS["report"])
    write_bytes(report.text().encode("utf-8"), out / OUTPUTS["report_text"])
