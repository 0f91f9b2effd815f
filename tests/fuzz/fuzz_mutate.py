"""A seeded mutator of real COCO files, image files and writer inputs.

Everything here is deterministic in its seed: a case is a small JSON-able descriptor
(``{"entry": ..., "seed": ...}``) and the child process rebuilds its input from it, so a
failure is reproduced by its descriptor alone (see :func:`describe`).
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).parents[1] / "data"
#: Entry points a case can drive.
ENTRIES = ("load", "reader", "cli", "labels", "shapes", "raster", "images", "masks")
#: Entry points that need a display (a napari viewer); not in the default cycle of ENTRIES.
GUI_ENTRIES = ("widgets",)
_DEEP = "\u0000DEEP\u0000"
_BIG = "\u0000BIG\u0000"


def base_files() -> list[Path]:
    """The real COCO files the mutator starts from."""
    return sorted(DATA.rglob("*.json"))


def _items(obj: Any, key: str) -> list:
    """``obj[key]`` if it is a list (mutations may have made it anything), else []."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _trimmed(obj: dict, rng: random.Random) -> dict:
    """A small slice of a dataset: a few images and their annotations (fast cases)."""
    out = {k: v for k, v in obj.items() if k not in ("images", "annotations")}
    images = list(_items(obj, "images"))
    rng.shuffle(images)
    images = images[: rng.randint(1, 3)]
    ids = {im.get("id") for im in images}
    anns = [a for a in _items(obj, "annotations") if a.get("image_id") in ids]
    out["images"] = images
    out["annotations"] = anns[: rng.randint(0, 12)]
    return out


# -- values -------------------------------------------------------------------------------

HUGE_INTS = [2**31, 2**31 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -1, 0, -(2**63), 10**30]
ODD_FLOATS = [math.nan, math.inf, -math.inf, 1e18, -1e18, 1e300, 5e8, 1e9, -1e9, 0.5, -0.0, 1e-300]


def _odd_value(rng: random.Random) -> Any:
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice(HUGE_INTS)
    if kind == 1:
        return rng.choice(ODD_FLOATS)
    if kind == 2:
        return rng.choice(["", "abc", "L1", "1", "../x", "\u00e9\u6f22", "NaN", "x" * 300])
    if kind == 3:
        return rng.choice([None, True, False])
    if kind == 4:
        return rng.choice([[], [1], [[1, 2]], [None], {}, {"a": 1}])
    if kind == 5:
        return _DEEP
    if kind == 6:
        return _BIG
    if kind == 7:
        return [rng.choice(ODD_FLOATS) for _ in range(rng.choice([3, 6, 7, 8]))]
    return rng.randint(-5, 5)


def _nodes(obj: Any, path: tuple = ()) -> list[tuple]:
    """Every (container path) in ``obj``: paths to dict keys and list indices."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(path + (k,))
            out.extend(_nodes(v, path + (k,)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:50]):
            out.append(path + (i,))
            out.extend(_nodes(v, path + (i,)))
    return out


def _get(obj: Any, path: tuple) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def _set(obj: Any, path: tuple, value: Any) -> None:
    _get(obj, path[:-1])[path[-1]] = value


def _delete(obj: Any, path: tuple) -> None:
    parent = _get(obj, path[:-1])
    del parent[path[-1]]


# -- targeted COCO mutations ------------------------------------------------------------------


def _pick(items: list, rng: random.Random) -> Any:
    return rng.choice(items) if items else None


def _m_random_value(obj: dict, rng: random.Random) -> str:
    path = _pick(_nodes(obj), rng)
    if path is None:
        return "noop"
    value = _odd_value(rng)
    _set(obj, path, value)
    return f"set {list(path)} = {_short(value)}"


def _m_delete_key(obj: dict, rng: random.Random) -> str:
    paths = [p for p in _nodes(obj) if isinstance(p[-1], str)]
    path = _pick(paths + [("annotations",), ("images",), ("categories",)], rng)
    try:
        _delete(obj, path)
    except (KeyError, IndexError, TypeError):
        return "noop"
    return f"delete {list(path)}"


def _m_image_size(obj: dict, rng: random.Random) -> str:
    im = _pick(_items(obj, "images"), rng)
    if not isinstance(im, dict):
        return "noop"
    key = rng.choice(["width", "height"])
    im[key] = rng.choice([2**31, 2**16 + 1, 2**16, 0, -3, 1, 1.5, "640", 40000, None])
    return f"image {im.get('id')} {key} = {im[key]!r}"


def _polygon_anns(obj: dict) -> list[dict]:
    return [
        a for a in _items(obj, "annotations")
        if isinstance(a, dict) and isinstance(a.get("segmentation"), list) and a["segmentation"]
        and isinstance(a["segmentation"][0], list)
    ]


def _m_coordinate(obj: dict, rng: random.Random) -> str:
    ann = _pick(_polygon_anns(obj), rng)
    if ann is None:
        return "noop"
    part = ann["segmentation"][0]
    if not part:
        return "noop"
    i = rng.randrange(len(part))
    part[i] = rng.choice(ODD_FLOATS + [2**40, -(2**40), "5", None])
    return f"annotation {ann.get('id')} coordinate {i} = {_short(part[i])}"


def _m_polygon_shape(obj: dict, rng: random.Random) -> str:
    ann = _pick(_polygon_anns(obj), rng)
    if ann is None:
        return "noop"
    choice = rng.randrange(6)
    if choice == 0:
        ann["segmentation"] = [[1, 1, 5, 1, 5, math.nan]]
    elif choice == 1:
        ann["segmentation"] = [[0, 0, 0, 1e18, 1e18, 1e18]]
    elif choice == 2:
        ann["segmentation"] = [ann["segmentation"][0][:rng.choice([0, 1, 4, 5])]]
    elif choice == 3:
        ann["segmentation"] = [[0, 0, 10, 10, 10, 0, 0, 10]]  # self-intersecting
    elif choice == 4:
        ann["segmentation"] = []
        ann["bbox"] = rng.choice([[1, 1, 3, 3], [0, 0, 1e18, 1e18], [math.nan, 0, 1, 1], [1, 2], "x"])
    else:
        ann["segmentation"] = [[5, 5] * rng.randint(3, 6)]  # zero area
    return f"annotation {ann.get('id')} segmentation = {_short(ann['segmentation'])}"


def _image_shape(obj: dict, ann: dict) -> tuple[int, int]:
    for im in _items(obj, "images"):
        if isinstance(im, dict) and im.get("id") == ann.get("image_id"):
            h, w = im.get("height"), im.get("width")
            if isinstance(h, int) and isinstance(w, int):
                return h, w
    return 10, 10


def _m_rle(obj: dict, rng: random.Random) -> str:
    anns = [a for a in _items(obj, "annotations") if isinstance(a, dict)]
    ann = _pick(anns, rng)
    if ann is None:
        return "noop"
    h, w = _image_shape(obj, ann)
    n = h * w if isinstance(h * w, int) else 100
    choice = rng.randrange(9)
    seg: Any
    if choice == 0:
        seg = {"size": [h, w], "counts": [600, 2**62, 2**62, 2**62, 2**62]}
    elif choice == 1:
        seg = {"size": [h, w], "counts": [max(n - 7, 0)]}  # sums short
    elif choice == 2:
        seg = {"size": [h, w], "counts": [n + 5]}
    elif choice == 3:
        seg = {"size": [h, w], "counts": [-5, n + 5]}
    elif choice == 4:
        seg = {"size": [h, w], "counts": rng.choice(["\x01\x02", "0" * 40, "zzzz", "o" * 30, "", 5])}
    elif choice == 5:
        seg = {"size": rng.choice([[2**31, 1], [0, 0], [-1, 4], [h], "4x4", None]), "counts": [n]}
    elif choice == 6:
        seg = {"size": [h, w], "counts": [n // 2, n - n // 2]}  # valid
        ann["iscrowd"] = rng.choice([1, "abc", None, 2])
    elif choice == 7:
        seg = {"counts": [n]}
    else:
        seg = {"size": [h, w], "counts": [float(n)]}
    ann["segmentation"] = seg
    return f"annotation {ann.get('id')} segmentation = {_short(seg)}"


def _m_file_name(obj: dict, rng: random.Random) -> str:
    im = _pick([i for i in _items(obj, "images") if isinstance(i, dict)], rng)
    if im is None:
        return "noop"
    im["file_name"] = rng.choice(
        [
            "../../outside.png", "../../../../../etc/hostname", "/etc/hostname", "link_out.png",
            "http://images.cocodataset.org/val2017/x.jpg", "C:\\data\\x.png", "", "a\u0000b.png",
            "sub/../../outside.png", "bad.png", "trunc.png", "bomb.png", "odd.tif", "garbage.jpg",
            "dir.png", 5, None,
        ]
    )
    return f"image {im.get('id')} file_name = {im['file_name']!r}"


def _m_ids(obj: dict, rng: random.Random) -> str:
    anns = [a for a in _items(obj, "annotations") if isinstance(a, dict)]
    ann = _pick(anns, rng)
    if ann is None:
        return "noop"
    key = rng.choice(["id", "image_id", "category_id"])
    ann[key] = rng.choice([[1], {"a": 1}, None, 1.5, "1", 2**64, True, "x"])
    return f"annotation {key} = {ann[key]!r}"


def _m_keypoints(obj: dict, rng: random.Random) -> str:
    anns = [a for a in _items(obj, "annotations") if isinstance(a, dict)]
    ann = _pick(anns, rng)
    if ann is None:
        return "noop"
    ann["keypoints"] = rng.choice([[1, 2], [1, 2, 2, 4], [math.nan, 1, 2], "abc", [1e18, 1e18, 2]])
    ann["num_keypoints"] = 1
    cats = [c for c in _items(obj, "categories") if isinstance(c, dict)]
    if cats:
        cats[0]["keypoints"] = ["a", "b"]
        cats[0]["skeleton"] = rng.choice([[[1, 2]], [[0, 5]], [[1]], "x", [[None, 1]]])
    return f"annotation keypoints = {ann['keypoints']!r}"


MUTATIONS = [
    _m_random_value, _m_delete_key, _m_image_size, _m_coordinate, _m_polygon_shape, _m_rle,
    _m_file_name, _m_ids, _m_keypoints,
]


def _short(value: Any, n: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


# -- bytes --------------------------------------------------------------------------------------


def _encode(obj: Any, rng: random.Random) -> tuple[bytes, str]:
    """The file bytes of ``obj``, sometimes with a byte-level mutation; and its description."""
    text = json.dumps(obj, allow_nan=True)
    if _DEEP in text:
        depth = rng.choice([100, 5000, 200000])
        text = text.replace(json.dumps(_DEEP), "[" * depth + "]" * depth)
    if _BIG in text:
        text = text.replace(json.dumps(_BIG), "9" * rng.choice([20, 400, 5000]))
    kind = rng.randrange(12)
    if kind == 0:
        return text.encode("utf-16"), "utf-16"
    if kind == 1:
        return b"\xef\xbb\xbf" + text.encode(), "utf-8 BOM"
    raw = text.encode("utf-8")
    if kind == 2 and raw:
        return raw[: rng.randrange(len(raw))], "truncated"
    if kind == 3 and raw:
        b = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b), "bytes flipped"
    if kind == 4:
        return b"\x00" * rng.randint(0, 64), "zero bytes"
    return raw, "plain"


# -- image files -----------------------------------------------------------------------------


def _png_bytes(h: int, w: int, rng: random.Random) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    arr = np.asarray(rng.choices(range(256), k=h * w), dtype=np.uint8).reshape(h, w)
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _bomb_png(h: int, w: int) -> bytes:
    """A PNG whose header claims ``h x w`` pixels (the data is a few bytes)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def write_images(obj: Any, folder: Path, rng: random.Random) -> None:
    """Image files beside the JSON: good ones, odd ones and ones that escape the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder.parent / "outside.png").write_bytes(_png_bytes(4, 4, rng))
    (folder / "bad.png").write_bytes(b"not an image")
    good = _png_bytes(8, 8, rng)
    (folder / "trunc.png").write_bytes(good[: len(good) // 2])
    (folder / "bomb.png").write_bytes(_bomb_png(rng.choice([70000, 200000]), 70000))
    (folder / "garbage.jpg").write_bytes(b"\xff\xd8\xff" + bytes(rng.randrange(256) for _ in range(40)))
    (folder / "dir.png").mkdir(exist_ok=True)
    import tifffile

    tifffile.imwrite(folder / "odd.tif", np.zeros(rng.choice([(2, 3, 4, 5), (1, 1), (7,), (3, 9, 9)]), np.uint8))
    try:
        os.symlink(folder.parent / "outside.png", folder / "link_out.png")
    except OSError:
        pass
    images = obj.get("images") if isinstance(obj, dict) else None
    for im in images if isinstance(images, list) else []:
        if not isinstance(im, dict) or not isinstance(im.get("file_name"), str):
            continue
        name = im["file_name"]
        target = folder / name
        if len(name) > 200 or "/" in name or "\\" in name or not name or "\x00" in name:
            continue
        if target.exists():
            continue
        h, w = im.get("height"), im.get("width")
        ok = type(h) is int and type(w) is int and 0 < h <= 64 and 0 < w <= 64
        kind = rng.randrange(4)
        if kind == 0 or not ok:
            target.write_bytes(_png_bytes(rng.randint(1, 12), rng.randint(1, 12), rng))
        elif kind == 1:
            target.write_bytes(_png_bytes(h, w, rng))
        # kinds 2, 3: missing image


def coco_case(seed: int, folder: Path) -> tuple[Path, list[str]]:
    """Write a mutated COCO file (and image files) into ``folder``; its path and mutations."""
    rng = random.Random(seed)
    bases = base_files()
    base = bases[seed % len(bases)]
    obj = _trimmed(json.loads(base.read_text(encoding="utf-8")), rng)
    for im in _items(obj, "images"):  # small images keep cases fast
        if rng.random() < 0.7 and isinstance(im, dict):
            scale = max(1, max(im.get("height", 1), im.get("width", 1)) // 64)
            im["height"], im["width"] = max(1, im["height"] // scale), max(1, im["width"] // scale)
    done = [f"base {base.relative_to(DATA)}"]
    for _ in range(rng.randint(1, 3)):
        mutation = rng.choice(MUTATIONS)
        done.append(mutation(obj, rng))
    data, how = _encode(obj, rng)
    done.append(f"bytes {how}")
    path = folder / "ds" / "annotations" / "instances_val.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    write_images(obj, path.parent, rng)
    return path, done


# -- writer inputs -------------------------------------------------------------------------------


def labels_case(seed: int) -> tuple[np.ndarray, dict, list[str]]:
    """A label array for ``dataset_from_labels`` and keyword arguments; and its description."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([1, 1, 2, 3]))
    h, w = (int(v) for v in rng.integers(1, 48, 2))
    kind = int(rng.integers(7))
    if kind == 0:
        lab = np.zeros((n, h, w), np.int64)
    elif kind == 1:
        lab = rng.integers(0, 4, (n, h, w))  # noisy: many parts, holes
    elif kind == 2:
        lab = np.zeros((n, h, w), np.int64)
        for _ in range(int(rng.integers(1, 6))):
            r, c = rng.integers(0, h), rng.integers(0, w)
            lab[:, r : r + int(rng.integers(1, 20)), c : c + int(rng.integers(1, 20))] = rng.integers(1, 9)
    elif kind == 3:
        lab = (rng.integers(0, 2, (n, h, w)) * (2**31 + int(rng.integers(0, 5)))).astype(np.int64)
    elif kind == 4:
        lab = np.indices((n, h, w)).sum(axis=0) % 2 * int(rng.choice([1, 2**40, 2**63 - 1]))
    elif kind == 5:
        lab = np.zeros((n, h, w), np.int64)
        lab[:, int(rng.integers(0, h)), int(rng.integers(0, w))] = 7  # one pixel
    else:
        lab = rng.integers(-3, 3, (n, h, w))
    dtype = rng.choice(["int64", "int32", "uint32", "uint64", "uint8", "bool", "float64", "int16"])
    with np.errstate(all="ignore"):
        lab = lab.astype(dtype)
    if n == 1 and rng.random() < 0.5:
        lab = lab[0]
    kwargs: dict[str, Any] = {}
    if rng.random() < 0.3:
        kwargs["mode"] = str(rng.choice(["auto", "rle", "polygon"]))
    desc = [f"labels kind {kind} shape {lab.shape} dtype {dtype}", f"kwargs {kwargs}"]
    return lab, kwargs, desc


def _shape(rng: np.random.Generator, h: int, w: int, n_images: int) -> tuple[np.ndarray, str, str]:
    kind = int(rng.integers(9))
    k = int(rng.integers(3, 9))
    shape_type = str(rng.choice(["polygon", "polygon", "rectangle", "ellipse", "path", "line"]))
    if kind == 0:
        v = rng.uniform(-2, max(h, w) + 2, (k, 2))
    elif kind == 1:
        v = np.array([[0, 0], [0, 1e9], [1e9, 1e9]], float)
    elif kind == 2:
        v = np.full((k, 2), 3.0)  # zero area
    elif kind == 3:
        v = np.array([[0, 0], [10, 10], [0, 10], [10, 0]], float)  # self-intersecting
    elif kind == 4:
        v = rng.uniform(-2, 12, (k, 2))
        v[int(rng.integers(k))] = rng.choice([np.nan, np.inf, 1e18, -1e18, 5e8])
    elif kind == 5:
        v = np.zeros((0, 2))
    elif kind == 6:
        v = np.array([[2, 2], [2, 2], [6, 6], [6, 6]], float)  # empty rectangle
    elif kind == 7:
        v = rng.uniform(-1e6, 1e6, (k, 2))
    else:
        v = rng.uniform(0, 10, (k, 2))
    if n_images > 1:
        v = np.column_stack([np.full(len(v), int(rng.integers(0, n_images))), v])
    return v, shape_type, f"kind {kind} {shape_type}"


def _feature_value(rng: np.random.Generator, column: str) -> Any:
    odd = {
        "category_id": [1, 2, "L1", [1], None, 2**40, 1.5],
        "iscrowd": [0, 1, "abc", None, 2, True],
        "index": [1, "L1", None, 2**31],
        "category": ["a", "b", "", None, 3],
        "attributes.note": ["x", None, 1e18, math.nan],
    }[column]
    return odd[int(rng.integers(len(odd)))]


def shapes_case(seed: int) -> tuple[list, list, Any, dict, list[str]]:
    """Inputs of ``dataset_from_shapes``: shapes, types, features, kwargs; and a description."""
    rng = np.random.default_rng(seed)
    n_images = int(rng.choice([1, 1, 2]))
    sizes = [tuple(int(v) for v in rng.integers(1, 40, 2)) for _ in range(n_images)]
    shapes, types, desc = [], [], []
    for _ in range(int(rng.integers(0, 5))):
        v, t, d = _shape(rng, *sizes[0], n_images)
        shapes.append(v)
        types.append(t)
        desc.append(d)
    features = None
    if shapes and rng.random() < 0.5:
        columns = [str(c) for c in rng.choice(
            ["category_id", "iscrowd", "index", "category", "attributes.note"],
            size=int(rng.integers(1, 3)), replace=False)]
        features = {c: [_feature_value(rng, c) for _ in shapes] for c in columns}
        desc.append(f"features {features}")
    kwargs = {"image_shapes": sizes}
    desc.insert(0, f"image_shapes {sizes}")
    return shapes, types, features, kwargs, desc


def raster_case(seed: int) -> tuple[dict, int, int, list[str]]:
    """A mutated annotation record and an image size, for the rasteriser alone (no model)."""
    rng = random.Random(seed)
    bases = base_files()
    obj = json.loads(bases[seed % len(bases)].read_text(encoding="utf-8"))
    anns = [a for a in _items(obj, "annotations") if isinstance(a, dict)] or [{"segmentation": []}]
    ann = dict(rng.choice(anns))
    h = rng.choice([1, 2, 7, 40, 64, 480, 2**16, 2**16 + 1, 0, -1, 2**31, 10**30])
    w = rng.choice([1, 3, 9, 40, 64, 640, 2**16, 2**16 + 1, 0, 2**31])
    tiny = {"images": [{"id": ann.get("image_id"), "height": h, "width": w}], "annotations": [ann]}
    done = [f"image {h} x {w}"]
    for _ in range(rng.randint(0, 2)):
        done.append(rng.choice([_m_coordinate, _m_polygon_shape, _m_rle, _m_random_value])(tiny, rng))
    anns = _items(tiny, "annotations")
    return (anns[0] if anns else tiny.get("annotations")), h, w, done


def image_file_case(seed: int, folder: Path) -> tuple[list[Path], list[str]]:
    """Odd image files (good, truncated, garbage, bombs, odd TIFFs, folders, symlinks)."""
    rng = random.Random(seed)
    write_images({"images": []}, folder, rng)
    names = ["bad.png", "trunc.png", "bomb.png", "garbage.jpg", "odd.tif", "dir.png", "link_out.png"]
    (folder / "good.png").write_bytes(_png_bytes(rng.randint(1, 9), rng.randint(1, 9), rng))
    names.append("good.png")
    rng.shuffle(names)
    chosen = names[: rng.randint(1, len(names))]
    return [folder / n for n in chosen], chosen


# -- widget cases -------------------------------------------------------------------------------

#: Display names of the dock widgets (napari.yaml), as ``add_plugin_dock_widget`` takes them.
WIDGETS = ("Threshold and colour mask", "Watershed", "Seeded region growing", "Measure objects")
_SHAPES_2D = [(1, 1), (1, 7), (9, 1), (2, 2), (12, 17), (32, 32)]


def _spatial(rng: np.random.Generator) -> tuple[int, ...]:
    base = _SHAPES_2D[int(rng.integers(len(_SHAPES_2D)))]
    extra = [(), (), (), (3,), (1,), (2, 3), (2, 2, 2)][int(rng.integers(7))]  # 2D..5D
    return tuple(extra) + tuple(base)


def _image_array(rng: np.random.Generator) -> tuple[np.ndarray, bool, str]:
    shape = _spatial(rng)
    rgb = int(rng.integers(6))
    if rgb == 0:
        shape = shape + (int(rng.choice([3, 4])),)
    kind = int(rng.integers(10))
    with np.errstate(all="ignore"):
        if kind == 0:
            a = np.full(shape, float(rng.choice([0.0, 1.0, 255.0, -3.0])))
        elif kind == 1:
            a = np.full(shape, np.nan)
        elif kind == 2:
            a = rng.random(shape)
            a.flat[rng.integers(0, a.size, max(1, a.size // 4))] = rng.choice([np.nan, np.inf, -np.inf])
        elif kind == 3:
            a = rng.random(shape) > 0.5
        elif kind == 4:
            a = rng.integers(0, 2**63, shape, dtype=np.uint64)
        elif kind == 5:
            a = rng.normal(-100, 50, shape)
        elif kind == 6:
            a = (rng.random(shape) * 60000).astype(np.float16)
        elif kind == 7:
            a = rng.integers(0, 256, shape).astype(np.uint8)
        elif kind == 8:
            a = rng.random(shape) * float(rng.choice([1e-300, 1e300, 1.0]))
        else:
            a = rng.integers(-(2**15), 2**15, shape).astype(np.int16)
    return a, rgb == 0 and a.shape[-1] in (3, 4), f"image kind {kind} shape {a.shape} dtype {a.dtype}"


def _transform(rng: np.random.Generator, ndim: int) -> tuple[dict, str]:
    kw: dict[str, Any] = {}
    r = int(rng.integers(8))
    if r == 0:
        kw["scale"] = [float(rng.choice([1e-9, 1e9, 0.5, 3.0]))] * ndim
    elif r == 1:
        kw["translate"] = [float(rng.choice([1e9, -1e12, 0.5]))] * ndim
    elif r == 2:
        kw["units"] = str(rng.choice(["um", "nm", "mm", "pixel"]))
    elif r == 3:
        kw["scale"] = [float(v) for v in rng.choice([1.0, 2.0, 0.25], ndim)]
        kw["units"] = "um"
    return kw, (f"{kw}" if kw else "")


def widget_case(seed: int) -> tuple[str, list[tuple[str, Any, dict]], list[tuple], list[str]]:
    """A widget, the layers to add first and the actions to take; and a description.

    A layer is ``(kind, data, kwargs)`` for ``viewer.add_<kind>``; an action is a tuple whose
    first item names it (see ``fuzz_widgets.py``). Deterministic in ``seed``.
    """
    rng = np.random.default_rng(seed)
    widget = WIDGETS[int(rng.integers(len(WIDGETS)))]
    layers: list[tuple[str, Any, dict]] = []
    desc = [widget]
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3, 4]))):
        kind = str(rng.choice(["image", "image", "image", "labels", "labels", "points", "shapes",
                               "surface"]))
        if kind == "image":
            data, rgb, d = _image_array(rng)
            kw = {"rgb": rgb}
            ndim = data.ndim - (1 if rgb else 0)
        elif kind == "labels":
            shape = _spatial(rng)
            dtype = str(rng.choice(["int32", "uint8", "uint64", "int64", "bool"]))
            lk = int(rng.integers(4))
            if lk == 0:
                data = np.zeros(shape, dtype)
            elif lk == 1:
                data = rng.integers(0, 4, shape).astype(dtype)
            elif lk == 2:
                data = (rng.integers(0, 2, shape) * (2**40 if dtype in ("uint64", "int64") else 1)).astype(dtype)
            else:
                data = np.ones(shape, dtype)
            kw, ndim, d = {}, data.ndim, f"labels kind {lk} shape {shape} dtype {dtype}"
        elif kind == "points":
            ndim = int(rng.choice([2, 2, 3, 4]))
            n = int(rng.choice([0, 1, 3]))
            data = rng.uniform(-5, 40, (n, ndim)) * float(rng.choice([1, 1, 1e9]))
            kw, d = {}, f"points {n} x {ndim}"
        elif kind == "shapes":
            n = int(rng.choice([0, 1, 2]))
            ndim = int(rng.choice([2, 2, 3]))
            data = [rng.uniform(-5, 40, (4, ndim)) for _ in range(n)]
            kw = {"shape_type": str(rng.choice(["rectangle", "polygon", "ellipse"]))} if n else {}
            d = f"shapes {n} x {ndim}D {kw}"
        else:
            ndim = int(rng.choice([2, 3]))
            data = (rng.uniform(0, 20, (4, ndim)), np.array([[0, 1, 2], [1, 2, 3]]))
            kw, d = {}, f"surface {ndim}D"
        tkw, td = _transform(rng, ndim)
        kw.update(tkw)
        layers.append((kind, data, kw))
        desc.append(d + (f" {td}" if td else ""))
    actions: list[tuple] = []
    for _ in range(int(rng.integers(1, 5))):
        r = int(rng.integers(10))
        if r < 3:
            actions.append(("choose", int(rng.integers(0, 8)), int(rng.integers(0, 8))))
        elif r < 5:
            actions.append(("option", int(rng.integers(0, 64)), float(rng.choice([0, 1, 2.5, 50, 1e6]))))
        elif r < 6:
            actions.append(("seeds", int(rng.integers(1, 4)), int(rng.integers(2**31))))
        elif r < 7:
            actions.append(("remove", int(rng.integers(0, 8))))
        else:
            actions.append(("press", int(rng.integers(0, 8))))
    actions.append(("press", int(rng.integers(0, 8))))
    desc.append(f"actions {actions}")
    return widget, layers, actions, desc


def describe(case: dict) -> str:
    """A one-line descriptor of a case, enough to reproduce it."""
    return json.dumps(case, sort_keys=True)


def make_cases(n: int, seed: int, entries: tuple[str, ...] = ENTRIES) -> list[dict]:
    """``n`` case descriptors cycling through ``entries``, seeded from ``seed``."""
    rng = random.Random(seed)
    return [{"entry": entries[i % len(entries)], "seed": rng.randrange(2**32)} for i in range(n)]


__all__ = [
    "ENTRIES", "coco_case", "describe", "image_file_case", "labels_case", "make_cases",
    "raster_case", "shapes_case", "WIDGETS", "widget_case",
]
