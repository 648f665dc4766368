import pytest
import torch
from torch import nn

from backend.training.reweighting import LEAST_CONFIDENT_SHARE, draw_weights, error_set


class _ByFirstFeature(nn.Module):
    """Predicts class 1 when the first input feature is positive, with confidence growing with it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = x.flatten(1)[:, 0] * 4
        return torch.stack([-score, score], 1)


def test_the_error_set_holds_the_wrong_and_the_least_confident():
    torch.manual_seed(0)
    model = _ByFirstFeature()
    model.dummy = nn.Parameter(torch.zeros(1))
    features = torch.linspace(-2, 2, 100)
    inputs = features.view(100, 1, 1, 1)
    labels = (features > 0).long()
    labels[:3] = 1  # three images that contradict what the model decides by: wrong
    errors = error_set(model, inputs, labels)
    assert errors[:3].all()
    assert errors[features.abs() < 0.03].all()  # then the least confident, nearest the decision
    assert int(errors.sum()) == round(LEAST_CONFIDENT_SHARE * 100)
    assert model.training  # the model's mode is left as it was


def test_draw_weights_give_the_error_set_half_of_the_draws():
    errors = torch.zeros(1000, dtype=torch.bool)
    errors[:30] = True
    weights = draw_weights(errors)
    assert weights.sum().item() == pytest.approx(1.0)
    assert weights[errors].sum().item() == pytest.approx(0.5)
    draws = torch.multinomial(weights, 20000, replacement=True, generator=torch.Generator().manual_seed(0))
    assert 0.47 < errors[draws].float().mean().item() < 0.53
    assert torch.equal(draw_weights(torch.zeros(5, dtype=torch.bool)), torch.ones(5))  # nothing to favour: uniform
