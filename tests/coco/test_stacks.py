"""The lazy image stack: each image read when shown, padded, unreadable ones black with a warning."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_coco_masks.coco.stacks import ImagePlanes, lazy_image_stack


def _png(path, h, w, value):
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(path)
    return path


def test_planes_are_the_files_padded(tmp_path):
    paths = [_png(tmp_path / "a.png", 4, 6, 10), None, _png(tmp_path / "c.png", 5, 3, 30)]
    stack, rgb = lazy_image_stack(paths, (5, 6))
    assert rgb and stack.shape == (3, 5, 6, 3) and stack.dtype == np.uint8
    assert (stack[0][:4, :6] == 10).all() and not stack[0][4:].any()
    assert not stack[1].any()  # missing: black
    assert (stack[2, :5, :3] == 30).all() and not stack[2, :, 3:].any()
    assert stack[0:3:2, 0, 0, 0].tolist() == [10, 30]
    assert stack[np.array([2, 0])].shape == (2, 5, 6, 3)
    assert np.array_equal(np.asarray(stack)[2], stack[2])
    with pytest.raises(IndexError):
        stack[3]


def test_an_unreadable_image_warns_once_and_is_black(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    stack = ImagePlanes([_png(tmp_path / "a.png", 4, 4, 7), bad], (4, 4), 3, np.uint8)
    with pytest.warns(UserWarning, match="bad.png.*the annotations still open"):
        assert not stack[1].any()
    stack._cache.clear()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not stack[1].any()  # shown again: no second warning
    assert list(stack.unreadable) == [1]


def test_no_readable_image_gives_no_stack(tmp_path):
    assert lazy_image_stack([None, None], (4, 4)) is None
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    assert lazy_image_stack([bad], (4, 4)) is None
