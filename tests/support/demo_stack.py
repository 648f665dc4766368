"""The demo's stack: dataset and base model (made when missing), Label Studio and the backend on 127.0.0.1, and the
project with its images, backend, webhook and a first ordered queue. Used by ``scripts/demo.py`` and
``scripts/bench_feedback.py``."""
from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from label_studio_sdk import LabelStudio

from backend.active.annotation_queue import Queue
from backend.labelstudio.client import LabelStudioAccess, connect
from backend.labelstudio.templates import render_template
from backend.service.ranking import order_project
from backend.service.standby import stop_standby
from backend.settings import Settings
from tests.support.backend_server import BackendServer, start_backend
from tests.support.label_studio_server import TOKEN, LabelStudioServer, start_label_studio
from tests.support.label_studio_setup import ensure_local_storage, ensure_ml_backend, ensure_project, ensure_webhook

ROOT = Path(__file__).resolve().parents[2]
TITLE = "Attention guidance demo"
QUEUE_BATCH = 16  # the queue's first batch, filled per predicted class
TRAIN_EVERY = 8  # annotations between training runs: feedback after each small batch, not after every click
STANDBY_SECONDS = 600  # a runner waits imported for the next run (the demo's stack stops it)
TRAIN_STEPS = 30  # per run: a new queue within a minute of a batch on 2 CPU cores (each run continues the last)


@dataclass
class DemoStack:
    label_studio: LabelStudioServer
    backend: BackendServer
    client: LabelStudio
    project: int
    settings: Settings
    data: Path
    queue: Queue


def prepare_data(data: Path, model: Path) -> None:
    """The demo's dataset (600 training images, 128 px) and base model, made once."""
    if not (data / "train.csv").exists():
        subprocess.run([sys.executable, "scripts/make_biased_dataset.py", "--out", str(data), "--size", "128", "--train", "600",
                        "--val", "50", "--test", "100", "--shifted", "100"], cwd=ROOT, check=True)
    if not model.exists():
        model.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "scripts/train_base_model.py", "--data", str(data), "--out", str(model),
                        "--arch", "small_cnn", "--image-size", "128", "--epochs", "5"], cwd=ROOT, check=True)


def add_stack_options(parser: argparse.ArgumentParser, workdir: str, ls_port: int, port: int) -> None:
    """The options every script on the demo's stack takes: dataset, base model, working folder, ports."""
    parser.add_argument("--data", default="data/default", help="dataset folder (inside data/, Label Studio's document root)")
    parser.add_argument("--model", default="models/default-base.pt", help="base checkpoint (trained when missing)")
    parser.add_argument("--workdir", default=workdir, help="Label Studio's database, the backend's MODEL_DIR and logs")
    parser.add_argument("--ls-port", type=int, default=ls_port, help="Label Studio's port on 127.0.0.1")
    parser.add_argument("--port", type=int, default=port, help="the backend's port on 127.0.0.1")


def stack_from(args: argparse.Namespace, split: str = "train") -> contextlib.AbstractContextManager["DemoStack"]:
    """:func:`demo_stack` for the options of :func:`add_stack_options`."""
    return demo_stack((ROOT / args.data).resolve(), (ROOT / args.model).resolve(), (ROOT / args.workdir).resolve(),
                      args.ls_port, args.port, split)


@contextlib.contextmanager
def demo_stack(data: Path, model: Path, workdir: Path, ls_port: int, port: int, split: str = "train") -> Iterator[DemoStack]:
    """Start everything, create (or reuse) the project and order its queue; stop both servers on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    document_root = (ROOT / "data").resolve()
    prepare_data(data, model)
    print("starting Label Studio (30-40 s on a fresh database) ...", flush=True)
    ls = start_label_studio(workdir, document_root, port=ls_port)
    backend_url = f"http://127.0.0.1:{port}"
    env = dict(WORKERS="1", LABEL_STUDIO_URL=ls.url, LABEL_STUDIO_API_KEY=TOKEN, MODEL_PATH=str(model),
               MODEL_DIR=str(workdir / "models"), LOCAL_FILES_DOCUMENT_ROOT=str(document_root), PRETRAINED_WEIGHTS="none",
               QUEUE_STRATEGY="gmm", QUEUE_BATCH_SIZE=str(QUEUE_BATCH), TRAIN_EVERY=str(TRAIN_EVERY),
               TRAIN_STEPS=str(TRAIN_STEPS), TRAIN_STANDBY=str(STANDBY_SECONDS), PUBLIC_URL=backend_url)
    try:
        server = start_backend(env, workdir / "backend.log", port=port)
    except RuntimeError as exc:
        ls.stop()
        raise SystemExit(str(exc)) from None
    try:
        client = connect(LabelStudioAccess(ls.url, TOKEN))
        classes = [c for c in (data / "classes.txt").read_text().splitlines() if c]
        project = ensure_project(client, TITLE, render_template("combined", classes))
        ensure_local_storage(client, project, str(data / "images" / split))
        ensure_ml_backend(client, project, backend_url)
        ensure_webhook(client, project, f"{backend_url}/webhook")
        settings = Settings.from_env(env)
        queue = order_project(settings.serving, settings.label_studio, project, "gmm", batch_size=QUEUE_BATCH,
                              report=True, public_url=settings.public_url).queue  # the base's report, linked
        yield DemoStack(ls, server, client, project, settings, data, queue)
    finally:
        server.stop()
        stop_standby(env["MODEL_DIR"])
        ls.stop()
