"""Benchmark of a dataset too big for memory: open lazily, browse, paint, save (issue 3).

A generated dataset of camera-sized JPEGs of mixed sizes (12 MP phone photos in both
orientations, 8 MP, full HD, ...) whose dense padded stack, RGB ``uint8`` images plus ``int32``
labels, would take tens of GB. In a fresh subprocess (so that its peak RSS is this workload's
alone) it is

1. opened with :func:`napari_coco_masks._reader.read_coco` (timed against ``json.load`` of the
   same file, best of two);
2. browsed: ``np.asarray`` of about ten image and label slices; each label slice must equal
   :func:`~napari_coco_masks.coco.rasterize_image` of its image, padded, and each image slice
   must be the JPEG's pixels, padded with zeros;
3. edited: a disc painted with a new label into one label slice, over part of an instance
   (a second run paints 40 slices, 8 in quick mode: edits must not pile up whole planes);
4. saved with :func:`napari_coco_masks._writer.write_coco` and reloaded with pycocotools: each
   new instance's mask is its disc, the overlapped instances lost the disc (their parts hidden
   under smaller instances kept), and every other annotation is the same dict as in the file.

Ratios: peak RSS (``ru_maxrss``) / dense padded stack bytes (goal <= 0.05, i.e. it opens on a
laptop), and open time / ``json.load`` time (informational: the JSON is small here, so the cost
is finding the image files and their headers).

Usage::

    python benchmarks/bench_big_dataset.py            # 300 images, dense stack ~34 GB
    python benchmarks/bench_big_dataset.py --quick    # 20 small images, seconds

Generated files go to ``benchmarks/_data/`` (git-ignored) and are reused.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "_data"

#: (height, width) of common cameras, both orientations: 12 MP phones, 12 MP 4:3, 8 MP, full HD.
CAMERA_SIZES = [
    (3024, 4032),
    (4032, 3024),
    (3000, 4000),
    (4000, 3000),
    (2448, 3264),
    (3264, 2448),
    (1080, 1920),
    (1920, 1080),
]
#: Small sizes of the same mix for the quick run.
QUICK_SIZES = [(h // 16, w // 16) for h, w in CAMERA_SIZES]


def _polygon(rng: np.random.Generator, cx: float, cy: float, r: float, n: int) -> list[float]:
    """A star-shaped polygon of ``n`` vertices around (cx, cy), 2 decimals like real exports."""
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radii = r * rng.uniform(0.6, 1.0, n)
    xy = np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)])
    return [round(float(v), 2) for v in xy.ravel()]


def _photo(rng: np.random.Generator, h: int, w: int):
    """Cheap synthetic RGB content: a coarse random field upsampled to (h, w), as a PIL image."""
    from PIL import Image

    small = rng.integers(0, 256, size=(max(2, h // 64), max(2, w // 64), 3), dtype=np.uint8)
    return Image.fromarray(small).resize((w, h), Image.BILINEAR)


def generate(folder: Path, *, images: int, sizes: list[tuple[int, int]], per_image: int = 4,
             seed: int = 0) -> Path:
    """Write ``images`` JPEGs cycling through ``sizes`` and ``annotations.json`` beside them.

    Reused when ``annotations.json`` exists (it is written last, so a partial run regenerates).
    """
    path = folder / "annotations.json"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cats = [{"id": i + 1, "name": f"class{i + 1}", "supercategory": "thing"} for i in range(4)]
    imgs, anns = [], []
    for i in range(images):
        h, w = sizes[i % len(sizes)]
        name = f"IMG_{i:04d}.jpg"
        _photo(rng, h, w).save(folder / name, quality=80)
        imgs.append({"id": i + 1, "file_name": name, "height": h, "width": w})
        for _ in range(per_image):
            r = float(rng.uniform(0.03, 0.15) * min(h, w))
            cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
            poly = _polygon(rng, cx, cy, r, 40)
            xs, ys = poly[0::2], poly[1::2]
            x0, y0 = min(xs), min(ys)
            area = 0.5 * abs(float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))
            anns.append({
                "id": len(anns) + 1,
                "image_id": i + 1,
                "category_id": int(rng.integers(1, 5)),
                "segmentation": [poly],
                "area": round(area, 2),
                "bbox": [x0, y0, round(max(xs) - x0, 2), round(max(ys) - y0, 2)],
                "iscrowd": 0,
                "attributes": {"occluded": bool(rng.integers(0, 2))},
            })
    with open(path, "w") as fh:
        json.dump({"info": {"description": "bench_big_dataset"}, "licenses": [],
                   "images": imgs, "annotations": anns, "categories": cats}, fh)
    return path


def dense_bytes(path: Path) -> int:
    """Bytes of the dense padded stack: (N, H, W, 3) uint8 images + (N, H, W) int32 labels."""
    with open(path) as fh:
        images = json.load(fh)["images"]
    h = max(im["height"] for im in images)
    w = max(im["width"] for im in images)
    return len(images) * h * w * (3 + 4)


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _disc(h: int, w: int, cy: int, cx: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a disc clipped to (h, w)."""
    rr, cc = np.mgrid[max(0, cy - r) : min(h, cy + r + 1), max(0, cx - r) : min(w, cx + r + 1)]
    inside = (rr - cy) ** 2 + (cc - cx) ** 2 <= r * r
    return rr[inside], cc[inside]


def child(path: Path, out: Path, browse: int, lazy: bool | None = None, edits: int = 1) -> dict:
    """The measured workload (runs in its own process); returns figures and checks.

    ``lazy`` is kept for the command line; every file now takes the same lazy path (labels are a
    :class:`~napari_coco_masks.coco.session.LabelPlanes` stack with per-image values).
    """
    import warnings

    # A napari session has napari imported, its settings loaded and a layer made before
    # anything is opened: so the timing below is the reader's.
    import dask.array  # noqa: F401
    import napari.layers
    from napari.settings import get_settings
    from PIL import Image
    from pycocotools.coco import COCO

    from napari_coco_masks._reader import read_coco
    from napari_coco_masks._writer import write_coco
    from napari_coco_masks.coco import load_coco, rasterize_image
    from napari_coco_masks.coco.session import LabelPlanes

    get_settings()
    napari.layers.Labels(np.zeros((2, 2), np.int32))  # first layer: pint's unit registry (~0.6 s)
    rss_imported = _rss_mb()
    t_json = math.inf
    for _ in range(2):
        t = time.perf_counter()
        with open(path, "rb") as fh:
            source = json.load(fh)
        t_json = min(t_json, time.perf_counter() - t)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = {kind: (data, meta) for data, meta, kind in read_coco(path)}
    image, image_meta = layers["image"]
    labels, labels_meta = layers["labels"]
    np.asarray(labels[0])  # the first slice is part of "ready to show"
    t_open = time.perf_counter() - t
    rss_open = _rss_mb()
    assert isinstance(labels, LabelPlanes), type(labels)
    if labels.shape[0] > 64:  # the reader's EAGER_IMAGES: bigger stacks are read when shown
        assert not isinstance(image, np.ndarray), type(image)
    n, height, width = labels.shape
    shapes = labels_meta["metadata"]["coco"]["image_shapes"]
    assert [tuple(s) for s in shapes] == [(im["height"], im["width"]) for im in source["images"]]

    # Browse: image and label slices spread over the stack, checked against the files.
    parsed = load_coco(path)
    files = image_meta["metadata"]["image_files"]
    t = time.perf_counter()
    shown = sorted({int(round(k)) for k in np.linspace(0, n - 1, browse)})
    for i in shown:
        h, w = shapes[i]
        pixels = np.asarray(image[i])
        plane = np.asarray(labels[i])
        assert pixels.shape == (height, width, 3) and plane.shape == (height, width)
        with Image.open(files[i]) as im:
            assert np.array_equal(pixels[:h, :w], np.asarray(im.convert("RGB")))
        assert not pixels[h:].any() and not pixels[:, w:].any()
        glob = rasterize_image(parsed, i)
        local = np.zeros_like(glob)
        for v, a in enumerate(parsed.image_annotations(i)):
            local[glob == a.position + 1] = v + 1
        assert np.array_equal(plane[:h, :w], local) and not plane[h:].any()
    t_browse = time.perf_counter() - t
    del parsed, pixels, plane

    # Paint discs, as napari's brush does (fancy index into the stack), each over the bottom
    # edge of the largest instance of its image, with a new label value per disc.
    first = shown[len(shown) // 2]
    others = [int(j) for j in np.linspace(0, n - 1, edits + 1)[:-1] if int(j) != first]
    targets = [first, *others[: edits - 1]]
    discs: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # slice -> (rows, cols)
    touched: dict[int, int] = {}  # label value -> slice
    t = time.perf_counter()
    for j, target in enumerate(targets):
        h, w = shapes[target]
        image_id = source["images"][target]["id"]
        own = [k for k, a in enumerate(source["annotations"]) if a["image_id"] == image_id]
        big = max(own, key=lambda k: source["annotations"][k]["area"])
        x0, y0, bw, bh = source["annotations"][big]["bbox"]
        rr, cc = _disc(h, w, int(y0 + bh), int(x0 + bw / 2), int(max(bw, bh) / 3))
        before = np.asarray(labels[target])
        labels[np.full(rr.shape, target), rr, cc] = len(own) + 1 + j  # a new per-image value
        after = np.asarray(labels[target])
        hit = set(np.unique(before[rr, cc]).tolist()) - {0}  # per-image values
        assert own.index(big) + 1 in hit
        assert np.count_nonzero(after != before) == rr.size
        touched.update({own[v - 1] + 1: target for v in hit})
        discs[target] = (rr, cc)
    assert labels.edited == sorted(targets)
    t_paint = time.perf_counter() - t
    del before, after

    # Save, reload with pycocotools, compare.
    t = time.perf_counter()
    write_coco(str(out), [(labels, labels_meta, "labels"), (image, image_meta, "image")])
    t_save = time.perf_counter() - t
    rss_end = _rss_mb()
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))
    written = coco.dataset["annotations"]
    old_ids = {a["id"] for a in source["annotations"]}
    new = [a for a in written if a["id"] not in old_ids]
    slice_of = {im["id"]: p for p, im in enumerate(source["images"])}
    assert sorted(slice_of[a["image_id"]] for a in new) == sorted(targets), new

    def disc_mask(target: int) -> np.ndarray:
        mask = np.zeros(shapes[target], bool)
        mask[discs[target]] = True
        return mask

    for ann in new:
        assert np.array_equal(coco.annToMask(ann).astype(bool), disc_mask(slice_of[ann["image_id"]]))
    by_id = {a["id"]: a for a in written}
    for k, ann in enumerate(source["annotations"]):
        if k + 1 in touched:
            # Its pixels lose the disc; parts hidden under smaller instances are kept.
            expected = coco.annToMask(ann).astype(bool) & ~disc_mask(touched[k + 1])
            if not expected.any():
                assert ann["id"] not in by_id, k
                continue
            assert np.array_equal(coco.annToMask(by_id[ann["id"]]).astype(bool), expected), k
        else:
            assert by_id[ann["id"]] == ann, k
    return {
        "images": n,
        "padded": [height, width],
        "json_load_s": t_json,
        "open_s": t_open,
        "browse_s": t_browse,
        "browsed": len(shown),
        "painted_slices": len(targets),
        "paint_s": t_paint,
        "save_s": t_save,
        "rss_after_import_mb": rss_imported,
        "rss_after_open_mb": rss_open,
        "peak_rss_mb": rss_end,
        "edited_instances": len(touched),
    }


def run(path: Path, browse: int, lazy: bool | None = None, edits: int = 1) -> dict:
    """Run :func:`child` in a fresh interpreter and return its figures."""
    out = path.with_name("saved.json")
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import bench_big_dataset as b; "
        "from pathlib import Path; "
        "print('RESULT ' + json.dumps(b.child(Path(sys.argv[2]), Path(sys.argv[3]), "
        "int(sys.argv[4]), json.loads(sys.argv[5]), int(sys.argv[6]))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), str(path), str(out), str(browse),
         json.dumps(lazy), str(edits)],
        capture_output=True, text=True, check=False,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"big-dataset workload failed:\n{proc.stdout}\n{proc.stderr}")
    out.unlink(missing_ok=True)
    return json.loads(line[len("RESULT ") :])


def main(quick: bool = False) -> list[dict]:
    """Generate (or reuse) the dataset, run the workloads in subprocesses, report ratios."""
    if quick:
        path = generate(DATA / "big_quick", images=20, sizes=QUICK_SIZES)
        many = 8
    else:
        path = generate(DATA / "big_camera", images=300, sizes=CAMERA_SIZES)
        many = 40
    dense = dense_bytes(path)
    lazy = True if quick else None  # the quick dataset is small enough to be read eagerly
    one = run(path, browse=10, lazy=lazy, edits=1)
    several = run(path, browse=10, lazy=lazy, edits=many)
    h, w = one["padded"]
    print(f"{one['images']} images padded to {h}x{w}: dense stack {dense / 2**30:.1f} GiB")
    note = " (quick: imports dominate, not meaningful)" if quick else ""
    rows = []
    for r in (one, several):
        ratio = r["peak_rss_mb"] * 2**20 / dense
        print(
            f"  open, browse {r['browsed']} slices, paint {r['painted_slices']} slice(s), save: "
            f"peak RSS {r['peak_rss_mb']:.0f} MiB (after imports {r['rss_after_import_mb']:.0f}, "
            f"after open {r['rss_after_open_mb']:.0f}) -> {ratio:.4f} of the dense stack "
            f"(goal <= 0.05); browse {r['browse_s']:.2f} s, paint {r['paint_s']:.2f} s, save "
            f"{r['save_s']:.2f} s; {r['edited_instances']} instances edited, the rest identical"
        )
        rows.append({
            "name": f"peak RSS / dense stack ({r['images']} images, {dense / 2**30:.1f} GiB), "
                    f"{r['painted_slices']} slice(s) painted",
            "ratio": round(ratio, 5),
            "target": "<= 0.05 (peak RSS open+browse+paint+save / dense padded stack bytes)"
                      + note,
            **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()},
            "dense_gib": round(dense / 2**30, 2),
        })
    open_ratio = one["open_s"] / one["json_load_s"]
    print(
        f"  open {one['open_s']:.2f} s (layer data + first label slice) vs json.load "
        f"{one['json_load_s'] * 1e3:.1f} ms -> {open_ratio:.0f}x (informational)"
    )
    rows.append({
        "name": f"open {one['images']} camera images lazily / json.load of their COCO file",
        "ratio": round(open_ratio, 2),
        "target": "informational (the JSON is small; opening finds files and headers)",
        "open_s": round(one["open_s"], 3),
        "json_load_s": round(one["json_load_s"], 4),
    })
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 small images (CI)")
    args = parser.parse_args()
    main(quick=args.quick)
