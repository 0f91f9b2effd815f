"""napari dock widgets (thin adapters over :mod:`napari_coco_masks.segment`)."""
