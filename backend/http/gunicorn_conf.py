"""Gunicorn settings from the usual variables: ``gunicorn -c python:backend.http.gunicorn_conf backend.http.wsgi:app``.

No ``preload_app``: each worker loads the model itself, as CUDA cannot be
re-initialised in a forked process.
"""
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '9090')}"
workers = int(os.environ.get("WORKERS", "1"))
threads = int(os.environ.get("THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
preload_app = False
