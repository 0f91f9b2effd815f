"""Masks to COCO segmentations: lossless polygons or RLE, with pycocotools' area and bbox.

Every function works on one object's bounding-box *window* (a small boolean array) plus the
window's ``offset`` (row, col) inside an image of ``image_shape`` (height, width), so a label
image is never masked label by label over its full extent (see :func:`encode_labels`).

Polygons follow the half-pixel convention of :mod:`.geometry`: contours at level 0.5 of the
window padded by one pixel (``skimage.measure.find_contours``), minus the padding, are napari
(row, col) coordinates of the pixel-edge midpoints; :func:`.geometry.napari_polygon_to_coco`
turns them into COCO corner coordinates, which pycocotools re-rasterises to the same mask
(IoU 1.0). Masks with holes cannot be polygons (pycocotools fills the holes when it merges the
parts), so ``mode="auto"`` writes them as RLE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pycocotools import mask as mask_utils
from scipy import ndimage as ndi
from skimage.measure import find_contours

from .errors import CocoError
from .geometry import napari_polygon_to_coco, safe_polygon
from .rle import MAX_SIDE

Mode = Literal["auto", "rle", "polygon"]
MODES: tuple[str, ...] = ("auto", "rle", "polygon")

_EIGHT = np.ones((3, 3), dtype=bool)
# Above this label value, find_objects' list (one slot per value) is replaced by a relabel.
_MAX_DIRECT_LABEL = 1 << 20


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is one of ``"auto"``, ``"rle"``, ``"polygon"``, else raise."""
    if mode not in MODES:
        raise CocoError(f"`mode` must be one of {MODES}, got {mode!r}")
    return mode


def _as_window(mask: np.ndarray) -> np.ndarray:
    window = np.asarray(mask)
    if window.ndim != 2:
        raise CocoError(
            f"`mask` must be a 2D array, got shape {window.shape}: take one image slice first"
        )
    return window.astype(bool, copy=False)


def _image_shape(
    window: np.ndarray, offset: Sequence[int], image_shape: Sequence[int] | None
) -> tuple[int, int]:
    r0, c0 = (int(v) for v in offset)
    if image_shape is None:
        return r0 + window.shape[0], c0 + window.shape[1]
    h, w = (int(v) for v in image_shape)
    if r0 < 0 or c0 < 0 or r0 + window.shape[0] > h or c0 + window.shape[1] > w:
        raise CocoError(
            f"`mask` of shape {window.shape} at `offset` {(r0, c0)} does not fit in "
            f"`image_shape` {(h, w)}"
        )
    return h, w


def has_holes(mask: np.ndarray) -> bool:
    """Whether ``mask`` encloses background that a polygon outline would fill.

    Foreground is 4-connected and background 8-connected, as in ``find_contours``' default
    (``fully_connected="low"``), so a hole is an 8-connected background region that does not
    reach the border.

    Parameters
    ----------
    mask : (M, N) array_like of bool
        One object's mask (typically its bounding-box window).
    """
    window = _as_window(mask)
    filled = ndi.binary_fill_holes(window, structure=_EIGHT)
    return int(np.count_nonzero(filled)) != int(np.count_nonzero(window))


def _drop_collinear(ring: np.ndarray) -> np.ndarray:
    """Remove vertices lying on the straight line through their neighbours (exact on 0.5 grid)."""
    prev = np.roll(ring, 1, axis=0)
    nxt = np.roll(ring, -1, axis=0)
    cross = (ring[:, 0] - prev[:, 0]) * (nxt[:, 1] - ring[:, 1]) - (ring[:, 1] - prev[:, 1]) * (
        nxt[:, 0] - ring[:, 0]
    )
    return ring[cross != 0]


def _signed_area(ring: np.ndarray) -> float:
    r, c = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.sum(c * np.roll(r, -1) - np.roll(c, -1) * r))


def mask_to_polygons(mask: np.ndarray, *, offset: Sequence[int] = (0, 0)) -> list[list[float]]:
    """Outline ``mask`` as COCO polygons that pycocotools rasterises back to the same pixels.

    One polygon per 4-connected part (holes are not outlined: a polygon cannot express them,
    see :func:`has_holes`). Vertices are pixel-edge midpoints; collinear vertices are dropped.

    Parameters
    ----------
    mask : (M, N) array_like of bool
        One object's mask, usually its bounding-box window.
    offset : (int, int), optional
        (row, col) of ``mask[0, 0]`` in the image.

    Returns
    -------
    list of list of float
        Flat COCO polygons ``[x0, y0, x1, y1, ...]`` in image corner coordinates.
    """
    window = _as_window(mask)
    padded = np.pad(window, 1).astype(np.uint8)
    shift = np.asarray([int(offset[0]) - 1, int(offset[1]) - 1], dtype=float)
    polygons = []
    for contour in find_contours(padded, 0.5):
        ring = _drop_collinear(contour[:-1])
        if len(ring) < 3 or _signed_area(ring) <= 0:  # holes wind the other way
            continue
        polygons.append(napari_polygon_to_coco(ring + shift))
    return polygons


def rle_counts(
    mask: np.ndarray,
    *,
    offset: Sequence[int] = (0, 0),
    image_shape: Sequence[int] | None = None,
) -> list[int]:
    """Uncompressed COCO RLE counts of ``mask`` placed at ``offset`` in an image.

    Runs are column-major and start with a (possibly empty) run of background, exactly as
    ``pycocotools.mask.encode`` of the full-image mask, but computed from the window alone.

    Parameters
    ----------
    mask : (M, N) array_like of bool
        The window.
    offset : (int, int), optional
        (row, col) of ``mask[0, 0]`` in the image.
    image_shape : (int, int), optional
        (height, width) of the image; defaults to the window's extent from the origin.
    """
    window = _as_window(mask)
    h, w = _image_shape(window, offset, image_shape)
    r0, c0 = (int(v) for v in offset)
    wh = window.shape[0]
    pos = np.flatnonzero(window.T)
    if pos.size == 0:
        return [h * w]
    idx = (c0 + pos // wh) * h + (r0 + pos % wh)
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate([idx[:1], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], idx[-1:]]) + 1
    counts = np.empty(2 * starts.size + 1, dtype=np.int64)
    counts[0] = starts[0]
    counts[1::2] = ends - starts
    counts[2:-1:2] = starts[1:] - ends[:-1]
    counts[-1] = h * w - ends[-1]
    if counts[-1] == 0:
        counts = counts[:-1]
    return counts.tolist()


def _check_size(height: Any, width: Any) -> tuple[int, int]:
    """``(height, width)`` as ints in ``1..MAX_SIDE`` (pycocotools' C code trusts them)."""
    try:
        h, w = int(height), int(width)
    except (TypeError, ValueError, OverflowError):
        raise CocoError(f"image size must be integers, got {height!r} x {width!r}") from None
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
        raise CocoError(f"image size {h} x {w} is not in 1..{MAX_SIDE} pixels per side")
    return h, w


def compress_counts(counts: Sequence[int], height: int, width: int) -> dict[str, Any]:
    """pycocotools' compressed RLE (``counts`` as bytes) of uncompressed ``counts``."""
    h, w = _check_size(height, width)
    values = [int(v) for v in counts]
    if any(v < 0 for v in values) or sum(values) != h * w:
        raise CocoError(f"RLE counts must be non-negative and sum to {h} x {w} = {h * w}")
    return mask_utils.frPyObjects({"size": [h, w], "counts": values}, h, w)


def _empty_rle(height: int, width: int) -> dict[str, Any]:
    """The compressed RLE of an all-background ``height x width`` mask."""
    return mask_utils.encode(np.zeros((height, width), dtype=np.uint8, order="F"))


def polygons_to_rle(polygons: Sequence[Sequence[float]], height: int, width: int) -> dict:
    """Rasterise COCO polygons with pycocotools, merged into one compressed RLE.

    Coordinates are checked and clipped before pycocotools sees them
    (:func:`.geometry.safe_polygon`): a polygon within the image's margin is passed as it
    is, one reaching far outside is clipped to it (pycocotools overflows its ``int``
    coordinates, and allocates their whole perimeter, beyond about 4e8). Parts with fewer
    than 3 points are dropped (pycocotools reads a 4-number part as a box); no part left
    gives the empty mask.

    Raises
    ------
    CocoError
        For a NaN or infinite coordinate, or an image size out of range.
    """
    h, w = _check_size(height, width)
    parts = []
    for p in polygons:
        xy = safe_polygon(p, h, w)
        if xy.size >= 6:
            parts.append(xy[: xy.size // 2 * 2].tolist())
    if not parts:
        return _empty_rle(h, w)
    return mask_utils.merge(mask_utils.frPyObjects(parts, h, w))


def rle_to_json(rle: dict[str, Any]) -> dict[str, Any]:
    """A compressed pycocotools RLE as JSON: ``{"size": [h, w], "counts": str}``."""
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


def area_bbox(rle: dict[str, Any]) -> tuple[float, list[float]]:
    """Area and ``[x, y, w, h]`` box of a compressed RLE, exactly as pycocotools computes them."""
    area = float(mask_utils.area(rle))
    bbox = [float(v) for v in mask_utils.toBbox(rle)]
    return area, bbox


def encode_mask(
    mask: np.ndarray,
    *,
    offset: Sequence[int] = (0, 0),
    image_shape: Sequence[int] | None = None,
    mode: Mode = "auto",
    uncompressed: bool = False,
) -> dict[str, Any]:
    """Encode one object's mask as a COCO ``segmentation`` with its ``area`` and ``bbox``.

    Parameters
    ----------
    mask : (M, N) array_like of bool
        The object's pixels, usually its bounding-box window.
    offset : (int, int), optional
        (row, col) of ``mask[0, 0]`` in the image.
    image_shape : (int, int), optional
        (height, width) of the image (RLE size); defaults to the window's extent.
    mode : {"auto", "rle", "polygon"}
        ``"auto"``: polygons unless the mask has holes (or the polygons would not re-rasterise
        to the same pixels), then RLE. ``"rle"``: always compressed RLE. ``"polygon"``: always
        polygons (holes are filled; area and bbox then describe the filled polygons).
    uncompressed : bool
        Write RLE counts as a list of ints instead of pycocotools' compressed string.

    Returns
    -------
    dict
        ``{"segmentation": ..., "area": float, "bbox": [x, y, w, h]}``; area and bbox are those
        of pycocotools' ``mask.area`` / ``mask.toBbox`` of the written segmentation.
    """
    check_mode(mode)
    window = _as_window(mask)
    h, w = _image_shape(window, offset, image_shape)
    counts = rle_counts(window, offset=offset, image_shape=(h, w))
    rle = compress_counts(counts, h, w)
    if mode != "rle" and (mode == "polygon" or not has_holes(window)):
        polygons = mask_to_polygons(window, offset=offset)
        if polygons:
            poly_rle = polygons_to_rle(polygons, h, w)
            if mode == "polygon" or poly_rle["counts"] == rle["counts"]:
                area, bbox = area_bbox(poly_rle)
                return {"segmentation": polygons, "area": area, "bbox": bbox}
    area, bbox = area_bbox(rle)
    segmentation = (
        {"size": [h, w], "counts": counts} if uncompressed else rle_to_json(rle)
    )
    return {"segmentation": segmentation, "area": area, "bbox": bbox}


def label_windows(labels: np.ndarray) -> dict[int, tuple[slice, slice]]:
    """Bounding-box slices of every non-zero value of a 2D label image.

    Uses ``scipy.ndimage.find_objects`` (one pass over the image); sparse huge label values are
    relabelled first so the slot list stays small.
    """
    image = np.asarray(labels)
    if image.size == 0:
        return {}
    top = int(image.max())
    if top <= 0:
        return {}
    if top <= _MAX_DIRECT_LABEL:
        found = ndi.find_objects(image.astype(np.intp, copy=False))
        return {v + 1: s for v, s in enumerate(found) if s is not None}
    values, inverse = np.unique(image, return_inverse=True)
    if values[0] != 0:  # keep background at 0 in the relabelled image
        values = np.concatenate([np.zeros(1, dtype=values.dtype), values])  # keep uint64 exact
        inverse = inverse + 1
    found = ndi.find_objects(inverse.reshape(image.shape).astype(np.intp))
    return {int(values[k + 1]): s for k, s in enumerate(found) if s is not None}


def encode_labels(
    labels: np.ndarray,
    *,
    mode: Mode = "auto",
    values: Sequence[int] | None = None,
    uncompressed: Sequence[int] = (),
) -> dict[int, dict[str, Any]]:
    """Encode every instance of a 2D label image, each in its bounding-box window.

    Parameters
    ----------
    labels : (M, N) ndarray of int
        Label image; 0 is background.
    mode : {"auto", "rle", "polygon"}
        See :func:`encode_mask`.
    values : sequence of int, optional
        Encode only these label values (absent values are left out of the result).
    uncompressed : sequence of int, optional
        Label values whose RLE is written with uncompressed (list) counts.

    Returns
    -------
    dict of int to dict
        Label value -> ``{"segmentation", "area", "bbox"}``, in increasing label order.
    """
    check_mode(mode)
    image = np.asarray(labels)
    if image.ndim != 2:
        raise CocoError(f"`labels` must be 2D, got shape {image.shape}")
    windows = label_windows(image)
    wanted = sorted(windows) if values is None else sorted(int(v) for v in values)
    raw = set(int(v) for v in uncompressed)
    out: dict[int, dict[str, Any]] = {}
    for value in wanted:
        window = windows.get(value)
        if window is None:
            continue
        sub = image[window] == value
        out[value] = encode_mask(
            sub,
            offset=(window[0].start, window[1].start),
            image_shape=image.shape,
            mode=mode,
            uncompressed=value in raw,
        )
    return out
