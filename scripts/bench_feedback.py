#!/usr/bin/env python
"""How long an annotator waits for a new queue: the demo project (600 tasks), a batch of simulated click
annotations made through Label Studio's API, then the time from the last one to the re-ordered queue in Label
Studio, and where that time goes.

Starts the demo's stack (Label Studio and the backend on 127.0.0.1, ``--workdir`` fresh or reused), annotates the
head of the queue (a focus click on the object, from the dataset's masks), waits until the backend has trained and
pushed the next version, and prints JSON: seconds to the new queue, the seconds of every stage of the run (sync,
train, validate, publish, rank, push) from ``train_status.json``, the bulk write rate and what it means for 100,000 tasks, and predictions per task.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: local servers of a checkout

from backend.evaluation.annotators import click_annotation  # noqa: E402
from backend.evaluation.dataset import load_dataset  # noqa: E402
from backend.labelstudio.config import LabelConfig  # noqa: E402
from backend.storage.files import read_json  # noqa: E402
from backend.storage.project_dir import ProjectDir  # noqa: E402
from tests.support.demo_stack import TRAIN_EVERY, add_stack_options, stack_from  # noqa: E402


@contextlib.contextmanager
def _busy(count: int) -> Iterator[None]:
    """``count`` processes that keep one core each busy (another job on the machine), stopped on exit."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_stack_options(parser, workdir=".bench-feedback", ls_port=8081, port=9091)
    parser.add_argument("--batch", type=int, default=TRAIN_EVERY, help="annotations made (the demo trains after this many)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the new queue")
    parser.add_argument("--busy", type=int, default=0,
                        help="CPU-bound processes kept running beside the stack from the first annotation to the new queue")
    args = parser.parse_args()
    with stack_from(args) as demo, _busy(args.busy):
        client, project = demo.client, demo.project
        folder = ProjectDir(demo.settings.model_dir, project)
        before = read_json(folder.status, {}).get("queue_version", demo.queue.version)
        config = LabelConfig.parse(client.projects.get(project).label_config)
        samples = {s.image.name: s for s in load_dataset(demo.data).splits["train"]}
        head = demo.queue.order[: args.batch]
        annotated = time.time()
        for task_id in head:
            sample = samples[Path(client.tasks.get(str(task_id)).data["image"]).name]
            mask = np.asarray(Image.open(sample.mask)) > 0
            annotated = time.time()  # the last annotation's request: its webhook may start the run before it returns
            client.annotations.create(id=task_id, result=click_annotation(config, sample.label, mask)["result"])
        print(f"{len(head)} annotations made; waiting for the next queue ...", flush=True)
        status = {}
        while time.time() < annotated + args.timeout:
            status = read_json(folder.status, {})
            if status.get("queue_version") not in (None, before) and status.get("state") == "idle":
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"no new queue within {args.timeout} s: {status}")
        version = client.projects.get(project).model_version
        reached = time.time()
        counts = [len([p for p in (t.predictions or [])]) for t in client.tasks.list(project=project, fields="all")]
        manifest = folder.models.latest()
        stages = status.get("stages", {})
        rate = stages.get("push", {}).get("tasks_per_second")
        report = {
            "tasks": len(counts),
            "annotations": len(head),
            "busy_processes": args.busy,
            "seconds_to_new_queue": round(reached - annotated, 1),
            "waiting_for_the_run": round(status["started"] - annotated, 2),
            "run_until_published": manifest.metrics.get("seconds"),
            "train_steps": demo.settings.train.steps,
            "stages": {name: stage.get("seconds") for name, stage in stages.items()},
            "label_studio_version": version,
            "push_tasks_per_second": rate,
            "push_delete_seconds": stages.get("push", {}).get("delete_seconds"),  # Label Studio's own work
            "push_import_seconds": stages.get("push", {}).get("import_seconds"),
            "push_100k_tasks_minutes": round(100_000 / rate / 60, 1) if rate else None,
            "predictions_per_task": [min(counts), max(counts)],
            "report_linked": f"model version {version}:" in (client.projects.get(project).expert_instruction or ""),
        }
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
