"""The numpy brush RLE writes exactly the SDK's bytes and reads back what it wrote."""
import numpy as np
import pytest
from label_studio_sdk.converter.brush import decode_rle, mask2rle

from backend.labelstudio.brush_rle import RLEError, declared_length, mask_to_rle, rle_to_alpha


def _masks():
    rng = np.random.default_rng(0)
    yield rng.integers(0, 256, (37, 23)).astype(np.uint8)  # every value its own run
    yield (rng.random((120, 90)) < 0.03).astype(np.uint8) * 255  # sparse specks
    yield np.zeros((1, 1), np.uint8)
    yield np.full((300, 400), 9, np.uint8)  # one run of 480000 values: pieces of 65536
    for _ in range(10):  # runs of every field size, including exactly 2, 8, 16, 256 and 65536 values
        lengths = rng.choice([1, 2, 4, 16, 64, 16384, 16385, 40000], size=rng.integers(1, 30))
        flat = np.repeat(rng.integers(0, 4, len(lengths)) * 60, lengths).astype(np.uint8)
        yield flat.reshape(1, -1)


@pytest.mark.parametrize("mask", list(_masks()), ids=lambda m: f"{m.shape}")
def test_equal_to_the_sdk_and_round_trips(mask):
    rle = mask_to_rle(mask)
    assert rle == mask2rle(mask)
    assert np.array_equal(rle_to_alpha(rle, *mask.shape), mask)
    assert np.array_equal(decode_rle(rle).reshape(*mask.shape, 4)[..., 3], mask)
    assert declared_length(rle) == mask.size * 4


def test_reading_refuses_a_header_for_another_size_and_runs_past_the_end():
    rle = mask_to_rle(np.zeros((10, 10), np.uint8))
    with pytest.raises(RLEError, match="announces"):
        rle_to_alpha(rle, 20, 20)
    with pytest.raises(RLEError, match="overflow"):
        short = mask_to_rle(np.zeros((10, 10), np.uint8))
        rle_to_alpha([0, 0, 0, 4, *short[4:]], 1, 1)  # the header says one pixel, the run fills a hundred
    with pytest.raises(ValueError):
        mask_to_rle(np.zeros((2, 2, 2), np.uint8))
