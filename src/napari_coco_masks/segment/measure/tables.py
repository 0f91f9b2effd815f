"""Measurement tables: units of each column, CSV with units in the headers, per-group
summaries, and the join of a layer's feature table onto measurements.

No napari or Qt import lives here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["join_features", "summarize", "to_csv", "unit_label", "with_unit_headers"]


def check_units(units: str | Sequence[str | None] | None, ndim: int) -> tuple[str, ...]:
    """Return one unit string per spatial axis; ``None``/``"pixel"`` become ``"px"``."""
    if units is None or isinstance(units, str):
        values: list[Any] = [units] * ndim
    else:
        values = list(units)
        if len(values) != ndim:
            raise ValueError(
                f"`units` ({values}) must be one string or {ndim} strings, one per spatial axis"
            )
    return tuple(_normalize_unit(u) for u in values)


def _normalize_unit(unit: Any) -> str:
    """``None``, ``""``, ``"pixel"`` -> ``"px"``; ``"um"``/``"micrometer"`` -> ``"µm"``."""
    text = "" if unit is None else str(unit).strip()
    aliases = {"": "px", "pixel": "px", "pixels": "px", "um": "µm", "micrometer": "µm",
               "micron": "µm", "nanometer": "nm", "millimeter": "mm", "meter": "m"}
    return aliases.get(text, text)


def _power(units: Sequence[str], power: int) -> str:
    """Unit of a product of ``power`` lengths: ``µm`` -> ``µm²``; mixed units multiply."""
    sup = {1: "", 2: "²", 3: "³"}.get(power, f"^{power}")
    if len(set(units)) == 1:
        return f"{units[0]}{sup}"
    return "·".join(units)


def column_units(columns: Iterable[str], units: tuple[str, ...]) -> dict[str, str]:
    """Map each output column to its unit string (``""`` for dimensionless values)."""
    ndim = len(units)
    length = units[0] if len(set(units)) == 1 else "·".join(units) + f"^(1/{ndim})"
    table = {
        "area": _power(units, ndim),
        "perimeter": length,
        "surface_area": _power(units, 2) if len(set(units)) == 1 else f"({length})²",
        "equivalent_diameter_area": length,
        "feret_diameter_max": length,
        "feret_diameter_min": length,
        "axis_major_length": length,
        "axis_minor_length": length,
        "orientation": "rad",
        "area_total": _power(units, ndim),
        "area_mean": _power(units, ndim),
        "area_median": _power(units, ndim),
    }
    out = {}
    for col in columns:
        if col in table:
            out[col] = table[col]
        elif col.startswith("centroid-"):
            out[col] = units[int(col.split("-")[1])]
        elif col.startswith("bbox-"):
            out[col] = "px"
        else:
            out[col] = ""
    return out


def unit_label(column: str, unit: str) -> str:
    """Header text for a column: ``"area [µm²]"``, or the bare name when dimensionless.

    Parameters
    ----------
    column : str
        Column name.
    unit : str
        Its unit (``""``: dimensionless).

    Returns
    -------
    str

    Examples
    --------
    >>> unit_label("area", "µm²"), unit_label("circularity", "")
    ('area [µm²]', 'circularity')
    """
    return f"{column} [{unit}]" if unit else column


def with_unit_headers(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose column names carry their units (``"area [µm²]"``).

    Parameters
    ----------
    df : pandas.DataFrame
        A measurement table, units in ``df.attrs["units"]``.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> df = pd.DataFrame({"label": [1], "area": [2.5]})
    >>> df.attrs["units"] = {"label": "", "area": "mm²"}
    >>> list(with_unit_headers(df).columns)
    ['label', 'area [mm²]']
    """
    units = df.attrs.get("units", {})
    return df.rename(columns={c: unit_label(c, units.get(c, "")) for c in df.columns})


def to_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a measurement table as UTF-8 CSV with units in the headers.

    Parameters
    ----------
    df : pandas.DataFrame
        A measurement table, units in ``df.attrs["units"]``.
    path : str or os.PathLike
        The CSV file to write.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> df = pd.DataFrame({"label": [1], "area": [2.5]})
    >>> df.attrs["units"] = {"area": "mm²"}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     to_csv(df, Path(tmp) / "m.csv").read_text(encoding="utf-8").splitlines()
    ['label,area [mm²]', '1,2.5']
    """
    import csv
    import tempfile

    path = Path(path)
    table = with_unit_headers(df)
    try:
        text = table.to_csv(index=False)
    except csv.Error:  # Python 3.10's csv cannot write a NUL character: U+FFFD instead
        table = _without_nul(table)
        text = table.to_csv(index=False)
    # atomically: a failed write never leaves half a table where a previous one was
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _without_nul(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every NUL in its headers and text cells replaced by U+FFFD."""
    def clean(v: object) -> object:
        return v.replace("\x00", "\ufffd") if isinstance(v, str) else v

    out = df.rename(columns=clean)
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(clean)
    return out


def with_units(df: pd.DataFrame, units: tuple[str, ...], spacing: tuple[float, ...]) -> pd.DataFrame:
    """Attach ``attrs["units"]`` (per column) and ``attrs["spacing"]`` to a measurement table."""
    df.attrs["units"] = column_units(df.columns, units)
    df.attrs["spacing"] = spacing
    return df


def summarize(df: pd.DataFrame, by: str | None = "category", column: str = "area") -> pd.DataFrame:
    """Per-group count, total, mean and median of ``column`` (area by default).

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`measure` or :func:`measure_shapes` (possibly joined with features).
    by : str or None
        Grouping column (``"category"``); ``None`` puts every row in one group ``"all"``.
    column : str
        Column to summarise.

    Returns
    -------
    pandas.DataFrame
        Columns ``by`` (or ``"group"``), ``count``, ``<column>_total``, ``<column>_mean``,
        ``<column>_median``; ``attrs["units"]`` carries ``column``'s unit.

    Examples
    --------
    >>> df = pd.DataFrame({"category": ["a", "b", "a"], "area": [1.0, 5.0, 3.0]})
    >>> summarize(df).values.tolist()
    [['a', 2, 4.0, 2.0, 2.0], ['b', 1, 5.0, 5.0, 5.0]]
    """
    if column not in df.columns:
        raise ValueError(f"`column` ({column!r}) is not a column of `df`; have {list(df.columns)}")
    if by is not None and by not in df.columns:
        raise ValueError(
            f"`by` ({by!r}) is not a column of `df`; have {list(df.columns)}; pass by=None "
            "to summarise all objects together"
        )
    key = by if by is not None else "group"
    data = df.assign(group="all") if by is None else df
    grouped = data.groupby(key, sort=True, dropna=False)[column]
    out = pd.DataFrame({
        "count": grouped.count(),
        f"{column}_total": grouped.sum(),
        f"{column}_mean": grouped.mean(),
        f"{column}_median": grouped.median(),
    }).reset_index()
    unit = df.attrs.get("units", {}).get(column, "")
    out.attrs["units"] = {key: "", "count": "", **{c: unit for c in out.columns[2:]}}
    return out


def join_features(df: pd.DataFrame, features: pd.DataFrame | None, on: str = "label") -> pd.DataFrame:
    """Join a layer's feature table (``annotation_id``, ``category``, ...) onto measurements.

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`measure` (``on="label"``) or :func:`measure_shapes` (``on="shape"``).
    features : pandas.DataFrame or None
        napari ``layer.features``. For labels, an ``index`` column gives each row's label value
        (without it row k is label k); for shapes, row k is shape k.
    on : str
        Key column of ``df``.

    Returns
    -------
    pandas.DataFrame
        ``df`` with the feature columns not already in it inserted after ``on``; rows keep
        ``df``'s order; ``attrs`` are kept (new columns are dimensionless).

    Examples
    --------
    >>> df = pd.DataFrame({"label": [2, 1], "area": [9.0, 4.0]})
    >>> features = pd.DataFrame({"index": [1, 2], "category": ["cat", "dog"]})
    >>> join_features(df, features).values.tolist()
    [[2, 'dog', 9.0], [1, 'cat', 4.0]]
    """
    if features is None or len(features.columns) == 0 or len(df) == 0:
        return df
    feats = features.copy()
    if "index" in feats.columns:
        keys = feats.pop("index").to_numpy()
    else:
        keys = np.arange(len(feats))
    extra = [c for c in feats.columns if c not in df.columns]
    if not extra:
        return df
    feats = feats[extra]
    feats.index = keys
    feats = feats[~feats.index.duplicated(keep="first")]
    joined = feats.reindex(df[on].to_numpy())
    joined.index = df.index
    pos = list(df.columns).index(on) + 1
    out = pd.concat([df.iloc[:, :pos], joined, df.iloc[:, pos:]], axis=1)
    out.attrs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in df.attrs.items()}
    units = out.attrs.setdefault("units", {})
    for col in extra:
        units.setdefault(col, "")
    return out
