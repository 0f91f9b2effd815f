"""COCO run-length encoding: checks and decoding into foreground runs.

A COCO RLE (COCO-NOTES "RLE") is a list of run lengths over the *column-major* (Fortran
order) pixels of an ``h x w`` mask, starting with a run of zeros. Uncompressed RLE keeps the
counts as a JSON list; compressed RLE keeps them as pycocotools' 6-bit ASCII string.

Everything here works on *runs*: half-open intervals ``[start, end)`` of column-major linear
pixel indices that are foreground. :mod:`.raster` turns runs into masks, windowed to the
bounding box so that a small object in a large image costs little.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import CocoError

#: Largest image side (pixels) a mask may have; larger sizes are refused before allocating.
MAX_SIDE = 2**16
_INT64_MAX = 2**63 - 1

__all__ = [
    "MAX_SIDE",
    "check_rle",
    "decode_counts_string",
    "rle_runs",
]


def decode_counts_string(counts: str | bytes) -> np.ndarray:
    """Decode pycocotools' compressed RLE ``counts`` string into run lengths.

    Mirrors ``rleFrString`` of pycocotools' ``maskApi.c``: each count is a little-endian
    sequence of 5-bit groups stored as ``chr(group + 48)``, bit 0x20 meaning "more groups
    follow" and bit 0x10 of the last group the sign; from the third count on, each value is a
    delta to the count two places before it.

    Parameters
    ----------
    counts : str or bytes
        The ``counts`` of a compressed RLE.

    Returns
    -------
    (K,) ndarray of int64
        The run lengths. Negative values (malformed strings) are returned as they are, for
        :func:`check_rle` to report.

    Raises
    ------
    ValueError
        If the string holds characters outside pycocotools' alphabet or ends mid-number.
    """
    raw = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    c = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    if c.min() < 0 or c.max() > 63:
        raise ValueError("compressed RLE counts hold characters outside pycocotools' alphabet")
    more = (c & 0x20) != 0
    if more[-1]:
        raise ValueError("compressed RLE counts end in the middle of a number")
    ends = np.flatnonzero(~more)
    group = np.zeros(c.size, dtype=np.int64)
    group[ends[:-1] + 1] = 1
    group = np.cumsum(group)
    starts = np.concatenate(([0], ends[:-1] + 1))
    digit = np.arange(c.size) - starts[group]
    if digit.max() > 11:
        raise ValueError("compressed RLE counts hold a number too large for a run length")
    values = np.zeros(ends.size, dtype=np.int64)
    np.add.at(values, group, (c & 0x1F) << (5 * digit))
    negative = (c[ends] & 0x10) != 0
    values[negative] |= -1 << (5 * (digit[ends[negative]] + 1))
    # The deltas are summed below: refuse sums that could wrap int64.
    if float(np.abs(values.astype(float)).sum()) >= 2.0**62:
        raise ValueError("compressed RLE counts hold run lengths too large for any image")
    # Delta decoding: counts[i] = x[i] + counts[i - 2] for i > 2.
    out = values.copy()
    if out.size > 3:
        out[3::2] = np.cumsum(values[1::2])[1:]
    if out.size > 4:
        out[4::2] = np.cumsum(values[2::2])[1:]
    return out


def check_rle(
    segmentation: Any,
    image_shape: tuple[int, int] | None = None,
    *,
    path: Any = None,
    where: str | None = None,
) -> np.ndarray:
    """Validate an RLE segmentation and return its run lengths.

    Checks what pycocotools does not (COCO-NOTES "RLE"): ``size`` is ``[h, w]``, the
    counts are non-negative integers that sum to exactly ``h * w`` (pycocotools decodes
    uninitialised memory when they sum to less) and, when ``image_shape`` is given, that
    ``size`` agrees with the image it annotates.

    Parameters
    ----------
    segmentation : dict
        ``{"size": [h, w], "counts": [...] or "..."}``.
    image_shape : (int, int), optional
        ``(height, width)`` of the annotated image.
    path, where : optional
        File and JSON path for the error message.

    Returns
    -------
    (K,) ndarray of int64
        The run lengths.

    Raises
    ------
    CocoError
        Naming ``path`` and ``where`` and what is wrong.
    """
    if not isinstance(segmentation, Mapping) or "counts" not in segmentation:
        raise CocoError("an RLE segmentation needs 'size' and 'counts'", path=path, where=where)
    size = segmentation.get("size")
    if (
        not isinstance(size, (list, tuple))
        or len(size) != 2
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_SIDE for v in size
        )
    ):
        raise CocoError(
            f"RLE 'size' must be [height, width] of integers in 1..{MAX_SIDE}, got {_short(size)}",
            path=path,
            where=f"{where}.size" if where else "size",
        )
    h, w = size
    counts_where = f"{where}.counts" if where else "counts"
    raw = segmentation["counts"]
    if isinstance(raw, (str, bytes)):
        try:
            counts = decode_counts_string(raw)
        except (ValueError, UnicodeEncodeError) as exc:
            raise CocoError(str(exc), path=path, where=counts_where) from None
    elif isinstance(raw, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
            raise CocoError(
                "uncompressed RLE counts must be a list of integers", path=path, where=counts_where
            )
        if any(v < 0 or v > _INT64_MAX for v in raw):
            raise CocoError(
                "RLE counts must be non-negative integers within int64", path=path, where=counts_where
            )
        counts = np.asarray(raw, dtype=np.int64)
    else:
        raise CocoError(
            f"RLE counts must be a list of integers or a string, got {type(raw).__name__}",
            path=path,
            where=counts_where,
        )
    if counts.size and counts.min() < 0:
        raise CocoError("RLE counts must not be negative", path=path, where=counts_where)
    total = sum(counts.tolist())  # Python ints: no wrap-around
    if total != h * w:
        raise CocoError(
            f"RLE counts sum to {total}, but size {h}x{w} needs exactly {h * w}; "
            "the mask cannot be decoded (pycocotools would read uninitialised memory or fail)",
            path=path,
            where=counts_where,
        )
    if image_shape is not None and (h, w) != tuple(image_shape):
        raise CocoError(
            f"RLE size [{h}, {w}] differs from its image's [height, width] "
            f"[{image_shape[0]}, {image_shape[1]}]",
            path=path,
            where=f"{where}.size" if where else "size",
        )
    return counts


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def rle_runs(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Foreground runs ``[start, end)`` (column-major linear indices) of RLE run lengths.

    Runs alternate background/foreground starting with background; empty runs are dropped.
    """
    bounds = np.cumsum(np.asarray(counts, dtype=np.int64))
    starts = bounds[0::2]
    ends = bounds[1::2]
    starts = starts[: ends.size]
    keep = ends > starts
    return starts[keep], ends[keep]
