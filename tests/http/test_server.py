import base64

import pytest

from backend.http.server import create_app


@pytest.fixture
def client(settings):
    return create_app(settings).test_client()


def _predict(client, label_config_xml, tasks, **extra):
    return client.post("/predict", json={"tasks": tasks, "project": "3.1700000000", "label_config": label_config_xml, **extra})


def test_health_setup_predict_versions_metrics(client, label_config_xml, tasks):
    assert client.get("/health").json["status"] == "UP"
    setup = client.post("/setup", json={"project": "3.1700000000", "schema": label_config_xml, "hostname": "x", "access_token": "t"})
    assert setup.status_code == 200 and setup.json["model_version"].startswith("base-resnet18-")
    response = _predict(client, label_config_xml, tasks, params={"context": None})
    assert response.status_code == 200
    body = response.json
    assert body["model_version"] == setup.json["model_version"]
    assert len(body["results"]) == 3 and all(r["result"] for r in body["results"])
    assert client.get("/versions").json["versions"] == [setup.json["model_version"]]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "attention_backend_predict_tasks_total 3.0\n" in metrics


@pytest.mark.parametrize(
    "payload, message",
    [
        (None, "JSON object"),
        ({"tasks": []}, "non-empty 'tasks'"),
        ({"tasks": [{"data": {}}]}, "label_config"),
        ({"tasks": [{}], "label_config": "<View><Text name='t' value='$t'/></View>"}, "no <Image>"),
    ],
)
def test_bad_predict_requests_get_400_with_a_reason(client, payload, message):
    response = client.post("/predict", data="{not json" if payload is None else None, json=payload, content_type="application/json")
    assert response.status_code == 400
    assert message in response.json["error"]


def test_ten_thousand_tasks_get_413_and_the_worker_keeps_serving(client, label_config_xml, tasks):
    many = [{"id": i, "data": {"image": f"/data/local-files/?d=images/test/{i:05d}.png"}} for i in range(10_000)]
    response = _predict(client, label_config_xml, many)
    assert response.status_code == 413
    assert "10000 tasks" in response.json["error"] and "MAX_TASKS_PER_REQUEST" in response.json["error"]
    assert _predict(client, label_config_xml, tasks).status_code == 200


def test_tasks_without_image_field_or_readable_image_get_empty_predictions(client, label_config_xml, tasks):
    bad = [{"id": 7, "data": {"text": "no image"}}, {"id": 8}, "not a task", {"id": 9, "data": {"image": "/data/local-files/?d=../../etc/passwd"}}]
    response = _predict(client, label_config_xml, tasks[:1] + bad)
    assert response.status_code == 200
    results = response.json["results"]
    assert len(results) == 5 and results[0]["result"] and not any(r["result"] for r in results[1:])


def test_webhook_validates_and_answers_each_event(client, settings, label_config_xml):
    from backend.service.scheduler import TrainingScheduler

    project = {"id": 3, "label_config": label_config_xml}
    ignored = client.post("/webhook", json={"action": "PROJECT_UPDATED", "project": project})
    assert ignored.status_code == 200 and ignored.json["status"] == "ignored"
    deleted = client.post("/webhook", json={"action": "ANNOTATIONS_DELETED", "annotations": [], "project": project})
    assert deleted.json == {"status": "recorded", "removed": 0}
    started = client.post("/webhook", json={"action": "START_TRAINING", "project": project})
    assert started.status_code == 200 and started.json["status"] in ("started", "queued")
    assert TrainingScheduler(settings).wait(3, timeout=120)["state"] == "idle"
    for payload, message in [
        ({"project": project}, "action"),
        ({"action": "START_TRAINING"}, "project"),
        ({"action": "START_TRAINING", "project": {"id": 3}}, "label_config"),
        ({"action": "ANNOTATION_CREATED", "project": project, "task": {"id": 1}}, "annotation"),
        ({"action": "ANNOTATIONS_DELETED", "project": project}, "annotations"),
    ]:
        response = client.post("/webhook", json=payload)
        assert response.status_code == 400 and message in response.json["error"]


def test_setup_keeps_the_model_cards_extra_params_and_refuses_bad_ones(client, settings, label_config_xml):
    from backend.service.project_settings import for_project
    from backend.storage.project_dir import ProjectDir

    body = {"project": "6.1700000000", "schema": label_config_xml, "extra_params": {"TRAIN_LOSS": "randomize", "TRAIN_EVERY": 4}}
    assert client.post("/setup", json=body).status_code == 200
    chosen = for_project(settings, ProjectDir(settings.model_dir, 6))
    assert (chosen.train.loss, chosen.train_every) == ("randomize", 4)
    refused = client.post("/setup", json=body | {"extra_params": {"TRAIN_EVERY": "often"}})
    assert refused.status_code == 400 and "TRAIN_EVERY" in refused.json["error"]
    assert for_project(settings, ProjectDir(settings.model_dir, 6)).train_every == 4


def test_basic_auth_protects_everything_but_health(settings, label_config_xml, tasks):
    client = create_app(settings.updated(basic_auth_user="ann", basic_auth_pass="s3cret")).test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/versions").status_code == 401
    wrong = {"Authorization": "Basic " + base64.b64encode(b"ann:wrong").decode()}
    right = {"Authorization": "Basic " + base64.b64encode(b"ann:s3cret").decode()}
    assert client.post("/setup", json={"schema": label_config_xml}, headers=wrong).status_code == 401
    assert client.post("/setup", json={"schema": label_config_xml}, headers=right).status_code == 200
    assert client.get("/metrics", headers=right).status_code == 200


def test_unknown_route_is_json_404(client):
    response = client.get("/nope")
    assert response.status_code == 404 and "error" in response.json


def test_an_unreadable_model_path_gets_503_and_the_log_names_the_file(settings, label_config_xml, tasks, tmp_path, caplog):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04 truncated zip")
    client = create_app(settings.updated(model_path=str(broken))).test_client()
    response = _predict(client, label_config_xml, tasks)
    assert response.status_code == 503 and "cannot be loaded" in response.json["error"]
    assert str(tmp_path) not in response.get_data(as_text=True)  # no server paths or torch internals to the caller
    assert "broken.pt" in caplog.text
    health = client.get("/health")
    assert health.status_code == 200 and settings.model_dir not in health.get_data(as_text=True)


def test_a_full_disk_while_recording_an_annotation_gets_507_and_changes_nothing(client, settings, label_config_xml, monkeypatch):
    import errno

    from backend.storage import files
    from backend.storage.journal import AnnotationJournal
    from backend.storage.project_dir import ProjectDir

    project = {"id": 3, "label_config": label_config_xml}
    event = {"action": "ANNOTATION_CREATED", "project": project, "task": {"id": 1, "data": {"image": "x.png"}},
             "annotation": {"id": 1, "result": []}}
    client.post("/webhook", json={"action": "ANNOTATIONS_DELETED", "annotations": [], "project": project})
    folder = ProjectDir(settings.model_dir, 3)
    before = AnnotationJournal(folder).read()

    def full(handle, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.json, "dump", full)
    response = client.post("/webhook", json=event)
    assert response.status_code == 507 and "No space left" in response.json["error"]
    assert AnnotationJournal(folder).read() == before and before["tasks"] == {}
    assert not list(folder.path.glob("*.tmp*")) and not list(folder.path.glob(".tmp-*"))


def test_a_config_with_classes_the_model_never_learned_gets_422_naming_them(client, label_config_xml, tasks):
    other = label_config_xml.replace('<Choice value="', '<Choice value="x-', 1)
    response = _predict(client, other, tasks)
    assert response.status_code == 422 and "unknown to the model" in response.json["error"]
