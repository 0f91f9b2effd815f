"""Benchmarks of the COCO writer, each printed as a ratio against a reference timed in the same run.

1. Labels -> COCO, 1,000 instances on 2048x2048 (goal: >= 100x faster than masking each label
   over the whole image): :func:`napari_coco_masks.coco.encode.encode_labels` (each object in
   its ``find_objects`` window) against the naive loop ``mask = labels == v`` + encoding the
   full-image mask (pycocotools ``mask.encode`` for RLE; the same polygon encoder on the
   full mask for "auto"). The naive loop is timed on a sample of labels, per label.
2. Saving a 20,000-annotation (~100 MB) dataset read from COCO, unedited, through the session
   the reader gives every layer (:meth:`CocoSession.save`, the napari writer's path; goal:
   <= 2x stdlib ``json.dump`` of the same content), and after painting one image.

Run: ``.venv/bin/python benchmarks/bench_writer.py [--quick]``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from skimage import draw

from napari_coco_masks.coco.encode import encode_labels, encode_mask
from napari_coco_masks.coco.model import load_coco
from napari_coco_masks.coco.session import CocoSession


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _instances(size: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), np.int32)
    for value in range(1, n + 1):
        r, c = rng.integers(30, size - 30, 2)
        radius = int(rng.integers(5, 30))
        rr, cc = draw.ellipse(
            r, c, radius, radius * rng.uniform(0.5, 1.5), shape=labels.shape,
            rotation=rng.uniform(0, np.pi),
        )
        labels[rr, cc] = value
    return labels


def bench_encode(quick: bool) -> list[dict]:
    """Windowed encoding against per-label full-image masking, per label."""
    size, n, sample = (512, 100, 3) if quick else (2048, 1000, 20)
    labels = _instances(size, n)
    values = [int(v) for v in np.unique(labels) if v][:: max(1, n // sample)][:sample]
    rows = []
    for mode in ("rle", "auto"):
        fast = _best(lambda m=mode: encode_labels(labels, mode=m), 1 if quick else 3)
        count = len(encode_labels(labels, mode="rle"))

        def naive(m=mode):
            for v in values:
                full = labels == v
                if m == "rle":
                    rle = mask_utils.encode(np.asfortranarray(full.astype(np.uint8)))
                    mask_utils.area(rle), mask_utils.toBbox(rle)
                else:
                    encode_mask(full, mode=m)

        slow = _best(naive, 1)
        per_fast, per_slow = fast / count, slow / len(values)
        rows.append({
            "name": f"labels->COCO {n} instances {size}x{size} mode={mode}: ours / naive",
            "ratio": per_fast / per_slow,
            "target": "<= 0.01 (>= 100x faster than masking each label over the image)",
            "ours_ms_per_label": per_fast * 1e3,
            "reference_ms_per_label": per_slow * 1e3,
            "reference": "labels == v over the full image, then encode",
            "speedup": per_slow / per_fast,
        })
    return rows


def _big_dataset(n_images: int, per_image: int, vertices: int, seed: int = 1) -> dict:
    """A COCO dataset of polygons with 2-decimal coordinates, like real exports."""
    rng = np.random.default_rng(seed)
    h, w = 480, 640
    images = [{"id": i + 1, "file_name": f"{i:06d}.jpg", "height": h, "width": w}
              for i in range(n_images)]
    categories = [{"id": c, "name": f"class{c}", "supercategory": "thing"} for c in range(1, 11)]
    annotations = []
    t = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    for i in range(n_images):
        for _ in range(per_image):
            cx, cy = rng.uniform(60, w - 60), rng.uniform(60, h - 60)
            r = rng.uniform(10, 50) * (1 + 0.15 * rng.standard_normal(vertices))
            xy = np.round(np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)]), 2)
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": i + 1,
                "category_id": int(rng.integers(1, 11)),
                "segmentation": [xy.ravel().tolist()],
                "area": float(np.round(np.pi * r.mean() ** 2, 2)),
                "bbox": [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])],
                "iscrowd": 0,
            })
    return {"info": {"description": "benchmark"}, "licenses": [], "images": images,
            "categories": categories, "annotations": annotations}


def bench_save(quick: bool) -> list[dict]:
    """Saving an unedited dataset read from COCO against stdlib json.dump of the same dict."""
    n_images, per_image, vertices = (20, 50, 100) if quick else (500, 40, 300)
    dataset = _big_dataset(n_images, per_image, vertices)
    with tempfile.TemporaryDirectory() as tmp:
        src_path = Path(tmp) / "src.json"
        ref_path = Path(tmp) / "ref.json"
        out_path = Path(tmp) / "out.json"
        with open(src_path, "w", encoding="utf-8") as fh:
            json.dump(dataset, fh)
        session = CocoSession(load_coco(src_path))

        def reference():
            with open(ref_path, "w", encoding="utf-8") as fh:
                json.dump(dataset, fh)

        def ours():
            session.save(out_path)

        repeat = 1 if quick else 2
        t_ref = _best(reference, repeat)
        t_ours = _best(ours, repeat)
        size_mb = os.path.getsize(out_path) / 1e6
        same = out_path.read_bytes() == src_path.read_bytes()
        session.planes[0, 5, 5] = 1  # one edited plane: that image is re-rasterised and compared
        t_edit = _best(ours, 1)
    return [{
        "name": f"save unedited {len(dataset['annotations'])} annotations ({size_mb:.0f} MB)"
        " / json.dump",
        "ratio": t_ours / t_ref,
        "target": "<= 2",
        "ours_s": t_ours,
        "reference_s": t_ref,
        "reference": "stdlib json.dump of the same dict",
        "identical": same,  # byte-identical to the file it was read from
        "one_plane_edited_s": t_edit,
    }]


def main(quick: bool = False) -> list[dict]:
    """Run every writer benchmark; print and return one dict per measurement."""
    rows = bench_encode(quick) + bench_save(quick)
    for row in rows:
        print(" | ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in row.items()))
    return rows


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
