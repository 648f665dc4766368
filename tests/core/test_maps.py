import numpy as np
import pytest

from backend.core.maps import box_mask, box_pixels, downsample_maps, mask_box, pixel_box_mask, resize_map, resize_mask


def test_box_pixels_cover_every_touched_pixel_in_each_unit():
    assert box_pixels((10.0, 20.0, 30.0, 40.0), (50, 100), unit=100) == (10, 10, 30, 20)  # percent
    assert box_pixels((0.101, 0.2, 0.299, 0.41), (50, 100), unit=1) == (10, 10, 30, 21)  # fractions: partial pixels count
    assert box_pixels((2.5, 3.0, 7.2, 9.0), (20, 20)) == (2, 3, 8, 9)  # pixels
    assert box_pixels((5.0, 5.0, 5.0, 5.0), (20, 20)) == (5, 5, 6, 6)  # never empty
    assert box_pixels((-3.0, -1.0, 4.0, 4.0), (20, 20)) == (0, 0, 4, 4)


def test_box_masks_agree_with_box_pixels_and_union_several_boxes():
    mask = box_mask([(0, 0, 25, 50), (75, 50, 100, 100)], (8, 8), unit=100)
    assert mask.sum() == 8 + 8 and mask[0, 0] and mask[7, 7] and not mask[0, 7]
    assert np.array_equal(pixel_box_mask((1, 2, 4, 6), (8, 8)), box_mask([(1 / 8, 2 / 8, 4 / 8, 6 / 8)], (8, 8), unit=1))
    assert mask_box(pixel_box_mask((1, 2, 4, 6), (8, 8))) == (1, 2, 4, 6)


def test_resize_map_and_mask():
    values = np.arange(16, dtype=np.float32).reshape(4, 4)
    assert resize_map(values, 4, 4) is values
    bigger = resize_map(values, 8, 12)
    assert bigger.shape == (8, 12) and bigger.dtype == np.float32
    assert bigger.min() >= values.min() and bigger.max() <= values.max()
    mask = np.zeros((4, 4), dtype=bool)
    mask[:2, :2] = True
    assert np.array_equal(resize_mask(mask, 8, 8), np.kron(mask, np.ones((2, 2), dtype=bool)))


def test_downsample_maps_averages_blocks():
    maps = np.zeros((2, 16, 16), dtype=np.float32)
    maps[0, :8, :8] = 1.0
    maps[1, 0, 0] = 4.0
    small = downsample_maps(maps, 2)
    assert small.shape == (2, 2, 2) and small.dtype == np.float32
    assert small[0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert small[1, 0, 0] == pytest.approx(4.0 / 64)
