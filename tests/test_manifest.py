"""napari discovers the plugin, and every contribution can be invoked through napari."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from npe2 import PluginManager
from npe2.manifest.utils import import_python_name

PLUGIN = "napari-coco-masks"
WIDGETS = [
    "Threshold and colour mask", "Watershed", "Seeded region growing", "Measure objects",
    "COCO annotations", "Learn from examples", "Colour clusters and superpixels", "Edges",
    "Your own model (ONNX)", "Cut-outs and masked images",
]


def test_manifest_is_discovered_with_every_contribution() -> None:
    pm = PluginManager.instance()
    pm.discover()
    manifest = pm.get_manifest(PLUGIN)
    contributions = manifest.contributions
    assert [w.display_name for w in contributions.widgets] == WIDGETS
    assert [r.command for r in contributions.readers] == [f"{PLUGIN}.get_reader"]
    assert [w.command for w in contributions.writers] == [f"{PLUGIN}.write_coco"]
    assert [s.key for s in contributions.sample_data] == ["coins"]
    # every command's python_name resolves to a real callable
    for command in contributions.commands:
        assert callable(import_python_name(command.python_name)), command.id


def test_widgets_are_in_the_layers_menus() -> None:
    menus = PluginManager.instance().get_manifest(PLUGIN).contributions.menus
    segment = [item.command for item in menus["napari/layers/segment"]]
    measure = [item.command for item in menus["napari/layers/measure"]]
    assert segment == [
        f"{PLUGIN}.threshold_widget",
        f"{PLUGIN}.watershed_widget",
        f"{PLUGIN}.region_growing_widget",
        f"{PLUGIN}.classifier_widget",
        f"{PLUGIN}.clusters_widget",
        f"{PLUGIN}.edges_widget",
        f"{PLUGIN}.onnx_widget",
    ]
    assert [item.command for item in menus["napari/layers/filter"]] == [f"{PLUGIN}.cutout_widget"]
    assert [item.command for item in menus["napari/file/io_utilities"]] == [
        f"{PLUGIN}.cutout_widget"
    ]
    assert measure == [f"{PLUGIN}.measure_widget"]
    annotate = [item.command for item in menus["napari/layers/annotate"]]
    assert annotate == [f"{PLUGIN}.annotations_widget"]


@pytest.mark.parametrize("name", WIDGETS)
def test_every_widget_docks_in_a_viewer(make_napari_viewer, name: str) -> None:
    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(0).random((32, 32)), name="image")
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
    assert dock is not None
    assert widget is not None
    assert name in dock.name


def test_sample_data_opens_through_napari(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    layers = viewer.open_sample(PLUGIN, "coins")
    kinds = sorted(layer._type_string for layer in layers)
    assert kinds == ["image", "labels", "shapes"]
    labels = next(layer for layer in layers if layer._type_string == "labels")
    n_coins = len(json.loads(Path(labels.metadata["coco"]["source"]).read_text())["annotations"])
    assert len(np.unique(labels.data)) - 1 == n_coins


def test_reader_and_writer_through_napari(make_napari_viewer, tmp_path: Path) -> None:
    from napari_coco_masks._sample_data import COINS_JSON

    viewer = make_napari_viewer()
    layers = viewer.open(COINS_JSON, plugin=PLUGIN)
    assert {layer._type_string for layer in layers} == {"image", "labels", "shapes"}
    out = tmp_path / "saved.json"
    written = viewer.layers.save(str(out), plugin=PLUGIN)
    assert [Path(p) for p in written] == [out]
    assert json.loads(out.read_text())["annotations"] == json.loads(COINS_JSON.read_text())[
        "annotations"
    ]


def test_screenshot_shows_the_sample(make_napari_viewer, tmp_path: Path) -> None:
    import imageio.v3 as iio

    viewer = make_napari_viewer(show=True)
    viewer.open_sample(PLUGIN, "coins")
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=True, flash=False)
    iio.imwrite(tmp_path / "screenshot.png", shot)
    rgb = shot[..., :3].reshape(-1, 3)
    assert rgb.std() > 20, "the canvas is blank"
    # label and shape colours on top of a grey image: many distinct colours, not only greys
    colourful = np.abs(rgb.astype(int) - rgb.mean(axis=1, keepdims=True)).max(axis=1) > 30
    assert colourful.mean() > 0.05, "no annotation colours visible on the canvas"


def test_malformed_file_in_a_viewer_is_one_clear_error(make_napari_viewer, tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    real = Path(__file__).parent / "data/coco2017-4img/data_samples/coco_25k/annotations.json"
    dataset = json.loads(real.read_text())
    dataset["annotations"][17]["segmentation"] = {"size": [10, 10], "counts": [3, 4]}
    bad.write_text(json.dumps(dataset))
    viewer = make_napari_viewer()
    with pytest.raises(Exception, match=r"broken\.json.*annotations\[17\]\.segmentation") as info:
        viewer.open(bad, plugin=PLUGIN)
    assert "counts sum to 7" in str(info.value) and "needs exactly 100" in str(info.value)
    assert len(viewer.layers) == 0  # nothing half-added
    viewer.add_image(np.zeros((4, 4)))  # and the viewer still works
    assert len(viewer.layers) == 1
