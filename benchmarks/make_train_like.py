"""Generate a COCO instances file shaped like the official ``instances_train2017.json``.

Usage::

    python benchmarks/make_train_like.py -o train_like.json                # full size, ~470 MB
    python benchmarks/make_train_like.py --scale 0.01 -o train_1pct.json   # 1,183 images, 8,600 anns
    python benchmarks/make_train_like.py --images 200 --annotations 1500 -o small.json
    python benchmarks/make_train_like.py --images 80 --annotations 3000 --size 1024x1024 \\
        --crowd 0 -o roboflow_like.json                                    # 3,000 polygons, 80 images

Content follows the official file (COCO-NOTES "Scale facts"): the ``info`` and 8 ``licenses``
records, image records with ``license``, ``file_name`` ``000000xxxxxx.jpg``, ``coco_url``,
``height``/``width`` mostly 640 on the long side (480, 427, 426, 424, 360... on the short one, both
orientations), ``date_captured``, ``flickr_url`` and sparse 6-digit ids, in no particular order;
the 80 real categories with their supercategories (ids 1..90 with the real gaps), ``person``
dominating; annotations per image 1 + a gamma-Poisson (mean = annotations / images,
about 1 % of the images empty, at most ``--max-per-image``), spread over the file like the
official one (``--order by-image`` groups them); star-shaped polygons of 10-60 vertices (more
for larger objects) with 2-decimal coordinates inside their image, sometimes in several parts,
object sizes log-uniform (about 40 % "small"); shoelace ``area`` at full float precision and the
vertex-extent ``bbox``; about 1 % ``iscrowd=1`` annotations whose segmentation is a valid RLE
built by pycocotools (compressed counts string by default, ``--crowd-rle uncompressed`` for the
integer-list form the official file actually uses), with pycocotools' area and box; crowd ids
``9001xxxxxxxx`` as in the official file.

Written compactly (no spaces, like ``json.dump(..., separators=(",", ":"))``) in streamed chunks,
numbers formatted by lookup so that the full file takes well under 2 minutes. Deterministic for
a given ``--seed`` and size. No images are written unless ``--with-images N`` (the first N image
records as small JPEGs beside the JSON): the official annotation file without its images is the
realistic case.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

#: The official train2017 counts.
TRAIN_IMAGES = 118_287
TRAIN_ANNOTATIONS = 860_001

INFO = {
    "description": "COCO 2017 Dataset (synthetic, shaped like instances_train2017)",
    "url": "http://cocodataset.org",
    "version": "1.0",
    "year": 2017,
    "contributor": "COCO Consortium",
    "date_created": "2017/09/01",
}

LICENSES = [
    {"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1,
     "name": "Attribution-NonCommercial-ShareAlike License"},
    {"url": "http://creativecommons.org/licenses/by-nc/2.0/", "id": 2,
     "name": "Attribution-NonCommercial License"},
    {"url": "http://creativecommons.org/licenses/by-nc-nd/2.0/", "id": 3,
     "name": "Attribution-NonCommercial-NoDerivs License"},
    {"url": "http://creativecommons.org/licenses/by/2.0/", "id": 4, "name": "Attribution License"},
    {"url": "http://creativecommons.org/licenses/by-sa/2.0/", "id": 5,
     "name": "Attribution-ShareAlike License"},
    {"url": "http://creativecommons.org/licenses/by-nd/2.0/", "id": 6,
     "name": "Attribution-NoDerivs License"},
    {"url": "http://flickr.com/commons/usage/", "id": 7, "name": "No known copyright restrictions"},
    {"url": "http://www.usa.gov/copyright.shtml", "id": 8, "name": "United States Government Work"},
]

#: The 80 COCO categories: (id, name, supercategory).
CATEGORIES = [
    (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"),
    (4, "motorcycle", "vehicle"), (5, "airplane", "vehicle"), (6, "bus", "vehicle"),
    (7, "train", "vehicle"), (8, "truck", "vehicle"), (9, "boat", "vehicle"),
    (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"), (13, "stop sign", "outdoor"),
    (14, "parking meter", "outdoor"), (15, "bench", "outdoor"), (16, "bird", "animal"),
    (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"), (20, "sheep", "animal"),
    (21, "cow", "animal"), (22, "elephant", "animal"), (23, "bear", "animal"),
    (24, "zebra", "animal"), (25, "giraffe", "animal"), (27, "backpack", "accessory"),
    (28, "umbrella", "accessory"), (31, "handbag", "accessory"), (32, "tie", "accessory"),
    (33, "suitcase", "accessory"), (34, "frisbee", "sports"), (35, "skis", "sports"),
    (36, "snowboard", "sports"), (37, "sports ball", "sports"), (38, "kite", "sports"),
    (39, "baseball bat", "sports"), (40, "baseball glove", "sports"), (41, "skateboard", "sports"),
    (42, "surfboard", "sports"), (43, "tennis racket", "sports"), (44, "bottle", "kitchen"),
    (46, "wine glass", "kitchen"), (47, "cup", "kitchen"), (48, "fork", "kitchen"),
    (49, "knife", "kitchen"), (50, "spoon", "kitchen"), (51, "bowl", "kitchen"),
    (52, "banana", "food"), (53, "apple", "food"), (54, "sandwich", "food"),
    (55, "orange", "food"), (56, "broccoli", "food"), (57, "carrot", "food"),
    (58, "hot dog", "food"), (59, "pizza", "food"), (60, "donut", "food"), (61, "cake", "food"),
    (62, "chair", "furniture"), (63, "couch", "furniture"), (64, "potted plant", "furniture"),
    (65, "bed", "furniture"), (67, "dining table", "furniture"), (70, "toilet", "furniture"),
    (72, "tv", "electronic"), (73, "laptop", "electronic"), (74, "mouse", "electronic"),
    (75, "remote", "electronic"), (76, "keyboard", "electronic"), (77, "cell phone", "electronic"),
    (78, "microwave", "appliance"), (79, "oven", "appliance"), (80, "toaster", "appliance"),
    (81, "sink", "appliance"), (82, "refrigerator", "appliance"), (84, "book", "indoor"),
    (85, "clock", "indoor"), (86, "vase", "indoor"), (87, "scissors", "indoor"),
    (88, "teddy bear", "indoor"), (89, "hair drier", "indoor"), (90, "toothbrush", "indoor"),
]

#: Short sides of the official images (the long side is 640 for ~97 % of them), with weights.
SHORT_SIDES = [(480, 0.45), (427, 0.2), (426, 0.05), (425, 0.03), (424, 0.03), (428, 0.02),
               (360, 0.05), (640, 0.03), (512, 0.02), (383, 0.02)]

#: Annotations per write chunk (bounds the generator's memory, ~100 MB per chunk).
CHUNK = 40_000


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _image_sizes(rng: np.random.Generator, n: int, size: tuple[int, int] | None):
    """(heights, widths) like the official images, or all ``size``."""
    if size is not None:
        return np.full(n, size[0], np.int64), np.full(n, size[1], np.int64)
    sides, weights = zip(*SHORT_SIDES, strict=True)
    short = rng.choice(np.array(sides), size=n, p=np.array(weights) / sum(weights))
    odd = rng.random(n) < 0.1  # the rest: any short side
    short[odd] = rng.integers(240, 640, odd.sum())
    long = np.where(rng.random(n) < 0.97, 640, rng.integers(320, 641, n))
    short = np.minimum(short, long)
    landscape = rng.random(n) < 0.7
    return np.where(landscape, short, long), np.where(landscape, long, short)


def _counts_per_image(rng: np.random.Generator, images: int, annotations: int, cap: int):
    """Annotations per image summing to ``annotations``: 1 + gamma-Poisson, ~1 % empty, <= cap."""
    weights = rng.gamma(1.3, 1.0, images)
    weights[rng.random(images) < 0.0086] = 0.0
    if not weights.any():
        weights[:] = 1.0
    # One each for the non-empty images (the official file has ~0.9 % empty ones), the rest
    # gamma-Poisson: most images have a few annotations, some dozens.
    base = (weights > 0).astype(np.int64)
    if base.sum() > annotations:
        base[:] = 0
    counts = base + rng.multinomial(annotations - int(base.sum()), weights / weights.sum())
    cap = max(cap, -(-annotations // max(1, int((weights > 0).sum()))))
    while (counts > cap).any():  # hand the excess to random images with room
        excess = int((counts - cap).clip(0).sum())
        counts = counts.clip(max=cap)
        room = np.flatnonzero((counts < cap) & (weights > 0))
        if room.size == 0:
            room = np.flatnonzero(counts < cap)
        np.add.at(counts, rng.choice(room, excess), 1)
    return counts


def _image_records(rng: np.random.Generator, ids, heights, widths) -> list[str]:
    n = len(ids)
    lic = rng.integers(1, 9, n)
    day = rng.integers(0, 20, n)
    sec = rng.integers(0, 86400, n)
    farm = rng.integers(1, 10, n)
    server = rng.integers(1000, 9000, n)
    photo = rng.integers(10**9, 10**10, n)
    secret = rng.integers(0, 16**10, n)
    out = []
    for i in range(n):
        name = f"{ids[i]:012d}.jpg"
        s = int(sec[i])
        out.append(
            f'{{"license":{lic[i]},"file_name":"{name}",'
            f'"coco_url":"http://images.cocodataset.org/train2017/{name}",'
            f'"height":{heights[i]},"width":{widths[i]},'
            f'"date_captured":"2013-11-{10 + day[i]:02d} {s // 3600:02d}:{s // 60 % 60:02d}:'
            f'{s % 60:02d}","flickr_url":"http://farm{farm[i]}.staticflickr.com/{server[i]}/'
            f'{photo[i]}_{secret[i]:010x}_z.jpg","id":{ids[i]}}}'
        )
    return out


def _number_table(max_centi: int) -> np.ndarray:
    """repr of c / 100 for c in 0..max_centi, as a numpy object array (for fancy indexing)."""
    return np.array([repr(c / 100) for c in range(max_centi + 1)], dtype=object)


def _polygons(rng: np.random.Generator, heights, widths):
    """Star-shaped polygons for annotations on images of (heights, widths).

    Returns (coords, part_starts, parts_per_ann, area, bbox): ``coords`` interleaved x, y in
    hundredths of a pixel (int64), ``part_starts`` the offset of each part in vertices (plus the
    end), ``parts_per_ann`` the number of parts of each annotation, ``area`` float and ``bbox``
    (n, 4) in hundredths.
    """
    n = len(heights)
    h = heights.astype(float)
    w = widths.astype(float)
    lo = math.log(3.0)
    r = np.exp(rng.uniform(lo, np.log(np.maximum(0.45 * np.minimum(h, w), 4.0))))
    cx = rng.uniform(0, 1, n) * np.maximum(w - 2 * r, 0) + np.minimum(r, w / 2)
    cy = rng.uniform(0, 1, n) * np.maximum(h - 2 * r, 0) + np.minimum(r, h / 2)
    u = rng.random(n)
    parts = np.where(u < 0.85, 1, np.where(u < 0.95, 2, rng.integers(3, 5, n)))
    ann_of_part = np.repeat(np.arange(n), parts)
    first = np.r_[True, ann_of_part[1:] != ann_of_part[:-1]]
    m = len(ann_of_part)
    pr = np.where(first, r[ann_of_part], r[ann_of_part] * rng.uniform(0.2, 0.5, m))
    off = np.where(first, 0.0, r[ann_of_part] * rng.uniform(0.5, 1.2, m))
    phi = rng.uniform(0, 2 * np.pi, m)
    pcx = cx[ann_of_part] + off * np.cos(phi)
    pcy = cy[ann_of_part] + off * np.sin(phi)
    nv = np.rint(9.5 + 2.2 * np.sqrt(pr) * rng.lognormal(0, 0.4, m)).astype(np.int64).clip(10, 60)
    starts = np.r_[0, np.cumsum(nv)]
    v = int(starts[-1])
    part_of_vertex = np.repeat(np.arange(m), nv)
    inc = rng.uniform(0.5, 1.5, v)
    cs = np.cumsum(inc)
    before = np.r_[0.0, cs[starts[1:-1] - 1]]
    local = cs - before[part_of_vertex] - inc  # 0 at each part's first vertex
    total = (cs[starts[1:] - 1] - before)[part_of_vertex]
    theta = 2 * np.pi * local / total + rng.uniform(0, 2 * np.pi, m)[part_of_vertex]
    rad = pr[part_of_vertex] * rng.uniform(0.6, 1.0, v)
    ann_of_vertex = ann_of_part[part_of_vertex]
    x = np.clip(pcx[part_of_vertex] + rad * np.cos(theta), 0, w[ann_of_vertex])
    y = np.clip(pcy[part_of_vertex] + rad * np.sin(theta), 0, h[ann_of_vertex])
    xq = np.rint(x * 100).astype(np.int64)
    yq = np.rint(y * 100).astype(np.int64)
    coords = np.empty(2 * v, np.int64)
    coords[0::2] = xq
    coords[1::2] = yq
    # Shoelace area per part (from the written 2-decimal coordinates), summed per annotation.
    nxt = np.arange(1, v + 1)
    nxt[starts[1:] - 1] = starts[:-1]
    xf, yf = xq / 100, yq / 100
    cross = xf * yf[nxt] - xf[nxt] * yf
    part_area = 0.5 * np.abs(np.add.reduceat(cross, starts[:-1]))
    ann_part_starts = np.r_[0, np.cumsum(parts)[:-1]]
    area = np.add.reduceat(part_area, ann_part_starts)
    ann_vertex_starts = starts[ann_part_starts]
    x0 = np.minimum.reduceat(xq, ann_vertex_starts)
    y0 = np.minimum.reduceat(yq, ann_vertex_starts)
    x1 = np.maximum.reduceat(xq, ann_vertex_starts)
    y1 = np.maximum.reduceat(yq, ann_vertex_starts)
    bbox = np.column_stack([x0, y0, x1 - x0, y1 - y0])
    return coords, starts, parts, area, bbox


def _crowd_segmentation(rng: np.random.Generator, h: int, w: int, uncompressed: bool):
    """A valid crowd RLE (several overlapping blobs, pycocotools-encoded) with area and bbox."""
    from pycocotools import mask as mask_utils

    r = rng.uniform(0.1, 0.3) * min(h, w)
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    polys = []
    for _ in range(int(rng.integers(3, 9))):
        br = r * rng.uniform(0.3, 0.7)
        bx = cx + rng.uniform(-r, r)
        by = cy + rng.uniform(-r, r)
        k = int(rng.integers(12, 30))
        t = np.sort(rng.uniform(0, 2 * np.pi, k))
        rr = br * rng.uniform(0.6, 1.0, k)
        xy = np.column_stack([np.clip(bx + rr * np.cos(t), 0, w), np.clip(by + rr * np.sin(t), 0, h)])
        polys.append(np.round(xy, 2).ravel().tolist())
    rle = mask_utils.merge(mask_utils.frPyObjects(polys, h, w))
    if uncompressed:
        m = np.asfortranarray(mask_utils.decode(rle)).ravel(order="F")
        change = np.flatnonzero(np.diff(m)) + 1
        edges = np.r_[0, change, m.size]
        counts = np.diff(edges).tolist()
        if m[0]:
            counts = [0, *counts]
        seg = {"counts": counts, "size": [h, w]}
    else:
        mask = mask_utils.decode(rle)
        rle = mask_utils.encode(np.asfortranarray(mask))
        seg = {"counts": rle["counts"].decode("ascii"), "size": [h, w]}
    area = float(mask_utils.area(rle))
    bbox = [float(v) for v in mask_utils.toBbox(rle)]
    return seg, area, bbox


def generate(
    out: str | Path,
    *,
    images: int = TRAIN_IMAGES,
    annotations: int = TRAIN_ANNOTATIONS,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    crowd: float = 0.01,
    crowd_rle: str = "compressed",
    order: str = "spread",
    max_per_image: int = 50,
    with_images: int = 0,
    verbose: bool = False,
) -> Path:
    """Write the file (atomically: a ``.part`` file renamed at the end) and return its path."""
    t0 = time.perf_counter()
    out = Path(out)
    rng = np.random.default_rng(seed)
    heights, widths = _image_sizes(rng, images, size)
    id_space = max(images, int(images * 4.92))  # official ids go up to 581,929
    image_ids = np.sort(rng.choice(id_space, images, replace=False) + 1) if images else []
    image_ids = rng.permutation(image_ids)  # the official file lists them in no order
    counts = _counts_per_image(rng, images, annotations, max_per_image) if images else []
    ann_image = np.repeat(np.arange(images), counts)
    if order == "spread":
        ann_image = rng.permutation(ann_image)
    is_crowd = rng.random(annotations) < crowd
    cat_ids = np.array([c[0] for c in CATEGORIES])
    cat_p = 1.0 / np.arange(1, len(CATEGORIES)) ** 0.9
    cat_p = np.r_[0.3, 0.7 * cat_p / cat_p.sum()]
    ann_cat = rng.choice(cat_ids, annotations, p=cat_p)
    plain_ids = np.sort(rng.choice(max(annotations, int(annotations * 2.6)), annotations,
                                   replace=False) + 1)
    crowd_ids = 900100000000 + np.sort(rng.choice(10**8, annotations, replace=False))
    ann_ids = np.where(is_crowd, crowd_ids, plain_ids)
    table = _number_table(int(max(widths.max(initial=1), heights.max(initial=1))) * 100)

    tmp = out.with_name(out.name + ".part")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "w", encoding="ascii", newline="") as fh:
        fh.write(f'{{"info":{_dumps(INFO)},"licenses":{_dumps(LICENSES)},"images":[')
        records = _image_records(rng, image_ids, heights, widths)
        fh.write(",".join(records))
        del records
        fh.write('],"annotations":[')
        for c, begin in enumerate(range(0, annotations, CHUNK)):
            end = min(begin + CHUNK, annotations)
            crng = np.random.default_rng([seed, 1, c])
            img = ann_image[begin:end]
            hh, ww = heights[img], widths[img]
            coords, starts, parts, area, bbox = _polygons(crng, hh, ww)
            toks = table[coords].tolist()
            boxes = table[bbox].tolist()
            area = area.tolist()
            pieces = []
            p = 0
            for a in range(end - begin):
                g = begin + a
                if is_crowd[g]:
                    seg, ar, bb = _crowd_segmentation(crng, int(hh[a]), int(ww[a]),
                                                      crowd_rle == "uncompressed")
                    pieces.append(
                        f'{{"segmentation":{_dumps(seg)},"area":{ar!r},"iscrowd":1,'
                        f'"image_id":{image_ids[img[a]]},"bbox":{_dumps(bb)},'
                        f'"category_id":{ann_cat[g]},"id":{ann_ids[g]}}}'
                    )
                    p += parts[a]
                    continue
                polys = []
                for _ in range(parts[a]):
                    polys.append(",".join(toks[2 * starts[p] : 2 * starts[p + 1]]))
                    p += 1
                b = boxes[a]
                pieces.append(
                    f'{{"segmentation":[[{"],[".join(polys)}]],"area":{area[a]!r},"iscrowd":0,'
                    f'"image_id":{image_ids[img[a]]},"bbox":[{b[0]},{b[1]},{b[2]},{b[3]}],'
                    f'"category_id":{ann_cat[g]},"id":{ann_ids[g]}}}'
                )
            if begin:
                fh.write(",")
            fh.write(",".join(pieces))
            if verbose and c % 5 == 0:
                print(f"  {end:,}/{annotations:,} annotations, {time.perf_counter() - t0:.1f} s",
                      file=sys.stderr, flush=True)
        cats = [{"supercategory": s, "id": i, "name": nm} for i, nm, s in CATEGORIES]
        fh.write(f'],"categories":{_dumps(cats)}}}')
    tmp.replace(out)
    if with_images:
        _write_images(out.parent, rng, image_ids[:with_images], heights, widths)
    if verbose:
        print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {images:,} images, "
              f"{annotations:,} annotations, {int(is_crowd.sum()):,} crowd) in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out


def _write_images(folder: Path, rng: np.random.Generator, ids, heights, widths) -> None:
    """The first image records as small JPEGs (a coarse random field upsampled) beside the JSON."""
    from PIL import Image

    for i, image_id in enumerate(ids):
        h, w = int(heights[i]), int(widths[i])
        small = rng.integers(0, 256, size=(max(2, h // 32), max(2, w // 32), 3), dtype=np.uint8)
        Image.fromarray(small).resize((w, h), Image.BILINEAR).save(
            folder / f"{image_id:012d}.jpg", quality=70)


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition("x")
    return int(h), int(w)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", required=True, help="the JSON file to write")
    parser.add_argument("--images", type=int, default=None, help=f"default {TRAIN_IMAGES:,}")
    parser.add_argument("--annotations", type=int, default=None,
                        help=f"default {TRAIN_ANNOTATIONS:,}")
    parser.add_argument("--scale", type=float, default=None,
                        help="both counts times this (0.01: 1,183 images, 8,600 annotations)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=_size, default=None, metavar="HxW",
                        help="every image this size (default: official-like sizes)")
    parser.add_argument("--crowd", type=float, default=0.01, help="fraction of iscrowd=1 RLEs")
    parser.add_argument("--crowd-rle", choices=["compressed", "uncompressed"], default="compressed")
    parser.add_argument("--order", choices=["spread", "by-image"], default="spread",
                        help="annotations spread over the file (official) or grouped by image")
    parser.add_argument("--max-per-image", type=int, default=50)
    parser.add_argument("--with-images", type=int, default=0, metavar="N",
                        help="also write the first N images as small JPEGs beside the JSON")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    scale = 1.0 if args.scale is None else args.scale
    images = args.images if args.images is not None else round(TRAIN_IMAGES * scale)
    annotations = (args.annotations if args.annotations is not None
                   else round(TRAIN_ANNOTATIONS * scale))
    generate(args.output, images=images, annotations=annotations, seed=args.seed, size=args.size,
             crowd=args.crowd, crowd_rle=args.crowd_rle, order=args.order,
             max_per_image=args.max_per_image, with_images=args.with_images,
             verbose=not args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
