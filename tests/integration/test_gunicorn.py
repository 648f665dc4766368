"""The protocol through a real gunicorn with two workers on 127.0.0.1."""
import os
import signal
import time
from pathlib import Path

import pytest
import requests

from backend.evaluation.annotators import click_event
from backend.labelstudio.templates import render_template
from backend.models.checkpoints import save_checkpoint
from backend.service.scheduler import TrainingScheduler
from backend.service.standby import StandbyPaths
from backend.settings import Settings
from tests.support.backend_server import start_backend

pytestmark = pytest.mark.server


@pytest.fixture
def server(settings, label_config_xml, tmp_path):
    env = dict(
        WORKERS="2",
        THREADS="2",
        MODEL_DIR=settings.model_dir,
        MODEL_PATH=settings.model_path,
        LOCAL_FILES_DOCUMENT_ROOT=settings.local_files_document_root,
        PRETRAINED_WEIGHTS="none",
        BASIC_AUTH_USER="ann",
        BASIC_AUTH_PASS="s3cret",
        LABEL_STUDIO_API_KEY="never-logged-token",
    )
    server = start_backend(env, tmp_path / "gunicorn.log")
    yield server.url, server.log
    server.stop()


def test_gunicorn_serves_the_protocol(server, label_config_xml, tasks):
    url, log_path = server
    auth = ("ann", "s3cret")
    assert requests.post(f"{url}/setup", json={"schema": label_config_xml}, auth=("ann", "bad"), timeout=10).status_code == 401
    setup = requests.post(f"{url}/setup", json={"project": "1.1700000000", "schema": label_config_xml}, auth=auth, timeout=30)
    assert setup.status_code == 200
    versions = set()
    for _ in range(4):  # requests land on both workers; each loads the same model
        response = requests.post(
            f"{url}/predict", json={"tasks": tasks, "project": "1.1700000000", "label_config": label_config_xml}, auth=auth, timeout=60
        )
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) == len(tasks)
        versions.add(body["model_version"])
    assert versions == {setup.json()["model_version"]}
    for _ in range(4):  # whichever worker answers the scrape, it counts both workers' tasks
        page = requests.get(f"{url}/metrics", auth=auth, timeout=10).text
        assert f"attention_backend_predict_tasks_total {4 * len(tasks)}.0\n" in page
    bad = requests.post(f"{url}/predict", data=b"{", headers={"Content-Type": "application/json"}, auth=auth, timeout=10)
    assert bad.status_code == 400
    assert "never-logged-token" not in log_path.read_text()


def test_a_worker_restart_during_training_keeps_serving_and_the_run_lands(biased, tmp_path):
    data, model = biased
    checkpoint = tmp_path / "base.pt"
    save_checkpoint(model, str(checkpoint), "small_cnn", list(data.classes), 64, "biased")
    # 1,500 steps of the one annotated image (one a step): long enough to outlast a reload of two workers
    env = dict(WORKERS="2", MODEL_DIR=str(tmp_path / "models"), MODEL_PATH=str(checkpoint), PRETRAINED_WEIGHTS="none",
               LOCAL_FILES_DOCUMENT_ROOT=str(data.root), TRAIN_STEPS="1500", TRAIN_BATCH_SIZE="8", TRAIN_UNLABELED_BATCH="0",
               DEVICE="cpu")
    server = start_backend(env, tmp_path / "gunicorn.log")
    xml = render_template("combined", data.classes)
    scheduler = TrainingScheduler(Settings.from_env(env))
    task = {"id": 1, "data": {"image": "/data/local-files/?d=images/test/00000.png"}}

    def predict():
        response = requests.post(f"{server.url}/predict", json={"tasks": [task], "project": 8, "label_config": xml}, timeout=60)
        assert response.status_code == 200 and response.json()["results"][0]["result"]
        return response.json()["model_version"]

    try:
        assert requests.post(f"{server.url}/webhook", json=click_event(data, xml, 0, 8), timeout=30).json()["status"] == "started"
        deadline = time.time() + 60
        while not scheduler.is_running(8) and time.time() < deadline:
            time.sleep(0.05)
        old_workers = server.worker_pids()
        os.kill(old_workers[0], signal.SIGKILL)  # a crashed worker
        server.process.send_signal(signal.SIGHUP)  # and a graceful reload of all of them
        assert scheduler.is_running(8), "the training run must outlive the workers"
        deadline = time.time() + 60
        while set(server.worker_pids()) & set(old_workers) or len(server.worker_pids()) < 2:
            assert time.time() < deadline, "gunicorn did not replace its workers"
            time.sleep(0.2)
        assert predict().startswith("base-small_cnn-")  # new workers serve the previous model while training goes on
        status = scheduler.wait(8, timeout=300)
        assert status["state"] == "idle" and status["last_version"] == "v0001"
        assert predict() == "v0001"
    finally:
        server.stop()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state


def test_two_workers_keep_one_standby_runner_and_it_leaves_with_the_server(settings, tmp_path):
    model_dir = tmp_path / "m"  # a short path: the socket's must fit the kernel's limit
    env = dict(WORKERS="2", MODEL_DIR=str(model_dir), MODEL_PATH=settings.model_path, PRETRAINED_WEIGHTS="none",
               DEVICE="cpu", TRAIN_STANDBY="60")
    server = start_backend(env, tmp_path / "gunicorn.log")
    paths = StandbyPaths.of(model_dir)
    try:
        deadline = time.time() + 120
        while not paths.socket.exists():
            assert time.time() < deadline, "no standby runner became ready"
            time.sleep(0.2)
        pid = int(paths.lock.read_text())
        standbys = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _alive(int(p.name))
                    and b"standby_runner" in _cmdline(p) and str(model_dir).encode() in _cmdline(p)]
        assert [int(p.name) for p in standbys] == [pid]  # both workers asked; the lock let one start
    finally:
        server.stop()
    deadline = time.time() + 15
    while _alive(pid):
        assert time.time() < deadline, "the standby runner outlived the server"
        time.sleep(0.1)
    assert not paths.socket.exists()


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""
