"""Small helpers the napari adapters share: keep an input layer's world geometry on outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import napari
    from napari.layers import Layer

_GEOMETRY = ("scale", "translate", "rotate", "shear", "affine", "units")


def layer_geometry(layer: Layer, ndim: int | None = None) -> dict[str, Any]:
    """Return the keyword arguments that put a new layer where ``layer`` is.

    Parameters
    ----------
    layer : napari.layers.Layer
        The input layer.
    ndim : int, optional
        Dimensionality of the new layer. When it is smaller than ``layer.ndim`` (an RGB image
        has the same ndim, a per-channel result may have fewer), the trailing axes are kept.
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
        geometry["scale"] = geometry["scale"][-ndim:]
        geometry["translate"] = geometry["translate"][-ndim:]
        geometry["units"] = geometry["units"][-ndim:]
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
    viewer: napari.Viewer,
    data: Any,
    *,
    name: str,
    like: Layer,
    **kwargs: Any,
) -> napari.layers.Labels:
    """Put ``data`` in the Labels layer called ``name``, adding it beside ``like`` if absent.

    Re-running a widget updates its own output layer instead of piling up new ones; the user's
    input layer is never overwritten. The output gets ``like``'s scale, translate and units.
    """
    from napari.layers import Labels

    geometry = layer_geometry(like, ndim=np.ndim(data) if hasattr(data, "ndim") else None)
    existing = viewer.layers[name] if name in viewer.layers else None
    # `==`, not `is`: docked plugin widgets see proxies of the same layer.
    if isinstance(existing, Labels) and existing != like:
        # Set only what changed: each geometry setter refreshes the layer (costly at 2048²).
        for key, value in geometry.items():
            if not _same(getattr(existing, key), value):
                setattr(existing, key, value)
        for key, value in kwargs.items():
            setattr(existing, key, value)
        existing.data = data
        return existing
    if existing is not None:
        name = f"{name} [{like.name}]"
    return viewer.add_labels(data, name=name, **geometry, **kwargs)


def unit_text(unit: Any) -> str:
    """Short text of a napari axis unit (``µm``); ``px`` for napari's default ``pixel``."""
    if unit is None:
        return "px"
    try:
        text = f"{unit:~P}"  # pint: micrometer -> µm
    except (TypeError, ValueError):
        text = str(unit)
    return "px" if text in ("", "pixel", "pixels", "px") else text


def is_time_unit(unit: Any) -> bool:
    """Whether a napari axis unit is a duration (s, ms, min, h, ...): a time axis, never space."""
    dimensionality = getattr(unit, "dimensionality", None)
    if dimensionality is None:
        return str(unit).strip().lower() in ("s", "ms", "min", "h", "second", "frame", "t")
    return dict(dimensionality) == {"[time]": 1}


def time_axes(layer: Layer) -> tuple[int, ...]:
    """The axes of ``layer`` whose unit is a duration (see :func:`is_time_unit`)."""
    return tuple(i for i, unit in enumerate(tuple(getattr(layer, "units", ()) or ())) if is_time_unit(unit))
