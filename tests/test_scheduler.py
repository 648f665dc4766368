"""Background training through the webhook, with real runner processes."""
import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from backend.annotators import click_event
from backend.checkpoints import ModelStore
from backend.journal import AnnotationJournal
from backend.scheduler import TrainingScheduler
from backend.server import create_app
from backend import training_run


@pytest.fixture
def env(biased_project):
    return biased_project


def _predict_version(client, xml):
    task = {"id": 1, "data": {"image": "/data/local-files/?d=images/test/00000.png"}}
    response = client.post("/predict", json={"tasks": [task], "project": "8.1", "label_config": xml})
    assert response.status_code == 200
    return response.json["model_version"]


def _wait_running(scheduler, project, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = scheduler.status(project)
        if status["state"] == "running" and scheduler.is_running(project):
            return status
        time.sleep(0.05)
    raise AssertionError(f"training did not start: {scheduler.status(project)}")


def test_webhook_queues_background_training_and_the_new_version_serves(env):
    data, settings, xml = env
    client = create_app(settings).test_client()
    assert _predict_version(client, xml).startswith("base-small_cnn-")
    started = time.perf_counter()
    response = client.post("/webhook", json=click_event(data, xml, 0, 8))
    assert response.status_code == 200 and response.json["status"] == "started"
    assert time.perf_counter() - started < 5  # the request does not train
    status = TrainingScheduler(settings).wait(8, timeout=120)
    assert status["state"] == "idle" and status["runs"] == 1 and status["last_version"] == "v0001"
    manifest = ModelStore(settings.model_dir).latest(8)
    assert manifest.parent.startswith("base-small_cnn-") and manifest.annotation_count == 1
    assert manifest.metrics["steps"] == 5
    assert _predict_version(client, xml) == "v0001"
    assert 'attention_backend_training_runs_total{pid="' in client.get("/metrics").get_data(as_text=True)


def test_webhook_storm_queues_one_run_and_predict_keeps_answering(env):
    data, settings, xml = env
    settings = replace(settings, train_steps=150)
    client = create_app(settings).test_client()
    scheduler = TrainingScheduler(settings)
    assert client.post("/webhook", json=click_event(data, xml, 0, 8)).json["status"] == "started"
    _wait_running(scheduler, 8)
    answers = {client.post("/webhook", json=click_event(data, xml, i % 6, 8)).json["status"] for i in range(20)}
    assert answers == {"queued"}
    assert scheduler.status(8)["state"] == "running"
    assert _predict_version(client, xml).startswith("base-")  # the previous model serves during training
    status = scheduler.wait(8, timeout=300)
    assert status["runs"] == 2 and status["failures"] == 0
    assert [m.version for m in ModelStore(settings.model_dir).versions(8)] == ["v0001", "v0002"]
    assert ModelStore(settings.model_dir).latest(8).parent == "v0001"  # chained on the previous version


def test_a_killed_run_leaves_no_half_version_and_the_next_run_recovers(env):
    data, settings, xml = env
    client = create_app(replace(settings, train_steps=2000)).test_client()
    scheduler = TrainingScheduler(settings)
    client.post("/webhook", json=click_event(data, xml, 0, 8))
    pid = _wait_running(scheduler, 8)["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 30
    while scheduler.is_running(8) and time.time() < deadline:
        time.sleep(0.05)
    assert scheduler.status(8)["state"] == "interrupted"
    assert ModelStore(settings.model_dir).versions(8) == []
    client = create_app(settings).test_client()
    assert client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 8, "label_config": xml}}).json["status"] == "started"
    assert scheduler.wait(8, timeout=120)["last_version"] == "v0001"


def test_a_failing_run_reports_and_keeps_serving(env, monkeypatch):
    data, settings, xml = env
    client = create_app(settings).test_client()
    client.post("/webhook", json=click_event(data, xml, 0, 8))
    TrainingScheduler(settings).wait(8, timeout=120)
    before = ModelStore(settings.model_dir).latest(8)

    broken = replace(settings, train_loss="magic")  # the runner process fails inside training
    TrainingScheduler(broken).request(8)
    status = TrainingScheduler(broken).wait(8, timeout=120)
    assert status["state"] == "failed" and status["failures"] == 1 and "unknown loss" in status["last_error"]
    assert ModelStore(settings.model_dir).latest(8).version == before.version
    assert 'training_failures_total{pid="' in client.get("/metrics").get_data(as_text=True)

    def corrupt_then_raise(model, *args, **kwargs):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float("nan"))
        raise RuntimeError("out of memory")

    monkeypatch.setattr(training_run, "fine_tune", corrupt_then_raise)
    with pytest.raises(RuntimeError):
        training_run.run_training(8, settings)
    assert [m.version for m in ModelStore(settings.model_dir).versions(8)] == [before.version]
    response = client.post("/predict", json={"tasks": [{"data": {"image": "/data/local-files/?d=images/test/00001.png"}}],
                                             "project": 8, "label_config": xml})
    assert np.isfinite(response.json["results"][0]["score"]) and response.json["model_version"] == before.version


def test_deleting_annotations_and_training_with_nothing(env):
    data, settings, xml = env
    client = create_app(replace(settings, train_every=3)).test_client()
    assert client.post("/webhook", json=click_event(data, xml, 0, 8)).json == {"status": "recorded", "changes_since_training": 1}
    deleted = {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 1000}], "project": {"id": 8, "label_config": xml}}
    assert client.post("/webhook", json=deleted).json == {"status": "recorded", "removed": 1}
    assert client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 8, "label_config": xml}}).json["status"] == "started"
    status = TrainingScheduler(settings).wait(8, timeout=120)
    assert status["state"] == "idle" and "no usable annotated task" in status["message"]
    assert ModelStore(settings.model_dir).versions(8) == []
    bad = client.post("/webhook", json={"action": "ANNOTATION_CREATED", "project": {"id": 8, "label_config": xml}})
    assert bad.status_code == 400 and "annotation" in bad.json["error"]


def test_a_full_disk_while_saving_leaves_no_version_and_the_next_run_recovers(env, monkeypatch):
    import errno

    from backend import checkpoints, scheduler

    data, settings, xml = env
    journal = AnnotationJournal(settings.model_dir, 8)
    journal.set_label_config(xml)
    event = click_event(data, xml, 0, 8)
    journal.upsert(event["task"], event["annotation"])
    real_save = torch.save

    def disk_fills_up(obj, path, *args, **kwargs):
        real_save(obj, path, *args, **kwargs)
        with open(path, "r+b") as handle:  # what reached the disk before it filled up
            handle.truncate(1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints.torch, "save", disk_fills_up)
    (TrainingScheduler(settings).folder(8) / scheduler.PENDING).touch()
    scheduler._run_pending("8", settings)  # the runner's body, in this process
    status = TrainingScheduler(settings).status(8)
    assert status["state"] == "failed" and "No space left on device" in status["last_error"]
    store = ModelStore(settings.model_dir)
    assert store.versions(8) == [] and not list(store.root.glob("8/.partial-*"))
    client = create_app(settings).test_client()
    assert _predict_version(client, xml).startswith("base-small_cnn-")

    monkeypatch.setattr(checkpoints.torch, "save", real_save)
    (TrainingScheduler(settings).folder(8) / scheduler.PENDING).touch()
    scheduler._run_pending("8", settings)
    assert TrainingScheduler(settings).status(8)["last_version"] == "v0001"
    assert _predict_version(client, xml) == "v0001"


def test_training_goes_on_when_label_studio_cannot_be_reached(env, caplog):
    import logging
    import socket

    data, settings, xml = env
    silent = socket.socket()  # accepts connections and never answers: a hung Label Studio
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    hung = replace(settings, label_studio_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
                   label_studio_api_key="never-logged-token", label_studio_timeout=1.0)
    journal = AnnotationJournal(settings.model_dir, 8)
    journal.set_label_config(xml)
    event = click_event(data, xml, 0, 8)
    journal.upsert(event["task"], event["annotation"])
    started = time.time()
    with caplog.at_level(logging.WARNING):
        manifest = training_run.run_training(8, hung)
    silent.close()
    assert manifest.version == "v0001" and manifest.annotation_count == 1
    assert "could not read annotations from Label Studio" in caplog.text and "never-logged-token" not in caplog.text
    assert time.time() - started < 60
