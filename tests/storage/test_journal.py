from backend.storage.journal import AnnotationJournal
from backend.storage.project_dir import ProjectDir

XML = "<View/>"


def _task(i: int) -> dict:
    return {"id": i, "data": {"image": f"{i}.png"}, "annotations": []}


def test_upsert_counts_changes_and_resets_when_a_run_is_due(tmp_path):
    journal = AnnotationJournal(ProjectDir(tmp_path, 1))
    assert journal.upsert(_task(1), {"id": 10, "result": []}, XML, train_every=2) == (1, False)
    assert journal.upsert(_task(1), {"id": 10, "result": [1]}, XML, train_every=2) == (2, True)
    assert journal.upsert(_task(2), {"id": 11}, XML, train_every=2) == (1, False)
    data = journal.read()
    assert data["label_config"] == XML and data["tasks"]["1"]["annotations"] == [{"id": 10, "result": [1]}]
    assert journal.annotation_count() == 2
    assert journal.upsert(_task(3), {"id": 12}, XML, train_every=0) == (2, False)  # 0: only on "Start training"


def test_one_event_is_one_write(tmp_path, monkeypatch):
    from backend.storage import journal as module

    writes = []
    original = module.atomic_write_json
    monkeypatch.setattr(module, "atomic_write_json", lambda path, data: (writes.append(path), original(path, data)))
    journal = AnnotationJournal(ProjectDir(tmp_path, 1))
    journal.upsert(_task(1), {"id": 10}, XML, train_every=1)
    assert len(writes) == 1


def test_delete_and_replace(tmp_path):
    journal = AnnotationJournal(ProjectDir(tmp_path, 1))
    journal.upsert(_task(1), {"id": 10}, XML, 5)
    journal.upsert(_task(2), {"id": 11}, XML, 5)
    assert journal.delete([10, 99], XML) == (1, 1)
    assert journal.read()["since_training"] == 0 and list(journal.read()["tasks"]) == ["2"]
    assert journal.delete(["11"], XML) == (1, 0)
    kept = journal.replace_tasks([_task(5) | {"annotations": [{"id": 1}]}, _task(6)])
    assert kept == 1 and list(journal.read()["tasks"]) == ["5"]
    journal.training_requested("<View>new</View>")
    assert journal.read()["label_config"] == "<View>new</View>"
