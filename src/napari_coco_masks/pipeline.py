"""The headless pipeline: segment images, split touching objects, measure, write COCO.

Pure Python on numpy and dask (no napari, no Qt), for scripts that want the results in memory.
:class:`PipelineOptions` is a fixed threshold -> split -> measure recipe
(:meth:`PipelineOptions.to_recipe`); its steps run through :mod:`napari_coco_masks.recipes`, so
the result equals a batch run of that recipe (``napari-coco-masks segment`` is one). Many images
are processed in parallel with :mod:`dask` threads, one task per image.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PipelineOptions:
    """Options of :func:`segment_image`, one per pipeline step.

    Attributes
    ----------
    method : str
        Threshold method of :func:`napari_coco_masks.segment.threshold` (``"otsu"``, ...).
    dark_objects : bool
        Objects darker than the background.
    sigma : float
        Gaussian pre-smoothing in physical units.
    min_size : float
        Remove objects smaller than this area in physical units.
    fill_holes : bool
        Fill holes in the objects.
    block_size : int, optional
        Window size in pixels of the local methods (``local_gaussian``, ...).
    clear_border : bool
        Drop objects that touch the image border.
    split : bool
        Split touching objects with a distance-transform watershed.
    min_distance : float
        Minimum distance between the centres of split objects, in physical units.
    spacing : tuple of float, optional
        Pixel size per axis; None means 1 (pixel units).
    units : str, optional
        Name of the physical unit of ``spacing`` (e.g. ``"µm"``).
    category : str
        Category name of every object in the COCO output.
    """

    method: str = "otsu"
    dark_objects: bool = False
    sigma: float = 1.0
    min_size: float = 0.0
    fill_holes: bool = True
    block_size: int | None = None
    clear_border: bool = False
    split: bool = True
    min_distance: float = 5.0
    spacing: tuple[float, ...] | None = None
    units: str | None = None
    category: str = "object"

    def to_recipe(self):
        """These options as a :class:`~napari_coco_masks.recipes.Recipe` (threshold, split, measure)."""
        from .recipes import Recipe

        steps: list[tuple[str, dict[str, Any]]] = [("threshold", {
            "method": self.method, "dark_objects": self.dark_objects, "sigma": self.sigma,
            "fill_holes": self.fill_holes, "min_size": self.min_size,
            "block_size": self.block_size, "clear_border": self.clear_border,
        })]  # fmt: skip
        if self.split:
            steps.append(("split_touching", {"min_distance": self.min_distance}))
        steps.append(("measure", {}))
        return Recipe.from_steps(steps, category=self.category, units=self.units,
                                 spacing=self.spacing)


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` produced: a COCO dataset and one measurement table."""

    dataset: dict[str, Any]
    measurements: pd.DataFrame
    labels: list[np.ndarray] = field(default_factory=list)


def read_gray(path: str | Path) -> np.ndarray:
    """Read an image file as a 2D array; RGB(A) becomes the widgets' luminance.

    The luminance is :func:`napari_coco_masks.segment.luminance` (Rec. 709 weights, in the
    image's own value range: a uint8 photo gives values in [0, 255]), as the Threshold widget
    computes it, so a threshold value means the same here and there. Alpha is dropped.

    Raises
    ------
    ImageReadError
        When the file cannot be read (see :func:`.coco.images.read_image`: our pixel limit,
        corrupt or truncated files, unknown formats).
    """
    from .coco.images import read_image
    from .segment import luminance

    image = read_image(Path(path))
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        image = luminance(image)
    if image.ndim != 2:
        raise ValueError(f"{path}: expected a 2D grey or RGB image, got shape {image.shape}")
    return image


def _state(image: np.ndarray, options: PipelineOptions):
    """The recipe state after running ``options``' steps on a grey ``image``."""
    from .recipes import apply_recipe

    return apply_recipe(options.to_recipe(), image, spacing=options.spacing, units=options.units)


def segment_image(image: np.ndarray, options: PipelineOptions) -> np.ndarray:
    """Threshold ``image`` and optionally split touching objects; return an int32 label image."""
    return np.asarray(_state(image, options).labels, dtype=np.int32)


def run_pipeline(
    images: Sequence[str | Path],
    options: PipelineOptions | None = None,
    *,
    keep_labels: bool = False,
    root: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PipelineResult:
    """Segment and measure every image file; return one COCO dataset and one table.

    Parameters
    ----------
    images : sequence of path
        Image files. Each becomes one COCO image record, in this order.
    options : PipelineOptions, optional
        Pipeline options; defaults when omitted.
    keep_labels : bool
        Keep every label image in the result (memory grows with the number of images).
    root : path, optional
        Folder the COCO file will be written to: ``file_name`` is then each image's path
        relative to it, so the reader finds the images. Default: the bare file name.
    progress : callable, optional
        Called as ``progress(done, total)`` after each image.

    Returns
    -------
    PipelineResult
    """
    import dask

    from .coco.write import dataset_from_labels

    options = options or PipelineOptions()
    paths = [Path(p) for p in images]
    if not paths:
        raise ValueError("no images given: pass one or more image files")

    def one(path: Path) -> tuple[np.ndarray, pd.DataFrame]:
        state = _state(read_gray(path), options)
        table = state.table
        table.insert(0, "file_name", path.name)
        return np.asarray(state.labels, dtype=np.int32), table

    tasks = [dask.delayed(one)(p) for p in paths]
    results: list[tuple[np.ndarray, pd.DataFrame]] = []
    # Compute in chunks of a few images so progress can be reported and memory stays bounded.
    chunk = 8
    for start in range(0, len(tasks), chunk):
        results.extend(dask.compute(*tasks[start : start + chunk], scheduler="threads"))
        if progress is not None:
            progress(min(start + chunk, len(tasks)), len(tasks))

    label_images = [r[0] for r in results]
    shapes = {lab.shape for lab in label_images}
    names = [
        p.name if root is None else Path(os.path.relpath(p.resolve(), Path(root).resolve())).as_posix()
        for p in paths
    ]
    if len(shapes) == 1:
        dataset = dataset_from_labels(
            np.stack(label_images), image_names=names, categories=[options.category]
        )
    else:
        dataset = _merge_datasets(
            [
                dataset_from_labels(lab, image_names=[n], categories=[options.category])
                for lab, n in zip(label_images, names, strict=True)
            ]
        )
    tables = [r[1] for r in results]
    measurements = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if tables:
        measurements.attrs["units"] = {"file_name": "", **tables[0].attrs.get("units", {})}
    return PipelineResult(dataset, measurements, label_images if keep_labels else [])


def _merge_datasets(datasets: list[dict[str, Any]]) -> dict[str, Any]:
    """Join single-image datasets of one category set, renumbering image and annotation ids."""
    merged = {key: value for key, value in datasets[0].items() if key not in ("images", "annotations")}
    merged["images"], merged["annotations"] = [], []
    for image_id, ds in enumerate(datasets, start=1):
        (image,) = ds["images"]
        merged["images"].append({**image, "id": image_id})
        for ann in ds["annotations"]:
            merged["annotations"].append(
                {**ann, "id": len(merged["annotations"]) + 1, "image_id": image_id}
            )
    return merged
