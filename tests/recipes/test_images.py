"""Reading the inputs of a batch: TIFF layouts, OME pixel sizes, which pixel size wins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_coco_masks.recipes.images import convert_length, read_input, resolve_spacing

RGB = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("data", "kwargs", "expected", "rgb"),
    [
        (RGB, {"photometric": "rgb"}, RGB, True),
        (np.moveaxis(RGB, -1, 0), {"photometric": "rgb", "planarconfig": "separate"}, RGB, True),
        (np.stack([RGB] * 4), {"photometric": "rgb"}, np.stack([RGB] * 4), True),
        (RGB[..., 0], {}, RGB[..., 0], False),
        (np.stack([RGB[..., 0]] * 5), {"photometric": "minisblack"}, np.stack([RGB[..., 0]] * 5),
         False),
    ],
    ids=["rgb", "planar-rgb", "z-rgb", "grey", "z-stack"],
)
def test_tiff_layouts(tmp_path: Path, data, kwargs, expected, rgb: bool) -> None:
    tifffile.imwrite(tmp_path / "x.tif", data, **kwargs)
    image = read_input(tmp_path / "x.tif")
    np.testing.assert_array_equal(image.data, expected)
    assert image.rgb == rgb and image.spacing is None


def test_ome_3d_pixel_size_in_one_unit(tmp_path: Path) -> None:
    volume = np.zeros((4, 10, 12), np.uint16)
    tifffile.imwrite(tmp_path / "v.ome.tif", volume, ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeZ": 2.0, "PhysicalSizeZUnit": "µm",
        "PhysicalSizeY": 250.0, "PhysicalSizeYUnit": "nm",
        "PhysicalSizeX": 250.0, "PhysicalSizeXUnit": "nm"})  # fmt: skip
    image = read_input(tmp_path / "v.ome.tif")
    assert image.units == "nm"
    np.testing.assert_allclose(image.spacing, (2000.0, 250.0, 250.0))
    # in a recipe of µm; --spacing wins; a recipe's spacing only for files without one
    assert resolve_spacing(image, override=None, recipe_spacing=(9.0,), recipe_units="µm") == (
        pytest.approx((2.0, 0.25, 0.25)), "µm")
    assert resolve_spacing(image, override=(1.0,), recipe_spacing=None, recipe_units="µm") == (
        (1.0, 1.0, 1.0), "µm")
    assert resolve_spacing(image, override=None, recipe_spacing=None, recipe_units=None) == (
        pytest.approx((2000.0, 250.0, 250.0)), "nm")
    image.spacing = None
    assert resolve_spacing(image, override=None, recipe_spacing=(3.0,), recipe_units="µm") == (
        (3.0, 3.0, 3.0), "µm")
    assert resolve_spacing(image, override=None, recipe_spacing=None, recipe_units=None) == (
        (1.0, 1.0, 1.0), None)
    with pytest.raises(ValueError, match="--spacing has 2 values for a 3D image: give one or 3"):
        resolve_spacing(image, override=(1.0, 2.0), recipe_spacing=None, recipe_units=None)


def test_convert_length() -> None:
    assert convert_length(500.0, "nm", "µm") == pytest.approx(0.5)
    assert convert_length(1.0, "mm", "um") == pytest.approx(1000.0)
    assert convert_length(1.0, "pixel", "µm") is None
