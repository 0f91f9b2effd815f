"""Read, write, segment and measure COCO instance masks in napari.

The pure core lives in :mod:`napari_coco_masks.coco` (the COCO model) and
:mod:`napari_coco_masks.segment` (segmentation and measurement on numpy/dask arrays);
neither imports napari or Qt. The napari adapters (reader, writer, widgets, sample data)
sit on top of them.
"""

__version__ = "0.1.0"
