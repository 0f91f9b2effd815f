"""*Save recipe…* / *Load recipe…*: the two buttons every segmentation widget shows.

A widget gives two functions of :mod:`._recipe_maps` — its settings as a
:class:`~napari_coco_masks.recipes.Recipe`, and a recipe back into its controls — and its
status line; this module asks for the file, writes or reads it, and says what happened.
A recipe the widget cannot hold (an unknown step or key, a step this widget does not run)
is the :class:`~napari_coco_masks.recipes.RecipeError` message in the status line, and no
control changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from magicgui.widgets import PushButton

from napari_coco_masks.recipes import Recipe, RecipeError

__all__ = ["ask_path", "describe_recipe", "load_recipe", "recipe_buttons", "save_recipe"]

_FILTER = "Recipes (*.yaml *.yml *.json)"


def ask_path(parent: Any, *, save: bool) -> str | None:
    """Ask for a recipe file to write (``save``) or to read; None when cancelled."""
    from qtpy.QtWidgets import QFileDialog

    native = getattr(parent, "native", parent)
    if save:
        path, _ = QFileDialog.getSaveFileName(native, "Save recipe", "recipe.yaml", _FILTER)
    else:
        path, _ = QFileDialog.getOpenFileName(native, "Load recipe", "", _FILTER)
    return path or None


def describe_recipe(recipe: Recipe) -> str:
    """``"threshold → fill_holes → measure"``: the recipe's steps in one line."""
    return " → ".join(step.name for step in recipe.steps)


def save_recipe(parent: Any, build: Callable[[], Recipe], report: Callable[[str], None]) -> Path | None:
    """Build the widget's recipe, ask where to write it, write it; return the path written.

    A setting that has no recipe (``ValueError``, ``RecipeError``) is reported before the
    file dialog opens.
    """
    try:
        recipe = build()
    except ValueError as error:  # RecipeError is a ValueError
        report(f"Save recipe: {error}")
        return None
    path = ask_path(parent, save=True)
    if not path:
        return None
    if not Path(path).suffix:
        path += ".yaml"
    try:
        written = recipe.save(path)
    except OSError as error:
        report(f"Save recipe: cannot write {path}: {error.strerror or error}")
        return None
    note = f" ({recipe.description})" if recipe.description else ""
    report(f"Saved recipe {Path(written).name}: {describe_recipe(recipe)}{note}")
    return Path(written)


def load_recipe(parent: Any, apply: Callable[[Recipe], None], report: Callable[[str], None]) -> Recipe | None:
    """Ask for a recipe file, read it and set the widget's controls; return the recipe.

    ``apply`` raises :class:`RecipeError` (before changing anything) for a recipe the widget
    cannot hold; the message goes to the status line.
    """
    path = ask_path(parent, save=False)
    if not path:
        return None
    try:
        recipe = Recipe.load(path)
        apply(recipe)
    except RecipeError as error:
        report(str(error))
        return None
    report(f"Loaded recipe {Path(path).name}: {describe_recipe(recipe)}")
    return recipe


def recipe_buttons(
    parent: Any, build: Callable[[], Recipe], apply: Callable[[Recipe], None],
    report: Callable[[str], None],
) -> tuple[PushButton, PushButton]:
    """The *Save recipe…* and *Load recipe…* buttons of a widget (magicgui push buttons)."""
    save = PushButton(text="Save recipe…")
    load = PushButton(text="Load recipe…")
    save.tooltip = "Write these settings as a recipe (YAML) for `napari-coco-masks run`"
    load.tooltip = "Set these controls from a recipe file"
    save.changed.connect(lambda *_: save_recipe(parent, build, report))
    load.changed.connect(lambda *_: load_recipe(parent, apply, report))
    return save, load
