"""The colour mode of the threshold widget: its controls, its options, and colour picking
(click an RGB pixel, get a colour range around it)."""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import FloatRangeSlider, FloatSlider, PushButton

from napari_coco_masks._widgets._base import level0
from napari_coco_masks.segment.colour import hsv_range_around, rgb_to_hsv

__all__ = ["ColourPick", "clip_range"]


def clip_range(pair: Any, slider: Any) -> tuple[float, float]:
    """``pair`` (low, high) clipped to ``slider``'s range, NaN as the slider's ends."""
    lo, hi = (float(v) for v in pair)
    lo = float(np.clip(np.nan_to_num(lo, nan=slider.min), slider.min, slider.max))
    hi = float(np.clip(np.nan_to_num(hi, nan=slider.max), slider.min, slider.max))
    return (lo, hi) if lo <= hi else (hi, lo)


class ColourPick:
    """Mixin of :class:`~napari_coco_masks._widgets.threshold.ThresholdWidget`: colour mode.

    Uses the widget's ``_viewer``, ``_layer()``, ``_report()``, its ``mode`` control and
    ``_on_params_changed()``.
    """

    _viewer: Any

    def _make_colour_controls(self) -> tuple[Any, ...]:
        """The controls of the colour mode (hue, saturation and value ranges, pick button)."""
        self.hue = FloatSlider(label="hue (°)", min=0.0, max=360.0, value=0.0)
        self.hue_tolerance = FloatSlider(label="hue ± (°)", min=0.0, max=180.0, value=20.0)
        self.saturation = FloatRangeSlider(
            label="saturation", min=0.0, max=1.0, step=0.01, value=(0.25, 1.0)
        )
        self.brightness = FloatRangeSlider(
            label="value (HSV)", min=0.0, max=1.0, step=0.01, value=(0.2, 1.0)
        )
        self.pick_button = PushButton(text="Pick colour, then click the image")
        self.pick_button.changed.connect(self.start_pick)
        return (self.hue, self.hue_tolerance, self.saturation, self.brightness, self.pick_button)

    def _colour_options(self) -> dict[str, Any]:
        """The hue, saturation and value ranges of :func:`~napari_coco_masks.segment.colour_labels`."""
        centre, tol = float(self.hue.value), float(self.hue_tolerance.value)
        hue = (0.0, 360.0) if tol >= 180 else ((centre - tol) % 360, (centre + tol) % 360)
        return {"hue": hue, "saturation": tuple(self.saturation.value),
                "value": tuple(self.brightness.value)}  # fmt: skip

    def start_pick(self, *_: Any) -> None:
        """Wait for a click in the canvas and take the colour under it as the colour range."""
        if not getattr(self._layer(), "rgb", False):  # type: ignore[attr-defined]
            self._report("Colour picking needs an RGB image layer.", notify=True)  # type: ignore[attr-defined]
            return
        if self._on_pick_click not in self._viewer.mouse_drag_callbacks:
            self._viewer.mouse_drag_callbacks.append(self._on_pick_click)
        self._report("Click a colour in the image…")  # type: ignore[attr-defined]

    def stop_pick(self) -> None:
        """Stop waiting for a click (the dock was closed)."""
        if self._on_pick_click in self._viewer.mouse_drag_callbacks:
            self._viewer.mouse_drag_callbacks.remove(self._on_pick_click)

    def _on_pick_click(self, viewer: Any, event: Any) -> None:
        if event.type != "mouse_press":
            return
        if self._on_pick_click in viewer.mouse_drag_callbacks:
            viewer.mouse_drag_callbacks.remove(self._on_pick_click)
        self.pick_colour(event.position)

    def pick_colour(self, world_position: Any) -> tuple[float, float, float] | None:
        """Set the colour range around the RGB pixel at a world position; return its HSV."""
        w: Any = self
        layer = w._layer()
        if not getattr(layer, "rgb", False):
            w._report("Colour picking needs an RGB image layer.", notify=True)
            return None
        data = level0(layer.data)
        coords = np.round(layer.world_to_data(world_position)).astype(int)
        if np.any(coords < 0) or np.any(coords >= np.asarray(data.shape[:-1])):
            w._report("The click was outside the image: pick a colour inside it.")
            return None
        pixel = np.asarray(data[tuple(coords)])
        _, saturation, value = hsv_range_around(
            pixel, saturation_tolerance=0.25, value_tolerance=0.25, dtype=data.dtype
        )
        hsv = rgb_to_hsv(pixel.reshape(1, 1, -1))[0, 0]
        # float RGB data outside [0, 1] gives ranges outside the sliders' (magicgui raised
        # "value -5.1 is outside of the allowed range", issue 12): clip them to the sliders
        saturation = clip_range(saturation, w.saturation)
        value = clip_range(value, w.brightness)
        with w.hue.changed.blocked(), w.saturation.changed.blocked():
            w.hue.value = float(np.clip(hsv[0], w.hue.min, w.hue.max))
            w.saturation.value = saturation
        w.mode.value = "colour"
        w.brightness.value = value  # one change event: one preview
        w._on_params_changed()
        return float(hsv[0]), float(hsv[1]), float(hsv[2])
