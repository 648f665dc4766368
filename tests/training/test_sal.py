import numpy as np
import pytest
import torch

from backend.core.examples import Example
from backend.models.architectures import build_model
from backend.training.sal import ChangePoint, human_masks, interpretability_dice, machine_saliency


def test_change_point_forms():
    assert ChangePoint.parse("40") == ChangePoint("count", 40)
    assert ChangePoint.parse("0.2") == ChangePoint.parse("20%") == ChangePoint("fraction", 0.2)
    assert ChangePoint.parse("auto").kind == "auto"
    for bad in ("soon", "-3", "0"):
        with pytest.raises(ValueError, match="SAL_CHANGE_POINT"):
            ChangePoint.parse(bad)
    assert ChangePoint.parse("0.2").reached(human=20, tasks=100, dice_history=[]) is True
    assert ChangePoint.parse("0.2").reached(human=19, tasks=100, dice_history=[]) is False
    assert ChangePoint.parse("3").reached(human=3, tasks=0, dice_history=[]) is True
    auto = ChangePoint.parse("auto")
    assert auto.reached(0, 0, [0.40, 0.55, 0.556, 0.559]) is True  # two runs in a row with < 0.01 gain
    assert auto.reached(0, 0, [0.40, 0.55, 0.556, 0.59]) is False
    assert auto.reached(0, 0, [0.5, 0.5]) is False  # not enough history


def test_human_masks_from_object_regions_else_boxes():
    image = np.zeros((10, 20, 3), dtype=np.uint8)
    region = np.zeros((10, 20), dtype=bool)
    region[1, 1] = True
    examples = [Example(1, "x", saliency_masks=[region]), Example(2, "x", boxes=[(50.0, 0.0, 100.0, 50.0)]), Example(3, "x", label=0)]
    masks = human_masks(examples, [image] * 3)
    assert masks[0].sum() == 1 and masks[2] is None
    assert masks[1].sum() == 10 * 5 and masks[1][0, 10] and not masks[1][9, 9]


def test_machine_saliency_and_its_dice():
    model = build_model("small_cnn", 2, seed=0)
    inputs = torch.randn(3, 3, 32, 32)
    maps = machine_saliency(model, "small_cnn", inputs, torch.tensor([0, 1, 0]))
    assert maps.shape == (3, 32, 32) and maps.min() >= 0 and maps.max() <= 1
    images = [np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8) for i in range(2)]
    full = [np.ones((32, 32), dtype=bool)] * 2
    dice = interpretability_dice(model, "small_cnn", 32, [Example(1, "x", label=0), Example(2, "x", label=1)], images, full)
    assert dice == pytest.approx(1.0)  # every pixel is the object: the top-N pixels are all inside
