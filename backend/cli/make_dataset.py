"""Write a generated dataset with a shortcut and its cue-free split (see backend/evaluation/synthetic.py)."""
from __future__ import annotations

import argparse

import backend  # noqa: F401
from backend.cli import HelpFormatter
from backend.evaluation.synthetic import CONTRAST, CUE_KINDS, BiasSpec, write_dataset


def parser() -> argparse.ArgumentParser:
    """The command's options (shown by --help with their defaults)."""
    defaults = BiasSpec()
    found = argparse.ArgumentParser(prog="attention-make-dataset", description=__doc__, formatter_class=HelpFormatter)
    found.add_argument("--out", required=True, help="dataset folder to write")
    found.add_argument("--size", type=int, default=defaults.size, help="image side in pixels")
    found.add_argument("--classes", type=int, default=defaults.classes, help="number of classes (stripe orientations)")
    for split in ("train", "val", "test", "shifted"):
        found.add_argument(f"--{split}", type=int, default=getattr(defaults, split), help=f"images in {split}.csv")
    found.add_argument("--bias", type=float, default=defaults.bias, help="share of training images whose cue matches the class")
    found.add_argument("--cue", choices=CUE_KINDS, default=defaults.cue,
                       help="the shortcut: a coloured patch, a background tint, a background texture, or a companion shape")
    found.add_argument("--train-unbiased", type=int, default=None,
                       help="images in train_unbiased.csv, the cue-free split of the oracle (default: as many as --train)")
    found.add_argument("--contrast", type=float, default=None, help=f"stripe amplitude, the true cue (default per kind: {CONTRAST})")
    found.add_argument("--seed", type=int, default=defaults.seed, help="random seed of the generator")
    return found


def main() -> None:
    args = parser().parse_args()
    spec = BiasSpec(**{k: v for k, v in vars(args).items() if k != "out"})
    print(f"wrote {write_dataset(args.out, spec, progress=True)}")


if __name__ == "__main__":
    main()
