"""Fine-tune a classifier on annotated examples with an attention-guidance loss.

:class:`TrainConfig` is the one description of a fine-tuning run: the backend builds it
from its settings (``TRAIN_*``), the simulator from its command line.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from backend.core.counterfactuals import input_gradient_share, randomize_ignored, swap_backgrounds, uniform_loss
from backend.core.losses import GUIDANCE, GuidanceTargets, box_guidance, click_guidance, copy_replace
from backend.models.architectures import architecture
from backend.models.inference import model_cam
from backend.training import distributed
from backend.training.best_step import BestStep, check_steps
from backend.training.pseudo_objects import pseudo_objects
from backend.training.reweighting import REWEIGHTS, draw_weights, error_set
from backend.training.training_set import TrainingSet

logger = logging.getLogger(__name__)
# A loss is an input change (what the model sees) and a term added to the cross-entropy (what it is penalised for):
# "swap" = swap + ce, "click" = click term alone, "swap+click" = both. "dfr" retrains only the last layer.
# "auto" is what won the bias suite, chosen per image from what was annotated: the object's background swapped
# where an object is known (box, brush mask or focus click), ignored regions randomised where only those are marked,
# plain cross-entropy where only the class is given. "attention" is the attention term by annotation: click terms
# where clicked, the box term where boxed.
AUGMENTATIONS = ("auto", "copy_replace", "swap", "randomize")
TERMS = ("attention", *GUIDANCE)
LOSSES = ("auto", "ce", "copy_replace", *TERMS, "swap", "randomize", "rrr", "dfr",
          *(f"{a}+{t}" for a in ("swap", "randomize", "copy_replace") for t in ("attention", "click", "box", "cyborg", "rrr", "reconstruct")))
BATCHNORM_MODES = ("train", "frozen")


def loss_parts(loss: str) -> tuple[str | None, str]:
    """(input change or None, term) of a loss name; ValueError for names outside :data:`LOSSES`."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss '{loss}'; choose one of {LOSSES}")
    augmentation, _, term = loss.partition("+")
    if augmentation not in AUGMENTATIONS:
        return None, augmentation
    return augmentation, term or "ce"


@dataclass(frozen=True)
class TrainConfig:
    """How to fine-tune; the defaults are the IUI 2023 settings (Adam 5e-4, 100 steps, 0.75 guidance + 0.25 CE)."""

    loss: str = "auto"
    lr: float = 5e-4
    steps: int = 100
    batch_size: int = 32
    unlabeled_batch: int = 32
    guidance_weight: float = 0.75
    class_weight: float = 0.25
    cyborg_alpha: float = 0.5
    seed: int = 0
    cam_method: str = "auto"
    cam_layer: str = ""
    batchnorm: str = "train"  # train: batch statistics (synchronised across GPUs under DDP); frozen: running statistics
    counterfactual_share: float = 0.75  # swap: share of the annotated images of a batch shown on another background
    reweight: str = "none"  # jtt: the extra images the model starts wrong or least sure on fill half their draws
    pseudo_objects: bool = True  # from half-way on, swap the extra images' backgrounds too, around the model's attention
    swap_fit: bool = False  # swapped objects take the place and size of the partner's object (a size or place cue)
    keep_best: bool = True  # go back to the second half's best point where the end lost accuracy on labelled images


def branch_cross_entropy(model: nn.Module, labels: torch.Tensor) -> torch.Tensor:
    """An attention branch network's second term: cross-entropy of its attention branch's class scores from the
    last forward pass (0 for other models)."""
    scores = getattr(model, "attention_logits", None)
    known = labels >= 0
    if scores is None or not known.any():
        return torch.zeros((), device=labels.device)
    return F.cross_entropy(scores[known].float(), labels[known])


UNIFORM = -2  # label of an emptied background: trained towards a uniform prediction
DFR_ROUNDS, DFR_LR = 8, 1e-2  # last-layer retraining: counterfactual draws of every annotated image, Adam step size


def _mean_where(values: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    return (values * where).sum() / where.sum().clamp_min(1)


def _guidance(loss: str, maps: torch.Tensor, targets: GuidanceTargets) -> torch.Tensor:
    if loss == "attention":
        clicked = targets.has_positive | targets.has_negative
        return _mean_where(click_guidance(maps, targets), clicked.float()) + _mean_where(box_guidance(maps, targets), targets.has_box.float())
    flags = {
        "click": targets.has_positive | targets.has_negative,
        "box": targets.has_box,
        "cyborg": targets.has_saliency,
        "mask": targets.has_saliency,
        "reconstruct": targets.has_saliency | targets.has_negative | targets.has_positive,
    }[loss]
    return _mean_where(GUIDANCE[loss](maps, targets), flags.float())


def fine_tune(
    model: nn.Module,
    arch: str,
    data: TrainingSet,
    config: TrainConfig,
    extra: tuple[torch.Tensor, torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Fine-tune ``model`` in place for ``config.steps`` steps; returns the mean losses of the last 10 steps.

    Each step draws ``batch_size`` annotated images (all of them, each once, when there are fewer) and
    ``unlabeled_batch`` images from ``extra`` (inputs, labels) for the classification term only; with
    ``config.pseudo_objects``, from half-way on those are shown on each other's backgrounds too, around the object
    masks the guided model's attention gives them (:mod:`backend.training.pseudo_objects`), where they can be trusted.
    With ``config.keep_best`` the run ends on its second half's best point by accuracy on labelled images where
    the last step fell clearly below it (:mod:`backend.training.best_step`).
    Under ``torchrun`` with N processes every process draws the same batch, keeps every N-th image
    of it and DistributedDataParallel averages the gradients, so N processes take the steps of one.
    """
    augmentation, term = loss_parts(config.loss)
    if len(data) == 0:
        raise ValueError("no annotated examples to train on")
    if term == "dfr":
        return retrain_head(model, arch, data, config, device)
    world = distributed.current()
    device = distributed.device_for(world, torch.device(device))
    generator = torch.Generator().manual_seed(config.seed)  # the same draws in every process
    augmenter = torch.Generator().manual_seed(config.seed * 7919 + world.rank)
    torch.manual_seed(config.seed)
    if config.batchnorm not in BATCHNORM_MODES:
        raise ValueError(f"unknown batchnorm mode '{config.batchnorm}'; choose train or frozen")
    if config.reweight not in REWEIGHTS:
        raise ValueError(f"unknown reweighting '{config.reweight}'; choose one of {REWEIGHTS}")
    model.to(device, memory_format=torch.channels_last)  # convolutions run ~1.4x faster this way on CPU
    draws = None  # sampling weights of the extra images (None: uniform)
    if extra is not None and len(extra[1]) and config.reweight == "jtt":
        errors = error_set(model, extra[0], extra[1])
        draws = draw_weights(errors)
        logger.info("reweighting: %d of %d labelled images in the inferred error set", int(errors.sum()), len(errors))
    model.train()
    model.requires_grad_(True)
    batchnorms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if config.batchnorm == "frozen":
        for module in batchnorms:
            module.eval()
    net, prefix = model, ""
    if world.distributed:  # each process takes its share of every batch; DDP averages the gradients
        if device.type == "cuda" and config.batchnorm == "train" and batchnorms:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        net, prefix = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None), "module."
    cam = model_cam(net, arch, config.cam_method, config.cam_layer, prefix)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    w_g, w_c = (1 - config.cyborg_alpha, config.cyborg_alpha) if term == "cyborg" else (config.guidance_weight, config.class_weight)
    use_amp = device.type == "cuda"
    guided = term not in ("ce", "rrr")  # an attention term
    penalised = guided or term == "rrr"
    history: list[dict[str, float]] = []
    # a step shows each annotated image once: drawn again, an image adds its gradient again at full cost (the first
    # run of a project with 8 annotations computed every image 4 times a step); every process needs one
    size = max(min(config.batch_size, len(data)), world.size)
    pseudo = None  # object masks of the extra images, once the guided model is trusted with them
    checked = extra if extra is not None and len(extra[1]) else (data.inputs, data.labels)
    best = BestStep(*checked, config.seed, world) if config.keep_best else None
    checks = check_steps(config.steps) if best is not None else set()
    started = time.perf_counter()
    for step in range(config.steps):
        if config.pseudo_objects and extra is not None and len(extra[1]) and step == config.steps // 2 and step:
            found = pseudo_objects(model, arch, data.inputs, data.objects, data.labels, *extra, config.cam_method, config.cam_layer)
            logger.info("pseudo-objects: %d of %d labelled images (median IoU with the annotated objects %.2f)",
                        found.kept, len(extra[1]), found.agreement)
            pseudo = found.masks if found.kept else None
            for module in batchnorms if config.batchnorm == "frozen" else ():
                module.eval()
        if len(data) >= size:
            index = torch.randperm(len(data), generator=generator)[:size]
        else:
            index = torch.randint(len(data), (size,), generator=generator)
        batch = data.subset(distributed.shard(index, world))
        inputs, labels = batch.inputs, batch.labels
        blanks = inputs[:0]
        if augmentation in ("swap", "auto"):
            inputs, blanks = swap_backgrounds(inputs, batch.objects.float(), labels, config.counterfactual_share, augmenter,
                                              config.swap_fit)
        if augmentation in ("randomize", "auto"):
            ignore = batch.ignore.float()
            if augmentation == "auto":  # only where no object is known: those images were swapped instead
                ignore = ignore * (batch.objects.flatten(1).amax(1) == 0).float()[:, None, None]
            inputs = randomize_ignored(inputs, ignore, augmenter)
        if augmentation == "copy_replace":
            boxed = [i for i, b in enumerate(batch.pixel_boxes) if b is not None and labels[i] >= 0]
            if len(boxed) > 1:
                mixed, new_labels = copy_replace(inputs[boxed], [batch.pixel_boxes[i] for i in boxed], labels[boxed], augmenter)
                inputs, labels = inputs.clone(), labels.clone()
                inputs[boxed], labels[boxed] = mixed, new_labels
        annotated = len(labels)
        if extra is not None and config.unlabeled_batch > 0 and len(extra[1]) > 0:
            if draws is None and len(extra[1]) <= config.unlabeled_batch:  # each once, as the annotated ones
                pick = torch.randperm(len(extra[1]), generator=generator)
            elif draws is None:
                pick = torch.randint(len(extra[1]), (config.unlabeled_batch,), generator=generator)
            else:
                pick = torch.multinomial(draws, config.unlabeled_batch, replacement=True, generator=generator)
            pick = distributed.shard(pick, world)
            extra_inputs = extra[0][pick]
            if pseudo is not None:  # their emptied backgrounds are not trained on: a pseudo-mask may leave object behind
                extra_inputs, _ = swap_backgrounds(extra_inputs, pseudo[pick].float(), extra[1][pick],
                                                   config.counterfactual_share, augmenter, config.swap_fit)
            inputs, labels = torch.cat([inputs, extra_inputs]), torch.cat([labels, extra[1][pick]])
        if len(blanks):  # emptied backgrounds: no class to find, the prediction should say so
            inputs, labels = torch.cat([inputs, blanks]), torch.cat([labels, torch.full((len(blanks),), UNIFORM)])
        inputs, labels = inputs.to(device, memory_format=torch.channels_last), labels.to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            if guided:  # one forward for the annotated and the extra images (DDP allows one per backward)
                known = labels >= 0
                out = cam(
                    inputs, targets=torch.where(known, labels, torch.zeros_like(labels)), differentiable=True,
                    output_size=tuple(batch.targets.negative.shape[-2:]),
                )
                logits = out.logits
                targets = batch.targets.apply(lambda tensor: tensor.to(device))
                guidance = _guidance(term, out.maps[:annotated].float(), targets)
            elif term == "rrr":  # Right for the Right Reasons: input gradients inside the ignored regions
                inputs.requires_grad_(True)
                logits = net(inputs)
                ignore = batch.ignore.float().to(device)
                score = F.log_softmax(logits[:annotated].float(), dim=1).sum()
                guidance = _mean_where(input_gradient_share(score, inputs, ignore), (ignore.flatten(1).amax(1) > 0).float())
            else:
                logits = net(inputs)
                guidance = torch.zeros((), device=device)
            ce_logits, ce_labels = logits[labels >= 0], labels[labels >= 0]
            classification = F.cross_entropy(ce_logits.float(), ce_labels) if len(ce_labels) else torch.zeros((), device=device)
            classification = classification + branch_cross_entropy(model, labels)
            loss = w_g * guidance + w_c * classification if penalised else classification
            if len(blanks):
                loss = loss + (w_c if penalised else 1.0) * uniform_loss(logits[labels == UNIFORM].float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append({"loss": float(loss.detach()), "guidance": float(guidance.detach()),
                        "classification": float(classification.detach())})
        if step + 1 in checks:
            best.check(model, step + 1)
        if (step + 1) % max(1, config.steps // 5) == 0 or step + 1 == config.steps:
            logger.info(
                "step %d/%d: loss %.4f (guidance %.4f, classification %.4f), %.1f s",
                step + 1, config.steps, history[-1]["loss"], history[-1]["guidance"], history[-1]["classification"],
                time.perf_counter() - started,
            )
    kept = best.finish(model, config.steps) if best is not None else {}
    if kept and kept["kept_step"] != config.steps:
        logger.warning("the last step's accuracy on %d labelled images fell to %.3f: went back to step %d (%.3f)",
                       len(best.labels), kept["end_check_accuracy"], kept["kept_step"], kept["check_accuracy"])
    model.to(memory_format=torch.contiguous_format).eval()
    tail = history[-10:]
    return {key: float(np.mean([h[key] for h in tail])) for key in tail[0]} | {"steps": config.steps, "examples": len(data)} | kept


def retrain_head(model: nn.Module, arch: str, data: TrainingSet, config: TrainConfig,
                 device: torch.device | str = "cpu") -> dict[str, float]:
    """Last-layer retraining (Deep Feature Reweighting, Kirichenko et al. 2022) on annotated and counterfactual images.

    The backbone stays as it is; the linear head is re-initialised and fitted, class-balanced, to the pooled
    features of the annotated images and of ``DFR_ROUNDS`` background swaps of each, so the features that moved
    with the background get no weight. The originals weigh as much as all their swaps together: a swap shows the
    other class's cue, so with more swaps than originals the head would learn the cue reversed (the bias suite saw
    exactly that: shifted accuracy 1.0 with test accuracy 0.0). Needs a global-average-pool + linear head.
    """
    head = model.get_submodule(architecture(arch).head)
    cam = model_cam(model.to(device).eval(), arch, "cam")  # its embeddings are exactly what the head reads
    generator = torch.Generator().manual_seed(config.seed)
    features, labels, originals = [], [], []
    with torch.no_grad():
        for round_ in range(DFR_ROUNDS + 1):
            for start in range(0, len(data), 64):
                part = data.subset(torch.arange(start, min(start + 64, len(data))))
                inputs = part.inputs
                if round_:
                    inputs, _ = swap_backgrounds(inputs, part.objects.float(), part.labels, 1.0, generator)
                features.append(cam(inputs.to(device)).embeddings.float())
                labels.append(part.labels.to(device))
                originals.append(torch.full((len(inputs),), round_ == 0, device=device))
    x, y, original = torch.cat(features), torch.cat(labels), torch.cat(originals)
    x, y, original = x[y >= 0], y[y >= 0], original[y >= 0]
    if len(y) == 0:
        raise ValueError("last-layer retraining needs annotated images with a class")
    counts = torch.bincount(y, minlength=head.out_features).float()
    balance = torch.where(counts > 0, len(y) / (counts.clamp_min(1) * (counts > 0).sum()), torch.zeros_like(counts))
    weight = balance[y] * torch.where(original, float(DFR_ROUNDS), 1.0)
    torch.manual_seed(config.seed)
    head.reset_parameters()
    model.requires_grad_(False)
    head.requires_grad_(True)
    optimizer = torch.optim.Adam(head.parameters(), lr=DFR_LR)
    for _ in range(config.steps):
        loss = (F.cross_entropy(head(x), y, reduction="none") * weight).sum() / weight.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.requires_grad_(True)
    model.eval()
    return {"loss": float(loss.detach()), "guidance": 0.0, "classification": float(loss.detach()),
            "steps": config.steps, "examples": len(data)}
