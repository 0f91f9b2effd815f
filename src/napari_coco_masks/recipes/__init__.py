"""Recipes: a widget's settings as a small versioned file, run on many images with dask.

Pure Python (no napari, no Qt). :class:`Recipe` is the file (:mod:`.model`), :data:`STEPS` the
steps it may hold (:mod:`.steps`), :func:`run_recipe` the batch on dask.distributed
(:mod:`.batch`), also ``napari-coco-masks run RECIPE INPUTS... -o DIR``.

A widget saves its settings with one call::

    Recipe.from_steps([("threshold", {"method": "otsu", "sigma": 1.0}), "measure"],
                      units="µm", spacing=layer.scale[-2:]).save("recipe.yaml")

or :func:`from_widget_settings` with the keyword arguments it passes to the segment functions;
:func:`apply_recipe` runs a recipe on one array (a layer's data), as a batch worker does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .batch import OUTPUTS, Report, process_image, run_recipe
from .images import InputError, expand_inputs, read_input
from .model import RECIPE_VERSION, Recipe, RecipeError, Step
from .steps import STEPS, State, run_steps

__all__ = [
    "OUTPUTS",
    "RECIPE_VERSION",
    "STEPS",
    "InputError",
    "Recipe",
    "RecipeError",
    "Report",
    "State",
    "Step",
    "apply_recipe",
    "from_widget_settings",
    "expand_inputs",
    "process_image",
    "read_input",
    "run_recipe",
    "run_steps",
]


def apply_recipe(
    recipe: Recipe,
    image: Any,
    *,
    rgb: bool = False,
    spacing: Sequence[float] | None = None,
    units: str | None = None,
) -> State:
    """Run ``recipe`` on one in-memory image (a layer's data); return the final :class:`State`.

    ``state.labels`` are the objects and ``state.table`` their measurements: the same as a
    batch worker computes for a file of these pixels with this pixel size.
    """
    data = np.asarray(image)
    ndim = data.ndim - bool(rgb)
    if spacing is None:
        spacing = recipe.spacing or (1.0,)
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) == 1:
        spacing = spacing * ndim
    return run_steps(recipe.steps, State(data, bool(rgb), spacing, units or recipe.units,
                                         recipe_dir=recipe.folder))


#: Keyword arguments of the segment functions that describe the layer, not the recipe: the
#: batch takes them from each image (pixel size, channels, frames).
LAYER_KEYS = frozenset({"spacing", "output", "channel_axis", "time_axis", "per_frame",
                        "frame_axis", "frames", "return_threshold", "progress", "units"})


def from_widget_settings(
    steps: Sequence[tuple[str, dict[str, Any]]],
    *,
    scale: Sequence[float] | None = None,
    units: str | None = None,
    category: str = "object",
) -> Recipe:
    """The recipe of a widget's settings: ``(step, kwargs of its segment call)`` pairs.

    ``kwargs`` may hold the layer-level arguments a widget passes along (``spacing``,
    ``output``, ``time_axis``, ... see :data:`LAYER_KEYS`): they are left out, the batch takes
    them from each image. ``scale`` (the layer's spatial scale) becomes the recipe's
    ``spacing`` and ``units`` its unit. Every other key must be a parameter of the step.

    Examples
    --------
    >>> recipe = from_widget_settings(
    ...     [("threshold", {"method": "otsu", "sigma": 1.0, "spacing": (0.5, 0.5),
    ...                     "output": "labels"}), ("measure", {})],
    ...     scale=(0.5, 0.5), units="µm")
    >>> recipe.spacing, recipe.steps[0].params["sigma"]
    ((0.5, 0.5), 1.0)
    """
    clean = [(name, {k: v for k, v in options.items() if k not in LAYER_KEYS})
             for name, options in steps]
    return Recipe.from_steps(clean, category=category, units=units, spacing=scale)
