"""The worker side of the threshold widget: no layer, no Qt.

A :class:`Job` is read from the controls on the Qt thread; :func:`run_job` computes it in a
worker (yielding once per frame) and returns a :class:`Result`; :func:`describe` says what the
result is in the status line; :func:`value_range` fits the histogram and the manual-value
slider to an image. The controls' choices (``METHOD_CHOICES``, ...) name the values a job takes.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from napari_coco_masks._widgets._base import bin_range, sample
from napari_coco_masks._widgets._progress import drain
from napari_coco_masks.segment._frames import UniqueIds, map_frames
from napari_coco_masks.segment.colour import colour_labels
from napari_coco_masks.segment.morphology import (
    close_labels,
    dilate_labels,
    erode_labels,
    fill_label_holes,
    open_labels,
)
from napari_coco_masks.segment.preprocess import (
    contrast_stretch,
    median,
    rolling_ball,
    white_tophat,
)
from napari_coco_masks.segment.threshold import (
    iter_threshold_frames,
    luminance,
    threshold_labels,
)

__all__ = ["Job", "Result", "ValueRange", "compact_labels", "describe", "run_job",
           "run_job_now", "value_range"]  # fmt: skip

# The widget's choices, (label, value): the values are what a Job understands (``options``
# method and output, ``time_axis``/``per_frame`` from the stack mode, ``prepare``, ``morphology``).
METHOD_CHOICES = [
    ("Otsu", "otsu"), ("Li", "li"), ("Yen", "yen"), ("Triangle", "triangle"),
    ("Isodata", "isodata"), ("Mean", "mean"), ("Minimum", "minimum"),
    ("Multi-Otsu", "multiotsu"), ("Manual value", "manual"), ("Local mean", "local_mean"),
    ("Local Gaussian", "local_gaussian"), ("Sauvola", "sauvola"), ("Niblack", "niblack"),
]  # fmt: skip
STACK_CHOICES = [
    ("volume (nD)", "volume"),
    ("time series (axis 0): per frame", "per_frame"),
    ("time series (axis 0): one threshold", "global"),
]
PREPARE_CHOICES = [
    ("none", ""), ("median", "median"), ("background: white top-hat", "white_tophat"),
    ("background: rolling ball", "rolling_ball"), ("contrast stretch (2-98 %)", "contrast_stretch"),
]  # fmt: skip
MORPHOLOGY_CHOICES = [
    ("none", ""), ("open", "open"), ("close", "close"), ("erode", "erode"),
    ("dilate (no merging)", "dilate"), ("fill holes per object", "fill_holes"),
]  # fmt: skip
OUTPUT_CHOICES = [
    ("labels (objects)", "labels"), ("binary mask", "binary"), ("classes (multi-Otsu)", "classes"),
]  # fmt: skip


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
    #: Preprocessing of the grey image before the threshold: (step, radius), "" for none.
    prepare: tuple[str, int] = ("", 0)
    #: Morphology on the labels after the threshold: (step, radius), "" for none.
    morphology: tuple[str, int] = ("", 0)


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
    #: When nothing was found: the step that removed every object ("min_size",
    #: "clear_border" or "morphology"), or "" when no pixel passed the threshold at all.
    emptied_by: str = ""


#: The preprocessing steps (grey image, radius in pixels) and the label morphology steps.
PREPARE = {
    "median": median,
    "white_tophat": white_tophat,
    "rolling_ball": rolling_ball,
    "contrast_stretch": lambda image, _radius: contrast_stretch(image),
}
MORPHOLOGY = {
    "open": open_labels,
    "close": close_labels,
    "erode": erode_labels,
    "dilate": dilate_labels,
    "fill_holes": lambda labels, _radius: fill_label_holes(labels),
}


def _grey_series(job: Job) -> Any:
    """The grey stack a time-series job thresholds (a channel or the luminance of RGB)."""
    if not job.rgb:
        return job.data
    if job.channel == "luminance":
        return luminance(job.data)
    return np.asarray(job.data)[..., int(job.channel)]


def _prepared(job: Job, grey: Any) -> Any:
    """A grey image or frame after the job's preprocessing (unchanged without one)."""
    step, radius = job.prepare
    return grey if not step else PREPARE[step](np.asarray(grey), radius)


def _iter_prepared(job: Job) -> Iterator[tuple[int | None, np.ndarray, Any]]:
    """:func:`_iter_job` of a threshold job with preprocessing: frame by frame (only the
    frames asked for), or the whole series prepared first for one series-wide threshold."""
    grey = _grey_series(job)
    if job.time_axis is None:
        yield None, *threshold_labels(_prepared(job, grey), **job.options)
        return
    series = np.moveaxis(np.asarray(grey), job.time_axis, 0)
    if not job.per_frame:
        prepared = np.stack([_prepared(job, frame) for frame in series])
        yield from iter_threshold_frames(prepared, per_frame=False, frames=job.frames,
                                         **job.options)  # fmt: skip
        return
    spacing = job.options.get("spacing")
    frame_options = {**job.options, "spacing": None if spacing is None else
                     tuple(np.ravel(spacing))[-(series.ndim - 1):]}  # fmt: skip
    ids = UniqueIds()
    for index, (labels, used) in map_frames(
        len(series), lambda i: threshold_labels(_prepared(job, series[i]), **frame_options),
        job.frames,
    ):
        yield index, ids(labels) if job.options["output"] == "labels" else labels, used


def _iter_job(job: Job) -> Iterator[tuple[int | None, np.ndarray, Any]]:
    """Yield ``(frame or None, labels, threshold)`` for a job, frame by frame for a series."""
    if job.mode == "threshold" and job.prepare[0]:
        yield from _iter_prepared(job)
        return
    if job.mode == "colour":
        for index, labels in colour_labels(
            job.data, frame_axis=job.time_axis, frames=job.frames, **job.options
        ):
            yield index, labels, None
        return
    if job.time_axis is None:
        labels, used = threshold_labels(
            job.data, channel_axis=-1 if job.rgb else None, channel=job.channel, **job.options
        )
        yield None, labels, used
        return
    yield from iter_threshold_frames(
        _grey_series(job), frame_axis=job.time_axis, per_frame=job.per_frame,
        frames=job.frames, **job.options,
    )  # fmt: skip


def run_job(job: Job) -> Generator[None, None, Result]:
    """Worker body: yield once per frame (progress), return a :class:`Result`.

    Bad input (a ``ValueError`` from the pure functions) comes back as ``Result.error`` text,
    so the widget shows one message and no traceback.
    """
    result = Result()
    step, radius = job.morphology
    reshape = step and job.options.get("output") != "classes"
    found = 0
    try:
        for index, labels, used in _iter_job(job):
            found = max(found, int(labels.max(initial=0)))
            if reshape:
                labels = MORPHOLOGY[step](labels, radius)
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
            result.emptied_by = "morphology" if found else _emptied_by(job)
        elif job.time_axis is not None and job.frames is None:
            result.labels = compact_labels(result.labels)  # a whole series (Apply)
    except ValueError as error:
        result.error = str(error)
    return result


def run_job_now(job: Job) -> Result:
    """Run :func:`run_job` to the end in the calling thread (benchmarks, tests)."""
    return drain(run_job(job))


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


def _empty_text(job: Job, result: Result, where: str) -> str:
    """Why a result holds no object, and what to change."""
    if result.emptied_by == "min_size":
        return (
            f"No object left{where}: every object is smaller than min size "
            f"{job.options['min_size']:g}. Lower 'min size'."
        )
    if result.emptied_by == "morphology":
        return (
            f"No object left{where}: '{job.morphology[0].replace('_', ' ')}' by "
            f"{job.morphology[1]} px removed every object. Use a smaller radius."
        )
    if result.emptied_by == "clear_border":
        return (
            f"No object left{where}: 'clear border' removed every object (each touches "
            "the image edge). Untick 'clear border'."
        )
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


def describe(job: Job, result: Result, output: str) -> str:
    """The status line of a result shown in the layer called ``output``."""
    where = "" if not result.frames else f" in frame {result.frames[0][0]}"
    if result.top == 0:
        return _empty_text(job, result, where)
    if job.options["output"] == "labels":
        text = f"{result.top} {'object' if result.top == 1 else 'objects'}{where}"
    else:
        text = f"mask{where}"
    used = result.threshold
    if used is not None and np.ndim(used) == 0:
        text += f", threshold {float(used):.4g}"
    elif used is not None and job.options.get("method") == "multiotsu":
        text += ", thresholds " + ", ".join(f"{float(v):.4g}" for v in used)
    return f"{text} → {output!r}" if output else text


@dataclass(frozen=True)
class ValueRange:
    """The histogram of an image and the manual-value slider's range over it."""

    counts: np.ndarray
    edges: np.ndarray
    low: float
    high: float
    step: float
    #: False when magicgui's slider cannot span the range (its int32 steps, ~6 decimals).
    fits: bool

    @property
    def slider(self) -> tuple[float, float, float]:
        """``(min, max, step)`` of the manual-value slider (0 to 1 when the range won't fit)."""
        return (self.low, self.high, self.step) if self.fits else (0.0, 1.0, 1e-3)


def value_range(data: Any, rgb: bool, channel: str | int) -> ValueRange | None:
    """Histogram (128 bins) of an image's grey values and a slider range; None if no value."""
    values = sample(data, data.ndim - int(rgb))
    if rgb:
        values = luminance(values) if channel == "luminance" else values[..., 0]
    values = values[np.isfinite(values)] if values.dtype.kind == "f" else values.ravel()
    if values.size == 0:
        return None
    low, high = float(values.min()), float(values.max())
    if isinstance(data, np.ndarray) and not rgb and data.dtype.kind in "iub":
        low, high = float(data.min()), float(data.max())
    # 128 bins need a range of at least 128 representable steps: widen one that is too
    # narrow (a constant 1e20, denormals) and bin in float64 (float16 edges cannot step
    # by 1 at 50000); np.histogram raised "Too many bins for data range" (issue 12)
    span = bin_range(low, high, 1024)
    span = span[1] - span[0]
    if values.dtype.kind == "f" and values.dtype.itemsize < 8:
        values = values.astype(np.float64)
    counts, edges = np.histogram(values, bins=128, range=(low, low + span))
    step = 1.0 if data.dtype.kind in "iub" and span >= 100 else span / 1000
    fits = step >= 1e-6 and max(abs(low), abs(low + span)) / step < 2e9
    return ValueRange(counts, edges, low, low + span, step, fits)
