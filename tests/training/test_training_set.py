import numpy as np
import torch

from backend.core.examples import Example
from backend.core.superpixels import SuperpixelParams
from backend.training.training_set import LOSS_RESOLUTION, prepare


def _image() -> np.ndarray:
    image = np.zeros((40, 80, 3), dtype=np.uint8)
    image[:, 40:] = 255  # two flat halves: two superpixels
    return image


def test_clicks_boxes_and_labels_become_targets():
    examples = [
        Example(1, "a", label=1, positive=[(25.0, 50.0)], negative=[(75.0, 50.0)]),
        Example(2, "b", label=None, boxes=[(0.0, 0.0, 50.0, 50.0)]),
    ]
    data = prepare(examples, [_image(), _image()], 32, SuperpixelParams(segments=2))
    assert data.inputs.shape == (2, 3, 32, 32) and data.labels.tolist() == [1, -1]
    t = data.targets
    assert t.has_positive.tolist() == [True, False] and torch.allclose(t.positive[0], torch.tensor([0.25, 0.5]))
    assert t.has_negative.tolist() == [True, False]
    assert t.negative[0, :, 20:].mean() == 1.0 and t.negative[0, :, :12].sum() == 0  # the right half is ignored
    assert t.has_box.tolist() == [False, True] and t.box[1, :16, :16].mean() == 1.0 and t.box[1, 16:, :].sum() == 0
    assert data.pixel_boxes == [None, (0, 0, 16, 16)]
    assert torch.equal(t.saliency[1], t.box[1])  # a box is the saliency where no object region was given


def test_given_saliency_replaces_the_box_and_targets_stay_small():
    example = Example(1, "a", label=0, boxes=[(0.0, 0.0, 10.0, 10.0)])
    saliency = np.zeros((40, 80), dtype=np.float32)
    saliency[20:, 40:] = 1.0
    data = prepare([example], [_image()], 128, saliency=[saliency])
    assert data.targets.saliency.shape[-1] == LOSS_RESOLUTION
    assert data.targets.saliency[0, -1, -1] == 1.0 and data.targets.saliency[0, 0, 0] == 0.0
    picked = data.subset(torch.tensor([0, 0]))
    assert len(picked) == 2 and picked.pixel_boxes == [data.pixel_boxes[0]] * 2


def test_objects_and_ignored_regions_at_model_size():
    examples = [
        Example(1, "a", label=0, boxes=[(0.0, 0.0, 50.0, 50.0)]),  # a box: the object, and all outside it ignored
        Example(2, "b", label=1, positive=[(75.0, 50.0)], negative=[(25.0, 50.0)]),  # clicks: grown object, one ignored cell
        Example(3, "c", label=0),
    ]
    data = prepare(examples, [_image()] * 3, 16, SuperpixelParams(segments=2))
    assert data.objects.dtype == torch.bool and data.objects.shape == (3, 16, 16)
    assert data.objects[0, :8, :8].all() and not data.objects[0, 8:].any() and torch.equal(data.ignore[0], ~data.objects[0])
    assert data.objects[1, :, 10:].all() and not data.objects[1, :, :6].any()  # grown over the white half only
    assert data.ignore[1, :, :6].all() and not data.ignore[1, :, 10:].any()
    assert not data.objects[2].any() and not data.ignore[2].any()


def test_growing_from_a_click_stops_where_the_colour_changes():
    from backend.core.superpixels import compute_superpixels
    from backend.training.training_set import grow_from_clicks

    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(60, 8, (64, 64, 3)), 0, 255).astype(np.uint8)
    image[16:48, 16:48] = np.clip(rng.normal(190, 8, (32, 32, 3)), 0, 255).astype(np.uint8)  # the object
    grown = grow_from_clicks(image, compute_superpixels(image, SuperpixelParams(segments=64)), [(50.0, 50.0)])
    truth = np.zeros((64, 64), dtype=bool)
    truth[16:48, 16:48] = True
    assert (grown & truth).sum() / truth.sum() > 0.9 and (grown & ~truth).sum() / (~truth).sum() < 0.05
