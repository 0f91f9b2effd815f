"""The result views of the measure widget: tables (a row selects and centres its object),
the summary, the histogram and CSV files. A mixin of
:class:`~napari_coco_masks._widgets.measure.MeasureWidget`, which builds the Qt widgets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication, QFileDialog, QTableWidget

from napari_coco_masks._widgets._base import bin_range, fill_table, histogram_pixmap
from napari_coco_masks.segment.measure import summarize, to_csv, unit_label, with_unit_headers

if TYPE_CHECKING:
    import napari

__all__ = ["MAX_TABLE_ROWS", "NONE", "MeasureViews"]

NONE = "(none)"
#: Rows shown in a table (every row still goes to the features and the CSV).
MAX_TABLE_ROWS = 5000
#: Size of the histogram picture (the label that shows it is at least that big).
_HIST_SIZE = (360, 220)


class MeasureViews:
    """Tables, summary, histogram and CSV of the measure widget (its results and Qt widgets)."""

    viewer: Any
    results: pd.DataFrame | None
    shape_results: pd.DataFrame | None
    summary: pd.DataFrame | None
    histogram: tuple[np.ndarray, np.ndarray] | None
    _layer: Any
    _shapes_layer: Any

    # -------------------------------------------------------------------------------- tables
    @staticmethod
    def _show_table(table: QTableWidget, df: pd.DataFrame) -> None:
        """Fill ``table`` with the first :data:`MAX_TABLE_ROWS` rows of ``df``."""
        fill_table(table, df, MAX_TABLE_ROWS, [unit_label(c, df.attrs.get("units", {}).get(c, ""))
                                               for c in df.columns])  # fmt: skip

    @staticmethod
    def _row_position(table: QTableWidget, row: int) -> int:
        return int(table.item(row, 0).data(Qt.ItemDataRole.UserRole))

    def select_row(self, row: int, column: int = 0) -> None:
        """Select the object of table row ``row`` in its layer and centre the camera on it."""
        if self.results is None or self._layer is None or self._layer not in self.viewer.layers:
            return  # nothing measured yet, or the measured layer was deleted
        rec = self.results.iloc[self._row_position(self.table, row)]
        layer = self._layer
        layer.selected_label = int(rec["label"])
        spacing = np.asarray(self.results.attrs.get("spacing", (1.0,)), dtype=float)
        ndim = spacing.size
        centroid = np.array([rec[f"centroid-{k}"] for k in range(ndim)], dtype=float) / spacing
        point = centroid if "frame" not in rec.index else np.r_[float(rec["frame"]), centroid]
        if point.size < layer.ndim:  # measured without centroid frame: keep current slice
            return
        self._centre_on(layer, point)

    def select_shape_row(self, row: int, column: int = 0) -> None:
        """Select the shape of shapes-table row ``row`` and centre the camera on it."""
        layer = self._shapes_layer
        if self.shape_results is None or layer is None or layer not in self.viewer.layers:
            return
        k = int(self.shape_results.iloc[self._row_position(self.shapes_table, row)]["shape"])
        if k >= len(layer.data):
            return
        layer.selected_data = {k}
        self._centre_on(layer, np.asarray(layer.data[k], dtype=float).mean(axis=0))

    def _centre_on(self, layer: Any, data_point: np.ndarray) -> None:
        """Move the camera (displayed axes) and the sliders (other axes) to a layer point."""
        world = np.asarray(layer.data_to_world(data_point), dtype=float)
        offset = self.viewer.dims.ndim - world.size
        for axis in range(self.viewer.dims.ndim):
            if axis >= offset and axis not in self.viewer.dims.displayed:
                self.viewer.dims.set_point(axis, world[axis - offset])
        shown = [world[a - offset] for a in self.viewer.dims.displayed if a >= offset]
        if len(shown) in (2, 3):
            _camera(self.viewer).center = tuple(shown)

    # ----------------------------------------------------------------------- summary and plot
    def _current_table(self) -> pd.DataFrame | None:
        return self.results if self.results is not None else self.shape_results

    def _refresh_groups(self) -> None:
        df = self._current_table()
        if df is None:
            return
        choices = [c for c in ("category", "category_id", "frame") if c in df.columns] + [NONE]
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        self.group_combo.addItems(choices)
        self.group_combo.blockSignals(False)
        self._update_summary()

    def _update_summary(self, *_: Any) -> None:
        df = self._current_table()
        if df is None:
            return
        by = self.group_combo.currentText()
        self.summary = summarize(df, by=None if by in ("", NONE) else by)
        self._show_table(self.summary_table, self.summary)

    def _refresh_columns(self) -> None:
        df = self._current_table()
        if df is None:
            return
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c].dtype)
                   and c not in ("label", "frame", "shape", "index")]
        current = self.column_combo.currentText()
        self.column_combo.blockSignals(True)
        self.column_combo.clear()
        self.column_combo.addItems(numeric)
        self.column_combo.setCurrentText(current if current in numeric else "area")
        self.column_combo.blockSignals(False)
        self.draw_histogram()

    def draw_histogram(self, *_: Any) -> None:
        """Draw a bar histogram of the chosen column into the histogram label."""
        df = self._current_table()
        column = self.column_combo.currentText()
        if df is None or column not in df.columns:
            return
        values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        span = bin_range(float(values.min()), float(values.max())) if values.size else None
        counts, edges = np.histogram(values, bins=self.bins_spin.value(), range=span)
        self.histogram = (counts, edges)
        title = unit_label(column, df.attrs.get("units", {}).get(column, ""))
        self.histogram_label.setPixmap(histogram_pixmap(counts, edges, _HIST_SIZE, title=title))

    # ------------------------------------------------------------------------------------ CSV
    def _shown_table(self) -> str:
        """Which table the current tab shows: ``objects``, ``summary`` or ``shapes``."""
        return {1: "summary", 3: "shapes"}.get(self.tabs.currentIndex(), "objects")  # type: ignore[attr-defined]

    def _ask_save_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save measurements", "measurements.csv",
                                              "CSV (*.csv)")
        if path:
            self.save_csv(path, self._shown_table())

    def copy_table(self, which: str | None = None) -> str | None:
        """Copy a table (default: the one shown) to the clipboard as tab-separated text.

        Units are in the headers (``area [µm²]``), as in the CSV; spreadsheets paste it as
        columns. Returns the text, or None when there is no such table yet.
        """
        which = which or self._shown_table()
        tables = {"objects": self.results, "summary": self.summary, "shapes": self.shape_results}
        df = tables.get(which)
        if df is None:
            self._fail(f"Copy table: there is no {which!r} table yet; press Measure first.")  # type: ignore[attr-defined]
            return None
        text = with_unit_headers(df).to_csv(sep="\t", index=False, lineterminator="\n")
        QApplication.clipboard().setText(text)
        self.status.setText(f"Copied {len(df)} rows of the {which} table to the clipboard.")  # type: ignore[attr-defined]
        return text

    def save_csv(self, path: str, which: str = "objects") -> None:
        """Write the ``objects``, ``summary`` or ``shapes`` table to ``path``, units in headers."""
        tables = {"objects": self.results, "summary": self.summary, "shapes": self.shape_results}
        df = tables.get(which)
        if df is None:
            self._fail(f"Save as CSV: there is no {which!r} table yet; press Measure first.")
            return
        to_csv(df, path)
        self.status.setText(f"Saved {len(df)} rows to {path}.")


def _camera(viewer: napari.viewer.Viewer) -> Any:
    """The viewer's camera: ``viewer.scene.camera`` in napari >= 0.9, ``viewer.camera`` before."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera



