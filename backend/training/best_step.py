"""Keep the best point of a run's second half when its end falls clearly below it.

Adam at a constant step size can spike late: one seed of a 300-step run jumped from a training loss of about 0.01
to 0.10 in its last 60 steps and ended a quarter lower in accuracy on the training distribution (shifted accuracy
fell with it). The run checks the class accuracy of a fixed sample of labelled images, unaugmented and in eval
mode, at a few points of its second half (from the step where pseudo-object masks start) and at the end; the end is
kept unless it is more than :data:`TOLERANCE` below the best point, so a run that ends well is not touched. The
tolerance is wide on purpose: guidance trades a few points of accuracy on cue-carrying images for the object (a
30-step box-guided run went from 0.914 to 0.867 while its attention moved onto the objects), and the best point by
that accuracy is the one nearest the cue; only a collapse is undone.
"""
from __future__ import annotations

import torch
from torch import nn

from backend.training import distributed

CHECK_IMAGES = 128  # a fixed sample: 1/128 of accuracy is finer than the tolerance
CHECKS = 3  # points of the second half before its end: its start, then every sixth of the run
TOLERANCE = 0.1  # the accuracy the end may lose against the best point before the run goes back to it


def check_steps(steps: int) -> set[int]:
    """The steps (counted from 1) after which a run of ``steps`` steps checks its accuracy before its end (which
    :meth:`BestStep.finish` checks): the second half's start and ``CHECKS - 1`` points evenly after it."""
    half = steps // 2
    return {half + k * (steps - half) // CHECKS for k in range(CHECKS)} - {0, steps}


class BestStep:
    """Accuracy of the model at each check on one sample of labelled images, with the weights of the best check."""

    def __init__(self, inputs: torch.Tensor, labels: torch.Tensor, seed: int, world: distributed.World | None = None) -> None:
        known = torch.nonzero(labels >= 0)[:, 0]
        pick = known[torch.randperm(len(known), generator=torch.Generator().manual_seed(seed))[:CHECK_IMAGES]]
        self.inputs, self.labels = inputs[pick], labels[pick]
        self.world = world or distributed.current()
        self.best: tuple[float, int, dict[str, torch.Tensor]] | None = None  # (accuracy, step, weights)

    @torch.no_grad()
    def accuracy(self, model: nn.Module) -> float:
        """Eval-mode accuracy on the sample, averaged over the processes of a distributed run (every process then
        takes the same decision), each module's mode restored after."""
        if not len(self.labels):
            return float("nan")
        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        device = next(model.parameters()).device
        right = sum(int((model(self.inputs[s : s + 64].to(device)).argmax(1).cpu() == self.labels[s : s + 64]).sum())
                    for s in range(0, len(self.labels), 64))
        for module, mode in modes:
            module.train(mode)
        found = distributed.gather(right / len(self.labels), self.world)
        return float(sum(found) / len(found))

    def check(self, model: nn.Module, step: int) -> None:
        """Measure the model after ``step``; keep its weights where it is the best so far (the later on a tie)."""
        accuracy = self.accuracy(model)
        if self.best is None or accuracy >= self.best[0]:
            self.best = (accuracy, step, {k: v.detach().clone() for k, v in model.state_dict().items()})

    def finish(self, model: nn.Module, step: int) -> dict[str, float]:
        """Check the end; go back to the best earlier point where the end lost more than :data:`TOLERANCE` of it.
        Returns the step kept and the accuracies of the end and of the kept point."""
        earlier = self.best
        end = self.accuracy(model)
        if earlier is None or not end < earlier[0] - TOLERANCE:
            return {"kept_step": step, "check_accuracy": end, "end_check_accuracy": end}
        model.load_state_dict(earlier[2])
        return {"kept_step": earlier[1], "check_accuracy": earlier[0], "end_check_accuracy": end}
