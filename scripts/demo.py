#!/usr/bin/env python
"""Run the whole thing locally: Label Studio and the backend on 127.0.0.1, a demo project with predictions.

Generates the default biased dataset and base model if missing (tests/support/demo_stack.py), starts Label Studio
(from .ls-venv) and the backend, creates the project from templates/combined.xml,
imports the images through a local storage, connects the backend and its webhook,
scores every task and imports the predictions in chunks of 100 with the queue order (a progress bar each;
no request waits on Label Studio calling the backend for every task), then prints the URL, user and password.
Ctrl-C stops everything it started; a second run reuses the database and project.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: local servers of a checkout

from tests.support.demo_stack import QUEUE_BATCH, TITLE, TRAIN_EVERY, add_stack_options, stack_from  # noqa: E402
from tests.support.label_studio_server import PASSWORD, USER  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_stack_options(parser, workdir=".demo", ls_port=8080, port=9090)
    parser.add_argument("--split", default="train", help="which images become tasks")
    parser.add_argument("--check", action="store_true", help="stop after the predictions instead of serving")
    args = parser.parse_args()
    try:
        with stack_from(args, args.split) as demo:
            tasks = demo.client.projects.get(demo.project).task_number
            print(f"\nLabel Studio: {demo.label_studio.url}/projects/{demo.project}/data   user: {USER}   password: {PASSWORD}")
            print(f"API token (Account & Settings, or LABEL_STUDIO_API_KEY): {demo.label_studio.token}")
            print(f"project '{TITLE}': {tasks} tasks, predictions from {demo.queue.version}, queue ordered by gmm "
                  f"(tab 'Attention queue', first batch of {QUEUE_BATCH} filled per predicted class); the backend "
                  f"retrains after every {TRAIN_EVERY} annotations and re-orders the queue")
            print(f"shortcut report: {demo.backend.url}/report?project={demo.project} (also linked from the "
                  "project's labeling instructions)")
            print(f"backend: {demo.backend.url} (log {demo.backend.log}); Ctrl-C stops both.", flush=True)
            while not args.check:
                time.sleep(1)
    except KeyboardInterrupt:
        print("stopping ...", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    main()
