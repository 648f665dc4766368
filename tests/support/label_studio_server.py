"""Run a local Label Studio on 127.0.0.1 for the demo and the end-to-end tests.

Label Studio lives in its own virtual environment (``.ls-venv``, made by
``scripts/setup.sh --e2e``) because its pins differ from ours.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "local-demo-token-0123456789"
USER, PASSWORD = "annotator@example.com", "attention-demo"


@dataclass
class LabelStudioServer:
    url: str
    token: str
    document_root: Path
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        stop_process(self.process, signal.SIGINT)


def stop_process(process: subprocess.Popen, signum: int, timeout: float = 30.0) -> None:
    """Ask ``process`` to stop with ``signum``; kill it if it has not exited after ``timeout`` seconds."""
    process.send_signal(signum)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def label_studio_binary() -> Path:
    path = Path(os.environ.get("LABEL_STUDIO_BIN", ROOT / ".ls-venv" / "bin" / "label-studio"))
    if not path.exists():
        raise RuntimeError(f"Label Studio is not installed at {path}: run ./scripts/setup.sh --e2e")
    return path


def start_label_studio(workdir: Path, document_root: Path, port: int | None = None, timeout: float = 240.0) -> LabelStudioServer:
    """Start Label Studio with its database in ``workdir`` (reused when present), serving local files below ``document_root``."""
    port = port or free_port()
    env = dict(
        os.environ,
        LABEL_STUDIO_BASE_DATA_DIR=str(workdir / "ls-data"),
        LABEL_STUDIO_ML_BLOCK_LOCAL_IP="false",
        LABEL_STUDIO_SSRF_PROTECTION_ENABLED="false",
        LABEL_STUDIO_USER_TOKEN=TOKEN,
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        LABEL_STUDIO_USERNAME=USER,
        LABEL_STUDIO_PASSWORD=PASSWORD,
        LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
        LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(document_root),
        SENTRY_DSN="",
        FRONTEND_SENTRY_DSN="",
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
    )
    log = workdir / "label-studio.log"
    handle = open(log, "w")
    process = subprocess.Popen(
        [str(label_studio_binary()), "start", "--internal-host", "127.0.0.1", "-p", str(port), "--no-browser"],
        env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_health(url, process, log, timeout, "Label Studio")
    return LabelStudioServer(url, TOKEN, document_root, process, log)


def wait_for_health(url: str, process: subprocess.Popen, log: Path, timeout: float, name: str) -> None:
    """Return once ``url``/health answers; RuntimeError (with the log's tail) if ``process`` exits or time runs out."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{name} did not answer /health in {timeout} s: {log.read_text()[-3000:]}")


