"""The widgets' recipe steps (recipes/steps_widgets.py): preprocess, morphology, input_labels."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from napari_coco_masks.recipes import Recipe, RecipeError, apply_recipe
from napari_coco_masks.segment import threshold
from napari_coco_masks.segment.morphology import open_labels
from napari_coco_masks.segment.preprocess import median, white_tophat


def test_preprocess_and_morphology_equal_the_segment_calls() -> None:
    coins = data.coins()[:100, :120]
    recipe = Recipe.from_steps([("preprocess", {"method": "median", "radius": 2}),
                                ("threshold", {"method": "li"}),
                                ("morphology", {"operation": "open", "radius": 2})])
    expected = open_labels(threshold(median(coins, 2), "li"), 2)
    np.testing.assert_array_equal(apply_recipe(recipe, coins).labels, expected)
    rgb = data.astronaut()[:80, :80]
    recipe = Recipe.from_steps([("preprocess", {"method": "white_tophat", "radius": 5,
                                                "channel": 2}), ("threshold", {"method": "otsu"})])
    expected = threshold(white_tophat(rgb[..., 2], 5), "otsu")
    np.testing.assert_array_equal(apply_recipe(recipe, rgb, rgb=True).labels, expected)


def test_input_labels_and_its_refusals() -> None:
    labels = np.zeros((20, 20), np.uint16)
    labels[2:8, 2:8], labels[10:15, 10:18] = 3, 7
    recipe = Recipe.from_steps(["input_labels", ("measure", {"intensity": False})])
    state = apply_recipe(recipe, labels)
    assert state.table["label"].tolist() == [3, 7] and state.labels.dtype == np.int32
    mask = Recipe.from_steps([("input_labels", {"mask": True})])
    assert apply_recipe(mask, labels > 0).labels.max() == 1
    with pytest.raises(ValueError, match="integer label image, got dtype float64"):
        apply_recipe(recipe, labels.astype(float))
    with pytest.raises(RecipeError, match=r"steps\[0\] \(morphology\): needs objects"):
        Recipe.from_steps([("morphology", {"operation": "erode"}), "input_labels"])
    with pytest.raises(RecipeError, match="`method` must be one of median, white_tophat"):
        Recipe.from_steps([("preprocess", {"method": "gauss"}), ("threshold", {"method": "li"})])
