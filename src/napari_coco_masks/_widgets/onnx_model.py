"""Dock widget "Your own model (ONNX)": run a user's ``.onnx`` segmentation model on a layer.

A thin napari adapter over :mod:`napari_coco_masks.segment.onnx_model`: the user brings the file
(nothing is downloaded), chooses the input layout, the normalisation ``(image * scale - mean) /
std`` and the tiles (size and overlap, blended); *Run* predicts every frame in the background
with progress per tile. The classes go to ``"<image> model"`` and, optionally, objects to
``"<image> model objects"`` (connected components or the watershed split); both keep the
image's scale, translate and units. A model whose shapes do not fit gets the core's message
(both shapes and the expected layout) in the status line.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
)
from napari.layers import Image
from napari.utils.notifications import show_error

from napari_coco_masks._widgets._base import (
    KeepsLayerChoices,
    OutputLayer,
    Runner,
    ScrollingNative,
    Task,
    axis_unit,
    layer_spacing,
    level0,
    wrap_status,
)
from napari_coco_masks.segment import onnx_model as om

if TYPE_CHECKING:
    import napari

__all__ = ["OnnxWidget", "numbers"]

INSTANCE_CHOICES = [("none", ""), ("connected components", "connected"),
                    ("split touching (watershed)", "split")]  # fmt: skip


def numbers(text: str, name: str) -> float | tuple[float, ...]:
    """``"0.5"`` -> 0.5, ``"0.485, 0.456, 0.406"`` -> a tuple (one value per channel)."""
    try:
        values = tuple(float(v) for v in text.replace(";", ",").split(",") if v.strip())
    except ValueError:
        raise ValueError(f"`{name}` must be a number or numbers separated by commas, "
                         f"got {text!r}") from None  # fmt: skip
    if not values:
        raise ValueError(f"`{name}` is empty: give a number (or one per channel)")
    return values[0] if len(values) == 1 else values


class OnnxWidget(KeepsLayerChoices, ScrollingNative, Container):
    """Segment an image layer with an ONNX model (tiled, blended), into Labels.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose Image layers are offered.
    """

    _layer_combos = ("image",)

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._viewer = viewer
        self._classes = OutputLayer(viewer, " model")
        self._objects = OutputLayer(viewer, " model objects")
        self.model_file = FileEdit(label="model (.onnx)", mode="r", filter="*.onnx")
        self.image = ComboBox(label="image", choices=self._image_choices)
        self.input_layout = ComboBox(label="input layout", choices=["auto", "NCHW", "NHWC"])
        self.scale = FloatSpinBox(label="scale", value=1.0, min=-1e9, max=1e9, step=0.001)
        self.scale.native.setDecimals(8)
        self.mean = LineEdit(label="mean", value="0")
        self.std = LineEdit(label="std", value="1")
        self.tile = SpinBox(label="tile size (0 = model's / whole)", value=0, min=0, max=16384)
        self.overlap = SpinBox(label="overlap (px)", value=32, min=0, max=4096)
        self.multiple = SpinBox(label="pad to a multiple of", value=1, min=1, max=1024)
        self.threshold = FloatSpinBox(label="threshold (1-channel)", value=0.5, min=-1e9, max=1e9)
        self.instances = ComboBox(label="instances", choices=INSTANCE_CHOICES, value="")
        self.objects = LineEdit(label="object classes", value="",
                                tooltip="comma-separated; empty: every class but 0")
        self.min_distance = FloatSpinBox(label="min distance", value=5.0, min=0, max=1e6)
        self.run_button = PushButton(text="Run")
        self.status = Label(value="")
        wrap_status(self.status.native)
        super().__init__(widgets=[
            self.model_file, self.image, self.input_layout, self.scale, self.mean, self.std, self.tile,
            self.overlap, self.multiple, self.threshold, self.instances, self.objects,
            self.min_distance, self.run_button, self.status,
        ], scrollable=True)  # fmt: skip
        self._model: tuple[tuple, om.OnnxModel] | None = None
        self._runner = Runner(self.native, report=self._report, on_attach=self.reset_choices)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            self._runner.follow(event, self._on_layers_changed)
        self._runner.start()
        self.run_button.changed.connect(self.run)
        self.image.changed.connect(self._on_image_changed)
        self.instances.changed.connect(self._on_image_changed)
        self._on_image_changed()

    def _image_choices(self, _widget: Any = None) -> list[Image]:
        return [la for la in self._viewer.layers if isinstance(la, Image)]

    def _on_layers_changed(self, _event: Any = None) -> None:
        self._classes.forget_removed()
        self._objects.forget_removed()
        self.reset_choices()

    def _on_image_changed(self, _value: Any = None) -> None:
        self.min_distance.label = f"min distance ({axis_unit(self.image.value)})"
        self.min_distance.visible = self.instances.value == "split"

    @property
    def busy(self) -> bool:
        """True while the model runs."""
        return self._runner.busy

    def _load(self, path: str, layout: str) -> om.OnnxModel:
        """The model of ``path`` (re-read when the file or the layout changed)."""
        key = (path, layout, os.stat(path).st_mtime_ns)
        if self._model is None or self._model[0] != key:
            self._model = (key, om.load_onnx_model(path, layout=layout))
        return self._model[1]

    def _plan(self) -> dict[str, Any]:
        image = self.image.value
        if image is None:
            raise ValueError("choose an image layer")
        path = str(self.model_file.value or "")
        if not path or not os.path.isfile(path) or not path.lower().endswith(".onnx"):
            raise ValueError(f"choose a .onnx model file (got {path!r})")
        data = np.asarray(level0(image.data))
        stacked = image.ndim == 3
        if image.ndim not in (2, 3):
            raise ValueError(f"image {image.name!r} is {image.ndim}D: run on 2D images or a "
                             "stack of them (first axis)")  # fmt: skip
        options = {
            "channel_axis": -1 if image.rgb else None, "scale": float(self.scale.value),
            "mean": numbers(self.mean.value, "mean"), "std": numbers(self.std.value, "std"),
            "tile_size": int(self.tile.value) or None, "overlap": int(self.overlap.value),
            "threshold": float(self.threshold.value), "multiple": int(self.multiple.value),
        }  # fmt: skip
        return {"image": image, "data": data, "stacked": stacked, "path": path,
                "layout": self.input_layout.value, "options": options,
                "instances": self.instances.value, "objects": self.objects.value,
                "min_distance": float(self.min_distance.value),
                "spacing": layer_spacing(image, 2)}  # fmt: skip

    def _steps(self, plan: dict[str, Any]) -> Generator[Any, None, dict[str, Any]]:
        from napari_coco_masks.segment.classifier import semantic_to_instances
        from napari_coco_masks.segment.watershed import split_touching

        model = self._load(plan["path"], plan["layout"])
        frames = list(plan["data"]) if plan["stacked"] else [plan["data"]]
        results = []
        for frame in frames:
            results.append((yield from om.iter_predict_onnx(model, frame, **plan["options"])))
        semantic = np.stack(results) if plan["stacked"] else results[0]
        objects = None
        if plan["instances"]:
            text = plan["objects"]
            classes = [int(v) for v in text.split(",") if v.strip()] or [
                int(c) for c in np.unique(semantic) if c != 0]  # fmt: skip
            split = (partial(split_touching, min_distance=plan["min_distance"],
                             spacing=plan["spacing"]) if plan["instances"] == "split" else None)
            per = [semantic_to_instances(f, classes, split=split)
                   for f in (semantic if plan["stacked"] else [semantic])]  # fmt: skip
            objects = np.stack(per) if plan["stacked"] else per[0]
        return {"semantic": semantic, "objects": objects, "model": model.describe()}

    def run(self, _value: Any = None) -> Any:
        """Run the model on every frame of the image (background, progress per tile)."""
        try:
            plan = self._plan()
        except (ValueError, OSError) as error:
            self._report(str(error), True)
            return None
        self.run_button.enabled = False
        return self._runner.run(Task(self._steps(plan), partial(self._show, plan), total=0,
                                     desc="ONNX model", on_done=self._enable))  # fmt: skip

    def _enable(self) -> None:
        self.run_button.enabled = True

    def _show(self, plan: dict[str, Any], result: dict[str, Any]) -> None:
        if plan["image"] not in self._viewer.layers:
            self._report(f"image {plan['image'].name!r} was removed: nothing written")
            return
        self._classes.put(result["semantic"], plan["image"])
        if result["objects"] is not None:
            self._objects.put(result["objects"], plan["image"])
        classes = np.unique(result["semantic"]).tolist()
        self.status.value = f"classes {classes}; {result['model']}"

    def _report(self, message: str, notify: bool = False) -> None:
        self.status.value = message
        if notify:
            show_error(message)
