"""Background training through the webhook, with real runner processes."""
import os
import signal
import time

import numpy as np
import pytest
import torch

from backend.evaluation.annotators import click_event
from backend.http.server import create_app
from backend.service import training_run
from backend.service.scheduler import TrainingScheduler
from backend.service.training_run import STAGES
from tests.service.projects import folder_of as _folder
from tests.service.projects import predict_version as _predict_version


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
    manifest = _folder(settings).models.latest()
    assert manifest.parent.startswith("base-small_cnn-") and manifest.annotation_count == 1
    assert manifest.metrics["steps"] == 5
    log = _folder(settings).log.read_text()  # the runner's start-up shows between the scheduler's line and its own
    assert log.index("[backend.service.scheduler::") < log.index("project 8: starting a runner") < log.index("torch threads")
    assert _predict_version(client, xml) == "v0001"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'attention_backend_training_runs_total{project="8"} 1.0' in metrics
    assert 'attention_backend_training_stage_seconds{project="8",stage="train"}' in metrics  # each stage of the last run
    assert set(status["stages"]) == set(STAGES)
    assert status["stages"]["publish"] == {"outcome": "done", "seconds": status["stages"]["publish"]["seconds"],
                                           "version": "v0001", "parent": manifest.parent}


def test_webhook_storm_queues_one_run_and_predict_keeps_answering(env):
    data, settings, xml = env
    settings = settings.updated(train_steps=150)
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
    assert [m.version for m in _folder(settings).models.versions()] == ["v0001", "v0002"]
    assert _folder(settings).models.latest().parent == "v0001"  # chained on the previous version


def test_a_killed_run_leaves_no_half_version_and_the_next_run_recovers(env):
    data, settings, xml = env
    client = create_app(settings.updated(train_steps=2000)).test_client()
    scheduler = TrainingScheduler(settings)
    client.post("/webhook", json=click_event(data, xml, 0, 8))
    pid = _wait_running(scheduler, 8)["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 30
    while scheduler.is_running(8) and time.time() < deadline:
        time.sleep(0.05)
    assert scheduler.status(8)["state"] == "interrupted"
    assert scheduler.status(8)["failures"] == 1  # counted at once, not when the next run starts
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'attention_backend_training_failures_total{project="8"} 1.0' in metrics
    assert _folder(settings).models.versions() == []
    client = create_app(settings).test_client()
    assert client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 8, "label_config": xml}}).json["status"] == "started"
    status = scheduler.wait(8, timeout=120)
    assert status["last_version"] == "v0001"
    assert status["failures"] == 1 and "interrupted" in status["last_error"]  # the killed run is counted


def test_a_failing_run_reports_and_keeps_serving(env, monkeypatch):
    data, settings, xml = env
    client = create_app(settings).test_client()
    client.post("/webhook", json=click_event(data, xml, 0, 8))
    TrainingScheduler(settings).wait(8, timeout=120)
    before = _folder(settings).models.latest()

    broken = settings.updated(train_launcher="false")  # the runner process fails to train
    TrainingScheduler(broken).request(8)
    status = TrainingScheduler(broken).wait(8, timeout=120)
    assert status["state"] == "failed" and status["failures"] == 1 and "'false' published no version (exited with 1)" in status["last_error"]
    assert _folder(settings).models.latest().version == before.version
    assert 'training_failures_total{project="8"} 1.0' in client.get("/metrics").get_data(as_text=True)

    def corrupt_then_raise(model, *args, **kwargs):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float("nan"))
        raise RuntimeError("out of memory")

    monkeypatch.setattr(training_run, "fine_tune", corrupt_then_raise)
    with pytest.raises(RuntimeError):
        training_run.run_training(_folder(settings), settings)
    assert [m.version for m in _folder(settings).models.versions()] == [before.version]
    response = client.post("/predict", json={"tasks": [{"data": {"image": "/data/local-files/?d=images/test/00001.png"}}],
                                             "project": 8, "label_config": xml})
    assert np.isfinite(response.json["results"][0]["score"]) and response.json["model_version"] == before.version


def test_deleting_annotations_and_training_with_nothing(env):
    data, settings, xml = env
    client = create_app(settings.updated(train_every=3)).test_client()
    assert client.post("/webhook", json=click_event(data, xml, 0, 8)).json == {"status": "recorded", "changes_since_training": 1}
    deleted = {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 1000}], "project": {"id": 8, "label_config": xml}}
    assert client.post("/webhook", json=deleted).json == {"status": "recorded", "removed": 1}
    unknown = {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 999999}], "project": {"id": 8, "label_config": xml}}
    assert client.post("/webhook", json=unknown).json == {"status": "recorded", "removed": 0}  # starts no run
    assert not _folder(settings).pending.exists()
    assert client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 8, "label_config": xml}}).json["status"] == "started"
    status = TrainingScheduler(settings).wait(8, timeout=120)
    assert status["state"] == "idle" and "no usable annotated task" in status["message"]
    assert _folder(settings).models.versions() == []
    bad = client.post("/webhook", json={"action": "ANNOTATION_CREATED", "project": {"id": 8, "label_config": xml}})
    assert bad.status_code == 400 and "annotation" in bad.json["error"]


