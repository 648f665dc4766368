"""The protocol through a real gunicorn with two workers on 127.0.0.1."""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

pytestmark = pytest.mark.server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(settings, label_config_xml, tmp_path):
    port = _free_port()
    env = dict(
        os.environ,
        PORT=str(port),
        HOST="127.0.0.1",
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
    log = open(tmp_path / "gunicorn.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:backend.gunicorn_conf", "backend._wsgi:app"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=5).ok:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text())
    yield url, tmp_path / "gunicorn.log"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    log.close()


def test_gunicorn_serves_the_protocol(server, label_config_xml, tasks):
    url, log_path = server
    auth = ("ann", "s3cret")
    assert requests.post(f"{url}/setup", json={"schema": label_config_xml}, auth=("ann", "bad"), timeout=10).status_code == 401
    setup = requests.post(f"{url}/setup", json={"project": "1.1", "schema": label_config_xml}, auth=auth, timeout=30)
    assert setup.status_code == 200
    versions = set()
    for _ in range(4):  # requests land on both workers; each loads the same model
        response = requests.post(
            f"{url}/predict", json={"tasks": tasks, "project": "1.1", "label_config": label_config_xml}, auth=auth, timeout=60
        )
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) == len(tasks)
        versions.add(body["model_version"])
    assert versions == {setup.json()["model_version"]}
    bad = requests.post(f"{url}/predict", data=b"{", headers={"Content-Type": "application/json"}, auth=auth, timeout=10)
    assert bad.status_code == 400
    assert "never-logged-token" not in log_path.read_text()
