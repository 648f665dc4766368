"""Per-project record of the annotations received through webhooks.

Two files under an exclusive lock shared by all workers: a snapshot (``ProjectDir.journal``: the labeling config
and, per task, the task data and its annotations) and an append-only log of the events since the snapshot
(``ProjectDir.journal_log``, one JSON line each). A webhook appends one line and updates a few counters, so its
cost does not grow with the project; reading replays the log over the snapshot, and :meth:`compact` (called by
each training run) folds the log into a new snapshot.
"""
from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from backend.storage.files import atomic_write_json, file_lock, read_json
from backend.storage.project_dir import ProjectDir


def _empty() -> dict[str, Any]:
    return {"label_config": None, "tasks": {}, "since_training": 0}


def _apply(data: dict[str, Any], event: dict[str, Any]) -> None:
    """Apply one logged event to the record ``data``."""
    if event.get("label_config") is not None:
        data["label_config"] = event["label_config"]
    op = event.get("op")
    if op == "upsert":
        task, annotation = event["task"], event["annotation"]
        entry = data["tasks"].setdefault(str(task["id"]), {"task": {}, "annotations": []})
        entry["task"] = task
        entry["annotations"] = [a for a in entry["annotations"] if a.get("id") != annotation.get("id")] + [annotation]
    elif op == "delete":
        wanted = set(event["ids"])
        for task_id in list(data["tasks"]):
            entry = data["tasks"][task_id]
            entry["annotations"] = [a for a in entry["annotations"] if str(a.get("id")) not in wanted]
            if not entry["annotations"]:
                del data["tasks"][task_id]


class AnnotationJournal:
    """The annotations of one project as the backend has seen them."""

    def __init__(self, project: ProjectDir):
        self.path = project.journal
        self.log = project.journal_log
        self.counters = project.journal_counters
        self._lock = project.journal_lock

    def read(self) -> dict[str, Any]:
        """The record: ``label_config``, ``tasks`` {id: {task, annotations}}, ``since_training``."""
        data = read_json(self.path) or _empty()
        data.setdefault("tasks", {})
        try:
            with open(self.log, encoding="utf-8") as handle:
                for line in handle:
                    with contextlib.suppress(ValueError, KeyError, TypeError):  # a line cut short by a crash
                        _apply(data, json.loads(line))
        except FileNotFoundError:
            pass
        data["since_training"] = self._counters().get("since_training", 0)
        return data

    def _counters(self) -> dict[str, Any]:
        counters = read_json(self.counters)
        return counters if isinstance(counters, dict) else {}

    def _append(self, event: dict[str, Any], since_training: int) -> None:
        """Append ``event`` (with the config only when it changed) and store the change count; caller holds the lock."""
        counters = self._counters()
        config = event.pop("label_config")
        if config != counters.get("label_config"):
            event["label_config"] = config
        line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a+b") as handle:
            size = handle.tell()
            try:
                if size and (handle.seek(-1, os.SEEK_END), handle.read(1))[1] != b"\n":
                    line = b"\n" + line  # end a line a killed writer left unfinished, so this one stays readable
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
                atomic_write_json(self.counters, {"since_training": since_training, "label_config": config})
            except OSError:  # a full disk: the event is not recorded at all
                handle.truncate(size)
                raise

    def upsert(self, task: dict, annotation: dict, label_config: str, train_every: int) -> tuple[int, bool]:
        """Record (or replace) ``annotation`` of ``task``.

        Returns the changes since training was last requested and whether a run is due (``train_every`` > 0
        changes reached); when it is, the count starts from zero again in the same write.
        """
        with file_lock(self._lock):
            changes = self._counters().get("since_training", 0) + 1
            due = 0 < train_every <= changes
            event = {"op": "upsert", "task": {"id": task["id"], "data": task.get("data", {})}, "annotation": annotation}
            self._append(event | {"label_config": label_config}, 0 if due else changes)
            return changes, due

    def delete(self, annotation_ids: list[Any], label_config: str) -> tuple[int, int]:
        """Forget the annotations with these ids; returns (removed, annotations left). When some were removed and
        some are left a run is due and the change count starts from zero again; ids the journal does not hold
        change nothing and write nothing."""
        wanted = sorted({str(a) for a in annotation_ids})
        with file_lock(self._lock):
            data = self.read()
            held = {str(a.get("id")) for entry in data["tasks"].values() for a in entry["annotations"]}
            removed = sum(1 for entry in data["tasks"].values() for a in entry["annotations"] if str(a.get("id")) in wanted)
            left = sum(len(entry["annotations"]) for entry in data["tasks"].values()) - removed
            if held & set(wanted):
                since = 0 if left else data["since_training"]
                self._append({"op": "delete", "ids": wanted, "label_config": label_config}, since)
            return removed, left

    def training_requested(self, label_config: str) -> None:
        """A run was asked for ("Start training"): remember the config and count changes from zero again."""
        with file_lock(self._lock):
            self._append({"op": "train", "label_config": label_config}, 0)

    def compact(self) -> dict[str, Any]:
        """Fold the log into a new snapshot; returns the record."""
        with file_lock(self._lock):
            data = self.read()
            self._write_snapshot(data)
            return data

    def replace_tasks(self, tasks: list[dict], label_config: str | None = None) -> int:
        """Make the record match ``tasks`` (id, data, annotations) and, when given, the labeling config as Label
        Studio holds them; returns tasks kept."""
        with file_lock(self._lock):
            data = self.read()
            if label_config:
                data["label_config"] = label_config
            data["tasks"] = {
                str(t["id"]): {"task": {"id": t["id"], "data": t.get("data", {})}, "annotations": list(t["annotations"])}
                for t in tasks
                if t.get("annotations")
            }
            self._write_snapshot(data)
            return len(data["tasks"])

    def _write_snapshot(self, data: dict[str, Any]) -> None:
        snapshot = {k: v for k, v in data.items() if k != "since_training"}
        atomic_write_json(self.path, snapshot)
        with contextlib.suppress(FileNotFoundError):
            os.truncate(self.log, 0)

    def annotation_count(self) -> int:
        return sum(len(entry["annotations"]) for entry in self.read()["tasks"].values())
