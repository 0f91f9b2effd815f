"""Masked images and cut-outs with transparency; compositing cut-outs into new COCO images.

Pure numpy (plus the package's COCO core): no napari or Qt import lives here.

* :func:`apply_mask` sets an image's background to a value, or makes it transparent (RGBA).
* :func:`cutouts` crops every object of a COCO image (or of a label image, or of a list of
  masks) to its pixels' box, as RGBA whose alpha is exactly the object's mask (pycocotools'
  rasterisation for COCO annotations).
* :func:`export_cutouts` writes one RGBA PNG per object and a CSV of file -> annotation id and
  category, all or nothing (a failure leaves the previous export as it was).
* :func:`contact_sheet` lays cut-outs out in a grid (a figure of every object).
* :func:`composite` pastes cut-outs onto a background image (seeded random places, later ones
  over earlier ones) and returns the new image with its COCO annotations: the exact RLE of the
  visible pasted pixels of each object.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Cutout",
    "apply_mask",
    "composite",
    "contact_sheet",
    "cutouts",
    "export_cutouts",
]

#: Columns of the CSV written by :func:`export_cutouts`.
CSV_COLUMNS = ("file", "annotation_id", "image_id", "category_id", "category", "x", "y", "width",
               "height", "area")  # fmt: skip


def _opaque(dtype: np.dtype) -> Any:
    """Alpha of an opaque pixel: the integer dtype's maximum, 1.0 for floats."""
    return np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0


def _check_image(image: ArrayLike, spatial: tuple[int, ...] | None = None) -> np.ndarray:
    """A grey (M, N) or RGB(A) (M, N, 3|4) image (bool as uint8)."""
    array = np.asarray(image)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(
            f"`image` has dtype {array.dtype}; convert it to an integer or float array"
        )
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):
        raise ValueError(
            f"`image` (shape {array.shape}) must be grey (rows, columns) or RGB(A) "
            "(rows, columns, 3 or 4) with the channels last"
        )
    if spatial is not None and array.shape[:2] != spatial:
        raise ValueError(
            f"`image` (shape {array.shape}) does not have the (rows, columns) {spatial} of its "
            "masks; use the image the annotations or labels were made on"
        )
    return array


def _rgba(image: np.ndarray) -> np.ndarray:
    """The image as RGBA of its own dtype (grey replicated, opaque alpha added)."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.shape[-1] == 4:
        return image.copy()
    alpha = np.full((*image.shape[:2], 1), _opaque(image.dtype), dtype=image.dtype)
    return np.concatenate([image, alpha], axis=-1)


def apply_mask(
    image: ArrayLike,
    mask: ArrayLike,
    *,
    background: float | Sequence[float] | str = 0,
) -> np.ndarray:
    """A copy of ``image`` whose pixels outside ``mask`` are ``background`` or transparent.

    Parameters
    ----------
    image : (M, N) or (M, N, 3|4) array_like
        Grey or RGB(A) image.
    mask : (M, N) array_like of bool or int
        The pixels to keep (a label image keeps every non-zero label).
    background : number, sequence of numbers, or "transparent"
        Value of the other pixels (one, or one per channel), or ``"transparent"``: the result
        is RGBA (grey replicated into RGB) with alpha 0 outside the mask (an RGBA image keeps
        its own alpha inside).

    Returns
    -------
    ndarray
        Same dtype as ``image``; (M, N, 4) with ``"transparent"``, else ``image``'s shape.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[10, 20], [30, 40]], np.uint8)
    >>> apply_mask(image, [[1, 0], [0, 2]]).tolist()
    [[10, 0], [0, 40]]
    >>> apply_mask(image, [[1, 0], [0, 2]], background="transparent")[..., 3].tolist()
    [[255, 0], [0, 255]]
    """
    array = _check_image(image)
    keep = np.asarray(mask)
    if keep.shape != array.shape[:2]:
        raise ValueError(
            f"`mask` (shape {keep.shape}) must have the (rows, columns) of `image` "
            f"(shape {array.shape})"
        )
    keep = keep.astype(bool, copy=False)
    if isinstance(background, str):
        if background != "transparent":
            raise ValueError(
                f"`background` must be a number, one per channel, or 'transparent', got {background!r}"
            )
        out = _rgba(array)
        out[..., 3] = np.where(keep, out[..., 3], 0)
        return out
    value = np.asarray(background, dtype=np.float64).ravel()
    n_channels = 1 if array.ndim == 2 else array.shape[-1]
    if value.size not in (1, n_channels):
        raise ValueError(
            f"`background` has {value.size} values; give one, or one per channel ({n_channels})"
        )
    out = array.copy()
    out[~keep] = value.astype(array.dtype) if value.size > 1 else value[0].astype(array.dtype)
    return out


@dataclass(frozen=True)
class Cutout:
    """One object cropped to the box of its pixels.

    Attributes
    ----------
    rgba : (h, w, 4) ndarray
        The object's pixels (image dtype); alpha is opaque on the mask, 0 elsewhere.
    mask : (h, w) ndarray of bool
        The object's exact mask inside the box.
    offset : (int, int)
        (row, column) of the box's top-left pixel in the source image.
    annotation_id, image_id, category_id : any
        Where it came from (the label value as ``annotation_id`` for label images).
    category : str
        Category name ("object" when unknown).
    """

    rgba: np.ndarray
    mask: np.ndarray
    offset: tuple[int, int]
    annotation_id: Any = None
    image_id: Any = None
    category_id: Any = 1
    category: str = "object"

    @property
    def bbox(self) -> list[int]:
        """The box in COCO form ``[x, y, width, height]`` (pixel corners)."""
        return [self.offset[1], self.offset[0], self.mask.shape[1], self.mask.shape[0]]


def _windows(
    source: Any, image_position: int
) -> tuple[tuple[int, int], list[tuple[int, int, np.ndarray, dict]]]:
    """(image shape, [(row0, col0, window mask, identity)]) of every object of ``source``."""
    from ..coco.masks import _dataset
    from ..coco.model import CocoDataset
    from ..coco.raster import annotation_window

    if isinstance(source, (CocoDataset, Mapping, str, os.PathLike)):
        data = _dataset(source)
        if not 0 <= image_position < len(data.images):
            raise ValueError(
                f"`image_position` {image_position} is out of range: {len(data.images)} image(s)"
            )
        img = data.images[image_position]
        out = []
        for ann in data.image_annotations(image_position):
            win = annotation_window(ann.record, img.height, img.width)
            if win is not None:
                ident = {"annotation_id": ann.id, "image_id": img.id, "category_id": ann.category_id,
                         "category": data.category(ann).name}  # fmt: skip
                out.append((win[0], win[1], win[2], ident))
        return (img.height, img.width), out
    if isinstance(source, (list, tuple)):
        masks = [np.asarray(m, dtype=bool) for m in source]
        if not masks:
            return (0, 0), []
        shape = masks[0].shape
        out = []
        for k, m in enumerate(masks, start=1):
            if m.shape != shape or m.ndim != 2:
                raise ValueError(
                    f"mask {k - 1} (shape {m.shape}) differs from mask 0 (shape {shape}): give 2D masks of one image"
                )
            out.extend(_label_windows(m.astype(np.int64) * k, only=k))
        return shape, out
    labels = np.asarray(source)
    if labels.ndim != 2 or not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise ValueError(
            f"`source` must be a COCO dataset (path, dict, CocoDataset), a 2D label image or a "
            f"list of 2D masks; got an array of shape {labels.shape} and dtype {labels.dtype}"
        )
    return labels.shape, _label_windows(labels.astype(np.int64, copy=False))


def _label_windows(
    labels: np.ndarray, only: int | None = None
) -> list[tuple[int, int, np.ndarray, dict]]:
    from scipy import ndimage as ndi

    out = []
    for value, window in enumerate(ndi.find_objects(labels), start=1):
        if window is None or (only is not None and value != only):
            continue
        ident = {"annotation_id": value, "image_id": None, "category_id": 1, "category": "object"}
        out.append((window[0].start, window[1].start, labels[window] == value, ident))
    return out


def cutouts(image: ArrayLike, source: Any, *, image_position: int = 0) -> list[Cutout]:
    """Every object of an image, cropped to its pixels' box, with alpha from its exact mask.

    Parameters
    ----------
    image : (M, N) or (M, N, 3|4) array_like
        The image the objects were drawn on.
    source : COCO dataset (path, dict or CocoDataset), (M, N) label image, or list of masks
        The objects: the annotations of image ``image_position`` (masks exactly as
        pycocotools' ``annToMask``; overlapping annotations each keep their full mask), the
        non-zero labels, or one object per mask.
    image_position : int
        Position of the image in the dataset's ``images`` list.

    Returns
    -------
    list of Cutout
        In the dataset's (or label value's) order; empty annotations are left out.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    >>> (cut,) = cutouts(image, np.array([[0, 0, 0, 0], [0, 5, 5, 0], [0, 0, 5, 0]]))
    >>> cut.offset, cut.bbox, cut.rgba[..., 3].tolist()
    ((1, 1), [1, 1, 2, 2], [[255, 255], [0, 255]])
    """
    shape, windows = _windows(source, image_position)
    array = _check_image(image, tuple(shape) if windows else None)
    rgba = _rgba(array)
    out = []
    for r0, c0, mask, ident in windows:
        crop = rgba[r0 : r0 + mask.shape[0], c0 : c0 + mask.shape[1]].copy()
        crop[..., 3] = np.where(mask, crop[..., 3], 0)
        out.append(Cutout(crop, mask, (int(r0), int(c0)), **ident))
    return out


def _safe(name: str) -> str:
    from ..coco.masks import _safe as safe

    return safe(name, default="object")


def _png_bytes(rgba: np.ndarray) -> bytes:
    import imageio.v3 as iio

    buffer = io.BytesIO()
    iio.imwrite(buffer, rgba, extension=".png")
    return buffer.getvalue()


def export_cutouts(
    image: ArrayLike,
    source: Any,
    out_dir: str | os.PathLike,
    *,
    image_position: int = 0,
    name: str | None = None,
) -> list[Path]:
    """Write one RGBA PNG per object, cropped to its box, plus a CSV naming each file's object.

    Writes ``<out_dir>/<name>/<name>_<annotation id>.png`` and ``<out_dir>/<name>.csv`` with the
    columns :data:`CSV_COLUMNS` (``x, y, width, height``: the crop's box in the image; ``area``:
    mask pixels). Everything is written into a temporary folder first and moved into place at
    the end: a failure leaves a previous export of the same name as it was.

    Parameters
    ----------
    image, source, image_position
        As :func:`cutouts`.
    out_dir : path
        Output folder (created if needed).
    name : str, optional
        Folder and CSV name (default: the COCO image's file name without extension, else
        ``"cutouts"``).

    Returns
    -------
    list of Path
        The PNGs, then the CSV.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> image = np.full((4, 4, 3), 200, np.uint8)
    >>> files = export_cutouts(image, np.eye(4, dtype=int), tempfile.mkdtemp())
    >>> [f.name for f in files]
    ['cutouts_1.png', 'cutouts.csv']
    """
    from ..coco.masks import _dataset, staged_export
    from ..coco.model import CocoDataset

    pieces = cutouts(image, source, image_position=image_position)
    if pieces and pieces[0].rgba.dtype != np.uint8:
        raise ValueError(
            f"RGBA PNG cut-outs need a uint8 image, got {pieces[0].rgba.dtype}; convert it first "
            "(e.g. skimage.exposure.rescale_intensity(image, out_range=np.uint8))"
        )
    if name is None and isinstance(source, (CocoDataset, Mapping, str, os.PathLike)):
        name = Path(_dataset(source).images[image_position].file_name).stem
    stem = _safe(name or "cutouts")

    def fill(tmp: Path) -> list[Path]:
        folder = tmp / stem
        folder.mkdir()
        written, rows, taken = [], [], set()
        for k, cut in enumerate(pieces):
            file = _safe(f"{stem}_{cut.annotation_id}")
            file = file if file.lower() not in taken else f"{file}_{k}"
            taken.add(file.lower())
            path = folder / f"{file}.png"
            path.write_bytes(_png_bytes(cut.rgba))
            written.append(path)
            x, y, w, h = cut.bbox
            rows.append([f"{stem}/{path.name}", cut.annotation_id, cut.image_id, cut.category_id,
                         cut.category, x, y, w, h, int(cut.mask.sum())])  # fmt: skip
        table = tmp / f"{stem}.csv"
        with table.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(rows)
        return [*written, table]

    return staged_export(out_dir, fill, (stem, f"{stem}.csv"))


def _categories(pieces: Sequence[Cutout]) -> list[dict]:
    seen: dict[Any, str] = {}
    for cut in pieces:
        seen.setdefault(cut.category_id, cut.category)
    return [{"id": cid, "name": name, "supercategory": ""} for cid, name in seen.items()]


def composite(
    pieces: Sequence[Cutout],
    background: ArrayLike,
    *,
    n: int | None = None,
    seed: int | np.random.Generator | None = 0,
    positions: Sequence[tuple[int, int]] | None = None,
    min_visible: float = 0.0,
    image_id: Any = 1,
    file_name: str = "composite.png",
) -> tuple[np.ndarray, dict]:
    """Paste cut-outs onto a background image; return it with the COCO annotations of what shows.

    Later pastes go over earlier ones. Each pasted object's annotation is the exact RLE of its
    pixels that remain visible (occluded parts are not in it), with pycocotools' area and box.

    Parameters
    ----------
    pieces : sequence of Cutout
        From :func:`cutouts` (same dtype as ``background``).
    background : (M, N) or (M, N, 3|4) array_like
        The image to paste on (a grey one becomes RGB).
    n : int, optional
        How many pastes: that many cut-outs drawn at random (with replacement). Default: each
        cut-out once, in order.
    seed : int or numpy Generator, optional
        Random places (and choices): the same seed gives the same composite.
    positions : sequence of (row, col), optional
        Top-left corner of each paste instead of random places (one per paste, inside the image).
    min_visible : float
        Leave out objects of which less than this fraction remains visible (0: keep any that
        shows at least one pixel).
    image_id, file_name
        The new image's record.

    Returns
    -------
    image : ndarray
        The composite (background's dtype; RGB or RGBA).
    dataset : dict
        A COCO dataset with one image, the categories of the cut-outs and one RLE annotation per
        visible paste (``attributes``: ``source_annotation_id``, ``paste_xy`` (the cut-out's
        top-left corner in the new image), ``visible_fraction``).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((4, 4), np.uint8); image[1:3, 1:3] = 9
    >>> (cut,) = cutouts(image, (image > 0).astype(int))
    >>> out, coco = composite([cut, cut], np.zeros((6, 6), np.uint8), positions=[(0, 0), (1, 1)])
    >>> [a["area"] for a in coco["annotations"]]
    [3.0, 4.0]
    """
    from ..coco.encode import encode_mask

    base = _check_image(background)
    canvas = np.repeat(base[..., None], 3, axis=-1) if base.ndim == 2 else base.copy()
    height, width = canvas.shape[:2]
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if not pieces:
        raise ValueError("`pieces` is empty: make cut-outs first (cutouts(image, dataset))")
    order = list(range(len(pieces))) if n is None else rng.integers(0, len(pieces), int(n)).tolist()
    if positions is not None and len(positions) != len(order):
        raise ValueError(
            f"`positions` has {len(positions)} entries for {len(order)} pastes: give one per paste"
        )
    if not 0 <= min_visible <= 1:
        raise ValueError(f"`min_visible` must be a fraction from 0 to 1, got {min_visible!r}")
    owner = np.zeros((height, width), np.int32)
    placed = []
    for k, index in enumerate(order, start=1):
        cut = pieces[index]
        if cut.rgba.dtype != canvas.dtype:
            raise ValueError(
                f"cut-out {index} is {cut.rgba.dtype} but the background is {canvas.dtype}: convert one"
            )
        h, w = cut.mask.shape
        if h > height or w > width:
            raise ValueError(
                f"cut-out {index} ({h} x {w}) is larger than the background ({height} x {width})"
            )
        if positions is None:
            r0, c0 = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        else:
            r0, c0 = (int(v) for v in positions[k - 1])
            if not (0 <= r0 <= height - h and 0 <= c0 <= width - w):
                raise ValueError(
                    f"position {(r0, c0)} puts cut-out {index} ({h} x {w}) outside the {height} x {width} background"
                )
        window = canvas[r0 : r0 + h, c0 : c0 + w]
        alpha = cut.rgba[..., 3:4].astype(np.float64) / _opaque(cut.rgba.dtype)
        n_ch = canvas.shape[-1]
        blended = alpha * cut.rgba[..., :n_ch] + (1 - alpha) * window
        if np.issubdtype(canvas.dtype, np.integer):
            blended = np.rint(blended)
        window[cut.mask] = blended[cut.mask].astype(canvas.dtype)
        if n_ch == 4:
            window[..., 3][cut.mask] = _opaque(canvas.dtype)
        owner[r0 : r0 + h, c0 : c0 + w][cut.mask] = k
        placed.append((index, r0, c0))
    annotations = []
    for k, (index, r0, c0) in enumerate(placed, start=1):
        cut = pieces[index]
        h, w = cut.mask.shape
        visible = owner[r0 : r0 + h, c0 : c0 + w] == k
        fraction = float(visible.sum() / max(cut.mask.sum(), 1))
        if not visible.any() or fraction < min_visible:
            continue
        encoded = encode_mask(visible, offset=(r0, c0), image_shape=(height, width), mode="rle")
        annotations.append({
            "id": len(annotations) + 1, "image_id": image_id, "category_id": cut.category_id,
            "iscrowd": 0, **encoded,
            "attributes": {"source_annotation_id": cut.annotation_id, "paste_xy": [c0, r0],
                           "visible_fraction": round(fraction, 4)},
        })  # fmt: skip
    dataset = {
        "images": [{"id": image_id, "file_name": file_name, "height": height, "width": width}],
        "categories": _categories(pieces),
        "annotations": annotations,
    }
    return canvas, dataset


def contact_sheet(
    pieces: Sequence[Cutout],
    *,
    columns: int = 6,
    padding: int = 4,
    background: Sequence[float] | None = None,
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Lay cut-outs out in a grid, each in a cell of the largest one's size, centred.

    Parameters
    ----------
    pieces : sequence of Cutout
        From :func:`cutouts` (one dtype).
    columns : int
        Cells per row.
    padding : int
        Pixels between cells and around the sheet.
    background : sequence of 4 numbers, optional
        RGBA of the empty sheet (default: transparent).

    Returns
    -------
    sheet : (H, W, 4) ndarray
        RGBA, the cut-outs' dtype; each cut-out's pixels are copied where its alpha is not 0.
    offsets : list of (row, col)
        Where each cut-out's top-left corner lies on the sheet.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((4, 6), 50, np.uint8)
    >>> labels = np.zeros((4, 6), int); labels[0:2, 0:2] = 1; labels[1:4, 3:6] = 2
    >>> sheet, offsets = contact_sheet(cutouts(image, labels), columns=2, padding=1)
    >>> sheet.shape, offsets
    ((5, 9, 4), [(1, 1), (1, 5)])
    """
    if not pieces:
        raise ValueError("`pieces` is empty: make cut-outs first (cutouts(image, dataset))")
    if int(columns) != columns or columns < 1 or int(padding) != padding or padding < 0:
        raise ValueError(f"`columns` must be >= 1 and `padding` >= 0, got {columns!r}, {padding!r}")
    dtype = pieces[0].rgba.dtype
    if any(p.rgba.dtype != dtype for p in pieces):
        raise ValueError("the cut-outs have different dtypes; make them from images of one dtype")
    cell_h = max(p.mask.shape[0] for p in pieces)
    cell_w = max(p.mask.shape[1] for p in pieces)
    n_rows = -(-len(pieces) // int(columns))
    n_cols = min(int(columns), len(pieces))
    shape = (n_rows * (cell_h + padding) + padding, n_cols * (cell_w + padding) + padding, 4)
    sheet = np.zeros(shape, dtype)
    if background is not None:
        sheet[...] = np.asarray(background, dtype=np.float64).astype(dtype)
    offsets = []
    for k, cut in enumerate(pieces):
        h, w = cut.mask.shape
        r0 = padding + (k // columns) * (cell_h + padding) + (cell_h - h) // 2
        c0 = padding + (k % columns) * (cell_w + padding) + (cell_w - w) // 2
        window = sheet[r0 : r0 + h, c0 : c0 + w]
        shown = cut.rgba[..., 3] > 0
        window[shown] = cut.rgba[shown]
        offsets.append((r0, c0))
    return sheet, offsets
