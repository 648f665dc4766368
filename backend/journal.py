"""Per-project record of the annotations received through webhooks, kept in MODEL_DIR.

``MODEL_DIR/<project>/annotations.json`` holds the project's labeling config and,
per task, the task data and its annotations. Every change is written to a
temporary file and renamed, under an exclusive lock shared by all workers.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from backend.checkpoints import project_key

FILE = "annotations.json"


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` (created if missing), blocking."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class AnnotationJournal:
    """The annotations of one project as the backend has seen them."""

    def __init__(self, model_dir: str | os.PathLike[str], project: object):
        self.folder = Path(model_dir) / project_key(project)
        self.path = self.folder / FILE
        self._lock = self.folder / ".journal.lock"

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"label_config": None, "tasks": {}}
        data.setdefault("tasks", {})
        return data

    @contextlib.contextmanager
    def _editing(self) -> Iterator[dict[str, Any]]:
        with file_lock(self._lock):
            data = self.read()
            yield data
            atomic_write_json(self.path, data)

    def set_label_config(self, xml: str) -> None:
        with self._editing() as data:
            data["label_config"] = xml

    def upsert(self, task: dict, annotation: dict) -> int:
        """Record (or replace) ``annotation`` of ``task``; return the changes since training was last requested."""
        task_id = str(task["id"])
        with self._editing() as data:
            entry = data["tasks"].setdefault(task_id, {"task": {}, "annotations": []})
            entry["task"] = {"id": task["id"], "data": task.get("data", {})}
            entry["annotations"] = [a for a in entry["annotations"] if a.get("id") != annotation.get("id")] + [annotation]
            data["since_training"] = data.get("since_training", 0) + 1
            return data["since_training"]

    def reset_counter(self) -> None:
        """Training was requested: count changes from zero again."""
        with self._editing() as data:
            data["since_training"] = 0

    def delete(self, annotation_ids: list[Any]) -> int:
        """Forget the annotations with these ids; return how many were removed."""
        wanted = {str(a) for a in annotation_ids}
        removed = 0
        with self._editing() as data:
            for task_id in list(data["tasks"]):
                entry = data["tasks"][task_id]
                kept = [a for a in entry["annotations"] if str(a.get("id")) not in wanted]
                removed += len(entry["annotations"]) - len(kept)
                entry["annotations"] = kept
                if not kept:
                    del data["tasks"][task_id]
        return removed

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
