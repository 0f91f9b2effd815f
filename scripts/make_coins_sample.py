"""Regenerate the bundled sample: scikit-image's coins photo and a COCO file of its coins.

The coins are segmented with the classic scikit-image recipe (Sobel elevation map flooded from
markers below 30 and above 150, holes filled), then split by area into two categories. Run with
``.venv/bin/python scripts/make_coins_sample.py``; it rewrites src/napari_coco_masks/data/coins.*.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import skimage.data
from scipy import ndimage as ndi
from skimage import data, filters, measure, morphology, segmentation

from napari_coco_masks.coco.encode import encode_labels

OUT = Path(__file__).resolve().parents[1] / "src" / "napari_coco_masks" / "data"


def coin_labels(image: np.ndarray) -> np.ndarray:
    """Label the coins of scikit-image's coins photo."""
    elevation = filters.sobel(image)
    markers = np.zeros_like(image, dtype=np.uint8)
    markers[image < 30] = 1
    markers[image > 150] = 2
    mask = segmentation.watershed(elevation, markers) == 2
    mask = ndi.binary_fill_holes(mask)
    mask = morphology.remove_small_objects(mask, max_size=100)
    return measure.label(mask).astype(np.int32)


def main() -> None:
    image = data.coins()
    labels = coin_labels(image)
    encoded = encode_labels(labels, mode="auto")
    areas = np.array([encoded[v]["area"] for v in sorted(encoded)])
    cut = float(np.median(areas))
    categories = [
        {"id": 1, "name": "small coin", "supercategory": "coin"},
        {"id": 2, "name": "large coin", "supercategory": "coin"},
    ]
    annotations = [
        {
            "id": k,
            "image_id": 1,
            "category_id": 1 if enc["area"] < cut else 2,
            "iscrowd": 0,
            **enc,
        }
        for k, enc in enumerate((encoded[v] for v in sorted(encoded)), start=1)
    ]
    dataset = {
        "info": {
            "description": "Greek coins from Pompeii (scikit-image sample), coins segmented "
            "with scikit-image's watershed recipe",
            "version": "1.0",
            "year": 2026,
            "contributor": "napari-coco-masks",
        },
        "licenses": [
            {
                "id": 1,
                "name": "Public domain (Brooklyn Museum, via scikit-image)",
                "url": "",
            }
        ],
        "images": [
            {
                "id": 1,
                "file_name": "coins.png",
                "height": int(image.shape[0]),
                "width": int(image.shape[1]),
                "license": 1,
            }
        ],
        "categories": categories,
        "annotations": annotations,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(skimage.data.__file__).parent / "coins.png", OUT / "coins.png")
    (OUT / "coins.json").write_text(json.dumps(dataset, indent=1) + "\n")
    print(f"{len(annotations)} coins written to {OUT / 'coins.json'}")


if __name__ == "__main__":
    main()
