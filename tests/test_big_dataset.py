"""A multi-image dataset in a real viewer: one image at a time, edits kept per image, saved.

The dataset is a few dozen images of mixed sizes (both orientations). Every file takes the same
path: lazy labels with per-image values, Shapes and Points holding the shown image only (the
memory is measured by benchmarks/bench_big_dataset.py and bench_train_scale.py in subprocesses).
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

from coco_testing import per_image_labels
from napari_coco_masks.coco import load_coco
from napari_coco_masks.coco.session import CocoSession, LabelPlanes

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


def _open(viewer, path: Path) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = viewer.open(str(path), plugin=PLUGIN)
    return {layer._type_string: layer for layer in layers}


def _shown(layer) -> np.ndarray:
    """The 2D data the layer shows for the current slider position."""
    return np.asarray(layer._slice.image.raw)



def _masks(path: Path) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    return {  # bbox-only records ("segmentation": []) make annToMask raise
        a["id"]: coco.annToMask(a).astype(bool) for a in coco.dataset["annotations"]
        if a["segmentation"]
    }


@pytest.mark.parametrize("lazy_images", [False, True])
def test_browse_shows_one_image_at_a_time(make_napari_viewer, big, monkeypatch, lazy_images):
    from napari_coco_masks import _reader
    from napari_coco_masks.coco.stacks import ImagePlanes

    if lazy_images:  # the stack a dataset of more than EAGER_IMAGES images gets
        monkeypatch.setattr(_reader, "EAGER_IMAGES", 8)
    viewer = make_napari_viewer()
    layers = _open(viewer, big)
    labels, image, shapes = layers["labels"], layers["image"], layers["shapes"]
    original = json.loads(big.read_text())
    sizes = [(im["height"], im["width"]) for im in original["images"]]
    height, width = max(h for h, _ in sizes), max(w for _, w in sizes)
    assert isinstance(labels.data, LabelPlanes) and labels.data.edited == []
    assert labels.data.shape == (N_IMAGES, height, width)
    assert image.data.shape == (N_IMAGES, height, width, 3) and image.rgb
    assert isinstance(image.data, ImagePlanes) == lazy_images
    parsed = load_coco(big)
    for i in [*range(N_IMAGES), 0]:
        viewer.dims.set_current_step(0, i)
        h, w = sizes[i]
        anns = parsed.image_annotations(i)
        shown, pixels = _shown(labels), _shown(image)
        assert np.array_equal(shown[:h, :w], per_image_labels(parsed, i))
        assert not shown[h:].any() and not shown[:, w:].any()
        file = np.asarray(Image.open(big.parent / original["images"][i]["file_name"]))
        assert np.array_equal(pixels[:h, :w], file) and not pixels[h:].any()
        # the features, colours and polygons are this image's
        assert labels.features["annotation_id"].tolist() == [a.id for a in anns]
        assert labels.features["index"].tolist() == list(range(1, len(anns) + 1))
        assert set(labels.colormap.color_dict) >= set(range(len(anns) + 1))
        polygons = [a for a in anns if a.kind in ("polygon", "bbox")]
        assert len(shapes.data) == len(polygons)
        assert {int(v[0, 0]) for v in shapes.data} == {i}
        assert set(shapes.features["image_id"]) == {100 + i}
        # hover: the value under a pixel of an instance names that instance
        value = int(shown[:h, :w].max())
        row = labels.features[labels.features["index"] == value]
        assert row["annotation_id"].item() == anns[value - 1].id
    assert labels.data.edited == [] and labels.metadata["coco"]["session"].edited_images() == []


def test_edit_three_images_come_back_save_and_reopen(make_napari_viewer, big, tmp_path):
    viewer = make_napari_viewer()
    layers = _open(viewer, big)
    labels, shapes = layers["labels"], layers["shapes"]
    original = json.loads(big.read_text())
    sizes = [(im["height"], im["width"]) for im in original["images"]]
    ids = {a["id"] for a in original["annotations"]}

    # image 4: paint a new instance on the background corner
    viewer.dims.set_current_step(0, 4)
    new_value = int(labels.features["index"].max()) + 1
    labels.selected_label = new_value
    labels.brush_size = 5
    h4, w4 = sizes[4]
    before4 = np.asarray(labels.data[4]).copy()
    labels.paint((4, h4 - 12, 8), new_value)
    painted = np.asarray(labels.data[4]) != before4
    assert painted.sum() > 5 and set(np.unique(before4[painted])) <= {0}
    # image 9: delete its first polygon
    viewer.dims.set_current_step(0, 9)
    deleted = int(shapes.features["annotation_id"][0])
    shapes.selected_data = {0}
    shapes.remove_selected()
    # image 17: move one vertex of its first polygon by 1 pixel
    viewer.dims.set_current_step(0, 17)
    moved = int(shapes.features["annotation_id"][0])
    data = [np.asarray(d).copy() for d in shapes.data]
    data[0][0, 1:] += 1.0
    shapes.data = data
    shapes.shape_type = ["polygon"] * (len(data) - 1) + [shapes.shape_type[-1]]

    # browse away and back: every edit is still there
    for k in (0, 4, 9, 17, 25):
        viewer.dims.set_current_step(0, k)
    viewer.dims.set_current_step(0, 4)
    assert np.array_equal(_shown(labels)[painted], np.full(painted.sum(), new_value))
    viewer.dims.set_current_step(0, 9)
    assert deleted not in shapes.features["annotation_id"].tolist()
    viewer.dims.set_current_step(0, 17)
    assert np.allclose(shapes.data[0][0], data[0][0])
    session = labels.metadata["coco"]["session"]
    assert session.edited_images() == [4, 9, 17]

    out = tmp_path / "saved.json"
    viewer.layers.selection = {labels, shapes}
    assert viewer.layers.save(str(out), selected=True, plugin=PLUGIN) == [str(out)]
    written = json.loads(out.read_text())
    by_id = {a["id"]: a for a in written["annotations"]}
    new = [a for a in written["annotations"] if a["id"] not in ids]
    assert len(new) == 1 and new[0]["image_id"] == 104 and new[0]["id"] == max(ids) + 1
    masks = _masks(out)
    assert np.array_equal(masks[new[0]["id"]], painted[:h4, :w4])
    assert deleted not in by_id
    orig = {a["id"]: a for a in original["annotations"]}
    assert by_id[moved]["segmentation"][0][:2] == pytest.approx(
        [orig[moved]["segmentation"][0][0] + 1, orig[moved]["segmentation"][0][1] + 1]
    )
    changed = [i for i in orig if i in by_id and by_id[i] != orig[i]]
    assert changed == [moved]  # every other record as it was
    # minimal diff: the untouched records keep their bytes
    text = big.read_bytes()
    src = load_coco(big).source
    saved = out.read_bytes()
    for k, a in enumerate(original["annotations"]):
        if a["id"] not in (deleted, moved):
            assert text[src.start[k] : src.stop[k]] in saved

    # reopen: the edits are in place, pixel-exact
    reopened = _open(viewer, out)
    viewer.dims.set_current_step(0, 4)
    again = CocoSession(load_coco(out))
    plane = again.label_plane(4)
    value = [a.id for a in again.annotations(4)].index(new[0]["id"]) + 1
    assert np.array_equal(plane == value, painted[:h4, :w4])
    assert reopened["labels"].data.shape[0] == N_IMAGES


def test_more_than_65536_annotations_open_without_numba(make_napari_viewer, tmp_path):
    import importlib.util

    assert importlib.util.find_spec("numba") is None  # the crash needed numba to be avoided
    n_images, per_image = 700, 100  # 70,000 annotations
    images = [{"id": i + 1, "file_name": f"{i}.png", "height": 64, "width": 64}
              for i in range(n_images)]
    anns = []
    for im in images:
        for j in range(per_image):
            x, y = (j % 10) * 6, (j // 10) * 6
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": 1,
                         "segmentation": [[x, y, x + 5, y, x + 5, y + 5, x, y + 5]],
                         "area": 25.0, "bbox": [x, y, 5, 5], "iscrowd": 0})
    path = tmp_path / "many.json"
    path.write_text(json.dumps({"images": images, "annotations": anns,
                                "categories": [{"id": 1, "name": "cell"}]}))
    viewer = make_napari_viewer(show=True)
    layers = _open(viewer, path)
    labels = layers["labels"]
    viewer.dims.set_current_step(0, n_images - 1)
    assert labels.features["annotation_id"].tolist() == list(range(69_901, 70_001))
    assert int(np.asarray(labels.data[n_images - 1]).max()) == per_image
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot[..., :3].std() > 10  # drawn, not a crash or a black canvas


def test_a_slider_step_draws_what_a_full_refresh_draws(make_napari_viewer, big):
    """The swap runs before napari slices, with the layers' refreshes held back: the canvas must
    still show the new image's labels, colours and polygons (a stale layer would differ)."""
    viewer = make_napari_viewer(show=True)
    layers = _open(viewer, big)
    viewer.reset_view()
    parsed = load_coco(big)
    shots = []
    for i in [7, 3, 12]:
        viewer.dims.set_current_step(0, i)
        stepped = viewer.screenshot(canvas_only=True, flash=False)
        for layer in layers.values():
            layer.refresh()
        refreshed = viewer.screenshot(canvas_only=True, flash=False)
        assert stepped[..., :3].std() > 10  # drawn, not black
        assert np.array_equal(stepped, refreshed), f"image {i}: the step left a layer stale"
        shown = _shown(layers["labels"])
        assert np.array_equal(shown[: SIZES[i % 6][0], : SIZES[i % 6][1]],
                              per_image_labels(parsed, i))
        shots.append(stepped)
    assert not np.array_equal(shots[0], shots[1])  # the images differ, so the check can fail


def test_label_feature_edits_in_place_survive_the_slider(make_napari_viewer, big):
    """A feature table edited in place (as napari's table widgets do) is kept per image."""
    viewer = make_napari_viewer()
    labels = _open(viewer, big)["labels"]
    viewer.dims.set_current_step(0, 2)
    before = labels.features["category_id"].tolist()
    labels.features.loc[0, "category_id"] = 3 - before[0]  # 1 <-> 2, in place
    viewer.dims.set_current_step(0, 5)
    assert labels.features["image_id"].eq(105).all()
    viewer.dims.set_current_step(0, 2)
    assert labels.features["category_id"].tolist() == [3 - before[0], *before[1:]]
    viewer.dims.set_current_step(0, 4)  # an image left as it was stays unedited
    viewer.dims.set_current_step(0, 2)
    session = labels.metadata["coco"]["session"]
    assert session.edited_images() == [2]


def test_label_planes_keep_few_whole_planes_and_every_edit(big):
    session = CocoSession(load_coco(big))
    dense = np.asarray(LabelPlanes(session))
    stack = LabelPlanes(session, cache_size=3, live_edits=2)
    rng = np.random.default_rng(0)
    shapes = session.dataset.image_shapes
    for i in range(0, N_IMAGES, 3):  # brush-like fancy writes, a box write
        h, w = shapes[i]
        rr, cc = rng.integers(0, h, 25), rng.integers(0, w, 25)
        stack[np.full(25, i), rr, cc] = 500 + i
        dense[i, rr, cc] = 500 + i
        stack[i, 1:3, w - 4 : w - 1] = 0
        dense[i, 1:3, w - 4 : w - 1] = 0
        assert len(stack._edited) <= 2 and len(stack._cache) <= 3
    stack[1] = dense[1]  # written with what it already has: edited, unchanged
    edited = sorted([*range(0, N_IMAGES, 3), 1])
    assert stack.edited == edited
    for i in [*range(N_IMAGES), *range(N_IMAGES)[::-1]]:  # browse twice: edits come back
        assert np.array_equal(stack[i], dense[i]), i
        assert len(stack._edited) <= 2 and len(stack._cache) <= 3
    assert np.array_equal(np.asarray(stack), dense) and stack.edited == edited


def test_save_over_the_source_with_parked_edits_then_browse(make_napari_viewer, big):
    """More edited images than are kept whole (parked edits), saved over the file the layers
    read: every image then reads the new bytes, painted instances have their new ids."""
    viewer = make_napari_viewer()
    layers = _open(viewer, big)
    labels = layers["labels"]
    session = labels.metadata["coco"]["session"]
    top = max(int(v) for v in session.dataset.annotation_ids)
    edited = list(range(0, N_IMAGES, 3))  # 10 images: more than LIVE_EDITS
    painted = {}
    for i in edited:
        viewer.dims.set_current_step(0, i)
        value = int(labels.features["index"].max()) + 1
        labels.selected_label = value
        labels.brush_size = 3
        h, _ = SIZES[i % len(SIZES)]
        before = np.asarray(labels.data[i]).copy()
        labels.paint((i, h - 3, 2), value)
        painted[i] = (np.asarray(labels.data[i]) != before)
    assert len(labels.data._parked) > 0 and session.edited_images() == edited
    viewer.dims.set_current_step(0, 5)
    viewer.layers.selection = {labels, layers["shapes"]}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # never "changed on disk" / "shown empty"
        assert viewer.layers.save(str(big), selected=True, plugin=PLUGIN) == [str(big)]
        assert session.edited_images() == [] and session.current == 5
        saved = load_coco(big)
        new = [a for a in saved.annotation_ids.tolist() if a > top]
        assert len(new) == len(edited)
        masks = _masks(big)
        for i in [*range(N_IMAGES), 5]:
            viewer.dims.set_current_step(0, i)
            h, w = SIZES[i % len(SIZES)]
            assert np.array_equal(_shown(labels)[:h, :w], per_image_labels(saved, i))
            assert labels.features["annotation_id"].tolist() == [
                a.id for a in saved.image_annotations(i)]
            if i in painted:
                mine = next(a.id for a in saved.image_annotations(i) if a.id > top)
                assert np.array_equal(masks[mine], painted[i][:h, :w])
