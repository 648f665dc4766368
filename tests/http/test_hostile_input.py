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
    root = settings.local_files_document_root
    if not os.path.islink(os.path.join(root, "loop")):
        os.symlink(os.path.join(root, "loop"), os.path.join(root, "loop"))
    response = _predict(client, label_config_xml, [tasks[0], {"id": 99, "data": {"image": reference}}, tasks[1]])
    assert response.status_code == 200
    results = response.json["results"]
    assert [bool(r["result"]) for r in results] == [True, False, True]
    assert all(len(record.getMessage()) < 2000 for record in caplog.records)


def test_deeply_nested_json_is_a_400(client):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/predict", data=body, content_type="application/json")
    assert response.status_code == 400 and "error" in response.json
