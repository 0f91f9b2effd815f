"""napari adapter: the layers of an opened COCO file follow the image slider.

The reader (:mod:`._reader`) gives every layer the file's :class:`~.coco.session.CocoSession`
in ``metadata["coco"]["session"]``. When such layers are inserted into a viewer, a
:class:`DatasetBrowser` connects to the viewer's dims: moving the image slider stores the
current image's shapes, points and label features in the session (when they were edited) and
swaps in the new image's. The Labels data is the session's lazy :class:`LabelPlanes` stack,
which napari slices itself; only its features and colours are swapped.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np

from .coco.errors import CocoError
from .coco.session import CocoSession, ShapesState

__all__ = ["DatasetBrowser", "attach", "watch_viewer"]

_BACKGROUND = "#00000000"
_UNKNOWN = "#d9d9d9ff"  # colour of labels painted after opening
_WATCHED: weakref.WeakSet = weakref.WeakSet()


def session_of(layer: Any) -> CocoSession | None:
    """The session of a layer read from COCO, else None."""
    meta = getattr(layer, "metadata", None)
    coco = meta.get("coco") if isinstance(meta, dict) else None
    session = coco.get("session") if isinstance(coco, dict) else None
    return session if isinstance(session, CocoSession) else None


def labels_colormap(session: CocoSession, i: int):
    """napari colormap of image ``i``'s label values (category colours, grey for new ones)."""
    from napari.utils.colormaps import DirectLabelColormap

    colors: dict[Any, str] = {None: _UNKNOWN, 0: _BACKGROUND}
    colors.update(session.label_colors(i))
    return DirectLabelColormap(color_dict=colors)


def shapes_data(session: CocoSession, state: ShapesState, i: int) -> list[np.ndarray]:
    """2D vertices in layer coordinates: with the image index first when the file is a stack."""
    if not session.stacked:
        return [np.asarray(v, dtype=float) for v in state.data]
    return [
        np.column_stack([np.full(len(v), float(i)), np.asarray(v, dtype=float)])
        for v in state.data
    ]


def points_data(session: CocoSession, state: ShapesState, i: int) -> np.ndarray:
    coords = np.asarray(state.data, dtype=float).reshape(-1, 2)
    if session.stacked:
        coords = np.column_stack([np.full(len(coords), float(i)), coords])
    return coords


def _as_state(layer: Any, stacked: bool, kind: str) -> ShapesState:
    """What a Shapes/Points layer holds now, in 2D coordinates."""
    if kind == "points":
        data = [np.asarray(p)[-2:] for p in np.asarray(layer.data)]
        return ShapesState(data, ["point"] * len(data), layer.features.copy(), [],
                           list(layer.face_color))
    data = [np.asarray(v, dtype=float)[:, -2:] for v in layer.data]
    return ShapesState(
        data,
        list(layer.shape_type),
        layer.features.copy(),
        list(layer.edge_color),
        list(layer.face_color),
    )


class DatasetBrowser:
    """Keeps one viewer's layers of one COCO file on the image the slider shows."""

    def __init__(self, viewer: Any, session: CocoSession) -> None:
        self._viewer = weakref.ref(viewer)
        self.session = session
        self.labels: list = []
        self.shapes: list = []
        self.points: list = []
        self._dirty: set[int] = set()  # ids of Shapes/Points layers edited since shown
        self._swapping = False
        self._colors: dict[int, dict] = {}  # the colours each Labels layer's colormap has
        self._counts: dict[int, int] = {}  # shapes/points each layer had when last seen
        self._shown_features: dict[int, Any] = {}  # each Labels layer's features as swapped in
        self.shown = session.current
        viewer.dims.events.current_step.connect(self._on_step)
        session.on_rebase(self._rebased)  # held weakly by the session

    @property
    def swapping(self) -> bool:
        """Whether the browser is changing its layers itself (a swap of the shown image, or
        clearing the identity of new shapes): their events then are not the user's edits."""
        return self._swapping

    # ----------------------------------------------------------------- layers
    def add(self, layer: Any) -> None:
        """Follow a layer of this session."""
        from napari.layers import Labels, Points, Shapes

        if not isinstance(layer, Labels):
            self._counts[id(layer)] = len(layer.data)
        if isinstance(layer, Labels):
            self.labels.append(layer)
        elif isinstance(layer, Shapes):
            self.shapes.append(layer)
            layer.events.data.connect(lambda e, ly=layer: self._mark(ly, e))
            layer.events.features.connect(lambda e, ly=layer: self._mark(ly, e))
        elif isinstance(layer, Points):
            self.points.append(layer)
            layer.events.data.connect(lambda e, ly=layer: self._mark(ly, e))
            layer.events.features.connect(lambda e, ly=layer: self._mark(ly, e))  # visibility
        first = len(self.labels) + len(self.shapes) + len(self.points) == 1
        if first and self._slider_shared(layer):
            # another file's layers (the ground truth of these predictions) own the slider:
            # open on the image it shows
            self.session.current = self.shown = self.image_index()
        if self.shown != 0:  # the layer was built showing image 0
            self._swap(self.shown, [layer])
        if first and not self._slider_shared(layer):
            self._go_to(layer, self.shown)  # napari centres a new slider: show the first image
        self._on_step()

    def _slider_shared(self, layer: Any) -> bool:
        """Whether layers of the viewer that are not this file's span the image axis."""
        viewer = self._viewer()
        if viewer is None or not self.session.stacked:
            return False
        return any(other is not layer and session_of(other) is not self.session
                   and other.ndim >= layer.ndim for other in viewer.layers)

    def _go_to(self, layer: Any, i: int) -> None:
        """Put the viewer's image slider on image ``i`` of ``layer``."""
        viewer = self._viewer()
        if viewer is None or not self.session.stacked or layer.ndim < 3:
            return
        axis = viewer.dims.ndim - layer.ndim
        world = layer.data_to_world([i] + [0] * (layer.ndim - 1))[0]
        if axis >= 0 and viewer.dims.point[axis] != world:
            viewer.dims.set_point(axis, world)

    def _mark(self, layer: Any, event: Any) -> None:
        if self._swapping:
            return
        self._dirty.add(id(layer))
        action = str(getattr(event, "action", ""))
        if action == "added":
            self._forget_identity(layer)
        elif action == "removed":
            self._counts[id(layer)] = len(layer.data)

    def _forget_identity(self, layer: Any) -> None:
        """New shapes and points are new instances: napari copies a row's features onto them
        (annotation id, part, attributes), which would make them that annotation."""
        import pandas as pd

        known = self._counts.get(id(layer), 0)
        n = len(layer.data)
        self._counts[id(layer)] = n
        if n <= known:
            return
        df = layer.features.copy()
        cols = [c for c in df.columns
                if c in ("annotation_id", "part", "keypoint") or c.startswith("attributes.")]
        if not cols:
            return
        rows = df.index[known:n]
        df[cols] = df[cols].astype(object)
        df.loc[rows, cols] = None
        if "iscrowd" in df.columns:
            df.loc[rows, "iscrowd"] = 0
        self._swapping = True  # our own change, not the user's
        try:
            layer.features = pd.DataFrame(df)
        finally:
            self._swapping = False

    # ----------------------------------------------------------------- slider
    def image_index(self) -> int:
        """The image the slider is on (0 for a single image)."""
        if not self.session.stacked:
            return 0
        viewer = self._viewer()
        layer = next(iter(self.labels + self.shapes + self.points), None)
        if viewer is None or layer is None:
            return self.shown
        try:
            pos = layer.world_to_data(viewer.dims.point)[0]
        except (IndexError, ValueError):
            return self.shown
        return int(np.clip(round(float(pos)), 0, self.session.n_images - 1))

    def _on_step(self, event: Any = None) -> None:
        if self._swapping:  # a swap changing a layer's extent moves napari's dims: not a step
            return
        i = self.image_index()
        if i != self.shown:
            # Each assignment of the swap (colormap, shapes data, features, colours) would
            # refresh its layer, slicing and drawing it again: held back, then one refresh each.
            layers = self.labels + self.shapes + self.points
            # (not Points: its colour setters draw from its slice, which must follow its data)
            with _refresh_blocked(self.labels + self.shapes):
                self.show(i)
            for layer in layers:
                layer.refresh()

    def store(self) -> None:
        """Put the shown image's edited shapes, points and label features in the session."""
        try:
            self._store()
        except CocoError:  # a malformed image was shown empty: nothing of it to keep
            pass

    def _store(self) -> None:
        i, session = self.shown, self.session
        for layer in self.shapes:
            if id(layer) in self._dirty:
                session.shapes[i] = _as_state(layer, session.stacked, "shapes")
        for layer in self.points:
            if id(layer) in self._dirty:
                session.points[i] = _as_state(layer, session.stacked, "points")
        for layer in self.labels:
            table = session.label_features.get(i)
            current = layer.features
            if table is None:
                import pandas as pd

                shown = self._shown_features.get(id(layer))
                if shown is not None and current.equals(shown):
                    continue  # as the swap put it (the fast check; equals() is exact)
                original = pd.DataFrame(session.label_table(i))
                if not _same_table(current, original):
                    session.label_features[i] = current.copy()
            elif current is not table:
                session.label_features[i] = current.copy()

    def _rebased(self, session: CocoSession) -> None:
        """The session's file was saved over and read again: the layers show the saved
        records (new ids, label values and colours) on the same image; nothing is edited."""
        i = self.shown = session.current
        self._dirty.clear()
        self._shown_features.clear()
        self._colors.clear()
        layers = self.labels + self.shapes + self.points
        for layer in layers:
            coco = layer.metadata.get("coco")
            if isinstance(coco, dict):  # the same dict on every layer of the file
                coco["skipped_annotations"] = list(session.dataset.skipped)
        with _refresh_blocked(self.labels + self.shapes):  # (see _on_step)
            self._swap(i)
            if not session.stacked:  # a single image's Labels hold a plain array
                self._swapping = True
                try:
                    for layer in self.labels:
                        layer.data = session.planes.original(0).copy()
                finally:
                    self._swapping = False
        for layer in layers:
            layer.refresh()

    def show(self, i: int) -> None:
        """Swap image ``i``'s content into the layers."""
        self.store()
        self.session.current = self.shown = i
        self._swap(i)
        self._dirty.clear()

    def _swap(self, i: int, only: list | None = None) -> None:
        """Show image ``i`` in the layers (all, or ``only``); a malformed image is a message."""
        self._swapping = True
        try:
            self._show_labels(i, only)
            self._show_shapes(i, only)
            self._show_points(i, only)
        except CocoError as exc:
            from napari.utils import notifications

            notifications.show_error(f"image {i} cannot be shown: {exc}")
            self._show_empty(i, only)
        finally:
            self._swapping = False

    def _show_empty(self, i: int, only: list | None) -> None:
        """Layers with nothing of a malformed image (its annotations stay in the file)."""
        import pandas as pd

        for layer in self.labels if only is None else [ly for ly in only if ly in self.labels]:
            layer.features = pd.DataFrame({"index": []})
        for layer in self.shapes if only is None else [ly for ly in only if ly in self.shapes]:
            layer.data = []
        for layer in self.points if only is None else [ly for ly in only if ly in self.points]:
            layer.data = np.zeros((0, layer.ndim))

    def _show_labels(self, i: int, only: list | None = None) -> None:
        for layer in self.labels if only is None else [ly for ly in only if ly in self.labels]:
            table = self.session.label_features.get(i)
            layer.features = table if table is not None else self.session.label_table(i)
            self._shown_features[id(layer)] = layer.features.copy()
            colors = self.session.label_colors(i)
            if colors != self._colors.get(id(layer)):  # a new colormap redraws the layer
                layer.colormap = labels_colormap(self.session, i)
                self._colors[id(layer)] = colors

    def _show_shapes(self, i: int, only: list | None = None) -> None:
        from ._reader import _guard_triangulation

        for layer in self.shapes if only is None else [ly for ly in only if ly in self.shapes]:
            state = self.session.shapes_state(i)
            if layer.selected_data:
                layer.selected_data = set()
            data = shapes_data(self.session, state, i)
            types = _guard_triangulation(data, list(state.types)) if data else []
            # one data assignment (vertices with their types), then features and colours
            layer.data = list(zip(data, types, strict=True))
            layer.features = state.features
            self._counts[id(layer)] = len(data)
            if data:
                _set_colors(layer, state)

    def _show_points(self, i: int, only: list | None = None) -> None:
        for layer in self.points if only is None else [ly for ly in only if ly in self.points]:
            state = self.session.points_state(i)
            layer.selected_data = set()
            layer.data = points_data(self.session, state, i)
            layer.features = state.features
            self._counts[id(layer)] = len(layer.data)
            if state.face:
                layer.face_color = state.face


_EDGE, _FACE = "#ffffffff", "#ffffff40"  # the colours of shapes read from a file


def _set_colors(layer: Any, state: ShapesState) -> None:
    """The shapes' edge and face colours of ``state`` (the file's when it has none); each
    setter recolours and redraws every shape, so it is skipped when the colours are already so."""
    from napari.utils.colormaps.standardize_color import transform_color

    for name, given, default in (("edge_color", state.edge, _EDGE), ("face_color", state.face, _FACE)):
        value = given or default
        if isinstance(value, str):
            current = np.asarray(getattr(layer, name))
            if current.size and np.array_equal(current, np.broadcast_to(
                    transform_color(value)[0], current.shape)):
                continue
        setattr(layer, name, value)


@contextmanager
def _refresh_blocked(layers: list) -> Iterator[None]:
    """napari's refresh of ``layers`` held back (where napari has the private switch)."""
    with ExitStack() as stack:
        for layer in layers:
            block = getattr(layer, "_block_refresh", None)
            if block is not None:
                stack.enter_context(block())
        yield


def _same_table(a: Any, b: Any) -> bool:
    """Equal feature tables, missing values (None / NaN) equal to each other."""
    import pandas as pd

    try:
        a, b = pd.DataFrame(a), pd.DataFrame(b)
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            return False
        return _rows(a) == _rows(b)
    except (ValueError, TypeError):
        return False


def _rows(df: Any) -> list:
    import pandas as pd

    obj = df.reset_index(drop=True).astype(object)
    return obj.where(pd.notna(obj), None).values.tolist()


def _browsers(viewer: Any) -> dict[int, DatasetBrowser]:
    reg = getattr(viewer, "_coco_browsers", None)
    if reg is None:
        reg = {}
        try:
            object.__setattr__(viewer, "_coco_browsers", reg)
        except (AttributeError, TypeError, ValueError):
            reg = _FALLBACK.setdefault(id(viewer), {})
    return reg


_FALLBACK: dict[int, dict] = {}


def attach(viewer: Any, layer: Any) -> DatasetBrowser | None:
    """Make ``layer`` (if it was read from COCO) follow ``viewer``'s image slider."""
    session = session_of(layer)
    if session is None:
        return None
    reg = _browsers(viewer)
    browser = reg.get(id(session))
    if browser is None:
        browser = reg[id(session)] = DatasetBrowser(viewer, session)
    if layer not in browser.labels + browser.shapes + browser.points:
        browser.add(layer)
    return browser


def browser_of(viewer: Any, session: CocoSession) -> DatasetBrowser | None:
    """The browser of a session in a viewer, if its layers were added there."""
    return _browsers(viewer).get(id(session))


def watch_viewer(viewer: Any | None = None) -> None:
    """Attach layers read from COCO as they are inserted into ``viewer`` (the current one)."""
    if viewer is None:
        import napari

        viewer = napari.current_viewer()
    if viewer is None or viewer in _WATCHED:
        return
    _WATCHED.add(viewer)
    ref = weakref.ref(viewer)

    def _inserted(event: Any) -> None:
        v = ref()
        if v is not None:
            attach(v, event.value)

    viewer.layers.events.inserted.connect(_inserted)
    for layer in list(viewer.layers):
        attach(viewer, layer)
