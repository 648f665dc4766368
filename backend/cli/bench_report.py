"""Time the shortcut report's computation on simulated project scores (default 600 and 100,000 tasks: 16x16
attention, 512-dim embeddings, 16x16 colours, 5% of the tasks with an annotated object and a swap result), against a
floor measured in the same run: ranking the same tasks with ``gmm``, the default queue (the IUI 2023 attention score). Each size is
warmed up, then the report and the floor alternate ``--repeats`` times; prints JSON (seconds and ratios)."""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import backend  # noqa: F401
from backend.active import Pool, get_strategy
from backend.cli import HelpFormatter
from backend.core.shortcuts import Evidence, discover


def parser() -> argparse.ArgumentParser:
    """The command's options (shown by --help with their defaults)."""
    found = argparse.ArgumentParser(prog="attention-bench-report", description=__doc__, formatter_class=HelpFormatter)
    found.add_argument("--tasks", type=int, nargs="+", default=[600, 100_000], help="project sizes to time")
    found.add_argument("--classes", type=int, default=2, help="classes of the simulated model")
    found.add_argument("--annotated", type=float, default=0.05, help="share of the tasks with an annotated object")
    found.add_argument("--repeats", type=int, default=3, help="timed alternations per size")
    return found


def simulated(n: int, classes: int, annotated: float, seed: int = 0) -> Evidence:
    """Scores shaped like a project's: attention peaks at random places, objects where about half of them are."""
    rng = np.random.default_rng(seed)
    centres = rng.random((n, 2))
    ys, xs = (np.mgrid[0:16, 0:16] + 0.5) / 16
    attention = np.exp(-((xs[None] - centres[:, :1, None]) ** 2 + (ys[None] - centres[:, 1:, None]) ** 2) / 0.02)
    logits = rng.normal(0, 2, (n, classes))
    labels = np.full(n, -1)
    known = rng.random(n) < annotated
    labels[known] = rng.integers(0, classes, known.sum())
    objects = np.zeros((n, 16, 16), bool)
    objects[known, 4:12, 4:12] = True
    swapped, partner = np.full(n, -1), np.full(n, -1)
    swapped[known], partner[known] = rng.integers(0, classes, known.sum()), rng.integers(0, classes, known.sum())
    return Evidence(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), attention.astype(np.float32),
                    rng.normal(size=(n, 512)).astype(np.float32), labels, objects, known,
                    rng.integers(0, 255, (n, 16, 16, 3), dtype=np.uint8), swapped, partner)


def main() -> None:
    args = parser().parse_args()
    found = {}
    for n in args.tasks:
        evidence = simulated(n, args.classes, args.annotated)
        pool = Pool(evidence.probabilities, evidence.attention, evidence.embeddings)
        variants = {"report": lambda: discover(evidence),
                    "floor_gmm_queue": lambda: get_strategy("gmm")(pool, 64, np.random.default_rng(0))}
        seconds = {name: [] for name in variants}
        for run in range(args.repeats + 1):  # the first round warms up every variant and is not counted
            for name, work in variants.items():
                started = time.perf_counter()
                work()
                if run:
                    seconds[name].append(time.perf_counter() - started)
        best = {name: min(values) for name, values in seconds.items()}
        found[str(n)] = {"seconds": {k: round(v, 3) for k, v in best.items()},
                         "report_over_floor": round(best["report"] / max(best["floor_gmm_queue"], 1e-9), 1)}
    print(json.dumps({"annotated_share": args.annotated, "classes": args.classes, "tasks": found}, indent=2))


if __name__ == "__main__":
    main()
