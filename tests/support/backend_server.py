"""Run this backend under gunicorn on 127.0.0.1 in a child process (demo, load test, end-to-end tests)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.label_studio_server import free_port, stop_process, wait_for_health

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BackendServer:
    url: str
    process: subprocess.Popen
    log: Path

    def worker_pids(self) -> list[int]:
        """Pids of the gunicorn workers (children of the master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        stop_process(self.process, signal.SIGTERM)


def start_backend(env: dict[str, str], log: Path, port: int | None = None, timeout: float = 120.0) -> BackendServer:
    """Start gunicorn with ``env`` added to this process's environment; return once /health answers."""
    port = port or free_port()
    env = dict(os.environ, **env, HOST="127.0.0.1", PORT=str(port))
    handle = open(log, "a")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:backend.http.gunicorn_conf", "backend.http.wsgi:app"],
        env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    handle.close()
    url = f"http://127.0.0.1:{port}"
    wait_for_health(url, process, log, timeout, "gunicorn")
    return BackendServer(url, process, log)
