"""Label Studio through ``label-studio-sdk``: read a project's tasks, push the annotation queue."""
from __future__ import annotations

import logging
from typing import Any

from label_studio_sdk import LabelStudio
from tqdm import tqdm

from backend.annotations import parse_task
from backend.label_config import LabelConfig
from backend.queue import Queue

logger = logging.getLogger(__name__)
VIEW_TITLE = "Attention queue"
RANK_FIELD = "attention_rank"
CHUNK = 500


def connect(url: str, api_key: str, timeout: float = 60.0) -> LabelStudio:
    """An SDK client; each request gives up after ``timeout`` seconds."""
    if not url or not api_key:
        raise ValueError("LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY are needed to talk to Label Studio")
    return LabelStudio(base_url=url.rstrip("/"), api_key=api_key, timeout=timeout)


def project_tasks(client: LabelStudio, project_id: int) -> list[dict]:
    """Every task of the project as a dict with id, data and annotations."""
    tasks = []
    for task in client.tasks.list(project=project_id, fields="all"):
        item = task.model_dump() if hasattr(task, "model_dump") else dict(task)
        tasks.append({"id": item["id"], "data": item.get("data") or {}, "annotations": item.get("annotations") or []})
    return tasks


def annotated_labels(tasks: list[dict], config: LabelConfig) -> tuple[set, dict]:
    """Ids of annotated tasks and the class their latest annotation gives (where it gives one)."""
    annotated, labels = set(), {}
    for task in tasks:
        usable = [a for a in task["annotations"] if not a.get("was_cancelled")]
        if not usable:
            continue
        annotated.add(task["id"])
        example = parse_task(task, usable, config).example
        if example is not None and example.label is not None:
            labels[task["id"]] = example.label
    return annotated, labels


def ensure_view(client: LabelStudio, project_id: int, title: str = VIEW_TITLE) -> int:
    """A data-manager tab ordered by prediction score (queue first); created once, then reused."""
    data = {"title": title, "ordering": ["tasks:predictions_score"]}
    for view in client.views.list(project=project_id):
        if (view.data or {}).get("title") == title:
            client.views.update(str(view.id), data=data, project=project_id)
            return int(view.id)
    return int(client.views.create(project=project_id, data=data).id)


def push_queue(
    client: LabelStudio, project_id: int, queue: Queue, predictions: dict[Any, dict], tasks: list[dict], progress: bool = True
) -> dict[str, int]:
    """Write predictions scored by queue position, set the project's model version, the view and each task's rank."""
    rows = []
    for task_id, prediction in predictions.items():
        score = queue.scores.get(str(task_id))
        if score is not None:
            rows.append({"task": task_id, "result": prediction["result"], "score": score, "model_version": queue.version})
    for start in range(0, len(rows), CHUNK):
        client.projects.import_predictions(project_id, request=rows[start : start + CHUNK])
    client.projects.update(project_id, model_version=queue.version)
    view = ensure_view(client, project_id)
    by_id = {t["id"]: t for t in tasks}
    for task_id in tqdm(queue.order, desc="writing ranks", unit="task", disable=not progress):
        task = by_id.get(task_id)
        rank = queue.rank_of(task_id)
        if task is not None and task["data"].get(RANK_FIELD) != rank:
            client.tasks.update(str(task_id), data={**task["data"], RANK_FIELD: rank})
    logger.info("project %s: %d predictions of %s pushed, view %d", project_id, len(rows), queue.version, view)
    return {"predictions": len(rows), "view": view, "ranked": len(queue.order)}


TRAINING_WEBHOOK_EVENTS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"]


def ensure_project(client: LabelStudio, title: str, label_config: str) -> int:
    """The id of the project called ``title``, created with ``label_config`` if there is none."""
    for project in client.projects.list():
        if project.title == title:
            return int(project.id)
    return int(client.projects.create(title=title, label_config=label_config).id)


def ensure_local_storage(client: LabelStudio, project_id: int, folder: str, title: str = "images") -> int:
    """A local-files import storage for ``folder`` (under Label Studio's document root), synced."""
    for storage in client.import_storage.local.list(project=project_id):
        if storage.path == folder:
            client.import_storage.local.sync(id=storage.id)
            return int(storage.id)
    storage = client.import_storage.local.create(project=project_id, path=folder, use_blob_urls=True, title=title,
                                                 regex_filter=r".*\.(png|jpe?g)$")
    client.import_storage.local.sync(id=storage.id)
    return int(storage.id)


def ensure_ml_backend(client: LabelStudio, project_id: int, url: str, user: str = "", password: str = "") -> int:
    """Connect the backend at ``url`` to the project (Label Studio calls its /health and /setup)."""
    for backend in client.ml.list(project=project_id):
        if backend.url.rstrip("/") == url.rstrip("/"):
            return int(backend.id)
    auth = {"auth_method": "BASIC_AUTH", "basic_auth_user": user, "basic_auth_pass": password} if user else {}
    return int(client.ml.create(project=project_id, url=url, title="Attention guidance", is_interactive=False, **auth).id)


def ensure_webhook(client: LabelStudio, project_id: int, url: str) -> int:
    """A project webhook that sends the annotation events the backend trains on."""
    for hook in client.webhooks.list(project=project_id):
        if hook.url == url:
            return int(hook.id)
    hook = client.webhooks.create(url=url, project=project_id, send_payload=True, send_for_all_actions=False,
                                  actions=TRAINING_WEBHOOK_EVENTS)
    return int(hook.id)


def retrieve_predictions(client: LabelStudio, project_id: int) -> None:
    """Ask Label Studio to fetch predictions for every task from the connected backend."""
    client.actions.create(id="retrieve_tasks_predictions", project=project_id, selected_items={"all": True, "excluded": []})
