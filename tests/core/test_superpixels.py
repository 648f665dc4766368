import numpy as np
import pytest

from backend.core.superpixels import SuperpixelParams, compute_superpixels, working_shape


@pytest.mark.parametrize("method", ["slic", "felzenszwalb"])
def test_deterministic_and_gapless(rgb_image, method):
    first = compute_superpixels(rgb_image, SuperpixelParams(method, segments=16))
    second = compute_superpixels(rgb_image.copy(), SuperpixelParams(method, segments=16))
    assert np.array_equal(first.labels, second.labels)
    assert set(np.unique(first.labels)) == set(range(first.count))
    assert first.count > 1


def test_click_in_percent_maps_to_the_same_segment_at_any_size():
    image = np.zeros((200, 300, 3), dtype=np.uint8)
    image[:, 150:] = 255  # two flat halves
    sp = compute_superpixels(image, SuperpixelParams("slic", segments=4, work_size=100))
    assert sp.labels.shape == working_shape(200, 300, 100) == (67, 100)
    left, right = sp.segment_at(10, 50), sp.segment_at(90, 50)
    assert left != right
    mask = sp.mask([right], size=(200, 300))
    assert mask.shape == (200, 300) and mask[100, 280] and not mask[100, 20]


def test_point_outside_the_image_is_an_error(rgb_image):
    sp = compute_superpixels(rgb_image, SuperpixelParams("slic", segments=8))
    with pytest.raises(ValueError, match="outside"):
        sp.segment_at(101, 50)
    with pytest.raises(ValueError, match="unknown superpixel"):
        compute_superpixels(rgb_image, SuperpixelParams("watershed"))


def test_mean_per_segment(rgb_image):
    sp = compute_superpixels(rgb_image, SuperpixelParams("slic", segments=8))
    values = (sp.labels == 0).astype(float)
    means = sp.mean_per_segment(values)
    assert means[0] == 1.0 and np.all(means[1:] == 0.0)
