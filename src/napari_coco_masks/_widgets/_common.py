"""Qt helpers the dock widgets share: follow the dock's life, keep combo choices on renames."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from magicgui.widgets import ComboBox
from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QWidget

__all__ = ["DockWatcher", "ScrollingNative", "keeping_choices", "scroll_area", "wrap_status"]


class DockWatcher(QObject):
    """Tell a dock widget when napari closes or re-docks it.

    napari's close button does not delete a plugin widget: it takes it out of its dock
    (``setParent(None)``) and keeps it alive. A closed widget that still listens to the viewer
    keeps previewing into layers nobody sees (and twice once the dock is re-opened), so the
    widget stops listening when it loses its parent and starts again when it is docked again.

    Parameters
    ----------
    widget : QWidget
        The widget's native Qt widget.
    on_close, on_open : callable
        Called without arguments when the widget leaves a parent (or is deleted) / gets one.
    """

    def __init__(self, widget: Any, on_close: Any, on_open: Any) -> None:
        super().__init__(widget)
        self._on_close, self._on_open = on_close, on_open
        widget.installEventFilter(self)
        # deleted with its dock (viewer closed): stop too, or a pending debounced preview
        # fires into deleted Qt widgets
        widget.destroyed.connect(self._on_destroyed)

    def _on_destroyed(self, *_: Any) -> None:
        try:
            self._on_close()
        except AttributeError:  # garbage collection already cleared the widget's attributes
            pass

    def eventFilter(self, obj: Any, event: Any) -> bool:
        if event.type() == QEvent.Type.ParentChange:
            (self._on_close if obj.parent() is None else self._on_open)()
        return False


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


class ScrollingNative:
    """Mixin for a magicgui ``Container`` built with ``scrollable=True``, put before it.

    napari docks a magicgui widget's ``native``, which for a scrollable container is the
    widget *inside* the scroll area: the dock then keeps the full minimum height and four docks
    force the window taller than the screen. Here ``native`` is the scroll area itself.
    """

    @property
    def native(self) -> Any:
        return self.root_native_widget  # type: ignore[attr-defined]
