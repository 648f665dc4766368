"""Time ranking a large cached pool (default 100,000 images, 16x16 attention maps) with each strategy; prints JSON."""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import backend  # noqa: F401
from backend.active import Pool, get_strategy, select_batch
from backend.cli import HelpFormatter


def parser() -> argparse.ArgumentParser:
    """The command's options (shown by --help with their defaults)."""
    found = argparse.ArgumentParser(prog="attention-bench-rank", description=__doc__, formatter_class=HelpFormatter)
    found.add_argument("--pool", type=int, default=100_000, help="images in the simulated pool")
    found.add_argument("--classes", type=int, default=2, help="classes of the simulated model")
    found.add_argument("--batch", type=int, default=64, help="images per selected batch")
    found.add_argument("--strategies", nargs="+", default=["random", "entropy", "gmm", "gmm_diverse", "coreset", "badge"],
                       help="strategies to time")
    return found


def main() -> None:
    args = parser().parse_args()
    rng = np.random.default_rng(0)
    centres = rng.random((args.pool, 2))
    ys, xs = np.mgrid[0:16, 0:16] / 16
    attention = np.exp(-((xs[None] - centres[:, :1, None]) ** 2 + (ys[None] - centres[:, 1:, None]) ** 2) / 0.02).astype(np.float32)
    logits = rng.normal(0, 2, (args.pool, args.classes))
    pool = Pool(
        probabilities=np.exp(logits) / np.exp(logits).sum(1, keepdims=True),
        attention=attention,
        embeddings=rng.normal(size=(args.pool, 128)).astype(np.float32),
    )
    seconds = {}
    for name in args.strategies:
        started = time.perf_counter()
        ranking = get_strategy(name)(pool, args.batch, np.random.default_rng(0))
        select_batch(ranking, pool, args.batch)
        seconds[name] = round(time.perf_counter() - started, 3)
    print(json.dumps({"pool": args.pool, "batch": args.batch, "seconds": seconds}, indent=2))


if __name__ == "__main__":
    main()
