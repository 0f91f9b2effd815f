"""Find and load the images a COCO file refers to, relative to the file; never from the web.

``file_name`` is resolved the way real exports lay their files out (COCO-NOTES "Dialects"):

- beside the JSON (Roboflow: one ``_annotations.coco.json`` per split folder with its images);
- in an ``images/`` folder beside the JSON or beside its folder (CVAT ``annotations/`` +
  ``images/``), ``file_name`` possibly carrying a subfolder (``val/000016.jpg``);
- in a split folder named after the JSON (``instances_val.json`` -> ``images/val/``,
  ``instances_val2017.json`` -> ``val2017/``);
- an absolute ``file_name`` (labelme2coco) as it is; a ``file_name`` whose subfolders do not
  exist by its base name.

``coco_url`` and ``flickr_url`` are never fetched.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .model import CocoDataset

__all__ = ["candidate_folders", "find_images", "image_info", "read_image", "stack_images"]


def _split_names(json_path: Path) -> list[str]:
    """Split folder names a JSON file's name suggests: ``instances_val2017`` -> ``val2017``,
    ``train.json`` -> ``train``."""
    stem = json_path.name.split(".")[0]
    names = [stem] if stem and not stem.startswith("_") else []
    for sep in ("_", "-"):
        if sep in stem:
            tail = stem.rsplit(sep, 1)[-1]
            if tail and tail not in names and tail not in ("annotations", "coco", "default"):
                names.append(tail)
    return names


def candidate_folders(json_path: str | os.PathLike) -> list[Path]:
    """Folders, in order of preference, that ``file_name`` may be relative to."""
    here = Path(json_path).resolve().parent
    up = here.parent
    folders = [here, here / "images", up / "images", up]
    for split in _split_names(Path(json_path)):
        folders += [here / split, here / "images" / split, up / "images" / split, up / split]
    folders.append(here / "images" / "default")  # CVAT's "default" subset
    seen: set[Path] = set()
    unique = []
    for f in folders:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return unique


def find_images(dataset: CocoDataset) -> list[Path | None]:
    """Locate each image of ``dataset`` on disk; None where it cannot be found.

    The folder that held the previous image is tried first, so that a large dataset costs
    about one ``stat`` per image.
    """
    if dataset.path is None:
        return [None] * len(dataset.images)
    folders = candidate_folders(dataset.path)
    existing = [f for f in folders if f.is_dir()]
    found: list[Path | None] = []
    last: Path | None = None
    for image in dataset.images:
        name = image.file_name.replace("\\", "/")
        if not name:
            found.append(None)
            continue
        hit = None
        if os.path.isabs(name):
            if os.path.isfile(name):
                hit = Path(name)
            name = Path(name).name
        if hit is None:
            rel = name.lstrip("/")
            base = Path(rel).name
            order = ([last] if last is not None else []) + existing
            for folder in order:
                for candidate in (folder / rel, folder / base) if base != rel else (folder / rel,):
                    if candidate.is_file():
                        hit = candidate
                        last = folder
                        break
                if hit is not None:
                    break
        found.append(hit)
    return found


def image_info(path: Path) -> tuple[tuple[int, int], int, np.dtype]:
    """``((height, width), channels, dtype)`` of an image file, from its header when possible."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            w, h = im.size
            mode = im.mode
        channels = {"L": 1, "1": 1, "P": 3, "RGB": 3, "RGBA": 4, "LA": 2, "CMYK": 3, "YCbCr": 3}
        if mode in channels:
            dtype = np.dtype(bool) if mode == "1" else np.dtype(np.uint8)
            return (h, w), channels[mode], (np.dtype(np.uint8) if mode == "1" else dtype)
    except Exception:  # fall back to decoding the pixels
        pass
    arr = read_image(path)
    channels = arr.shape[2] if arr.ndim == 3 else 1
    return arr.shape[:2], channels, arr.dtype


def read_image(path: Path) -> np.ndarray:
    """Read an image file as (H, W) or (H, W, C); palette images become RGB."""
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        arr = tifffile.imread(path)
    else:
        from PIL import Image

        with Image.open(path) as im:
            if im.mode in ("P", "CMYK", "YCbCr"):
                im = im.convert("RGB")
            elif im.mode == "1":
                im = im.convert("L")
            arr = np.asarray(im)
    arr = np.squeeze(arr) if arr.ndim > 3 else arr
    return arr


def _fit(arr: np.ndarray, shape: tuple[int, int], channels: int, dtype: np.dtype) -> np.ndarray:
    """Pad (bottom/right) or crop ``arr`` to ``shape`` and convert it to ``channels`` and dtype."""
    if arr.ndim == 2 and channels > 1:
        arr = np.repeat(arr[:, :, None], channels, axis=2)
    elif arr.ndim == 3 and channels == 1:
        arr = arr[:, :, 0]
    elif arr.ndim == 3 and arr.shape[2] != channels:
        if arr.shape[2] < channels:
            pad = np.full(arr.shape[:2] + (channels - arr.shape[2],), np.iinfo(np.uint8).max
                          if arr.dtype == np.uint8 else 0, dtype=arr.dtype)
            arr = np.concatenate([arr, pad], axis=2)
        else:
            arr = arr[:, :, :channels]
    out = np.zeros(shape + ((channels,) if channels > 1 else ()), dtype=dtype)
    h = min(shape[0], arr.shape[0])
    w = min(shape[1], arr.shape[1])
    out[:h, :w] = arr[:h, :w]
    return out


def stack_images(
    paths: list[Path | None],
    shape: tuple[int, int],
    *,
    lazy: bool,
) -> tuple[object, bool] | None:
    """Stack image files into ``(N, H, W[, C])``, padded bottom/right, missing ones black.

    Parameters
    ----------
    paths : list of Path or None
        One entry per image, None for a missing file.
    shape : (int, int)
        ``(H, W)`` of the padded stack.
    lazy : bool
        Return a dask array that reads each image when it is shown.

    Returns
    -------
    (data, rgb) or None
        None when no image file exists.
    """
    present = [p for p in paths if p is not None]
    if not present:
        return None
    infos = {p: image_info(p) for p in present} if not lazy else {present[0]: image_info(present[0])}
    if lazy:
        # Reading every header of a huge dataset is too slow: sample a few.
        for p in present[1 :: max(1, len(present) // 8)]:
            infos[p] = image_info(p)
    channels = max(c for _, c, _ in infos.values())
    channels = 3 if channels == 2 else channels
    dtype = np.result_type(*[d for _, _, d in infos.values()])
    rgb = channels in (3, 4)
    if not lazy:
        planes = [
            _fit(read_image(p), shape, channels, dtype)
            if p is not None
            else np.zeros(shape + ((channels,) if channels > 1 else ()), dtype=dtype)
            for p in paths
        ]
        return np.stack(planes), rgb

    import dask
    import dask.array as da

    plane_shape = shape + ((channels,) if channels > 1 else ())

    def load(p: Path | None) -> np.ndarray:
        if p is None:
            return np.zeros(plane_shape, dtype=dtype)
        return _fit(read_image(p), shape, channels, dtype)

    planes = [
        da.from_delayed(dask.delayed(load)(p), shape=plane_shape, dtype=dtype) for p in paths
    ]
    return da.stack(planes), rgb
