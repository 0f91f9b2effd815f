"""Recipe steps the widgets run beside a threshold, registered into :data:`~.steps.STEPS`.

* ``preprocess`` — the Threshold widget's *preprocess* (median, white top-hat, rolling ball,
  contrast stretch) of the grey image (a channel or the luminance of RGB), before ``threshold``;
* ``morphology`` — its *then* step on the objects (open, close, erode, dilate, fill holes per
  object), after it;
* ``input_labels`` — the image *is* the objects: a label image, or a mask (non-zero pixels),
  as the Watershed widget's *split touching objects* and the Measure widget read a layer.

Radii are in pixels, as in the widget and :mod:`napari_coco_masks.segment.preprocess`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .steps import STEPS, Param, State, StepSpec

__all__ = ["MORPHOLOGY", "PREPROCESS"]

#: preprocess method -> function(grey, radius in pixels)
PREPROCESS = ("median", "white_tophat", "rolling_ball", "contrast_stretch")
#: morphology operation -> function(labels, radius in pixels)
MORPHOLOGY = ("open", "close", "erode", "dilate", "fill_holes")


def _grey(state: State, channel: Any) -> np.ndarray:
    if state.grey is None and state.rgb and channel != "luminance":
        return np.asarray(state.image)[..., int(channel)]
    return state.intensity()


def _preprocess(state: State, *, method: str, radius: int, channel: Any) -> None:
    from ..segment import preprocess

    grey = _grey(state, channel)
    if method == "contrast_stretch":
        state.grey = preprocess.contrast_stretch(grey)
    else:
        state.grey = getattr(preprocess, method)(grey, radius)


def _morphology(state: State, *, operation: str, radius: int) -> None:
    from ..segment import morphology

    labels = state.need_labels("morphology")
    if operation == "fill_holes":
        out = morphology.fill_label_holes(labels)
    else:
        out = getattr(morphology, f"{operation}_labels")(labels, radius)
    state.labels = np.asarray(out, np.int32)


def _input_labels(state: State, *, mask: bool) -> None:
    if state.rgb:
        raise ValueError("input_labels needs a label image or a mask; this image is RGB")
    data = np.asarray(state.image)
    if mask:
        state.labels = (data != 0).astype(np.int32)
    elif data.dtype.kind not in "uib":
        raise ValueError(f"input_labels needs an integer label image, got dtype {data.dtype}: "
                         "set `mask: true` to take its non-zero pixels")
    else:
        state.labels = data.astype(np.int32)


STEPS["preprocess"] = StepSpec(_preprocess, {
    "method": Param("choice", choices=PREPROCESS),
    "radius": Param("int", 15, low=1),
    "channel": Param("channel", "luminance"),
}, doc="the Threshold widget's preprocess of the grey image (radius in pixels)")
STEPS["morphology"] = StepSpec(_morphology, {
    "operation": Param("choice", choices=MORPHOLOGY),
    "radius": Param("int", 1, low=1),
}, needs_labels=True, doc="the Threshold widget's morphology of each object (radius in pixels)")
STEPS["input_labels"] = StepSpec(_input_labels, {
    "mask": Param("bool", False),
}, segments=True, doc="the image holds the objects: labels, or a mask (`mask: true`)")
