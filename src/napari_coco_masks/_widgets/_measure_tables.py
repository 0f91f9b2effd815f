"""The tables of the measure widget, without Qt: the worker body, the user's column order,
COCO annotations joined per frame, and the measurements merged into a layer's features."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import pandas as pd

from napari_coco_masks.segment.measure import (
    PROPERTIES,
    concat_frames,
    iter_frames,
    join_features,
    measure,
)

__all__ = ["LEADING_COLUMNS", "join_annotations", "measure_job", "merge_features", "plural",
           "user_columns"]  # fmt: skip


#: Columns a user reads first, before the measurements (then ids and other attributes).
LEADING_COLUMNS = ("frame", "label", "shape", "category")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def user_columns(joined: pd.DataFrame, measured: pd.DataFrame) -> pd.DataFrame:
    """Reorder a joined table the way a user reads it.

    ``frame``, ``label`` (or ``shape``) and ``category`` first, then the measurements in the
    order :func:`measure` gives them (area, perimeter, ...), then the other feature columns
    (``annotation_id``, ``image_id``, ``category_id``, ``iscrowd``, attributes). ``attrs``
    (units, spacing) are kept.
    """
    first = [c for c in LEADING_COLUMNS if c in joined.columns]
    middle = [c for c in measured.columns if c in joined.columns and c not in first]
    rest = [c for c in joined.columns if c not in first and c not in middle]
    out = joined[first + middle + rest]
    out.attrs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in joined.attrs.items()}
    return out


def measure_job(
    labels: Any, intensity: Any, spacing: tuple[float, ...], units: tuple[str, ...],
    time_series: bool,
) -> Generator[int, None, pd.DataFrame]:
    """Worker body: yields once per frame (progress), returns the measurement table."""
    if not time_series:
        df = measure(labels, intensity, spacing=spacing, units=units)
        yield 1
        return df
    parts = []
    for part in iter_frames(labels, intensity, spacing=spacing, units=units, frame_axis=0):
        parts.append(part)
        yield len(parts)
    return concat_frames(parts)


def join_annotations(layer: Any, df: pd.DataFrame) -> pd.DataFrame:
    """Measurements with the layer's annotation columns (``annotation_id``, ``category``, ...).

    A Labels layer read from COCO numbers its labels per image and holds the shown image's
    features only: per-frame results are joined with each frame's own annotations.
    """
    from napari_coco_masks._browse import session_of

    session = session_of(layer)
    if session is None or "frame" not in df.columns or not session.stacked:
        return join_features(df, _annotations(layer.features))
    tables = [
        pd.DataFrame(session.label_table(int(f))).assign(frame=int(f))
        for f in pd.unique(df["frame"])
    ]
    table = pd.concat(tables, ignore_index=True).rename(columns={"index": "label"})
    extra = [c for c in table.columns if c not in df.columns]
    merged = df.merge(table, on=["frame", "label"], how="left", sort=False)
    order = list(df.columns)
    at = order.index("label") + 1
    merged = merged[order[:at] + extra + order[at:]]
    merged.attrs = dict(df.attrs)
    return merged


def _is_measurement(column: str) -> bool:
    """True for the columns a measurement writes (``area``, ``centroid-0``, ``frame``, ...)."""
    return (column in PROPERTIES and column != "label") or column == "frame" or (
        column.startswith(("centroid-", "bbox-"))
    )


def _annotations(features: pd.DataFrame) -> pd.DataFrame:
    """A layer's feature table without measurement columns from an earlier run (a stale
    ``intensity_mean`` must not survive a new run without an intensity image)."""
    return features.drop(columns=[c for c in features.columns if _is_measurement(str(c))])


def merge_features(features: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """New Labels features: the layer's columns (COCO ``annotation_id``, ``category``, ...)
    plus the measurements, one row per label value in an ``index`` column.

    Old measurement columns are replaced; rows of labels no longer present keep their feature
    values with empty measurements; newly painted labels get rows with empty feature values.
    No background row is added (with an ``index`` column napari does not need one), so integer
    columns such as ``annotation_id`` keep their dtype when every label is annotated.
    """
    old = _annotations(features)
    if len(old.columns) and "index" not in old.columns:
        old.insert(0, "index", np.arange(len(old)))
    meas = df.rename(columns={"label": "index"})
    if "index" not in old.columns:
        return meas.reset_index(drop=True)
    merged = old.merge(meas, on="index", how="outer", sort=True)
    return merged.reset_index(drop=True)
