"""The Label Studio ML backend protocol on Flask: /health, /setup, /predict, /webhook, /versions, /metrics, and the
shortcut report page /report.

Implemented here rather than with ``label-studio-ml`` 1.0.9 (the newest on PyPI),
which pins Flask 1.1.2 / Werkzeug 2.0.2 with published vulnerabilities, sets the
multiprocessing start method on import, answers /versions with 405 and ignores
Label Studio 1.23's START_TRAINING and ANNOTATIONS_DELETED events.
"""
from __future__ import annotations

import errno
import hmac
import logging
import time
from typing import Any

from flask import Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException

from backend.http.metrics import Metrics, TrainingState
from backend.http.report_page import render_report
from backend.labelstudio.config import LabelConfig, LabelConfigError
from backend.labelstudio.events import TRAINING_EVENTS
from backend.models.checkpoints import CheckpointError, ClassesError, Manifest
from backend.service.feedback import EventError, ProjectLimitError, admit_project, record_event
from backend.service.predictor import PredictorCache
from backend.service.project_settings import save_extra_params
from backend.service.scheduler import TrainingScheduler
from backend.service.shortcut_report import load_reports
from backend.service.standby import ensure_standby
from backend.service.training_run import STAGES
from backend.settings import Settings, SettingsError
from backend.storage.project_dir import ProjectDir

logger = logging.getLogger(__name__)

OPEN_PATHS = ("/", "/health")


class PayloadError(ValueError):
    """The request body is not what the endpoint expects."""


def _json_body() -> dict[str, Any]:
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        raise PayloadError("request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise PayloadError("request body must be a JSON object")
    return body


def _version_card(manifest: Manifest) -> dict[str, Any]:
    """What ``/versions`` tells of a saved version: when, from what, and how it did on held-out annotated tasks."""
    metrics = manifest.metrics
    return {"version": manifest.version, "parent": manifest.parent, "created": manifest.created,
            "annotations": manifest.annotation_count, "validation": metrics.get("validation"),
            "validation_parent": metrics.get("validation_parent")}


def _project_id(project: Any) -> int | str | None:
    """The project id of a request (``12``, ``"12.1700000000"`` or ``{"id": 12}``); PayloadError when it is not one."""
    project = project.get("id") if isinstance(project, dict) else project
    if project is None or (isinstance(project, (int, str)) and not isinstance(project, bool) and 0 < len(str(project)) <= 64):
        return project
    raise PayloadError("'project' must be a Label Studio project id (a number or a string of at most 64 characters)")


def create_app(settings: Settings | None = None) -> Flask:
    """A Flask app serving the backend with ``settings`` (default: from the environment)."""
    settings = settings or Settings.from_env()
    app = Flask("attention_backend")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    manager = PredictorCache(settings.serving)
    scheduler = TrainingScheduler(settings)
    ensure_standby(settings.model_dir, settings.training.standby)  # the first run finds its runner imported

    def training_states() -> list[TrainingState]:
        states = []
        for folder in ProjectDir.all(settings.model_dir):
            status = scheduler.status(folder)
            stages = status.get("stages") if isinstance(status.get("stages"), dict) else {}
            seconds = {name: float(stages[name]["seconds"]) for name in STAGES
                       if isinstance(stages.get(name), dict) and isinstance(stages[name].get("seconds"), (int, float))}
            states.append(TrainingState(folder.key, int(status.get("runs", 0)), int(status.get("failures", 0)),
                                        status["state"] == "running", len(folder.models.versions()), seconds))
        return states

    metrics = Metrics(TRAINING_EVENTS, training_states)
    app.extensions["attention"] = {"manager": manager, "metrics": metrics}

    if settings.label_config:
        xml = settings.label_config
        if not xml.lstrip().startswith("<"):
            with open(xml, encoding="utf-8") as handle:
                xml = handle.read()
        manager.get(None, xml)

    @app.before_request
    def _basic_auth() -> Response | None:
        if not settings.basic_auth_user or request.path in OPEN_PATHS:
            return None
        auth = request.authorization
        ok = (
            auth is not None
            and hmac.compare_digest((auth.username or "").encode(), settings.basic_auth_user.encode())
            and hmac.compare_digest((auth.password or "").encode(), settings.basic_auth_pass.encode())
        )
        if ok:
            return None
        response = jsonify(error="authentication required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Basic realm="attention-backend"'
        return response

    @app.errorhandler(PayloadError)
    @app.errorhandler(EventError)
    @app.errorhandler(LabelConfigError)
    def _bad_request(exc: Exception) -> tuple[Response, int]:
        metrics.bad_requests.labels(metrics.endpoint(request.path)).inc()
        return jsonify(error=str(exc)), 400

    @app.errorhandler(ProjectLimitError)
    def _too_many_projects(exc: ProjectLimitError) -> tuple[Response, int]:
        metrics.bad_requests.labels(metrics.endpoint(request.path)).inc()
        return jsonify(error=str(exc)), 403

    @app.errorhandler(ClassesError)
    def _wrong_classes(exc: ClassesError) -> tuple[Response, int]:
        metrics.bad_requests.labels(metrics.endpoint(request.path)).inc()
        return jsonify(error=str(exc)), 422

    @app.errorhandler(CheckpointError)
    def _no_model(exc: CheckpointError) -> tuple[Response, int]:
        logger.error("model cannot be loaded: %s", exc)
        metrics.errors.labels(metrics.endpoint(request.path)).inc()
        return jsonify(error="the model cannot be loaded; the backend's log says which file and why"), 503

    @app.errorhandler(OSError)
    def _storage_error(exc: OSError) -> tuple[Response, int]:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return _internal_error(exc)
        logger.error("cannot write under MODEL_DIR: %s", exc)
        metrics.errors.labels(metrics.endpoint(request.path)).inc()
        return jsonify(error=f"no space left to record this under MODEL_DIR ({exc.strerror}); nothing was changed"), 507

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        return jsonify(error=exc.description), exc.code or 500

    @app.errorhandler(Exception)
    def _internal_error(exc: Exception) -> tuple[Response, int]:
        logger.exception("unhandled error on %s", request.path)
        metrics.errors.labels(metrics.endpoint(request.path)).inc()
        return jsonify(error=f"internal error: {type(exc).__name__}"), 500

    @app.get("/")
    @app.get("/health")
    def health() -> Response:
        return jsonify(status="UP", model_class="AttentionModel")

    @app.post("/setup")
    def setup() -> Response:
        body = _json_body()
        schema = body.get("schema") or body.get("label_config")
        if not isinstance(schema, str):
            raise PayloadError("setup needs the labeling config in 'schema'")
        project = _project_id(body.get("project"))
        if body.get("extra_params") is not None:  # the model card's settings for this project, validated
            folder = ProjectDir(settings.model_dir, project)
            admit_project(settings.training, folder)
            try:
                save_extra_params(settings, folder, body["extra_params"])
            except SettingsError as exc:
                raise PayloadError(str(exc)) from None
        model = manager.get(project, schema)
        return jsonify(model_version=model.model_version)

    @app.post("/predict")
    def predict() -> Response | tuple[Response, int]:
        started = time.perf_counter()
        body = _json_body()
        tasks = body.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            raise PayloadError("predict needs a non-empty 'tasks' list")
        if len(tasks) > settings.max_tasks_per_request:
            metrics.bad_requests.labels(metrics.endpoint(request.path)).inc()
            return jsonify(error=f"{len(tasks)} tasks in one request; send at most {settings.max_tasks_per_request} "
                                 "(MAX_TASKS_PER_REQUEST), or rank a whole project with scripts/order_queue.py"), 413
        label_config = body.get("label_config")
        if not isinstance(label_config, str):
            raise PayloadError("predict needs the project's 'label_config'")
        model = manager.get(_project_id(body.get("project")), label_config)
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        predictions = model.predict(tasks, context=params.get("context"))
        metrics.predict_requests.inc()
        metrics.predict_tasks.inc(len(tasks))
        metrics.predict_task_errors.inc(sum(1 for p in predictions if not p["result"]))
        metrics.predict_seconds.inc(time.perf_counter() - started)
        return jsonify(results=predictions, model_version=model.model_version)

    @app.post("/webhook")
    def webhook() -> tuple[Response, int]:
        body = _json_body()
        event = body.get("action")
        if not isinstance(event, str) or not event:
            raise PayloadError("webhook payload has no 'action'")
        project = body.get("project")
        if not isinstance(project, dict) or project.get("id") is None:
            raise PayloadError(f"webhook {event} has no 'project' object with an 'id'")
        label_config = project.get("label_config")
        if not isinstance(label_config, str):
            raise PayloadError(f"webhook {event} project has no 'label_config'")
        metrics.webhook_events.labels(metrics.event(event)).inc()
        return jsonify(record_event(settings, _project_id(project), LabelConfig.parse(label_config, settings.label_roles), event, body)), 200

    @app.get("/versions")
    def versions() -> Response:
        project = request.args.get("project")
        found = manager.versions(project)
        flat = sorted({v for vs in found.values() for v in vs})
        folders = [ProjectDir(settings.model_dir, project)] if project is not None else ProjectDir.all(settings.model_dir)
        measured = {f.key: [_version_card(m) for m in f.models.versions()] for f in folders}
        return jsonify(versions=flat, projects=found, measured={k: v for k, v in measured.items() if v})

    @app.get("/report")
    def shortcut_report() -> Response | tuple[Response, int]:
        project = request.args.get("project")
        if not project:
            raise PayloadError("report needs ?project=ID")
        folder = ProjectDir(settings.model_dir, project)
        reports = load_reports(folder)
        if not reports:
            return jsonify(error=f"no shortcut report for project {folder.key} yet: a training run with "
                                 "QUEUE_STRATEGY writes one"), 404
        return Response(render_report(folder, reports, settings.label_studio_url), mimetype="text/html")

    @app.get("/metrics")
    def metrics_text() -> Response:
        return Response(metrics.render(), mimetype=CONTENT_TYPE_LATEST)

    return app
