"""Attacks that once broke /predict: each bad task gets an empty prediction, the others are answered, no 500."""
import os

import pytest

from backend.http.server import create_app


@pytest.fixture
def client(settings):
    return create_app(settings).test_client()


def _predict(client, xml, tasks):
    return client.post("/predict", json={"tasks": tasks, "project": 1, "label_config": xml})


@pytest.mark.parametrize("reference", [
    "/data/local-files/?d=images%00x.png",  # a NUL byte
    "http://[::1/x.png",  # not a URL
    "/data/local-files/?d=" + "a" * 300,  # a file name too long for the file system
    "/data/local-files/?d=loop/x.png",  # a symlink loop inside the document root
    "/data/local-files/?d=images\\\\test\\\\00000.png",  # backslashes
    "http://127.0.0.1:1\\\\@8.8.8.8/x.png",  # the allow-list bypass through userinfo and a backslash
    "x" * 20_000,  # megabytes of reference
])
def test_one_hostile_reference_costs_only_its_own_task(client, settings, label_config_xml, tasks, reference, caplog):
    loop = os.path.join(settings.local_files_document_root, "loop")
    os.symlink(loop, loop)  # in the session's shared dataset: removed again, so no other test copies it
    try:
        response = _predict(client, label_config_xml, [tasks[0], {"id": 99, "data": {"image": reference}}, tasks[1]])
    finally:
        os.remove(loop)
    assert response.status_code == 200
    results = response.json["results"]
    assert [bool(r["result"]) for r in results] == [True, False, True]
    assert all(len(record.getMessage()) < 2000 for record in caplog.records)


def test_deeply_nested_json_is_a_400(client):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/predict", data=body, content_type="application/json")
    assert response.status_code == 400 and "error" in response.json


# Second round: what a repeat of the attack list broke after the first round's fixes.

@pytest.fixture
def project(biased_project):
    data, settings, xml = biased_project
    return data, settings.updated(train_every=0), xml  # record only: no training run starts in these tests


def _webhook(settings, body):
    return create_app(settings).test_client().post("/webhook", json=body)


@pytest.mark.parametrize("reference", ["http://user@host/x.png", "http://[::1/x.png", "javascript:alert(1)",
                                       "data:image/png;base64,AAAA", "http:///x.png"])
def test_a_reference_fetching_would_refuse_is_a_400_and_nothing_is_recorded(project, reference):
    from backend.evaluation.annotators import click_event
    from backend.storage.project_dir import ProjectDir

    data, settings, xml = project
    event = click_event(data, xml, 0, 3)
    event["task"]["data"]["image"] = reference
    response = _webhook(settings, event)
    assert response.status_code == 400 and "image" in response.json["error"]
    assert not ProjectDir(settings.model_dir, 3).journal_log.exists()


def test_rle_bombs_are_budgeted_per_annotation(project, monkeypatch):
    """30 regions each under the per-region limit: at most BRUSH_BUDGET are decoded, the webhook answers 400 and
    records nothing."""
    import numpy as np
    from label_studio_sdk.converter.brush import mask2rle

    from backend.evaluation.annotators import click_event
    from backend.labelstudio import controls
    from backend.labelstudio.config import LabelConfig
    from backend.storage.project_dir import ProjectDir

    data, settings, xml = project
    settings = settings.updated(max_image_pixels=1_000_000)
    config = LabelConfig.parse(xml)
    decoded = []
    monkeypatch.setattr(controls, "rle_to_alpha", lambda rle, h, w, real=controls.rle_to_alpha: decoded.append(h * w) or real(rle, h, w))
    rle = mask2rle(np.zeros((1000, 1000), np.uint8))
    event = click_event(data, xml, 0, 3)
    event["annotation"]["result"] += [
        {"id": f"bomb{i}", "type": "brushlabels", "from_name": config.brush_name, "original_width": 1000,
         "original_height": 1000, "value": {"format": "rle", "rle": rle, "brushlabels": [config.ignore_region_label]}}
        for i in range(30)]
    response = _webhook(settings, event)
    assert response.status_code == 400 and "MAX_IMAGE_PIXELS" in response.json["error"]
    assert len(decoded) == controls.BRUSH_BUDGET
    assert not ProjectDir(settings.model_dir, 3).journal_log.exists()


def test_a_region_type_no_reader_knows_is_reported_not_a_500(project):
    from backend.evaluation.annotators import click_event

    data, settings, xml = project
    event = click_event(data, xml, 0, 3)
    event["annotation"]["result"].append({"type": "where", "value": {}})
    response = _webhook(settings, event)
    assert response.status_code == 200 and response.json["status"] == "recorded"
    assert any("where" in p for p in response.json["problems"])


def test_a_webhook_answer_never_echoes_megabytes(project):
    from backend.evaluation.annotators import click_event

    data, settings, xml = project
    event = click_event(data, xml, 0, 3)
    event["annotation"]["result"] += [{"type": "choices", "from_name": "class", "to_name": "image",
                                       "value": {"choices": ["x" * 5_000_000]}}] + [{"type": "choices", "from_name": "class", "to_name": "image", "value": {"choices": [f"y{i}"]}} for i in range(100)]
    response = _webhook(settings, event)
    assert response.status_code == 200 and len(response.get_data()) < 10_000


def test_made_up_project_ids_cannot_grow_model_dir_or_metrics(project):
    from backend.evaluation.annotators import click_event
    from backend.storage.project_dir import ProjectDir

    data, settings, xml = project
    settings = settings.updated(max_projects=3)
    client = create_app(settings).test_client()
    answers = [client.post("/webhook", json=click_event(data, xml, 0, project_id)).status_code for project_id in range(1, 8)]
    assert answers == [200] * 3 + [403] * 4
    assert len(ProjectDir.all(settings.model_dir)) == 3
    setup = client.post("/setup", json={"project": 99, "schema": xml, "extra_params": {"TRAIN_STEPS": 5}})
    assert setup.status_code == 403
    metrics = client.get("/metrics").get_data(as_text=True)
    assert metrics.count("training_runs_total{") == 3
    assert client.post("/webhook", json=click_event(data, xml, 1, 2)).status_code == 200  # known projects go on


def test_a_large_predict_answers_within_its_deadline(client, settings, label_config_xml, monkeypatch):
    import time

    from backend.service.predictor import Predictor

    slow = Predictor.analyse

    def slower(self, tasks, with_predictions=True):
        time.sleep(0.4)
        return slow(self, tasks, with_predictions)

    monkeypatch.setattr(Predictor, "analyse", slower)
    client = create_app(settings.updated(predict_deadline=1, predict_batch_size=2)).test_client()
    tasks = [{"id": i, "data": {"image": f"/data/local-files/?d=images/test/{i % 16:05d}.png"}} for i in range(40)]
    started = time.monotonic()
    response = _predict(client, label_config_xml, tasks)
    assert time.monotonic() - started < 3  # 20 batches at 0.4 s would take 8 s
    answered = [bool(r["result"]) for r in response.json["results"]]
    assert len(answered) == 40 and 2 <= sum(answered) <= 8 and answered == sorted(answered, reverse=True)
