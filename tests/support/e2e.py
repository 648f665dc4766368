"""Helpers shared by the end-to-end tests."""
import time

from backend.labelstudio.templates import render_template
from tests.support.label_studio_setup import ensure_local_storage, ensure_ml_backend, ensure_project, ensure_webhook


def project_with_backend(stack, label_studio, template, title):
    client, url, settings, data, _ = stack
    pid = ensure_project(client, title, render_template(template, data.classes))
    ensure_local_storage(client, pid, str(label_studio.document_root / "dataset" / "images" / "test"))
    ml = ensure_ml_backend(client, pid, url)
    ensure_webhook(client, pid, f"{url}/webhook")
    return pid, ml


def wait_predictions(client, pid, version_prefix, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        tasks = list(client.tasks.list(project=pid, fields="all"))
        found = {}
        for task in tasks:
            predictions = [p.model_dump() if hasattr(p, "model_dump") else dict(p) for p in (task.predictions or [])]
            found[task.id] = [p for p in predictions if str(p.get("model_version") or "").startswith(version_prefix)]
        if tasks and all(found.values()):
            return tasks, found
        time.sleep(1)
    raise AssertionError(f"no predictions of {version_prefix} for every task")


def sample_of(data, task):
    name = task.data["image"].split("/")[-1]
    return next(s for s in data.splits["test"] if s.image.name == name)

