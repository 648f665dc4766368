#!/usr/bin/env python
"""Write a generated dataset with a shortcut and its cue-free split (see backend/evaluation/synthetic.py)."""
from __future__ import annotations

import argparse

import backend  # noqa: F401
from backend.evaluation.synthetic import CONTRAST, CUE_KINDS, BiasSpec, write_dataset


def main() -> None:
    defaults = BiasSpec()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="dataset folder to write")
    parser.add_argument("--size", type=int, default=defaults.size, help="image side in pixels")
    parser.add_argument("--classes", type=int, default=defaults.classes)
    for split in ("train", "val", "test", "shifted"):
        parser.add_argument(f"--{split}", type=int, default=getattr(defaults, split), help=f"images in {split}.csv")
    parser.add_argument("--bias", type=float, default=defaults.bias, help="share of training images whose cue matches the class")
    parser.add_argument("--cue", choices=CUE_KINDS, default=defaults.cue,
                        help="the shortcut: a coloured patch, a background tint, a background texture, or a companion shape")
    parser.add_argument("--train-unbiased", type=int, default=None,
                        help="images in train_unbiased.csv, the cue-free split of the oracle (default: as many as --train)")
    parser.add_argument("--contrast", type=float, default=None, help=f"stripe amplitude, the true cue (default per kind: {CONTRAST})")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args()
    spec = BiasSpec(**{k: v for k, v in vars(args).items() if k != "out"})
    print(f"wrote {write_dataset(args.out, spec, progress=True)}")


if __name__ == "__main__":
    main()
