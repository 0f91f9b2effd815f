"""Recipe files: round trips, and every refusal with its exact message, before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from napari_coco_masks import __version__
from napari_coco_masks.recipes import RECIPE_VERSION, STEPS, Recipe, RecipeError, run_recipe

COINS = [("threshold", {"method": "local_gaussian", "block_size": 51, "sigma": 1.0}),
         "fill_holes", ("split_touching", {"min_distance": 10.0}),
         ("remove_small", {"min_size": 125.0}), "measure"]  # fmt: skip


#: The steps that make objects, as the refusals list them.
MAKERS = ", ".join(name for name, spec in STEPS.items() if spec.segments)
assert MAKERS.startswith("threshold, colour_mask, watershed, grow_regions")


def _doc(*steps, **top):
    return {"recipe": RECIPE_VERSION, "plugin_version": __version__, "steps": list(steps), **top}


def test_from_steps_fills_defaults_and_round_trips_yaml_and_json(tmp_path: Path) -> None:
    recipe = Recipe.from_steps(COINS, category="coin", units="µm", spacing=(0.5, 0.5))
    assert [s.name for s in recipe.steps] == ["threshold", "fill_holes", "split_touching",
                                              "remove_small", "measure"]
    assert recipe.steps[0].params["offset"] == 0.0 and recipe.steps[0].params["channel"] == "luminance"
    assert recipe.plugin_version == __version__
    for name in ("recipe.yaml", "recipe.json"):
        path = recipe.save(tmp_path / name)
        assert Recipe.load(path) == recipe
        assert Recipe.load(path).digest() == recipe.digest()
    text = (tmp_path / "recipe.yaml").read_text(encoding="utf-8")
    # human-readable: one line per step, units as written, the version on top
    assert text.splitlines()[1] == f"recipe: {RECIPE_VERSION}"
    assert "units: µm" in text
    assert "  - {split_touching: {min_distance: 10.0, h: null}}" in text.splitlines()
    assert json.loads((tmp_path / "recipe.json").read_text())["steps"][3] == {
        "remove_small": {"min_size": 125.0}}


def test_aliases_and_ints_are_normalised() -> None:
    recipe = Recipe.from_dict(_doc({"threshold": {"method": "Multi-Otsu", "sigma": 2}}))
    assert recipe.steps[0].params["method"] == "multiotsu"
    assert recipe.steps[0].params["sigma"] == 2.0 and isinstance(recipe.steps[0].params["sigma"], float)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_doc({"threshold": {"method": "otsu", "sigmaa": 1}}),
         "steps[0] (threshold): unknown key 'sigmaa'; its keys are method, value, dark_objects, "
         "sigma, block_size, offset, classes, k, fill_holes, min_size, clear_border, "
         "connectivity, channel"),
        (_doc({"threshold": {"method": "otsu"}}, {"remove_small": {}}),
         "steps[1] (remove_small): missing key 'min_size' (required)"),
        (_doc({"threshold": {"method": "otsu", "sigma": "1.0"}}),
         "steps[0] (threshold): `sigma` must be a number, got '1.0' (str)"),
        (_doc({"threshold": {"method": "otsu", "fill_holes": 1}}),
         "steps[0] (threshold): `fill_holes` must be true or false, got 1 (int)"),
        (_doc({"threshold": {"method": "otsu", "min_size": -1}}),
         "steps[0] (threshold): `min_size` must be >= 0, got -1.0"),
        (_doc({"threshold": {"method": "median"}}),
         "steps[0] (threshold): `method` must be one of otsu, li, yen, triangle, isodata, mean, "
         "minimum, multiotsu, manual, local_mean, local_gaussian, sauvola, niblack, got 'median'"),
        (_doc({"grow_regions": {"seeds": [[1, 2]], "mode": "fast"}}),
         "steps[0] (grow_regions): `mode` must be one of range, confidence, got 'fast'"),
        (_doc({"watershed": {"markers": [[1, "a"]]}}),
         "steps[0] (watershed): `markers` must be 'labels' or a list of points [[row, col], ...] "
         "in physical units, got [[1, 'a']] (list)"),
        (_doc({"blur": {}}),
         "steps[0]: unknown step 'blur'; the steps are " + ", ".join(STEPS)),
        (_doc({"threshold": {"method": "otsu"}, "measure": {}}),
         "steps[0]: a step is a one-key mapping {name: {parameters}}, got "
         "{'threshold': {'method': 'otsu'}, 'measure': {}}"),
        (_doc({"split_touching": {}}, {"threshold": {"method": "otsu"}}),
         "steps[0] (split_touching): needs objects, but no step before it makes them: put "
         f"one of {MAKERS} first"),
        (_doc({"grow_regions": {"seeds": "labels"}}),
         "steps[0] (grow_regions): needs objects, but no step before it makes them: put "
         f"one of {MAKERS} first"),
        (_doc({"smooth": {"sigma": 1}}),
         f"no step makes objects: add one of {MAKERS}"),
        (_doc(),
         "`steps` must be a non-empty list of {step: {parameters}} mappings"),
        ({"recipe": 1},
         "missing key 'steps'; a recipe needs `recipe` (its format version) and `steps`"),
        (_doc({"measure": {}}, colour="red"),
         "unknown key 'colour'; a recipe has the keys recipe, plugin_version, category, units, "
         "spacing, steps, description"),
        (_doc({"threshold": {"method": "otsu"}}, spacing=[0.5, -1]),
         "`spacing` must be null or one to three positive numbers, got [0.5, -1]"),
        (_doc({"threshold": {"method": "otsu"}}, recipe="1"),
         "`recipe` must be the format version (an integer >= 1), got '1'"),
        (_doc({"threshold": {"method": "otsu"}}, recipe=RECIPE_VERSION + 1),
         f"recipe format {RECIPE_VERSION + 1} is newer than this napari-coco-masks ({__version__}) "
         f"reads (format {RECIPE_VERSION}): upgrade napari-coco-masks"),
        (_doc({"threshold": {"method": "otsu"}}, plugin_version="99.0"),
         f"the recipe was written by napari-coco-masks 99.0, newer than this one ({__version__}): "
         "upgrade napari-coco-masks to 99.0 or later"),
    ],
)
def test_refusals_name_the_step_and_the_key(doc, message: str) -> None:
    with pytest.raises(RecipeError) as info:
        Recipe.from_dict(doc)
    assert str(info.value) == message


def test_a_bad_file_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("recipe: 1\nsteps: [ {threshold: {method: otsu}\n", encoding="utf-8")
    with pytest.raises(RecipeError, match=r"^.*bad\.yaml: not a YAML or JSON recipe \(line \d+\)"):
        Recipe.load(bad)
    with pytest.raises(RecipeError, match=r"nope\.yaml: cannot read the recipe: No such file"):
        Recipe.load(tmp_path / "nope.yaml")
    newer = tmp_path / "newer.yaml"
    newer.write_text("recipe: 2\nsteps: [measure]\n", encoding="utf-8")
    with pytest.raises(RecipeError, match=r"newer\.yaml: recipe format 2 is newer"):
        Recipe.load(newer)


def test_a_refused_recipe_starts_no_work(tmp_path: Path) -> None:
    """Refused before any image is read and before the output folder is touched."""
    bad = tmp_path / "r.yaml"
    bad.write_text("recipe: 1\nsteps:\n  - threshold: {method: otsu, sigma: wide}\n")
    out = tmp_path / "out"
    with pytest.raises(RecipeError, match=r"r\.yaml: steps\[0\] \(threshold\): `sigma` must"):
        run_recipe(bad, [tmp_path / "missing.png"], out)
    assert not out.exists()


def test_from_widget_settings_drops_the_layer_arguments() -> None:
    from napari_coco_masks.recipes import from_widget_settings

    # the keyword arguments the Threshold widget passes to segment.threshold
    options = {"method": "local_gaussian", "dark_objects": False, "sigma": 0.5, "offset": 0.0,
               "classes": 3, "k": 0.2, "fill_holes": True, "min_size": 12.5,
               "clear_border": False, "spacing": (0.5, 0.5), "output": "labels",
               "block_size": 35}
    recipe = from_widget_settings([("threshold", options), ("measure", {})],
                                  scale=(0.5, 0.5), units="µm", category="cell")
    assert recipe.spacing == (0.5, 0.5) and recipe.units == "µm" and recipe.category == "cell"
    params = recipe.steps[0].params
    assert {k: params[k] for k in options if k not in ("spacing", "output")} == {
        k: v for k, v in options.items() if k not in ("spacing", "output")}
    with pytest.raises(RecipeError, match=r"steps\[0\] \(threshold\): unknown key 'tolerance'"):
        from_widget_settings([("threshold", {"method": "otsu", "tolerance": 3})])
