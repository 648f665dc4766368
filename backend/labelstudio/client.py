"""Label Studio through ``label-studio-sdk``: read a project's tasks, push the annotation queue."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from label_studio_sdk import LabelStudio
from tqdm import tqdm

from backend.active.annotation_queue import Queue
from backend.core.examples import Example
from backend.labelstudio.annotations import parse_task
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.instructions import with_report_link

logger = logging.getLogger(__name__)
VIEW_TITLE = "Attention queue"
ANNOTATED_FILTER = {"conjunction": "and", "items": [
    {"filter": "filter:tasks:total_annotations", "operator": "greater", "type": "Number", "value": 0}]}
CHUNK = 300  # predictions per import request: 1.8 s each on the demo (idle), far inside LABEL_STUDIO_TIMEOUT; 100 a request cost 1 s more for 600
TASK_PAGE = 1000  # tasks per read: Label Studio counts the project's predictions and annotations for every page
RETRIES = 4  # a request answered 429 (or 5xx, or cut) is asked again this often, after Retry-After or a back-off


@dataclass(frozen=True)
class LabelStudioAccess:
    """Where Label Studio is and the token it takes (sent only there, over the URL's own scheme)."""

    url: str
    api_key: str = field(repr=False)
    timeout: float = 60.0  # seconds per request

    @property
    def configured(self) -> bool:
        return bool(self.url and self.api_key)


def connect(access: LabelStudioAccess) -> LabelStudio:
    """An SDK client; each request gives up after ``access.timeout`` seconds. A Label Studio that answers 429 is
    asked again after its ``Retry-After`` (the SDK's back-off otherwise), ``RETRIES`` times."""
    if not access.configured:
        raise ValueError("LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY are needed to talk to Label Studio")
    return LabelStudio(base_url=access.url.rstrip("/"), api_key=access.api_key, timeout=access.timeout,
                       max_retries=RETRIES)


def project_tasks(client: LabelStudio, project_id: int, annotated_only: bool = False) -> list[dict]:
    """Every task of the project (or, with ``annotated_only``, those with a submitted annotation, filtered by Label
    Studio: a training run then reads a handful of tasks instead of the whole project with its predictions) as a
    dict with id, data and annotations. The annotated ones are read in full and the rest without their predictions
    (the queue pushed a few kB of them per task, heat overlays included, which a run never reads)."""
    annotated = _listed(client, project_id, "all", json.dumps({"filters": ANNOTATED_FILTER}))
    if annotated_only:
        return annotated
    full = {task["id"]: task for task in annotated}
    return [full.get(task["id"], task) for task in _listed(client, project_id, "task_only", None)]


def _listed(client: LabelStudio, project_id: int, fields: str, query: str | None) -> list[dict]:
    tasks = []
    for task in client.tasks.list(project=project_id, fields=fields, query=query, page_size=TASK_PAGE):
        item = task.model_dump() if hasattr(task, "model_dump") else dict(task)
        tasks.append({"id": item["id"], "data": item.get("data") or {}, "annotations": item.get("annotations") or []})
    return tasks


def annotated_ids(tasks: list[dict]) -> set:
    """Ids of the tasks with at least one annotation that was not skipped."""
    return {t["id"] for t in tasks if any(not a.get("was_cancelled") for a in t["annotations"])}


def annotated_examples(tasks: list[dict], config: LabelConfig) -> list[Example]:
    """The example of each task with a usable annotation (its latest), each parsed once."""
    examples = []
    for task in tasks:
        usable = [a for a in task["annotations"] if not a.get("was_cancelled")]
        example = parse_task(task, usable, config).example if usable else None
        if example is not None:
            examples.append(example)
    return examples


def ensure_view(client: LabelStudio, project_id: int, title: str = VIEW_TITLE) -> int:
    """A data-manager tab ordered by prediction score, highest (the queue's head) first; created once, then reused."""
    data = {"title": title, "ordering": ["-tasks:predictions_score"]}
    for view in client.views.list(project=project_id):
        if (view.data or {}).get("title") == title:
            client.views.update(str(view.id), data=data, project=project_id)
            return int(view.id)
    return int(client.views.create(project=project_id, data=data).id)


def push_queue(
    client: LabelStudio, project_id: int, queue: Queue, predictions: dict[Any, dict], progress: bool = True,
    report_address: str = "",
) -> dict[str, float]:
    """Write predictions scored by queue priority, set the project's model version and the view (and, given
    ``report_address``, the shortcut report's link in the labeling instructions); returns counts and the seconds
    each step took.

    The tasks' earlier predictions (of this version, retrieved before the queue existed, or of superseded ones) are
    deleted first, in one action, so each task holds exactly one prediction and the view sorts by the queue alone.
    The queue lives only in these scores: they go in bulk (``CHUNK`` per request), whereas the open-source API can
    change task data only one task per request."""
    started = time.perf_counter()
    client.actions.create(id="delete_tasks_predictions", project=project_id, selected_items={"all": True, "excluded": []})
    deleted = time.perf_counter()
    rows = []
    for task_id, prediction in predictions.items():
        score = queue.scores.get(str(task_id))
        if score is not None:
            rows.append({"task": task_id, "result": prediction["result"], "score": score, "model_version": queue.version})
    for start in tqdm(range(0, len(rows), CHUNK), desc="importing predictions", unit=f"x{CHUNK}", disable=not progress):
        client.projects.import_predictions(project_id, request=rows[start : start + CHUNK])
    imported = time.perf_counter()
    linked = {}
    if report_address:  # read just before writing: a manager's edit of the instructions a moment ago is kept
        current = client.projects.get(project_id).expert_instruction
        linked = {"expert_instruction": with_report_link(current, report_address, queue.version)}
    client.projects.update(project_id, model_version=queue.version, **linked)
    view = ensure_view(client, project_id)
    finished = time.perf_counter()
    logger.info("project %s: %d predictions of %s pushed in %.1f s, view %d", project_id, len(rows), queue.version,
                finished - started, view)
    return {"predictions": len(rows), "view": view, "delete_seconds": round(deleted - started, 2),
            "import_seconds": round(imported - deleted, 2), "seconds": round(finished - started, 2)}
