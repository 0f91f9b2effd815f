"""COCO annotations dock (Layers > Annotate): categories, active category, re-assign, exports.

The dock follows the COCO file of the selected layer (any layer read from COCO carries its
:class:`~..coco.session.CocoSession`). It lists the file's categories with a colour swatch,
supercategory, instance counts (whole file with the edits, and the image shown) and a
visibility toggle; the selected row is the **active category**: labels painted with *New
instance* and shapes drawn get it and its colour at once. *Re-assign* gives the selected
shapes and the selected label the active category. Categories are added and renamed in the
session and saved with a minimal diff. Predictions (layers with a ``score`` feature) get a
score threshold; exports and COCOeval per category run in a ``thread_worker`` with throttled
progress. A plain Labels layer (a segmentation widget's) becomes a COCO file with *Make COCO
dataset*. Every save writes the file or says why not in the status line.
"""

from __future__ import annotations

import json
import queue
import threading
import warnings
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.layers import Image, Labels, Shapes
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_coco_masks._browse import browser_of, session_of
from napari_coco_masks._widgets import _annotate as ann
from napari_coco_masks._widgets._progress import start_job
from napari_coco_masks.coco.categories import evaluate_categories, refresh_names
from napari_coco_masks.coco.errors import CocoError
from napari_coco_masks.coco.session import CocoSession

if TYPE_CHECKING:
    import napari

COLUMNS = ("category", "id", "in file", "in image", "supercategory")
#: Columns of the category list (the first holds the visibility box and the colour swatch).
NAME, ID, IN_FILE, IN_IMAGE, SUPER = range(len(COLUMNS))
EVAL_COLUMNS = ("category", "AP", "AP50", "AP75", "recall", "GT", "detections")


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


class AnnotationsWidget(QWidget):
    """The COCO annotations dock (see the module docstring)."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session: CocoSession | None = None
        self.hidden: dict[int, set[int]] = {}  # id(session) -> hidden category positions
        self.active: dict[int, Any] = {}  # id(session) -> active category id
        self.threshold = 0.0
        self.worker = None
        self.evaluation: list[dict] = []
        self._counts: dict[int, int] = {}  # id(shapes) -> shapes seen
        self._watched: dict[int, Any] = {}
        self._guard = False
        self._build()
        v = self.viewer
        v.layers.events.inserted.connect(self._on_inserted)
        v.layers.events.removed.connect(lambda e: self._later(self._pick_session))
        v.layers.selection.events.active.connect(lambda e: self._pick_session())
        v.dims.events.current_step.connect(lambda e: self._later(self._after_step))
        for layer in v.layers:
            self._watch(layer)
        self._pick_session()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        inner = QWidget()
        box = QVBoxLayout(inner)
        self.file = QComboBox()
        self.file.currentIndexChanged.connect(self._on_file_chosen)
        box.addWidget(self.file)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._on_row)
        self.table.itemChanged.connect(self._on_toggled)
        self.table.setMinimumSize(340, 240)
        box.addWidget(self.table)
        grid = QGridLayout()
        self.name = QLineEdit(placeholderText="category name")
        self.supercategory = QLineEdit(placeholderText="supercategory")
        self.add_button = self._button("Add category", self.add_category)
        self.rename_button = self._button("Rename active", self.rename_category)
        self.new_button = self._button("New instance (label)", self.new_instance)
        self.reassign_button = self._button("Re-assign selected", self.reassign)
        for k, w in enumerate((self.name, self.supercategory, self.add_button,
                               self.rename_button, self.new_button, self.reassign_button)):
            grid.addWidget(w, k // 2, k % 2)
        box.addLayout(grid)
        row = QHBoxLayout()
        self.score_label = QLabel("score ≥ 0.00")
        self.score = QSlider(Qt.Horizontal)
        self.score.setRange(0, 100)
        self.score.valueChanged.connect(self.set_threshold)
        row.addWidget(self.score_label)
        row.addWidget(self.score)
        box.addLayout(row)
        grid = QGridLayout()
        self.export_buttons = {
            kind: self._button(text, lambda _=False, k=kind: self.export(k))
            for kind, text in (("semantic", "Export semantic PNG…"), ("yolo", "Export YOLO…"),
                               ("masks", "Export instance masks…"))
        }
        self.evaluate_button = self._button("Evaluate predictions", self.evaluate)
        self.make_button = self._button("Make COCO dataset…", self.make_dataset)
        self.save_button = self._button("Save", self.save)
        self.save_as_button = self._button("Save as…", self.save_as)
        for k, w in enumerate((*self.export_buttons.values(), self.evaluate_button,
                               self.make_button, self.save_button, self.save_as_button)):
            grid.addWidget(w, k // 2, k % 2)
        box.addLayout(grid)
        self.results = QTableWidget(0, len(EVAL_COLUMNS))
        self.results.setHorizontalHeaderLabels(EVAL_COLUMNS)
        self.results.verticalHeader().setVisible(False)
        self.results.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.results.setVisible(False)
        box.addWidget(self.results)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        box.addWidget(self.status)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def _button(self, text: str, slot: Callable) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(lambda _=False: slot())
        return button

    def _later(self, fn: Callable[[], None]) -> None:
        """After napari's other handlers (the browser swaps the image first)."""
        QTimer.singleShot(0, fn)

    def _say(self, text: str) -> None:
        self.status.setText(text)

    # ------------------------------------------------------------------ sessions
    def sessions(self) -> list[CocoSession]:
        found: dict[int, CocoSession] = {}
        for layer in self.viewer.layers:
            s = session_of(layer)
            if s is not None:
                found.setdefault(id(s), s)
        return list(found.values())

    def layers(self, session: CocoSession | None = None) -> ann.SessionLayers:
        return ann.SessionLayers.find(self.viewer.layers, session or self.session)

    def _pick_session(self) -> None:
        """The session of the selected layer (else the one shown, else the first open)."""
        sessions = self.sessions()
        active = session_of(self.viewer.layers.selection.active)
        if active is None:
            active = self.session if any(s is self.session for s in sessions) else (
                sessions[0] if sessions else None)
        self.file.blockSignals(True)
        self.file.clear()
        for s in sessions:
            kind = " (predictions)" if ann.is_predictions(s) else ""
            self.file.addItem(f"{Path(str(s.dataset.path)).name}{kind}")
        if active is not None:
            self.file.setCurrentIndex([id(s) for s in sessions].index(id(active)))
        self.file.blockSignals(False)
        self._set_session(active)

    def _on_file_chosen(self, k: int) -> None:
        sessions = self.sessions()
        if 0 <= k < len(sessions):
            self._set_session(sessions[k])

    def _set_session(self, session: CocoSession | None) -> None:
        changed = session is not self.session
        self.session = session
        if session is not None and id(session) not in self.active:
            self.active[id(session)] = session.default_category
        self.score.setEnabled(any(ann.is_predictions(s) for s in self.sessions()))
        self.evaluate_button.setEnabled(any(
            ann.is_predictions(s) and ann.ground_truth_of(s, self.sessions()) is not None
            for s in self.sessions()))
        self.make_button.setEnabled(isinstance(self.viewer.layers.selection.active, Labels)
                                    and session_of(self.viewer.layers.selection.active) is None)
        if changed:
            self.refresh()

    def active_category(self) -> Any:
        return None if self.session is None else self.active.get(id(self.session))

    # ------------------------------------------------------------------ layers
    def _on_inserted(self, event: Any) -> None:
        self._watch(event.value)
        self._later(self._pick_session)
        self._later(self._apply_all)

    def _watch(self, layer: Any) -> None:
        if session_of(layer) is None or id(layer) in self._watched:
            return
        if isinstance(layer, Shapes):
            self._counts[id(layer)] = len(layer.data)
            cb = lambda e, ly=layer: self._on_shapes_data(ly, e)  # noqa: E731
            layer.events.data.connect(cb)
        elif isinstance(layer, Labels):
            cb = lambda e, ly=layer: self._on_selected_label(ly)  # noqa: E731
            layer.events.selected_label.connect(cb)
            layer.events.paint.connect(lambda e: self._later(self.refresh_counts))
        else:
            cb = None
        self._watched[id(layer)] = cb

    def _swapping(self, session: CocoSession) -> bool:
        browser = browser_of(self.viewer, session)
        return browser is not None and browser._swapping

    def _on_shapes_data(self, layer: Any, event: Any) -> None:
        session = session_of(layer)
        if session is None or self._swapping(session):
            return
        action = str(getattr(event, "action", ""))
        if action == "added":
            first = self._counts.get(id(layer), 0)
            cid = self.active.get(id(session), session.default_category)
            if len(layer.data) > first and cid is not None:
                ann.set_new_rows(self.layers(session), layer, first, cid)
                self._apply(session)
            self._counts[id(layer)] = len(layer.data)
            self._later(self.refresh_counts)
        elif action == "removed":
            self._counts[id(layer)] = len(layer.data)
            self._later(self.refresh_counts)

    def _on_selected_label(self, layer: Any) -> None:
        """A label value without a row (a new instance) gets the active category at once."""
        session = session_of(layer)
        if self._guard or session is None or self._swapping(session):
            return
        value, df = int(layer.selected_label), layer.features
        known = "index" in df.columns and value in set(df["index"].dropna().astype(int))
        cid = self.active.get(id(session))
        if value and not known and cid is not None:
            self._guard = True
            try:
                ann.set_label_rows(self.layers(session), layer, {value: cid})
            finally:
                self._guard = False
            self._apply(session)

    def _after_step(self) -> None:
        for s in self.sessions():
            for shapes in self.layers(s).shapes:
                self._counts[id(shapes)] = len(shapes.data)
        self._apply_all()
        self.refresh_counts()

    def _apply(self, session: CocoSession) -> None:
        threshold = self.threshold if ann.is_predictions(session) else None
        ann.apply_colors(self.layers(session), self.hidden.get(id(session), set()), threshold)

    def _apply_all(self) -> None:
        for s in self.sessions():
            self._apply(s)

    # ------------------------------------------------------------------ table
    def refresh(self) -> None:
        """Rebuild the category list of the current session."""
        self._guard = True
        self.table.blockSignals(True)
        try:
            session = self.session
            cats = [] if session is None else session.dataset.categories
            self.table.setRowCount(len(cats))
            hidden = self.hidden.get(id(session), set())
            for r, cat in enumerate(cats):
                show = QTableWidgetItem(cat.name)
                show.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                show.setCheckState(Qt.Unchecked if cat.position in hidden else Qt.Checked)
                show.setToolTip("untick to hide this category's labels and shapes")
                pix = QPixmap(14, 14)
                pix.fill(QColor(session.colors[cat.position]))
                show.setIcon(QIcon(pix))
                self.table.setItem(r, NAME, show)
                self.table.setItem(r, ID, QTableWidgetItem(str(cat.id)))
                self.table.setItem(r, SUPER, QTableWidgetItem(cat.supercategory))
            active = self.active_category()
            for r, cat in enumerate(cats):
                if active is not None and str(cat.id) == str(active):
                    self.table.selectRow(r)
        finally:
            self.table.blockSignals(False)
            self._guard = False
        self.refresh_counts()

    def refresh_counts(self) -> None:
        if self.session is None or not self.table.rowCount():
            return
        try:
            total, here = ann.category_counts(self.layers())
        except CocoError as exc:
            self._say(f"Counts unavailable: {exc}")
            return
        self.table.blockSignals(True)
        try:
            for r in range(min(self.table.rowCount(), len(total))):
                self.table.setItem(r, IN_FILE, QTableWidgetItem(str(int(total[r]))))
                self.table.setItem(r, IN_IMAGE, QTableWidgetItem(str(int(here[r]))))
        finally:
            self.table.blockSignals(False)
        self.table.resizeColumnsToContents()

    def _on_row(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if self._guard or self.session is None or not rows:
            return
        self.set_active(self.session.dataset.categories[rows[0].row()].id)

    def _on_toggled(self, item: QTableWidgetItem) -> None:
        if self._guard or self.session is None or item.column() != NAME:
            return
        self.set_visible(self.session.dataset.categories[item.row()].id,
                         item.checkState() == Qt.Checked)

    # ------------------------------------------------------------------ actions
    def set_active(self, category_id: Any) -> None:
        """Make ``category_id`` the category of what is painted and drawn next."""
        session = self.session
        cat = session.category(category_id)
        self.active[id(session)] = cat.id
        color = session.colors[cat.position]
        for shapes in self.layers().shapes:
            if not shapes.selected_data:  # napari recolours the selected shapes otherwise
                shapes.current_edge_color = color
                shapes.current_face_color = color + ann.FACE_ALPHA
        self._say(f"Active category: {cat.name} (id {cat.id})")

    def set_visible(self, category_id: Any, visible: bool) -> None:
        p = self.session.category(category_id).position
        hidden = self.hidden.setdefault(id(self.session), set())
        (hidden.discard if visible else hidden.add)(p)
        self._apply(self.session)
        self.refresh()

    def set_threshold(self, value: int | float) -> None:
        """Hide predictions scored under ``value`` (slider units: hundredths)."""
        self.threshold = float(value) / 100 if isinstance(value, int) else float(value)
        self.score_label.setText(f"score ≥ {self.threshold:.2f}")
        for s in self.sessions():
            if ann.is_predictions(s):
                self._apply(s)

    def new_instance(self) -> int | None:
        """The next free label value, with the active category, becomes the painted label."""
        layers = self.layers() if self.session is not None else None
        if layers is None or not layers.labels:
            self._say("New instance: open a COCO file (or make one) with a Labels layer first")
            return None
        labels = layers.labels[0]
        self._guard = True
        try:
            value = ann.new_label(layers, labels, self.active_category())
        finally:
            self._guard = False
        labels.mode = "paint"
        self.viewer.layers.selection.active = labels
        self._apply(self.session)
        self._say(f"Paint label {value}: a new {self.session.category(self.active_category()).name}")
        return value

    def reassign(self) -> int:
        if self.session is None:
            return 0
        n = ann.reassign(self.layers(), self.active_category())
        self._apply(self.session)
        self.refresh_counts()
        name = self.session.category(self.active_category()).name
        self._say(f"Re-assigned {n} instance(s) to {name}" if n else
                  "Re-assign: select shapes, or pick a label (its value in the Labels layer)")
        return n

    def add_category(self, name: str | None = None, supercategory: str | None = None) -> Any:
        if self.session is None:
            return None
        name = self.name.text() if name is None else name
        sup = self.supercategory.text() if supercategory is None else supercategory
        try:
            cid = self.session.add_category(name, supercategory=sup)
        except CocoError as exc:
            self._say(f"Not added: {exc}")
            return None
        self.active[id(self.session)] = cid
        self.refresh()
        self.set_active(cid)
        self._say(f"Added category {name!r} (id {cid}); it is saved with the file")
        return cid

    def rename_category(self, name: str | None = None, supercategory: str | None = None) -> None:
        session = self.session
        if session is None:
            return
        name = (self.name.text() or None) if name is None else name
        sup = (self.supercategory.text() or None) if supercategory is None else supercategory
        try:
            session.rename_category(self.active_category(), name, supercategory=sup)
        except CocoError as exc:
            self._say(f"Not renamed: {exc}")
            return
        from napari_coco_masks.coco.write import _match_id

        names = {_match_id(c.id): c.name for c in session.dataset.categories}
        for layer in self.layers().all:
            table = refresh_names(layer.features, names, session.category_edits.stale)
            if table is not layer.features:
                layer.features = table
        self.refresh()
        self._say(f"Renamed to {session.category(self.active_category()).name!r}")

    # ------------------------------------------------------------------ files
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
        """Save the file in place (then re-open it: the open layers read the old bytes)."""
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
        in_place = session.dataset.source is not None and Path(path).resolve() == Path(
            session.dataset.path).resolve()
        try:
            write_coco(str(path), [ly.as_layer_data_tuple() for ly in layers])
        except (CocoError, OSError, ValueError) as exc:
            self._say(f"Not saved: {exc}")
            return False
        if in_place:
            self._reopen(session, Path(path))
        self._say(f"Saved {path}")
        return True

    def _reopen(self, session: CocoSession, path: Path) -> None:
        """Replace a session's layers by the saved file's, on the same image."""
        old = [ly for ly in self.viewer.layers if session_of(ly) is session]
        geometry = {type(ly): (ly.scale, ly.translate, ly.units) for ly in old}
        step, hidden = session.current, self.hidden.pop(id(session), set())
        at = min(self.viewer.layers.index(ly) for ly in old)
        for ly in old:
            self.viewer.layers.remove(ly)
        with warnings.catch_warnings():  # said when it was first opened
            warnings.filterwarnings("ignore", message=".*image files not found.*")
            new = self.viewer.open(str(path), plugin=ann.PLUGIN)
        for k, ly in enumerate(new):
            self.viewer.layers.move(self.viewer.layers.index(ly), at + k)
            if type(ly) in geometry:  # where the old layers were
                ly.scale, ly.translate, ly.units = geometry[type(ly)]
        s = session_of(new[0])
        self.hidden[id(s)] = hidden
        self.active[id(s)] = self.active.get(id(session))
        if s.stacked:
            self.viewer.dims.set_current_step(0, step)
        self.viewer.layers.selection.active = new[0]
        self._pick_session()

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
        worker.returned.connect(done)
        worker.errored.connect(lambda exc: self._say(f"{desc} failed: {exc}"))
        worker.finished.connect(lambda: setattr(self, "worker", None))
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
        """Export the current file (with its edits): ``semantic``, ``yolo`` or ``masks``."""
        from napari_coco_masks.coco.exports import export_semantic, export_yolo
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
        fns = {"semantic": lambda cb: export_semantic(data, folder, on_image=cb),
               "yolo": lambda cb: export_yolo(data, folder, on_image=cb),
               "masks": lambda cb: export_masks(data, folder)}
        total = 0 if kind == "masks" else self.session.n_images
        return self._run(_threaded(fns[kind]), total, f"Export {kind}",
                         lambda files: self._say(f"Exported {len(files)} files into {folder}"))

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
            gt_obj, dets, iou = ann.evaluation_inputs(preds, gt)
        except CocoError as exc:
            self._say(f"Not evaluated: {exc}")
            return None
        return self._run(_threaded(lambda cb: evaluate_categories(gt_obj, dets, iou_type=iou)),
                         0, f"Evaluate ({iou})", self._show_evaluation)

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
