#!/usr/bin/env python
"""Training throughput (images/s) with cross-entropy only and with each guided loss, in one run.

Prints JSON with images/s per loss and its ratio to cross-entropy only. ``click_gradcam``
uses Grad-CAM with create_graph=True instead of the exact CAM of the GAP + linear head.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import backend  # noqa: F401
from backend.core.examples import Example
from backend.evaluation.synthetic import BiasSpec, draw_sample
from backend.models.architectures import build_model
from backend.training.distributed import resolve_device
from backend.training.trainer import TrainConfig, fine_tune
from backend.training.training_set import prepare

VARIANTS = {
    "ce": {"loss": "ce"},
    "click": {"loss": "click"},
    "box": {"loss": "box"},
    "cyborg": {"loss": "cyborg"},
    "copy_replace": {"loss": "copy_replace"},
    "click_gradcam": {"loss": "click", "cam_method": "gradcam"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per loss (after one warm-up step)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    device = resolve_device(args.device)
    rng = np.random.default_rng(0)
    images, examples = [], []
    for i in range(args.batch_size * 2):
        image, mask, (x0, y0, x1, y1) = draw_sample(rng, BiasSpec(size=args.size), i % 2, i % 2)
        rows, cols = np.nonzero(mask)
        centre = (float(cols.mean()) / args.size * 100, float(rows.mean()) / args.size * 100)
        images.append(image)
        examples.append(Example(task_id=i, image_url="", label=i % 2, positive=[centre], negative=[(5.0, 5.0)],
                                boxes=[(x0 / args.size * 100, y0 / args.size * 100, x1 / args.size * 100, y1 / args.size * 100)]))
    data = prepare(examples, images, args.size)
    results = {"arch": args.arch, "size": args.size, "batch_size": args.batch_size, "device": str(device),
               "torch_threads": torch.get_num_threads(), "images_per_s": {}, "ratio_to_ce": {}}
    for name, overrides in VARIANTS.items():
        model = build_model(args.arch, 2)
        config = TrainConfig(batch_size=args.batch_size, unlabeled_batch=0, **overrides)
        fine_tune(model, args.arch, data, TrainConfig(**{**config.__dict__, "steps": 1}), device=device)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        fine_tune(model, args.arch, data, TrainConfig(**{**config.__dict__, "steps": args.steps}), device=device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        results["images_per_s"][name] = round(args.batch_size * args.steps / (time.perf_counter() - started), 2)
    base = results["images_per_s"]["ce"]
    results["ratio_to_ce"] = {k: round(v / base, 3) for k, v in results["images_per_s"].items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
