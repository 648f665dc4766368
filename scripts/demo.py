#!/usr/bin/env python
"""Run the whole thing locally: Label Studio and the backend on 127.0.0.1, a demo project with predictions.

Generates the default biased dataset and base model if missing, starts Label Studio
(from .ls-venv) and the backend, creates the project from templates/combined.xml,
imports the images through a local storage, connects the backend and its webhook,
scores every task and imports the predictions in chunks of 100 with the queue order (a progress bar each;
no request waits on Label Studio calling the backend for every task), then prints the URL, user and password.
Ctrl-C stops everything it started; a second run reuses the database and project.
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: local servers of a checkout

import backend  # noqa: E402,F401
from backend.labelstudio.client import connect  # noqa: E402
from backend.labelstudio.templates import render_template  # noqa: E402
from backend.service.ranking import order_project  # noqa: E402
from backend.settings import Settings  # noqa: E402
from tests.support.backend_server import start_backend  # noqa: E402
from tests.support.label_studio_server import PASSWORD, TOKEN, USER, start_label_studio  # noqa: E402
from tests.support.label_studio_setup import (
    ensure_local_storage,
    ensure_ml_backend,
    ensure_project,
    ensure_webhook,
)

ROOT = Path(__file__).resolve().parent.parent
TITLE = "Attention guidance demo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/default", help="dataset folder (inside data/, Label Studio's document root)")
    parser.add_argument("--model", default="models/default-base.pt")
    parser.add_argument("--workdir", default=".demo")
    parser.add_argument("--ls-port", type=int, default=8080)
    parser.add_argument("--port", type=int, default=9090)
    parser.add_argument("--split", default="train", help="which images become tasks")
    parser.add_argument("--check", action="store_true", help="stop after the predictions instead of serving")
    args = parser.parse_args()
    workdir = (ROOT / args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    document_root = (ROOT / "data").resolve()
    data = (ROOT / args.data).resolve()
    if not (data / "train.csv").exists():
        subprocess.run([sys.executable, "scripts/make_biased_dataset.py", "--out", str(data), "--size", "128", "--train", "600",
                        "--val", "50", "--test", "100", "--shifted", "100"], cwd=ROOT, check=True)
    if not (ROOT / args.model).exists():
        (ROOT / args.model).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "scripts/train_base_model.py", "--data", str(data), "--out", str(ROOT / args.model),
                        "--arch", "small_cnn", "--image-size", "128", "--epochs", "5"], cwd=ROOT, check=True)
    print("starting Label Studio (30-40 s on a fresh database) ...", flush=True)
    ls = start_label_studio(workdir, document_root, port=args.ls_port)
    backend_url = f"http://127.0.0.1:{args.port}"
    env = dict(WORKERS="1", LABEL_STUDIO_URL=ls.url, LABEL_STUDIO_API_KEY=TOKEN,
               MODEL_PATH=str(ROOT / args.model), MODEL_DIR=str(workdir / "models"), LOCAL_FILES_DOCUMENT_ROOT=str(document_root),
               PRETRAINED_WEIGHTS="none", QUEUE_STRATEGY="gmm")
    try:
        server = start_backend(env, workdir / "backend.log", port=args.port)
    except RuntimeError as exc:
        ls.stop()
        raise SystemExit(str(exc)) from None
    try:
        client = connect(ls.url, TOKEN)
        classes = [c for c in (data / "classes.txt").read_text().splitlines() if c]
        project = ensure_project(client, TITLE, render_template("combined", classes))
        ensure_local_storage(client, project, str(data / "images" / args.split))
        ensure_ml_backend(client, project, backend_url)
        ensure_webhook(client, project, f"{backend_url}/webhook")
        settings = Settings.from_env(env)
        queue = order_project(settings, project, "gmm", batch_size=16).queue
        tasks = client.projects.get(project).task_number
        print(f"\nLabel Studio: {ls.url}/projects/{project}/data   user: {USER}   password: {PASSWORD}")
        print(f"project '{TITLE}': {tasks} tasks, predictions from {queue.version}, queue ordered by gmm (tab 'Attention queue')")
        print(f"backend: {backend_url} (log {workdir / 'backend.log'}); Ctrl-C stops both.", flush=True)
        while not args.check:
            time.sleep(1)
    except KeyboardInterrupt:
        print("stopping ...", flush=True)
    finally:
        server.stop()
        ls.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    main()
