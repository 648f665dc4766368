"""Batch-scoring outputs per task for one model version (``ProjectDir.score_cache(version)``), so a re-ranking
with the same version scores only new tasks."""
from __future__ import annotations

import numpy as np

from backend.storage.project_dir import ProjectDir

FIELDS = ("probabilities", "attention", "embeddings", "colours")


class ScoreCache:
    """Probabilities, small attention maps, embeddings and colour thumbnails per task id, in one ``.npz`` per model
    version (a file without one of the fields, written by an older version, reads as empty: its tasks are rescored)."""

    def __init__(self, project: ProjectDir, version: str):
        self.path = project.score_cache(version)

    def load(self) -> dict[str, dict[str, np.ndarray]]:
        if not self.path.is_file():
            return {}
        data = np.load(self.path, allow_pickle=False)
        if any(f not in data.files for f in FIELDS):
            return {}
        return {str(t): dict(zip(FIELDS, values)) for t, *values in zip(data["task_ids"], *(data[f] for f in FIELDS))}

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
                colours=np.stack([entries[i]["colours"] for i in ids]).astype(np.uint8),
            )
        tmp.replace(self.path)
