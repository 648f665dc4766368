import copy

import numpy as np
import pytest
import torch
from PIL import Image

from backend.training import trainer
from backend.training.pseudo_objects import AGREEMENT, PseudoObjects, attention_masks, iou, pseudo_objects
from backend.training.trainer import TrainConfig, fine_tune
from tests.training.test_trainer import ANNOTATED, annotated  # noqa: F401  (the fixture)


def _true_masks(data):
    return torch.from_numpy(np.stack([np.asarray(Image.open(s.mask)) > 0 for s in data.splits["train"][ANNOTATED:]]))


def test_iou_of_masks():
    a = torch.zeros(2, 4, 4, dtype=torch.bool)
    b = torch.zeros(2, 4, 4, dtype=torch.bool)
    a[0, :2], b[0, 1:3] = True, True
    assert iou(a, b).tolist() == [pytest.approx(1 / 3), 0.0]


def test_a_model_on_the_cue_gets_no_masks_and_a_guided_one_gets_masks_on_the_objects(biased, annotated):  # noqa: F811
    data, base = biased
    _, boxes, extra = annotated
    truth = _true_masks(data)
    on_cue = pseudo_objects(base, "small_cnn", boxes.inputs, boxes.objects, boxes.labels, *extra)
    assert on_cue.agreement < AGREEMENT and on_cue.kept == 0 and not on_cue.masks.any()
    guided = copy.deepcopy(base)
    fine_tune(guided, "small_cnn", boxes, TrainConfig(loss="auto", steps=30, batch_size=16, unlabeled_batch=16), extra=extra)
    found = pseudo_objects(guided, "small_cnn", boxes.inputs, boxes.objects, boxes.labels, *extra)
    kept = found.masks.flatten(1).any(1)
    assert found.agreement >= AGREEMENT and 0 < found.kept == int(kept.sum()) < len(extra[1])
    raw, confidence = attention_masks(guided, "small_cnn", *extra)
    assert (confidence[kept] >= 0.9).all()
    unknown = pseudo_objects(guided, "small_cnn", boxes.inputs, boxes.objects, boxes.labels, extra[0],
                             torch.full_like(extra[1], -1))
    assert unknown.agreement == found.agreement and unknown.kept == 0  # no class, no trusted object
    # the guards keep the better masks: closer to the true objects than the model's attention on all images
    assert iou(found.masks[kept], truth[kept]).mean() > max(0.5, iou(raw, truth).mean())


def test_no_annotated_object_means_no_masks(biased, annotated):  # noqa: F811
    _, base = biased
    clicks, _, extra = annotated
    found = pseudo_objects(base, "small_cnn", clicks.inputs, torch.zeros_like(clicks.objects), clicks.labels, *extra)
    assert found.kept == 0 and found.masks.shape == (len(extra[1]), 64, 64)


def test_fine_tune_swaps_the_extra_images_from_half_way_once_masks_are_trusted(biased, annotated, monkeypatch):  # noqa: F811
    _, base = biased
    _, boxes, extra = annotated
    masks = torch.zeros((len(extra[1]), 64, 64), dtype=torch.bool)
    masks[:, 20:40, 20:40] = True
    asked, swapped = [], []
    monkeypatch.setattr(trainer, "pseudo_objects", lambda *a, **k: asked.append(len(a[6])) or PseudoObjects(masks, 0.6, len(masks)))
    swap = trainer.swap_backgrounds
    monkeypatch.setattr(trainer, "swap_backgrounds", lambda images, objects, *a: swapped.append(objects.flatten(1).any(1).all()) or swap(images, objects, *a))
    config = TrainConfig(loss="ce", steps=4, batch_size=8, unlabeled_batch=8, pseudo_objects=True)
    fine_tune(copy.deepcopy(base), "small_cnn", boxes, config, extra=extra)
    assert asked == [len(extra[1])]  # once, at step 2 of 4
    assert swapped == [True, True]  # the extra batches of steps 2 and 3, every image with its mask
