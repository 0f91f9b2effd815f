"""Dock widget "Edges": Sobel / Scharr / Canny / LoG as an image layer, then objects from them.

A thin napari adapter over :mod:`napari_coco_masks.segment.edges`. The edge image goes to an
Image layer ``"<image> edges"`` (live preview, debounced, in the background); *Fill closed
edges → objects* labels what closed Canny edges enclose
(:func:`~napari_coco_masks.segment.edges.edges_to_objects`), and *Use as watershed elevation*
floods the gradient magnitude from the points of a Points layer
(:func:`napari_coco_masks.segment.watershed`). σ, the thresholds and the smallest object are
in the image's physical units; every output keeps the image's scale, translate and units.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    PushButton,
)
from napari.layers import Image, Points
from napari.utils.notifications import show_error

from napari_coco_masks._widgets._base import (
    KeepsLayerChoices,
    OutputLayer,
    Runner,
    ScrollingNative,
    Task,
    axis_unit,
    layer_geometry,
    layer_spacing,
    level0,
    one_step,
    points_to_image,
    wrap_status,
)
from napari_coco_masks.segment import edges as ed

if TYPE_CHECKING:
    import napari

__all__ = ["EDGES_SUFFIX", "EdgesWidget", "compute_edges", "grey_of"]

EDGES_SUFFIX = " edges"
METHODS = [("Sobel", "sobel"), ("Scharr", "scharr"), ("Canny", "canny"),
           ("Laplacian of Gaussian", "log")]  # fmt: skip


def grey_of(layer: Image) -> np.ndarray:
    """The layer's full-resolution data as a grey image (luminance of RGB)."""
    data = np.asarray(level0(layer.data))
    if layer.rgb:
        from napari_coco_masks.segment import luminance

        return luminance(data)
    return data


def compute_edges(grey: np.ndarray, method: str, spacing: tuple[float, ...], *, sigma: float,
                  low: float | None = None, high: float | None = None,
                  quantiles: bool = False) -> np.ndarray:
    """The edge image the widget shows (the public functions of :mod:`segment.edges`)."""
    if method == "canny":
        return ed.canny(grey, sigma, low_threshold=low, high_threshold=high,
                        use_quantiles=quantiles, spacing=spacing)  # fmt: skip
    if method == "log":
        return ed.laplacian_of_gaussian(grey, sigma if sigma > 0 else 1.0, spacing=spacing)
    return ed.edge_magnitude(grey, method, sigma=sigma, spacing=spacing)



class EdgesWidget(KeepsLayerChoices, ScrollingNative, Container):
    """Show edges of an image, fill closed edges into objects, or flood them from seeds.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose Image and Points layers are offered.
    """

    _layer_combos = ("image", "seeds")

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._viewer = viewer
        self._objects = OutputLayer(viewer, " edge objects")
        self._flooded = OutputLayer(viewer, " edge watershed")
        self.image = ComboBox(label="image", choices=self._image_choices)
        self.method = ComboBox(label="method", choices=METHODS, value="sobel")
        self.sigma = FloatSpinBox(label="σ", value=1.0, min=0, max=1e6, step=0.5)
        self.low = FloatSpinBox(label="low threshold (0 = auto)", value=0, min=0, max=1e12)
        self.high = FloatSpinBox(label="high threshold (0 = auto)", value=0, min=0, max=1e12)
        self.quantiles = CheckBox(text="thresholds are quantiles (0..1)", value=False)
        self.min_size = FloatSpinBox(label="min size", value=0, min=0, max=1e15)
        self.fill_button = PushButton(text="Fill closed edges → objects")
        self.seeds = ComboBox(label="seeds", choices=self._points_choices)
        self.compactness = FloatSpinBox(label="compactness", value=0, min=0, max=1e6)
        self.watershed_button = PushButton(text="Use as watershed elevation")
        self.status = Label(value="")
        wrap_status(self.status.native)
        self._options = (self.method, self.sigma, self.low, self.high, self.quantiles)
        super().__init__(widgets=[
            self.image, *self._options, self.min_size, self.fill_button, self.seeds,
            self.compactness, self.watershed_button, self.status,
        ], scrollable=True)  # fmt: skip
        self._edges_layer: Image | None = None
        self._runner = Runner(self.native, report=self._report, preview=self._preview_task,
                              on_attach=self._catch_up)  # fmt: skip
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            self._runner.follow(event, self._on_layers_changed)
        self._runner.start()
        self.image.changed.connect(self._on_image_changed)
        for widget in self._options:
            widget.changed.connect(self._on_option_changed)
        self.fill_button.changed.connect(self.fill)
        self.watershed_button.changed.connect(self.flood)
        self._on_image_changed()

    # ------------------------------------------------------------------ layers and controls
    def _image_choices(self, _widget: Any = None) -> list[Image]:
        return [la for la in self._viewer.layers
                if isinstance(la, Image) and la is not getattr(self, "_edges_layer", None)]

    def _points_choices(self, _widget: Any = None) -> list[Points]:
        return [la for la in self._viewer.layers if isinstance(la, Points)]

    def _on_layers_changed(self, _event: Any = None) -> None:
        if self._edges_layer is not None and self._edges_layer not in self._viewer.layers:
            self._edges_layer = None
        self._objects.forget_removed()
        self._flooded.forget_removed()
        self.reset_choices()

    def _catch_up(self) -> None:
        self.reset_choices()
        self._runner.request()

    def _on_image_changed(self, _value: Any = None) -> None:
        unit = axis_unit(self.image.value)
        self.sigma.label = f"σ ({unit})"
        self.min_size.label = f"min size ({unit}²)"
        self._on_option_changed()

    def _on_option_changed(self, _value: Any = None) -> None:
        canny = self.method.value == "canny"
        for widget in (self.low, self.high, self.quantiles, self.min_size, self.fill_button):
            widget.visible = canny
        self._runner.request()

    @property
    def busy(self) -> bool:
        """True while edges or objects are computed in the background."""
        return self._runner.busy

    # ------------------------------------------------------------------ jobs
    def _inputs(self) -> tuple[Image, np.ndarray, tuple[float, ...]] | None:
        image = self.image.value
        if image is None:
            self._report("choose an image layer")
            return None
        grey = grey_of(image)
        return image, grey, layer_spacing(image, grey.ndim)

    def _edges(self, grey: np.ndarray, spacing: tuple[float, ...]) -> Any:
        low, high = float(self.low.value) or None, float(self.high.value) or None
        return partial(compute_edges, grey, self.method.value, spacing,
                       sigma=float(self.sigma.value), low=low, high=high,
                       quantiles=self.quantiles.value)  # fmt: skip

    def _preview_task(self) -> Task | None:
        inputs = self._inputs()
        if inputs is None:
            return None
        image, grey, spacing = inputs
        return Task(one_step(self._edges(grey, spacing)), partial(self._show_edges, image))

    def _show_edges(self, image: Image, result: np.ndarray) -> None:
        if image not in self._viewer.layers:  # removed while computing: nothing to show
            return
        data = result.astype(np.uint8) if result.dtype == bool else result
        name = f"{image.name}{EDGES_SUFFIX}"
        layer = self._edges_layer
        if layer is not None and layer in self._viewer.layers:
            layer.data = data
            layer.reset_contrast_limits()
        else:
            active = self._viewer.layers.selection.active
            self._edges_layer = self._viewer.add_image(data, name=name, colormap="magma",
                                                       blending="additive",
                                                       **layer_geometry(image, data.ndim))  # fmt: skip
            if active is not None and active in self._viewer.layers:
                self._viewer.layers.selection.active = active
        self.status.value = f"{dict((v, k) for k, v in METHODS)[self.method.value]} edges"

    def fill(self, _value: Any = None) -> Any:
        """Label what the closed Canny edges enclose (background)."""
        inputs = self._inputs()
        if inputs is None:
            return None
        if self.method.value != "canny":
            self._report("Fill closed edges needs binary edges: choose Canny", True)
            return None
        image, grey, spacing = inputs
        edges, min_size = self._edges(grey, spacing), float(self.min_size.value)

        def job() -> np.ndarray:
            return ed.edges_to_objects(edges(), min_size=min_size, spacing=spacing)

        return self._runner.run(Task(one_step(job), partial(self._put, self._objects, image),
                                     total=0, desc="fill closed edges"))  # fmt: skip

    def flood(self, _value: Any = None) -> Any:
        """Seeded watershed on the gradient magnitude (Sobel/Scharr; Sobel for Canny and LoG)."""
        from napari_coco_masks.segment import watershed

        inputs = self._inputs()
        if inputs is None:
            return None
        image, grey, spacing = inputs
        points = self.seeds.value
        if points is None or not len(points.data):
            self._report("add seed points in a Points layer and choose it as seeds", True)
            return None
        if points.ndim != grey.ndim:
            self._report(f"seeds layer {points.name!r} is {points.ndim}D but image "
                         f"{image.name!r} is {grey.ndim}D", True)  # fmt: skip
            return None
        markers = points_to_image(points, image)
        method = self.method.value if self.method.value in ("sobel", "scharr") else "sobel"
        sigma, compactness = float(self.sigma.value), float(self.compactness.value)

        def job() -> np.ndarray:
            elevation = ed.edge_magnitude(grey, method, sigma=sigma, spacing=spacing)
            return watershed(elevation, markers, compactness=compactness)

        return self._runner.run(Task(one_step(job), partial(self._put, self._flooded, image),
                                     total=0, desc="edge watershed"))  # fmt: skip

    def _put(self, output: OutputLayer, image: Image, labels: np.ndarray) -> None:
        if image not in self._viewer.layers:
            self._report(f"image {image.name!r} was removed: nothing written")
            return
        active = self._viewer.layers.selection.active
        output.put(labels, image)
        if active is not None and active in self._viewer.layers:
            self._viewer.layers.selection.active = active
        self.status.value = f"{int(labels.max(initial=0))} object(s)"

    def _report(self, message: str, notify: bool = False) -> None:
        self.status.value = message
        if notify:
            show_error(message)
