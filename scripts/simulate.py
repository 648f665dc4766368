#!/usr/bin/env python
"""Compare active-learning strategies and guidance losses with simulated annotators (see backend/evaluation/simulation.py).

Writes OUT/results.json, OUT/summary.md, OUT/summary.json and OUT/curves_<loss>.png; finished
cells are kept in OUT/cells/ so an interrupted run resumes. Without --data it generates the
default biased dataset into OUT/data.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

import backend  # noqa: F401
from backend.active import STRATEGIES
from backend.evaluation.dataset import load_dataset
from backend.evaluation.report import write_report
from backend.evaluation.simulation import SAL_CONDITIONS, SimConfig, Simulator
from backend.evaluation.synthetic import BiasSpec, write_dataset


def main() -> None:
    defaults = SimConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="dataset folder (default: generate the default biased dataset)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--strategies", nargs="+", default=defaults.strategies,
                        help=f"any of {sorted(STRATEGIES)}; append @topk for plain top-k batches instead of per-class")
    parser.add_argument("--losses", nargs="+", default=defaults.losses,
                        help="click, box, cyborg, copy_replace, ce, auto; append :METHOD (gradcam, gradcam++, hirescam, cam) to rank and "
                             "train with that attention method; or a SAL condition: " + ", ".join(SAL_CONDITIONS))
    parser.add_argument("--sal-change-point", type=float, default=defaults.sal_change_point,
                        help="share of the budget with human saliency in the SAL conditions")
    parser.add_argument("--budget", type=int, default=defaults.budget, help="annotated images at the end")
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--seeds", type=int, default=len(defaults.seeds), help="number of seeds (0..S-1)")
    parser.add_argument("--steps", type=int, default=defaults.train.steps, help="fine-tuning steps per round")
    parser.add_argument("--arch", default=defaults.arch)
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--train-images", type=int, default=1000, help="training images of a generated dataset")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_flush_denormal(True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(args.data) if args.data else out / "data"
    if not args.data and not (data_dir / "train.csv").exists():
        write_dataset(data_dir, BiasSpec(size=args.image_size, train=args.train_images, val=100, test=300, shifted=300))
    cfg = SimConfig(strategies=args.strategies, losses=args.losses, budget=args.budget, rounds=args.rounds,
                    seeds=list(range(args.seeds)), train=replace(defaults.train, steps=args.steps), arch=args.arch,
                    image_size=args.image_size,
                    sal_change_point=args.sal_change_point)
    started = time.perf_counter()
    records = Simulator(load_dataset(data_dir), cfg, out).run()
    report = write_report(records, asdict(cfg), out)
    print((out / "summary.md").read_text())
    print(json.dumps({"seconds": round(time.perf_counter() - started, 1), "plots": report["plots"]}))


if __name__ == "__main__":
    main()
