"""Per-project record of the annotations received through webhooks (``ProjectDir.journal``).

The file holds the project's labeling config and, per task, the task data and its
annotations. Each webhook event is one edit: read, change, write to a temporary file
and rename, under an exclusive lock shared by all workers.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from backend.storage.files import atomic_write_json, file_lock, read_json
from backend.storage.project_dir import ProjectDir


class AnnotationJournal:
    """The annotations of one project as the backend has seen them."""

    def __init__(self, project: ProjectDir):
        self.path = project.journal
        self._lock = project.journal_lock

    def read(self) -> dict[str, Any]:
        data = read_json(self.path) or {"label_config": None, "tasks": {}}
        data.setdefault("tasks", {})
        return data

    @contextlib.contextmanager
    def _editing(self) -> Iterator[dict[str, Any]]:
        with file_lock(self._lock):
            data = self.read()
            yield data
            atomic_write_json(self.path, data)

    def upsert(self, task: dict, annotation: dict, label_config: str, train_every: int) -> tuple[int, bool]:
        """Record (or replace) ``annotation`` of ``task``.

        Returns the changes since training was last requested and whether a run is due (``train_every`` > 0
        changes reached); when it is, the count starts from zero again in the same write.
        """
        task_id = str(task["id"])
        with self._editing() as data:
            data["label_config"] = label_config
            entry = data["tasks"].setdefault(task_id, {"task": {}, "annotations": []})
            entry["task"] = {"id": task["id"], "data": task.get("data", {})}
            entry["annotations"] = [a for a in entry["annotations"] if a.get("id") != annotation.get("id")] + [annotation]
            changes = data.get("since_training", 0) + 1
            due = 0 < train_every <= changes
            data["since_training"] = 0 if due else changes
            return changes, due

    def delete(self, annotation_ids: list[Any], label_config: str) -> tuple[int, int]:
        """Forget the annotations with these ids; returns (removed, annotations left). When some are left a run is
        due and the change count starts from zero again."""
        wanted = {str(a) for a in annotation_ids}
        removed = 0
        with self._editing() as data:
            data["label_config"] = label_config
            for task_id in list(data["tasks"]):
                entry = data["tasks"][task_id]
                kept = [a for a in entry["annotations"] if str(a.get("id")) not in wanted]
                removed += len(entry["annotations"]) - len(kept)
                entry["annotations"] = kept
                if not kept:
                    del data["tasks"][task_id]
            left = sum(len(entry["annotations"]) for entry in data["tasks"].values())
            if left and removed:
                data["since_training"] = 0
            return removed, left

    def training_requested(self, label_config: str) -> None:
        """A run was asked for ("Start training"): remember the config and count changes from zero again."""
        with self._editing() as data:
            data["label_config"] = label_config
            data["since_training"] = 0

    def replace_tasks(self, tasks: list[dict]) -> int:
        """Make the record match ``tasks`` (id, data, annotations) as Label Studio holds them; returns tasks kept."""
        with self._editing() as data:
            data["tasks"] = {
                str(t["id"]): {"task": {"id": t["id"], "data": t.get("data", {})}, "annotations": list(t["annotations"])}
                for t in tasks
                if t.get("annotations")
            }
            return len(data["tasks"])

    def annotation_count(self) -> int:
        return sum(len(entry["annotations"]) for entry in self.read()["tasks"].values())
