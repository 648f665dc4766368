import json
import threading
import time

from backend.storage.files import atomic_write_json, file_lock, read_json


def test_atomic_write_and_tolerant_read(tmp_path):
    path = tmp_path / "sub" / "x.json"
    atomic_write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1} and read_json(path) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]  # no temporary file left
    path.write_text("{broken")
    assert read_json(path, "default") == "default" and read_json(tmp_path / "none.json") is None


def test_file_lock_excludes_other_threads(tmp_path):
    lock, order = tmp_path / "l.lock", []

    def other() -> None:
        with file_lock(lock):
            order.append("other")

    with file_lock(lock):
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.2)
        order.append("first")
    thread.join(5)
    assert order == ["first", "other"]
