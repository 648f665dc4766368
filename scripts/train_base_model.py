#!/usr/bin/env python
"""Train the biased base classifier from scratch on a dataset folder; save a MODEL_PATH checkpoint."""
from __future__ import annotations

import argparse
import json
import logging

import torch

import backend  # noqa: F401
from backend.evaluation.dataset import load_dataset
from backend.models.architectures import ARCHITECTURES
from backend.models.checkpoints import save_checkpoint
from backend.training.from_scratch import accuracy, train_from_scratch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="dataset folder")
    parser.add_argument("--out", required=True, help="checkpoint file to write")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="resnet18")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_flush_denormal(True)
    data = load_dataset(args.data)
    model = train_from_scratch(
        data.images("train"), data.labels("train"), len(data.classes), args.arch, args.image_size, args.epochs, lr=args.lr, seed=args.seed
    )
    report = {split: round(accuracy(model, data.images(split), data.labels(split), args.image_size), 4) for split in ("test", "shifted") if split in data.splits}
    save_checkpoint(model, args.out, args.arch, list(data.classes), args.image_size, f"base-{args.arch}")
    print(json.dumps({"checkpoint": args.out, "accuracy": report}))


if __name__ == "__main__":
    main()
