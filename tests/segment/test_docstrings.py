"""Every public function of the segment modules has numpydoc sections and a doctested example."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

MODULES = [
    "napari_coco_masks.segment.threshold",
    "napari_coco_masks.segment.cleanup",
    "napari_coco_masks.segment.morphology",
    "napari_coco_masks.segment.preprocess",
    "napari_coco_masks.segment.colour",
    "napari_coco_masks.segment.watershed",
    "napari_coco_masks.segment.region_growing",
    "napari_coco_masks.segment._grow_criteria",
    "napari_coco_masks.segment.measure.labels",
    "napari_coco_masks.segment.measure.shapes",
    "napari_coco_masks.segment.measure.tables",
    "napari_coco_masks.segment._frames",
    "napari_coco_masks.segment._validate",
]


def _public_functions(module):
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj) and obj.__module__ == module.__name__:
            yield name, obj


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0


@pytest.mark.parametrize("name", [m for m in MODULES if "._" not in m])
def test_public_functions_have_numpydoc_sections(name: str) -> None:
    module = importlib.import_module(name)
    missing = []
    for function_name, function in _public_functions(module):
        doc = inspect.getdoc(function) or ""
        needs = ["Parameters", "Examples"]
        if not inspect.isgeneratorfunction(function):
            needs.append("Returns")
        gaps = [section for section in needs if f"{section}\n---" not in doc]
        if ">>> " not in doc:
            gaps.append("a >>> example")
        if gaps:
            missing.append(f"{function_name}: {', '.join(gaps)}")
    assert not missing, missing
