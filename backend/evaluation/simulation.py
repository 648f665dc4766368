"""Replay annotators on a dataset with known object masks: what each strategy and loss buys per annotation.

For every strategy x loss x seed the simulator starts from the biased base model and
runs R rounds: rank the unannotated training images with the current model, annotate
the next N/R (per predicted class by default) with the simulated annotator that fits
the loss, fine-tune from the current model, evaluate on test.csv and shifted.csv.
Controls: the base model, ``ce`` (the same fine-tuning with cross-entropy only, on
the same kind of selection) and ``full_mask`` (guidance with the full mask of every
training image, the upper bound). Each finished cell is written to
``OUT/cells/`` so an interrupted run resumes where it stopped.

The SAL paper's conditions run as losses (see backend/training/sal.py): the simulated person
gives the object mask with the label until ``sal_change_point`` of the budget carries
human saliency, then labels only. ``sal``: an interpretability model (CYBORG alpha 0.1)
writes saliency for label-only images, the accuracy model (alpha 0.9) is trained,
ranks and is evaluated; ``sal_single``: the accuracy model writes it; ``frozen_teacher``
(TAIT): the interpretability model stops training at the change point; ``no_ai_saliency``:
label-only images get cross-entropy only; ``all_human``: masks for the whole budget (the
upper bound, more human time); ``no_saliency``: labels only, cross-entropy.
"""
from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from backend.active import Pool, get_strategy, select_batch
from backend.active.pool import POOL_ATTENTION_SIDE
from backend.core.attention_quality import dice_top_n, fraction_outside, pointing_game
from backend.core.examples import Example
from backend.core.maps import downsample_maps, mask_box, pixel_box_mask, resize_map, resize_mask
from backend.core.superpixels import SuperpixelParams, compute_superpixels
from backend.evaluation.annotators import BOX_SECONDS, LABEL_SECONDS, box_annotation, click_annotation, mask_annotation
from backend.evaluation.dataset import Dataset
from backend.labelstudio.annotations import parse_task
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.templates import render_template
from backend.models.architectures import build_model
from backend.models.inference import Outputs, cam_outputs, model_cam, to_batch
from backend.training.distributed import resolve_device
from backend.training.from_scratch import train_from_scratch
from backend.training.sal import ACCURACY_ALPHA, INTERPRETABILITY_ALPHA, machine_saliency
from backend.training.trainer import TrainConfig, fine_tune
from backend.training.training_set import prepare

logger = logging.getLogger(__name__)
ANNOTATOR_OF_LOSS = {"click": "click", "ce": "click", "box": "box", "cyborg": "box", "copy_replace": "box", "auto": "click",
                     "attention": "click",
                     "swap": "mask", "dfr": "mask", "randomize": "box", "rrr": "box", "reconstruct": "box"}  # combinations: their first part
ANNOTATOR_SEPARATOR = "/"  # "swap/box": the simulated person gives boxes instead of the loss's default annotation
SAL_CONDITIONS = ("sal", "sal_single", "frozen_teacher", "no_ai_saliency", "all_human", "no_saliency")
TOPK_SUFFIX = "@topk"  # "gmm@topk": fill each batch by rank alone instead of per predicted class
METHOD_SEPARATOR = ":"  # "click:hirescam": rank and train with that attention method (evaluation always uses "auto")
# "auto~jtt": the labelled images' classification draws reweighted (backend/training/reweighting.py); "auto~pseudo":
# their backgrounds swapped around the guided model's attention (backend/training/pseudo_objects.py); both: "~jtt~pseudo"
OPTION_SEPARATOR = "~"
OPTIONS = ("jtt", "pseudo", "fit")
# a full name: LOSS[/ANNOTATOR][~OPTION...][:METHOD]


@dataclass
class SimConfig:
    strategies: list[str] = field(default_factory=lambda: ["random", "entropy", "gmm"])
    losses: list[str] = field(default_factory=lambda: ["click", "box"])
    budget: int = 100
    rounds: int = 2
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    train: TrainConfig = TrainConfig(steps=60, batch_size=16, unlabeled_batch=16)  # steps per round; loss, seed and
    # attention method are set per cell
    arch: str = "small_cnn"
    image_size: int = 64
    base_epochs: int = 5
    # The cue-free oracle gets three times the base's epochs: without the cue the task is harder to start on (the
    # stripes' orientation: the patch kind's oracle stayed at chance for 4 of 5 epochs at bias 0.97, 0.67 shifted),
    # and an upper bound that has not learned measures nothing.
    oracle_epochs: int = 15
    click_noise: float = 0.05
    box_jitter: float = 0.05
    max_negative: int = 3
    sal_change_point: float = 0.2  # share of the budget annotated with human saliency in the SAL conditions
    device: str = "cpu"  # where models train and run: cpu, cuda, cuda:N or auto (a GPU's figures differ in the last digits)


@dataclass
class Split:
    """One split as tensors and ground truth."""

    inputs: torch.Tensor
    labels: np.ndarray
    masks: list[np.ndarray]
    boxes: list[tuple[float, float, float, float]]
    images: list[np.ndarray]
    eval_masks: list[np.ndarray]  # masks and box masks at model input size, where the attention maps are
    eval_boxes: list[np.ndarray]


def load_split(data: Dataset, split: str, size: int) -> Split:
    images = data.images(split)
    masks = []
    for sample, image in zip(data.splits[split], images):
        if sample.mask is not None:
            masks.append(np.asarray(Image.open(sample.mask).convert("L")) > 127)
        elif sample.box is not None:
            masks.append(pixel_box_mask(sample.box, image.shape[:2]))
        else:
            raise ValueError(f"{sample.image}: the simulator needs a mask or a box for every image")
    boxes = [s.box if s.box is not None else mask_box(m) for s, m in zip(data.splits[split], masks)]
    eval_masks = [resize_mask(m, size, size) for m in masks]
    scale = [(size / m.shape[1], size / m.shape[0]) for m in masks]
    eval_boxes = [pixel_box_mask((b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy), (size, size)) for b, (sx, sy) in zip(boxes, scale)]
    return Split(to_batch(images, size), data.labels(split), masks, boxes, images, eval_masks, eval_boxes)


def model_outputs(model: torch.nn.Module, arch: str, inputs: torch.Tensor, targets: torch.Tensor | None = None,
                  method: str = "auto") -> Outputs:
    """Probabilities, attention maps (by CAM ``method``) at input size and embeddings, in inference mode."""
    return cam_outputs(model_cam(model.eval(), arch, method), inputs, targets, batch=256)


def evaluate(model: torch.nn.Module, arch: str, split: Split) -> dict[str, float]:
    """Accuracy, balanced accuracy and attention quality (CAM of the true class) on one split."""
    out = model_outputs(model, arch, split.inputs, torch.as_tensor(split.labels))
    maps, predicted = out.maps, out.probabilities.argmax(1)
    classes = np.unique(split.labels)
    recalls = [float((predicted[split.labels == c] == c).mean()) for c in classes]
    return {
        "accuracy": float((predicted == split.labels).mean()),
        "balanced_accuracy": float(np.mean(recalls)),
        "pointing_game": float(np.mean([pointing_game(a, m) for a, m in zip(maps, split.eval_masks)])),
        "dice": float(np.mean([dice_top_n(a, m) for a, m in zip(maps, split.eval_masks)])),
        "outside_box": float(np.mean([fraction_outside(a, b) for a, b in zip(maps, split.eval_boxes)])),
    }


def annotate(kind: str, config: LabelConfig, label: int, mask: np.ndarray, box, image: np.ndarray, attention: np.ndarray,
             superpixels: SuperpixelParams, cfg: SimConfig, rng: np.random.Generator) -> dict:
    """The Label Studio annotation the simulated person submits for one image."""
    if kind == "box":
        return box_annotation(config, label, box, mask.shape, rng, cfg.box_jitter)
    if kind == "mask":
        return mask_annotation(config, label, mask)
    return click_annotation(config, label, mask, attention, compute_superpixels(image, superpixels), rng, cfg.click_noise,
                            cfg.max_negative)


def _records(strategy: str, loss: str, seed: int, round_: int, annotated: int, seconds: float, mix: list[int],
             test: dict, shifted: dict) -> dict[str, Any]:
    return {"strategy": strategy, "loss": loss, "seed": seed, "round": round_, "annotations": annotated,
            "annotation_seconds": seconds, "class_mix": mix, "test": test, "shifted": shifted}


class Simulator:
    """Holds the data, the base model and the configuration; runs and stores cells."""

    def __init__(self, data: Dataset, cfg: SimConfig, out: Path, progress: bool = True, models: Path | None = None):
        self.data, self.cfg, self.out, self.progress = data, cfg, Path(out), progress
        self.config = LabelConfig.parse(render_template("combined", data.classes))
        self.superpixels = SuperpixelParams()  # the backend's default segmentation
        self.train = load_split(data, "train", cfg.image_size)
        self.test = load_split(data, "test", cfg.image_size)
        self.shifted = load_split(data, "shifted", cfg.image_size) if "shifted" in data.splits else self.test
        self.unbiased = data.splits.get("train_unbiased")  # the cue-free training split, when the dataset has one
        (self.out / "cells").mkdir(parents=True, exist_ok=True)
        self.device = resolve_device(cfg.device)
        self.models = Path(models) if models is not None else self.out
        self.base = self.trained("base_model.pt", "train")
        self.base_scores = self.evaluate_model(self.base)

    def trained(self, name: str, split: str, epochs: int | None = None) -> torch.nn.Module:
        """A model trained from scratch on ``split`` with the base recipe, ``epochs`` (default the base's) long
        (cached as ``name`` in the models folder)."""
        path = self.models / name
        model = build_model(self.cfg.arch, len(self.data.classes))
        if path.is_file():
            model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
            return model.to(self.device).eval()
        images, labels = (self.train.images, self.train.labels) if split == "train" else (self.data.images(split), self.data.labels(split))
        logger.info("training a model from scratch on %d images of %s", len(labels), split)
        model = train_from_scratch(images, labels, len(self.data.classes), self.cfg.arch, self.cfg.image_size,
                                   epochs=epochs or self.cfg.base_epochs, device=self.device)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
        return model

    def cell_path(self, strategy: str, loss: str, seed: int) -> Path:
        return self.out / "cells" / f"{strategy.replace('@', '-')}__{loss.replace('/', '-')}__{seed}.json"

    def cells(self) -> list[tuple[str, str, int]]:
        cells = [("base", "none", 0), ("full_mask", "mask", 0)]
        cells += [("oracle", "none", 0)] if self.unbiased is not None else []
        cells += [(s, loss, seed) for seed in self.cfg.seeds for loss in self.cfg.losses for s in self.cfg.strategies]
        return cells

    def run(self) -> list[dict[str, Any]]:
        todo = [c for c in self.cells() if not self.cell_path(*c).is_file()]
        logger.info("%d cells, %d done before, %d to run", len(self.cells()), len(self.cells()) - len(todo), len(todo))
        for cell in tqdm(todo, desc="simulating", unit="cell", disable=not self.progress):
            started = time.perf_counter()
            records = self.run_cell(*cell)
            self.cell_path(*cell).write_text(json.dumps(records))
            logger.info("%s / %s / seed %d: shifted accuracy %.3f (%.0f s)", *cell, records[-1]["shifted"]["accuracy"], time.perf_counter() - started)
        return [r for c in self.cells() for r in json.loads(self.cell_path(*c).read_text())]

    def evaluate_model(self, model: torch.nn.Module) -> tuple[dict, dict]:
        return evaluate(model, self.cfg.arch, self.test), evaluate(model, self.cfg.arch, self.shifted)

    def oracle(self) -> torch.nn.Module:
        """The same architecture on the cue-free split, trained ``oracle_epochs`` long: the upper bound."""
        return self.trained("oracle_model.pt", "train_unbiased", self.cfg.oracle_epochs)

    def run_cell(self, strategy: str, loss: str, seed: int) -> list[dict[str, Any]]:
        cfg = self.cfg
        records = [_records(strategy, loss, seed, 0, 0, 0.0, [], *self.base_scores)]
        if strategy == "base":
            return records
        if strategy == "oracle":  # the same architecture and recipe on the cue-free split: the upper bound
            return [_records(strategy, loss, seed, 0, 0, 0.0, [], *self.evaluate_model(self.oracle()))]
        model = copy.deepcopy(self.base)
        train = self.train
        extra = (train.inputs, torch.as_tensor(train.labels))
        if strategy == "full_mask":
            examples = [Example(task_id=i, image_url="", label=int(label)) for i, label in enumerate(train.labels)]
            data = prepare(examples, train.images, cfg.image_size, self.superpixels, saliency=[m.astype(np.float32) for m in train.masks])
            fine_tune(model, cfg.arch, data, self._train_config("mask", seed, cfg.train.steps * cfg.rounds), extra=extra,
                      device=self.device)
            test, shifted = self.evaluate_model(model)
            records.append(_records(strategy, loss, seed, cfg.rounds, len(train.labels), 0.0, [], test, shifted))
            return records
        if loss in SAL_CONDITIONS:
            return self.run_sal(strategy, loss, seed)
        return records + self.guide(strategy, loss, seed)[1]

    def guide(self, strategy: str, loss: str, seed: int) -> tuple[torch.nn.Module, list[dict[str, Any]], np.ndarray]:
        """The base model fine-tuned round by round on the images ``strategy`` picks, annotated as ``loss`` names;
        returns the model, one record per round and which training images were annotated."""
        cfg, train = self.cfg, self.train
        model = copy.deepcopy(self.base)
        extra = (train.inputs, torch.as_tensor(train.labels))
        records: list[dict[str, Any]] = []
        named, _, method = loss.partition(METHOD_SEPARATOR)
        named, *options = named.split(OPTION_SEPARATOR)
        if set(options) - set(OPTIONS):
            raise ValueError(f"unknown options {sorted(set(options) - set(OPTIONS))} in '{loss}'; choose from {OPTIONS}")
        loss_name, _, annotator = named.partition(ANNOTATOR_SEPARATOR)
        method = method or "auto"
        annotator = annotator or ANNOTATOR_OF_LOSS.get(loss_name.split("+")[0], "click")
        rng = np.random.default_rng(seed)
        annotated = np.zeros(len(train.labels), dtype=bool)
        examples: dict[int, Example] = {}
        seconds = 0.0
        for round_, count in enumerate(self._per_round(), start=1):
            chosen, maps, mix = self._select(model, strategy, annotated, count, rng, method)
            for i in chosen:
                annotation = annotate(annotator, self.config, int(train.labels[i]), train.masks[i], train.boxes[i], train.images[i],
                                      maps[i], self.superpixels, cfg, rng)
                parsed = parse_task({"id": int(i), "data": {"image": f"train/{i}"}}, [annotation], self.config)
                examples[int(i)] = parsed.example
                seconds += annotation["lead_time"]
                annotated[i] = True
            order = sorted(examples)
            data = prepare([examples[i] for i in order], [train.images[i] for i in order], cfg.image_size, self.superpixels)
            fine_tune(model, cfg.arch, data, replace(self._train_config(loss_name, seed * 1000 + round_, cfg.train.steps, method),
                                                      reweight="jtt" if "jtt" in options else "none",
                                                      pseudo_objects="pseudo" in options, swap_fit="fit" in options),
                     extra=extra, device=self.device)
            test, shifted = self.evaluate_model(model)
            records.append(_records(strategy, loss, seed, round_, int(annotated.sum()), seconds, mix, test, shifted))
        return model, records, annotated

    def _per_round(self) -> list[int]:
        cfg = self.cfg
        return [cfg.budget // cfg.rounds + (1 if r < cfg.budget % cfg.rounds else 0) for r in range(cfg.rounds)]

    def _select(self, model: torch.nn.Module, strategy: str, annotated: np.ndarray, count: int, rng: np.random.Generator,
                method: str = "auto") -> tuple[np.ndarray, np.ndarray, list[int]]:
        """The next ``count`` images to annotate, ranked with ``model``; also its attention maps and the batch's class mix."""
        name, per_class = (strategy[: -len(TOPK_SUFFIX)], False) if strategy.endswith(TOPK_SUFFIX) else (strategy, True)
        out = model_outputs(model, self.cfg.arch, self.train.inputs, method=method)
        pool = Pool(probabilities=out.probabilities, attention=downsample_maps(out.maps, POOL_ATTENTION_SIDE),
                    embeddings=out.embeddings, annotated=annotated.copy(), labels=self.train.labels)
        chosen = select_batch(get_strategy(name)(pool, count, rng), pool, count, per_class=per_class)
        return chosen, out.maps, np.bincount(pool.predicted[chosen], minlength=len(self.data.classes)).tolist()

    def run_sal(self, strategy: str, condition: str, seed: int) -> list[dict[str, Any]]:
        """One SAL condition (see the module docstring): accuracy model trained, ranking and evaluated each round."""
        cfg, train = self.cfg, self.train
        records = [_records(strategy, condition, seed, 0, 0, 0.0, [], *self.base_scores)]
        accuracy, interpretability = copy.deepcopy(self.base), copy.deepcopy(self.base)
        human_budget = {"all_human": cfg.budget, "no_saliency": 0}.get(condition, int(np.ceil(cfg.sal_change_point * cfg.budget)))
        writer = {"sal": interpretability, "frozen_teacher": interpretability, "sal_single": accuracy}.get(condition)
        teaching = condition in ("sal", "frozen_teacher")
        rng = np.random.default_rng(seed)
        annotated = np.zeros(len(train.labels), dtype=bool)
        saliency: dict[int, np.ndarray | None] = {}
        seconds, human = 0.0, 0
        for round_, count in enumerate(self._per_round(), start=1):
            chosen, _, mix = self._select(accuracy, strategy, annotated, count, rng)
            label_only, human_added = [], 0
            for i in chosen:
                annotated[i] = True
                if human < human_budget:
                    saliency[int(i)] = train.masks[i].astype(np.float32)
                    human, human_added, seconds = human + 1, human_added + 1, seconds + BOX_SECONDS
                else:
                    label_only.append(int(i))
                    saliency[int(i)] = None
                    seconds += LABEL_SECONDS
            written = None  # how well the machine's saliency matches the true object masks (Dice of the top-N pixels)
            if writer is not None and label_only and round_ > 1:  # the writer has trained on human saliency (as in the backend)
                generated = machine_saliency(writer, cfg.arch, train.inputs[label_only], torch.as_tensor(train.labels[label_only]))
                written = float(np.mean([dice_top_n(m, train.eval_masks[i]) for i, m in zip(label_only, generated)]))
                for i, mask in zip(label_only, generated):
                    saliency[i] = resize_map(mask, *train.masks[i].shape)
            order = sorted(saliency)
            examples = [Example(task_id=i, image_url="", label=int(train.labels[i])) for i in order]
            data = prepare(examples, [train.images[i] for i in order], cfg.image_size, self.superpixels,
                           saliency=[saliency[i] for i in order])
            loss = "ce" if condition == "no_saliency" else "cyborg"
            step_seed = seed * 1000 + round_
            fine_tune(accuracy, cfg.arch, data, self._train_config(loss, step_seed, cfg.train.steps, alpha=ACCURACY_ALPHA),
                      device=self.device)
            if teaching and not (condition == "frozen_teacher" and human_added == 0):  # TAIT: the teacher stops with the people
                fine_tune(interpretability, cfg.arch, data,
                          self._train_config("cyborg", step_seed, cfg.train.steps, alpha=INTERPRETABILITY_ALPHA), device=self.device)
            test, shifted = self.evaluate_model(accuracy)
            records.append(_records(strategy, condition, seed, round_, int(annotated.sum()), seconds, mix, test, shifted)
                           | {"machine_saliency_dice": written})
        return records

    def _train_config(self, loss: str, seed: int, steps: int, method: str = "auto", alpha: float = 0.5) -> TrainConfig:
        """Options (pseudo-object masks, reweighting) only where a method's name asks for them (``~pseudo``), so a
        name means the same run whatever the product's defaults become."""
        return replace(self.cfg.train, loss=loss, steps=steps, seed=seed, cam_method=method, cyborg_alpha=alpha,
                       pseudo_objects=False, reweight="none")
