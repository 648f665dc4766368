"""Order a Label Studio project's annotation queue with a strategy: score, rank, store, push."""
from __future__ import annotations

import logging

from backend import distributed
from backend.label_config import LabelConfig
from backend.label_studio import annotated_labels, connect, project_tasks, push_queue
from backend.model import ModelManager
from backend.queue import Queue, build_queue, queue_from_order, save_queue
from backend.scoring import score_tasks
from backend.settings import Settings
from backend.strategies import similar_tasks

logger = logging.getLogger(__name__)


def order_project(
    settings: Settings,
    project_id: int,
    strategy: str,
    batch_size: int = 32,
    dry_run: bool = False,
    similar_to: list[int] | None = None,
    per_class: bool = True,
    progress: bool = True,
) -> tuple[Queue, list[tuple[int, float]]]:
    """Rank the project's unannotated tasks with the served model; unless ``dry_run``, push the queue to Label Studio.

    ``similar_to``: task ids (e.g. corrected mistakes) whose nearest unannotated neighbours go to the head of the
    queue; they are also returned as (task id, similarity).
    """
    client = connect(settings.label_studio_url, settings.label_studio_api_key, settings.label_studio_timeout)
    project = client.projects.get(project_id)
    config = LabelConfig.parse(project.label_config)
    model = ModelManager(settings).get(project_id, config)
    tasks = project_tasks(client, project_id)
    scored = score_tasks(model, tasks, with_predictions=not dry_run, progress=progress)
    annotated, labels = annotated_labels(tasks, config)
    pool = scored.pool(annotated, labels)
    queue = build_queue(pool, scored.task_ids, strategy, model.model_version, batch_size, settings.train_seed, per_class)
    neighbours: list[tuple[int, float]] = []
    if similar_to:
        index = {t: i for i, t in enumerate(scored.task_ids)}
        queries = [index[t] for t in similar_to if t in index]
        neighbours = [(scored.task_ids[i], s) for i, s in similar_tasks(pool, queries, batch_size, attention_weight=0.5)]
        front = [t for t, _ in neighbours]
        rest = [t for t in queue.order if t not in set(front)]
        queue = queue_from_order(queue.version, queue.strategy, front + rest, queue.utilities, sorted(annotated))
    if not dry_run and distributed.current().is_main:
        save_queue(settings.model_dir, project_id, queue)
        push_queue(client, project_id, queue, scored.predictions, tasks, progress=progress)
    return queue, neighbours

