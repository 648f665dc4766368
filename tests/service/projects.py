"""Helpers for the service tests on the ``env`` project (tests/service/conftest.py)."""
from backend.evaluation.annotators import click_event
from backend.storage.journal import AnnotationJournal
from backend.storage.project_dir import ProjectDir


def folder_of(settings) -> ProjectDir:
    return ProjectDir(settings.model_dir, 8)


def record_click(data, settings, xml) -> None:
    event = click_event(data, xml, 0, 8)
    AnnotationJournal(folder_of(settings)).upsert(event["task"], event["annotation"], xml, train_every=0)


def predict_version(client, xml):
    task = {"id": 1, "data": {"image": "/data/local-files/?d=images/test/00000.png"}}
    response = client.post("/predict", json={"tasks": [task], "project": "8.1700000000", "label_config": xml})
    assert response.status_code == 200
    return response.json["model_version"]


