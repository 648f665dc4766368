"""The annotation queue last pushed to Label Studio (``ProjectDir.queue``): predictions read its scores."""
from __future__ import annotations

from backend.active.annotation_queue import Queue
from backend.storage.files import atomic_write_json, read_json
from backend.storage.project_dir import ProjectDir


def save_queue(project: ProjectDir, queue: Queue) -> None:
    atomic_write_json(project.queue, queue.to_dict())


def load_queue(project: ProjectDir) -> Queue | None:
    """The stored queue, or None when there is none or it cannot be read."""
    try:
        return Queue(**read_json(project.queue, {}))
    except TypeError:
        return None
