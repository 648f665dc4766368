import numpy as np
import torch

from backend.core.attention_quality import fraction_outside
from backend.core.maps import pixel_box_mask, resize_map
from backend.models.inference import cam_outputs, model_cam, to_batch
from backend.training.training_set import TrainingSet
from backend.training.validation import MIN_EXAMPLES, evaluate, holdout_split


def test_the_same_tasks_are_held_out_in_every_run_and_both_sides_keep_one():
    ids = list(range(40))
    train, held = holdout_split(ids, 0.2)
    assert sorted(train + held) == ids and 2 <= len(held) <= 16
    assert holdout_split(ids + [99, 100], 0.2)[1][: len(held)] == held  # new annotations do not reshuffle the old
    assert holdout_split(ids[: MIN_EXAMPLES - 1], 0.2) == (list(range(MIN_EXAMPLES - 1)), [])
    assert holdout_split(ids, 0.0)[1] == []
    few_train, few_held = holdout_split(ids[:MIN_EXAMPLES], 0.2)
    assert len(few_held) >= 1 and len(few_train) >= 1


def test_evaluation_counts_what_it_can_measure(biased):
    data, model = biased
    samples = data.splits["test"][:6]
    images = data.images("test")[:6]
    inputs = to_batch(images, 64)
    labels = torch.tensor([s.label for s in samples])
    labels[0] = -1  # a task annotated without its class
    objects = torch.zeros(6, 64, 64, dtype=torch.bool)
    objects[1:3, 20:40, 20:40] = True
    boxes = [None, (20, 20, 40, 40), None, (0, 0, 32, 64), None, None]
    data_set = TrainingSet(inputs, labels, None, boxes, objects, torch.zeros(6, 64, 64, dtype=torch.bool))  # no loss targets
    found = evaluate(model, "small_cnn", data_set)
    assert (found["held_out"], found["with_class"], found["with_object"], found["with_box"]) == (6, 5, 2, 2)
    outputs = cam_outputs(model_cam(model, "small_cnn"), inputs)
    predicted = outputs.probabilities.argmax(1)
    assert found["accuracy"] == float((predicted[1:] == labels[1:].numpy()).mean())
    expected = np.mean([fraction_outside(resize_map(outputs.maps[i], 64, 64), pixel_box_mask(boxes[i], (64, 64))) for i in (1, 3)])
    assert abs(found["attention_outside_box"] - expected) < 1e-6
