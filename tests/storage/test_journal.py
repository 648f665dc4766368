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


def test_a_webhook_appends_one_line_and_never_rewrites_the_snapshot(tmp_path):
    project = ProjectDir(tmp_path, 1)
    journal = AnnotationJournal(project)
    for i in range(2000):  # a large project, folded into its snapshot
        journal.upsert(_task(i), {"id": i, "result": ["x" * 200]}, XML, train_every=0)
    journal.compact()
    snapshot = project.journal.stat()
    assert snapshot.st_size > 400_000 and project.journal_log.stat().st_size == 0
    journal.upsert(_task(5000), {"id": 5000}, XML, train_every=0)
    journal.delete([7], XML)
    journal.training_requested(XML)
    after = project.journal.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (snapshot.st_ino, snapshot.st_mtime_ns, snapshot.st_size)
    assert len(project.journal_log.read_text().splitlines()) == 3
    assert project.journal_log.stat().st_size < 1000  # the config is logged once, not with every event
    data = journal.read()
    assert "5000" in data["tasks"] and "7" not in data["tasks"] and len(data["tasks"]) == 2000


def test_unknown_deletes_write_nothing_and_a_cut_line_is_skipped(tmp_path):
    project = ProjectDir(tmp_path, 1)
    journal = AnnotationJournal(project)
    journal.upsert(_task(1), {"id": 10}, XML, 5)
    size = project.journal_log.stat().st_size
    assert journal.delete([999], XML) == (0, 1) and project.journal_log.stat().st_size == size
    with open(project.journal_log, "a") as handle:
        handle.write('{"op": "upsert", "task": {"id": 2')  # a worker killed in the middle of a write
    assert list(journal.read()["tasks"]) == ["1"]
    journal.upsert(_task(3), {"id": 30}, XML, 5)  # the next event is not glued to the cut line
    assert list(journal.compact()["tasks"]) == ["1", "3"] and project.journal_log.stat().st_size == 0
    assert journal.read()["label_config"] == XML


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
