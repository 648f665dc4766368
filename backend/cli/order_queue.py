"""Order a Label Studio project's annotation queue with an active-learning strategy.

Scores every task with the backend's model (cached per model version), ranks the
unannotated ones, and writes to Label Studio: one prediction per task whose score is
its priority (1 = annotate first, shown as 100%; earlier predictions are replaced),
the project's model version and an "Attention queue" tab ordered by that score, highest
first; it prints the head of the queue and the seconds each step took. ``--dry-run`` prints the head of the queue and writes nothing.
The model is found as the backend finds it: MODEL_DIR, MODEL_PATH, ... (see README).
Under torchrun (``torchrun --nproc-per-node 4 scripts/order_queue.py ...``) the scoring of the
tasks splits across the processes and the first one writes to Label Studio.
"""
from __future__ import annotations

import argparse
import json
import logging
import os

import backend  # noqa: F401
from backend.active import STRATEGIES
from backend.cli import HelpFormatter
from backend.service.ranking import order_project
from backend.settings import Settings
from backend.training import distributed


def parser() -> argparse.ArgumentParser:
    """The command's options (shown by --help with their defaults)."""
    found = argparse.ArgumentParser(prog="attention-order-queue", description=__doc__, formatter_class=HelpFormatter)
    found.add_argument("--url", default=os.environ.get("LABEL_STUDIO_URL", ""), help="Label Studio URL (default: the LABEL_STUDIO_URL variable)")
    found.add_argument("--project", type=int, required=True, help="Label Studio project id")
    found.add_argument("--strategy", choices=sorted(STRATEGIES), default="gmm", help="active-learning strategy that ranks the tasks")
    found.add_argument("--batch-size", type=int, default=32, help="size of the first, class-balanced batch")
    found.add_argument("--plain-top-k", action="store_true", help="fill the first batch by rank alone, not per predicted class")
    found.add_argument("--similar-to", type=int, nargs="*", default=[], help="task ids whose nearest unannotated neighbours go first")
    found.add_argument("--dry-run", action="store_true", help="print the head of the queue, write nothing")
    found.add_argument("--report", action="store_true",
                       help="also write the served version's shortcut report (GET /report?project=ID shows it)")
    found.add_argument("--top", type=int, default=20, help="how many queue entries to print")
    return found


def main() -> None:
    args = parser().parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings.from_env(label_studio_url=args.url) if args.url else Settings.from_env()
    world = distributed.init(settings.device)
    try:
        ordering = order_project(
            settings.serving, settings.label_studio, args.project, args.strategy, args.batch_size, settings.train.seed,
            dry_run=args.dry_run,
            similar_to=args.similar_to, per_class=not args.plain_top_k, progress=world.is_main, report=args.report,
            public_url=settings.public_url,
        )
    finally:
        distributed.close(world)
    if not world.is_main:
        return
    queue = ordering.queue
    head = [{"rank": i + 1, "task": t, "score": queue.scores[str(t)], "utility": round(queue.utilities.get(str(t), 0.0), 4)}
            for i, t in enumerate(queue.order[: args.top])]
    print(json.dumps({"model_version": queue.version, "strategy": queue.strategy, "tasks": len(queue.order),
                      "similar": ordering.neighbours, "head": head, "written": not args.dry_run,
                      "seconds": ordering.seconds}, indent=2))


if __name__ == "__main__":
    main()
