"""Compare active-learning strategies and guidance losses with simulated annotators (see backend/evaluation/simulation.py).

With --suite: the bias suite (backend/evaluation/suite.py), every bias kind x method x share of annotated images x
seed against the cue-free oracle, written to OUT/suite.md and OUT/suite.json; hours on a CPU, and it resumes.

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
from backend.cli import HelpFormatter
from backend.evaluation.dataset import load_dataset
from backend.evaluation.report import write_report
from backend.evaluation.simulation import SAL_CONDITIONS, SimConfig, Simulator
from backend.evaluation.suite import SuiteConfig, run_suite, write_suite_report
from backend.evaluation.synthetic import CUE_KINDS, BiasSpec, write_dataset
from backend.training.trainer import LOSSES


def parser() -> argparse.ArgumentParser:
    """The command's options (shown by --help with their defaults)."""
    defaults, suite = SimConfig(), SuiteConfig()
    found = argparse.ArgumentParser(prog="attention-simulate", description=__doc__, formatter_class=HelpFormatter)
    found.add_argument("--data", help="dataset folder (default: generate the default biased dataset)")
    found.add_argument("--out", required=True, help="folder for the records, summary.md, plots (or the suite's cells)")
    found.add_argument("--strategies", nargs="+", default=None,
                       help=f"any of {sorted(STRATEGIES)}; append @topk for plain top-k batches instead of per-class "
                            f"(default: {defaults.strategies}; with --suite: {suite.strategy}, and the strategies named "
                            "here are compared with it on the --losses at each share, paired by seed)")
    found.add_argument("--losses", nargs="+", default=None,
                       help=f"any of {', '.join(LOSSES)}; append /click, /box or /mask for the simulated annotation, ~jtt to "
                            "draw the labelled images the model starts wrong or least sure on as often as the rest, ~pseudo to swap "
                            "their backgrounds too around the guided model's attention (both: ~jtt~pseudo), ~fit to paste each swapped "
                            "object where the partner's object was and at its size, :METHOD "
                            "(gradcam, gradcam++, hirescam, cam) to rank and train with that attention method; or a SAL "
                            f"condition: {', '.join(SAL_CONDITIONS)} (default: {defaults.losses}, with --suite "
                            f"{suite.methods})")
    found.add_argument("--sal-change-point", type=float, default=defaults.sal_change_point,
                       help="share of the budget with human saliency in the SAL conditions")
    found.add_argument("--budget", type=int, default=defaults.budget, help="annotated images at the end")
    found.add_argument("--rounds", type=int, default=defaults.rounds, help="annotation rounds, each followed by fine-tuning")
    found.add_argument("--seeds", type=int, default=None,
                       help=f"number of seeds (0..S-1; default {len(defaults.seeds)}, with --suite {suite.seeds})")
    found.add_argument("--steps", type=int, default=None,
                       help=f"fine-tuning steps per round (default {defaults.train.steps}, with --suite {suite.sim.train.steps})")
    found.add_argument("--models", type=Path, default=None,
                       help="folder of the base and oracle models (base_model.pt, oracle_model.pt) to reuse, e.g. a "
                            "suite kind's folder; trained and saved there when missing (default: OUT)")
    found.add_argument("--suite", action="store_true", help="run the bias suite instead of one dataset")
    found.add_argument("--report", action="store_true",
                       help="with --suite: only rewrite OUT/suite.md and OUT/suite.json from the finished cells")
    found.add_argument("--rows", nargs="+", type=Path, default=[],
                       help="with --suite: suite.json files of earlier runs whose rows fill what the cells on disk lack")
    found.add_argument("--kinds", nargs="+", default=suite.kinds, choices=CUE_KINDS, help="bias kinds of the suite")
    found.add_argument("--shares", nargs="+", type=float, default=suite.shares, help="shares of annotated images (suite)")
    found.add_argument("--bias", type=float, default=suite.bias, help="share of training images whose cue matches the class (suite)")
    found.add_argument("--default", default=suite.default, help="the method the suite's verdict is about")
    found.add_argument("--chosen-on", nargs="*", default=suite.chosen_on, choices=CUE_KINDS,
                       help="kinds whose results were used to choose methods or settings; the others are reported as held out")
    found.add_argument("--arch", default=defaults.arch, help="architecture of the base model and oracle")
    found.add_argument("--image-size", type=int, default=defaults.image_size, help="model input size in px")
    found.add_argument("--train-images", type=int, default=1000, help="training images of a generated dataset")
    found.add_argument("--device", default=defaults.device, help="cpu, cuda, cuda:N or auto (a GPU when there is one)")
    return found


def main() -> None:
    defaults, suite = SimConfig(), SuiteConfig()
    args = parser().parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_flush_denormal(True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.suite:
        sim = replace(suite.sim, arch=args.arch, image_size=args.image_size, device=args.device,
                      train=replace(suite.sim.train, steps=args.steps or suite.sim.train.steps))
        cfg = SuiteConfig(kinds=args.kinds, methods=args.losses or suite.methods, shares=args.shares,
                          seeds=args.seeds or suite.seeds, train_images=args.train_images, bias=args.bias, sim=sim,
                          default=args.default, chosen_on=args.chosen_on,
                          compared=args.strategies or [])
        started = time.perf_counter()
        write_suite_report(out, cfg, args.rows) if args.report else run_suite(out, cfg, saved=args.rows)
        print((out / "suite.md").read_text())
        print(json.dumps({"seconds": round(time.perf_counter() - started, 1)}))
        return
    data_dir = Path(args.data) if args.data else out / "data"
    if not args.data and not (data_dir / "train.csv").exists():
        write_dataset(data_dir, BiasSpec(size=args.image_size, train=args.train_images, val=100, test=300, shifted=300))
    cfg = SimConfig(strategies=args.strategies or defaults.strategies, losses=args.losses or defaults.losses, budget=args.budget, rounds=args.rounds,
                    seeds=list(range(args.seeds or len(defaults.seeds))),
                    train=replace(defaults.train, steps=args.steps or defaults.train.steps), arch=args.arch,
                    image_size=args.image_size,
                    sal_change_point=args.sal_change_point, device=args.device)
    started = time.perf_counter()
    records = Simulator(load_dataset(data_dir), cfg, out, models=args.models).run()
    report = write_report(records, asdict(cfg), out)
    print((out / "summary.md").read_text())
    print(json.dumps({"seconds": round(time.perf_counter() - started, 1), "plots": report["plots"]}))


if __name__ == "__main__":
    main()
