"""Train a base classifier on a dataset folder (train.csv, val.csv, ...; see the README's dataset layout) and save a
MODEL_PATH checkpoint.

Images are streamed from disk in batches (any dataset size), from scratch or from torchvision's ImageNet weights
(--pretrained cache|auto: a fresh head for the dataset's classes). A progress bar runs per epoch; after each epoch the
validation accuracy is measured, and the curve is written beside the checkpoint (<out>.curve.png and .json). At the
end, the accuracy on each evaluation split present (test, shifted) is printed as JSON.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

import backend  # noqa: F401
from backend.cli import HelpFormatter
from backend.core.line_chart import line_chart
from backend.evaluation.dataset import load_dataset
from backend.models.architectures import ARCHITECTURES, build_model
from backend.models.checkpoints import save_checkpoint
from backend.models.classifier import PRETRAINED_MODES, imagenet_model
from backend.training.from_files import files_accuracy, train_from_files


def parser() -> argparse.ArgumentParser:
    """The command's options (shown by --help with their defaults)."""
    found = argparse.ArgumentParser(prog="attention-train-base", description=__doc__, formatter_class=HelpFormatter)
    found.add_argument("--data", required=True, help="dataset folder")
    found.add_argument("--out", required=True, help="checkpoint file to write")
    found.add_argument("--arch", choices=sorted(ARCHITECTURES), default="resnet18", help="architecture (default: %(default)s)")
    found.add_argument("--image-size", type=int, default=64, help="model input size in px (default: %(default)s)")
    found.add_argument("--epochs", type=int, default=3, help="passes over train.csv (default: %(default)s)")
    found.add_argument("--batch-size", type=int, default=32, help="images per step (default: %(default)s)")
    found.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    found.add_argument("--seed", type=int, default=0, help="initialisation and shuffling (default: %(default)s)")
    found.add_argument("--pretrained", choices=PRETRAINED_MODES, default="none",
                       help="start from ImageNet weights: cache (torch hub cache only), auto (download if missing), "
                            "none (from scratch) (default: %(default)s)")
    found.add_argument("--workers", type=int, default=2, help="processes decoding images (default: %(default)s)")
    found.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    return found


def main() -> None:
    args = parser().parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_flush_denormal(True)
    data = load_dataset(args.data)
    split = {name: ([s.image for s in samples], [s.label for s in samples]) for name, samples in data.splits.items()}
    model = imagenet_model(args.arch, len(data.classes), args.pretrained) if args.pretrained != "none" else None
    if args.pretrained != "none" and model is None:
        raise SystemExit(f"no ImageNet weights for {args.arch} ({args.pretrained}): put them in the torch hub cache "
                         "(scripts/bake_weights.py) or use --pretrained auto on a machine that can download")
    source = "imagenet" if model is not None else "scratch"
    model = model if model is not None else build_model(args.arch, len(data.classes), seed=args.seed)
    history = train_from_files(model, split["train"], split.get("val"), args.image_size, args.epochs, args.batch_size,
                               args.lr, args.seed, args.workers, progress=not args.no_progress)
    report = {name: round(files_accuracy(model, *split[name], args.image_size, workers=args.workers), 4)
              for name in ("test", "shifted") if name in split}
    save_checkpoint(model, args.out, args.arch, list(data.classes), args.image_size, f"base-{args.arch}")
    out = Path(args.out)
    curve = {"epochs": list(range(1, args.epochs + 1)), "loss": history.loss,
             "validation_accuracy": history.validation_accuracy, "seconds": history.seconds, "start": source}
    out.with_suffix(".curve.json").write_text(json.dumps(curve, indent=1))
    line_chart({"validation accuracy": history.validation_accuracy}, [f"epoch {e}" for e in curve["epochs"]],
               out.with_suffix(".curve.png"), (f"start: {source}", f"{len(split['train'][0])} training images"))
    print(json.dumps({"checkpoint": args.out, "start": source, "accuracy": report,
                      "validation_accuracy": history.validation_accuracy}))


if __name__ == "__main__":
    main()
