import base64

import pytest

from backend.server import MAX_TASKS_PER_REQUEST, create_app


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
    assert "attention_backend_predict_tasks_total" in metrics and " 3\n" in metrics


@pytest.mark.parametrize(
    "payload, message",
    [
        (None, "JSON object"),
        ({"tasks": []}, "non-empty 'tasks'"),
        ({"tasks": [{"data": {}}]}, "label_config"),
        ({"tasks": [{}] * (MAX_TASKS_PER_REQUEST + 1), "label_config": "<View/>"}, "at most"),
        ({"tasks": [{}], "label_config": "<View><Text name='t' value='$t'/></View>"}, "no <Image>"),
    ],
)
def test_bad_predict_requests_get_400_with_a_reason(client, payload, message):
    response = client.post("/predict", data="{not json" if payload is None else None, json=payload, content_type="application/json")
    assert response.status_code == 400
    assert message in response.json["error"]


def test_webhook_validates_and_answers_each_event(client, settings, label_config_xml):
    from backend.scheduler import TrainingScheduler

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


def test_basic_auth_protects_everything_but_health(settings, label_config_xml, tasks):
    from dataclasses import replace

    client = create_app(replace(settings, basic_auth_user="ann", basic_auth_pass="s3cret")).test_client()
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
