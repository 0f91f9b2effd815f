"""Layer helpers of the dock widgets: no Qt, only napari layers.

The full-resolution level of a layer, unit texts and time axes, points in an image's pixel
frame, the geometry an output layer copies from its input, and the output Labels layer a
widget writes to (:class:`OutputLayer`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import napari
    from napari.layers import Labels, Layer

__all__ = [
    "OutputLayer",
    "axis_unit",
    "displayed_index",
    "is_time_unit",
    "layer_choices",
    "layer_geometry",
    "layer_spacing",
    "layer_units",
    "level0",
    "points_to_image",
    "same_layer",
    "time_axes",
    "unit_text",
    "upsert_labels",
]

def level0(data: Any) -> Any:
    """The full-resolution array of a (possibly multiscale) layer's data."""
    if isinstance(data, list | tuple) or type(data).__name__ == "MultiScaleData":
        return data[0]
    return data


def layer_choices(viewer: napari.Viewer, *types: type) -> list[tuple[str, Layer]]:
    """``(name, layer)`` of the viewer's layers of the given types, grouped in that order."""
    return [(la.name, la) for kind in types for la in viewer.layers if isinstance(la, kind)]


def displayed_index(viewer: napari.Viewer, layer: Layer, n_frames: int) -> int:
    """Index along ``layer``'s first axis of the frame the viewer displays."""
    position = layer.world_to_data(viewer.dims.point)
    return int(np.clip(np.round(position[0]), 0, n_frames - 1))


def same_layer(a: Any, b: Any) -> bool:
    """Whether two layer references are the same layer (``==``: plugins get proxies)."""
    return a is not None and b is not None and bool(a == b)


def unit_text(unit: Any) -> str:
    """Short text of a napari axis unit (``µm``); ``px`` for napari's default ``pixel``."""
    if unit is None:
        return "px"
    try:
        text = f"{unit:~P}"  # pint: micrometer -> µm
    except (TypeError, ValueError):
        text = str(unit)
    return "px" if text in ("", "pixel", "pixels", "px") else text


def layer_units(layer: Any) -> tuple[str, ...]:
    """Unit texts of a layer's axes (:func:`unit_text`); ``px`` on every axis without units."""
    units = tuple(getattr(layer, "units", ()) or ())
    return tuple(unit_text(u) for u in units) if units else ("px",) * int(layer.ndim)


def axis_unit(layer: Any, axis: int = -1) -> str:
    """Unit text of one axis of ``layer`` (the last by default); ``px`` for no layer."""
    return "px" if layer is None else layer_units(layer)[axis]


def is_time_unit(unit: Any) -> bool:
    """Whether a napari axis unit is a duration (s, ms, min, h, ...): a time axis, never space."""
    dimensionality = getattr(unit, "dimensionality", None)
    if dimensionality is None:
        return str(unit).strip().lower() in ("s", "ms", "min", "h", "second", "frame", "t")
    return dict(dimensionality) == {"[time]": 1}


def time_axes(layer: Any) -> tuple[int, ...]:
    """The axes of ``layer`` whose unit is a duration (see :func:`is_time_unit`)."""
    units = tuple(getattr(layer, "units", ()) or ())
    return tuple(i for i, unit in enumerate(units) if is_time_unit(unit))


def _axis_aligned(layer: Any) -> bool:
    """True when the layer's data-to-world transform is only scale and translate."""
    return (
        np.allclose(np.asarray(layer.rotate), np.eye(layer.ndim))
        and np.allclose(np.asarray(layer.shear), 0)
        and np.allclose(np.asarray(layer.affine.affine_matrix), np.eye(layer.ndim + 1))
    )


def points_to_image(points: Any, image: Any) -> np.ndarray:
    """Coordinates of a Points layer's points in the data (pixel) frame of ``image``.

    Through world coordinates, vectorised when both layers are only scaled and translated.
    The layers must have the same dimensionality (the caller says which to fix).
    """
    data = np.asarray(points.data, dtype=float)
    if data.size == 0:
        return np.empty((0, image.ndim))
    if _axis_aligned(points) and _axis_aligned(image):
        world = data * np.asarray(points.scale) + np.asarray(points.translate)
        return (world - np.asarray(image.translate)) / np.asarray(image.scale)
    return np.array([image.world_to_data(points.data_to_world(p)) for p in data], dtype=float)


def layer_geometry(layer: Layer, ndim: int | None = None) -> dict[str, Any]:
    """Return the keyword arguments that put a new layer where ``layer`` is.

    Parameters
    ----------
    layer : napari.layers.Layer
        The input layer.
    ndim : int, optional
        Dimensionality of the new layer. When it is smaller than ``layer.ndim`` (a per-channel
        result may have fewer), the trailing axes are kept.
    """
    geometry: dict[str, Any] = {
        "scale": np.asarray(layer.scale),
        "translate": np.asarray(layer.translate),
        "units": tuple(layer.units),
    }
    affine = np.asarray(layer.affine.affine_matrix)
    if not np.allclose(affine, np.eye(affine.shape[0])):
        geometry["affine"] = affine
    if not np.allclose(np.asarray(layer.rotate), np.eye(layer.ndim)):
        geometry["rotate"] = np.asarray(layer.rotate)
    if not np.allclose(np.asarray(layer.shear), 0):
        geometry["shear"] = np.asarray(layer.shear)
    if ndim is not None and ndim != layer.ndim:
        if ndim > layer.ndim or "affine" in geometry or "rotate" in geometry or "shear" in geometry:
            raise ValueError(
                f"cannot carry the geometry of layer {layer.name!r} ({layer.ndim}D) to {ndim}D"
            )
        for key in ("scale", "translate", "units"):
            geometry[key] = geometry[key][-ndim:]
    return geometry


def layer_spacing(layer: Layer, ndim: int | None = None) -> tuple[float, ...]:
    """Return the pixel spacing (``layer.scale``) of the last ``ndim`` axes, as floats."""
    scale = tuple(float(s) for s in layer.scale)
    return scale if ndim is None else scale[-ndim:]


def _same(current: Any, new: Any) -> bool:
    """Whether a layer attribute already holds ``new`` (arrays compared by value)."""
    if isinstance(new, tuple) or isinstance(current, tuple):
        return tuple(current) == tuple(new)
    current, new = np.asarray(current), np.asarray(new)
    return current.shape == new.shape and np.allclose(current, new)


def upsert_labels(
    viewer: napari.Viewer, data: Any, *, name: str, like: Layer, **kwargs: Any
) -> napari.layers.Labels:
    """Put ``data`` in the Labels layer called ``name``, adding it beside ``like`` if absent.

    Re-running a widget updates its own output layer instead of piling up new ones; the user's
    input layer is never overwritten. The output gets ``like``'s scale, translate and units;
    only what changed is set (each geometry setter refreshes the layer, ~0.1 s at 2048²), and
    the same array set again is a refresh.
    """
    from napari.layers import Labels

    if like not in viewer.layers:  # removed while the work ran: its output has nowhere to go
        raise ValueError(f"the layer '{like.name}' was removed from the viewer; nothing was added")
    geometry = layer_geometry(like, ndim=np.ndim(data) if hasattr(data, "ndim") else None)
    existing = viewer.layers[name] if name in viewer.layers else None
    # `==`, not `is`: docked plugin widgets see proxies of the same layer.
    if isinstance(existing, Labels) and existing != like and existing.ndim == np.ndim(data):
        for key, value in geometry.items():
            if not _same(getattr(existing, key), value):
                setattr(existing, key, value)
        for key, value in kwargs.items():
            setattr(existing, key, value)
        if existing.data is data:
            existing.refresh()
        else:
            existing.data = data
        return existing
    if isinstance(existing, Labels) and existing != like:
        existing.data = data  # another dimensionality: napari needs the data before the scale
        return upsert_labels(viewer, data, name=name, like=like, **kwargs)
    if existing is not None:
        name = f"{name} [{like.name}]"
    return viewer.add_labels(data, name=name, **geometry, **kwargs)


class OutputLayer:
    """The Labels layer a widget writes its results to, named ``<input name><suffix>``.

    It remembers the layer, its input and the name it was given: renaming the input renames
    the output (unless the user renamed the output), and a layer removed from the viewer is
    forgotten (neither it nor its data may stay alive because a dock remembers it).

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer the output goes to.
    suffix : str
        Added to the input layer's name.
    """

    def __init__(self, viewer: napari.Viewer, suffix: str) -> None:
        self.viewer, self.suffix = viewer, suffix
        self.layer: Labels | None = None
        self.source: Any = None
        self.name = ""

    def put(self, data: Any, like: Layer) -> Labels:
        """Show ``data`` in the output of ``like`` (see :func:`upsert_labels`)."""
        name = f"{like.name}{self.suffix}"
        self.layer = upsert_labels(self.viewer, data, name=name, like=like)
        self.source, self.name = like, self.layer.name
        return self.layer

    def forget_removed(self) -> bool:
        """Forget layers no longer in the viewer; True when the output layer was forgotten."""
        layers = self.viewer.layers
        if self.source is not None and self.source not in layers:
            self.source, self.name = None, ""
        if self.layer is not None and self.layer not in layers:
            self.layer = None
            return True
        return False

    def follow_rename(self, event: Any) -> None:
        """An input renamed by the user renames its output with it (a napari rename event)."""
        index, layers, out = getattr(event, "index", None), self.viewer.layers, self.layer
        source = layers[index] if isinstance(index, int) and index < len(layers) else None
        wanted = f"{getattr(source, 'name', '')}{self.suffix}"
        if (
            source is not None and source == self.source  # ==: plugins get proxies
            and out is not None and out in layers and out.name == self.name
            and wanted not in layers
        ):  # fmt: skip
            self.name = wanted
            out.name = wanted
