"""Measure objects dock widget: a thin napari adapter over :mod:`napari_coco_masks.segment.measure`.

Pick a Labels layer (and optionally an intensity Image and a Shapes layer), press *Measure*:
measurements in the layer's physical units land in the Labels layer's ``features`` (``index`` =
label value, existing COCO columns kept), in an objects table (click a row to select and centre
the object), a per-category summary, a histogram of any column and a CSV file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from napari.layers import Image, Labels, Shapes
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from napari_coco_masks._widgets._base import (
    Runner,
    Task,
    layer_units,
    level0,
    new_table,
    same_layer,
    scroll_area,
    time_axes,
    wrap_status,
)
from napari_coco_masks._widgets._measure_tables import (
    join_annotations,
    measure_job,
    merge_features,
    plural,
    user_columns,
)
from napari_coco_masks._widgets._measure_views import (
    _HIST_SIZE,
    MAX_TABLE_ROWS,
    NONE,
    MeasureViews,
)
from napari_coco_masks._widgets._progress import drain
from napari_coco_masks._widgets._recipe_buttons import recipe_buttons
from napari_coco_masks._widgets._recipe_maps import measure_recipe, set_measure
from napari_coco_masks.segment.measure import (
    join_features,
    measure_shapes,
)

if TYPE_CHECKING:
    import napari

class MeasureWidget(MeasureViews, QWidget):
    """Measure the objects of a Labels layer (and polygons of a Shapes layer) in physical units.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers are measured.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        #: Last objects table (measurements joined with the layer's features), or None.
        self.results: pd.DataFrame | None = None
        #: Last shapes table, or None.
        self.shape_results: pd.DataFrame | None = None
        #: Last summary table, or None.
        self.summary: pd.DataFrame | None = None
        #: Bin counts and edges of the histogram last drawn.
        self.histogram: tuple[np.ndarray, np.ndarray] | None = None
        self._layer: Labels | None = None
        self._shapes_layer: Shapes | None = None
        self._build()
        self._runner = Runner(
            self, report=self._report, on_attach=self._refresh_layers,
            on_detach=self._forget_names,
        )  # fmt: skip
        events = viewer.layers.events
        for event in (events.inserted, events.removed, events.reordered):
            self._runner.follow(event, self._refresh_layers)
        self._runner.follow(events.removed, self._on_layer_removed)
        self._runner.start()
        self._refresh_layers()
        active = viewer.layers.selection.active
        if isinstance(active, Labels):  # the layer the user is working on, not the first one
            self.labels_combo.setCurrentText(active.name)

    def _forget_names(self) -> None:
        """The dock was closed: stop following the layers' names."""
        for layer in self.viewer.layers:
            layer.events.name.disconnect(self._refresh_layers)

    def _on_layer_removed(self, event: Any) -> None:
        """The measured layer was deleted: say so; its rows stay readable but lead nowhere."""
        layer = getattr(event, "value", None)
        # == rather than `is`: a plugin's viewer hands out proxies of the event's layers
        if layer is not None and layer == self._layer and self.results is not None:
            self.status.setText(
                f"{layer.name!r} was deleted: the table shows its last measurements; pick a "
                "Labels layer and press Measure to measure again."
            )

    # ---------------------------------------------------------------------------------- UI
    def _build(self) -> None:
        self.labels_combo = QComboBox()
        self.image_combo = QComboBox()
        self.shapes_combo = QComboBox()
        self.time_series = QCheckBox("per frame / per image (first axis)")
        self.time_series.setToolTip(
            "Measure each plane of the first axis on its own (time series, COCO image stacks) "
            "and add a 'frame' column."
        )
        self.measure_button = QPushButton("Measure")
        self.save_button = QPushButton("Save as CSV…")
        self.save_button.setEnabled(False)
        self.copy_button = QPushButton("Copy table")
        self.copy_button.setToolTip("Copy the shown table (objects, summary or shapes) as "
                                    "tab-separated text, units in the headers")  # fmt: skip
        self.copy_button.setEnabled(False)
        self.status = QLabel("Pick a Labels layer and press Measure.")
        wrap_status(self.status)

        form = QFormLayout()
        form.addRow("labels", self.labels_combo)
        form.addRow("intensity", self.image_combo)
        form.addRow("shapes", self.shapes_combo)
        form.addRow(self.time_series)

        buttons = QHBoxLayout()
        buttons.addWidget(self.measure_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.copy_button)
        self.save_recipe_button, self.load_recipe_button = recipe_buttons(
            self, lambda: measure_recipe(self), lambda r: set_measure(self, r), self._report)
        recipe_row = QHBoxLayout()
        recipe_row.addWidget(self.save_recipe_button.native)
        recipe_row.addWidget(self.load_recipe_button.native)

        self.table = new_table()
        self.shapes_table = new_table()
        self.summary_table = new_table()
        self.group_combo = QComboBox()
        summary_page = QWidget()
        summary_layout = QVBoxLayout(summary_page)
        group_row = QHBoxLayout()
        group_row.addWidget(QLabel("group by"))
        group_row.addWidget(self.group_combo, 1)
        summary_layout.addLayout(group_row)
        summary_layout.addWidget(self.summary_table)

        self.column_combo = QComboBox()
        self.bins_spin = QSpinBox()
        self.bins_spin.setRange(2, 200)
        self.bins_spin.setValue(20)
        self.histogram_label = QLabel()
        self.histogram_label.setMinimumSize(*_HIST_SIZE)  # smaller crops the title and axis
        self.histogram_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hist_page = QWidget()
        hist_layout = QVBoxLayout(hist_page)
        hist_row = QHBoxLayout()
        hist_row.addWidget(QLabel("column"))
        hist_row.addWidget(self.column_combo, 1)
        hist_row.addWidget(QLabel("bins"))
        hist_row.addWidget(self.bins_spin)
        hist_layout.addLayout(hist_row)
        hist_layout.addWidget(self.histogram_label, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Objects")
        self.tabs.addTab(summary_page, "Summary")
        self.tabs.addTab(hist_page, "Histogram")
        self.tabs.addTab(self.shapes_table, "Shapes")

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addLayout(recipe_row)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll_area(content))  # the dock may be shorter than the tables

        self.measure_button.clicked.connect(self.run)
        self.labels_combo.currentTextChanged.connect(self._guess_frames)
        self.save_button.clicked.connect(self._ask_save_csv)
        self.copy_button.clicked.connect(lambda: self.copy_table())
        self.table.cellClicked.connect(self.select_row)
        self.shapes_table.cellClicked.connect(self.select_shape_row)
        self.group_combo.currentTextChanged.connect(self._update_summary)
        self.column_combo.currentTextChanged.connect(self.draw_histogram)
        self.bins_spin.valueChanged.connect(self.draw_histogram)

    def _refresh_layers(self, event: Any = None) -> None:
        """Refill the layer pickers, keeping the current choice when it still exists."""
        layers = list(self.viewer.layers)
        for layer in layers:
            layer.events.name.disconnect(self._refresh_layers)
            layer.events.name.connect(self._refresh_layers)
        before = self.labels_combo.currentData()
        self._fill(self.labels_combo, [la for la in layers if isinstance(la, Labels)], False)
        if not same_layer(self.labels_combo.currentData(), before):
            self._guess_frames()
        self._fill(self.image_combo, [la for la in layers if isinstance(la, Image)], True)
        self._fill(self.shapes_combo, [la for la in layers if isinstance(la, Shapes)], True)

    @staticmethod
    def _fill(combo: QComboBox, layers: list[Any], optional: bool) -> None:
        """Refill ``combo`` with layer names; the chosen layer stays chosen, even renamed."""
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        if optional:
            combo.addItem(NONE, None)
        for layer in layers:
            combo.addItem(layer.name, layer)
        for index, layer in enumerate(layers, start=int(optional)):
            if same_layer(layer, current):
                combo.setCurrentIndex(index)
        combo.blockSignals(False)

    def _guess_frames(self, *_: Any) -> None:
        """Tick 'per frame' for a stack of several COCO images (one image per plane) and for a
        stack whose first axis is time (its unit is a duration: s, min, ...)."""
        layer = self._layer_named(self.labels_combo)
        if layer is None:
            return
        coco = layer.metadata.get("coco") if isinstance(layer.metadata, dict) else None
        shapes = coco.get("image_shapes", []) if isinstance(coco, dict) else []
        timed = 0 in time_axes(layer)
        self.time_series.setChecked(layer.ndim >= 3 and (len(shapes) > 1 or timed))

    def _layer_named(self, combo: QComboBox) -> Any:
        name = combo.currentText()
        return self.viewer.layers[name] if name and name != NONE and name in self.viewer.layers else None

    def _fail(self, message: str) -> None:
        self._report(message, True)

    def _report(self, message: str, notify: bool = False) -> None:
        """Show ``message`` in the status line (and as a napari error notification)."""
        self.status.setText(message)
        if notify:
            show_error(message)

    # ------------------------------------------------------------------------------- measure
    def _prepare(self) -> dict[str, Any] | None:
        """Check the chosen layers, measure the Shapes layer; return the labels job or None."""
        labels_layer = self._layer_named(self.labels_combo)
        image_layer = self._layer_named(self.image_combo)
        self._shapes_layer = self._layer_named(self.shapes_combo)
        if labels_layer is None and self._shapes_layer is None:
            self._fail("Measure: choose a Labels layer (or a Shapes layer) first.")
            return None
        if self._shapes_layer is not None:
            self._measure_shapes(self._shapes_layer)
        if labels_layer is None:
            return None
        labels = level0(labels_layer.data)
        intensity = None if image_layer is None else level0(image_layer.data)
        if intensity is not None and tuple(intensity.shape) != tuple(labels.shape):
            self._fail(
                f"Measure: intensity layer {image_layer.name!r} has shape "
                f"{tuple(intensity.shape)} but labels layer {labels_layer.name!r} has shape "
                f"{tuple(labels.shape)}; pick an image of the same shape or '(none)'."
            )
            return None
        time_series = self.time_series.isChecked()
        if time_series and labels.ndim < 3:
            self._fail(
                f"Measure: 'per frame' needs a layer with a frame axis plus 2 or 3 spatial "
                f"axes; {labels_layer.name!r} has {labels.ndim} axes. Untick 'per frame'."
            )
            return None
        spatial = tuple(range(int(time_series), labels.ndim))
        timed = [axis for axis in time_axes(labels_layer) if axis in spatial]
        if timed:
            units = layer_units(labels_layer)
            self._fail(
                f"Measure: axis {timed[0]} of {labels_layer.name!r} is time "
                f"({units[timed[0]]}), not space: "
                + ("tick 'per frame' to measure each frame." if timed == [0] else
                   "put the time axis first and tick 'per frame'.")
            )
            return None
        self._layer = labels_layer
        return {
            "labels": labels,
            "intensity": intensity,
            "spacing": tuple(float(s) for s in labels_layer.scale),
            "units": layer_units(labels_layer),
            "time_series": time_series,
        }

    def run(self) -> Any:
        """Measure the chosen layers; labels in a worker thread. Returns the worker (or None)."""
        job = self._prepare()
        if job is None:
            return None
        nframes = job["labels"].shape[0] if job["time_series"] else 1
        self.measure_button.setEnabled(False)
        self.status.setText(f"Measuring {self._layer.name!r}…")
        return self._runner.run(Task(
            measure_job(**job), self._on_measured, total=nframes, desc="Measure",
            on_done=self._enable_measure, fail_prefix="Measure failed: ",
        ))  # fmt: skip

    def run_measure(
        self, labels: Labels | None = None, image: Image | None = None,
        shapes: Shapes | None = None,
    ) -> pd.DataFrame | None:
        """Measure now, in the calling thread (scripts, demos); return the objects table.

        The given layers are picked in the widget first; ``None`` keeps the current choice.
        The Measure button runs the same work in a worker thread instead.
        """
        for combo, layer in ((self.labels_combo, labels), (self.image_combo, image),
                             (self.shapes_combo, shapes)):
            if layer is not None:
                combo.setCurrentText(layer.name)
        job = self._prepare()
        if job is None:
            return None
        try:
            df = drain(measure_job(**job))
        except ValueError as exc:
            self._fail(f"Measure failed: {exc}")
            return None
        self._on_measured(df)
        return self.results

    def _enable_measure(self) -> None:
        """Re-enable Measure when the job ends (the runner skips a deleted dock)."""
        self.measure_button.setEnabled(True)

    def _on_measured(self, df: pd.DataFrame) -> None:
        layer = self._layer
        if layer is None:
            return
        joined = user_columns(join_annotations(layer, df), df)
        self.results = joined
        unique = not df["label"].duplicated().any()
        if unique:  # one row per label value: COCO stacks and single images
            layer.features = merge_features(layer.features, df)
        self._show_table(self.table, joined)
        self._refresh_columns()
        self._refresh_groups()
        self.save_button.setEnabled(True)
        self.copy_button.setEnabled(True)
        note = "" if unique else (
            " Labels repeat across frames, so results stay in the table and CSV, not in the "
            "layer features."
        )
        if len(df) > MAX_TABLE_ROWS:
            note += f" The table shows the first {MAX_TABLE_ROWS} rows; the CSV has them all."
        shapes = self._shapes_layer
        if shapes is not None and self.shape_results is not None:
            note += f" Measured {plural(len(self.shape_results), 'shape')} of {shapes.name!r}."
        self.status.setText(f"Measured {plural(len(df), 'object')} of {layer.name!r}.{note}")

    def _measure_shapes(self, layer: Shapes) -> None:
        df = measure_shapes(
            layer.data, spacing=tuple(layer.scale), units=layer_units(layer),
            shape_types=list(layer.shape_type),
        )
        features = layer.features if len(layer.features.columns) else None
        joined = user_columns(join_features(df, features, on="shape"), df)
        self.shape_results = joined
        if len(df):
            new = layer.features.copy() if len(layer.features) == len(df) else pd.DataFrame()
            for col in ("area", "perimeter"):
                new[col] = df[col].to_numpy()
            layer.features = new
        self._show_table(self.shapes_table, joined)
        self.save_button.setEnabled(True)
        self.copy_button.setEnabled(True)
        self.status.setText(f"Measured {plural(len(df), 'shape')} of {layer.name!r}.")
        if self.results is None:
            self._refresh_columns()
            self._refresh_groups()
