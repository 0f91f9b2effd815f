"""The inputs of a batch: files, folders and globs of TIFF / PNG / JPEG; 2D or 3D; pixel sizes.

Workers call :func:`read_input` on a path (the client never holds the pixels). TIFF files are
read whole with :mod:`tifffile` (a Z stack is a volume) and OME-TIFF ``PhysicalSize*`` give the
pixel size; PNG and JPEG go through :func:`napari_coco_masks.coco.images.read_image`, with its
pixel limit and read errors.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SUFFIXES", "InputImage", "convert_length", "expand_inputs", "read_input"]

#: File name suffixes a folder or glob contributes (case-insensitive).
SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")

#: The state folder and the overlay folder of a run's results (see :mod:`.batch`).
RUN_STATE, RUN_OVERLAYS = ".napari-coco-masks", "overlays"

#: Length units in metres, for converting an OME pixel size into the recipe's unit.
_METRES = {"m": 1.0, "mm": 1e-3, "µm": 1e-6, "um": 1e-6, "μm": 1e-6, "micron": 1e-6,
           "nm": 1e-9, "pm": 1e-12, "cm": 1e-2, "Å": 1e-10}  # fmt: skip


class InputError(ValueError):
    """An input that names no image (a missing file, an empty folder or glob)."""


@dataclass
class InputImage:
    """One image as a worker read it: pixels, RGB or not, pixel size and its unit if known."""

    data: np.ndarray
    rgb: bool
    spacing: tuple[float, ...] | None = None
    units: str | None = None

    @property
    def spatial_ndim(self) -> int:
        return self.data.ndim - self.rgb


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def _images_in(folder: Path, skip: set[Path]) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        in_a_run = RUN_STATE in dirs  # a run's overlays are never inputs
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and Path(root, d).resolve() not in skip
                         and not (in_a_run and d == RUN_OVERLAYS))
        found += [Path(root, f) for f in sorted(files)
                  if f.lower().endswith(SUFFIXES) and not f.startswith(".")]
    return found


def expand_inputs(inputs: Iterable[str | os.PathLike], *,
                  skip: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """The image files named by ``inputs`` (files, folders searched recursively, globs), in order.

    Folders and globs contribute files ending in :data:`SUFFIXES`; a file named directly is
    taken whatever its suffix. Folders in ``skip`` (the output folder and its overlays) are not
    searched. Duplicates (the same file twice) are kept once.

    Raises
    ------
    InputError
        Naming the input: a file that does not exist, a folder or glob with no image.
    """
    skip_dirs = {Path(p).resolve() for p in skip}
    paths: list[Path] = []
    for item in inputs:
        text = os.fspath(item)
        if _is_glob(text) and not Path(text).exists():
            found = [Path(p) for p in sorted(glob.glob(text, recursive=True))]
            found = [p for p in found if p.is_file() and p.suffix.lower() in SUFFIXES]
            if not found:
                raise InputError(f"{text}: no TIFF, PNG or JPEG file matches this pattern")
        elif Path(text).is_dir():
            found = _images_in(Path(text), skip_dirs)
            if not found:
                raise InputError(f"{text}: the folder holds no TIFF, PNG or JPEG file")
        else:
            try:
                mode = os.stat(text).st_mode
            except OSError as exc:
                raise InputError(f"{text}: cannot read this input ({exc.strerror or exc}); "
                                 "give image files, folders or glob patterns") from None
            if not stat.S_ISREG(mode):
                raise InputError(f"{text}: not a regular file (a FIFO or device cannot be read)")
            found = [Path(text)]
        paths += found
    seen: set[Path] = set()
    unique = []
    for path in paths:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def convert_length(value: float, unit: str | None, to: str | None) -> float | None:
    """``value`` in ``unit`` expressed in ``to``; None when either is not a known length unit."""
    if unit is None or to is None:
        return None
    if unit == to:
        return value
    a, b = _METRES.get(unit), _METRES.get(to)
    return None if a is None or b is None else value * a / b


def _ome_spacing(tif, ndim: int) -> tuple[tuple[float, ...] | None, str | None]:
    """``(spacing, unit)`` from an OME-TIFF's ``Pixels`` element (None when absent)."""
    import xml.etree.ElementTree as ET

    text = tif.ome_metadata
    if not text:
        return None, None
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None, None
    pixels = next((e for e in root.iter() if e.tag.endswith("Pixels")), None)
    if pixels is None:
        return None, None
    axes = ("Z", "Y", "X")[3 - ndim:]
    values, units = [], []
    for axis in axes:
        size = pixels.get(f"PhysicalSize{axis}")
        if size is None:
            return None, None
        values.append(float(size))
        units.append(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
    unit = units[-1]
    converted = [convert_length(v, u, unit) for v, u in zip(values, units, strict=True)]
    if any(v is None or v <= 0 for v in converted):
        return None, None
    return tuple(float(v) for v in converted), unit


def _read_tiff(path: Path) -> InputImage:
    import tifffile

    from ..coco.images import image_info

    image_info(path)  # the pixel limit and a clear error for a file that is not a TIFF
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes = series.axes
        data = series.asarray()
        if "S" in axes and not axes.endswith("S") and data.shape[axes.index("S")] in (3, 4):
            data = np.moveaxis(data, axes.index("S"), -1)  # planar RGB: channels last
            axes = axes.replace("S", "") + "S"
        rgb = axes.endswith("S") and data.shape[-1] in (3, 4)
        keep = [i for i, n in enumerate(data.shape) if n != 1 or i >= data.ndim - 2 - rgb]
        data = data.reshape([data.shape[i] for i in keep])
        axes = "".join(axes[i] for i in keep)
        if not rgb and data.ndim == 3 and data.shape[-1] in (3, 4) and tif.pages[0].photometric == 2:
            rgb = True
        spatial = data.ndim - rgb
        spacing, unit = _ome_spacing(tif, spatial) if spatial in (2, 3) else (None, None)
    _check_dims(path, data, rgb, axes)
    return InputImage(data, rgb, spacing, unit)


def _check_dims(path: Path, data: np.ndarray, rgb: bool, axes: str = "") -> None:
    spatial = data.ndim - rgb
    if spatial not in (2, 3):
        shown = f"shape {data.shape}" + (f", axes {axes}" if axes else "")
        raise ValueError(
            f"{path}: expected a 2D or 3D image (grey or RGB), got {spatial}D ({shown}); split "
            "it into 2D or 3D files first"
        )


def read_input(path: str | os.PathLike) -> InputImage:
    """Read one input image; see the module docstring.

    Raises
    ------
    ImageReadError
        Unreadable, truncated or unknown files (the message names the file and the reason).
    ValueError
        An image that is not 2D or 3D (naming the file and its shape).
    """
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        try:
            return _read_tiff(path)
        except (ValueError, MemoryError):
            raise
        except Exception as exc:  # tifffile raises its own types on truncated files
            from ..coco.errors import ImageReadError

            raise ImageReadError(f"this image could not be read: {path}: "
                                 f"{type(exc).__name__}: {exc}") from None
    from ..coco.images import read_image

    data = read_image(path)
    rgb = data.ndim == 3 and data.shape[-1] in (3, 4)
    _check_dims(path, data, rgb)
    return InputImage(data, rgb)


def resolve_spacing(
    image: InputImage,
    *,
    override: Sequence[float] | None,
    recipe_spacing: Sequence[float] | None,
    recipe_units: str | None,
) -> tuple[tuple[float, ...], str | None]:
    """The pixel size of ``image`` in the recipe's units, and the unit for the table headers.

    Order: ``override`` (``--spacing``, in the recipe's units), the file's own pixel size
    (OME-TIFF, converted to the recipe's units when both are lengths), the recipe's
    ``spacing``, else 1. One value stands for every axis.
    """
    ndim = image.spatial_ndim

    def fit(values: Sequence[float], what: str) -> tuple[float, ...]:
        values = tuple(float(v) for v in values)
        if len(values) == 1:
            values = values * ndim
        if len(values) != ndim:
            raise ValueError(f"{what} has {len(values)} values for a {ndim}D image: give one "
                             f"or {ndim}")
        return values

    if override is not None:
        return fit(override, "--spacing"), recipe_units
    if image.spacing is not None:
        if recipe_units is None:
            return fit(image.spacing, "the file's pixel size"), image.units
        converted = [convert_length(v, image.units, recipe_units) for v in image.spacing]
        if all(v is not None for v in converted):
            return fit(converted, "the file's pixel size"), recipe_units
    if recipe_spacing is not None:
        return fit(recipe_spacing, "the recipe's `spacing`"), recipe_units
    return (1.0,) * ndim, recipe_units
