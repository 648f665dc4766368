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
