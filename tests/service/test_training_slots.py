"""Training-process storms and the global cap, with real runner processes and a launcher that only records its
runs (no model is trained, so each run takes about a second)."""
import json
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

from backend.service.scheduler import TrainingScheduler
from backend.settings import Settings

RECORDER = textwrap.dedent("""
    import json, sys, time
    log, project = sys.argv[1], sys.argv[-2]  # the launched command ends with PROJECT SETTINGS
    start = time.time()
    time.sleep(float(sys.argv[2]))
    with open(log, "a") as handle:
        handle.write(json.dumps({"project": project, "start": start, "end": time.time()}) + "\\n")
""")


def _settings(tmp_path, seconds: float, **overrides) -> Settings:
    script = tmp_path / "record.py"
    script.write_text(RECORDER)
    launcher = f"{sys.executable} {script} {tmp_path / 'runs.jsonl'} {seconds}"
    # LABEL_STUDIO_URL lets a run start without a recorded annotation; the launcher never calls it
    return Settings.from_env({}, model_dir=str(tmp_path / "models"), train_launcher=launcher,
                             label_studio_url="http://127.0.0.1:9", **overrides)


def _runs(tmp_path) -> list[dict]:
    path = tmp_path / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_storm_of_requests_starts_one_runner_and_one_run(tmp_path):
    scheduler = TrainingScheduler(_settings(tmp_path, seconds=3))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: scheduler.request(7), range(200)))
    assert answers.count("started") == 1 and answers.count("queued") == 199
    assert scheduler.is_running(7)
    status = scheduler.wait(7, timeout=120)
    assert len(_runs(tmp_path)) == 1  # the storm came before the run began: one run serves all 200 requests
    assert status["failures"] == 1  # the recorder writes no version, so the run is reported as failed


def test_the_global_cap_runs_projects_one_at_a_time_in_the_order_they_asked(tmp_path):
    scheduler = TrainingScheduler(_settings(tmp_path, seconds=1, train_max_concurrent=1))
    answers = []
    for project in (3, 1, 2):
        answers.append(scheduler.request(project))
        time.sleep(0.05)  # distinct request times
    assert answers == ["started", "queued", "queued"]
    for project in (3, 1, 2):
        scheduler.wait(project, timeout=120)
    runs = _runs(tmp_path)
    assert [r["project"] for r in runs] == ["3", "1", "2"]  # first come, first served across projects
    for earlier, later in zip(runs, runs[1:]):
        assert earlier["end"] <= later["start"]  # never two at once


def test_two_slots_run_two_projects_at_once(tmp_path):
    scheduler = TrainingScheduler(_settings(tmp_path, seconds=4, train_max_concurrent=2))
    assert [scheduler.request(p) for p in (1, 2, 3)] == ["started", "started", "queued"]
    for project in (1, 2, 3):
        scheduler.wait(project, timeout=120)
    runs = {r["project"]: r for r in _runs(tmp_path)}
    assert runs["1"]["start"] < runs["2"]["end"] and runs["2"]["start"] < runs["1"]["end"]  # overlapped
    assert runs["3"]["start"] >= min(runs["1"]["end"], runs["2"]["end"])  # waited for a free slot
