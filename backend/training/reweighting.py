"""Which labelled images the classification term should draw more often: the inferred cue-conflicting ones.

A model that takes a shortcut gets the images that contradict the cue wrong, or right with little confidence
(Just Train Twice, Liu et al. 2021; Automatic Feature Reweighting, Qiu et al. 2023). Drawing those as often as
all the others makes the classification term stop rewarding the cue on every image that has only a class,
without anyone marking the cue.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

REWEIGHTS = ("none", "jtt")
LEAST_CONFIDENT_SHARE = 0.05  # with the wrong ones: the least confident share of the labelled images


@torch.no_grad()
def error_set(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """A boolean mask over ``inputs``: the images whose true class ``model`` gives less than half the probability
    (every wrong one among them) plus its least confident ``LEAST_CONFIDENT_SHARE`` by that probability (a model
    that memorised the conflicting few still doubts them most)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    true_class = []
    for start in range(0, len(labels), batch):
        logits = model(inputs[start : start + batch].to(device)).float()
        true_class.append(F.softmax(logits, 1).gather(1, labels[start : start + batch, None].to(device))[:, 0].cpu())
    model.train(was_training)
    confidence = torch.cat(true_class) if true_class else torch.zeros(0)
    chosen = confidence < 0.5
    least = int(round(LEAST_CONFIDENT_SHARE * len(confidence)))
    if least:
        chosen[confidence.argsort()[:least]] = True
    return chosen


def draw_weights(errors: torch.Tensor) -> torch.Tensor:
    """Sampling weights that draw the error set and the rest equally often (each half of a batch, on average)."""
    errors = errors.float()
    count = errors.sum()
    if count == 0 or count == len(errors):
        return torch.ones_like(errors)
    return torch.where(errors.bool(), 0.5 / count, 0.5 / (len(errors) - count))
