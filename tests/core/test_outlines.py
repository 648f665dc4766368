import numpy as np
from skimage import data

from backend.core.outlines import level_outlines, mask_outline, polygon_mask
from backend.core.superpixels import SuperpixelParams, compute_superpixels


def test_every_superpixel_outline_rasterises_back_to_the_segment():
    segments = compute_superpixels(data.astronaut(), SuperpixelParams())
    for segment in range(segments.count):
        mask = segments.labels == segment
        outline = mask_outline(mask)
        assert outline.min() >= 0 and outline.max() <= 1 and len(outline) < mask.sum()
        assert np.array_equal(polygon_mask(outline, mask.shape), mask)
    assert mask_outline(np.zeros((5, 5), bool)) is None


def test_level_outlines_nest_and_stay_short():
    y, x = np.mgrid[0:64, 0:64]
    bump = np.exp(-((x - 40) ** 2 + (y - 20) ** 2) / 200.0).astype(np.float32)
    found = level_outlines(bump, [0.2, 0.5, 0.8], points=48)
    assert [level for level, _ in found] == [0, 1, 2]
    areas = [polygon_mask(points, (64, 64)).sum() for _, points in found]
    assert areas[0] > areas[1] > areas[2] > 0 and all(len(points) <= 48 for _, points in found)
    inner = polygon_mask(found[2][1], (64, 64))
    assert inner[20, 40] and (polygon_mask(found[0][1], (64, 64)) | ~inner).all()  # the peak, inside every level
