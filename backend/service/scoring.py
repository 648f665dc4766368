"""Every task of a project through the served model once: probabilities, small attention maps, embeddings and colour
thumbnails (cached per model version), and each task's ``/predict`` result when asked. The queue and the shortcut
report both read these scores."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from backend.active import Pool
from backend.active.pool import POOL_ATTENTION_SIDE
from backend.core.maps import downsample_maps
from backend.service.predictor import Predictor
from backend.storage.score_cache import FIELDS as SCORED_FIELDS
from backend.storage.score_cache import ScoreCache
from backend.training import distributed


@dataclass
class ScoredTasks:
    """Outputs for the tasks that could be read, in ``task_ids`` order; predictions only when asked for."""

    task_ids: list[Any]
    probabilities: np.ndarray
    attention: np.ndarray
    embeddings: np.ndarray
    colours: np.ndarray  # (N, 16, 16, 3) uint8 thumbnails, cell for cell with the attention
    predictions: dict[Any, dict] = field(default_factory=dict)

    def pool(self, annotated: set | None = None, labels: dict | None = None, boxes: dict | None = None) -> Pool:
        """The strategies' view; ``boxes``: the annotated object's box per task id (fractions of the side)."""
        annotated = annotated or set()
        labels = labels or {}
        boxes = boxes or {}
        return Pool(
            probabilities=self.probabilities.astype(np.float64),
            attention=self.attention.astype(np.float32),
            embeddings=self.embeddings.astype(np.float32),
            annotated=np.array([t in annotated for t in self.task_ids], dtype=bool),
            labels=np.array([labels.get(t, -1) for t in self.task_ids], dtype=int),
            boxes=np.array([boxes.get(t, (np.nan,) * 4) for t in self.task_ids], dtype=float).reshape(-1, 4),
        )


def score_tasks(
    model: Predictor, tasks: list[dict], with_predictions: bool = False, progress: bool = True
) -> ScoredTasks:
    """Probabilities, 16x16 attention and embeddings for every readable task (cached per model version);
    with ``with_predictions``, also each task's full pre-annotation (computed for every task by
    :meth:`Predictor.analyse`, the path ``/predict`` takes, so the queue's predictions are ``/predict``'s).

    Under ``torchrun`` each process scores every N-th task; all of them get the whole result and
    the first one writes the cache.
    """
    if model.analyzer is None:
        model.setup()
    world = distributed.current()
    cache = ScoreCache(model.project, model.model_version)
    entries = cache.load()
    todo = distributed.shard([t for t in tasks if with_predictions or str(t.get("id")) not in entries], world)
    scored: dict[str, dict[str, np.ndarray]] = {}
    predictions: dict[Any, dict] = {}
    batch = model.analyzer.batch_size
    bar = tqdm(total=len(todo), desc=f"scoring with {model.model_version}", unit="task", disable=not (progress and world.is_main))
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        found = [(task, a) for task, a in zip(chunk, model.analyse(chunk, with_predictions)) if a.analysis is not None]
        if found:
            small = downsample_maps(np.stack([a.analysis.attention for _, a in found]), POOL_ATTENTION_SIDE)
            for (task, analysed), attention in zip(found, small):
                analysis = analysed.analysis
                scored[str(task["id"])] = {"probabilities": analysis.probabilities, "attention": attention,
                                           "embeddings": analysis.embedding, "colours": analysed.colours}
                if with_predictions and analysed.prediction["result"]:
                    predictions[task["id"]] = analysed.prediction
        bar.update(len(chunk))
    bar.close()
    for part, part_predictions in distributed.gather((scored, predictions), world):
        entries.update(part)
        predictions.update(part_predictions)
    if world.is_main:
        cache.save(entries)
    known = [t["id"] for t in tasks if str(t.get("id")) in entries]
    if not known:
        raise ValueError(f"none of the {len(tasks)} tasks could be scored")
    arrays = {key: np.stack([entries[str(t)][key] for t in known]) for key in SCORED_FIELDS}
    return ScoredTasks(known, predictions=predictions, **arrays)
