"""Qt helpers of the dock widgets: combo boxes, status lines, scrolling docks, histograms."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox
from qtpy.QtCore import QRectF, Qt
from qtpy.QtGui import QColor, QPainter, QPen, QPixmap
from qtpy.QtWidgets import (
    QFrame,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

__all__ = [
    "KeepsLayerChoices",
    "ScrollingNative",
    "bin_range",
    "fill_table",
    "histogram_pixmap",
    "keeping_choices",
    "new_table",
    "sample",
    "scroll_area",
    "wrap_status",
]


@contextmanager
def keeping_choices(combos: Iterable[ComboBox]) -> Iterator[None]:
    """Keep each combo box's layer while its choices are reset inside the ``with`` block.

    magicgui matches choices by their text, so after a rename the chosen layer is "gone" and
    the first layer is picked instead (napari resets the choices of docked widgets on every
    rename). The old value is restored when the layer is still offered; ``changed`` is emitted
    once, and only for combo boxes whose value really changed (the layer was deleted).
    """
    before = [(combo, combo.value) for combo in combos]
    with ExitStack() as stack:
        for combo, _ in before:
            stack.enter_context(combo.changed.blocked())
        yield
        for combo, old in before:
            if old is not None and old in combo.choices and combo.value != old:
                combo.value = old
    for combo, old in before:
        if combo.value != old:  # == : plugin viewers hand out proxies of the same layer
            combo.changed.emit(combo.value)


def wrap_status(label: QLabel) -> None:
    """Let a status line wrap instead of widening its dock (long messages, long layer names)."""
    label.setWordWrap(True)
    policy = label.sizePolicy()
    policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
    label.setSizePolicy(policy)


def scroll_area(content: QWidget) -> QScrollArea:
    """``content`` in a frameless scroll area, so that a dock can be shorter than it.

    Four docks open at once must fit on a small screen: the window does not grow to the sum
    of the docks' minimum heights, each dock scrolls instead.
    """
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    area.setWidget(content)
    return area


class KeepsLayerChoices:
    """Mixin for a magicgui ``Container``, put before it: its layer combo boxes keep their
    layer when napari resets the choices after a rename (see :func:`keeping_choices`).

    The widget names its layer combo boxes in ``_layer_combos``.
    """

    _layer_combos: tuple[str, ...] = ()

    def reset_choices(self, *args: Any) -> None:
        """Re-read the layer choices, keeping each chosen layer when it was only renamed."""
        with keeping_choices([getattr(self, name) for name in self._layer_combos]):
            super().reset_choices(*args)  # type: ignore[misc]


class ScrollingNative:
    """Mixin for a magicgui ``Container`` built with ``scrollable=True``, put before it.

    napari docks a magicgui widget's ``native``, which for a scrollable container is the
    widget *inside* the scroll area: the dock then keeps the full minimum height and four docks
    force the window taller than the screen. Here ``native`` is the scroll area itself.
    """

    @property
    def native(self) -> Any:
        return self.root_native_widget  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------- histograms


def bin_range(low: float, high: float, steps: int = 4096) -> tuple[float, float]:
    """A histogram range around ``[low, high]`` with room for its bins.

    numpy's default for one value (± 0.5) has no room at 7e18, nor has a range of a few ulps
    ("Too many bins for data range", issue 12): the range is widened to at least ``steps``
    representable values, centred on the values.
    """
    ulp = float(np.spacing(max(abs(low), abs(high))))
    span = max(high - low if high > low else 1.0, steps * ulp, 1e-300)
    if high - low < span:
        low = low - (span - (high - low)) / 2
    return low, low + span


def sample(data: Any, n_axes: int, budget: int = 1_000_000) -> np.ndarray:
    """A strided subsample of the first ``n_axes`` axes of ``data`` with at most ~``budget`` px."""
    size = math.prod(data.shape[:n_axes])
    step = max(1, math.ceil((size / budget) ** (1 / n_axes))) if size > budget else 1
    return np.asarray(data[tuple(slice(None, None, step) for _ in range(n_axes))])


def histogram_pixmap(
    counts: np.ndarray | None,
    edges: np.ndarray | None,
    size: tuple[int, int],
    *,
    lines: Sequence[float] = (),
    title: str | None = None,
) -> QPixmap:
    """A bar chart of ``counts`` over ``edges`` (no matplotlib).

    Without ``title``: a compact dark strip, bars of sqrt counts, ``lines`` (thresholds) in
    red. With it: a white chart with the title, the count of values and the range's ends.
    """
    width, height = size
    pixmap = QPixmap(width, height)
    pixmap.fill(QColor(38, 41, 48) if title is None else QColor("white"))
    if counts is None or edges is None:
        return pixmap
    painter = QPainter(pixmap)
    try:
        if title is None:
            margin, plot_h = 0, height - 2
            heights = np.sqrt(counts / max(counts.max(initial=0), 1))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(170, 175, 185))
        else:
            margin = 28
            plot_h = height - 2 * margin - 8
            top = max(int(counts.max()) if counts.size else 0, 1)
            heights = counts / top
            painter.setPen(QColor("black"))
            painter.drawText(margin, 16, f"{title}   (n = {int(counts.sum())})")
            painter.setBrush(QColor(70, 130, 180))
        bar = (width - 2 * margin) / max(len(counts), 1)
        gap = 0 if title is None else 1
        for i, fraction in enumerate(heights):
            h = float(fraction) * plot_h
            painter.drawRect(QRectF(margin + i * bar, height - margin - h, max(bar - gap, 1), h))
        if title is not None:
            painter.drawLine(margin, height - margin, width - margin, height - margin)
            painter.drawText(margin, height - 8, f"{edges[0]:.4g}")
            painter.drawText(width - margin - 60, height - 8, f"{edges[-1]:.4g}")
            painter.drawText(2, height - margin - plot_h + 4, str(top))
        painter.setPen(QPen(QColor(255, 70, 70), 2))
        low, high = float(edges[0]), float(edges[-1])
        for line in lines:
            x = (min(max(line, low), high) - low) / (high - low) * (width - 1)
            painter.drawLine(int(round(x)), 0, int(round(x)), height)
    finally:
        painter.end()
    return pixmap


def new_table() -> QTableWidget:
    """A read-only table whose rows are selected whole, one at a time."""
    table = QTableWidget()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
    return table


def fill_table(table: QTableWidget, df: Any, max_rows: int, headers: Sequence[str]) -> None:
    """Fill ``table`` with the first ``max_rows`` rows of the DataFrame ``df``.

    Numeric cells hold numbers (so sorting is numeric; NaN stays empty) and the first cell of
    each row holds the row's position in ``df`` (``Qt.ItemDataRole.UserRole``), which survives
    sorting.
    """
    import pandas as pd

    shown = df.iloc[:max_rows]
    table.setUpdatesEnabled(False)
    table.setSortingEnabled(False)
    try:
        table.clear()
        table.setRowCount(len(shown))
        table.setColumnCount(len(df.columns))
        table.setHorizontalHeaderLabels(list(headers))
        for j, col in enumerate(df.columns):
            dtype = df[col].dtype
            numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
            for i, value in enumerate(shown[col].tolist()):
                item = QTableWidgetItem()
                if numeric and value == value:  # NaN stays an empty cell
                    item.setData(Qt.ItemDataRole.DisplayRole, value)
                elif not numeric:
                    item.setText("" if value is None else str(value))
                if j == 0:
                    item.setData(Qt.ItemDataRole.UserRole, i)
                table.setItem(i, j, item)
        if len(shown) <= 500:
            table.resizeColumnsToContents()
    finally:
        table.setSortingEnabled(True)
        table.setUpdatesEnabled(True)
