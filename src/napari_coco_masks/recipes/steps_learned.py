"""Recipe steps of the learned and colour/edge segmenters (issue 16), registered into :data:`STEPS`.

Each step wraps the public function its widget calls, with the same parameters, so a recipe's
result equals the widget's: ``pixel_classifier`` (a classifier saved by the *Learn from
examples* widget), ``kmeans_colour``, ``slic``, ``felzenszwalb``, ``canny_objects``,
``edge_watershed``, ``log`` (a filter of the grey image, like ``smooth``) and ``onnx_model``.
Lengths and areas are in the recipe's units, as in :mod:`.steps`.

File parameters (``classifier``, ``model``) are paths: absolute, or relative to the recipe's
folder when the runner knows it (``State.recipe_dir``), else to the current directory. Files
are read once per process and kept while they do not change.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .steps import _KINDS, STEPS, Param, State, StepSpec, _is_number

__all__ = ["LEARNED_STEPS", "resolve_file"]

_INSTANCES = ("connected", "split", "none")

# kinds these steps need beyond steps.py's
_KINDS.setdefault("ints?", (lambda v: v is None or (isinstance(v, list) and all(
    isinstance(i, int) and not isinstance(i, bool) for i in v)), "a list of integers or null"))
_KINDS.setdefault("numbers", (lambda v: _is_number(v) or (isinstance(v, list) and bool(v) and all(
    map(_is_number, v))), "a number or a list of numbers (one per channel)"))

_CACHE: dict[tuple[str, int], Any] = {}


def resolve_file(state: State, path: str) -> Path:
    """``path`` as given when absolute, else relative to the recipe's folder (or the cwd)."""
    target = Path(os.path.expanduser(path))
    if not target.is_absolute():
        target = Path(getattr(state, "recipe_dir", None) or os.getcwd()) / target
    if not target.is_file():
        raise ValueError(f"no file at {target} (from the recipe's {path!r})")
    return target


def _cached(path: Path, load: Any) -> Any:
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _CACHE:
        _CACHE.clear()  # one model per process at a time: they can be large
        _CACHE[key] = load(path)
    return _CACHE[key]


def _objects(state: State, semantic: np.ndarray, classes: list[int], instances: str,
             min_distance: float) -> None:
    """Objects of the ``classes`` pixels: connected, split (watershed), or the class map."""
    from ..segment.classifier import semantic_to_instances
    from ..segment.watershed import split_touching

    if instances == "none":
        state.labels = np.where(np.isin(semantic, classes), semantic, 0).astype(np.int32)
        return
    split = (partial(split_touching, min_distance=min_distance, spacing=state.spacing)
             if instances == "split" else None)  # fmt: skip
    state.labels = semantic_to_instances(semantic, classes, split=split)


def _pixel_classifier(state: State, *, classifier: str, object_classes: list | None,
                      instances: str, min_distance: float) -> None:
    from ..segment.classifier import load_classifier, predict_pixels

    clf = _cached(resolve_file(state, classifier), load_classifier)
    if clf.n_channels > 1:
        semantic = predict_pixels(clf, state.image, spacing=state.spacing, channel_axis=-1)
    else:
        semantic = predict_pixels(clf, state.intensity(), spacing=state.spacing)
    classes = object_classes or [int(c) for c in clf.classes if int(c) != 1]
    _objects(state, semantic, classes, instances, min_distance)


def _channel_axis(state: State) -> int | None:
    return -1 if state.rgb else None


def _kmeans_colour(state: State, *, n_clusters: int, space: str) -> None:
    from ..segment.clusters import kmeans_colour

    image = state.image if state.rgb else state.intensity()
    state.labels = kmeans_colour(image, n_clusters, channel_axis=_channel_axis(state), space=space)


def _slic(state: State, *, n_segments: int, compactness: float, sigma: float) -> None:
    from ..segment.clusters import slic_superpixels

    image = state.image if state.rgb else state.intensity()
    state.labels = slic_superpixels(image, n_segments, compactness,
                                    channel_axis=_channel_axis(state), sigma=sigma,
                                    spacing=state.spacing)  # fmt: skip


def _felzenszwalb(state: State, *, scale: float, sigma: float, min_size: float) -> None:
    from ..segment.clusters import felzenszwalb_segments

    image = state.image if state.rgb else state.intensity()
    state.labels = felzenszwalb_segments(image, scale, sigma, min_size,
                                         channel_axis=_channel_axis(state),
                                         spacing=state.spacing)  # fmt: skip


def _canny_objects(state: State, *, sigma: float, low_threshold: float | None,
                   high_threshold: float | None, use_quantiles: bool, min_size: float) -> None:
    from ..segment.edges import canny, edges_to_objects

    edges = canny(state.intensity(), sigma, low_threshold=low_threshold,
                  high_threshold=high_threshold, use_quantiles=use_quantiles,
                  spacing=state.spacing)  # fmt: skip
    state.labels = edges_to_objects(edges, min_size=min_size, spacing=state.spacing)


def _edge_watershed(state: State, *, markers: Any, method: str, sigma: float,
                    compactness: float) -> None:
    from ..segment import watershed
    from ..segment.edges import edge_magnitude

    if markers == "labels":
        seeds: Any = state.need_labels("edge_watershed")
    else:
        seeds = np.asarray(markers, dtype=float) / np.asarray(state.spacing, dtype=float)
    elevation = edge_magnitude(state.intensity(), method, sigma=sigma, spacing=state.spacing)
    state.labels = np.asarray(watershed(elevation, seeds, compactness=compactness), np.int32)


def _log(state: State, *, sigma: float, normalise: bool) -> None:
    from ..segment.edges import laplacian_of_gaussian

    state.grey = laplacian_of_gaussian(state.intensity(), sigma, spacing=state.spacing,
                                       normalise=normalise)  # fmt: skip


def _onnx_model(state: State, *, model: str, layout: str, scale: float, mean: Any, std: Any,
                tile_size: int | None, overlap: int, multiple: int, threshold: float,
                object_classes: list | None, instances: str, min_distance: float) -> None:
    from ..segment.onnx_model import load_onnx_model, predict_onnx

    loaded = _cached(resolve_file(state, model), partial(load_onnx_model, layout=layout))
    image = state.image if state.rgb else state.intensity()
    semantic = predict_onnx(loaded, image, channel_axis=_channel_axis(state), scale=scale,
                            mean=tuple(mean) if isinstance(mean, list) else mean,
                            std=tuple(std) if isinstance(std, list) else std,
                            tile_size=tile_size, overlap=overlap, threshold=threshold,
                            multiple=multiple)  # fmt: skip
    classes = object_classes or [int(c) for c in np.unique(semantic) if c != 0]
    _objects(state, semantic, classes, instances, min_distance)


_TO_OBJECTS = {
    "object_classes": Param("ints?", None),
    "instances": Param("choice", "connected", choices=_INSTANCES),
    "min_distance": Param("number", 5.0, low=0),
}

#: The steps of this module (merged into :data:`.steps.STEPS`).
LEARNED_STEPS: dict[str, StepSpec] = {
    "pixel_classifier": StepSpec(_pixel_classifier, {
        "classifier": Param("choice"), **_TO_OBJECTS,
    }, segments=True, doc="segment.classifier.predict_pixels with a saved .skops classifier"),
    "kmeans_colour": StepSpec(_kmeans_colour, {
        "n_clusters": Param("int", 4, low=1),
        "space": Param("choice", "lab", choices=("lab", "rgb")),
    }, segments=True, doc="segment.clusters.kmeans_colour (clusters as labels)"),
    "slic": StepSpec(_slic, {
        "n_segments": Param("int", 100, low=1),
        "compactness": Param("number", 10.0, low=0),
        "sigma": Param("number", 0.0, low=0),
    }, segments=True, doc="segment.clusters.slic_superpixels"),
    "felzenszwalb": StepSpec(_felzenszwalb, {
        "scale": Param("number", 100.0, low=0),
        "sigma": Param("number", 0.8, low=0),
        "min_size": Param("number", 20.0, low=0),
    }, segments=True, doc="segment.clusters.felzenszwalb_segments"),
    "canny_objects": StepSpec(_canny_objects, {
        "sigma": Param("number", 1.0, low=0),
        "low_threshold": Param("number?", None),
        "high_threshold": Param("number?", None),
        "use_quantiles": Param("bool", False),
        "min_size": Param("number", 0.0, low=0),
    }, segments=True, doc="segment.edges.edges_to_objects of segment.edges.canny"),
    "edge_watershed": StepSpec(_edge_watershed, {
        "markers": Param("points"),
        "method": Param("choice", "sobel", choices=("sobel", "scharr", "prewitt")),
        "sigma": Param("number", 0.0, low=0),
        "compactness": Param("number", 0.0, low=0),
    }, segments=True, doc="segment.watershed on segment.edges.edge_magnitude"),
    "log": StepSpec(_log, {
        "sigma": Param("number", 1.0, low=0),
        "normalise": Param("bool", True),
    }, doc="segment.edges.laplacian_of_gaussian of the grey image (a filter, like smooth)"),
    "onnx_model": StepSpec(_onnx_model, {
        "model": Param("choice"),
        "layout": Param("choice", "auto", choices=("auto", "NCHW", "NHWC")),
        "scale": Param("number", 1.0),
        "mean": Param("numbers", 0.0),
        "std": Param("numbers", 1.0),
        "tile_size": Param("int?", None),
        "overlap": Param("int", 32, low=0),
        "multiple": Param("int", 1, low=1),
        "threshold": Param("number", 0.5),
        **_TO_OBJECTS,
    }, segments=True, doc="segment.onnx_model.predict_onnx with your .onnx file"),
}  # fmt: skip

STEPS.update(LEARNED_STEPS)
