"""Batch scoring of a project's tasks: model outputs for ranking, cached per model version."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from backend import distributed
from backend.checkpoints import project_key
from backend.model import AttentionModel
from backend.strategies import Pool

CACHE_SIDE = 16  # attention maps are cached at 16x16


@dataclass
class ScoredTasks:
    """Outputs for the tasks that could be read, in ``task_ids`` order; predictions only when asked for."""

    task_ids: list[Any]
    probabilities: np.ndarray
    attention: np.ndarray
    embeddings: np.ndarray
    predictions: dict[Any, dict] = field(default_factory=dict)

    def pool(self, annotated: set | None = None, labels: dict | None = None) -> Pool:
        annotated = annotated or set()
        labels = labels or {}
        return Pool(
            probabilities=self.probabilities.astype(np.float64),
            attention=self.attention.astype(np.float32),
            embeddings=self.embeddings.astype(np.float32),
            annotated=np.array([t in annotated for t in self.task_ids], dtype=bool),
            labels=np.array([labels.get(t, -1) for t in self.task_ids], dtype=int),
        )


def downsample_attention(attention: np.ndarray) -> np.ndarray:
    """(N, H, W) maps averaged down to the cached CACHE_SIDE x CACHE_SIDE."""
    tensor = torch.from_numpy(np.ascontiguousarray(attention, dtype=np.float32)).unsqueeze(1)
    return F.adaptive_avg_pool2d(tensor, CACHE_SIDE).squeeze(1).numpy()


class ScoreCache:
    """``MODEL_DIR/<project>/scores/<version>.npz``: outputs per task id for one model version."""

    def __init__(self, model_dir: str, project: object, version: str):
        self.path = Path(model_dir) / project_key(project) / "scores" / f"{version}.npz"

    def load(self) -> dict[str, dict[str, np.ndarray]]:
        if not self.path.is_file():
            return {}
        data = np.load(self.path, allow_pickle=False)
        return {
            str(t): {"probabilities": p, "attention": a, "embeddings": e}
            for t, p, a, e in zip(data["task_ids"], data["probabilities"], data["attention"], data["embeddings"])
        }

    def save(self, entries: dict[str, dict[str, np.ndarray]]) -> None:
        if not entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ids = sorted(entries)
        tmp = self.path.with_name(f".tmp-{self.path.name}")
        with open(tmp, "wb") as handle:
            np.savez(
                handle,
                task_ids=np.array(ids),
                probabilities=np.stack([entries[i]["probabilities"] for i in ids]),
                attention=np.stack([entries[i]["attention"] for i in ids]).astype(np.float16),
                embeddings=np.stack([entries[i]["embeddings"] for i in ids]).astype(np.float32),
            )
        tmp.replace(self.path)


def score_tasks(
    model: AttentionModel, tasks: list[dict], with_predictions: bool = False, progress: bool = True
) -> ScoredTasks:
    """Probabilities, 16x16 attention and embeddings for every readable task (cached per model version);
    with ``with_predictions``, also each task's full pre-annotation (computed for every task).

    Under ``torchrun`` each process scores every N-th task; all of them get the whole result and
    the first one writes the cache.
    """
    if model.analyzer is None:
        model.setup()
    world = distributed.current()
    cache = ScoreCache(model.settings.model_dir, model.project, model.model_version)
    entries = cache.load()
    todo = distributed.shard([t for t in tasks if with_predictions or str(t.get("id")) not in entries], world)
    scored: dict[str, dict[str, np.ndarray]] = {}
    predictions: dict[Any, dict] = {}
    batch = model.analyzer.batch_size
    bar = tqdm(total=len(todo), desc=f"scoring with {model.model_version}", unit="task", disable=not (progress and world.is_main))
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        readable = model.read_images(chunk)
        if readable:
            images = [image for _, image in readable]
            analyses = model.analyzer.analyze(images)
            small = downsample_attention(np.stack([a.attention for a in analyses]))
            for (i, image), analysis, attention in zip(readable, analyses, small):
                task = chunk[i]
                scored[str(task["id"])] = {"probabilities": analysis.probabilities, "attention": attention, "embeddings": analysis.embedding}
                if with_predictions:
                    predictions[task["id"]] = model.prediction_for(image, analysis)
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
    arrays = {key: np.stack([entries[str(t)][key] for t in known]) for key in ("probabilities", "attention", "embeddings")}
    return ScoredTasks(known, predictions=predictions, **arrays)
