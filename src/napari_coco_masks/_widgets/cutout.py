"""Dock widget "Cut-outs and masked images": apply a mask, export RGBA cut-outs.

A thin napari adapter over :mod:`napari_coco_masks.segment.cutout`. *Apply mask* adds a new
Image layer ``"<image> masked"`` (the image's scale, translate and units) whose pixels outside
the mask are 0 or transparent; the mask is any Labels layer (every non-zero label) or Shapes
layer (every shape). *Export cut-outs* writes one RGBA PNG per object, cropped to its box, and a
CSV of file → annotation id / category (:func:`~napari_coco_masks.segment.cutout.export_cutouts`)
in the background. *Composite* pastes the cut-outs on another image (augmentation), adds the
result as a new Image layer and writes it with the COCO annotations of what shows
(:func:`~napari_coco_masks.segment.cutout.composite`) into the folder. A Labels layer read from COCO exports its annotations (masks exactly as
pycocotools'); any other Labels layer exports its labels.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
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
from napari.layers import Image, Labels, Shapes
from napari.utils.notifications import show_error

from napari_coco_masks._widgets._base import (
    KeepsLayerChoices,
    Runner,
    ScrollingNative,
    Task,
    displayed_index,
    layer_geometry,
    level0,
    one_step,
    wrap_status,
)
from napari_coco_masks.segment import cutout as co

if TYPE_CHECKING:
    import napari

__all__ = ["CutoutWidget", "mask_of"]


def mask_of(layer: Labels | Shapes, image: Image, index: int | None = None) -> np.ndarray:
    """The (rows, columns) mask of ``layer`` over the 2D ``image`` (frame ``index`` of a stack)."""
    shape = level0(image.data).shape[image.ndim - 2 : image.ndim]
    if isinstance(layer, Labels):
        data = np.asarray(level0(layer.data))
        if index is not None and data.ndim == 3:
            data = data[index]
        if data.shape != shape:
            raise ValueError(f"mask layer {layer.name!r} (shape {data.shape}) does not cover "
                             f"image {image.name!r} (shape {shape})")  # fmt: skip
        return data != 0
    if not len(layer.data):
        return np.zeros(shape, bool)
    shapes = []
    for vertices in layer.data:
        world = np.asarray(vertices, float) * np.asarray(layer.scale) + np.asarray(layer.translate)
        pixels = (world[:, -2:] - np.asarray(image.translate)[-2:]) / np.asarray(image.scale)[-2:]
        shapes.append(pixels)
    flat = Shapes(shapes, shape_type=list(layer.shape_type))
    return flat.to_labels(labels_shape=shape) != 0



class CutoutWidget(KeepsLayerChoices, ScrollingNative, Container):
    """Mask an image with a Labels or Shapes layer, or export its objects as RGBA cut-outs.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose Image, Labels and Shapes layers are offered.
    """

    _layer_combos = ("image", "mask")

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._viewer = viewer
        self.image = ComboBox(label="image", choices=self._image_choices)
        self.mask = ComboBox(label="mask / objects", choices=self._mask_choices)
        self.background = ComboBox(label="background",
                                   choices=[("0 (black)", "zero"), ("transparent", "transparent")])
        self.apply_button = PushButton(text="Apply mask")
        self.folder = FileEdit(label="folder", mode="d", value=str(Path.home()))
        self.stem = LineEdit(label="name (empty: automatic)", value="")
        self.export_button = PushButton(text="Export cut-outs")
        self.paste_on = ComboBox(label="paste on", choices=self._image_choices)
        self.pastes = SpinBox(label="pastes (0 = each once)", value=0, min=0, max=100_000)
        self.seed = SpinBox(label="seed", value=0, min=0, max=2**31 - 1)
        self.min_visible = FloatSpinBox(label="min visible fraction", value=0.0, min=0, max=1,
                                        step=0.05)  # fmt: skip
        self.composite_button = PushButton(text="Composite")
        self.status = Label(value="")
        wrap_status(self.status.native)
        super().__init__(widgets=[self.image, self.mask, self.background, self.apply_button,
                                  self.folder, self.stem, self.export_button, self.paste_on,
                                  self.pastes, self.seed, self.min_visible,
                                  self.composite_button, self.status],
                         scrollable=True)  # fmt: skip
        #: Files written by the last export.
        self.written: list[Path] = []
        self._runner = Runner(self.native, report=self._report, on_attach=self.reset_choices)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            self._runner.follow(event, self.reset_choices)
        self._runner.start()
        self.apply_button.changed.connect(self.apply)
        self.export_button.changed.connect(self.export)
        self.composite_button.changed.connect(self.composite)

    def _image_choices(self, _widget: Any = None) -> list[Image]:
        return [la for la in self._viewer.layers if isinstance(la, Image)]

    def _mask_choices(self, _widget: Any = None) -> list[Any]:
        return [la for la in self._viewer.layers if isinstance(la, Labels | Shapes)]

    @property
    def busy(self) -> bool:
        """True while an export runs."""
        return self._runner.busy

    def _frame(self) -> tuple[Image, np.ndarray, int | None]:
        image, mask = self.image.value, self.mask.value
        if image is None or mask is None:
            raise ValueError("choose an image and a Labels or Shapes layer")
        data = np.asarray(level0(image.data))
        spatial = image.ndim
        if spatial not in (2, 3):
            raise ValueError(f"image {image.name!r} is {spatial}D: cut-outs are 2D")
        index = displayed_index(self._viewer, image, data.shape[0]) if spatial == 3 else None
        return image, data if index is None else data[index], index

    def apply(self, _value: Any = None) -> Image | None:
        """Add the masked image (the shown frame of a stack) as a new Image layer."""
        try:
            image, frame, index = self._frame()
            keep = mask_of(self.mask.value, image, index)
            transparent = self.background.value == "transparent"
            out = co.apply_mask(frame, keep, background="transparent" if transparent else 0)
        except ValueError as error:
            self._report(str(error), True)
            return None
        layer = self._viewer.add_image(out, name=f"{image.name} masked", rgb=out.ndim == 3,
                                       **layer_geometry(image, 2))  # fmt: skip
        self.status.value = f"{int(keep.sum())} pixel(s) kept in {layer.name!r}"
        return layer

    def _source(self) -> tuple[np.ndarray, Any, int]:
        """``(frame, objects, image position)``: COCO annotations, or a Labels layer's labels."""
        image, frame, index = self._frame()
        mask = self.mask.value
        coco = getattr(mask, "metadata", {}).get("coco")
        if coco is not None:
            return frame, coco["session"].dataset, index or 0
        if isinstance(mask, Labels):
            labels = np.asarray(level0(mask.data))
            return frame, labels if index is None or labels.ndim == 2 else labels[index], 0
        raise ValueError("cut-outs come from a Labels layer (each label an object)")

    def export(self, _value: Any = None) -> Any:
        """Write one RGBA PNG per object and the CSV into the folder (background)."""
        try:
            frame, source, position = self._source()
        except ValueError as error:
            self._report(str(error), True)
            return None
        folder, name = Path(self.folder.value), self.stem.value.strip() or None

        def job() -> list[Path]:
            return co.export_cutouts(frame, source, folder, image_position=position, name=name)

        return self._runner.run(Task(one_step(job), self._exported, total=0,
                                     desc="exporting cut-outs"))  # fmt: skip

    def composite(self, _value: Any = None) -> Any:
        """Paste the cut-outs on the *paste on* image; add it, write its PNG and COCO file."""
        try:
            frame, source, position = self._source()
            target = self.paste_on.value
            if target is None:
                raise ValueError("choose the image to paste on")
            background = np.asarray(level0(target.data))
        except ValueError as error:
            self._report(str(error), True)
            return None
        folder = Path(self.folder.value)
        stem = self.stem.value.strip() or f"{target.name} composite"
        n, seed = int(self.pastes.value) or None, int(self.seed.value)
        min_visible = float(self.min_visible.value)

        def job() -> tuple[np.ndarray, dict, Path]:
            import json

            from napari_coco_masks.coco.write import write_bytes

            pieces = co.cutouts(frame, source, image_position=position)
            image, dataset = co.composite(pieces, background, n=n, seed=seed,
                                          min_visible=min_visible, file_name=f"{stem}.png")
            import imageio.v3 as iio

            write_bytes(iio.imwrite("<bytes>", image, extension=".png"), folder / f"{stem}.png")
            path = write_bytes(json.dumps(dataset).encode(), folder / f"{stem}.json")
            return image, dataset, path

        return self._runner.run(Task(one_step(job), partial(self._composited, target, stem),
                                     total=0, desc="composite"))  # fmt: skip

    def _composited(self, target: Image, stem: str, result: tuple) -> None:
        image, dataset, path = result
        self.written = [path]
        if target not in self._viewer.layers:  # removed meanwhile: the files are written
            self.status.value = f"wrote {path.name}; image {target.name!r} was removed"
            return
        self._viewer.add_image(image, name=stem, rgb=True, **layer_geometry(target, 2))
        self.status.value = f"{len(dataset['annotations'])} object(s) pasted; wrote {path.name}"

    def _exported(self, files: list[Path]) -> None:
        self.written = files
        self.status.value = f"wrote {len(files) - 1} cut-out(s) and {files[-1].name}"

    def _report(self, message: str, notify: bool = False) -> None:
        self.status.value = message
        if notify:
            show_error(message)
