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
dataset*. Keypoints: *Add keypoint* puts the next keypoint of the selected instance at its
middle, selected to drag; *v=0 / v=1 / v=2* set the selected keypoints' COCO visibility; moved,
added and re-flagged keypoints are saved into their instance's record. Every save writes the
file or says why not in the status line; a save over the file keeps the layers (the session
re-bases on the saved bytes).

What the dock does to layers lives in :mod:`._annotate` (no Qt widgets); saving, exports and
evaluation in :mod:`._annotation_jobs`; keypoints in :mod:`._annotation_keypoints`; category
edits in :mod:`..coco.categories`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.layers import Labels, Shapes
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
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
from napari_coco_masks._widgets import _annotation_keypoints as kps
from napari_coco_masks._widgets._annotation_jobs import FilesAndJobs
from napari_coco_masks.coco.categories import refresh_names
from napari_coco_masks.coco.errors import CocoError
from napari_coco_masks.coco.session import CocoSession

if TYPE_CHECKING:
    import napari

COLUMNS = ("category", "id", "in file", "in image", "supercategory")
#: Columns of the category list (the first holds the visibility box and the colour swatch).
NAME, ID, IN_FILE, IN_IMAGE, SUPER = range(len(COLUMNS))
EVAL_COLUMNS = ("category", "AP", "AP50", "AP75", "recall", "GT", "detections")


class AnnotationsWidget(FilesAndJobs, QWidget):
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
        self._count_cache: dict[int, dict] = {}  # id(session) -> instance_counts' cache
        self.focus: dict = {}  # id(session) -> annotation ids shown alone (an evaluation row)
        self._counts: dict[int, int] = {}  # id(shapes) -> shapes seen
        self._watched: dict[int, list] = {}  # id(layer) -> its (emitter, callback) links
        self._guard = False
        self._rebase_hooked: set[int] = set()  # id(session) of sessions whose saves we follow
        self._build()
        v = self.viewer
        # every link to napari is undone when the dock is deleted (no call into a dead widget)
        links = self._links = [
            (v.layers.events.inserted, self._on_inserted),
            (v.layers.events.removed, self._on_removed),
            (v.layers.selection.events.active, lambda e: self._pick_session()),
            (v.dims.events.current_step, lambda e: self._later(self._after_step)),
        ]
        alive = self._alive = [True]
        watched = self._watched
        for emitter, cb in links:
            emitter.connect(cb)

        def _unlink(*_: Any) -> None:
            alive[0] = False
            for emitter, cb in [*links, *(x for ls in watched.values() for x in ls)]:
                emitter.disconnect(cb)

        self.destroyed.connect(_unlink)
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
        self.table.setMinimumSize(340, 260)
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
        self.keypoint_button = self._button("Add keypoint", self.add_keypoint)
        self.keypoint_button.setToolTip("add the next keypoint of the selected instance at its "
                                        "middle, selected: drag it where it belongs")
        row.addWidget(self.keypoint_button)
        self.visibility_buttons = {}
        for v, text in kps.VISIBILITY.items():
            button = self._button(f"v={v}", lambda v=v: self.set_visibility(v))
            button.setToolTip(f"the selected keypoints become {text} (COCO visibility {v})")
            self.visibility_buttons[v] = button
            row.addWidget(button)
        box.addLayout(row)
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
                               ("masks", "Export instance masks…"),
                               ("polygons", "Export COCO polygons only…"),
                               ("split", "Split train/val (80/20)…"))
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
        self.results.setToolTip("click a row: only its false positives and misses are shown")
        self.results.cellClicked.connect(lambda r, c: self.show_errors(r))
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
        alive = self._alive
        QTimer.singleShot(0, lambda: fn() if alive[0] else None)

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
        has_points = session is not None and bool(self.layers(session).points)
        for button in (self.keypoint_button, *self.visibility_buttons.values()):
            button.setEnabled(has_points)
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
        session = session_of(layer)
        if session is None or id(layer) in self._watched:
            return
        if id(session) not in self._rebase_hooked:
            self._rebase_hooked.add(id(session))
            session.on_rebase(self._on_rebased)  # held weakly by the session
        links = []
        if isinstance(layer, Shapes):
            self._counts[id(layer)] = len(layer.data)
            links.append((layer.events.data, lambda e, ly=layer: self._on_shapes_data(ly, e)))
        elif isinstance(layer, Labels):
            links.append((layer.events.selected_label,
                          lambda e, ly=layer: self._on_selected_label(ly)))
            links.append((layer.events.paint, lambda e: self._later(self.refresh_counts)))
        for emitter, cb in links:
            emitter.connect(cb)
        self._watched[id(layer)] = links

    def _on_rebased(self, session: CocoSession) -> None:
        """A save over the session's file: its layers show the saved file (the browser swaps
        it in); counts, colours of hidden categories and the list follow once Qt is idle."""
        if not self._alive[0]:
            return

        def after() -> None:
            self._count_cache.pop(id(session), None)
            for shapes in self.layers(session).shapes:
                self._counts[id(shapes)] = len(shapes.data)
            self._apply(session)
            if session is self.session:
                self.refresh()

        self._later(after)

    def _on_removed(self, event: Any) -> None:
        for emitter, cb in self._watched.pop(id(event.value), []):
            emitter.disconnect(cb)
        self._counts.pop(id(event.value), None)
        self._later(self._pick_session)

    def _swapping(self, session: CocoSession) -> bool:
        browser = browser_of(self.viewer, session)
        return browser is not None and browser.swapping

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
        """The browser showed another image in category colours: only hidden categories and
        the score threshold are the dock's to apply again."""
        for s in self.sessions():
            for shapes in self.layers(s).shapes:
                self._counts[id(shapes)] = len(shapes.data)
            if self.hidden.get(id(s)) or id(s) in self.focus or (
                    self.threshold > 0 and ann.is_predictions(s)):
                self._apply(s)
        self.refresh_counts()

    def _apply(self, session: CocoSession) -> None:
        threshold = self.threshold if ann.is_predictions(session) else None
        ann.apply_colors(self.layers(session), self.hidden.get(id(session), set()), threshold,
                         self.focus.get(id(session)))

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
            cache = self._count_cache.setdefault(id(self.session), {})
            total, here = ann.category_counts(self.layers(), cache)
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
        if cat.position in self.hidden.get(id(session), set()):
            self.set_visible(cat.id, True)  # what is drawn next must be seen
        self._say(f"Active category: {cat.name} (id {cat.id})")

    def set_visible(self, category_id: Any, visible: bool) -> None:
        """Show or hide a category's labels and shapes (its box in the list follows)."""
        p = self.session.category(category_id).position
        hidden = self.hidden.setdefault(id(self.session), set())
        (hidden.discard if visible else hidden.add)(p)
        self._apply(self.session)
        item = self.table.item(p, NAME)
        if item is not None:  # the list is in category order
            self.table.blockSignals(True)
            item.setCheckState(Qt.Checked if visible else Qt.Unchecked)
            self.table.blockSignals(False)

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

    # ------------------------------------------------------------------ keypoints
    def add_keypoint(self, index: int | None = None) -> int | None:
        """Add a keypoint (the first one missing, or ``index``) to the selected instance: a
        selected point, shape or label names it. The new point is selected and the Points
        layer is in select mode, to drag it into place."""
        layers = self.layers() if self.session is not None else None
        if layers is None or not layers.points:
            self._say("Add keypoint: open a COCO file with keypoints first")
            return None
        active = self.viewer.layers.selection.active
        instance = kps.selected_instance(layers, labels=active in layers.labels)
        if instance is None:
            self._say("Add keypoint: select one saved instance (a keypoint, shape or label)")
            return None
        try:
            k = kps.add_keypoint(layers, instance, index)
        except CocoError as exc:
            self._say(f"No keypoint added: {exc}")
            return None
        points = layers.points[0]
        self.viewer.layers.selection.active = points
        points.mode = "select"
        self._apply(self.session)
        name = points.features["name"].iloc[-1]
        self._say(f"Added keypoint {k} ({name}) to annotation {instance}: drag it into place")
        return k

    def set_visibility(self, visibility: int) -> int:
        """The selected keypoints get COCO visibility 0, 1 or 2 (saved with their instance;
        0 is saved as an unlabelled ``0, 0, 0``)."""
        if self.session is None:
            return 0
        n = kps.set_visibility(self.layers(), visibility)
        self._say(f"{n} keypoint(s) now {kps.VISIBILITY[visibility]} (v={visibility})" if n
                  else "Visibility: select keypoints in the Points layer first")
        return n
