"""Mask images for training pipelines: per-image instance labels and per-category binary masks.

For every image of a COCO dataset, :func:`export_masks` writes

- ``instances/<name>.png`` (or ``.tif``): uint16 instance labels (uint32 in TIFF when an image
  has more than 65,535 instances), value ``k`` for the k-th annotation of that image in file
  order, 0 for background. Overlaps are resolved as in the reader: larger instances first,
  smaller ones painted over them.
- ``categories/<name>/<category>.png``: a uint8 0/255 mask per category present in the image,
  the union of that category's full instance masks (occluded parts included).
- ``index.json``: for each image, its mask files and the annotation id of each instance value.

Masks are pycocotools-exact (:mod:`.raster`). ``<name>`` is the image's ``file_name`` without
extension (sub-folders kept, absolute paths reduced to the file name, unsafe characters
replaced); a name already taken (compared case-insensitively, as on macOS and Windows) gets
the image id appended, then a counter, so no two images ever share a file. Category files are
``<category name>_<category id>`` made unique the same way.

Everything is written into a temporary folder beside ``out_dir`` and moved into place at the
end: a failure leaves the previous output (or nothing) as it was, never a partial export.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CocoError
from .model import CocoDataset, load_coco, parse_coco
from .raster import annotation_window, rasterize_image

__all__ = ["FORMATS", "export_masks", "instance_mask"]

#: Accepted values of ``fmt`` and their file extensions.
FORMATS = {"png": ".png", "tif": ".tif", "tiff": ".tif"}


def _dataset(dataset_or_path: Any) -> CocoDataset:
    if isinstance(dataset_or_path, CocoDataset):
        return dataset_or_path
    if isinstance(dataset_or_path, Mapping):
        return parse_coco(dict(dataset_or_path))
    if isinstance(dataset_or_path, (str, os.PathLike)):
        return load_coco(dataset_or_path)
    raise CocoError(
        "`dataset_or_path` must be a COCO file path, a COCO dict or a CocoDataset, "
        f"got {type(dataset_or_path).__name__}"
    )


def instance_mask(dataset: CocoDataset, image_position: int) -> tuple[np.ndarray, list[Any]]:
    """Instance labels of one image, numbered per image, with the annotation id of each value.

    Parameters
    ----------
    dataset : CocoDataset
        The parsed dataset.
    image_position : int
        Position of the image in the file's ``images`` list.

    Returns
    -------
    labels : (H, W) ndarray of uint32
        ``k`` (1-based) for the k-th drawable annotation of the image in file order.
    ids : list
        ``ids[k - 1]`` is the annotation id painted with value ``k``.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> from napari_coco_masks.coco import load_coco
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> labels, ids = instance_mask(dataset, 0)
    >>> labels.dtype, int(labels.max()), ids[:3]
    (dtype('uint32'), 24, [1, 2, 3])
    """
    anns = dataset.image_annotations(image_position)
    # The reader's label image (paint order and all), renumbered per image: position + 1 -> k.
    renumber = np.zeros(max((a.position for a in anns), default=-1) + 2, dtype=np.uint32)
    for k, ann in enumerate(anns, start=1):
        renumber[ann.position + 1] = k
    return renumber[rasterize_image(dataset, image_position)], [ann.id for ann in anns]


def _category_masks(dataset: CocoDataset, image_position: int) -> dict[int, np.ndarray]:
    """Category position -> union of its instances' full masks in one image."""
    image = dataset.images[image_position]
    h, w = image.height, image.width
    out: dict[int, np.ndarray] = {}
    for ann in dataset.image_annotations(image_position):
        win = annotation_window(ann.record, h, w)
        if win is None:
            continue
        r0, c0, mask = win
        target = out.setdefault(ann.category_position, np.zeros((h, w), dtype=bool))
        target[r0 : r0 + mask.shape[0], c0 : c0 + mask.shape[1]] |= mask
    return out


def _unique(name: str, suffix: str, taken: set[str]) -> str:
    """``name``, else ``name_<suffix>``, else ``name_<suffix>_<k>``: the first not in ``taken``.

    Compared case-insensitively; the choice is added to ``taken``.
    """
    choice, k = name, 1
    while choice.lower() in taken:
        choice = f"{name}_{suffix}" if k == 1 else f"{name}_{suffix}_{k}"
        k += 1
    taken.add(choice.lower())
    return choice


def _stem(file_name: Any, image_id: Any, taken: set[str]) -> str:
    """A relative, collision-free output name for an image's masks (no extension)."""
    name = str(file_name).replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        name = name.rsplit("/", 1)[-1]
    parts = [_safe(p, "") for p in name.split("/") if p not in ("", ".", "..")]
    rel = "/".join(p for p in parts if p)
    stem = os.path.splitext(rel)[0] if rel else ""
    if not stem or stem.endswith("/"):
        stem = f"image_{_safe(str(image_id), 'image')}"
    return _unique(stem, _safe(str(image_id), "id"), taken)


def _safe(name: str, default: str = "category") -> str:
    """``name`` with every run of characters outside ``[A-Za-z0-9_.-]`` replaced by ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.")[:100]
    return cleaned or default


def _write(path: Path, data: np.ndarray, ext: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".png":
        import imageio.v3 as iio

        iio.imwrite(path, data)
    else:
        import tifffile

        tifffile.imwrite(path, data, compression="zlib")


def export_masks(
    dataset_or_path: Any,
    out_dir: str | os.PathLike,
    *,
    fmt: str = "png",
    instances: bool = True,
    categories: bool = True,
) -> list[Path]:
    """Write per-image instance-label masks and per-category binary masks.

    Parameters
    ----------
    dataset_or_path : str, PathLike, dict or CocoDataset
        A COCO instances file, its parsed JSON, or a :class:`~.model.CocoDataset`.
    out_dir : str or PathLike
        Output folder (created if needed).
    fmt : {"png", "tiff", "tif"}
        Image format. PNG instance masks are uint16; TIFF ones uint16, or uint32 above
        65,535 instances in one image.
    instances, categories : bool
        Which masks to write.

    Returns
    -------
    list of Path
        The files written, ``index.json`` last.

    Raises
    ------
    CocoError
        For an unknown ``fmt``, a file that is not valid COCO, or more than 65,535 instances
        in one image with ``fmt="png"``.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> from napari_coco_masks.coco import load_coco
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> [p.name for p in export_masks(dataset, tmp)]
    ['coins.png', 'large_coin_2.png', 'small_coin_1.png', 'index.json']
    """
    ext = FORMATS.get(str(fmt).lower())
    if ext is None:
        raise CocoError(f"`fmt` must be one of {sorted(FORMATS)}, got {fmt!r}")
    dataset = _dataset(dataset_or_path)
    return staged_export(
        out_dir, lambda tmp: _export_into(dataset, tmp, ext, instances, categories), _OURS
    )


def staged_export(out_dir: str | os.PathLike, fill: Any, names: tuple[str, ...]) -> list[Path]:
    """Run ``fill(tmp)`` in a temporary folder beside ``out_dir``, then move its ``names``
    into ``out_dir`` (replacing a previous export's, put back if a move fails).

    Returns the files ``fill`` wrote, as paths inside ``out_dir``. A failure leaves no
    partial output.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CocoError(f"the output {out} exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        written = fill(tmp)
        _move_into_place(tmp, out, names)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out / p.relative_to(tmp) for p in written]


def _export_into(
    dataset: CocoDataset, out: Path, ext: str, instances: bool, categories: bool
) -> list[Path]:
    """Write every mask and ``index.json`` into ``out``; the files written, index last."""
    written: list[Path] = []
    index = []
    taken: set[str] = set()
    for image in dataset.images:
        stem = _stem(image.file_name, image.id, taken)
        entry: dict[str, Any] = {"image_id": image.id, "file_name": image.file_name}
        if instances:
            path = out / "instances" / f"{stem}{ext}"
            entry.update(_write_instances(dataset, image, path, ext))
            written.append(path)
            entry["instances"] = path.relative_to(out).as_posix()
        if categories:
            files = _write_categories(dataset, image, out / "categories" / stem, ext)
            written.extend(files.values())
            entry["categories"] = {k: v.relative_to(out).as_posix() for k, v in files.items()}
        index.append(entry)
    index_path = out / "index.json"
    index_path.write_text(json.dumps(index, indent=1, default=str), encoding="utf-8")
    written.append(index_path)
    return written


def _write_instances(dataset: CocoDataset, image: Any, path: Path, ext: str) -> dict[str, Any]:
    """Write one image's instance labels; its index entry's ``annotation_ids``."""
    labels, ids = instance_mask(dataset, image.position)
    if len(ids) > 0xFFFF and ext == ".png":
        raise CocoError(
            f"{len(ids)} instances do not fit a uint16 PNG: use fmt='tiff'",
            path=dataset.path,
            where=f"images[{image.position}]",
        )
    data = labels.astype(np.uint16) if len(ids) <= 0xFFFF else labels
    _write(path, data, ext)
    return {"annotation_ids": ids}


def _write_categories(dataset: CocoDataset, image: Any, folder: Path, ext: str) -> dict[str, Path]:
    """Write one image's per-category masks; category id (as str) -> file."""
    files: dict[str, Path] = {}
    taken: set[str] = set()
    for position, mask in _category_masks(dataset, image.position).items():
        cat = dataset.categories[position]
        name = _unique(f"{_safe(str(cat.name))}_{_safe(str(cat.id), 'id')}", str(position), taken)
        path = folder / f"{name}{ext}"
        _write(path, mask.astype(np.uint8) * 255, ext)
        key = str(cat.id)
        files[key if key not in files else f"{key}#{position}"] = path
    return files


_OURS = ("instances", "categories", "index.json")


def _move_into_place(tmp: Path, out: Path, names: tuple[str, ...] = _OURS) -> None:
    """Replace ``out``'s previous export (the entries ``names``) by ``tmp``'s.

    Other files in ``out`` are left alone. The old export is first moved aside (into ``tmp``),
    so that if a move fails it is put back.
    """
    out.mkdir(parents=True, exist_ok=True)
    old = tmp / ".previous"
    old.mkdir()
    try:
        for name in names:
            if (out / name).exists() or (out / name).is_symlink():
                os.replace(out / name, old / name)
        for name in names:
            if (tmp / name).exists():
                os.replace(tmp / name, out / name)
    except OSError:
        for name in names:
            if (old / name).exists():
                if (out / name).is_dir() and not (out / name).is_symlink():
                    shutil.rmtree(out / name, ignore_errors=True)
                elif (out / name).exists():
                    (out / name).unlink()
                os.replace(old / name, out / name)
        raise
