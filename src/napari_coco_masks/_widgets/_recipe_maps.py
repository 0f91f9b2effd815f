"""Each segmentation widget's settings as recipe steps, and recipe steps back into its controls.

One pair of functions per widget: ``<widget>_recipe(widget) -> Recipe`` (the steps its Apply
runs, lengths and areas in the layer's physical units, ``spacing`` = the layer's scale) and
``set_<widget>(widget, recipe)`` (the controls of a recipe of those steps). A setting that has
no recipe raises ``ValueError``; a recipe the widget cannot show raises
:class:`~napari_coco_masks.recipes.RecipeError` before any control changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from napari.layers import Image, Labels, Points

from napari_coco_masks._widgets._base import (
    axis_unit,
    layer_geometry,
    layer_spacing,
    level0,
    points_to_image,
)
from napari_coco_masks.recipes import Recipe, RecipeError, Step, from_widget_settings

__all__ = ["measure_recipe", "region_recipe", "set_measure", "set_region", "set_threshold",
           "set_watershed", "threshold_recipe", "watershed_recipe"]  # fmt: skip


# ----------------------------------------------------------------------------- shared


def _units(layer: Any) -> str | None:
    unit = axis_unit(layer)
    return None if unit in ("px", "pixel") else unit


def _recipe(steps: list, layer: Any, ndim: int, description: str = "") -> Recipe:
    recipe = from_widget_settings(steps, scale=layer_spacing(layer, ndim), units=_units(layer))
    if not description:
        return recipe
    return Recipe(recipe.steps, recipe.category, recipe.units, recipe.spacing,
                  recipe.plugin_version, description)  # fmt: skip


def _match(recipe: Recipe, widget: str, first: Sequence[str], middle: Sequence[str],
           optional: Sequence[str] = ()) -> dict[str, Step]:
    """The recipe's steps by name when they are ``[optional before] one of first [middle...]
    [measure]``; else the RecipeError naming the first step this widget cannot run."""
    shape = " → ".join([*(f"[{o}]" for o in optional), " or ".join(first),
                        *(f"[{m}]" for m in middle), "[measure]"])  # fmt: skip
    slots = [*((o,) for o in optional), tuple(first), *((m,) for m in middle), ("measure",)]
    found: dict[str, Step] = {}
    at = 0
    for index, step in enumerate(recipe.steps):
        while at < len(slots) and step.name not in slots[at]:
            at += 1
        if at == len(slots):
            raise RecipeError(f"steps[{index}] ({step.name}): the {widget} widget runs {shape}; "
                              "run this recipe with `napari-coco-masks run`")
        found[step.name] = step
        at += 1
    if not any(f in found for f in first):
        raise RecipeError(f"the {widget} widget runs {shape}; this recipe has no "
                          f"{' or '.join(first)} step")
    return found


def _set_all(pairs: list[tuple[Any, Any]], where: str) -> None:
    """Set every control, after checking every value fits (so a bad recipe changes nothing)."""
    for control, value in pairs:
        low, high = getattr(control, "min", None), getattr(control, "max", None)
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and low is not None and \
                    not low <= v <= high:  # fmt: skip
                raise RecipeError(f"{where}: `{control.label}` {v!r} is outside the control's "
                                  f"range {low:g} to {high:g}")
        choices = getattr(control, "choices", None)
        if choices is not None and not isinstance(value, tuple) and value not in choices:
            raise RecipeError(f"{where}: `{control.label}` {value!r} is not one of the "
                              f"widget's choices")
    for control, value in pairs:
        with control.changed.blocked():
            control.value = value


def _points_layer(viewer: Any, image: Any, points: list, name: str) -> Points | None:
    """A Points layer of a recipe's points (physical units) over ``image``; None without one."""
    if not isinstance(image, Image):
        return None
    spacing = np.asarray(layer_spacing(image, len(points[0])))
    pixels = np.asarray(points, dtype=float) / spacing
    return viewer.add_points(pixels, name=f"{image.name} {name}", size=6, face_color="yellow",
                             **layer_geometry(image))


# ----------------------------------------------------------------------------- threshold

_CLEAN_KEYS = ("fill_holes", "min_size", "clear_border")


def threshold_recipe(widget: Any) -> Recipe:
    """The Threshold widget's recipe: [preprocess] → threshold or colour_mask → [morphology]
    → measure."""
    layer = widget._layer()
    if not isinstance(layer, Image):
        raise ValueError("choose an Image layer first: a recipe's units are the layer's")
    if widget.output.value != "labels":
        raise ValueError("a recipe makes objects: set output to 'labels (objects)' first")
    stack = widget._stack_mode()
    if stack == "global":
        raise ValueError("one threshold over a time series has no per-image recipe: choose "
                         "'per frame' or 'volume'")
    ndim = widget._grey_ndim() - (stack != "volume")
    options = widget._options(layer_spacing(layer, ndim))
    clean = {k: options[k] for k in _CLEAN_KEYS}
    steps: list[tuple[str, dict]] = []
    if widget._mode() == "colour":
        steps.append(("colour_mask", {k: list(options[k]) for k in ("hue", "saturation", "value")}
                      | clean))
    else:
        channel = widget.channel.value if layer.rgb else "luminance"
        if widget.prepare.value:
            steps.append(("preprocess", {"method": widget.prepare.value, "channel": channel,
                                         "radius": int(widget.prepare_radius.value)}))
            channel = "luminance"
        keys = ("method", "dark_objects", "sigma", "classes", "offset", "k", "value",
                "block_size")
        steps.append(("threshold", {k: options[k] for k in keys if k in options} | clean
                      | {"channel": channel}))
    if widget.morphology.value:
        steps.append(("morphology", {"operation": widget.morphology.value,
                                     "radius": int(widget.morphology_radius.value)}))
    steps.append(("measure", {}))
    return _recipe(steps, layer, ndim)


def set_threshold(widget: Any, recipe: Recipe) -> None:
    """Set the Threshold widget's controls from a recipe of :func:`threshold_recipe`'s steps."""
    found = _match(recipe, "Threshold", ("threshold", "colour_mask"), ("morphology",),
                   ("preprocess",))
    pairs: list[tuple[Any, Any]] = [(widget.output, "labels")]
    segment = found.get("threshold") or found["colour_mask"]
    p = dict(segment.params)
    if p.get("connectivity") is not None:
        raise RecipeError(f"{segment.name}: `connectivity` {p['connectivity']} is not a "
                          "control of the Threshold widget (null: full connectivity)")
    pairs += [(widget.fill_holes, p["fill_holes"]), (widget.min_size, p["min_size"]),
              (widget.clear_border, p["clear_border"])]
    if segment.name == "colour_mask":
        lo, tol = p["hue"][0], ((p["hue"][1] - p["hue"][0]) % 360) / 2
        if p["hue"] == [0.0, 360.0]:
            tol, centre = 180.0, widget.hue.value
        else:
            centre = round((lo + tol) % 360, 9)
        pairs += [(widget.mode, "colour"), (widget.hue, centre),
                  (widget.hue_tolerance, round(tol, 9)),
                  (widget.saturation, tuple(p["saturation"])),
                  (widget.brightness, tuple(p["value"]))]  # fmt: skip
        pairs.append((widget.prepare, ""))
    else:
        prep = found.get("preprocess")
        channel = prep.params["channel"] if prep else p["channel"]
        pairs += [(widget.mode, "threshold"), (widget.method, p["method"]),
                  (widget.dark_objects, p["dark_objects"]), (widget.sigma, p["sigma"]),
                  (widget.offset, p["offset"]), (widget.classes, p["classes"]),
                  (widget.k, p["k"]), (widget.channel, channel),
                  (widget.prepare, prep.params["method"] if prep else "")]  # fmt: skip
        if prep:
            pairs.append((widget.prepare_radius, prep.params["radius"]))
        if p["value"] is not None:
            pairs.append((widget.value, p["value"]))
        if p["block_size"] is not None:
            pairs.append((widget.block_size, p["block_size"]))
    morph = found.get("morphology")
    pairs.append((widget.morphology, morph.params["operation"] if morph else ""))
    if morph:
        pairs.append((widget.morphology_radius, morph.params["radius"]))
    _set_all(pairs, segment.name)
    widget._on_method_changed()


# ----------------------------------------------------------------------------- watershed


def watershed_recipe(widget: Any) -> Recipe:
    """The Watershed widget's recipe: input_labels → split_touching, or watershed from the
    markers (the chosen Points, in physical units: the same points for every image)."""
    from napari_coco_masks._widgets.watershed import FLOOD_GRADIENT, SPLIT

    if widget.mode.value == SPLIT:
        layer = widget.mask_layer.value
        if layer is None:
            raise ValueError("choose a mask or Labels layer first")
        data = level0(layer.data)
        ndim = np.ndim(data) - (widget._frame_axis(np.ndim(data)) is not None)
        steps = [("input_labels", {"mask": isinstance(layer, Image)}),
                 ("split_touching", {"min_distance": float(widget.min_distance.value),
                                     "h": float(widget.h.value) or None}),
                 ("measure", {"intensity": False})]  # fmt: skip
        return _recipe(steps, layer, ndim, "the images are masks or label images")
    image, markers = widget.image_layer.value, widget.markers_layer.value
    if image is None or not isinstance(markers, Points):
        raise ValueError("a seeded watershed recipe needs an Image layer and Points markers "
                         "(markers from a Labels layer are per-image input: no recipe)")
    if widget.seeded_mask.value is not None:
        raise ValueError("a mask layer is per-image input: choose mask '(none)' to save a recipe")
    data = level0(image.data)
    if widget._frame_axis(np.ndim(data)) is not None:
        raise ValueError("a time series' markers differ per frame: no recipe")
    points = points_to_image(markers, image) * np.asarray(layer_spacing(image, np.ndim(data)))
    steps = [("watershed", {"markers": points.tolist(),
                            "compactness": float(widget.compactness.value),
                            "gradient": widget.flood.value == FLOOD_GRADIENT}),
             ("measure", {})]  # fmt: skip
    return _recipe(steps, image, np.ndim(data),
                   f"markers: the {len(points)} points of {markers.name!r} in physical units, "
                   "the same points for every image")


def set_watershed(widget: Any, recipe: Recipe) -> None:
    """Set the Watershed widget's controls; a seeded recipe's markers become a Points layer
    over the chosen image (``"<image> recipe markers"``)."""
    from napari_coco_masks._widgets.watershed import FLOOD_GRADIENT, FLOOD_IMAGE, SEEDED, SPLIT

    names = [step.name for step in recipe.steps]
    if "watershed" in names:
        found = _match(recipe, "Watershed", ("watershed",), ())
        p = found["watershed"].params
        if p["markers"] == "labels" or p["connectivity"] != 1:
            raise RecipeError("watershed: the Watershed widget floods from Points markers with "
                              "connectivity 1")
        pairs = [(widget.mode, SEEDED), (widget.compactness, p["compactness"]),
                 (widget.flood, FLOOD_GRADIENT if p["gradient"] else FLOOD_IMAGE)]
        _set_all(pairs, "watershed")
        markers = _points_layer(widget._viewer, widget.image_layer.value, p["markers"],
                                "recipe markers")
        if markers is not None:
            widget.markers_layer.value = markers
    else:
        found = _match(recipe, "Watershed", ("input_labels",), ("split_touching",))
        if "split_touching" not in found:
            raise RecipeError("the Watershed widget's recipe splits touching objects: this "
                              "recipe has no split_touching step")
        p = found["split_touching"].params
        _set_all([(widget.mode, SPLIT), (widget.min_distance, p["min_distance"]),
                  (widget.h, p["h"] or 0.0)], "split_touching")  # fmt: skip
    widget._on_mode()
    widget._on_parameter()


# ----------------------------------------------------------------------------- region growing


def region_recipe(widget: Any) -> Recipe:
    """The region-growing widget's recipe: grow_regions from the seed points → measure.

    Seeds are per-image input: the recipe holds this image's points in physical units, and a
    batch grows the same points on every image (the description says so).
    """
    from napari_coco_masks._widgets._region_job import spatial_shape

    image, seeds = widget._image.value, widget._seeds.value
    if image is None or seeds is None or not len(seeds.data):
        raise ValueError("choose an image and a seeds layer with points first")
    shape = spatial_shape(image)
    if int(widget._dims.value) < len(shape):
        raise ValueError("growing per slice has no recipe: choose 'grow in 3D'")
    spacing = np.asarray(layer_spacing(image, len(shape)))
    points = points_to_image(seeds, image) * spacing
    options = widget._options(len(shape), tuple(spacing))
    if options.pop("auto", False):
        raise ValueError("tolerance 0 (auto: the seed's side of the image's Otsu threshold) has "
                         "no recipe step: set a tolerance or fixed lower/upper bounds")
    if options["max_size"] is not None:
        options["max_size"] = float(widget._max_size.value)
    if widget._smoothing.value > 0:
        raise ValueError("pre-smoothing σ has no exact recipe step yet (the recipe's `smooth` "
                         "filters the image edges differently): set σ to 0 to save a recipe")
    steps = [("grow_regions", {"seeds": points.tolist(), **options}), ("measure", {})]
    return _recipe(steps, image, len(shape),
                   f"seeds: the {len(points)} points of {seeds.name!r} in physical units, the "
                   "same points for every image (seeds are per-image input)")


def set_region(widget: Any, recipe: Recipe) -> None:
    """Set the region-growing widget's controls; the recipe's seeds become a Points layer over
    the chosen image (``"<image> recipe seeds"``), the widget's seeds."""
    found = _match(recipe, "Seeded region growing", ("grow_regions",), ())
    p = found["grow_regions"].params
    if p["seeds"] == "labels":
        raise RecipeError("grow_regions: the widget grows from Points seeds, not 'labels'")
    fixed = p["lower"] is not None and p["upper"] is not None
    pairs = [(widget._mode, p["mode"]), (widget._fixed, fixed),
             (widget._tolerance, p["tolerance"] or 0.0),
             (widget._multiplier, p["multiplier"]), (widget._iterations, p["iterations"]),
             (widget._radius, p["radius"]), (widget._max_size, p["max_size"] or 0.0),
             (widget._connectivity, "face" if p["connectivity"] == 1 else "full"),
             (widget._smoothing, 0.0)]
    if fixed:
        pairs += [(widget._lower, p["lower"]), (widget._upper, p["upper"])]
    _set_all(pairs, "grow_regions")
    seeds = _points_layer(widget._viewer, widget._image.value, p["seeds"], "recipe seeds")
    if seeds is not None:
        widget._seeds.value = seeds
    widget._on_option_changed()


# ----------------------------------------------------------------------------- measure


def measure_recipe(widget: Any) -> Recipe:
    """The Measure widget's recipe: input_labels → measure (the images are label images)."""
    layer = widget._layer_named(widget.labels_combo)
    if not isinstance(layer, Labels):
        raise ValueError("choose a Labels layer first")
    if widget._layer_named(widget.image_combo) is not None:
        raise ValueError("a recipe measures the pixels of the image it reads: with an intensity "
                         "image, save the recipe of the widget that made these labels (it ends "
                         "with measure), or choose intensity '(none)' to measure label images")
    ndim = layer.ndim - widget.time_series.isChecked()
    steps = [("input_labels", {"mask": False}), ("measure", {"intensity": False})]
    return _recipe(steps, layer, ndim, "the images are label images")


def set_measure(widget: Any, recipe: Recipe) -> None:
    """Set the Measure widget from a recipe of :func:`measure_recipe`'s steps."""
    from napari_coco_masks._widgets._measure_views import NONE

    found = _match(recipe, "Measure", ("input_labels",), ())
    if "measure" not in found or found["measure"].params["properties"] is not None:
        raise RecipeError("measure: the Measure widget measures every property (properties: "
                          "null) of label images (input_labels → measure)")
    if found["input_labels"].params["mask"]:
        raise RecipeError("input_labels: the Measure widget measures label images (mask: false)")
    widget.image_combo.setCurrentText(NONE)
