"""Find and load the images a COCO file refers to, inside its dataset folder; never from the web.

``file_name`` is resolved the way real exports lay their files out (COCO-NOTES "Dialects"):

- beside the JSON (Roboflow: one ``_annotations.coco.json`` per split folder with its images);
- in an ``images/`` folder beside the JSON or beside its folder (CVAT ``annotations/`` +
  ``images/``), ``file_name`` possibly carrying a subfolder (``val/000016.jpg``);
- in a split folder named after the JSON (``instances_val.json`` -> ``images/val/``,
  ``instances_val2017.json`` -> ``val2017/``);
- a ``file_name`` whose subfolders do not exist (an absolute path, labelme2coco) by its base name.

Every file found must lie inside the *dataset folder* (the folder holding the JSON's folder):
a ``file_name`` that escapes it (``..``, an absolute path elsewhere, a symlink pointing out)
is refused with a warning, unless the caller passes an explicit ``image_root``. URLs
(``coco_url``, ``flickr_url``, or a ``file_name`` that is one) are never opened.

Images are read with a pixel limit of our own (:data:`MAX_IMAGE_PIXELS`, checked from the
header before decoding); every read failure is an :class:`~.errors.ImageReadError`.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ImageReadError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "ImageReadError",
    "candidate_folders",
    "dataset_root",
    "find_images",
    "image_info",
    "read_image",
    "resolve_image",
    "stack_images",
]

#: Most pixels (height x width) an image file may have; larger ones are refused unread.
#: Below PIL's own decompression-bomb error (2 x 89.5 Mpx), so this limit is the one that applies.
MAX_IMAGE_PIXELS = 1 << 27

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


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


def dataset_root(json_path: str | os.PathLike) -> Path:
    """The folder that image files of a COCO file must lie in: the one holding its folder."""
    return Path(json_path).resolve().parent.parent


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, symlinks followed, lies inside ``root`` (already resolved)."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError, ValueError):
        return False


def _names(file_name: str) -> tuple[str, str, bool]:
    """``(relative name, base name, absolute?)`` of a ``file_name`` (backslashes as slashes)."""
    name = file_name.replace("\\", "/")
    absolute = name.startswith("/") or bool(re.match(r"^[A-Za-z]:/", name))
    rel = re.sub(r"^([A-Za-z]:)?/+", "", name)
    return rel, rel.rsplit("/", 1)[-1], absolute


def _usable(candidate: Path, root: Path | None, dirs: dict[Path, bool]) -> bool | None:
    """Whether ``candidate`` is a file inside ``root``: True, False (outside) or None (no file).

    A regular file (not a symlink) is inside when its folder is; folders are resolved once
    and cached in ``dirs``, so a large dataset costs about one ``lstat`` per image.
    """
    try:
        mode = os.lstat(candidate).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode):
        if root is None:
            return True
        parent = candidate.parent
        if parent not in dirs:
            dirs[parent] = _inside(parent, root)
        return dirs[parent]
    if not stat.S_ISLNK(mode) or not candidate.is_file():
        return None
    return root is None or _inside(candidate, root)


def _resolve(
    file_name: Any, folders: Sequence[Path], root: Path | None, state: dict
) -> tuple[Path | None, str | None]:
    """``(path, refusal)``: the file ``file_name`` names, or why one was refused.

    ``state`` carries the folder of the last hit (tried first) and the folder cache between
    calls.
    """
    if not isinstance(file_name, str) or not file_name or "\x00" in file_name:
        return None, None
    if _URL.match(file_name):
        return None, "a URL (never fetched)"
    rel, base, absolute = _names(file_name)
    refused = None
    dirs = state.setdefault("dirs", {})
    if absolute:
        inside = _usable(Path(file_name), root, dirs)
        if inside:
            return Path(file_name), None
        if inside is False:
            refused = "outside the dataset folder"
    last = state.setdefault("last", [])
    tries = (rel, base) if base != rel else (rel,)
    for folder in last + [f for f in folders if f not in last]:
        for name in tries:
            candidate = folder / name
            inside = _usable(candidate, root, dirs)
            if inside is None:
                continue
            if not inside:
                refused = "outside the dataset folder (through '..' or a symlink)"
                continue
            state["last"] = [folder]
            return candidate, None
    return None, refused


def _folders(json_path: str | os.PathLike, image_root: str | os.PathLike | None) -> list[Path]:
    """Existing folders to look in: ``image_root`` alone, or :func:`candidate_folders`."""
    if image_root is not None:
        return [Path(image_root)]
    return [f for f in candidate_folders(json_path) if f.is_dir()]


def _warn_refused(refused: list[tuple[str, str]], json_path: Any) -> None:
    if not refused:
        return
    shown = ", ".join(f"{name!r} ({why})" for name, why in refused[:10])
    more = f" and {len(refused) - 10} more" if len(refused) > 10 else ""
    warnings.warn(
        f"{json_path}: {len(refused)} image file(s) not opened: {shown}{more}. Images are read "
        "only from inside the dataset folder; pass an explicit image root to read them elsewhere.",
        UserWarning,
        stacklevel=3,
    )


def resolve_image(
    json_path: str | os.PathLike,
    file_name: Any,
    *,
    image_root: str | os.PathLike | None = None,
) -> Path | None:
    """The image file a COCO ``file_name`` names, or None (with a warning if it was refused).

    Parameters
    ----------
    json_path : str or PathLike
        The COCO file; images are looked for around it (see :func:`candidate_folders`) and must
        lie inside :func:`dataset_root`.
    file_name : str
        The image record's ``file_name``.
    image_root : str or PathLike, optional
        An explicit folder that ``file_name`` is relative to; absolute names and names that
        leave it are then taken as they are.

    Returns
    -------
    Path or None
        None for a missing file, a URL, or a file outside the dataset folder.
    """
    root = None if image_root is not None else dataset_root(json_path)
    path, why = _resolve(file_name, _folders(json_path, image_root), root, {})
    if why is not None:
        _warn_refused([(str(file_name), why)], json_path)
    return path


def find_images(dataset: Any, *, image_root: str | os.PathLike | None = None) -> list[Path | None]:
    """Locate each image of ``dataset`` on disk (:func:`resolve_image`); None where not found.

    The folder that held the previous image is tried first, so that a large dataset costs
    about one ``stat`` per image. Files refused (outside the dataset folder, URLs) give one
    warning naming them.
    """
    if dataset.path is None and image_root is None:
        return [None] * len(dataset.images)
    json_path = dataset.path if dataset.path is not None else Path(image_root) / "_.json"
    folders = _folders(json_path, image_root)
    root = None if image_root is not None else dataset_root(json_path)
    state: dict = {}
    found: list[Path | None] = []
    refused: list[tuple[str, str]] = []
    for image in dataset.images:
        path, why = _resolve(image.file_name, folders, root, state)
        if why is not None:
            refused.append((str(image.file_name), why))
        found.append(path)
    _warn_refused(refused, dataset.path)
    return found


_CHANNELS = {"L": 1, "1": 1, "P": 3, "RGB": 3, "RGBA": 4, "LA": 2, "CMYK": 3, "YCbCr": 3}


def _unreadable(path: Path, reason: Any) -> ImageReadError:
    return ImageReadError(
        f"this image could not be read: {path}: {reason}; the annotations still open"
    )


def _check_pixels(path: Path, shape: Sequence[int]) -> None:
    h, w = (int(v) for v in shape[:2])
    if h * w > MAX_IMAGE_PIXELS or h <= 0 or w <= 0:
        raise _unreadable(
            path, f"{h} x {w} pixels is outside the limit of {MAX_IMAGE_PIXELS:,} pixels"
        )


def _tiff_info(path: Path) -> tuple[tuple[int, int], int, np.dtype]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        shape, dtype = tuple(int(v) for v in series.shape), np.dtype(series.dtype)
    if int(np.prod(shape, dtype=object)) > 4 * MAX_IMAGE_PIXELS:
        raise _unreadable(path, f"{shape} values are more than the limit of {MAX_IMAGE_PIXELS:,} pixels")
    dims = [v for v in shape if v != 1] or [1, 1]
    if len(dims) == 1:
        dims = [1, dims[0]]
    if len(dims) >= 3 and dims[-1] <= 4:
        return (dims[-3], dims[-2]), dims[-1], dtype
    return (dims[-2], dims[-1]), 1, dtype


def _pil_info(path: Path) -> tuple[tuple[int, int], int, np.dtype]:
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
        mode = im.mode
    if mode in _CHANNELS:
        return (h, w), _CHANNELS[mode], np.dtype(np.uint8)
    if mode in ("I;16", "I;16B", "I;16L"):
        return (h, w), 1, np.dtype(np.uint16)
    if mode in ("I", "F"):
        return (h, w), 1, np.dtype(np.int32 if mode == "I" else np.float32)
    return (h, w), 3, np.dtype(np.uint8)


def image_info(path: Path) -> tuple[tuple[int, int], int, np.dtype]:
    """``((height, width), channels, dtype)`` of an image file, from its header.

    Raises
    ------
    ImageReadError
        If the file cannot be read or is over :data:`MAX_IMAGE_PIXELS`.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            info = _tiff_info(path)
        else:
            info = _pil_info(path)
    except ImageReadError:
        raise
    except Exception as exc:  # PIL, tifffile and OSError all have their own types
        raise _unreadable(path, _reason(exc)) from None
    _check_pixels(path, info[0])
    return info


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "DecompressionBombError":
        return f"more than the limit of {MAX_IMAGE_PIXELS:,} pixels"
    return f"{name}: {exc}" if str(exc) else name


def _decode(path: Path) -> np.ndarray:
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return np.asarray(tifffile.imread(path))
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            if im.mode == "1":
                im = im.convert("L")
            elif im.mode in ("PA", "LA"):
                im = im.convert("RGBA")
            elif im.mode not in ("L", "RGB", "RGBA", "I;16", "I", "F"):
                im = im.convert("RGB")
            return np.asarray(im)


def _as_2d_image(arr: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C<=4) from what a decoder returned: leading planes -> the first one."""
    arr = np.squeeze(arr) if arr.ndim > 2 else arr
    while arr.ndim > 3 or (arr.ndim == 3 and arr.shape[-1] > 4):
        arr = arr[0]
    return arr


def read_image(path: Path) -> np.ndarray:
    """Read an image file as (H, W) or (H, W, C); palette images become RGB.

    The header is checked against :data:`MAX_IMAGE_PIXELS` before any pixel is decoded.

    Raises
    ------
    ImageReadError
        "this image could not be read: <file>: <reason>; the annotations still open", for
        unknown formats, corrupt or truncated files, read errors and images over the limit.
    """
    path = Path(path)
    image_info(path)
    try:
        arr = _decode(path)
    except Exception as exc:
        raise _unreadable(path, _reason(exc)) from None
    arr = _as_2d_image(arr)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise _unreadable(path, f"an array of shape {arr.shape} is not a 2D image")
    _check_pixels(path, arr.shape)
    return arr


def _fit(arr: np.ndarray, shape: tuple[int, int], channels: int, dtype: np.dtype) -> np.ndarray:
    """Pad (bottom/right) or crop ``arr`` to ``shape`` and convert it to ``channels`` and dtype."""
    arr = arr[: shape[0], : shape[1]]
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


def _warn_unreadable(errors: list[ImageReadError]) -> None:
    """One warning naming every image that could not be read."""
    if not errors:
        return
    shown = "; ".join(str(e) for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    warnings.warn(
        f"{len(errors)} image(s) could not be read and are shown blank: {shown}{more}",
        UserWarning,
        stacklevel=3,
    )


def _infos(paths: list[Path], errors: list[ImageReadError]) -> dict[Path, tuple]:
    """:func:`image_info` of each path that can be read; the others' errors into ``errors``."""
    infos = {}
    for p in paths:
        try:
            infos[p] = image_info(p)
        except ImageReadError as exc:
            errors.append(exc)
    return infos


def stack_images(
    paths: list[Path | None],
    shape: tuple[int, int],
    *,
    lazy: bool,
) -> tuple[object, bool] | None:
    """Stack image files into ``(N, H, W[, C])``, padded bottom/right, missing ones black.

    Images that cannot be read (:class:`~.errors.ImageReadError`) are blank planes, named in
    one ``UserWarning`` (when the stack is lazy: when they are first shown).

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
        None when no image file exists or none can be read.
    """
    present = list(dict.fromkeys(p for p in paths if p is not None))
    if not present:
        return None
    errors: list[ImageReadError] = []
    # Reading every header of a huge dataset is too slow: a lazy stack samples a few.
    sample = present if not lazy else present[:: max(1, len(present) // 8)]
    infos = _infos(sample, errors)
    if not infos and lazy and len(sample) < len(present):
        infos = _infos([p for p in present if p not in sample], errors)
    if not infos:
        _warn_unreadable(errors)
        return None
    channels = max(c for _, c, _ in infos.values())
    channels = 3 if channels == 2 else channels
    dtype = np.result_type(*[d for _, _, d in infos.values()])
    rgb = channels in (3, 4)
    plane_shape = tuple(shape) + ((channels,) if channels > 1 else ())
    if not lazy:
        planes = []
        for p in paths:
            plane = None
            if p is not None and p in infos:
                try:
                    plane = _fit(read_image(p), shape, channels, dtype)
                except ImageReadError as exc:
                    errors.append(exc)
            planes.append(plane if plane is not None else np.zeros(plane_shape, dtype=dtype))
        _warn_unreadable(errors)
        return np.stack(planes), rgb
    _warn_unreadable(errors)
    return _lazy_stack(paths, shape, plane_shape, channels, dtype), rgb


def _lazy_stack(paths, shape, plane_shape, channels, dtype):
    """A dask stack reading each image when shown; an unreadable one warns and is blank."""
    import dask
    import dask.array as da

    def load(p: Path | None) -> np.ndarray:
        if p is None:
            return np.zeros(plane_shape, dtype=dtype)
        try:
            return _fit(read_image(p), shape, channels, dtype)
        except ImageReadError as exc:
            _warn_unreadable([exc])
            return np.zeros(plane_shape, dtype=dtype)

    planes = [
        da.from_delayed(dask.delayed(load)(p), shape=plane_shape, dtype=dtype) for p in paths
    ]
    return da.stack(planes)
