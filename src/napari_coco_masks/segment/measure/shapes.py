"""Area and perimeter of napari shapes (polygons, rectangles, ellipses, paths) in physical
units. No napari or Qt import lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validate import check_spacing
from .tables import check_units, column_units

__all__ = ["measure_shapes"]


def _polygon_area_perimeter(vertices: np.ndarray, closed: bool) -> tuple[float, float, np.ndarray]:
    """Shoelace area, boundary length and area centroid of one polygon (physical coordinates)."""
    base = vertices[0]
    y, x = vertices[:, 0] - base[0], vertices[:, 1] - base[1]  # no cancellation far from 0
    ring = np.vstack([vertices, vertices[:1]]) if closed else vertices
    steps = np.diff(ring, axis=0)
    length = float(np.sqrt((steps**2).sum(axis=1)).sum())
    if not closed or len(vertices) < 3:
        return 0.0, length, vertices.mean(axis=0)
    y1, x1 = np.roll(y, -1), np.roll(x, -1)
    cross = x * y1 - x1 * y
    signed = 0.5 * float(cross.sum())
    if signed == 0:
        return 0.0, length, vertices.mean(axis=0)
    cy = float(((y + y1) * cross).sum()) / (6 * signed)
    cx = float(((x + x1) * cross).sum()) / (6 * signed)
    return abs(signed), length, base + np.array([cy, cx])


def _ellipse_area_perimeter(corners: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Area and (Ramanujan) perimeter of the ellipse inscribed in napari's 4 corner points."""
    a = 0.5 * float(np.linalg.norm(corners[1] - corners[0]))
    b = 0.5 * float(np.linalg.norm(corners[2] - corners[1]))
    h = ((a - b) / (a + b)) ** 2 if a + b else 0.0
    perimeter = np.pi * (a + b) * (1 + 3 * h / (10 + np.sqrt(4 - 3 * h)))
    return np.pi * a * b, float(perimeter), corners.mean(axis=0)


def measure_shapes(
    polygons: Sequence[Any],
    *,
    spacing: float | Sequence[float] | None = None,
    units: str | Sequence[str | None] | None = None,
    shape_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Area and perimeter of napari shapes in physical units.

    Parameters
    ----------
    polygons : sequence of (V, D) arrays
        Vertices in napari data coordinates (``Shapes.data``); the last two columns are
        (row, col). Physical coordinates are vertices times ``spacing``.
    spacing : float or sequence of float, optional
        Pixel size of the two last axes (or of all D axes: the last two are used).
    units : str or sequence of str, optional
        Unit of the axes; ``None``/``"pixel"`` mean pixels.
    shape_types : sequence of str, optional
        napari shape types (``"polygon"``, ``"rectangle"``, ``"ellipse"``, ``"path"``,
        ``"line"``); default: every shape is a closed polygon. Ellipses are measured as
        ellipses, paths and lines have area 0 and their length as ``perimeter``.

    Returns
    -------
    pandas.DataFrame
        Columns ``shape`` (index in ``polygons``), ``shape_type``, ``area``, ``perimeter``,
        ``centroid-0``, ``centroid-1`` (area centroid, physical units); units in
        ``df.attrs["units"]``.

    Examples
    --------
    >>> square = np.array([[0, 0], [0, 4], [4, 4], [4, 0]])
    >>> df = measure_shapes([square], spacing=0.5, units="mm")
    >>> df[["area", "perimeter"]].values.tolist(), df.attrs["units"]["area"]
    ([[4.0, 8.0]], 'mm²')
    """
    shapes = [np.asarray(p, dtype=float) for p in polygons]
    if shape_types is None:
        types = ["polygon"] * len(shapes)
    else:
        types = list(shape_types)
        if len(types) != len(shapes):
            raise ValueError(
                f"`shape_types` has {len(types)} entries but `polygons` has {len(shapes)} shapes"
            )
    for k, s in enumerate(shapes):
        if s.ndim != 2 or s.shape[1] < 2:
            raise ValueError(f"`polygons[{k}]` (shape {s.shape}) must be a (V, D>=2) vertex array")
    if spacing is not None and np.size(spacing) > 2:
        spacing = np.ravel(spacing)[-2:]
    if units is not None and not isinstance(units, str) and len(units) > 2:
        units = list(units)[-2:]
    spacing_t = check_spacing(spacing, 2)
    units_t = check_units(units, 2)
    scale = np.asarray(spacing_t)
    rows = []
    for k, (verts, kind) in enumerate(zip(shapes, types, strict=True)):
        phys = verts[:, -2:] * scale
        if kind == "ellipse" and len(phys) == 4:
            area, perimeter, centre = _ellipse_area_perimeter(phys)
        else:
            area, perimeter, centre = _polygon_area_perimeter(phys, kind not in ("path", "line"))
        rows.append((k, kind, area, perimeter, centre[0], centre[1]))
    df = pd.DataFrame(
        rows, columns=["shape", "shape_type", "area", "perimeter", "centroid-0", "centroid-1"]
    )
    df.attrs["units"] = column_units(df.columns, units_t)
    df.attrs["units"]["shape"] = ""
    df.attrs["spacing"] = spacing_t
    return df
