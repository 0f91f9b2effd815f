"""The five docks of issue 16 together: small docks, and layers cleared under running previews
(before the fix, outputs added for removed images crashed the shown canvas in glDrawArrays)."""

from __future__ import annotations

import numpy as np

from napari_coco_masks._widgets.classifier import ClassifierWidget
from napari_coco_masks._widgets.clusters import ClustersWidget
from napari_coco_masks._widgets.cutout import CutoutWidget
from napari_coco_masks._widgets.edges import EdgesWidget
from napari_coco_masks._widgets.onnx_model import OnnxWidget


def test_docks_are_small_and_survive_cleared_layers(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    image = np.random.default_rng(0).integers(0, 255, (48, 48)).astype(np.uint8)
    viewer.add_image(image, name="img")
    widgets = [ClassifierWidget(viewer), EdgesWidget(viewer), ClustersWidget(viewer),
               CutoutWidget(viewer), OnnxWidget(viewer)]
    docks = [viewer.window.add_dock_widget(w, name=type(w).__name__) for w in widgets]
    qtbot.wait(50)
    heights = [dock.minimumSizeHint().height() for dock in docks]
    assert max(heights) < 200, heights  # the docks scroll instead of forcing a tall window
    strokes = widgets[0].add_strokes_layer()
    strokes.data = np.where(np.arange(48)[:, None] < 24, 1, 2).astype(np.uint8)
    widgets[1].sigma.value = 2.0  # edges and clusters previews start
    widgets[2].n_clusters.value = 2
    viewer.layers.clear()  # while previews run or wait
    qtbot.waitUntil(lambda: not any(w._runner.busy for w in widgets), timeout=30_000)
    assert len(viewer.layers) == 0  # nothing is written for layers removed meanwhile
    viewer.layers.clear()
    viewer.add_image(image, name="again")
    widgets[1].sigma.value = 1.0
    qtbot.waitUntil(lambda: "again edges" in viewer.layers, timeout=30_000)
    assert widgets[1].image.value.name == "again"
    assert [la.name for la in viewer.layers].count("again edges") == 1
