"""The steps a recipe can hold: one row of :data:`STEPS` per step, each wrapping a public function.

A step reads and updates a :class:`State` (the image as read, its grey working copy, the labels,
the measurement table). Lengths, areas and volumes are in the recipe's units (the pixel size
``State.spacing`` converts them), as the widgets work in a layer's ``scale``; ``block_size``
stays in pixels, as in :func:`napari_coco_masks.segment.threshold`.

Adding a step (a pixel classifier, edges, ...) is one function and one :data:`STEPS` row:
its parameters with their kinds and defaults, and whether it needs labels already.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .model import RecipeError, Step

__all__ = ["STEPS", "Param", "State", "StepSpec", "check_order", "check_step", "run_steps"]

REQUIRED = object()  #: a parameter without a default (a recipe must give it)


@dataclass
class State:
    """What the steps work on, for one image.

    Attributes
    ----------
    image : (Z, Y, X[, C]) or (Y, X[, C]) ndarray
        The image as read (RGB(A) when ``rgb``).
    rgb : bool
        The last axis holds colour channels.
    spacing : tuple of float
        Pixel size per spatial axis, in the recipe's units.
    units : str, optional
        Unit of ``spacing`` (for the measurement headers).
    grey : ndarray, optional
        The smoothed grey image once a ``smooth`` step ran.
    labels : ndarray of int32, optional
        The objects, once a segmenting step ran.
    table : pandas.DataFrame, optional
        The measurements, once ``measure`` ran.
    """

    image: np.ndarray
    rgb: bool
    spacing: tuple[float, ...]
    units: str | None = None
    grey: np.ndarray | None = None
    labels: np.ndarray | None = None
    table: pd.DataFrame | None = None
    #: The recipe's folder, where relative file paths of steps are found (None: the working
    #: directory).
    recipe_dir: str | None = None

    def intensity(self) -> np.ndarray:
        """The grey image (the widgets' luminance of RGB, in the image's own range)."""
        if self.grey is not None:
            return self.grey
        if self.rgb:
            from ..segment import luminance

            return luminance(self.image)
        return self.image

    def need_labels(self, step: str) -> np.ndarray:
        if self.labels is None:  # check_order makes this unreachable for a parsed recipe
            raise RecipeError(f"{step} needs objects: put a segmenting step before it")
        return self.labels


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Param:
    """A step parameter: its kind (see :data:`_KINDS`), default, and lowest allowed value."""

    kind: str
    default: Any = REQUIRED
    low: float | None = None
    choices: tuple[str, ...] = ()


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_points(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(
        isinstance(p, list) and p and all(_is_number(c) for c in p) for p in v
    )


#: kind -> (test, description used in the error message)
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "number": (_is_number, "a number"),
    "number?": (lambda v: v is None or _is_number(v), "a number or null"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "int?": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
             "an integer or null"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "choice": (lambda v: isinstance(v, str), "one of the names"),
    "range": (lambda v: isinstance(v, list) and len(v) == 2 and all(map(_is_number, v)),
              "a pair of numbers [low, high]"),
    "channel": (lambda v: v == "luminance" or (isinstance(v, int) and not isinstance(v, bool)),
                "'luminance' or a channel index"),
    "names?": (lambda v: v is None or (isinstance(v, list) and all(isinstance(s, str) for s in v)),
               "a list of names or null"),
    "points": (lambda v: v == "labels" or _is_points(v),
               "'labels' or a list of points [[row, col], ...] in physical units"),
}  # fmt: skip


def _check_value(where: str, key: str, param: Param, value: Any) -> Any:
    test, text = _KINDS[param.kind]
    if isinstance(value, tuple):
        value = list(value)
    if param.kind in ("number", "number?") and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not test(value):
        raise RecipeError(f"{where}: `{key}` must be {text}, got {value!r} "
                          f"({type(value).__name__})")
    if param.choices and value not in param.choices:
        raise RecipeError(f"{where}: `{key}` must be one of {', '.join(param.choices)}, "
                          f"got {value!r}")
    if key == "method" and param.kind == "choice" and not param.choices:
        from ..segment.threshold import METHODS, normalize_method

        try:
            value = normalize_method(value)
        except ValueError:
            raise RecipeError(f"{where}: `method` must be one of {', '.join(METHODS)}, "
                              f"got {value!r}") from None
    if param.low is not None and _is_number(value) and value < param.low:
        raise RecipeError(f"{where}: `{key}` must be >= {param.low:g}, got {value!r}")
    return value


@dataclass(frozen=True)
class StepSpec:
    """A row of :data:`STEPS`: the function, its parameters, whether it needs labels."""

    run: Callable[..., None]
    params: Mapping[str, Param] = field(default_factory=dict)
    needs_labels: bool = False
    segments: bool = False  #: makes (new) labels from the image
    doc: str = ""


def check_step(index: int, item: Any) -> Step:
    """Validate ``steps[index]`` (a ``{name: {params}}`` mapping); return it with defaults."""
    where = f"steps[{index}]"
    if isinstance(item, str):
        item = {item: {}}
    if not isinstance(item, Mapping) or len(item) != 1:
        raise RecipeError(f"{where}: a step is a one-key mapping {{name: {{parameters}}}}, "
                          f"got {item!r}")
    ((name, params),) = item.items()
    if name not in STEPS:
        raise RecipeError(f"{where}: unknown step {name!r}; the steps are {', '.join(STEPS)}")
    where = f"{where} ({name})"
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise RecipeError(f"{where}: the parameters must be a mapping, got {params!r}")
    spec = STEPS[name].params
    unknown = sorted(set(params) - set(spec))
    if unknown:
        known = ", ".join(spec) or "none"
        raise RecipeError(f"{where}: unknown key {unknown[0]!r}; its keys are {known}")
    out = {}
    for key, param in spec.items():
        if key in params:
            out[key] = _check_value(where, key, param, params[key])
        elif param.default is REQUIRED:
            raise RecipeError(f"{where}: missing key {key!r} (required)")
        else:
            out[key] = param.default
    return Step(name, out)


def check_order(steps: Sequence[Step]) -> None:
    """Refuse a recipe whose steps cannot run in order (objects needed before a segmenting step)."""
    makers = ", ".join(name for name, spec in STEPS.items() if spec.segments)
    have_labels = False
    for index, step in enumerate(steps):
        spec = STEPS[step.name]
        uses_labels = "labels" in (step.params.get("markers"), step.params.get("seeds"))
        if (spec.needs_labels or uses_labels) and not have_labels:
            raise RecipeError(
                f"steps[{index}] ({step.name}): needs objects, but no step before it makes "
                f"them: put one of {makers} first"
            )
        have_labels |= spec.segments
    if not have_labels:
        raise RecipeError(f"no step makes objects: add one of {makers}")


def run_steps(steps: Sequence[Step], state: State) -> State:
    """Run ``steps`` on ``state`` in order; return it (labels int32, measured)."""
    for step in steps:
        STEPS[step.name].run(state, **step.params)
    if state.table is None:
        _measure(state)
    return state


# --------------------------------------------------------------------------- the steps


def _pixels(state: State) -> float:
    return math.prod(state.spacing)


def _points_to_pixels(points: list, spacing: Sequence[float]) -> np.ndarray:
    return np.asarray(points, dtype=float) / np.asarray(spacing, dtype=float)


def _smooth(state: State, *, sigma: float) -> None:
    from scipy import ndimage as ndi

    grey = state.intensity()
    sigma_px = [sigma / s for s in state.spacing]
    state.grey = ndi.gaussian_filter(grey.astype(np.float64, copy=False), sigma_px,
                                     mode="nearest", truncate=4.0)


def _threshold(state: State, *, channel: Any, **options: Any) -> None:
    from ..segment import threshold

    if state.grey is None and state.rgb:
        labels = threshold(state.image, channel_axis=-1, channel=channel,
                           spacing=state.spacing, **options)
    else:
        labels = threshold(state.intensity(), spacing=state.spacing, **options)
    state.labels = np.asarray(labels, dtype=np.int32)


def _colour_mask(state: State, *, hue: list, saturation: list, value: list, **clean: Any) -> None:
    from ..segment import colour_labels

    if not state.rgb:
        raise ValueError("colour_mask needs an RGB image; this image is grey")
    ((_, labels),) = colour_labels(state.image, tuple(hue), tuple(saturation), tuple(value),
                                   spacing=state.spacing, **clean)
    state.labels = np.asarray(labels, dtype=np.int32)


def _fill_holes(state: State) -> None:
    from scipy import ndimage as ndi

    labels = state.need_labels("fill_holes").copy()
    for index, box in enumerate(ndi.find_objects(labels)):
        if box is not None:
            filled = ndi.binary_fill_holes(labels[box] == index + 1)
            labels[box][filled & (labels[box] == 0)] = index + 1
    state.labels = labels


def _relabel(labels: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """``labels`` without the values flagged in ``drop``, renumbered 1..n in order."""
    drop[0] = False
    if not drop.any():
        return labels
    keep = ~drop
    mapping = (np.cumsum(keep) - 1).astype(np.int32)
    mapping[drop] = 0
    return mapping[labels]


def _remove_small(state: State, *, min_size: float) -> None:
    labels = state.need_labels("remove_small")
    counts = np.bincount(labels.ravel())
    state.labels = _relabel(labels, counts * _pixels(state) < min_size)


def _clear_border(state: State) -> None:
    labels = state.need_labels("clear_border")
    edges = np.concatenate([np.moveaxis(labels, axis, 0)[[0, -1]].ravel()
                            for axis in range(labels.ndim)])
    drop = np.zeros(int(labels.max(initial=0)) + 1, bool)
    drop[edges] = True
    state.labels = _relabel(labels, drop)


def _split_touching(state: State, *, min_distance: float, h: float | None) -> None:
    from ..segment import split_touching

    labels = state.need_labels("split_touching")
    state.labels = np.asarray(
        split_touching(labels, min_distance=min_distance, spacing=state.spacing, h=h), np.int32
    )


def _label_seeds(labels: np.ndarray) -> np.ndarray:
    """One seed pixel per object: the pixel farthest from its border."""
    from scipy import ndimage as ndi

    values = np.unique(labels[labels > 0])
    distance = ndi.distance_transform_edt(labels > 0)
    return np.asarray(ndi.maximum_position(distance, labels, values), dtype=float).reshape(
        -1, labels.ndim
    )


def _watershed(state: State, *, markers: Any, compactness: float, gradient: bool,
               connectivity: int) -> None:
    from ..segment import watershed

    if markers == "labels":
        seeds: Any = state.need_labels("watershed")
    else:
        seeds = _points_to_pixels(markers, state.spacing)
    state.labels = np.asarray(
        watershed(state.intensity(), seeds, compactness=compactness, gradient=gradient,
                  connectivity=connectivity), np.int32)  # fmt: skip


def _grow_regions(state: State, *, seeds: Any, max_size: float | None, **options: Any) -> None:
    from ..segment import grow_regions

    if seeds == "labels":
        points = _label_seeds(state.need_labels("grow_regions"))
    else:
        points = _points_to_pixels(seeds, state.spacing)
    limit = None if max_size is None else max(1, int(max_size / _pixels(state)))
    if not len(points):
        state.labels = np.zeros(state.image.shape[: state.image.ndim - state.rgb], np.int32)
        return
    state.labels = np.asarray(
        grow_regions(state.intensity(), points, max_size=limit, **options), np.int32
    )


def _measure(state: State, *, properties: list | None = None, intensity: bool = True) -> None:
    from ..segment import measure

    labels = state.need_labels("measure")
    grey = state.intensity() if intensity else None
    state.table = measure(labels, grey, spacing=state.spacing, units=state.units,
                          properties=properties)


_CLEAN = {
    "fill_holes": Param("bool", False),
    "min_size": Param("number", 0.0, low=0),
    "clear_border": Param("bool", False),
    "connectivity": Param("int?", None),
}

#: The step registry: name -> what it runs and its parameters (kinds, defaults).
STEPS: dict[str, StepSpec] = {
    "smooth": StepSpec(_smooth, {"sigma": Param("number", low=0)},
                       doc="Gaussian smoothing of the grey image (sigma in physical units)"),
    "threshold": StepSpec(_threshold, {
        "method": Param("choice"),
        "value": Param("number?", None),
        "dark_objects": Param("bool", False),
        "sigma": Param("number", 0.0, low=0),
        "block_size": Param("int?", None),
        "offset": Param("number", 0.0),
        "classes": Param("int", 3, low=2),
        "k": Param("number", 0.2),
        **_CLEAN,
        "channel": Param("channel", "luminance"),
    }, segments=True, doc="segment.threshold (every method of the Threshold widget)"),
    "colour_mask": StepSpec(_colour_mask, {
        "hue": Param("range", [0.0, 360.0]),
        "saturation": Param("range", [0.0, 1.0]),
        "value": Param("range", [0.0, 1.0]),
        **_CLEAN,
    }, segments=True, doc="segment.colour_labels (the Threshold widget's colour mode)"),
    "fill_holes": StepSpec(_fill_holes, needs_labels=True, doc="fill each object's holes"),
    "remove_small": StepSpec(_remove_small, {"min_size": Param("number", low=0)},
                             needs_labels=True, doc="drop objects smaller than min_size"),
    "clear_border": StepSpec(_clear_border, needs_labels=True,
                             doc="drop objects touching the image border"),
    "split_touching": StepSpec(_split_touching, {
        "min_distance": Param("number", 5.0, low=0),
        "h": Param("number?", None),
    }, needs_labels=True, doc="segment.split_touching"),
    "watershed": StepSpec(_watershed, {
        "markers": Param("points"),
        "compactness": Param("number", 0.0, low=0),
        "gradient": Param("bool", False),
        "connectivity": Param("int", 1, low=1),
    }, segments=True, doc="segment.watershed from the objects so far ('labels') or points"),
    "grow_regions": StepSpec(_grow_regions, {
        "seeds": Param("points"),
        "mode": Param("choice", "range", choices=("range", "confidence")),
        "tolerance": Param("number?", None),
        "lower": Param("number?", None),
        "upper": Param("number?", None),
        "multiplier": Param("number", 2.5, low=0),
        "iterations": Param("int", 4, low=0),
        "radius": Param("int", 1, low=0),
        "connectivity": Param("int", 1, low=1),
        "max_size": Param("number?", None),
    }, segments=True, doc="segment.grow_regions from points or from each object's centre"),
    "measure": StepSpec(_measure, {
        "properties": Param("names?", None),
        "intensity": Param("bool", True),
    }, needs_labels=True, doc="segment.measure (physical units)"),
}  # fmt: skip

# register the steps of issue 16 and the widgets' preprocess, morphology, input_labels
from . import steps_learned, steps_widgets  # noqa: E402, F401
