#!/usr/bin/env python
"""Download an architecture's ImageNet weights into the torch hub cache (for a Docker build), so that a backend
with ``PRETRAINED_WEIGHTS=cache`` or ``auto`` never downloads at /setup.

Usage: ``python scripts/bake_weights.py resnet18`` (attention branch networks use their backbone's weights).
"""
from __future__ import annotations

import argparse

import backend  # noqa: F401
from backend.models.architectures import ARCHITECTURES, architecture
from backend.models.classifier import cached_imagenet_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("arch", choices=[name for name, spec in ARCHITECTURES.items() if spec.weights is not None])
    args = parser.parse_args()
    weights = architecture(args.arch).weights
    weights.get_state_dict(progress=False)
    path = cached_imagenet_file(args.arch)
    if not path.is_file():
        raise SystemExit(f"{args.arch}: the weights did not land in {path}")
    print(f"{args.arch}: {path} ({path.stat().st_size // 2**20} MiB)")


if __name__ == "__main__":
    main()
