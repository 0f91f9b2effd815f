"""Watershed dock widget: a thin napari adapter over :mod:`napari_coco_masks.segment.watershed`.

Two modes:

* **Split touching objects** of a mask or Labels layer (distance transform in the layer's
  physical scale, markers at least *min distance* apart, optional h-maxima).
* **Seeded watershed** of an Image layer (or its Sobel gradient) from a Points layer (one object
  per point) or a Labels layer of markers, with an optional mask and compactness.

The result goes to a new Labels layer that keeps the input's scale, translate and units
(re-running updates it). 2D inputs get a debounced live preview computed off the Qt thread
(stale results are dropped); every run is a ``thread_worker`` with progress per frame. Both
go through the widgets' one runner (:class:`._base.Runner`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, PushButton
from napari.layers import Image, Labels, Layer, Points
from napari.utils.notifications import show_error

from napari_coco_masks._widgets._base import (
    KeepsLayerChoices,
    Runner,
    ScrollingNative,
    Task,
    axis_unit,
    layer_choices,
    level0,
    upsert_labels,
    wrap_status,
)
from napari_coco_masks._widgets._recipe_buttons import recipe_buttons
from napari_coco_masks._widgets._recipe_maps import set_watershed, watershed_recipe
from napari_coco_masks._widgets._watershed_job import (
    Job,
    frame_axis,
    image_as_mask,
    points_in_image,
    run_steps,
    seeded_job,
    split_job,
)

if TYPE_CHECKING:
    import napari

SPLIT = "Split touching objects"
SEEDED = "Seeded watershed"
FLOOD_IMAGE = "image"
FLOOD_GRADIENT = "gradient (Sobel)"
#: Debounce of the live preview, in milliseconds.
PREVIEW_DELAY_MS = 250


class WatershedWidget(KeepsLayerChoices, ScrollingNative, Container):
    """Split touching objects, or grow objects from markers, by watershed.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers are segmented; the result is added to it.
    """

    _layer_combos = ("mask_layer", "image_layer", "markers_layer", "seeded_mask")

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=True, scrollable=True)  # docks stay small on small screens
        self._viewer = viewer
        self.mode = ComboBox(label="Mode", choices=[SPLIT, SEEDED], value=SPLIT)
        self._split_widgets = self._make_split_widgets()
        self._seeded_widgets = self._make_seeded_widgets()
        self.time_series = CheckBox(text="Time series (frames along the first axis)", value=False)
        self.preview = CheckBox(text="Live preview (2D)", value=False)
        self.run_button = PushButton(text="Run")
        self.save_recipe_button, self.load_recipe_button = recipe_buttons(
            self, lambda: watershed_recipe(self), lambda r: set_watershed(self, r),
            lambda message: self._report(message, notify=False))
        self.status = Label(value="")
        wrap_status(self.status.native)  # a long message must not widen the dock
        self.extend(
            [
                self.mode,
                *self._split_widgets,
                *self._seeded_widgets,
                self.time_series,
                self.preview,
                self.run_button,
                self.save_recipe_button,
                self.load_recipe_button,
                self.status,
            ]
        )
        #: True while this widget adds its output layer (never picked as a new input).
        self._writing = False
        self._runner = Runner(
            self.native, report=self._report, preview=self._preview_task,
            debounce_ms=PREVIEW_DELAY_MS, on_attach=self._catch_up, on_detach=self._unwatch_all,
        )  # fmt: skip
        self._connect()
        self._on_layers()
        self._choose_active_layer()
        self._on_mode()

    def _make_split_widgets(self) -> tuple[Any, ...]:
        """Widgets of the *split touching objects* mode."""
        self.mask_layer = ComboBox(label="Mask / labels", choices=self._mask_choices)
        self.min_distance = FloatSpinBox(
            label="Min distance",
            value=5.0,
            min=0.01,
            max=1e6,
            step=0.5,
            tooltip="Minimum distance between the centres of two objects cut from one blob, "
            "in the layer's physical units (its scale)",
        )
        self.h = FloatSpinBox(
            label="h (0: off)",
            value=0.0,
            min=0.0,
            max=1e6,
            step=0.5,
            tooltip="Only maxima of the distance at least h above their saddle seed an object "
            "(h-maxima): larger h, fewer splits",
        )
        return (self.mask_layer, self.min_distance, self.h)

    def _make_seeded_widgets(self) -> tuple[Any, ...]:
        """Widgets of the *seeded watershed* mode."""
        self.image_layer = ComboBox(label="Image", choices=self._image_choices)
        self.markers_layer = ComboBox(
            label="Markers",
            choices=self._marker_choices,
            tooltip="Points (one object per point) or Labels (one object per marker label)",
        )
        self.flood = ComboBox(label="Flood", choices=[FLOOD_IMAGE, FLOOD_GRADIENT])
        self.seeded_mask = ComboBox(label="Mask", choices=self._mask_choices, nullable=True)
        self.compactness = FloatSpinBox(
            label="Compactness",
            value=0.0,
            min=0.0,
            max=1e6,
            step=0.0001,
            tooltip="0: classic watershed; larger values give more regular objects",
        )
        return (
            self.image_layer,
            self.markers_layer,
            self.flood,
            self.seeded_mask,
            self.compactness,
        )

    def _connect(self) -> None:
        """Wire parameter changes to the preview, layer-list changes to the layer choices."""
        self.mode.changed.connect(self._on_mode)
        self.run_button.changed.connect(self.run)
        self.mask_layer.changed.connect(self._on_mask_layer)
        for widget in (
            self.mode,
            *self._split_widgets,
            *self._seeded_widgets,
            self.time_series,
            self.preview,
        ):
            widget.changed.connect(self._on_parameter)
        events = self._viewer.layers.events
        for callback in (self._on_layers, self._watch_layer, self._prefer_new_layer):
            self._runner.follow(events.inserted, callback)
        self._runner.follow(events.removed, self._on_layers)
        self._runner.start()
        self._watch_all()

    def _catch_up(self) -> None:
        """Docked again: watch the layers and catch up with them."""
        self._watch_all()
        self._on_layers()
        self._on_parameter()

    def _watch_all(self) -> None:
        for layer in self._viewer.layers:
            self._watch_layer(layer)

    def _unwatch_all(self) -> None:
        for layer in self._viewer.layers:
            self._unwatch_layer(layer)

    # ------------------------------------------------------------------ layer choices

    def _mask_choices(self, _widget: Any = None) -> list[tuple[str, Layer]]:
        return layer_choices(self._viewer, Labels, Image)

    def _image_choices(self, _widget: Any = None) -> list[tuple[str, Layer]]:
        return layer_choices(self._viewer, Image)

    def _marker_choices(self, _widget: Any = None) -> list[tuple[str, Layer]]:
        return layer_choices(self._viewer, Points, Labels)

    def _choose_active_layer(self) -> None:
        """Start from the layer the user is working on (napari's active layer), when it fits."""
        active = self._viewer.layers.selection.active
        if isinstance(active, Labels):
            self.mask_layer.value = active
        elif isinstance(active, Image) and not getattr(active, "rgb", False):
            self.image_layer.value = active
        elif isinstance(active, Points):
            self.markers_layer.value = active

    def _on_layers(self, event: Any = None) -> None:
        self.reset_choices()
        self._on_mask_layer(self.mask_layer.value)

    def _watch_layer(self, event_or_layer: Any) -> None:
        """Refresh the preview when an input layer's data changes (painting, moving points)."""
        layer = getattr(event_or_layer, "value", event_or_layer)
        layer.events.data.connect(self._on_layer_data)
        if hasattr(layer.events, "paint"):  # Labels painting does not emit `data`
            layer.events.paint.connect(self._on_layer_data)
        layer.events.name.connect(self._on_layers)

    def _unwatch_layer(self, layer: Layer) -> None:
        layer.events.data.disconnect(self._on_layer_data)
        if hasattr(layer.events, "paint"):
            layer.events.paint.disconnect(self._on_layer_data)
        layer.events.name.disconnect(self._on_layers)

    def _prefer_new_layer(self, event: Any) -> None:
        """A new layer of the kind a choice wants replaces a fallback in that choice.

        Markers are meant to be Points: a Points layer added while the markers are a Labels
        layer (often the only candidate at first) becomes the markers; a Labels layer added
        while an Image stands in as the mask to split becomes the mask. The widget's own
        outputs are never picked.
        """
        layer = getattr(event, "value", None)
        if layer is None or self._writing:
            return
        if isinstance(layer, Points) and not isinstance(self.markers_layer.value, Points):
            self.markers_layer.value = layer
        if isinstance(layer, Labels) and not isinstance(self.mask_layer.value, Labels):
            self.mask_layer.value = layer

    def _on_layer_data(self, event: Any) -> None:
        if getattr(event, "action", "changed") in ("adding", "removing", "changing"):
            return
        source = getattr(event, "source", None)
        if source is not None and source in self._inputs():
            self._on_parameter()

    # ------------------------------------------------------------------ ui state

    def _on_mask_layer(self, layer: Layer | None = None) -> None:
        """Show the physical unit of the chosen mask next to *Min distance*."""
        self.min_distance.label = f"Min distance ({axis_unit(layer)})"

    def _on_mode(self, _value: Any = None) -> None:
        split = self.mode.value == SPLIT
        for widget in self._split_widgets:
            widget.visible = split
        for widget in self._seeded_widgets:
            widget.visible = not split

    def _inputs(self) -> list[Layer]:
        if self.mode.value == SPLIT:
            return [x for x in (self.mask_layer.value,) if x is not None]
        values = (self.image_layer.value, self.markers_layer.value, self.seeded_mask.value)
        return [x for x in values if x is not None]

    def _main_input(self) -> Layer | None:
        return self.mask_layer.value if self.mode.value == SPLIT else self.image_layer.value

    def _can_preview(self) -> bool:
        layer = self._main_input()
        return (
            layer is not None
            and not self.time_series.value
            and np.ndim(level0(layer.data)) == 2
            and not getattr(layer, "rgb", False)
        )

    def _on_parameter(self, _value: Any = None) -> None:
        if self.preview.value and self._can_preview():
            self._runner.request()

    def _report(self, message: str, notify: bool = True) -> None:
        """Show a bad-input message once in the status line, and as a notification unless it
        comes from the live preview (which would repeat it on every change)."""
        self.status.value = message
        if notify:
            show_error(message)

    # ------------------------------------------------------------------ jobs

    def build_job(self) -> Job:
        """Validate the current choices and return the job to run.

        Raises
        ------
        ValueError
            With a message for the user when a layer is missing or the input is invalid.
        """
        if self.mode.value == SPLIT:
            return self._split_job()
        return self._seeded_job()

    def _frame_axis(self, ndim: int) -> int | None:
        """Frames along axis 0 for 4D data, and for 3D data marked as a time series."""
        return frame_axis(ndim, self.time_series.value)

    def _split_job(self) -> Job:
        return split_job(self.mask_layer.value, min_distance=self.min_distance.value,
                         h=self.h.value, time_series=self.time_series.value)  # fmt: skip

    def _seeded_job(self) -> Job:
        return seeded_job(
            self.image_layer.value, self.markers_layer.value, self.seeded_mask.value,
            compactness=self.compactness.value, gradient=self.flood.value == FLOOD_GRADIENT,
            time_series=self.time_series.value,
        )  # fmt: skip

    def _try_job(self, *, notify: bool = True) -> Job | None:
        try:
            return self.build_job()
        except ValueError as error:
            self._report(str(error), notify=notify)
            return None

    def _show(self, job: Job, result: tuple[np.ndarray, int]) -> None:
        """Put a finished result in the output layer."""
        labels, count = result
        self._writing = True  # the new layer's `inserted` event must not pick it as an input
        try:
            layer = upsert_labels(self._viewer, labels, name=job.name, like=job.like)
        finally:
            self._writing = False
        self.status.value = f"{count} object{'' if count == 1 else 's'} in {layer.name!r}"

    # ------------------------------------------------------------------ preview and run

    def _preview_task(self) -> Task | None:
        """The preview of the current choices (2D only), or None."""
        if not (self.preview.value and self._can_preview()):
            return None
        job = self._try_job(notify=False)
        if job is None:
            return None
        self.status.value = "previewing..."
        return Task(run_steps(job.steps), lambda result: self._show(job, result))

    @property
    def busy(self) -> bool:
        """True while a run or a preview is computing (or a preview waits to start)."""
        return self._runner.busy

    def run(self, _value: Any = None) -> Any:
        """Validate and start the watershed in a ``thread_worker`` with progress.

        Returns the worker, or None when the input is invalid (the message is shown).
        """
        job = self._try_job()
        if job is None:
            return None
        self.run_button.enabled = False
        self.status.value = "running..."
        task = Task(
            run_steps(job.steps), lambda result: self._show(job, result),
            total=job.n_frames if job.n_frames > 1 else 0, desc=self.mode.value,
            on_done=self._run_finished,
        )  # fmt: skip
        return self._runner.run(task, drop_stale=True)

    def _run_finished(self) -> None:
        self.run_button.enabled = True


__all__ = ["WatershedWidget", "image_as_mask", "points_in_image"]
