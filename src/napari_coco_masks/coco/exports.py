"""Exports for training: class-index (semantic) masks and YOLO label files.

Both number the classes the same way (:func:`export_classes`): the file's categories in order,
without Roboflow-style placeholders (an unused category whose supercategory is ``"none"``).
Semantic masks hold ``class + 1`` per pixel (0 is background), painted as the reader paints
instances (smaller over larger). YOLO files hold one line per instance part:
``class x1 y1 x2 y2 ...`` (segmentation) or ``class cx cy w h`` (detection), normalised by the
image size. Output is staged in a temporary folder and moved into place. No napari import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .encode import mask_to_polygons
from .errors import CocoError
from .masks import _dataset, _stem, _write, staged_export
from .model import CocoDataset
from .raster import annotation_window, rasterize_image

__all__ = [
    "export_classes", "export_polygons", "export_semantic", "export_split", "export_yolo",
    "polygon_record", "semantic_mask", "split_images", "yolo_lines",
]


def export_classes(dataset: CocoDataset) -> list[Any]:
    """The categories that become classes, in file order (class ``k`` is the ``k``-th).

    Parameters
    ----------
    dataset : CocoDataset
        The parsed dataset.

    Returns
    -------
    list of CocoCategory
        The categories some drawable annotation uses.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> from napari_coco_masks.coco import load_coco
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> [c.name for c in export_classes(dataset)]
    ['small coin', 'large coin']
    """
    used = set(np.unique(dataset._category_of[dataset._category_of >= 0]).tolist())
    return [
        c for c in dataset.categories
        if c.position in used or str(c.supercategory).lower() != "none"
    ]


def _class_of(dataset: CocoDataset) -> dict[int, int]:
    """Category position -> class index."""
    return {c.position: k for k, c in enumerate(export_classes(dataset))}


def semantic_mask(dataset: CocoDataset, image_position: int) -> np.ndarray:
    """(H, W) uint16 mask of one image: ``class + 1`` per pixel, 0 for background.

    Parameters
    ----------
    dataset : CocoDataset
        The parsed dataset.
    image_position : int
        Position of the image in the file's ``images`` list.

    Returns
    -------
    (H, W) ndarray of uint16

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> from napari_coco_masks.coco import load_coco
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> mask = semantic_mask(dataset, 0)
    >>> mask.dtype, sorted(np.unique(mask).tolist())
    (dtype('uint16'), [0, 1, 2])
    """
    classes = _class_of(dataset)
    anns = dataset.image_annotations(image_position)
    lut = np.zeros(len(anns) + 1, dtype=np.uint16)
    for k, ann in enumerate(anns):
        lut[k + 1] = classes.get(ann.category_position, -1) + 1
    return lut[rasterize_image(dataset, image_position, per_image=True)]


def _parts(ann: Any, height: int, width: int) -> list[np.ndarray]:
    """The polygon parts of an annotation as (N, 2) corner coordinates ``(x, y)``."""
    if ann.kind == "polygon":
        return [np.asarray(p, dtype=float).reshape(-1, 2) for p in ann.segmentation]
    if ann.kind == "bbox":
        x, y, w, h = (float(v) for v in ann.bbox)
        return [np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])]
    window = annotation_window(ann, height, width)
    if window is None:
        return []
    r0, c0, mask = window
    return [np.asarray(p).reshape(-1, 2) for p in mask_to_polygons(mask, offset=(r0, c0))]


def _box(ann: Any, height: int, width: int) -> tuple[float, float, float, float] | None:
    """``(x0, y0, x1, y1)`` of the annotation's pixels (the bbox for bbox-only ones)."""
    if ann.kind == "bbox":
        x, y, w, h = (float(v) for v in ann.bbox)
        return x, y, x + w, y + h
    window = annotation_window(ann, height, width)
    if window is None or not window[2].any():
        return None
    r0, c0, mask = window
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return c0 + cols[0], r0 + rows[0], c0 + cols[-1] + 1.0, r0 + rows[-1] + 1.0


def yolo_lines(dataset: CocoDataset, image_position: int, task: str = "segment") -> list[str]:
    """The YOLO label lines of one image (``task`` "segment" or "detect").

    Parameters
    ----------
    dataset : CocoDataset
        The parsed dataset.
    image_position : int
        Position of the image in the file's ``images`` list.
    task : {"segment", "detect"}
        ``class x1 y1 x2 y2 ...`` polygon lines, or ``class cx cy w h`` box lines (normalised).

    Returns
    -------
    list of str
        One line per instance.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> from napari_coco_masks.coco import load_coco
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> yolo_lines(dataset, 0, "detect")[0]
    '1 0.872396 0.145215 0.156250 0.184818'
    """
    if task not in ("segment", "detect"):
        raise CocoError(f"`task` must be 'segment' or 'detect', got {task!r}")
    classes = _class_of(dataset)
    image = dataset.images[image_position]
    h, w = image.height, image.width
    scale = np.array([w, h], dtype=float)
    lines = []
    for ann in dataset.image_annotations(image_position):
        cls = classes.get(ann.category_position)
        if cls is None:
            continue
        if task == "detect":
            box = _box(ann, h, w)
            if box is None:
                continue
            x0, y0, x1, y1 = np.clip(box, 0, [w, h, w, h])
            if x1 <= x0 or y1 <= y0:
                continue
            nums = [(x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h]
            lines.append(" ".join([str(cls), *(f"{v:.6f}" for v in nums)]))
            continue
        for part in _parts(ann, h, w):
            xy = np.clip(part / scale, 0.0, 1.0)
            if len(xy) >= 3:
                lines.append(" ".join([str(cls), *(f"{v:.6f}" for v in xy.ravel())]))
    return lines


def _classes_json(dataset: CocoDataset, first: int) -> list[dict[str, Any]]:
    return [
        {"value": k + first, "category_id": c.id, "name": c.name}
        for k, c in enumerate(export_classes(dataset))
    ]


def export_semantic(
    dataset_or_path: Any,
    out_dir: str | os.PathLike,
    *,
    fmt: str = "png",
    on_image: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write one class-index mask per image into ``out_dir/semantic/`` and ``classes.json``.

    ``on_image(k)`` is called after image ``k`` is written (progress).

    Returns
    -------
    list of Path
        The files written, ``classes.json`` last.

    Parameters
    ----------
    dataset_or_path : str, PathLike, dict or CocoDataset
        A COCO instances file, its parsed JSON, or a dataset.
    out_dir : str or PathLike
        Output folder (created if needed).
    fmt : {"png", "tiff", "tif"}
        Image format of the masks (uint16).
    on_image : callable, optional
        ``on_image(k)`` after image ``k``.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> from napari_coco_masks.coco import load_coco
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> [p.name for p in export_semantic(dataset, tmp)]
    ['coins.png', 'classes.json']
    """
    ext = {"png": ".png", "tif": ".tif", "tiff": ".tif"}.get(str(fmt).lower())
    if ext is None:
        raise CocoError(f"`fmt` must be 'png' or 'tiff', got {fmt!r}")
    dataset = _dataset(dataset_or_path)

    def fill(tmp: Path) -> list[Path]:
        written, taken = [], set()
        for image in dataset.images:
            path = tmp / "semantic" / f"{_stem(image.file_name, image.id, taken)}{ext}"
            _write(path, semantic_mask(dataset, image.position), ext)
            written.append(path)
            if on_image is not None:
                on_image(image.position)
        classes = tmp / "classes.json"
        classes.write_text(json.dumps(_classes_json(dataset, 1), indent=1, default=str))
        return [*written, classes]

    return staged_export(out_dir, fill, ("semantic", "classes.json"))


def export_yolo(
    dataset_or_path: Any,
    out_dir: str | os.PathLike,
    *,
    task: str = "segment",
    on_image: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write YOLO label files (``labels/<image>.txt``) and ``data.yaml`` with the class names.
    ``on_image(k)`` is called after image ``k`` is written (progress).

    Images without instances get an empty label file, as YOLO trainers expect.

    Parameters
    ----------
    dataset_or_path : str, PathLike, dict or CocoDataset
        A COCO instances file, its parsed JSON, or a dataset.
    out_dir : str or PathLike
        Output folder (created if needed).
    task : {"segment", "detect"}
        Polygon lines or box lines (:func:`yolo_lines`).
    on_image : callable, optional
        ``on_image(k)`` after image ``k``.

    Returns
    -------
    list of Path
        The files written, ``data.yaml`` last.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> from napari_coco_masks.coco import load_coco
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> [p.name for p in export_yolo(dataset, tmp, task="detect")]
    ['coins.txt', 'data.yaml']
    """
    dataset = _dataset(dataset_or_path)
    if task not in ("segment", "detect"):
        raise CocoError(f"`task` must be 'segment' or 'detect', got {task!r}")

    def fill(tmp: Path) -> list[Path]:
        written, taken = [], set()
        (tmp / "labels").mkdir()
        for image in dataset.images:
            path = tmp / "labels" / f"{_stem(image.file_name, image.id, taken)}.txt"
            lines = yolo_lines(dataset, image.position, task)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
            written.append(path)
            if on_image is not None:
                on_image(image.position)
        names = [c.name for c in export_classes(dataset)]
        data = tmp / "data.yaml"
        data.write_text(
            f"# written by napari-coco-masks from {dataset.path}\n"
            f"nc: {len(names)}\nnames: {json.dumps(names, ensure_ascii=False)}\n",
            encoding="utf-8",
        )
        return [*written, data]

    return staged_export(out_dir, fill, ("labels", "data.yaml"))


# ------------------------------------------------------------------- COCO rewrites


def _file_object(dataset: CocoDataset) -> dict[str, Any]:
    """The dataset's JSON object with every annotation record (file order)."""
    obj = dict(dataset.raw)
    obj["annotations"] = list(obj.get("annotations") or [])
    return obj


def polygon_record(ann: Any, height: int, width: int) -> tuple[dict[str, Any], float, bool]:
    """An RLE annotation rewritten with polygons: (record, IoU of the polygons' mask with the
    original under pycocotools, whether the mask has holes). Polygon records come back as
    they are (IoU 1).

    Parameters
    ----------
    ann : CocoAnnotation
        The annotation.
    height, width : int
        Size of its image.

    Returns
    -------
    record : dict
        The annotation record with a polygon ``segmentation``.
    iou : float
        IoU of the new mask with the old one under pycocotools.
    holes : bool
        Whether the old mask has holes (which a polygon loses).

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> from napari_coco_masks.coco import load_coco
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> record, iou, holes = polygon_record(dataset.image_annotations(0)[0], 303, 384)
    >>> type(record["segmentation"]).__name__, iou, holes
    ('list', 1.0, False)
    """
    from pycocotools import mask as mask_utils

    from .encode import has_holes, polygons_to_rle

    record = dict(ann.record)
    if ann.kind != "rle":
        return record, 1.0, False
    window = annotation_window(ann, height, width)
    if window is None:
        return record, 1.0, False
    r0, c0, mask = window
    polygons = mask_to_polygons(mask, offset=(r0, c0))
    new = polygons_to_rle(polygons, height, width)
    full = np.zeros((height, width), np.uint8)
    full[r0 : r0 + mask.shape[0], c0 : c0 + mask.shape[1]] = mask
    old = mask_utils.encode(np.asfortranarray(full))
    iou = float(mask_utils.iou([new], [old], [0])[0][0])
    record["segmentation"] = polygons
    record["area"] = float(mask_utils.area(new))
    return record, iou, has_holes(mask)


def export_polygons(
    dataset_or_path: Any,
    out_path: str | os.PathLike,
    *,
    on_image: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write a copy of a COCO file whose masks are all polygons (``--polygons-only``).

    RLE masks become their exact outlines (:func:`~.encode.mask_to_polygons`: IoU 1.0 under
    pycocotools for masks without holes); a mask with holes loses them (a polygon cannot
    hold a hole) and is reported with its IoU. Every other key of every record is kept;
    bbox-only annotations stay as they are.

    Returns
    -------
    dict
        ``{"path", "converted", "lossy": [{"annotation_id", "where", "iou", "holes"}...],
        "min_iou"}``.

    Parameters
    ----------
    dataset_or_path : str, PathLike, dict or CocoDataset
        A COCO instances file, its parsed JSON, or a dataset.
    out_path : str or PathLike
        The file to write.
    on_image : callable, optional
        ``on_image(k)`` after image ``k`` (progress).

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> from napari_coco_masks.coco import load_coco
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> report = export_polygons(dataset, tmp / "polygons.json")
    >>> report["converted"], report["min_iou"]
    (0, 1.0)
    """
    from .write import write_coco

    dataset = _dataset(dataset_or_path)
    obj = _file_object(dataset)
    records = obj["annotations"]
    converted, lossy = 0, []
    for image in dataset.images:
        for ann in dataset.image_annotations(image.position):
            if ann.kind != "rle":
                continue
            record, iou, holes = polygon_record(ann, image.height, image.width)
            records[ann.position] = record
            converted += 1
            if iou < 1.0:
                lossy.append({"annotation_id": ann.id, "where": f"annotations[{ann.position}]",
                              "iou": iou, "holes": holes})
        if on_image is not None:
            on_image(image.position)
    path = write_coco(obj, out_path)
    return {"path": path, "converted": converted, "lossy": lossy,
            "min_iou": min((e["iou"] for e in lossy), default=1.0)}


def split_images(n: int, ratios: dict[str, float], seed: int = 0) -> dict[str, np.ndarray]:
    """Image positions of each subset: a seeded shuffle cut by ``ratios`` (largest remainders
    get the leftover images, so the counts add up to ``n``).

    Parameters
    ----------
    n : int
        Number of images.
    ratios : dict of str to float
        Subset name to fraction.
    seed : int
        Seed of the shuffle.

    Returns
    -------
    dict of str to ndarray of int
        Image positions of each subset (sorted).

    Examples
    --------
    >>> {name: p.tolist() for name, p in split_images(5, {"train": 0.6, "val": 0.4}).items()}
    {'train': [2, 3, 4], 'val': [0, 1]}
    """
    if not ratios or any(not isinstance(r, (int, float)) or r < 0 for r in ratios.values()):
        raise CocoError(f"`ratios` must map subset names to non-negative numbers, got {ratios}")
    total = float(sum(ratios.values()))
    if total <= 0:
        raise CocoError(f"`ratios` must not all be 0, got {ratios}")
    exact = {k: n * r / total for k, r in ratios.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: n - sum(
            counts.values())]:
        counts[k] += 1
    order = np.random.default_rng(seed).permutation(n)
    out, at = {}, 0
    for k in ratios:
        out[k] = np.sort(order[at : at + counts[k]])
        at += counts[k]
    return out


def export_split(
    dataset_or_path: Any,
    out_dir: str | os.PathLike,
    *,
    ratios: dict[str, float] | None = None,
    seed: int = 0,
) -> dict[str, Path]:
    """Split a COCO file by images into ``<name>.json`` per subset (default train 0.8 / val
    0.2), seeded: the same seed gives the same split. Each subset keeps every category (ids
    unchanged), the file's other top-level keys, and the annotations of its images.

    Parameters
    ----------
    dataset_or_path : str, PathLike, dict or CocoDataset
        A COCO instances file, its parsed JSON, or a dataset.
    out_dir : str or PathLike
        Output folder (created if needed).
    ratios : dict of str to float, optional
        Subset name to fraction of the images (normalised to sum 1).
    seed : int
        Seed of the shuffle.

    Returns
    -------
    dict of str to Path
        The file written for each subset.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> from napari_coco_masks.coco import load_coco
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> {name: path.name for name, path in export_split(dataset, tmp).items()}
    {'train': 'train.json', 'val': 'val.json'}
    """
    ratios = {"train": 0.8, "val": 0.2} if ratios is None else dict(ratios)
    for name in ratios:
        if not name or Path(name).name != name or name.startswith("."):
            raise CocoError(f"subset name {name!r} must be a plain file name")
    dataset = _dataset(dataset_or_path)
    obj = _file_object(dataset)
    subsets = split_images(len(dataset.images), ratios, seed)
    image_of = np.asarray(dataset._image_of)
    images = obj["images"]

    def fill(tmp: Path) -> list[Path]:
        from .write import write_coco

        written = []
        for name, positions in subsets.items():
            part = dict(obj)
            part["images"] = [images[p] for p in positions.tolist()]
            keep = np.isin(image_of, positions)  # file order kept
            part["annotations"] = [rec for rec, k in zip(obj["annotations"], keep, strict=True)
                                   if k]
            written.append(write_coco(part, tmp / f"{name}.json"))
        return written

    files = staged_export(out_dir, fill, tuple(f"{name}.json" for name in ratios))
    return {p.stem: p for p in files}
