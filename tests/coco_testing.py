"""Helpers shared by test modules (import them from here: ``conftest`` is a name that several
folders of tests have, so importing from it finds whichever one pytest loaded last)."""

from __future__ import annotations

import numpy as np


def per_image_labels(dataset, i: int) -> np.ndarray:
    """``rasterize_image(dataset, i)`` (file positions + 1, checked against pycocotools in
    tests/coco/test_raster.py) relabelled with per-image values: the image's ``k``-th
    drawable annotation is ``k + 1``, as the reader's Labels layer shows it."""
    from napari_coco_masks.coco import rasterize_image

    glob = rasterize_image(dataset, i)
    out = np.zeros_like(glob)
    for k, a in enumerate(dataset.image_annotations(i)):
        out[glob == a.position + 1] = k + 1
    return out
