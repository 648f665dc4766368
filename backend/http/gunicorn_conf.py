"""Gunicorn settings from the usual variables: ``gunicorn -c python:backend.http.gunicorn_conf backend.http.wsgi:app``.

No ``preload_app``: each worker loads the model itself, as CUDA cannot be
re-initialised in a forked process. Metrics are kept per worker in a fresh
``PROMETHEUS_MULTIPROC_DIR`` and summed at ``/metrics``; a dead worker's gauges leave with it.
"""
import os
import tempfile

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="attention-backend-metrics-"))

from prometheus_client import multiprocess  # noqa: E402  (reads PROMETHEUS_MULTIPROC_DIR at import)

from backend.service.standby import stop_standby  # noqa: E402  (the standby runner leaves with the server)

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '9090')}"
workers = int(os.environ.get("WORKERS", "1"))
threads = int(os.environ.get("THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
preload_app = False


def child_exit(server: object, worker: object) -> None:
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    stop_standby(os.environ.get("MODEL_DIR", "./models"))
