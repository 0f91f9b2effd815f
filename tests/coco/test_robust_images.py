"""Image files: one error type for every read failure, our own pixel limit, paths kept inside."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from napari_coco_masks.coco import CocoError, images
from napari_coco_masks.coco.errors import ImageReadError
from napari_coco_masks.coco.images import (
    find_images,
    image_info,
    read_image,
    resolve_image,
    stack_images,
)


def _png(path: Path, h: int = 6, w: int = 8, value: int = 200) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w), value, dtype=np.uint8)).save(path)
    return path


def _dataset(json_path: Path, *names: str):
    ims = [
        SimpleNamespace(file_name=n, height=6, width=8, id=i + 1, position=i)
        for i, n in enumerate(names)
    ]
    return SimpleNamespace(path=json_path, images=ims)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("junk.png", b"not an image at all"),
        ("junk.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 20),
        ("junk.tif", b"II*\x00" + b"\xff" * 12),
        ("empty.png", b""),
    ],
)
def test_unreadable_files_are_one_error_type(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match="this image could not be read: .*the annotations still open"):
        read_image(path)
    assert issubclass(ImageReadError, CocoError)


def test_truncated_png_is_an_image_read_error(tmp_path):
    path = _png(tmp_path / "t.png", 64, 64)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError):
        read_image(path)


def test_our_pixel_limit_replaces_pil_bomb_check(tmp_path, monkeypatch):
    path = _png(tmp_path / "big.png", 40, 50)
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageReadError, match="limit of 1,000 pixels"):
        image_info(path)
    with pytest.raises(ImageReadError, match="limit"):
        read_image(path)


def test_pil_bomb_error_is_our_message(tmp_path, monkeypatch):
    path = _png(tmp_path / "big.png", 40, 50)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # PIL errors above 2 x this
    with pytest.raises(ImageReadError, match="limit"):
        read_image(path)


def test_stack_turns_unreadable_images_into_one_warning_and_blank_planes(tmp_path):
    good = _png(tmp_path / "a.png")
    bad1 = tmp_path / "b.png"
    bad1.write_bytes(b"garbage")
    bad2 = tmp_path / "c.png"
    bad2.write_bytes(b"")
    for lazy in (False, True):
        with pytest.warns(UserWarning, match="2 image") as rec:
            data, rgb = stack_images([good, bad1, None, bad2], (6, 8), lazy=lazy)
            data = np.asarray(data) if not lazy else None
        if lazy:
            with pytest.warns(UserWarning, match="could not be read"):
                data = np.asarray(stack_images([good, bad1], (6, 8), lazy=True)[0])
            assert data[0].all() and not data[1].any()
        else:
            assert len([r for r in rec if "could not be read" in str(r.message)]) == 1
            assert data[0].all() and not data[1:].any()
            assert "b.png" in str(rec[0].message) and "c.png" in str(rec[0].message)


def test_stack_of_only_unreadable_images_is_none(tmp_path):
    bad = tmp_path / "b.png"
    bad.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="could not be read"):
        assert stack_images([bad], (6, 8), lazy=False) is None


@pytest.mark.parametrize("name", ["../../outside.png", "../../ds/../outside.png", "../outside.png"])
def test_dot_dot_escape_is_refused_with_a_warning(tmp_path, name):
    _png(tmp_path / "outside.png")
    json_path = tmp_path / "ds" / "ann" / "x.json"
    json_path.parent.mkdir(parents=True)
    with pytest.warns(UserWarning, match="dataset folder"):
        assert resolve_image(json_path, name) is None


def test_absolute_path_outside_is_refused_unless_image_root(tmp_path):
    outside = _png(tmp_path / "elsewhere" / "a.png")
    json_path = tmp_path / "ds" / "ann" / "x.json"
    json_path.parent.mkdir(parents=True)
    with pytest.warns(UserWarning, match="not opened"):
        assert resolve_image(json_path, str(outside)) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_image(json_path, str(outside), image_root=tmp_path / "elsewhere") == outside
        assert resolve_image(json_path, "a.png", image_root=tmp_path / "elsewhere") == (
            tmp_path / "elsewhere" / "a.png"
        )


def test_absolute_path_whose_base_name_is_inside_is_found(tmp_path):
    json_path = tmp_path / "ds" / "x.json"
    inside = _png(tmp_path / "ds" / "a.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_image(json_path, "/somewhere/else/a.png") == inside


def test_symlink_pointing_out_is_refused(tmp_path):
    outside = _png(tmp_path / "secret" / "s.png")
    json_path = tmp_path / "ds" / "ann" / "x.json"
    json_path.parent.mkdir(parents=True)
    os.symlink(outside, tmp_path / "ds" / "ann" / "s.png")
    with pytest.warns(UserWarning, match="symlink"):
        assert resolve_image(json_path, "s.png") is None


def test_urls_are_never_opened(tmp_path, monkeypatch):
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network"))
    json_path = tmp_path / "x.json"
    with pytest.warns(UserWarning, match="URL"):
        assert resolve_image(json_path, "http://images.cocodataset.org/val2017/a.jpg") is None


def test_find_images_warns_once_for_all_refused(tmp_path):
    _png(tmp_path / "ds" / "a.png")
    _png(tmp_path / "out.png")
    json_path = tmp_path / "ds" / "sub" / "x.json"
    json_path.parent.mkdir(parents=True)
    ds = _dataset(json_path, "../a.png", "../../out.png", str(tmp_path / "out.png"), "gone.png")
    with pytest.warns(UserWarning, match="2 image file") as rec:
        found = find_images(ds)
    assert found[0] == tmp_path / "ds" / "sub" / ".." / "a.png" and found[1:] == [None] * 3
    assert len(rec) == 1


def test_find_images_inside_the_dataset_still_works(tmp_path):
    a = _png(tmp_path / "images" / "val" / "a.png")
    json_path = tmp_path / "annotations" / "instances_val.json"
    json_path.parent.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert find_images(_dataset(json_path, "a.png", "val/a.png")) == [a, a]


@pytest.mark.parametrize(
    ("shape", "plane"), [((3, 9, 9), (9, 9)), ((2, 3, 4, 5), (4, 5)), ((1, 1), (1, 1)), ((7,), None)]
)
def test_odd_tiff_shapes_read_as_one_2d_plane(tmp_path, shape, plane):
    import tifffile

    path = tmp_path / "odd.tif"
    extra = {"photometric": "minisblack"} if len(shape) > 1 else {}
    tifffile.imwrite(path, np.ones(shape, np.uint8), **extra)
    if plane is None:
        with pytest.raises(ImageReadError, match="not a 2D image"):
            read_image(path)
        return
    arr = read_image(path)
    assert arr.shape == plane
    assert image_info(path) == (plane, 1, np.dtype(np.uint8))


def test_a_tiff_stack_over_the_limit_is_refused_from_its_header(tmp_path, monkeypatch):
    import tifffile

    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.zeros((50, 10, 10), np.uint8))
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 1000)  # one plane is 100 px: the stack 5,000
    with pytest.raises(ImageReadError, match="limit"):
        image_info(path)


def test_a_symlinked_subfolder_pointing_out_is_refused(tmp_path):
    _png(tmp_path / "secret" / "val" / "s.png")
    json_path = tmp_path / "ds" / "annotations" / "x.json"
    json_path.parent.mkdir(parents=True)
    (tmp_path / "ds" / "images").mkdir()
    os.symlink(tmp_path / "secret" / "val", tmp_path / "ds" / "images" / "val")
    with pytest.warns(UserWarning, match="outside the dataset folder"):
        assert find_images(_dataset(json_path, "val/s.png")) == [None]
    assert find_images(_dataset(json_path, "val/s.png"), image_root=tmp_path / "ds" / "images") == [
        tmp_path / "ds" / "images" / "val" / "s.png"
    ]


def test_absolute_path_inside_the_dataset_is_accepted(tmp_path):
    inside = _png(tmp_path / "ds" / "elsewhere" / "a.png")
    json_path = tmp_path / "ds" / "ann" / "x.json"
    json_path.parent.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_image(json_path, str(inside)) == inside
