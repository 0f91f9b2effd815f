"""Threshold and colour-mask dock widget: a thin napari adapter over the pure segment functions.

:func:`napari_coco_masks.segment.threshold.threshold` (global, manual and local thresholds) and
:func:`napari_coco_masks.segment.colour.colour_labels` (hue/saturation/value range) do the work
in a worker thread; this module only reads the controls, shows the result in one Labels layer
(``"<image> threshold"``, with the image's scale, translate and units) and reports bad input in
its status line. The live preview is debounced, runs off the Qt thread and drops stale results;
for a time series it computes the displayed frame only, *Apply* computes the whole stack.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatRangeSlider,
    FloatSlider,
    FloatSpinBox,
    Label,
    PushButton,
    SpinBox,
)
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import QRectF, Qt
from qtpy.QtGui import QColor, QPainter, QPen, QPixmap
from superqt.utils import qdebounced

from napari_coco_masks._layers import layer_spacing, upsert_labels
from napari_coco_masks._widgets._common import (
    DockWatcher,
    ScrollingNative,
    keeping_choices,
    wrap_status,
)
from napari_coco_masks._widgets._progress import drain, start_job
from napari_coco_masks.segment.colour import colour_labels, hsv_range_around, rgb_to_hsv
from napari_coco_masks.segment.threshold import (
    LOCAL_METHODS,
    iter_threshold_frames,
    luminance,
    threshold,
)

if TYPE_CHECKING:
    import napari

__all__ = ["OUTPUT_SUFFIX", "ThresholdWidget", "compact_labels"]

#: The output layer of image ``name`` is called ``name + OUTPUT_SUFFIX``.
OUTPUT_SUFFIX = " threshold"

METHOD_CHOICES = [
    ("Otsu", "otsu"),
    ("Li", "li"),
    ("Yen", "yen"),
    ("Triangle", "triangle"),
    ("Isodata", "isodata"),
    ("Mean", "mean"),
    ("Minimum", "minimum"),
    ("Multi-Otsu", "multiotsu"),
    ("Manual value", "manual"),
    ("Local mean", "local_mean"),
    ("Local Gaussian", "local_gaussian"),
    ("Sauvola", "sauvola"),
    ("Niblack", "niblack"),
]
STACK_CHOICES = [
    ("volume (nD)", "volume"),
    ("time series (axis 0): per frame", "per_frame"),
    ("time series (axis 0): one threshold", "global"),
]
OUTPUT_CHOICES = [
    ("labels (objects)", "labels"),
    ("binary mask", "binary"),
    ("classes (multi-Otsu)", "classes"),
]
_HIST_SIZE = (260, 64)
_HIST_SAMPLE = 1_000_000
_DEBOUNCE_MS = 150


# ------------------------------------------------------------------------------ worker side


@dataclass
class Job:
    """What a worker computes, captured on the Qt thread (the worker never touches layers)."""

    layer: Any
    mode: str
    data: Any
    rgb: bool
    channel: str | int
    options: dict[str, Any]
    time_axis: int | None
    per_frame: bool
    frames: list[int] | None
    shape: tuple[int, ...]
    key: str = ""


@dataclass
class Result:
    """What a worker returns: labels (or some frames of them), the threshold, or an error."""

    labels: np.ndarray | None = None
    frames: list[tuple[int, np.ndarray]] = field(default_factory=list)
    threshold: Any = None
    error: str | None = None
    #: Largest value computed: the object count for ``labels`` output (values run 1..n over a
    #: series), 0 when nothing was found.
    top: int = 0
    #: When nothing was found: the clean-up step that removed every object ("min_size" or
    #: "clear_border"), or "" when no pixel passed the threshold at all.
    emptied_by: str = ""


def _grey_series(job: Job) -> Any:
    """The grey stack a time-series job thresholds (a channel or the luminance of RGB)."""
    if not job.rgb:
        return job.data
    if job.channel == "luminance":
        return luminance(job.data)
    return np.asarray(job.data)[..., int(job.channel)]


def _iter_job(job: Job) -> Iterator[tuple[int | None, np.ndarray, Any]]:
    """Yield ``(frame or None, labels, threshold)`` for a job, frame by frame for a series."""
    if job.mode == "colour":
        for index, labels in colour_labels(
            job.data, time_axis=job.time_axis, frames=job.frames, **job.options
        ):
            yield index, labels, None
        return
    if job.time_axis is None:
        labels, used = threshold(
            job.data,
            channel_axis=-1 if job.rgb else None,
            channel=job.channel,
            return_threshold=True,
            **job.options,
        )
        yield None, labels, used
        return
    yield from iter_threshold_frames(
        _grey_series(job),
        time_axis=job.time_axis,
        per_frame=job.per_frame,
        frames=job.frames,
        **job.options,
    )


def run_job(job: Job) -> Generator[None, None, Result]:
    """Worker body: yield once per frame (progress), return a :class:`Result`.

    Bad input (a ``ValueError`` from the pure functions) comes back as ``Result.error`` text,
    so the widget shows one message and no traceback.
    """
    result = Result()
    try:
        for index, labels, used in _iter_job(job):
            if index is None:
                result.labels = compact_labels(labels)
            elif job.frames is not None:
                result.frames.append((index, labels))
            else:
                if result.labels is None:
                    result.labels = np.zeros(job.shape, np.int32)
                result.labels[index] = labels
            result.threshold = used
            result.top = max(result.top, int(labels.max(initial=0)))
            yield
        if result.top == 0:
            result.emptied_by = _emptied_by(job)
        elif job.time_axis is not None and job.frames is None:
            result.labels = compact_labels(result.labels)  # a whole series (Apply)
    except ValueError as error:
        result.error = str(error)
    return result


def compact_labels(labels: np.ndarray) -> np.ndarray:
    """``labels`` in the smallest unsigned dtype that holds them (uint8 up to 255 objects).

    napari draws uint8 and uint16 labels as they are, but hashes every pixel of wider
    integers on the Qt thread each time the layer's data is set (~0.1 s at 2048x2048): with
    a live preview the viewer froze after each change of image or setting.
    """
    if labels.size == 0 or labels.min() < 0:
        return labels
    dtype = np.min_scalar_type(max(int(labels.max()), 1))
    return labels.astype(dtype) if dtype.itemsize < labels.dtype.itemsize else labels


def _found_any(job: Job, **options: Any) -> bool:
    """Whether ``job`` run with some options changed finds any pixel (same frames)."""
    changed = replace(job, options={**job.options, **options})
    return any(labels.any() for _, labels, _ in _iter_job(changed))


def _emptied_by(job: Job) -> str:
    """Which clean-up step of an empty result removed every object ("" if none did)."""
    clear_border, min_size = job.options.get("clear_border"), job.options.get("min_size")
    if not (clear_border or min_size):
        return ""
    if not _found_any(job, clear_border=False, min_size=0.0):
        return ""
    if min_size and not _found_any(job, clear_border=False):
        return "min_size"
    return "clear_border"


def run_job_now(job: Job) -> Result:
    """Run :func:`run_job` to the end in the calling thread (benchmarks, tests)."""
    return drain(run_job(job))


# ------------------------------------------------------------------------------ helpers


def _level0(data: Any) -> Any:
    """The full-resolution array of a (possibly multiscale) layer's data."""
    if isinstance(data, list | tuple) or type(data).__name__ == "MultiScaleData":
        return data[0]
    return data


def _unit_text(layer: Any) -> str:
    """The unit of the layer's last axis (``px`` for napari's default ``pixel``)."""
    units = tuple(getattr(layer, "units", ()) or ())
    if not units:
        return "px"
    try:
        text = f"{units[-1]:~P}"
    except (TypeError, ValueError):
        text = str(units[-1])
    return "px" if text in ("", "pixel", "pixels", "px") else text


def _sample(data: Any, n_axes: int, budget: int = _HIST_SAMPLE) -> np.ndarray:
    """A strided subsample of the first ``n_axes`` axes of ``data`` with at most ~``budget`` px."""
    size = math.prod(data.shape[:n_axes])
    step = max(1, math.ceil((size / budget) ** (1 / n_axes))) if size > budget else 1
    return np.asarray(data[tuple(slice(None, None, step) for _ in range(n_axes))])


# ------------------------------------------------------------------------------ the widget


def _clip_range(pair: Any, slider: Any) -> tuple[float, float]:
    """``pair`` (low, high) clipped to ``slider``'s range, NaN as the slider's ends."""
    lo, hi = (float(v) for v in pair)
    lo = float(np.clip(np.nan_to_num(lo, nan=slider.min), slider.min, slider.max))
    hi = float(np.clip(np.nan_to_num(hi, nan=slider.max), slider.min, slider.max))
    return (lo, hi) if lo <= hi else (hi, lo)


class ThresholdWidget(ScrollingNative, Container):
    """Threshold an image (or colour-mask an RGB image) into a Labels layer, with live preview.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose Image layers are thresholded.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=True, scrollable=True)  # docks stay small on small screens
        self._viewer = viewer
        #: The Labels layer the last result went to (None before the first result).
        self.output_layer: Labels | None = None
        #: The threshold of the last result (float, array of thresholds, or None).
        self.last_threshold: Any = None
        #: (counts, bin edges) of the histogram shown for the current image.
        self.histogram_data: tuple[np.ndarray, np.ndarray] | None = None
        self._generation = 0
        self._pending = False
        self._requested = False
        self._preview_worker: Any = None
        self._apply_worker: Any = None
        self._buffer: np.ndarray | None = None
        self._buffer_key = ""
        self._done_frames: set[int] = set()
        #: The input layer of ``output_layer`` and the name the widget gave the output.
        self._output_source: Any = None
        self._output_name = ""
        self._attached = False
        self._build()
        self.request_preview = qdebounced(self._debounced_preview, timeout=_DEBOUNCE_MS)
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
            label="mode",
            choices=[("threshold", "threshold"), ("colour mask (RGB)", "colour")],
        )
        self.channel = ComboBox(
            label="channel",
            choices=[("luminance", "luminance"), ("red", 0), ("green", 1), ("blue", 2)],
        )
        self.stack = ComboBox(label="stack", choices=STACK_CHOICES)
        self.method = ComboBox(label="method", choices=METHOD_CHOICES, value="otsu")
        self.value = FloatSlider(label="value", min=0.0, max=1.0, value=0.5)
        self.histogram = Label(label="histogram")
        self.dark_objects = CheckBox(text="dark objects")
        self.sigma = FloatSpinBox(label="smooth σ", min=0.0, max=1e6, step=0.5)
        self.block_size = SpinBox(label="block size (px)", min=3, max=4001, step=2, value=35)
        self.offset = FloatSpinBox(label="offset", min=-1e12, max=1e12, step=1.0)
        self.classes = SpinBox(label="classes", min=2, max=8, value=3)
        self.k = FloatSpinBox(label="k", min=-1.0, max=1.0, step=0.05, value=0.2)
        self.hue = FloatSlider(label="hue (°)", min=0.0, max=360.0, value=0.0)
        self.hue_tolerance = FloatSlider(label="hue ± (°)", min=0.0, max=180.0, value=20.0)
        self.saturation = FloatRangeSlider(
            label="saturation", min=0.0, max=1.0, step=0.01, value=(0.25, 1.0)
        )
        self.brightness = FloatRangeSlider(
            label="value (HSV)", min=0.0, max=1.0, step=0.01, value=(0.2, 1.0)
        )
        self.pick_button = PushButton(text="Pick colour, then click the image")
        self.fill_holes = CheckBox(text="fill holes")
        self.min_size = FloatSpinBox(label="min size", min=0.0, max=1e12, step=1.0)
        self.clear_border = CheckBox(text="clear border")
        self.output = ComboBox(label="output", choices=OUTPUT_CHOICES)
        self.live = CheckBox(text="live preview", value=True)
        self.apply_button = PushButton(text="Apply to whole stack")
        self.status = Label(label="status", value="")
        wrap_status(self.status.native)
        self.histogram.native.setMinimumSize(*_HIST_SIZE)
        self.extend(
            [
                self.image, self.mode, self.channel, self.stack, self.method, self.value,
                self.histogram, self.dark_objects, self.sigma, self.block_size, self.offset,
                self.classes, self.k, self.hue, self.hue_tolerance, self.saturation,
                self.brightness, self.pick_button, self.fill_holes, self.min_size,
                self.clear_border, self.output, self.live, self.apply_button, self.status,
            ]
        )  # fmt: skip

    def _connect(self) -> None:
        params = [
            self.value, self.dark_objects, self.sigma,
            self.block_size, self.offset, self.classes, self.k, self.hue, self.hue_tolerance,
            self.saturation, self.brightness, self.fill_holes, self.min_size,
            self.clear_border, self.output,
        ]  # fmt: skip
        for widget in params:
            widget.changed.connect(self._on_params_changed)
        self.method.changed.connect(self._on_method_changed)
        self.mode.changed.connect(self._on_method_changed)
        self.value.changed.connect(self._draw_histogram)
        self.image.changed.connect(self._on_image_changed)
        self.channel.changed.connect(self._on_image_changed)
        self.stack.changed.connect(self._on_image_changed)
        self.live.changed.connect(self._on_params_changed)
        self.pick_button.changed.connect(self.start_pick)
        self.apply_button.changed.connect(self.apply)
        self._connect_viewer()
        self.native.destroyed.connect(self._disconnect_viewer)
        self._dock_watcher = DockWatcher(self.native, self._disconnect_viewer, self._reconnect)

    def _connect_viewer(self) -> None:
        for event in ("inserted", "removed", "reordered"):
            getattr(self._viewer.layers.events, event).connect(self._refresh_layers)
        self._viewer.layers.events.renamed.connect(self._on_layer_renamed)
        self._viewer.dims.events.current_step.connect(self._on_step)
        self._attached = True

    def _disconnect_viewer(self, *_: Any) -> None:
        """The dock was closed: stop listening to the viewer (it outlives this widget) and drop
        results still computing, so a closed widget never writes into a layer."""
        if not self._attached:
            return
        self._attached = False
        self._generation += 1
        self.request_preview.cancel()
        self._requested = self._pending = False
        for event in ("inserted", "removed", "reordered"):
            getattr(self._viewer.layers.events, event).disconnect(self._refresh_layers)
        self._viewer.layers.events.renamed.disconnect(self._on_layer_renamed)
        self._viewer.dims.events.current_step.disconnect(self._on_step)
        if self._on_pick_click in self._viewer.mouse_drag_callbacks:
            self._viewer.mouse_drag_callbacks.remove(self._on_pick_click)

    def _reconnect(self) -> None:
        """Docked (again): listen to the viewer and catch up with the layers."""
        if self._attached:
            return
        self._connect_viewer()
        self._refresh_layers()
        self._on_params_changed()

    def _layer_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        """Image layers first, then Labels layers (chosen by mistake: the widget says so)."""
        layers = list(self._viewer.layers)
        images = [(la.name, la) for la in layers if isinstance(la, Image)]
        labels = [(la.name, la) for la in layers if isinstance(la, Labels)]
        return images + labels

    def reset_choices(self, *_: Any) -> None:
        """Re-read the layer choices, keeping the chosen layer when it was only renamed."""
        with keeping_choices([self.image]):
            super().reset_choices()

    def _refresh_layers(self, event: Any = None) -> None:
        self._forget_removed()
        self.reset_choices()

    def _forget_removed(self) -> None:
        """Drop references to layers no longer in the viewer (a removed layer, its data and its
        buffer must not stay alive, nor be written to, because this dock remembers them)."""
        layers = self._viewer.layers
        if self.output_layer is not None and self.output_layer not in layers:
            self.output_layer = None
            self._buffer, self._buffer_key, self._done_frames = None, "", set()
        if self._output_source is not None and self._output_source not in layers:
            self._output_source, self._output_name = None, ""

    def _on_layer_renamed(self, event: Any) -> None:
        """Show the new name; an input renamed by the user renames its output with it."""
        index = getattr(event, "index", None)
        layers = self._viewer.layers
        source = layers[index] if isinstance(index, int) and index < len(layers) else None
        out = self.output_layer
        if (
            source is not None
            and source == self._output_source  # == : plugin viewers hand out proxies
            and out is not None
            and out in self._viewer.layers
            and out.name == self._output_name
        ):
            wanted = f"{source.name}{OUTPUT_SUFFIX}"
            if wanted not in self._viewer.layers:
                self._output_name = wanted
                out.name = wanted  # emits its own rename: the combo box refreshes then too
        self.reset_choices()

    # ----------------------------------------------------------------------- state helpers
    def _layer(self) -> Any:
        return self.image.value

    def _is_rgb(self) -> bool:
        return bool(getattr(self._layer(), "rgb", False))

    def _grey_ndim(self) -> int:
        layer = self._layer()
        return 0 if layer is None else int(layer.ndim)

    def _mode(self) -> str:
        return self.mode.value if self._is_rgb() else "threshold"

    def _stack_mode(self) -> str:
        return self.stack.value if self._grey_ndim() >= 3 else "volume"

    def _report(self, message: str, *, notify: bool = False) -> None:
        """Show ``message`` in the status line (and as a napari error notification)."""
        self.status.value = message
        if notify:
            show_error(message)

    def _update_visibility(self) -> None:
        rgb, mode, method = self._is_rgb(), self._mode(), self.method.value
        thresholding = mode == "threshold"
        self.mode.visible = rgb
        self.channel.visible = rgb and thresholding
        self.stack.visible = self._grey_ndim() >= 3
        for widget in (self.method, self.value, self.histogram, self.dark_objects, self.sigma):
            widget.visible = thresholding
        self.value.enabled = method == "manual"
        self.offset.visible = thresholding and method != "manual"
        self.block_size.visible = thresholding and method in LOCAL_METHODS
        self.k.visible = thresholding and method in ("sauvola", "niblack")
        self.classes.visible = thresholding and method == "multiotsu"
        for widget in (
            self.hue,
            self.hue_tolerance,
            self.saturation,
            self.brightness,
            self.pick_button,
        ):
            widget.visible = not thresholding

    # ----------------------------------------------------------------------------- events
    def _on_image_changed(self, *_: Any) -> None:
        layer = self._layer()
        self._buffer, self._buffer_key = None, ""
        self.last_threshold = None
        unit = _unit_text(layer) if layer is not None else "px"
        self.sigma.label = f"smooth σ ({unit})"
        dims = 3 if self._grey_ndim() >= 3 and self._stack_mode() == "volume" else 2
        self.min_size.label = f"min size ({unit}{'³' if dims == 3 else '²'})"
        if isinstance(layer, Image):
            self._update_range(layer)
        else:
            self.histogram_data = None
        self._update_visibility()
        self._draw_histogram()
        self._on_params_changed()

    def _on_method_changed(self, *_: Any) -> None:
        self._update_visibility()
        self._draw_histogram()
        self._on_params_changed()

    def _on_params_changed(self, *_: Any) -> None:
        """Any control changed: results in flight are now stale; preview again (debounced)."""
        self._generation += 1
        self._done_frames.clear()
        self._request()

    def _request(self) -> None:
        if self.live.value and self._attached:
            self._requested = True
            self.request_preview()

    def _on_step(self, *_: Any) -> None:
        """The displayed frame changed: preview it unless it is already computed."""
        layer = self._layer()
        if not self.live.value or self._stack_mode() == "volume" or not isinstance(layer, Image):
            return
        shape = _level0(layer.data).shape
        if self._frame_index(layer, shape[0]) not in self._done_frames:
            self._request()  # results for other frames in flight stay valid

    # -------------------------------------------------------------------------- histogram
    def _update_range(self, layer: Image) -> None:
        """Fit the manual-value slider to the image's range and recompute the histogram."""
        data = _level0(layer.data)
        grey_axes = data.ndim - int(layer.rgb)
        sample = _sample(data, grey_axes)
        if layer.rgb:
            sample = luminance(sample) if self.channel.value == "luminance" else sample[..., 0]
        sample = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample.ravel()
        if sample.size == 0:
            self.histogram_data = None
            return
        low, high = float(sample.min()), float(sample.max())
        if isinstance(data, np.ndarray) and not layer.rgb and data.dtype.kind in "iub":
            low, high = float(data.min()), float(data.max())
        span = high - low if high > low else 1.0
        # 128 bins need a range of at least 128 representable steps: widen one that is too
        # narrow (a constant 1e20, denormals) and bin in float64 (float16 edges cannot step
        # by 1 at 50000); np.histogram raised "Too many bins for data range" (issue 12)
        ulp = float(np.spacing(max(abs(low), abs(high))))
        span = max(span, 1024 * ulp, 1e-300)
        if sample.dtype.kind == "f" and sample.dtype.itemsize < 8:
            sample = sample.astype(np.float64)
        counts, edges = np.histogram(sample, bins=128, range=(low, low + span))
        self.histogram_data = (counts, edges)
        step = 1.0 if data.dtype.kind in "iub" and span >= 100 else span / 1000
        # magicgui's float slider counts in int32 steps of at most ~6 decimals: values like
        # 1e20 or 1e-320 are beyond it and setting them raised (a traceback, issue 12)
        fits = step >= 1e-6 and max(abs(low), abs(low + span)) / step < 2e9
        with self.value.changed.blocked():
            if fits:
                self.value.max = max(low + span, self.value.min)
                self.value.min = low
                self.value.max = low + span
                self.value.step = step
                self.value.value = low + span / 2
            else:
                self.value.max = max(1.0, self.value.min)
                self.value.min = 0.0
                self.value.max = 1.0
                self.value.step = 0.001
                self.value.value = 0.5
                self._report(
                    f"The manual value slider cannot span {low:.3g} to {high:.3g}: "
                    "use an automatic method, or rescale the image."
                )

    def _threshold_lines(self) -> list[float]:
        if self.method.value == "manual":
            return [float(self.value.value)]
        used = self.last_threshold
        if used is None or (isinstance(used, np.ndarray) and used.ndim > 1):
            return []  # local thresholds vary over the image
        return [float(v) for v in np.atleast_1d(np.asarray(used, dtype=float))]

    def _draw_histogram(self, *_: Any) -> None:
        """Draw the image histogram (sqrt counts) with the current threshold(s) in red."""
        width, height = _HIST_SIZE
        pixmap = QPixmap(width, height)
        pixmap.fill(QColor(38, 41, 48))
        if self.histogram_data is not None:
            counts, edges = self.histogram_data
            painter = QPainter(pixmap)
            scaled = np.sqrt(counts / max(counts.max(), 1))
            bar = width / len(counts)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(170, 175, 185))
            for i, fraction in enumerate(scaled):
                bar_height = fraction * (height - 2)
                painter.drawRect(QRectF(i * bar, height - bar_height, bar, bar_height))
            painter.setPen(QPen(QColor(255, 70, 70), 2))
            low, high = float(edges[0]), float(edges[-1])
            for line in self._threshold_lines():
                x = (min(max(line, low), high) - low) / (high - low) * (width - 1)
                painter.drawLine(int(round(x)), 0, int(round(x)), height)
            painter.end()
        self.histogram.native.setPixmap(pixmap)

    # --------------------------------------------------------------------------- the job
    def _frame_index(self, layer: Any, n_frames: int) -> int:
        """Index along the layer's first axis of the frame the viewer displays."""
        position = layer.world_to_data(self._viewer.dims.point)
        return int(np.clip(np.round(position[0]), 0, n_frames - 1))

    def make_job(self, *, preview: bool) -> Job | None:
        """Read the controls into a :class:`Job`; report bad input and return None."""
        layer = self._layer()
        if layer is None:
            self._report("Add or choose an Image layer to threshold.", notify=not preview)
            return None
        if isinstance(layer, Labels):
            self._report(
                f"{layer.name!r} is a Labels layer: choose an Image layer to threshold.",
                notify=not preview,
            )
            return None
        data = _level0(layer.data)
        rgb, mode = bool(layer.rgb), self._mode()
        shape = tuple(data.shape[: data.ndim - rgb])
        if 0 in shape:
            self._report(f"{layer.name!r} is empty (shape {shape}).", notify=not preview)
            return None
        stack = self._stack_mode()
        time_axis = None if stack == "volume" else 0
        spacing = layer_spacing(layer, len(shape))
        clean = {
            "fill_holes": self.fill_holes.value,
            "min_size": float(self.min_size.value),
            "clear_border": self.clear_border.value,
            "spacing": spacing,
            "output": self.output.value,
        }
        if mode == "colour":
            if self.output.value == "classes":
                self._report("output 'classes' needs multi-Otsu; choose labels or binary.")
                return None
            centre, tol = float(self.hue.value), float(self.hue_tolerance.value)
            hue = (0.0, 360.0) if tol >= 180 else ((centre - tol) % 360, (centre + tol) % 360)
            options = {
                "hue": hue,
                "saturation": tuple(self.saturation.value),
                "value": tuple(self.brightness.value),
                **clean,
            }
        else:
            method = self.method.value
            options = {
                "method": method,
                "dark_objects": self.dark_objects.value,
                "sigma": float(self.sigma.value),
                "offset": float(self.offset.value) if method != "manual" else 0.0,
                "classes": int(self.classes.value),
                "k": float(self.k.value),
                **clean,
            }
            if method == "manual":
                options["value"] = float(self.value.value)
            if method in LOCAL_METHODS:
                options["block_size"] = int(self.block_size.value)
        frames = None
        if preview and time_axis is not None:
            frames = [self._frame_index(layer, shape[0])]
        key = repr((id(layer), mode, self.channel.value, stack, sorted(options.items())))
        return Job(
            layer=layer, mode=mode, data=data, rgb=rgb, channel=self.channel.value,
            options=options, time_axis=time_axis, per_frame=stack != "global",
            frames=frames, shape=shape, key=key,
        )  # fmt: skip

    # ----------------------------------------------------------------------------- preview
    def _debounced_preview(self) -> None:
        self._requested = False
        if not self._attached:
            return
        self._start_preview()

    def _start_preview(self) -> None:
        """Start a preview worker now, or once the running one finishes (stale ones dropped)."""
        if not self.live.value:
            return
        if self._preview_worker is not None:
            self._pending = True
            return
        self._pending = False
        job = self.make_job(preview=True)
        if job is None:
            return
        generation = self._generation
        worker = create_worker(run_job, job, _start_thread=False)
        worker.returned.connect(lambda result: self._on_preview_result(generation, job, result))
        worker.errored.connect(self._on_worker_error)
        worker.finished.connect(self._on_preview_finished)
        self._preview_worker = worker
        worker.start()

    def _on_preview_result(self, generation: int, job: Job, result: Result) -> None:
        # a newer generation means the controls changed meanwhile (stale); a closed dock
        # never writes into a layer
        if generation == self._generation and self._attached:
            self._show(job, result)

    def _on_preview_finished(self) -> None:
        self._preview_worker = None
        if self._pending:
            self._start_preview()

    def _on_worker_error(self, error: Exception) -> None:
        self._report(f"Threshold failed: {error}", notify=True)

    @property
    def busy(self) -> bool:
        """True while a preview or an Apply is computing (or a preview is waiting to start)."""
        return (
            self._preview_worker is not None
            or self._apply_worker is not None
            or self._pending
            or self._requested
        )

    # ------------------------------------------------------------------------------- apply
    def apply(self, *_: Any) -> Any:
        """Threshold the whole stack in a worker with a progress bar; return the worker."""
        job = self.make_job(preview=False)
        if job is None:
            return None
        self._generation += 1  # previews still running would overwrite the full result
        # ...and so would a preview still waiting for its debounce (a control changed just
        # before the click): Apply computes the same settings for every frame.
        self.request_preview.cancel()
        self._requested = self._pending = False
        n_steps = job.shape[0] if job.time_axis is not None else 0
        worker = start_job(run_job(job), total=n_steps, desc=f"Threshold {job.layer.name}")
        worker.returned.connect(lambda result: self._on_apply_result(job, result))
        worker.errored.connect(self._on_worker_error)
        worker.finished.connect(self._on_apply_finished)
        self._apply_worker = worker
        self.apply_button.enabled = False
        self._report(f"Thresholding {job.layer.name!r}…")
        worker.start()
        return worker

    def _on_apply_result(self, job: Job, result: Result) -> None:
        if result.error is not None:
            self._report(result.error, notify=True)
            return
        self._show(job, result)

    def _on_apply_finished(self) -> None:
        self._apply_worker = None
        self.apply_button.enabled = True

    # ----------------------------------------------------------------------------- results
    def _show(self, job: Job, result: Result) -> None:
        """Put a result in the output layer and describe it in the status line."""
        if result.error is not None:
            self._report(result.error)
            return
        if result.labels is not None:
            data = result.labels
            self._done_frames = set(range(job.shape[0])) if job.time_axis is not None else set()
        else:
            if (
                self._buffer is None
                or self._buffer.shape != job.shape
                or (self._buffer_key != job.key)
            ):
                self._buffer = np.zeros(job.shape, np.int32)
                self._done_frames = set()
            for index, labels in result.frames:
                self._buffer[index] = labels
                self._done_frames.add(index)
            data = self._buffer
        self._buffer, self._buffer_key = data, job.key
        self.output_layer = self._put_labels(job.layer, data)
        self._output_source, self._output_name = job.layer, self.output_layer.name
        self.last_threshold = result.threshold
        if job.mode == "threshold":
            self._sync_value(result.threshold)
        self._draw_histogram()
        self._report(self._describe(job, result))

    def _put_labels(self, layer: Any, data: np.ndarray) -> Labels:
        """Show ``data`` in ``layer``'s output Labels layer (created by ``upsert_labels``).

        When the output layer already sits where ``layer`` is, only its data is replaced: one
        refresh instead of one per geometry attribute (each costs ~0.1 s at 2048x2048).
        """
        name = f"{layer.name}{OUTPUT_SUFFIX}"
        out = self.output_layer
        if (
            out is not None
            and out in self._viewer.layers
            and out.name == name
            and out.ndim == np.ndim(data)
            and np.array_equal(out.scale, layer.scale)
            and np.array_equal(out.translate, layer.translate)
            and tuple(out.units) == tuple(layer.units)
        ):
            if out.data is data:
                out.refresh()
            else:
                out.data = data
            return out
        return upsert_labels(self._viewer, data, name=name, like=layer)

    def _sync_value(self, used: Any) -> None:
        """Move the manual-value slider to an automatic global threshold (no new preview)."""
        if used is None or np.ndim(used) != 0:
            return
        with self.value.changed.blocked():
            self.value.value = min(max(float(used), self.value.min), self.value.max)

    def _describe(self, job: Job, result: Result) -> str:
        where = "" if not result.frames else f" in frame {result.frames[0][0]}"
        if result.emptied_by == "min_size":
            return (
                f"No object left{where}: every object is smaller than min size "
                f"{job.options['min_size']:g}. Lower 'min size'."
            )
        if result.emptied_by == "clear_border":
            return (
                f"No object left{where}: 'clear border' removed every object (each touches "
                "the image edge). Untick 'clear border'."
            )
        if result.top == 0:
            if job.mode == "colour":
                return (
                    f"No pixel{where} has a colour in the chosen range: widen the hue, "
                    "saturation or value range, or pick a colour."
                )
            used = result.threshold
            at = f" {float(used):.4g}" if used is not None and np.ndim(used) == 0 else ""
            side = "below" if job.options.get("dark_objects") else "above"
            return (
                f"No object found{where}: no pixel is {side} the threshold{at}. Change the "
                "method or value, or toggle 'dark objects'."
            )
        if job.options["output"] == "labels":
            noun = "object" if result.top == 1 else "objects"
            text = f"{result.top} {noun}{where}"
        else:
            text = f"mask{where}"
        used = result.threshold
        if used is not None and np.ndim(used) == 0:
            text += f", threshold {float(used):.4g}"
        elif used is not None and job.options.get("method") == "multiotsu":
            text += ", thresholds " + ", ".join(f"{float(v):.4g}" for v in used)
        return f"{text} → {self.output_layer.name!r}" if self.output_layer else text

    # ------------------------------------------------------------------------ colour pick
    def start_pick(self, *_: Any) -> None:
        """Wait for a click in the canvas and take the colour under it as the colour range."""
        if not self._is_rgb():
            self._report("Colour picking needs an RGB image layer.", notify=True)
            return
        if self._on_pick_click not in self._viewer.mouse_drag_callbacks:
            self._viewer.mouse_drag_callbacks.append(self._on_pick_click)
        self._report("Click a colour in the image…")

    def _on_pick_click(self, viewer: Any, event: Any) -> None:
        if event.type != "mouse_press":
            return
        if self._on_pick_click in viewer.mouse_drag_callbacks:
            viewer.mouse_drag_callbacks.remove(self._on_pick_click)
        self.pick_colour(event.position)

    def pick_colour(self, world_position: Any) -> tuple[float, float, float] | None:
        """Set the colour range around the RGB pixel at a world position; return its HSV."""
        layer = self._layer()
        if not self._is_rgb():
            self._report("Colour picking needs an RGB image layer.", notify=True)
            return None
        data = _level0(layer.data)
        coords = np.round(layer.world_to_data(world_position)).astype(int)
        shape = data.shape[:-1]
        if np.any(coords < 0) or np.any(coords >= np.asarray(shape)):
            self._report("The click was outside the image: pick a colour inside it.")
            return None
        pixel = np.asarray(data[tuple(coords)])
        _, saturation, value = hsv_range_around(
            pixel, saturation_tolerance=0.25, value_tolerance=0.25, dtype=data.dtype
        )
        hsv = rgb_to_hsv(pixel.reshape(1, 1, -1))[0, 0]
        # float RGB data outside [0, 1] gives ranges outside the sliders' (magicgui raised
        # "value -5.1 is outside of the allowed range", issue 12): clip them to the sliders
        saturation = _clip_range(saturation, self.saturation)
        value = _clip_range(value, self.brightness)
        with self.hue.changed.blocked(), self.saturation.changed.blocked():
            self.hue.value = float(np.clip(hsv[0], self.hue.min, self.hue.max))
            self.saturation.value = saturation
        self.mode.value = "colour"
        self.brightness.value = value  # one change event: one preview
        self._on_params_changed()
        return float(hsv[0]), float(hsv[1]), float(hsv[2])
