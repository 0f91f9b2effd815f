"""Dock widget: live seeded region growing from the points of a Points layer.

Each point of the seeds layer grows one region as soon as it is added; moving or deleting a
point updates its region. Points that share a ``label`` feature value grow one object. The
regions go to a Labels layer ``"<image> regions"`` that keeps the image's scale, translate and
units. Regions are computed in a worker thread and cached per seed group, so a new point only
costs its own region.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    PushButton,
    SpinBox,
)
from napari.layers import Image, Points
from napari.utils.notifications import show_error

from napari_coco_masks._widgets._base import (
    KeepsLayerChoices,
    Runner,
    ScrollingNative,
    Task,
    axis_unit,
    layer_geometry,
    points_to_image,
    time_axes,
    upsert_labels,
    wrap_status,
)
from napari_coco_masks._widgets._recipe_buttons import recipe_buttons
from napari_coco_masks._widgets._recipe_maps import region_recipe, set_region
from napari_coco_masks._widgets._region_job import (
    Plan,
    Seeds,
    compose,
    group_seeds,
    grow_in_thread,
    spatial_shape,
)
from napari_coco_masks.segment.region_growing import Region

if TYPE_CHECKING:
    import napari

class RegionGrowingWidget(KeepsLayerChoices, ScrollingNative, Container):
    """Grow one region per seed point, live.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose Image and Points layers are offered.
    """

    _layer_combos = ("_image", "_seeds")

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._viewer = viewer
        self._image = ComboBox(label="image", choices=self._image_choices)
        self._seeds = ComboBox(label="seeds", choices=self._points_choices)
        self._new_seeds = PushButton(text="New seeds layer")
        self._mode = ComboBox(
            label="criterion",
            choices=[("intensity range", "range"), ("confidence connected", "confidence")],
            value="range",
        )
        self._tolerance = FloatSpinBox(
            label="tolerance (±, 0 = auto)", value=0.0, min=0, max=1e12,
            tooltip="0: grow the seed's side of the image's Otsu threshold; otherwise the "
            "range seed value ± tolerance",
        )
        self._fixed = CheckBox(text="fixed lower/upper bounds", value=False)
        self._lower = FloatSpinBox(label="lower", value=0.0, min=-1e12, max=1e12)
        self._upper = FloatSpinBox(label="upper", value=255.0, min=-1e12, max=1e12)
        self._multiplier = FloatSpinBox(
            label="multiplier (k·std)", value=2.5, min=0, max=100, step=0.1
        )
        self._iterations = SpinBox(label="iterations", value=4, min=0, max=100)
        self._radius = SpinBox(label="initial radius", value=1, min=0, max=100)
        self._smoothing = FloatSpinBox(
            label="pre-smoothing σ (px)", value=0.0, min=0, max=1e6, step=0.5,
            tooltip="Gaussian smoothing before growing, in the image's physical units",
        )
        self._connectivity = ComboBox(label="connectivity", choices=["face", "full"], value="face")
        self._dims = ComboBox(
            label="grow in",
            choices=[("3D (volume per frame)", 3), ("2D (per slice/frame)", 2)],
            value=3,
        )
        self._max_size = FloatSpinBox(
            label="max size (px², 0 = none)", value=0.0, min=0, max=1e15, step=1.0,
            tooltip="Largest area (2D) or volume (3D) of a region, in the image's units",
        )
        self._status = Label(value="")
        wrap_status(self._status.native)
        self.save_recipe_button, self.load_recipe_button = recipe_buttons(
            self, lambda: region_recipe(self), lambda r: set_region(self, r), self._say)
        self._option_widgets = (
            self._mode,
            self._tolerance,
            self._fixed,
            self._lower,
            self._upper,
            self._multiplier,
            self._iterations,
            self._radius,
            self._smoothing,
            self._connectivity,
            self._dims,
            self._max_size,
        )
        super().__init__(
            widgets=[
                self._image,
                self._seeds,
                self._new_seeds,
                *self._option_widgets,
                self.save_recipe_button,
                self.load_recipe_button,
                self._status,
            ],
            scrollable=True,  # docks stay small on small screens
        )
        self._cache: dict[tuple, Region] = {}
        self._frames: dict[tuple[int, ...], np.ndarray] = {}
        self._frames_key: tuple | None = None
        self._points: Points | None = None
        self._last_error: str | None = None
        self._runner = Runner(
            self.native, report=self._report, preview=self._preview_task,
            on_attach=self._catch_up, on_detach=self._disconnect_points,
        )  # fmt: skip
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            self._runner.follow(event, self._on_layers_changed)
        self._runner.start()
        self._new_seeds.changed.connect(self._add_seeds_layer)
        self._image.changed.connect(self._on_image_changed)
        self._seeds.changed.connect(self._connect_points)
        for widget in self._option_widgets:
            widget.changed.connect(self._on_option_changed)
        self._follow_image()
        self._update_visibility()
        self._connect_points()

    # ------------------------------------------------------------------ layer plumbing

    def _image_choices(self, _widget: Any = None) -> list[Image]:
        return [layer for layer in self._viewer.layers if isinstance(layer, Image)]

    def _points_choices(self, _widget: Any = None) -> list[Points]:
        return [layer for layer in self._viewer.layers if isinstance(layer, Points)]

    def _disconnect_points(self) -> None:
        """Stop following the seeds layer (the dock was closed, or other seeds were chosen)."""
        if self._points is not None:
            self._points.events.data.disconnect(self._on_points_data)
            self._points.events.features.disconnect(self._on_features)
            self._points = None

    def _catch_up(self) -> None:
        """Docked again: catch up with the layers and the seeds."""
        self.reset_choices()
        self._connect_points()

    def _on_layers_changed(self, _event: Any = None) -> None:
        self.reset_choices()

    def _on_image_changed(self, _value: Any = None) -> None:
        self._follow_image()
        self._frames.clear()
        self._cache.clear()
        self.refresh()

    def _on_option_changed(self, _value: Any = None) -> None:
        self._update_visibility()
        self._update_unit_labels()
        self.refresh()

    def _update_visibility(self) -> None:
        confidence = self._mode.value == "confidence"
        for widget in (self._multiplier, self._iterations, self._radius):
            widget.visible = confidence
        self._fixed.visible = not confidence
        self._tolerance.visible = not confidence and not self._fixed.value
        self._lower.visible = self._upper.visible = not confidence and self._fixed.value

    def _add_seeds_layer(self, _value: Any = None) -> None:
        """Add an empty Points layer over the image, in add mode, and select it as seeds."""
        image = self._image.value
        if image is None:
            self._report("add an image layer first: seeds are points on an image")
            return
        ndim = image.ndim
        geometry = layer_geometry(image)
        points = self._viewer.add_points(
            np.empty((0, ndim)),
            name=f"{image.name} seeds",
            ndim=ndim,
            size=6,
            face_color="yellow",
            **geometry,
        )
        points.mode = "add"
        self._seeds.value = points

    def _connect_points(self, _value: Any = None) -> None:
        if not self._runner.attached:
            return
        self._disconnect_points()
        self._points = self._seeds.value
        if self._points is not None:
            self._points.events.data.connect(self._on_points_data)
            self._points.events.features.connect(self._on_features)
        self.refresh()

    def _on_features(self, _event: Any = None) -> None:
        """Edited ``label`` values regroup the seeds (cheap: regions come from the cache)."""
        if self._points is not None and "label" in self._points.features.columns:
            self.refresh()

    def _on_points_data(self, event: Any) -> None:
        action = str(getattr(event, "action", ""))
        if action.endswith(("added", "changed", "removed")):
            self.refresh()

    # ------------------------------------------------------------------ options and plan

    def _follow_image(self) -> None:
        """Offer *grow in* only for images of 3+ axes, and never grow through a first axis whose
        unit is a duration (s, min, ...) by default: such a stack is a time series."""
        image = self._image.value
        ndim = 0 if image is None else len(spatial_shape(image))
        self._dims.visible = ndim >= 3
        if image is not None and ndim >= 3:
            with self._dims.changed.blocked():
                self._dims.value = 2 if ndim == 3 and 0 in time_axes(image) else 3
        self._update_unit_labels()

    def _update_unit_labels(self) -> None:
        """σ is a length and max size an area (2D) or volume (3D) in the image's units."""
        image = self._image.value
        ndim = 2 if image is None else len(spatial_shape(image))
        grow_ndim = min(int(self._dims.value), max(ndim, 1))
        unit = axis_unit(image)
        self._smoothing.label = f"pre-smoothing σ ({unit})"
        power = {1: "", 2: "²"}.get(grow_ndim, "³")
        self._max_size.label = f"max size ({unit}{power}, 0 = none)"

    def _options(self, spatial_ndim: int, spacing: tuple[float, ...]) -> dict[str, Any]:
        size = float(self._max_size.value)  # physical: grow_region converts it with spacing
        options: dict[str, Any] = {
            "mode": self._mode.value,
            "connectivity": 1 if self._connectivity.value == "face" else spatial_ndim,
            "max_size": size if size > 0 else None,
        }
        if self._mode.value == "confidence":
            options.update(
                multiplier=float(self._multiplier.value),
                iterations=int(self._iterations.value),
                radius=int(self._radius.value),
            )
        elif self._fixed.value:
            options.update(lower=float(self._lower.value), upper=float(self._upper.value))
        elif self._tolerance.value > 0:
            options.update(tolerance=float(self._tolerance.value))
        else:
            options.update(auto=True)
        return options

    def _seed_labels(self, points: Points) -> np.ndarray:
        """The ``label`` feature where it holds positive integers, else 1..N."""
        n = len(points.data)
        if "label" in points.features.columns:
            values = np.asarray(points.features["label"], dtype=float)
            if values.size == n and np.all(np.isfinite(values)) and np.all(values >= 1):
                return np.rint(values).astype(np.int64)
        return np.arange(1, n + 1)

    def _plan(self) -> Plan | None:
        image, points = self._image.value, self._seeds.value
        if image is None or points is None:
            return None
        if image.multiscale:
            raise ValueError(
                f"image {image.name!r} is multiscale; region growing needs a single-scale "
                "image (add its full-resolution level as its own layer)"
            )
        shape = spatial_shape(image)
        if points.ndim != len(shape):
            raise ValueError(
                f"seeds layer {points.name!r} is {points.ndim}D but image {image.name!r} is "
                f"{len(shape)}D; use 'New seeds layer' to make matching seeds"
            )
        grow_ndim = min(int(self._dims.value), len(shape))
        coords = np.rint(points_to_image(points, image)).astype(np.int64)
        objects, ignored = group_seeds(coords, self._seed_labels(points), shape, grow_ndim)
        spacing = tuple(float(v) for v in image.scale[len(image.scale) - grow_ndim :])
        options = tuple(sorted(self._options(grow_ndim, spacing).items()))
        sigma = float(self._smoothing.value)  # physical, as max size: no conversion here
        source = (id(image), id(image.data), (sigma, *spacing))
        return Plan(image, shape, objects, options, sigma, spacing, ignored, source)

    # ------------------------------------------------------------------ compute and show

    @property
    def busy(self) -> bool:
        """True while regions are being computed in the background."""
        return self._runner.busy

    def refresh(self) -> None:
        """Recompute (from the cache where possible) and show the regions of all seeds."""
        self._runner.preview_now()

    def _preview_task(self) -> Task | None:
        """Grow the regions not in the cache (in the background), or show the cached ones."""
        try:
            plan = self._plan()
        except ValueError as err:
            self._report(str(err))
            return None
        if plan is None:
            return None
        if plan.source != self._frames_key:
            self._frames = {}
            self._frames_key = plan.source
        missing = [obj for obj in plan.objects if plan.key(obj) not in self._cache]
        if not missing:
            self._show(plan)
            return None
        steps = grow_in_thread(
            plan.image.data, plan.image.rgb, missing, dict(plan.options), plan.sigma,
            plan.spacing, self._frames,
        )
        return Task(
            steps, lambda _result: self._show(plan), total=len(missing),
            desc="growing regions", on_batch=lambda batch: self._store(batch, plan),
        )  # fmt: skip

    def _store(self, batch: list[tuple[Seeds, Region]], plan: Plan) -> None:
        for obj, region in batch:
            self._cache[plan.key(obj)] = region

    def _show(self, plan: Plan) -> None:
        """Compose the cached regions of the plan into the output Labels layer."""
        if self._runner.pending or not self._runner.attached:  # newer request, or dock closed
            return
        keys = {plan.key(obj) for obj in plan.objects}
        self._cache = {k: v for k, v in self._cache.items() if k in keys}
        out, notes = compose(plan, self._cache)
        name = f"{plan.image.name} regions"
        if not plan.objects and name not in self._viewer.layers:
            return
        layers = self._viewer.layers
        active, existed = layers.selection.active, name in layers
        output = upsert_labels(self._viewer, out, name=name, like=plan.image)
        if not existed and self._points in layers:  # keep the seeds visible above the regions
            layers.move(layers.index(output), layers.index(self._points))
        if active is not None and active in layers and layers.selection.active is not active:
            layers.selection.active = active  # keep clicking seeds, not painting labels
        self._status.value = "; ".join(notes)
        self._last_error = None

    def _say(self, message: str) -> None:
        """A recipe button's message: the status line only (no notification)."""
        self._status.value = message

    def _report(self, message: str, notify: bool = True) -> None:
        """Show one clear message (status label, and a notification once per new message).

        Region growing has no button: every message comes from a live update, and each new
        one is notified once (``notify`` is not needed).
        """
        self._status.value = message
        if message != self._last_error:
            self._last_error = message
            show_error(message)

