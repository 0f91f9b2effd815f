"""Dock widget "Colour clusters and superpixels": k-means (Lab), SLIC, Felzenszwalb.

A thin napari adapter over :mod:`napari_coco_masks.segment.clusters`. The segments go to a
Labels layer ``"<image> segments"`` (live preview in the background). Points added to the
picks layer (*New picks layer*) pick the segment under them; points sharing a ``label``
feature value make one object (default: all picks are object 1). The picked segments are
shown in ``"<image> picked"``; *Make labels* adds them as a new Labels layer (never over a
layer of the user). Every output keeps the image's scale, translate and units.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    PushButton,
    SpinBox,
)
from napari.layers import Image, Points
from napari.utils.notifications import show_error

from napari_coco_masks._widgets._base import (
    KeepsLayerChoices,
    OutputLayer,
    Runner,
    ScrollingNative,
    Task,
    axis_unit,
    layer_geometry,
    layer_spacing,
    level0,
    one_step,
    points_to_image,
    wrap_status,
)
from napari_coco_masks.segment import clusters as cs

if TYPE_CHECKING:
    import napari

__all__ = ["ClustersWidget", "compute_segments", "picked_objects"]

METHODS = [("k-means colour (Lab)", "kmeans"), ("SLIC superpixels", "slic"),
           ("Felzenszwalb", "felzenszwalb")]  # fmt: skip


def compute_segments(data: np.ndarray, rgb: bool, method: str, spacing: tuple[float, ...],
                     **params: float) -> np.ndarray:
    """The segments the widget shows (the public functions of :mod:`segment.clusters`)."""
    channel_axis = -1 if rgb else None
    if method == "kmeans":
        return cs.kmeans_colour(data, int(params["n_clusters"]), channel_axis=channel_axis)
    if method == "slic":
        return cs.slic_superpixels(data, int(params["n_segments"]), params["compactness"],
                                   channel_axis=channel_axis, sigma=params["sigma"],
                                   spacing=spacing)  # fmt: skip
    return cs.felzenszwalb_segments(data, params["scale"], params["sigma"], params["min_size"],
                                    channel_axis=channel_axis, spacing=spacing)  # fmt: skip


def picked_objects(segments: np.ndarray, coords: np.ndarray, labels: np.ndarray) -> dict[int, list[int]]:
    """Object label -> the segment ids under its points (pixel coordinates)."""
    picked: dict[int, list[int]] = {}
    for label in dict.fromkeys(labels.tolist()):
        ids = cs.segments_at(segments, coords[labels == label])
        if ids:
            picked[int(label)] = ids
    return picked



class ClustersWidget(KeepsLayerChoices, ScrollingNative, Container):
    """Cluster or over-segment an image, then pick segments into objects.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose Image and Points layers are offered.
    """

    _layer_combos = ("image", "picks")

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._viewer = viewer
        self._segments_out = OutputLayer(viewer, " segments")
        self._picked_out = OutputLayer(viewer, " picked")
        self.image = ComboBox(label="image", choices=self._image_choices)
        self.method = ComboBox(label="method", choices=METHODS, value="kmeans")
        self.n_clusters = SpinBox(label="clusters", value=3, min=1, max=64)
        self.n_segments = SpinBox(label="superpixels (about)", value=100, min=2, max=100_000)
        self.compactness = FloatSpinBox(label="compactness", value=10.0, min=1e-4, max=1e4)
        self.scale = FloatSpinBox(label="scale", value=100.0, min=1e-3, max=1e6)
        self.sigma = FloatSpinBox(label="σ", value=0.8, min=0, max=1e6, step=0.1)
        self.min_size = FloatSpinBox(label="min size", value=20.0, min=0, max=1e15)
        self.picks = ComboBox(label="picks", choices=self._points_choices)
        self.new_picks = PushButton(text="New picks layer")
        self.make_button = PushButton(text="Make labels")
        self.status = Label(value="")
        wrap_status(self.status.native)
        self._options = (self.method, self.n_clusters, self.n_segments, self.compactness,
                         self.scale, self.sigma, self.min_size)  # fmt: skip
        super().__init__(widgets=[self.image, *self._options, self.picks, self.new_picks,
                                  self.make_button, self.status], scrollable=True)  # fmt: skip
        #: The segments shown (None until computed) and the image they are of.
        self.segments: np.ndarray | None = None
        self._segments_of: Image | None = None
        self._points: Points | None = None
        self._runner = Runner(self.native, report=self._report, preview=self._preview_task,
                              on_attach=self._catch_up, on_detach=self._disconnect_points)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            self._runner.follow(event, self._on_layers_changed)
        self._runner.start()
        self.image.changed.connect(self._on_image_changed)
        for widget in self._options:
            widget.changed.connect(self._on_option_changed)
        self.picks.changed.connect(self._connect_points)
        self.new_picks.changed.connect(self.add_picks_layer)
        self.make_button.changed.connect(self.make_labels)
        self._on_image_changed()
        self._connect_points()

    # ------------------------------------------------------------------ layers
    def _image_choices(self, _widget: Any = None) -> list[Image]:
        return [la for la in self._viewer.layers if isinstance(la, Image)]

    def _points_choices(self, _widget: Any = None) -> list[Points]:
        return [la for la in self._viewer.layers if isinstance(la, Points)]

    def _on_layers_changed(self, _event: Any = None) -> None:
        self._segments_out.forget_removed()
        self._picked_out.forget_removed()
        self.reset_choices()

    def _catch_up(self) -> None:
        self.reset_choices()
        self._connect_points()
        self._runner.request()

    def _disconnect_points(self) -> None:
        if self._points is not None:
            self._points.events.data.disconnect(self._on_points)
            self._points.events.features.disconnect(self._on_points)
            self._points = None

    def _connect_points(self, _value: Any = None) -> None:
        if not self._runner.attached:
            return
        self._disconnect_points()
        self._points = self.picks.value
        if self._points is not None:
            self._points.events.data.connect(self._on_points)
            self._points.events.features.connect(self._on_points)
        self.show_picked()

    def _on_points(self, event: Any = None) -> None:
        action = str(getattr(event, "action", "changed"))
        if action.endswith(("added", "changed", "removed")):
            self.show_picked()

    def add_picks_layer(self, _value: Any = None) -> Points | None:
        """Add an empty Points layer over the image, in add mode, as the picks."""
        image = self.image.value
        if image is None:
            self._report("add an image layer first", True)
            return None
        points = self._viewer.add_points(np.empty((0, image.ndim)), name=f"{image.name} picks",
                                         ndim=image.ndim, size=6, face_color="yellow",
                                         **layer_geometry(image))  # fmt: skip
        points.mode = "add"
        self.picks.value = points
        return points

    def _on_image_changed(self, _value: Any = None) -> None:
        unit = axis_unit(self.image.value)
        self.sigma.label, self.min_size.label = f"σ ({unit})", f"min size ({unit}²)"
        self._on_option_changed()

    def _on_option_changed(self, _value: Any = None) -> None:
        method = self.method.value
        self.n_clusters.visible = method == "kmeans"
        self.n_segments.visible = self.compactness.visible = method == "slic"
        self.scale.visible = self.min_size.visible = method == "felzenszwalb"
        self.sigma.visible = method != "kmeans"
        self._runner.request()

    # ------------------------------------------------------------------ segments
    @property
    def busy(self) -> bool:
        """True while segments are computed in the background."""
        return self._runner.busy

    def _preview_task(self) -> Task | None:
        image = self.image.value
        if image is None:
            self._report("choose an image layer")
            return None
        data = np.asarray(level0(image.data))
        params = {"n_clusters": self.n_clusters.value, "n_segments": self.n_segments.value,
                  "compactness": float(self.compactness.value), "scale": float(self.scale.value),
                  "sigma": float(self.sigma.value), "min_size": float(self.min_size.value)}  # fmt: skip
        job = partial(compute_segments, data, image.rgb, self.method.value,
                      layer_spacing(image, image.ndim), **params)  # fmt: skip
        return Task(one_step(job), partial(self._show_segments, image))

    def _show_segments(self, image: Image, segments: np.ndarray) -> None:
        if image not in self._viewer.layers:  # removed while computing: nothing to show
            return
        active = self._viewer.layers.selection.active
        self.segments, self._segments_of = segments, image
        layer = self._segments_out.put(segments, image)
        layer.opacity = 0.4
        if active is not None and active in self._viewer.layers:
            self._viewer.layers.selection.active = active
        self.status.value = f"{int(segments.max(initial=0))} segment(s)"
        self.show_picked()

    def _picked(self) -> dict[int, list[int]]:
        points = self.picks.value
        if self.segments is None or points is None or not len(points.data):
            return {}
        if points.ndim != self.segments.ndim:
            raise ValueError(f"picks layer {points.name!r} is {points.ndim}D but the segments "
                             f"are {self.segments.ndim}D: use 'New picks layer'")  # fmt: skip
        coords = points_to_image(points, self._segments_of)
        labels = np.ones(len(coords), np.int64)
        if "label" in points.features.columns:
            values = np.asarray(points.features["label"], dtype=float)
            if values.size == len(coords) and np.all(np.isfinite(values)) and np.all(values >= 1):
                labels = np.rint(values).astype(np.int64)
        return picked_objects(self.segments, coords, labels)

    def picked_labels(self) -> np.ndarray | None:
        """The objects the picks make (None before segments or picks)."""
        picked = self._picked()
        return None if not picked else cs.select_segments(self.segments, picked)

    def show_picked(self) -> None:
        """Show the picked segments in ``"<image> picked"``."""
        try:
            labels = self.picked_labels()
        except ValueError as error:
            self._report(str(error))
            return
        if labels is None:
            return
        active = self._viewer.layers.selection.active
        self._picked_out.put(labels, self._segments_of)
        if active is not None and active in self._viewer.layers:
            self._viewer.layers.selection.active = active  # keep clicking picks

    def make_labels(self, _value: Any = None) -> Any:
        """Add the picked objects as a new Labels layer."""
        try:
            labels = self.picked_labels()
        except ValueError as error:
            self._report(str(error), True)
            return None
        if labels is None:
            self._report("pick segments first: add points on them in the picks layer", True)
            return None
        image = self._segments_of
        layer = self._viewer.add_labels(labels, name=f"{image.name} objects",
                                        **layer_geometry(image))  # fmt: skip
        self.status.value = f"{len(np.unique(labels)) - 1} object(s) in {layer.name!r}"
        return layer

    def _report(self, message: str, notify: bool = False) -> None:
        self.status.value = message
        if notify:
            show_error(message)
