"""Training throughput (images/s) with cross-entropy only and with each guided loss or method, in one run.

Every variant warms up first, then the variants alternate for ``--repeats`` rounds and each one's median
counts, so none carries another's warm-up. Prints JSON with images/s per architecture and variant and the
ratio to cross-entropy only. ``click_gradcam`` uses Grad-CAM with create_graph=True instead of the exact
CAM of the GAP + linear head; on an attention branch network every attention term uses A(x).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace

import numpy as np
import torch

import backend  # noqa: F401
from backend.cli import HelpFormatter
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
    "swap": {"loss": "swap"},
    "randomize": {"loss": "randomize"},
    "auto": {"loss": "auto"},
    "rrr": {"loss": "rrr"},
    "reconstruct": {"loss": "reconstruct"},
    "click_gradcam": {"loss": "click", "cam_method": "gradcam"},
}


def parser() -> argparse.ArgumentParser:
    """The command's options (shown by --help with their defaults)."""
    found = argparse.ArgumentParser(prog="attention-bench-train", description=__doc__, formatter_class=HelpFormatter)
    found.add_argument("--archs", nargs="+", default=["resnet18", "abn_resnet18"],
                       help="architectures (an attention branch network trains two heads: see its ce ratio)")
    found.add_argument("--size", type=int, default=224, help="model input size in px")
    found.add_argument("--batch-size", type=int, default=16, help="images per training step")
    found.add_argument("--steps", type=int, default=2, help="timed steps per variant and repeat")
    found.add_argument("--repeats", type=int, default=3, help="rounds over all variants (alternating); the median counts")
    found.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), help="training losses to time")
    found.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    return found


def main() -> None:
    args = parser().parse_args()
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
    results = {"size": args.size, "batch_size": args.batch_size, "device": str(device), "torch_threads": torch.get_num_threads(),
               "images_per_s": {}, "ratio_to_ce": {}}
    runs = [(arch, name) for arch in args.archs for name in args.variants]
    models = {run: build_model(run[0], 2) for run in runs}
    configs = {run: TrainConfig(batch_size=args.batch_size, unlabeled_batch=0, **VARIANTS[run[1]]) for run in runs}

    def timed(run: tuple[str, str], steps: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        fine_tune(models[run], run[0], data, replace(configs[run], steps=steps), device=device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    for run in runs:  # every variant warms up before any is timed
        timed(run, 1)
    seconds: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    for _ in range(args.repeats):  # variants alternate, so drifts of the machine hit them all alike
        for run in runs:
            seconds[run].append(timed(run, args.steps))
    for arch in args.archs:
        speed = {name: round(args.batch_size * args.steps / statistics.median(seconds[(arch, name)]), 2) for name in args.variants}
        results["images_per_s"][arch] = speed
        if "ce" in speed:
            results["ratio_to_ce"][arch] = {k: round(v / speed["ce"], 3) for k, v in speed.items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
