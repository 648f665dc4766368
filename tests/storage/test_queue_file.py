from backend.active.annotation_queue import queue_from_order
from backend.storage.project_dir import ProjectDir
from backend.storage.queue_file import load_queue, save_queue


def test_queue_round_trip_and_unreadable_files(tmp_path):
    project = ProjectDir(tmp_path, 4)
    assert load_queue(project) is None
    queue = queue_from_order("v1", "gmm", [3, 1, 2], {"3": 0.9, "1": 0.5, "2": 0.1})
    save_queue(project, queue)
    assert load_queue(project) == queue
    project.queue.write_text('{"version": "v1"}')  # fields missing
    assert load_queue(project) is None
