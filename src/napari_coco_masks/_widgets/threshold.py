"""Threshold and colour-mask dock widget: a thin napari adapter over the pure segment functions.

:func:`napari_coco_masks.segment.threshold.threshold` (global, manual and local thresholds) and
:func:`napari_coco_masks.segment.colour.colour_labels` (hue/saturation/value range) do the work
in a worker thread (:mod:`._threshold_job`); this module only reads the controls, shows the
result in one Labels layer (``"<image> threshold"``, with the image's scale, translate and
units) and reports bad input in its status line. The live preview is debounced, runs off the
Qt thread and drops stale results (:class:`._base.Runner`); for a time series it computes the
displayed frame only, *Apply* computes the whole stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSlider,
    FloatSpinBox,
    Label,
    PushButton,
    SpinBox,
)
from napari.layers import Image, Labels
from napari.utils.notifications import show_error

from napari_coco_masks._widgets._base import (
    KeepsLayerChoices,
    OutputLayer,
    Runner,
    ScrollingNative,
    Task,
    axis_unit,
    displayed_index,
    histogram_pixmap,
    layer_choices,
    layer_spacing,
    level0,
    wrap_status,
)
from napari_coco_masks._widgets._colour_pick import ColourPick
from napari_coco_masks._widgets._recipe_buttons import recipe_buttons
from napari_coco_masks._widgets._recipe_maps import set_threshold, threshold_recipe
from napari_coco_masks._widgets._threshold_job import (
    METHOD_CHOICES,
    MORPHOLOGY_CHOICES,
    OUTPUT_CHOICES,
    PREPARE_CHOICES,
    STACK_CHOICES,
    Job,
    Result,
    compact_labels,
    describe,
    run_job,
    run_job_now,
    value_range,
)
from napari_coco_masks.segment.threshold import LOCAL_METHODS

if TYPE_CHECKING:
    import napari

__all__ = ["OUTPUT_SUFFIX", "Job", "Result", "ThresholdWidget", "compact_labels", "run_job",
           "run_job_now"]  # fmt: skip

#: The output layer of image ``name`` is called ``name + OUTPUT_SUFFIX``.
OUTPUT_SUFFIX = " threshold"

_HIST_SIZE = (260, 64)
_DEBOUNCE_MS = 150


class ThresholdWidget(ColourPick, KeepsLayerChoices, ScrollingNative, Container):
    """Threshold an image (or colour-mask an RGB image) into a Labels layer, with live preview.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose Image layers are thresholded.
    """

    _layer_combos = ("image",)

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=True, scrollable=True)  # docks stay small on small screens
        self._viewer = viewer
        self._output = OutputLayer(viewer, OUTPUT_SUFFIX)
        #: The threshold of the last result (float, array of thresholds, or None).
        self.last_threshold: Any = None
        #: (counts, bin edges) of the histogram shown for the current image.
        self.histogram_data: tuple[np.ndarray, np.ndarray] | None = None
        self._buffer: np.ndarray | None = None
        self._buffer_key = ""
        self._done_frames: set[int] = set()
        self._build()
        self._runner = Runner(
            self.native, report=self._report, preview=self._preview_task,
            debounce_ms=_DEBOUNCE_MS, on_attach=self._catch_up, on_detach=self.stop_pick,
        )  # fmt: skip
        self._connect()
        active = viewer.layers.selection.active
        if isinstance(active, Image):  # the image the user is looking at, not the first one
            with self.image.changed.blocked():
                self.image.value = active
        self._on_image_changed()

    # ------------------------------------------------------------------------------- UI
    def _build(self) -> None:
        self.image = ComboBox(label="image", choices=self._layer_choices)
        self.mode = ComboBox(
            label="mode", choices=[("threshold", "threshold"), ("colour mask (RGB)", "colour")]
        )
        self.channel = ComboBox(
            label="channel",
            choices=[("luminance", "luminance"), ("red", 0), ("green", 1), ("blue", 2)],
        )
        self.stack = ComboBox(label="stack", choices=STACK_CHOICES)
        self.prepare = ComboBox(label="preprocess", choices=PREPARE_CHOICES)
        self.prepare_radius = SpinBox(label="radius (px)", min=1, max=1000, value=15)
        self.method = ComboBox(label="method", choices=METHOD_CHOICES, value="otsu")
        self.value = FloatSlider(label="value", min=0.0, max=1.0, value=0.5)
        self.histogram = Label(label="histogram")
        self.histogram.native.setMinimumSize(*_HIST_SIZE)
        self.dark_objects = CheckBox(text="dark objects")
        self.sigma = FloatSpinBox(label="smooth σ", min=0.0, max=1e6, step=0.5)
        self.block_size = SpinBox(label="block size (px)", min=3, max=4001, step=2, value=35)
        self.offset = FloatSpinBox(label="offset", min=-1e12, max=1e12, step=1.0)
        self.classes = SpinBox(label="classes", min=2, max=8, value=3)
        self.k = FloatSpinBox(label="k", min=-1.0, max=1.0, step=0.05, value=0.2)
        self._colour_controls = self._make_colour_controls()
        self.fill_holes = CheckBox(text="fill holes")
        self.min_size = FloatSpinBox(label="min size", min=0.0, max=1e12, step=1.0)
        self.clear_border = CheckBox(text="clear border")
        self.morphology = ComboBox(label="then", choices=MORPHOLOGY_CHOICES)
        self.morphology_radius = SpinBox(label="by (px)", min=1, max=1000, value=1)
        self.output = ComboBox(label="output", choices=OUTPUT_CHOICES)
        self.live = CheckBox(text="live preview", value=True)
        self.apply_button = PushButton(text="Apply to whole stack")
        self.save_recipe_button, self.load_recipe_button = recipe_buttons(
            self, lambda: threshold_recipe(self), lambda r: set_threshold(self, r), self._report)
        self.status = Label(label="status", value="")
        wrap_status(self.status.native)
        self._threshold_controls = (self.method, self.value, self.histogram, self.dark_objects,
                                    self.sigma)  # fmt: skip
        self._params = (
            self.value, self.dark_objects, self.sigma, self.block_size, self.offset, self.classes,
            self.k, self.hue, self.hue_tolerance, self.saturation, self.brightness,
            self.fill_holes, self.min_size, self.clear_border, self.output, self.live,
            self.prepare, self.prepare_radius, self.morphology, self.morphology_radius,
        )  # fmt: skip
        self.extend([
            self.image, self.mode, self.channel, self.stack, self.prepare, self.prepare_radius,
            *self._threshold_controls[:3],
            *self._threshold_controls[3:], self.block_size, self.offset, self.classes, self.k,
            *self._colour_controls, self.fill_holes, self.min_size, self.clear_border,
            self.morphology, self.morphology_radius, self.output, self.live, self.apply_button,
            self.save_recipe_button, self.load_recipe_button, self.status,
        ])  # fmt: skip

    def _connect(self) -> None:
        for widget in self._params:
            widget.changed.connect(self._on_params_changed)
        for widget in (self.method, self.mode, self.prepare, self.morphology):
            widget.changed.connect(self._on_method_changed)
        for widget in (self.image, self.channel, self.stack):
            widget.changed.connect(self._on_image_changed)
        self.value.changed.connect(self._draw_histogram)
        self.apply_button.changed.connect(self.apply)
        events = self._viewer.layers.events
        for event in (events.inserted, events.removed, events.reordered):
            self._runner.follow(event, self._refresh_layers)
        self._runner.follow(events.renamed, self._on_layer_renamed)
        self._runner.follow(self._viewer.dims.events.current_step, self._on_step)
        self._runner.start()

    def _catch_up(self) -> None:
        """Docked again: catch up with the layers and preview."""
        self._refresh_layers()
        self._on_params_changed()

    def _layer_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        """Image layers first, then Labels layers (chosen by mistake: the widget says so)."""
        return layer_choices(self._viewer, Image, Labels)

    @property
    def output_layer(self) -> Labels | None:
        """The Labels layer the last result went to (None before the first result)."""
        return self._output.layer

    def _refresh_layers(self, event: Any = None) -> None:
        """Forget removed layers (and the removed output's buffer), re-read the choices."""
        if self._output.forget_removed():
            self._buffer, self._buffer_key, self._done_frames = None, "", set()
        self.reset_choices()

    def _on_layer_renamed(self, event: Any) -> None:
        """Show the new name; an input renamed by the user renames its output with it."""
        self._output.follow_rename(event)
        self.reset_choices()

    # ----------------------------------------------------------------------- state helpers
    def _layer(self) -> Any:
        return self.image.value

    def _grey_ndim(self) -> int:
        return 0 if self._layer() is None else int(self._layer().ndim)

    def _mode(self) -> str:
        return self.mode.value if getattr(self._layer(), "rgb", False) else "threshold"

    def _stack_mode(self) -> str:
        return self.stack.value if self._grey_ndim() >= 3 else "volume"

    def _report(self, message: str, notify: bool = False) -> None:
        """Show ``message`` in the status line (and as a napari error notification)."""
        self.status.value = message
        if notify:
            show_error(message)

    def _update_visibility(self) -> None:
        thresholding, method = self._mode() == "threshold", self.method.value
        rgb = bool(getattr(self._layer(), "rgb", False))
        self.mode.visible = rgb
        self.channel.visible = rgb and thresholding
        self.stack.visible = self._grey_ndim() >= 3
        for widget in self._threshold_controls:
            widget.visible = thresholding
        for widget in self._colour_controls:
            widget.visible = not thresholding
        self.value.enabled = method == "manual"
        self.offset.visible = thresholding and method != "manual"
        self.block_size.visible = thresholding and method in LOCAL_METHODS
        self.k.visible = thresholding and method in ("sauvola", "niblack")
        self.classes.visible = thresholding and method == "multiotsu"
        self.prepare.visible = thresholding
        self.prepare_radius.visible = thresholding and self.prepare.value not in ("", "contrast_stretch")
        self.morphology_radius.visible = self.morphology.value not in ("", "fill_holes")

    # ----------------------------------------------------------------------------- events
    def _on_image_changed(self, *_: Any) -> None:
        layer = self._layer()
        self._buffer, self._buffer_key, self.last_threshold = None, "", None
        unit = axis_unit(layer)
        self.sigma.label = f"smooth σ ({unit})"
        volume = self._grey_ndim() >= 3 and self._stack_mode() == "volume"
        self.min_size.label = f"min size ({unit}{'³' if volume else '²'})"
        self.histogram_data = None
        if isinstance(layer, Image):
            self._update_range(layer)
        self._on_method_changed()

    def _on_method_changed(self, *_: Any) -> None:
        self._update_visibility()
        self._draw_histogram()
        self._on_params_changed()

    def _on_params_changed(self, *_: Any) -> None:
        """Any control changed: results in flight are now stale; preview again (debounced)."""
        self._runner.invalidate()
        self._done_frames.clear()
        if self.live.value:
            self._runner.request()

    def _on_step(self, *_: Any) -> None:
        """The displayed frame changed: preview it unless it is already computed."""
        layer = self._layer()
        if not self.live.value or self._stack_mode() == "volume" or not isinstance(layer, Image):
            return
        if displayed_index(self._viewer, layer, level0(layer.data).shape[0]) not in self._done_frames:
            self._runner.request()  # results for other frames in flight stay valid

    # -------------------------------------------------------------------------- histogram
    def _update_range(self, layer: Image) -> None:
        """Fit the manual-value slider to the image's range and recompute the histogram."""
        fitted = value_range(level0(layer.data), bool(layer.rgb), self.channel.value)
        if fitted is None:
            return
        self.histogram_data = (fitted.counts, fitted.edges)
        low, high, step = fitted.slider
        with self.value.changed.blocked():
            self.value.max = max(high, self.value.min)
            self.value.min, self.value.max, self.value.step = low, high, step
            self.value.value = (low + high) / 2
        if not fitted.fits:
            self._report(
                f"The manual value slider cannot span {fitted.low:.3g} to {fitted.high:.3g}: "
                "use an automatic method, or rescale the image."
            )

    def _draw_histogram(self, *_: Any) -> None:
        """Draw the image histogram (sqrt counts) with the current threshold(s) in red."""
        used = float(self.value.value) if self.method.value == "manual" else self.last_threshold
        lines = [] if used is None or np.ndim(used) > 1 else np.atleast_1d(used).tolist()
        counts, edges = self.histogram_data or (None, None)
        self.histogram.native.setPixmap(histogram_pixmap(counts, edges, _HIST_SIZE, lines=lines))

    # --------------------------------------------------------------------------- the job
    def _options(self, spacing: tuple[float, ...]) -> dict[str, Any]:
        """The options of the pure function, read from the controls."""
        clean = {"fill_holes": self.fill_holes.value, "min_size": float(self.min_size.value),
                 "clear_border": self.clear_border.value, "spacing": spacing,
                 "output": self.output.value}  # fmt: skip
        if self._mode() == "colour":
            return {**self._colour_options(), **clean}
        method = self.method.value
        options = {"method": method, "dark_objects": self.dark_objects.value,
                   "sigma": float(self.sigma.value), "classes": int(self.classes.value),
                   "offset": float(self.offset.value) if method != "manual" else 0.0,
                   "k": float(self.k.value), **clean}  # fmt: skip
        if method == "manual":
            options["value"] = float(self.value.value)
        if method in LOCAL_METHODS:
            options["block_size"] = int(self.block_size.value)
        return options

    def make_job(self, *, preview: bool) -> Job | None:
        """Read the controls into a :class:`Job`; report bad input and return None."""
        layer, notify = self._layer(), not preview
        if layer is None or isinstance(layer, Labels):
            what = "Add or choose an Image layer" if layer is None else (
                f"{layer.name!r} is a Labels layer: choose an Image layer")
            return self._report(f"{what} to threshold.", notify=notify)
        data, rgb = level0(layer.data), bool(layer.rgb)
        shape = tuple(data.shape[: data.ndim - rgb])
        if 0 in shape:
            return self._report(f"{layer.name!r} is empty (shape {shape}).", notify=notify)
        if self._mode() == "colour" and self.output.value == "classes":
            return self._report("output 'classes' needs multi-Otsu; choose labels or binary.")
        stack = self._stack_mode()
        time_axis = None if stack == "volume" else 0
        options = self._options(layer_spacing(layer, len(shape)))
        frames = [displayed_index(self._viewer, layer, shape[0])] if preview and time_axis == 0 else None
        prepare = (self.prepare.value, int(self.prepare_radius.value))
        if self._mode() != "threshold":
            prepare = ("", 0)
        morphology = (self.morphology.value, int(self.morphology_radius.value))
        key = repr((id(layer), self._mode(), self.channel.value, stack, sorted(options.items()),
                    prepare, morphology))  # fmt: skip
        return Job(
            layer=layer, mode=self._mode(), data=data, rgb=rgb, channel=self.channel.value,
            options=options, time_axis=time_axis, per_frame=stack != "global",
            frames=frames, shape=shape, key=key, prepare=prepare, morphology=morphology,
        )  # fmt: skip

    def _preview_task(self) -> Task | None:
        job = self.make_job(preview=True) if self.live.value else None
        return None if job is None else Task(run_job(job), lambda r: self._show(job, r))

    @property
    def busy(self) -> bool:
        """True while a preview or an Apply is computing (or a preview is waiting to start)."""
        return self._runner.busy

    def apply(self, *_: Any) -> Any:
        """Threshold the whole stack in a worker with a progress bar; return the worker."""
        job = self.make_job(preview=False)
        if job is None:
            return None
        self.apply_button.enabled = False
        self._report(f"Thresholding {job.layer.name!r}…")
        return self._runner.run(Task(
            run_job(job), lambda result: self._show(job, result, notify=True),
            total=job.shape[0] if job.time_axis is not None else 0,
            desc=f"Threshold {job.layer.name}", on_done=self._enable_apply,
        ))  # fmt: skip

    def _enable_apply(self) -> None:
        self.apply_button.enabled = True

    # ----------------------------------------------------------------------------- results
    def _show(self, job: Job, result: Result, notify: bool = False) -> None:
        """Put a result in the output layer and describe it in the status line."""
        if result.error is not None:
            return self._report(result.error, notify=notify)
        if result.labels is not None:
            data = result.labels
            self._done_frames = set(range(job.shape[0])) if job.time_axis is not None else set()
        else:
            buffer = self._buffer
            if buffer is None or buffer.shape != job.shape or self._buffer_key != job.key:
                buffer, self._done_frames = np.zeros(job.shape, np.int32), set()
            for index, labels in result.frames:
                buffer[index] = labels
                self._done_frames.add(index)
            data = buffer
        self._buffer, self._buffer_key = data, job.key
        output = self._output.put(data, job.layer)
        self.last_threshold = used = result.threshold
        if job.mode == "threshold" and used is not None and np.ndim(used) == 0:
            with self.value.changed.blocked():  # follow an automatic threshold, no preview
                self.value.value = min(max(float(used), self.value.min), self.value.max)
        self._draw_histogram()
        self._report(describe(job, result, output.name))
