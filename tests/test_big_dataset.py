"""A big dataset in a real viewer: opened lazily, browsed with the slider, painted and saved.

The dataset is a few dozen images of mixed sizes (both orientations), with the reader's
thresholds lowered so that it takes the lazy path a dataset too big for memory takes (the
memory itself is measured by benchmarks/bench_big_dataset.py in a subprocess).
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from napari_coco_masks import _reader
from napari_coco_masks.coco import load_coco, rasterize_image
from napari_coco_masks.coco.raster import LabelStack

PLUGIN = "napari-coco-masks"
SIZES = [(60, 80), (80, 60), (45, 96), (96, 45), (72, 72), (30, 50)]  # (height, width)
N_IMAGES = 30


def _polygon(rng, cx, cy, r, n=16) -> list[float]:
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.6, 1.0, n)
    return np.column_stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)]).round(2).ravel().tolist()


def _rle(h: int, w: int, r0: int, r1: int, c0: int, c1: int) -> dict:
    """An uncompressed RLE (column-major) of the box rows r0:r1, cols c0:c1."""
    mask = np.zeros((h, w), np.uint8)
    mask[r0:r1, c0:c1] = 1
    flat = mask.ravel(order="F")
    change = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    counts = np.diff(np.concatenate([[0], change]))
    return {"size": [h, w], "counts": [int(c) for c in counts]}


@pytest.fixture
def big(tmp_path) -> Path:
    """``N_IMAGES`` RGB PNGs cycling through ``SIZES`` and their COCO file (overlapping polygons,
    an RLE instance, a bbox-only box and an unknown key, as real exports have)."""
    rng = np.random.default_rng(3)
    images, anns = [], []
    for i in range(N_IMAGES):
        h, w = SIZES[i % len(SIZES)]
        name = f"img_{i:03d}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / name)
        images.append({"id": 100 + i, "file_name": name, "height": h, "width": w})
        for _ in range(3):
            r = float(rng.uniform(5, min(h, w) / 3))
            cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
            anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": 1 + len(anns) % 2,
                         "segmentation": [_polygon(rng, cx, cy, r)], "area": 1.0,
                         "bbox": [cx - r, cy - r, 2 * r, 2 * r], "iscrowd": 0,
                         "attributes": {"occluded": False}, "vendor_key": [i]})
        anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": 2,
                     "segmentation": _rle(h, w, 2, 9, 3, 12), "area": 63, "bbox": [3, 2, 9, 7],
                     "iscrowd": 1})
        anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": 1,
                     "segmentation": [], "area": 20, "bbox": [w - 6.0, h - 5.0, 5.0, 4.0],
                     "iscrowd": 0})
    dataset = {"info": {"description": "big"}, "licenses": [], "images": images,
               "categories": [{"id": 1, "name": "a", "supercategory": ""},
                              {"id": 2, "name": "b", "supercategory": ""}],
               "annotations": anns}
    path = tmp_path / "instances_default.json"
    path.write_text(json.dumps(dataset))
    return path


@pytest.fixture
def lazy_thresholds(monkeypatch):
    """Lower the reader's thresholds so that the default choice is the lazy one."""
    monkeypatch.setattr(_reader, "EAGER_BYTES", 64 * 1024)
    monkeypatch.setattr(_reader, "EAGER_ANNOTATIONS", 50)
    monkeypatch.setattr(_reader, "EAGER_IMAGES", 8)


def _open(viewer, path: Path) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = viewer.open(str(path), plugin=PLUGIN)
    return {layer._type_string: layer for layer in layers}


def _shown(layer) -> np.ndarray:
    """The 2D data the layer shows for the current slider position."""
    return np.asarray(layer._slice.image.raw)


def test_big_dataset_opens_lazily_browses_paints_and_saves(
    make_napari_viewer, big, lazy_thresholds, tmp_path
):
    viewer = make_napari_viewer()
    layers = _open(viewer, big)
    labels, image = layers["labels"], layers["image"]
    original = json.loads(big.read_text())
    sizes = [(im["height"], im["width"]) for im in original["images"]]
    height, width = max(h for h, _ in sizes), max(w for _, w in sizes)

    # Lazy on both sides, padded sizes remembered per image.
    assert isinstance(labels.data, LabelStack) and labels.data.edited == []
    assert type(image.data).__module__.startswith("dask")
    assert labels.data.shape == (N_IMAGES, height, width)
    assert image.data.shape == (N_IMAGES, height, width, 3) and image.rgb
    for layer in (labels, image, layers["shapes"]):
        assert [tuple(s) for s in layer.metadata["coco"]["image_shapes"]] == sizes
        assert layer.metadata["coco"]["image_ids"] == [im["id"] for im in original["images"]]

    # The slider shows each image's pixels and its pycocotools-exact labels, padded.
    parsed = load_coco(big)
    for i in [*range(N_IMAGES), 0]:
        viewer.dims.set_current_step(0, i)
        h, w = sizes[i]
        shown, pixels = _shown(labels), _shown(image)
        assert shown.shape == (height, width)
        assert np.array_equal(shown[:h, :w], rasterize_image(parsed, i))
        assert not shown[h:].any() and not shown[:, w:].any()
        file = np.asarray(Image.open(big.parent / original["images"][i]["file_name"]))
        assert np.array_equal(pixels[:h, :w], file) and not pixels[h:].any()
    assert labels.data.edited == []  # browsing never edits

    # Paint a disc with a new label on one slice, over part of an instance.
    k = 13
    before = [np.asarray(labels.data[j]) for j in range(N_IMAGES)]
    first = next(a for a in original["annotations"] if a["image_id"] == 100 + k)
    x0, y0, bw, bh = first["bbox"]
    new_value = len(original["annotations"]) + 1
    viewer.dims.set_current_step(0, k)
    labels.brush_size = 9
    labels.selected_label = new_value
    labels.paint((k, int(y0 + bh / 2), int(x0 + bw / 2)), new_value)
    painted = np.asarray(labels.data[k]) != before[k]
    assert painted.sum() > 20 and labels.data.edited == [k]
    assert np.array_equal(_shown(labels), np.asarray(labels.data[k]))
    for j in range(N_IMAGES):
        if j != k:
            assert np.array_equal(np.asarray(labels.data[j]), before[j]), j
    viewer.dims.set_current_step(0, 0)  # browse away and back: the edit stays
    viewer.dims.set_current_step(0, k)
    assert np.array_equal(_shown(labels)[painted], np.full(painted.sum(), new_value))

    # Save every layer (Image, Labels, Shapes) with the plugin.
    out = tmp_path / "saved.json"
    assert viewer.layers.save(str(out), plugin=PLUGIN) == [str(out)]
    written = json.loads(out.read_text())
    assert {key: v for key, v in written.items() if key != "annotations"} == {
        key: v for key, v in original.items() if key != "annotations"
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))
    h, w = sizes[k]
    by_id = {a["id"]: a for a in written["annotations"]}
    new = [a for a in written["annotations"] if a["id"] > len(original["annotations"])]
    assert len(new) == 1 and new[0]["image_id"] == 100 + k
    assert np.array_equal(coco.annToMask(new[0]).astype(bool), painted[:h, :w])
    touched = set(np.unique(before[k][painted]).tolist()) - {0}
    assert first["id"] in touched  # the disc is centred on it
    for pos, ann in enumerate(original["annotations"]):
        if pos + 1 not in touched:
            assert by_id[ann["id"]] == ann, ann["id"]
        elif ann["id"] in by_id:  # edited: what is left of it, re-encoded
            mask = coco.annToMask(by_id[ann["id"]]).astype(bool)
            assert not (mask & painted[:h, :w]).any()
            assert mask.sum() < coco.annToMask(ann).sum()
    assert len(written["annotations"]) >= len(original["annotations"]) - len(touched) + 1

    # The saved file opens again, lazily, with the edit in place.
    reopened = _open(viewer, out)["labels"]
    assert isinstance(reopened.data, LabelStack)
    value = written["annotations"].index(new[0]) + 1  # the contract: position + 1
    again = np.asarray(reopened.data[k])
    assert np.array_equal(again[:h, :w] == value, painted[:h, :w])


# -- memory stays bounded however many planes are browsed and edited -------------------------


def _source(path: Path) -> tuple:
    ds = load_coco(path)
    meta = {"source": str(path), "dataset": ds.raw, "image_shapes": ds.image_shapes,
            "image_ids": [im.id for im in ds.images]}
    return ds, meta


def test_label_stack_keeps_few_whole_planes_and_every_edit(big):
    from napari_coco_masks.coco.write import dataset_from_labels

    ds, meta = _source(big)
    dense = np.asarray(LabelStack(ds))
    stack = LabelStack(ds, cache_size=3, live_edits=2)
    rng = np.random.default_rng(0)
    for i in range(0, N_IMAGES, 3):  # brush-like fancy writes, a box write, a no-op write
        h, w = ds.image_shapes[i]
        rr, cc = rng.integers(0, h, 25), rng.integers(0, w, 25)
        stack[np.full(25, i), rr, cc] = 500 + i
        dense[i, rr, cc] = 500 + i
        stack[i, 1:3, w - 4 : w - 1] = 0
        dense[i, 1:3, w - 4 : w - 1] = 0
        # Whole planes held: at most 2 edited and 3 cached, whatever was touched before.
        assert len(stack._edited) <= 2 and len(stack._cache) <= 3
    stack[1] = dense[1]  # written with what it already has: edited, unchanged
    edited = sorted([*range(0, N_IMAGES, 3), 1])
    assert stack.edited == edited
    for i in [*range(N_IMAGES), *range(N_IMAGES)[::-1]]:  # browse twice: edits come back
        assert np.array_equal(stack[i], dense[i]), i
        assert len(stack._edited) <= 2 and len(stack._cache) <= 3
    assert np.array_equal(np.asarray(stack), dense) and stack.edited == edited
    # The writer reads the same thing from the lazy stack as from its dense copy.
    assert dataset_from_labels(stack, source=meta) == dataset_from_labels(dense, source=meta)


def test_label_stack_byte_budget_keeps_one_plane_at_least(big):
    ds, _ = _source(big)
    stack = LabelStack(ds, cache_bytes=1)  # less than a plane: one whole plane is kept
    dense = np.asarray(LabelStack(ds))
    for i in range(N_IMAGES):
        stack[i, 0, 0] = 7
        dense[i, 0, 0] = 7
        assert len(stack._edited) == 1 and len(stack._cache) <= 1
    assert np.array_equal(np.asarray(stack), dense) and stack.edited == list(range(N_IMAGES))


def test_many_slices_painted_in_a_viewer_are_all_saved(
    make_napari_viewer, big, lazy_thresholds, monkeypatch, tmp_path
):
    from functools import partial

    # A tight budget: every slice painted after the next one is parked as its changed box.
    monkeypatch.setattr(_reader, "LabelStack", partial(LabelStack, cache_size=1, live_edits=1))
    viewer = make_napari_viewer()
    labels = _open(viewer, big)["labels"]
    original = json.loads(big.read_text())
    sizes = [(im["height"], im["width"]) for im in original["images"]]
    slices = [2, 9, 16, 23, 29]
    before = {k: np.asarray(labels.data[k]) for k in slices}
    labels.brush_size = 5
    for j, k in enumerate(slices):
        viewer.dims.set_current_step(0, k)
        value = len(original["annotations"]) + 1 + j
        labels.selected_label = value
        h, w = sizes[k]
        labels.paint((k, h // 2, w // 2), value)
    assert labels.data.edited == slices and len(labels.data._edited) == 1
    painted = {}
    for k in slices:  # browse back: every edit is shown
        viewer.dims.set_current_step(0, k)
        painted[k] = _shown(labels) != before[k]
        assert painted[k].sum() > 5
    out = tmp_path / "many.json"
    labels_layer = viewer.layers[labels.name]
    viewer.layers.selection = {labels_layer}
    viewer.layers.save(str(out), selected=True, plugin=PLUGIN)
    written = json.loads(out.read_text())
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))
    new = [a for a in written["annotations"] if a["id"] > len(original["annotations"])]
    assert sorted(a["image_id"] - 100 for a in new) == slices
    for ann in new:
        k = ann["image_id"] - 100
        h, w = sizes[k]
        assert np.array_equal(coco.annToMask(ann).astype(bool), painted[k][:h, :w])
    touched = {(v, k) for k in slices for v in np.unique(before[k][painted[k]]) if v}
    by_id = {a["id"]: a for a in written["annotations"]}
    for pos, ann in enumerate(original["annotations"]):
        if not any(v == pos + 1 for v, _ in touched):
            assert by_id[ann["id"]] == ann
