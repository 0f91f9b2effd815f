"""The recipe file: ordered steps with their parameters, versioned, checked before any work.

A recipe is a small YAML (or JSON) document::

    recipe: 1                    # format version (RECIPE_VERSION)
    plugin_version: 0.1.0        # the napari-coco-masks that wrote it
    category: coin               # category of every object in the COCO output
    units: µm                    # unit of every length, area and volume below (null: pixels)
    spacing: [0.5, 0.5]          # pixel size of images that carry none (null: 1)
    steps:
      - threshold: {method: local_gaussian, block_size: 51, sigma: 1.0}
      - fill_holes: {}
      - split_touching: {min_distance: 10.0}
      - remove_small: {min_size: 125.0}
      - measure: {}

Every step is a one-key mapping ``{name: {parameter: value}}`` whose parameters are those of
:data:`~.steps.STEPS`. Parsing fills the defaults and refuses, with a message naming the step
and the key, unknown and missing keys and wrong types; a recipe of a newer format or plugin
version is refused (upgrade napari-coco-masks to run it).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__

__all__ = ["RECIPE_VERSION", "Recipe", "RecipeError", "Step"]

#: Version of the recipe format this package reads and writes.
RECIPE_VERSION = 1

_TOP_KEYS = ("recipe", "plugin_version", "category", "units", "spacing", "steps", "description")


class RecipeError(ValueError):
    """A recipe that cannot be run: ``"<file>: steps[2] (split_touching): <what>, <what to do>"``."""

    def __init__(self, message: str, *, path: str | os.PathLike | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(message if path is None else f"{path}: {message}")


@dataclass(frozen=True)
class Step:
    """One step of a recipe: its name in :data:`~.steps.STEPS` and its full parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {self.name: dict(self.params)}


def _version_tuple(text: str) -> tuple:
    from packaging.version import InvalidVersion, Version

    try:
        return (Version(str(text)),)
    except InvalidVersion:
        raise RecipeError(f"`plugin_version` {text!r} is not a version like 0.1.0") from None


@dataclass(frozen=True)
class Recipe:
    """A validated recipe (build one with :meth:`from_steps`, :meth:`from_dict` or :meth:`load`).

    Attributes
    ----------
    steps : tuple of Step
        The steps in order, each with every parameter (defaults filled in).
    category : str
        Category name of every object in the COCO output.
    units : str, optional
        Unit of the recipe's lengths (``sigma``, ``min_distance``), areas (``min_size``) and of
        ``spacing``; None means pixels.
    spacing : tuple of float, optional
        Pixel size per spatial axis for images whose file carries none (OME-TIFF sizes and the
        command line's ``--spacing`` come first); None means 1.
    plugin_version : str
        The napari-coco-masks version that wrote the recipe.
    description : str
        Free text.
    """

    steps: tuple[Step, ...]
    category: str = "object"
    units: str | None = None
    spacing: tuple[float, ...] | None = None
    plugin_version: str = __version__
    description: str = ""
    #: The folder of the file it was loaded from: relative file paths in steps (a classifier, a
    #: model) are found there. Not part of the document.
    folder: str | None = field(default=None, compare=False, repr=False)

    # ----------------------------------------------------------------------------- building

    @classmethod
    def from_steps(
        cls,
        steps: Iterable[str | Step | tuple[str, Mapping[str, Any]] | Mapping[str, Any]],
        *,
        category: str = "object",
        units: str | None = None,
        spacing: Sequence[float] | None = None,
        description: str = "",
    ) -> Recipe:
        """A recipe of ``steps``: names, ``(name, params)`` pairs or ``{name: params}`` dicts.

        This is the call a widget makes to save its settings, e.g.
        ``Recipe.from_steps([("threshold", {"method": "otsu", "sigma": 1.0}), "measure"],
        units="µm", spacing=layer.scale[-2:]).save("recipe.yaml")``.

        Raises
        ------
        RecipeError
            Naming the step and the key, for unknown steps, unknown or missing keys, wrong types.
        """
        items = []
        for item in steps:
            if isinstance(item, Step):
                items.append(item.to_dict())
            elif isinstance(item, str):
                items.append({item: {}})
            elif isinstance(item, tuple):
                items.append({item[0]: dict(item[1])})
            else:
                items.append(dict(item))
        return cls.from_dict({
            "recipe": RECIPE_VERSION, "plugin_version": __version__, "category": category,
            "units": units, "spacing": None if spacing is None else [float(s) for s in spacing],
            "description": description, "steps": items,
        })  # fmt: skip

    @classmethod
    def from_dict(cls, obj: Any, *, path: str | os.PathLike | None = None) -> Recipe:
        """Validate a parsed recipe document (see the module docstring) and return the recipe.

        Raises
        ------
        RecipeError
            For a newer format or plugin version, unknown or missing keys, wrong types, an
            unknown step or steps in an order that cannot run; the message names the key.
        """
        from .steps import check_order, check_step

        def fail(message: str) -> RecipeError:
            return RecipeError(message, path=path)

        if not isinstance(obj, Mapping):
            raise fail(f"a recipe is a mapping with `recipe` and `steps`, got {type(obj).__name__}")
        unknown = sorted(set(obj) - set(_TOP_KEYS))
        if unknown:
            raise fail(f"unknown key {unknown[0]!r}; a recipe has the keys {', '.join(_TOP_KEYS)}")
        for key in ("recipe", "steps"):
            if key not in obj:
                raise fail(f"missing key {key!r}; a recipe needs `recipe` (its format version) "
                           "and `steps`")
        version = obj["recipe"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise fail(f"`recipe` must be the format version (an integer >= 1), got {version!r}")
        if version > RECIPE_VERSION:
            raise fail(f"recipe format {version} is newer than this napari-coco-masks "
                       f"({__version__}) reads (format {RECIPE_VERSION}): upgrade napari-coco-masks")
        plugin = str(obj.get("plugin_version", __version__))
        try:
            newer = _version_tuple(plugin) > _version_tuple(__version__)
        except RecipeError as exc:
            raise fail(str(exc)) from None
        if newer:
            raise fail(f"the recipe was written by napari-coco-masks {plugin}, newer than this "
                       f"one ({__version__}): upgrade napari-coco-masks to {plugin} or later")
        category = obj.get("category", "object")
        if not isinstance(category, str) or not category:
            raise fail(f"`category` must be a non-empty string, got {category!r}")
        units = obj.get("units")
        if units is not None and not isinstance(units, str):
            raise fail(f"`units` must be a string like 'µm' or null, got {units!r}")
        spacing = _spacing(obj.get("spacing"), fail)
        description = obj.get("description", "")
        if not isinstance(description, str):
            raise fail(f"`description` must be a string, got {description!r}")
        raw = obj["steps"]
        if not isinstance(raw, list) or not raw:
            raise fail("`steps` must be a non-empty list of {step: {parameters}} mappings")
        steps = []
        for index, item in enumerate(raw):
            try:
                steps.append(check_step(index, item))
            except RecipeError as exc:
                raise fail(str(exc)) from None
        try:
            check_order(steps)
        except RecipeError as exc:
            raise fail(str(exc)) from None
        return cls(tuple(steps), category, units, spacing, plugin, description)

    # ----------------------------------------------------------------------------- files

    def to_dict(self) -> dict[str, Any]:
        """The recipe document (the inverse of :meth:`from_dict`)."""
        return {
            "recipe": RECIPE_VERSION,
            "plugin_version": self.plugin_version,
            "category": self.category,
            "units": self.units,
            "spacing": None if self.spacing is None else list(self.spacing),
            "description": self.description,
            "steps": [step.to_dict() for step in self.steps],
        }

    def dumps(self, fmt: str = "yaml") -> str:
        """The recipe as YAML (``fmt="yaml"``, human-readable, one line per step) or JSON."""
        if fmt == "json":
            return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        if fmt != "yaml":
            raise ValueError(f"`fmt` must be 'yaml' or 'json', got {fmt!r}")
        import yaml

        doc = self.to_dict()
        head = {k: v for k, v in doc.items() if k != "steps"}
        text = yaml.safe_dump(head, sort_keys=False, allow_unicode=True)
        lines = ["steps:"]
        for step in doc["steps"]:
            flow = yaml.safe_dump(step, default_flow_style=True, sort_keys=False,
                                  allow_unicode=True, width=1 << 16).strip()
            lines.append(f"  - {flow}")
        return f"# napari-coco-masks recipe\n{text}" + "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike) -> Path:
        """Write the recipe atomically (JSON for a ``.json`` path, else YAML); return the path."""
        from ..coco.write import write_bytes

        fmt = "json" if Path(path).suffix.lower() == ".json" else "yaml"
        return write_bytes(self.dumps(fmt).encode("utf-8"), path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recipe:
        """Read and validate a recipe file (YAML or JSON; JSON is YAML too).

        Raises
        ------
        RecipeError
            Naming the file: unreadable, not YAML/JSON, or invalid (see :meth:`from_dict`).
        """
        import yaml

        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise RecipeError(f"cannot read the recipe: {reason}", path=path) from None
        try:
            obj = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" (line {where.line + 1})" if where is not None else ""
            raise RecipeError(f"not a YAML or JSON recipe{line}: {getattr(exc, 'problem', exc)}",
                              path=path) from None
        recipe = cls.from_dict(obj, path=path)
        return replace(recipe, folder=str(Path(path).resolve().parent))

    def digest(self) -> str:
        """A short hash of what the recipe computes (steps, category, units, spacing)."""
        doc = self.to_dict()
        doc.pop("plugin_version")
        doc.pop("description")
        text = json.dumps(doc, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def step(self, name: str) -> Step | None:
        """The first step called ``name``, or None."""
        return next((s for s in self.steps if s.name == name), None)


def _spacing(value: Any, fail) -> tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    ok = isinstance(value, list) and 1 <= len(value) <= 3 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value
    )
    if not ok:
        raise fail(f"`spacing` must be null or one to three positive numbers, got {value!r}")
    return tuple(float(v) for v in value)
