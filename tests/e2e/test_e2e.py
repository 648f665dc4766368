"""End to end: a real Label Studio calls a real backend (gunicorn) on 127.0.0.1; nothing mocked."""
import time

import numpy as np
import pytest
import requests
from PIL import Image

from backend.evaluation.annotators import box_annotation, click_annotation
from backend.labelstudio.config import LabelConfig
from backend.service.scheduler import TrainingScheduler
from backend.storage.journal import AnnotationJournal
from backend.storage.project_dir import ProjectDir
from tests.support.e2e import project_with_backend, sample_of, wait_predictions
from tests.support.label_studio_setup import retrieve_predictions

pytestmark = pytest.mark.label_studio


def test_label_studio_gets_attention_pre_annotations_from_the_backend(stack, label_studio):
    client, url, settings, data, _ = stack
    pid, ml = project_with_backend(stack, label_studio, "combined", "e2e predictions")
    assert client.ml.get(ml).state in ("CO", "TR", "PR")  # Label Studio reached /health and /setup
    retrieve_predictions(client, pid)
    tasks, found = wait_predictions(client, pid, "base-small_cnn-")
    config = LabelConfig.parse(client.projects.get(pid).label_config)
    for task in tasks[:10]:
        prediction = found[task.id][0]
        kinds = [(r["type"], tuple(r["value"].get("polygonlabels", []))) for r in prediction["result"]]
        assert ("choices", ()) in kinds and ("polygonlabels", ("Attention",)) in kinds and ("polygonlabels", ("Ignore",)) in kinds
        assert 0.0 <= prediction["score"] <= 1.0
        assert config.interface.validate_prediction(prediction, return_errors=True) == []


def test_retrieved_then_ordered_each_task_holds_one_prediction_and_next_serves_the_queue(stack, label_studio):
    """The order people meet: predictions retrieved with the first version, then the queue ordered with it."""
    from backend.labelstudio.client import VIEW_TITLE
    from backend.service.ranking import order_project

    client, url, settings, data, _ = stack
    pid, _ = project_with_backend(stack, label_studio, "combined", "e2e retrieve then order")
    retrieve_predictions(client, pid)
    tasks, _ = wait_predictions(client, pid, "base-small_cnn-")
    queue = order_project(settings.serving, settings.label_studio, pid, "gmm", batch_size=8, progress=False).queue
    counts = {t.id: len(list(client.predictions.list(task=t.id))) for t in tasks}
    assert set(counts.values()) == {1}, counts  # the retrieved predictions were replaced, not doubled
    view = next(v for v in client.views.list(project=pid) if (v.data or {}).get("title") == VIEW_TITLE)
    headers = {"Authorization": f"Token {label_studio.token}"}
    served, classes = [], []
    for _ in range(8):  # annotate what `next` serves: it must walk down the queue's first batch
        task = requests.get(f"{label_studio.url}/api/projects/{pid}/next/", params={"view": view.id}, headers=headers,
                            timeout=30).json()
        served.append(task["id"])
        prediction = client.predictions.list(task=task["id"])[0]
        classes.append(prediction.result[0]["value"]["choices"][0])
        client.annotations.create(id=task["id"], result=[prediction.result[0]], project=pid)
    assert served == queue.order[:8]
    assert len(set(classes)) == 2  # the first batch holds both predicted classes, as the queue does


@pytest.mark.parametrize("template", ["click", "box"])
def test_annotations_train_through_the_webhook_and_new_predictions_follow(stack, label_studio, template):
    client, url, settings, data, _ = stack
    pid, ml = project_with_backend(stack, label_studio, template, f"e2e {template}")
    config = LabelConfig.parse(client.projects.get(pid).label_config)
    tasks = sorted(client.tasks.list(project=pid), key=lambda t: t.id)[:4]
    for task in tasks:
        sample = sample_of(data, task)
        mask = np.asarray(Image.open(sample.mask)) > 0
        annotation = (click_annotation(config, sample.label, mask) if template == "click"
                      else box_annotation(config, sample.label, sample.box, mask.shape))
        client.annotations.create(id=task.id, result=annotation["result"], lead_time=annotation["lead_time"])
    scheduler = TrainingScheduler(settings)
    deadline = time.time() + 300
    while time.time() < deadline and not scheduler.status(pid).get("last_version"):
        time.sleep(1)
    status = scheduler.wait(pid, timeout=300)
    assert status["failures"] == 0 and status["last_version"].startswith("v")
    journal = AnnotationJournal(ProjectDir(settings.model_dir, pid)).read()
    assert len(journal["tasks"]) == 4  # every webhook arrived with its annotation
    before = status["last_version"]

    client.ml.train(ml)  # the project's "Start training" button
    deadline = time.time() + 300
    while time.time() < deadline and scheduler.status(pid).get("last_version") == before:
        time.sleep(1)
    status = scheduler.wait(pid, timeout=300)
    assert status["last_version"] > before
    retrieve_predictions(client, pid)
    _, found = wait_predictions(client, pid, status["last_version"])
    assert all(p[0]["model_version"] == status["last_version"] for p in found.values())

    first = client.annotations.list(id=tasks[0].id)[0]
    client.annotations.delete(id=first.id)
    deadline = time.time() + 60
    while time.time() < deadline and len(AnnotationJournal(ProjectDir(settings.model_dir, pid)).read()["tasks"]) != 3:
        time.sleep(0.5)
    assert str(tasks[0].id) not in AnnotationJournal(ProjectDir(settings.model_dir, pid)).read()["tasks"]  # ANNOTATIONS_DELETED handled
    scheduler.wait(pid, timeout=300)


def test_backend_metrics_after_the_round_trip(stack):
    _, url, _, _, log = stack
    text = requests.get(f"{url}/metrics", timeout=10).text
    assert "attention_backend_predict_tasks_total" in text or "attention_backend_training_runs_total" in text
    assert stack[2].label_studio_api_key not in log.read_text()


def test_start_training_reads_annotations_made_before_any_webhook(stack, label_studio):
    from backend.labelstudio.templates import render_template
    from tests.support.label_studio_setup import ensure_local_storage, ensure_ml_backend, ensure_project

    client, url, settings, data, _ = stack
    pid = ensure_project(client, "e2e no webhook", render_template("click", data.classes))
    ensure_local_storage(client, pid, str(label_studio.document_root / "dataset" / "images" / "test"))
    config = LabelConfig.parse(client.projects.get(pid).label_config)
    tasks = sorted(client.tasks.list(project=pid), key=lambda t: t.id)[:3]
    for task in tasks:  # annotated before the backend is connected: no event reaches it
        sample = sample_of(data, task)
        annotation = click_annotation(config, sample.label, np.asarray(Image.open(sample.mask)) > 0)
        client.annotations.create(id=task.id, result=annotation["result"])
    ml = ensure_ml_backend(client, pid, url)
    assert AnnotationJournal(ProjectDir(settings.model_dir, pid)).read()["tasks"] == {}
    client.ml.train(ml)
    scheduler = TrainingScheduler(settings)
    deadline = time.time() + 300
    while time.time() < deadline and not scheduler.status(pid).get("last_version"):
        time.sleep(1)
    status = scheduler.wait(pid, timeout=300)
    assert status["last_version"] == "v0001" and status["failures"] == 0
    assert sorted(AnnotationJournal(ProjectDir(settings.model_dir, pid)).read()["tasks"]) == sorted(str(t.id) for t in tasks)
