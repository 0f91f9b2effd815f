"""Dock widget "Learn from examples": a pixel classifier trained on strokes or COCO masks.

A thin napari adapter over :mod:`napari_coco_masks.segment.classifier`. The user paints a few
strokes per class in a Labels layer (*New strokes layer* adds one over the image, with its
scale, translate and units), or picks a Labels layer the plugin read from COCO (trained by
category or by object through :func:`~napari_coco_masks.segment.classifier.coco_training_labels`).
Features are in the image's physical units. While painting, the classifier is retrained and
the displayed image/frame predicted in the background (debounced, stale results dropped);
*Apply to all frames* predicts the whole stack with progress. The classes go to
``"<image> classes"`` and, optionally, objects to ``"<image> objects"`` (connected components
or the watershed split); both keep the image's geometry. The classifier is saved and loaded
as ``.skops``.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
)
from napari.layers import Image, Labels
from napari.utils.notifications import show_error

from napari_coco_masks._widgets._base import (
    KeepsLayerChoices,
    OutputLayer,
    Runner,
    ScrollingNative,
    Task,
    axis_unit,
    displayed_index,
    layer_geometry,
    layer_spacing,
    level0,
    wrap_status,
)
from napari_coco_masks.segment import classifier as cl

if TYPE_CHECKING:
    import napari

__all__ = ["CLASSES_SUFFIX", "OBJECTS_SUFFIX", "ClassifierWidget", "object_classes"]

CLASSES_SUFFIX = " classes"
OBJECTS_SUFFIX = " objects"
INSTANCE_CHOICES = [("none", ""), ("connected components", "connected"),
                    ("split touching (watershed)", "split")]  # fmt: skip


def object_classes(text: str, classes: Any) -> list[int]:
    """The object classes written in ``text`` (``"2, 3"``); empty: every class but 1 (background)."""
    values = [int(v) for v in text.replace(";", ",").split(",") if v.strip()]
    return values or [int(c) for c in np.asarray(classes) if int(c) != 1]


def _instances(semantic: np.ndarray, classes: list[int], mode: str, min_distance: float,
               spacing: tuple[float, ...], stacked: bool) -> np.ndarray:
    """Objects of ``classes`` per frame: connected components or the watershed split."""
    from napari_coco_masks.segment.watershed import split_touching

    split = (partial(split_touching, min_distance=min_distance, spacing=spacing)
             if mode == "split" else None)  # fmt: skip
    if not stacked:
        return cl.semantic_to_instances(semantic, classes, split=split)
    return np.stack([cl.semantic_to_instances(f, classes, split=split) for f in semantic])


class ClassifierWidget(KeepsLayerChoices, ScrollingNative, Container):
    """Learn pixel classes from strokes (or COCO masks), preview live, apply to a stack.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose Image and Labels layers are offered.
    """

    _layer_combos = ("image", "training")

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._viewer = viewer
        self._classes = OutputLayer(viewer, CLASSES_SUFFIX)
        self._objects = OutputLayer(viewer, OBJECTS_SUFFIX)
        self.image = ComboBox(label="image", choices=self._image_choices)
        self.training = ComboBox(label="training labels", choices=self._labels_choices,
                                 tooltip="strokes (0 = unlabelled) or a COCO Labels layer")  # fmt: skip
        self.new_strokes = PushButton(text="New strokes layer")
        self.by = ComboBox(label="COCO classes", choices=[("by category", "category"),
                                                          ("objects vs background", "object")])
        self.intensity = CheckBox(text="intensity", value=True)
        self.edges = CheckBox(text="edges", value=True)
        self.texture = CheckBox(text="texture", value=True)
        self.sigma_min = FloatSpinBox(label="σ min", value=1.0, min=1e-6, max=1e6, step=0.5)
        self.sigma_max = FloatSpinBox(label="σ max", value=16.0, min=1e-6, max=1e6, step=1.0)
        self.trees = SpinBox(label="trees", value=30, min=1, max=500)
        self.live = CheckBox(text="live prediction while painting", value=True)
        self.train_button = PushButton(text="Train")
        self.apply_button = PushButton(text="Apply to all frames")
        self.instances = ComboBox(label="instances", choices=INSTANCE_CHOICES, value="")
        self.objects = LineEdit(label="object classes", value="",
                                tooltip="comma-separated; empty: every class but 1 (background)")
        self.min_distance = FloatSpinBox(label="min distance", value=5.0, min=0, max=1e6)
        self.save_button = PushButton(text="Save classifier…")
        self.load_button = PushButton(text="Load classifier…")
        self.status = Label(value="")
        wrap_status(self.status.native)
        self._options = (self.intensity, self.edges, self.texture, self.sigma_min,
                         self.sigma_max, self.trees)  # fmt: skip
        super().__init__(widgets=[
            self.image, self.training, self.new_strokes, self.by, *self._options, self.live,
            self.train_button, self.instances, self.objects, self.min_distance,
            self.apply_button, self.save_button, self.load_button, self.status,
        ], scrollable=True)  # fmt: skip
        #: The trained (or loaded) classifier.
        self.classifier: cl.PixelClassifier | None = None
        self._dirty = True  # the strokes or settings changed since the classifier was made
        self._labels_layer: Labels | None = None
        self._runner = Runner(self.native, report=self._report, preview=self._preview_task,
                              debounce_ms=300, on_attach=self._catch_up,
                              on_detach=self._disconnect_training)  # fmt: skip
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            self._runner.follow(event, self._on_layers_changed)
        self._runner.start()
        self.new_strokes.changed.connect(self.add_strokes_layer)
        self.train_button.changed.connect(self.train)
        self.apply_button.changed.connect(self.apply)
        self.save_button.changed.connect(self._save_dialog)
        self.load_button.changed.connect(self._load_dialog)
        self.image.changed.connect(self._on_image_changed)
        self.training.changed.connect(self._connect_training)
        self.instances.changed.connect(self._update_visibility)
        self.by.changed.connect(self._on_settings_changed)
        for widget in self._options:
            widget.changed.connect(self._on_settings_changed)
        self._on_image_changed()
        self._connect_training()

    # ------------------------------------------------------------------ layers
    def _image_choices(self, _widget: Any = None) -> list[Image]:
        return [la for la in self._viewer.layers if isinstance(la, Image)]

    def _labels_choices(self, _widget: Any = None) -> list[Labels]:
        outputs = (self._classes.layer, self._objects.layer)
        return [la for la in self._viewer.layers
                if isinstance(la, Labels) and not any(la is o for o in outputs)]  # fmt: skip

    def _on_layers_changed(self, _event: Any = None) -> None:
        self._classes.forget_removed()
        self._objects.forget_removed()
        self.reset_choices()

    def _catch_up(self) -> None:
        self.reset_choices()
        self._connect_training()

    def _on_image_changed(self, _value: Any = None) -> None:
        unit = axis_unit(self.image.value)
        self.sigma_min.label, self.sigma_max.label = f"σ min ({unit})", f"σ max ({unit})"
        self.min_distance.label = f"min distance ({unit})"
        self._on_settings_changed()

    def _on_settings_changed(self, _value: Any = None) -> None:
        self._dirty = True
        self._update_visibility()
        self._request()

    def _update_visibility(self, _value: Any = None) -> None:
        self.by.visible = self._is_coco(self.training.value)
        self.min_distance.visible = self.instances.value == "split"

    @staticmethod
    def _is_coco(layer: Any) -> bool:
        return layer is not None and "coco" in getattr(layer, "metadata", {})

    def _disconnect_training(self) -> None:
        if self._labels_layer is not None:
            for event in (self._labels_layer.events.paint, self._labels_layer.events.data):
                event.disconnect(self._on_strokes)
            self._labels_layer = None

    def _connect_training(self, _value: Any = None) -> None:
        if not self._runner.attached:
            return
        self._disconnect_training()
        self._labels_layer = self.training.value
        if self._labels_layer is not None:
            for event in (self._labels_layer.events.paint, self._labels_layer.events.data):
                event.connect(self._on_strokes)
        self._on_settings_changed()

    def _on_strokes(self, _event: Any = None) -> None:
        self._dirty = True
        self._request()

    def _request(self) -> None:
        if self.live.value and self.training.value is not None:
            self._runner.request()

    def add_strokes_layer(self, _value: Any = None) -> Labels | None:
        """Add an empty Labels layer over the image (its geometry) for strokes, in paint mode."""
        image = self.image.value
        if image is None:
            self._report("add an image layer first: strokes are painted over an image", True)
            return None
        shape = level0(image.data).shape[: image.ndim]
        layer = self._viewer.add_labels(np.zeros(shape, np.uint8), name=f"{image.name} strokes",
                                        **layer_geometry(image))  # fmt: skip
        layer.brush_size = 5
        layer.selected_label = 2
        layer.mode = "paint"
        self.training.value = layer
        self._report("paint label 1 on the background and 2 (3, ...) on the objects")
        return layer

    # ------------------------------------------------------------------ jobs
    def settings(self) -> cl.FeatureSettings:
        """The feature settings the controls describe (in the image's units)."""
        return cl.FeatureSettings(
            intensity=self.intensity.value, edges=self.edges.value, texture=self.texture.value,
            sigma_min=float(self.sigma_min.value), sigma_max=float(self.sigma_max.value),
        )  # fmt: skip

    def _geometry(self, image: Image) -> tuple[np.ndarray, int | None, bool, tuple[float, ...]]:
        """``(data, channel_axis, stacked, spacing)`` of the image layer (2D images or a stack)."""
        data = level0(image.data)
        spatial = image.ndim  # napari's ndim counts no colour channel
        if spatial not in (2, 3):
            raise ValueError(f"image {image.name!r} is {spatial}D: learn from 2D images or a "
                             "stack of them (first axis)")  # fmt: skip
        return data, (-1 if image.rgb else None), spatial == 3, layer_spacing(image, 2)

    def _training_set(self, image: Image, training: Labels) -> tuple[list, list, dict]:
        """Images and label images to train on (copied on the Qt thread), and class names."""
        data, _, stacked, _ = self._geometry(image)
        if self._is_coco(training):
            dataset = training.metadata["coco"]["session"].dataset
            positions = [i for i in range(len(dataset.images)) if dataset.image_annotations(i)]
            if not stacked:
                positions = positions[:1]
            labels, names = cl.coco_training_labels(dataset, positions, by=self.by.value)
            images = [np.asarray(data[p] if stacked else data) for p in positions]
            return images, labels, names
        strokes = np.asarray(level0(training.data))
        if strokes.shape != data.shape[: strokes.ndim] or strokes.ndim != 2 + stacked:
            raise ValueError(
                f"training layer {training.name!r} (shape {strokes.shape}) does not cover image "
                f"{image.name!r} (shape {data.shape}): use 'New strokes layer'"
            )
        if not stacked:
            return [np.asarray(data)], [strokes.copy()], {}
        frames = [i for i in range(strokes.shape[0]) if strokes[i].any()] or [0]
        return [np.asarray(data[i]) for i in frames], [strokes[i].copy() for i in frames], {}

    def _frame_plan(self, *, whole: bool) -> dict[str, Any]:
        """What a prediction needs, read from the layers on the Qt thread."""
        image = self.image.value
        if image is None:
            raise ValueError("choose an image layer")
        data, channel_axis, stacked, spacing = self._geometry(image)
        index = None
        if stacked and not whole:
            index = displayed_index(self._viewer, image, data.shape[0])
            data = data[index]
        plan = {"image": image, "data": np.asarray(data), "channel_axis": channel_axis,
                "stacked": stacked and whole, "index": index, "spacing": spacing,
                "instances": self.instances.value, "objects": self.objects.value,
                "min_distance": float(self.min_distance.value), "train": None}  # fmt: skip
        if self._dirty or self.classifier is None:
            training = self.training.value
            if training is None:
                raise ValueError("choose a training Labels layer (or 'New strokes layer'), or "
                                 "load a classifier")  # fmt: skip
            images, labels, names = self._training_set(image, training)
            plan["train"] = (images, labels, names, self.settings(), int(self.trees.value))
        return plan

    def _steps(self, plan: dict[str, Any]) -> Generator[Any, None, dict[str, Any]]:
        clf = self.classifier
        if plan["train"] is not None:
            images, labels, names, settings, trees = plan["train"]
            clf = cl.train_classifier(images, labels, settings, spacing=plan["spacing"],
                                      channel_axis=plan["channel_axis"], class_names=names,
                                      n_estimators=trees)  # fmt: skip
            yield 0
        semantic = yield from cl.iter_predict_pixels(
            clf, plan["data"], spacing=plan["spacing"], channel_axis=plan["channel_axis"],
            frame_axis=0 if plan["stacked"] else None,
        )  # fmt: skip
        objects = None
        if plan["instances"]:
            classes = object_classes(plan["objects"], clf.classes)
            objects = _instances(semantic, classes, plan["instances"], plan["min_distance"],
                                 plan["spacing"], plan["stacked"])  # fmt: skip
        return {"classifier": clf, "semantic": semantic, "objects": objects}

    def _task(self, *, whole: bool, preview: bool) -> Task | None:
        try:
            plan = self._frame_plan(whole=whole)
        except ValueError as error:
            self._report(str(error), not preview)
            return None
        n = plan["data"].shape[0] if plan["stacked"] else 1
        return Task(self._steps(plan), partial(self._show, plan),
                    total=None if preview else n, desc="pixel classifier",
                    on_done=None if preview else self._enable)  # fmt: skip

    def _preview_task(self) -> Task | None:
        return self._task(whole=False, preview=True)

    @property
    def busy(self) -> bool:
        """True while training or predicting in the background."""
        return self._runner.busy

    def train(self, _value: Any = None) -> Any:
        """Train on the training labels and predict the displayed image/frame (background)."""
        self._dirty = True
        return self._start(whole=False)

    def apply(self, _value: Any = None) -> Any:
        """Predict every frame (training first if needed), with progress."""
        return self._start(whole=True)

    def _start(self, *, whole: bool) -> Any:
        task = self._task(whole=whole, preview=False)
        if task is None:
            return None
        self.train_button.enabled = self.apply_button.enabled = False
        return self._runner.run(task)

    def _enable(self) -> None:
        self.train_button.enabled = self.apply_button.enabled = True

    def _show(self, plan: dict[str, Any], result: dict[str, Any]) -> None:
        """Put the classes (and objects) in their layers; keep the user's layer active."""
        self.classifier = result["classifier"]
        if plan["train"] is not None:
            self._dirty = False
        image, active = plan["image"], self._viewer.layers.selection.active
        if image not in self._viewer.layers:  # removed while computing: keep the classifier
            self.status.value = f"image {image.name!r} was removed: nothing written"
            return
        semantic, objects = result["semantic"], result["objects"]
        if plan["index"] is not None:  # one frame of a stack: the rest stays as it was
            semantic = self._into_stack(self._classes, image, plan["index"], semantic)
            if objects is not None:
                objects = self._into_stack(self._objects, image, plan["index"], objects)
        self._classes.put(semantic, image)
        if objects is not None:
            self._objects.put(objects, image)
        if active is not None and active in self._viewer.layers:
            self._viewer.layers.selection.active = active  # keep painting strokes
        classes = ", ".join(map(str, self.classifier.classes.tolist()))
        n = "" if objects is None else f"; {int(objects.max(initial=0))} object(s)"
        self.status.value = f"classes {classes}{n}"

    @staticmethod
    def _into_stack(output: OutputLayer, image: Image, index: int, frame: np.ndarray) -> np.ndarray:
        """The output's stack with frame ``index`` replaced (zeros where nothing was computed)."""
        layer = output.layer
        shape = level0(image.data).shape[:1] + frame.shape
        data = None if layer is None else layer.data
        if isinstance(data, np.ndarray) and data.shape == shape and np.can_cast(frame.dtype,
                                                                                data.dtype):
            stack = data  # in place (the layer refreshes): no copy of a long stack per stroke
        else:
            stack = np.zeros(shape, np.int32)
        stack[index] = frame
        return stack

    # ------------------------------------------------------------------ files
    def save(self, path: str) -> None:
        """Write the classifier to ``path`` (``.skops``)."""
        if self.classifier is None:
            self._report("train a classifier first", True)
            return
        saved = cl.save_classifier(self.classifier, path)
        self.status.value = f"saved {saved.name}"

    def load(self, path: str) -> None:
        """Read a classifier and predict with it (its feature settings go to the controls)."""
        try:
            clf = cl.load_classifier(path)
        except (ValueError, OSError) as error:
            self._report(str(error), True)
            return
        widgets = (self.intensity, self.edges, self.texture, self.sigma_min, self.sigma_max)
        s = clf.settings
        for widget, value in zip(widgets, (s.intensity, s.edges, s.texture, s.sigma_min,
                                           s.sigma_max), strict=True):  # fmt: skip
            with widget.changed.blocked():
                widget.value = value
        self.classifier, self._dirty = clf, False
        self.status.value = f"loaded classifier of classes {clf.classes.tolist()}"
        self._runner.preview_now()

    def _save_dialog(self, _value: Any = None) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self.native, "Save classifier", "classifier.skops",
                                              "skops (*.skops)")  # fmt: skip
        if path:
            self.save(path)

    def _load_dialog(self, _value: Any = None) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self.native, "Load classifier", "",
                                              "skops (*.skops)")  # fmt: skip
        if path:
            self.load(path)

    def _report(self, message: str, notify: bool = False) -> None:
        self.status.value = message
        if notify:
            show_error(message)
