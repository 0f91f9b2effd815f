"""Every public function of the coco modules (and every public method of CocoDataset) has
numpydoc sections and a doctested example, as tests/segment/test_docstrings.py checks segment/."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

MODULES = [
    "napari_coco_masks.coco.model",
    "napari_coco_masks.coco.raster",
    "napari_coco_masks.coco.write",
    "napari_coco_masks.coco.exports",
    "napari_coco_masks.coco.evaluate",
    "napari_coco_masks.coco.validate",
    "napari_coco_masks.coco.results",
    "napari_coco_masks.coco.masks",
]


def _public_functions(module):
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj) and obj.__module__ == module.__name__:
            yield name, obj


def _dataset_methods():
    from napari_coco_masks.coco.model import CocoDataset

    for name, obj in vars(CocoDataset).items():
        if not name.startswith("_") and inspect.isfunction(obj):
            yield f"CocoDataset.{name}", obj


def _gaps(function) -> list[str]:
    """The numpydoc sections a docstring lacks: Parameters (when the function takes any),
    Returns (Yields for a generator; none when it returns None), Examples with a >>> line."""
    doc = inspect.getdoc(function) or ""
    signature = inspect.signature(function)
    needs = ["Examples"]
    if [p for p in signature.parameters if p != "self"]:
        needs.append("Parameters")
    if inspect.isgeneratorfunction(function):
        needs.append("Yields")
    elif signature.return_annotation not in ("None", None):
        needs.append("Returns")
    gaps = [section for section in needs if f"{section}\n---" not in doc]
    if ">>> " not in doc:
        gaps.append("a >>> example")
    return gaps


@pytest.mark.parametrize("name", MODULES)
def test_coco_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0


@pytest.mark.parametrize("name", MODULES)
def test_coco_public_functions_have_numpydoc_sections(name: str) -> None:
    module = importlib.import_module(name)
    functions = list(_public_functions(module))
    if name.endswith(".model"):
        functions += list(_dataset_methods())
    assert functions
    missing = [f"{n}: {', '.join(g)}" for n, f in functions if (g := _gaps(f))]
    assert not missing, missing


def test_the_check_finds_a_missing_section() -> None:
    def undocumented(x: int) -> int:
        """Twice ``x``."""
        return 2 * x

    assert _gaps(undocumented) == ["Examples", "Parameters", "Returns", "a >>> example"]
