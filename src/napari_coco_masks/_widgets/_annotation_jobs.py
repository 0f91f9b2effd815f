"""Files and background jobs of the COCO annotations dock: save (always writes or says why
not), Make COCO dataset, exports and per-category COCOeval in a ``thread_worker`` with
throttled progress (:mod:`._progress`). Mixed into :class:`.annotations.AnnotationsWidget`.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from napari.layers import Image, Labels
from qtpy.QtWidgets import QFileDialog, QTableWidgetItem

from napari_coco_masks._browse import session_of
from napari_coco_masks._widgets import _annotate as ann
from napari_coco_masks._widgets._progress import start_job
from napari_coco_masks.coco.categories import evaluate_categories
from napari_coco_masks.coco.errors import CocoError
from napari_coco_masks.coco.session import CocoSession

__all__ = ["FilesAndJobs"]


def _threaded(fn: Callable[[Callable[[int], None]], Any]) -> Generator[int, None, Any]:
    """Run ``fn(step)`` in a thread of its own and yield each ``step(k)`` it reports (a job
    generator for :func:`~._progress.start_job` over a function that reports by callback)."""
    q: queue.Queue = queue.Queue()
    done = object()
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn(q.put)
        except BaseException as exc:  # re-raised in the worker
            out["error"] = exc
        finally:
            q.put(done)

    threading.Thread(target=run, daemon=True).start()
    while (item := q.get()) is not done:
        yield item
    if "error" in out:
        raise out["error"]
    return out.get("value")


def _exported(kind: str, result: Any, folder: Any) -> str:
    """The status line of a finished export."""
    if kind == "polygons":
        lossy = result["lossy"]
        holes = (f"; {len(lossy)} masks with holes lost them (lowest IoU "
                 f"{result['min_iou']:.3f})" if lossy else "; every mask kept exactly")
        return f"Exported {result['path']}: {result['converted']} RLE masks as polygons{holes}"
    if kind == "split":
        return "Exported " + ", ".join(f"{k}.json" for k in result) + f" into {folder} (seed 0)"
    return f"Exported {len(result)} files into {folder}"


class FilesAndJobs:
    """Save, Make COCO dataset, exports and evaluation (needs the dock's ``viewer``,
    ``session``, ``status``, ``results`` and ``worker``)."""

    def _flush(self, session: CocoSession) -> None:
        """The shown image's layer content into the session (as the writer takes it)."""
        from napari_coco_masks import _writer

        layers = self.layers(session)
        for ly in layers.labels:
            _writer._take_labels(session, ly.data, {"features": ly.features, "name": ly.name})
        for ly in layers.shapes:
            _writer._take_shapes(session, ly.data, {"shape_type": ly.shape_type,
                                                    "features": ly.features})
        for ly in layers.points:
            _writer._take_points(session, ly.data, {"features": ly.features})

    def save(self) -> bool:
        """Save the file in place (the layers then show the saved file, on the same image)."""
        if self.session is None:
            self._say("Not saved: no COCO file is open (open one, or Make COCO dataset)")
            return False
        if self.session.dataset.source is None:
            self._say("Not saved: these predictions have no file of their own: use Save as…")
            return False
        return self.save_as(self.session.dataset.path)

    def save_as(self, path: str | Path | None = None) -> bool:
        from napari_coco_masks._writer import write_coco

        session = self.session
        if session is None:
            self._say("Not saved: no COCO file is open")
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save COCO file", "", "COCO JSON (*.json)")
            if not path:
                self._say("Not saved: no file chosen")
                return False
        layers = self.layers(session).all
        try:  # saved over its own file, the session re-bases on it (CocoSession.rebase)
            write_coco(str(path), [ly.as_layer_data_tuple() for ly in layers])
        except (CocoError, OSError, ValueError) as exc:
            self._say(f"Not saved: {exc}")
            return False
        self._say(f"Saved {path}")
        return True

    def make_dataset(self, path: str | Path | None = None, labels: Any = None) -> list:
        labels = labels or self.viewer.layers.selection.active
        if not isinstance(labels, Labels) or session_of(labels) is not None:
            self._say("Make COCO dataset: select a Labels layer not read from COCO")
            return []
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "New COCO file", f"{labels.name}.json",
                                                  "COCO JSON (*.json)")
            if not path:
                return []
        image = next((ly for ly in self.viewer.layers if isinstance(ly, Image)
                      and ly.data.shape[: labels.ndim] == labels.data.shape), None)
        try:
            new = ann.make_dataset(self.viewer, labels, path, image)
        except (CocoError, OSError) as exc:
            self._say(f"No dataset made: {exc}")
            return []
        self.viewer.layers.selection.active = next(ly for ly in new if isinstance(ly, Labels))
        self._pick_session()
        self._say(f"Made {path} from {labels.name!r}: {len(new)} layers")
        return new

    # ------------------------------------------------------------------ jobs
    def _run(self, steps: Generator, total: int, desc: str, done: Callable[[Any], None]) -> Any:
        if self.worker is not None:
            self._say("Busy: wait for the running job to finish")
            return None
        worker = start_job(steps, total=total, desc=desc, ignore_errors=True)
        alive = self._alive  # the dock may be deleted while the job runs
        worker.returned.connect(lambda result: done(result) if alive[0] else None)
        worker.errored.connect(lambda exc: self._say(f"{desc} failed: {exc}") if alive[0]
                               else None)
        worker.finished.connect(lambda: setattr(self, "worker", None) if alive[0] else None)
        self.worker = worker
        self._say(f"{desc}…")
        worker.start()
        return worker

    def _edited_data(self, session: CocoSession) -> Any:
        """The file with its edits, for a job: its path when unedited, else its JSON."""
        self._flush(session)
        source = session.dataset.source
        if source is None:
            return session.to_dict()
        segments = session.segments()
        if segments == [(0, len(source.buffer))]:
            return session.dataset.path  # no edits: the file itself
        return json.loads(session.to_bytes())

    def export(self, kind: str, folder: str | Path | None = None) -> Any:
        """Export the current file (with its edits): ``semantic``, ``yolo``, ``masks``,
        ``polygons`` (COCO with polygons only, IoU loss reported) or ``split`` (train/val)."""
        from napari_coco_masks.coco.exports import (
            export_polygons,
            export_semantic,
            export_split,
            export_yolo,
        )
        from napari_coco_masks.coco.masks import export_masks

        if self.session is None:
            self._say("Export: open a COCO file first")
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Export into folder")
            if not folder:
                return None
        try:
            data = self._edited_data(self.session)
        except CocoError as exc:
            self._say(f"Not exported: {exc}")
            return None
        polygons = Path(folder) / f"{Path(str(self.session.dataset.path)).stem}.polygons.json"

        def polygons_only(step: Callable[[int], None]) -> dict:
            polygons.parent.mkdir(parents=True, exist_ok=True)
            return export_polygons(data, polygons, on_image=step)

        fns = {"semantic": lambda cb: export_semantic(data, folder, on_image=cb),
               "yolo": lambda cb: export_yolo(data, folder, on_image=cb),
               "masks": lambda cb: export_masks(data, folder),
               "polygons": polygons_only,
               "split": lambda cb: export_split(data, folder, seed=0)}
        total = self.session.n_images if kind in ("semantic", "yolo", "polygons") else 0
        return self._run(_threaded(fns[kind]), total, f"Export {kind}",
                         lambda result: self._say(_exported(kind, result, folder)))

    def evaluate(self) -> Any:
        """COCOeval per category of the predictions against the ground truth open beside."""
        preds = self.session
        if preds is None or not ann.is_predictions(preds):
            preds = next((s for s in self.sessions() if ann.is_predictions(s)), None)
        gt = None if preds is None else ann.ground_truth_of(preds, self.sessions())
        if preds is None or gt is None:
            self._say("Evaluate: open a predictions file and its ground truth")
            return None
        try:
            self._flush(preds)
            self._flush(gt)
            gt_obj, dets, iou, pred_ids = ann.evaluation_inputs(preds, gt)
        except CocoError as exc:
            self._say(f"Not evaluated: {exc}")
            return None
        image_of = {a.get("id"): a.get("image_id") for a in gt_obj.get("annotations", [])}
        self._eval_context = (preds, gt, pred_ids, [d["image_id"] for d in dets], image_of)
        return self._run(_threaded(lambda cb: evaluate_categories(gt_obj, dets, iou_type=iou)),
                         0, f"Evaluate ({iou})", self._show_evaluation)

    def show_errors(self, row: int) -> None:
        """Show only the false positives and misses (IoU 0.5) of an evaluation row; the same
        row again shows everything."""
        preds, gt, pred_ids, det_images, image_of = self._eval_context
        if self.focus.get("row") == row:
            self.focus = {}
            self._apply(preds)
            self._apply(gt)
            self._say("Showing every prediction and ground-truth instance")
            return
        found = self.evaluation[row]
        fps = [pred_ids[k] for k in found["false_positives"]]
        misses = list(found["misses"])
        self.focus = {"row": row, id(preds): set(fps), id(gt): set(misses)}
        self._apply(preds)
        self._apply(gt)
        images = [det_images[k] for k in found["false_positives"]] + [
            image_of.get(g) for g in misses]
        where = ""
        if images:
            first = next(im for im in gt.dataset.images if im.id == images[0])
            where = f"; first on image {first.position} ({first.file_name})"
            if gt.stacked:
                self.viewer.dims.set_current_step(0, first.position)
        self._say(f"{found['name']}: {len(fps)} false positive(s) among the predictions, "
                  f"{len(misses)} miss(es) in the ground truth at IoU 0.5{where}. Only they "
                  "are shown: click the row again to show all")

    def _show_evaluation(self, rows: list[dict]) -> None:
        self.evaluation = rows
        self.results.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = [row["name"], *(f"{row[k]:.3f}" if row[k] >= 0 else "–"
                                     for k in ("AP", "AP50", "AP75", "recall")),
                      str(row["n_gt"]), str(row["n_det"])]
            for c, text in enumerate(values):
                self.results.setItem(r, c, QTableWidgetItem(text))
        self.results.resizeColumnsToContents()
        self.results.setVisible(True)
        self._say(f"Evaluated: AP {rows[0]['AP']:.3f}, AP50 {rows[0]['AP50']:.3f} "
                  f"over {len(rows) - 1} categories")
