"""One training run: Label Studio first, the recorded annotations when it cannot be reached."""
import json
import time

from backend.service import training_run
from tests.service.projects import folder_of, record_click


def test_training_goes_on_when_label_studio_cannot_be_reached(env, caplog):
    import logging
    import socket

    data, settings, xml = env
    silent = socket.socket()  # accepts connections and never answers: a hung Label Studio
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    hung = settings.updated(label_studio_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
                            label_studio_api_key="never-logged-token", label_studio_timeout=1.0)
    record_click(data, settings, xml)
    started = time.time()
    with caplog.at_level(logging.WARNING):
        result = training_run.run_training(folder_of(settings), hung)
    manifest = result.manifest
    silent.close()
    assert manifest.version == "v0001" and manifest.annotation_count == 1
    stages = {r.stage: r for r in result.reports}
    assert stages["sync"].outcome == "done" and stages["sync"].result["source"] == "journal"  # what the webhooks recorded
    assert [stages[s].outcome for s in ("train", "publish", "rank", "push")] == ["done", "done", "skipped", "skipped"]
    assert "could not read Label Studio" in caplog.text and "never-logged-token" not in caplog.text
    assert time.time() - started < 60


def test_a_bad_example_in_the_journal_is_skipped_not_fatal(env, caplog):
    import logging

    from backend.evaluation.annotators import click_event
    from backend.storage.journal import AnnotationJournal

    data, settings, xml = env
    journal = AnnotationJournal(folder_of(settings))
    good = click_event(data, xml, 0, 8)
    journal.upsert(good["task"], good["annotation"], xml, train_every=0)
    bad = click_event(data, xml, 1, 8)  # recorded before references were checked at the webhook
    bad["task"]["data"]["image"] = "/data/local-files/?d=images/x.png\x00" + "y" * 5_000_000
    journal.upsert(bad["task"], bad["annotation"], xml, train_every=0)
    with caplog.at_level(logging.WARNING):
        result = training_run.run_training(folder_of(settings), settings)
    assert result.manifest.annotation_count == 1
    assert "skipped" in caplog.text and max(len(r.getMessage()) for r in caplog.records) < 2000


def test_each_version_is_measured_on_held_out_annotations_beside_its_parent(env):
    from PIL import Image

    from backend.evaluation.annotators import box_annotation
    from backend.http.server import create_app
    from backend.labelstudio.config import LabelConfig
    from backend.storage.journal import AnnotationJournal
    from backend.training.validation import holdout_split

    data, settings, xml = env
    config = LabelConfig.parse(xml)
    journal = AnnotationJournal(folder_of(settings))
    for index in range(12):
        sample = data.splits["train"][index]
        annotation = box_annotation(config, sample.label, sample.box, Image.open(sample.image).size[::-1]) | {"id": 500 + index}
        task = {"id": index, "data": {"image": f"/data/local-files/?d={sample.image.relative_to(data.root)}"}}
        journal.upsert(task, annotation, xml, train_every=0)
    manifest = training_run.run_training(folder_of(settings), settings).manifest
    train_at, held_at = holdout_split(list(range(12)), settings.validation_share)
    assert manifest.metrics["examples"] == len(train_at) and manifest.annotation_count == 12  # the held-out do not train
    for name in ("validation", "validation_parent"):
        found = manifest.metrics[name]
        assert found["held_out"] == found["with_class"] == found["with_box"] == found["with_object"] == len(held_at)
        assert 0 <= found["accuracy"] <= 1 and 0 <= found["pointing_game"] <= 1 and 0 <= found["attention_outside_box"] <= 1
    assert folder_of(settings).version_chart.exists()  # the PNG people look at
    cards = create_app(settings).test_client().get("/versions?project=8").json["measured"]["8"]
    assert cards[0]["version"] == "v0001" and cards[0]["validation"] == manifest.metrics["validation"]


def test_annotations_that_once_poisoned_the_journal_train(env):
    """Two object regions declaring different sizes and a region type no reader knows, recorded through the
    webhook: every later run used to fail in Example.saliency_mask or on the unknown type."""
    import numpy as np
    from label_studio_sdk.converter.brush import mask2rle

    from backend.evaluation.annotators import click_event
    from backend.http.server import create_app
    from backend.labelstudio.config import LabelConfig

    data, settings, xml = env
    config = LabelConfig.parse(xml)
    event = click_event(data, xml, 0, 8)
    for width, height in ((64, 64), (32, 48)):
        mask = np.zeros((height, width), np.uint8)
        mask[: height // 2, : width // 2] = 255
        event["annotation"]["result"].append(
            {"id": f"o{width}", "type": "brushlabels", "from_name": config.brush_name, "original_width": width,
             "original_height": height, "value": {"format": "rle", "rle": mask2rle(mask), "brushlabels": [config.saliency_label]}})
    event["annotation"]["result"].append({"type": "where", "value": {}})
    client = create_app(settings.updated(train_every=0)).test_client()
    assert client.post("/webhook", json=event).status_code == 200
    assert training_run.run_training(folder_of(settings), settings).manifest.annotation_count == 1
    assert client.post("/webhook", json=click_event(data, xml, 1, 8)).status_code == 200  # a later good one
    assert training_run.run_training(folder_of(settings), settings).manifest.annotation_count == 2


def test_one_run_reads_label_studio_once_ranks_with_the_model_it_trained_and_pushes_predict_s_results(env, monkeypatch):
    """Sync -> train -> validate -> publish -> rank -> push: Label Studio read once (config and tasks), the served
    model loaded once (the trained one ranks from memory), and the pushed predictions are /predict's for the same
    version."""
    from types import SimpleNamespace

    from backend.evaluation.annotators import click_event
    from backend.http.server import create_app
    from backend.service import classifiers

    data, settings, xml = env
    settings = settings.updated(label_studio_url="http://127.0.0.1:9", label_studio_api_key="stand-in-token",
                                queue_strategy="entropy", queue_batch_size=4, public_url="https://ml.example.org")
    annotated = click_event(data, xml, 0, 8)
    tasks = [{"id": annotated["task"]["id"], "data": annotated["task"]["data"], "annotations": [annotated["annotation"]]}]
    tasks += [{"id": 100 + i, "data": {"image": f"/data/local-files/?d=images/test/{i:05d}.png"}, "annotations": []}
              for i in range(6)]
    calls = {"connect": 0, "tasks": 0, "loads": 0}
    project = SimpleNamespace(label_config=xml, task_number=len(tasks))
    client = SimpleNamespace(projects=SimpleNamespace(get=lambda pid: project))

    def connect(*args):
        calls["connect"] += 1
        return client

    def read_tasks(given, pid, annotated_only=False):
        calls["tasks"] += 1
        assert given is client and pid == 8 and not annotated_only  # the queue needs every task
        return tasks

    loaded = classifiers.project_classifier

    def load(*args):
        calls["loads"] += 1
        return loaded(*args)

    pushed = {}
    monkeypatch.setattr(training_run, "connect", connect)
    monkeypatch.setattr(training_run, "project_tasks", read_tasks)
    monkeypatch.setattr(training_run, "project_classifier", load)
    monkeypatch.setattr("backend.service.predictor.project_classifier", load)
    monkeypatch.setattr(training_run, "publish_queue",
                        lambda c, pid, model, queue, predictions, progress, public_url: pushed.update(
                            queue=queue, predictions=predictions, public_url=public_url)
                        or {"predictions": len(predictions), "seconds": 0.5, "delete_seconds": 0.2, "import_seconds": 0.3})
    result = training_run.run_training(folder_of(settings), settings)
    stages = {r.stage: r for r in result.reports}
    assert [r.stage for r in result.reports] == list(training_run.STAGES)
    assert all(r.outcome == "done" for r in result.reports if r.stage != "validate"), result.reports
    assert calls == {"connect": 1, "tasks": 1, "loads": 1}
    assert stages["sync"].result == {"source": "label_studio", "tasks": 7, "annotated": 1}
    assert stages["rank"].result["version"] == "v0001" and stages["rank"].result["scored"] == 7
    assert stages["push"].result["predictions"] == 7 and stages["push"].result["tasks_per_second"] == 14.0
    assert pushed["queue"].version == "v0001" and 0 not in pushed["queue"].order  # the annotated task is not queued
    assert pushed["public_url"] == "https://ml.example.org"  # the report's link goes with the queue
    report = json.loads(folder_of(settings).shortcut_report("v0001").read_text())  # from the same scores, no reload
    assert report["tasks"] == 7 and set(stages["report"].result) == {"uses_shortcut", "groups", "affected_share"}
    assert sum(g["tasks"] for g in report["groups"]) == 7 and folder_of(settings).shortcut_png.stat().st_size > 0
    served = create_app(settings.updated(label_studio_url="", label_studio_api_key="")).test_client()
    answer = served.post("/predict", json={"tasks": [{"id": t["id"], "data": t["data"]} for t in tasks[1:]], "project": 8,
                                           "label_config": xml}).json
    assert answer["model_version"] == "v0001"
    for task, expected in zip(tasks[1:], answer["results"]):
        got = pushed["predictions"][task["id"]]
        drop_id = lambda regions: [{k: v for k, v in r.items() if k != "id"} for r in regions]  # noqa: E731 (fresh per answer)
        assert drop_id(got["result"]) == drop_id(expected["result"]), task["id"]  # region for region


def test_label_only_annotations_are_drawn_beside_the_guided_ones_as_in_the_simulator(env, monkeypatch):
    from backend.evaluation.annotators import click_event
    from backend.storage.journal import AnnotationJournal
    from backend.training.validation import holdout_split

    data, settings, xml = env
    journal = AnnotationJournal(folder_of(settings))
    for index in range(10):
        event = click_event(data, xml, index, 8)
        if index >= 4:  # the class only: no click
            event["annotation"]["result"] = [r for r in event["annotation"]["result"] if r["type"] == "choices"]
        journal.upsert(event["task"], event["annotation"], xml, train_every=0)
    seen = {}
    real = training_run.fine_tune

    def spy(model, arch, data, config, extra=None, device="cpu"):
        seen.update(guided=len(data), extra=None if extra is None else len(extra[1]))
        return real(model, arch, data, config, extra=extra, device=device)

    monkeypatch.setattr(training_run, "fine_tune", spy)
    training_run.run_training(folder_of(settings), settings.updated(train_steps=2))
    train_at, _ = holdout_split(list(range(10)), settings.validation_share)
    assert seen == {"guided": sum(i < 4 for i in train_at), "extra": sum(i >= 4 for i in train_at)}
