"""Check the shortcut report on the bias suite's kinds (see backend/evaluation/shortcut_check.py): per kind and
seed, base, oracle and the default method's version, flagged or not, precision on the cue pixels, AUC of the
suspicion on cue-conflicting images. Writes OUT/shortcut_check.md and .json; finished kind x seed pairs resume."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from backend.cli import HelpFormatter
from backend.evaluation.shortcut_check import CheckConfig, run_check
from backend.evaluation.synthetic import CUE_KINDS


def parser() -> argparse.ArgumentParser:
    """The command's options (shown by --help with their defaults)."""
    defaults = CheckConfig()
    found = argparse.ArgumentParser(prog="attention-check-shortcuts", description=__doc__, formatter_class=HelpFormatter)
    found.add_argument("--out", required=True, help="folder for the datasets, models and results")
    found.add_argument("--kinds", nargs="+", default=list(defaults.kinds), choices=CUE_KINDS, help="bias kinds to check")
    found.add_argument("--seeds", type=int, nargs="+", default=list(defaults.seeds), help="seeds per kind")
    found.add_argument("--train-images", type=int, default=defaults.train_images, help="training images (the project's tasks)")
    found.add_argument("--bias", type=float, default=defaults.bias, help="share of training images whose cue matches the class")
    found.add_argument("--share", type=float, default=defaults.share, help="share of training images annotated")
    found.add_argument("--report", action="store_true", help="only rewrite the table from the finished kind x seed pairs")
    found.add_argument("--steps", type=int, default=defaults.steps, help="fine-tuning steps of the default method")
    found.add_argument("--device", default=defaults.device, help="cpu, cuda, cuda:N or auto: where models train and run")
    return found


def main() -> None:
    args = parser().parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = CheckConfig(kinds=tuple(args.kinds), seeds=tuple(args.seeds), train_images=args.train_images, bias=args.bias,
                      share=args.share, steps=args.steps, device=args.device)
    out = Path(args.out)
    run_check(out, cfg, report_only=args.report)
    print((out / "shortcut_check.md").read_text())


if __name__ == "__main__":
    main()
