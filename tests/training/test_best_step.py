import copy

import torch
from torch import nn

from backend.training.best_step import CHECK_IMAGES, TOLERANCE, BestStep, check_steps


def test_checks_fall_in_the_second_half_before_the_end():
    assert check_steps(300) == {150, 200, 250}
    assert check_steps(30) == {15, 20, 25}
    assert check_steps(2) == {1} and check_steps(1) == set()


def _sign_model() -> nn.Module:
    """Two classes by the sign of the first input: class 1 where it is positive (flip the weights to get it wrong)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[1, 0], model[1].weight[0, 0] = 1.0, -1.0
        model[1].bias.zero_()
    return model


def _signs(n: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = torch.randn(n, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    return inputs, (inputs.flatten(1)[:, 0] > 0).long()


def test_a_run_whose_end_fell_goes_back_to_its_best_point_and_one_that_ended_well_keeps_its_end():
    inputs, labels = _signs()
    model = _sign_model()
    best = BestStep(inputs, labels, seed=0)
    assert len(best.labels) == CHECK_IMAGES
    best.check(model, 10)
    kept_weights = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        model[1].weight.neg_()  # every answer wrong
    best.check(model, 20)
    found = best.finish(model, 30)
    assert found == {"kept_step": 10, "check_accuracy": 1.0, "end_check_accuracy": 0.0}
    assert all(torch.equal(v, kept_weights[k]) for k, v in model.state_dict().items())

    ended_well = BestStep(inputs, labels, seed=0)
    with torch.no_grad():
        model[1].weight.neg_()
    ended_well.check(model, 10)  # 0.0, then right again at the end
    with torch.no_grad():
        model[1].weight.neg_()
    assert ended_well.finish(model, 30) == {"kept_step": 30, "check_accuracy": 1.0, "end_check_accuracy": 1.0}


def test_a_trade_of_a_few_points_at_the_end_is_kept_and_a_tie_keeps_the_later_point():
    inputs, labels = _signs()
    model = _sign_model()
    best = BestStep(inputs, labels, seed=0)
    best.check(model, 10)
    best.check(model, 20)
    assert best.best[1] == 20  # the later of two equal points
    wrong = torch.nonzero(best.labels == 1)[:8, 0]  # 8 images wrong at the end: 0.0625 < TOLERANCE
    best.labels[wrong] = 0
    assert 8 / CHECK_IMAGES < TOLERANCE
    assert best.finish(model, 30) == {"kept_step": 30, "check_accuracy": 1 - 8 / CHECK_IMAGES, "end_check_accuracy": 1 - 8 / CHECK_IMAGES}


def test_checking_leaves_every_module_in_its_mode_and_unlabelled_images_out():
    inputs, labels = _signs()
    labels[:150] = -1  # images with no class are not checked
    model = _sign_model().train()
    model[2].eval()  # a frozen batch norm stays frozen
    best = BestStep(inputs, labels, seed=1)
    assert len(best.labels) == 50 and (best.labels >= 0).all()
    best.check(model, 1)
    assert model.training and model[1].training and not model[2].training
