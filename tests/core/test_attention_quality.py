import numpy as np
import pytest

from backend.core.attention_quality import dice_top_n, fraction_outside, pointing_game
from backend.core.maps import pixel_box_mask


def test_pointing_game():
    mask = np.zeros((8, 8), dtype=bool)
    mask[2:4, 2:4] = True
    attention = np.zeros((8, 8))
    attention[3, 3] = 1.0
    assert pointing_game(attention, mask)
    attention[7, 7] = 2.0
    assert not pointing_game(attention, mask)


def test_dice_of_top_n_pixels():
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, :] = True  # 4 pixels
    attention = np.zeros((4, 4))
    attention[0, :2] = 1.0
    attention[3, :2] = 0.9  # top-4 = two inside, two outside
    assert dice_top_n(attention, mask) == pytest.approx(0.5)
    assert dice_top_n(mask.astype(float), mask) == 1.0
    assert dice_top_n(attention, np.zeros((4, 4), dtype=bool)) == 0.0


def test_fraction_outside_box():
    attention = np.zeros((10, 10))
    attention[0, 0] = 1.0
    attention[5, 5:8] = 0.5
    attention[9, 9] = 0.1  # below the 0.2 threshold
    region = pixel_box_mask((4, 4, 9, 9), (10, 10))
    assert region.sum() == 25
    assert fraction_outside(attention, region) == pytest.approx(0.25)
    assert fraction_outside(np.zeros((10, 10)), region) == 0.0
