"""The demo starts on the first try on a loaded machine: ``scripts/demo.py --check`` with CPU burners beside it."""
import multiprocessing
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from backend.service.training_run import STAGES
from tests.support.label_studio_server import free_port

pytestmark = pytest.mark.label_studio
ROOT = Path(__file__).resolve().parents[2]


def _burn(seconds: float) -> None:
    import time

    end = time.time() + seconds
    while time.time() < end:
        sum(i * i for i in range(10_000))


def test_demo_check_succeeds_first_time_beside_cpu_bound_work():
    burners = [multiprocessing.Process(target=_burn, args=(900,), daemon=True) for _ in range(2)]
    for burner in burners:
        burner.start()
    try:
        with tempfile.TemporaryDirectory(prefix=".demo-check-", dir=ROOT) as workdir:  # a fresh database: a first start
            result = subprocess.run(
                [sys.executable, "scripts/demo.py", "--check", "--workdir", Path(workdir).name,
                 "--ls-port", str(free_port()), "--port", str(free_port())],
                cwd=ROOT, capture_output=True, text=True, timeout=1500,
            )
    finally:
        for burner in burners:
            burner.terminate()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "600 tasks, predictions from base-small_cnn-" in result.stdout
    assert "shortcut report: http://127.0.0.1:" in result.stdout


def test_feedback_bench_reaches_a_new_queue_with_one_prediction_per_task():
    """``scripts/bench_feedback.py``: annotations made through Label Studio's API reach the backend by webhook, a
    training run starts, and the re-ordered queue of the new version replaces every task's prediction."""
    import json

    with tempfile.TemporaryDirectory(prefix=".demo-check-", dir=ROOT) as workdir:
        result = subprocess.run(
            [sys.executable, "scripts/bench_feedback.py", "--workdir", Path(workdir).name, "--batch", "8",
             "--ls-port", str(free_port()), "--port", str(free_port())],
            cwd=ROOT, capture_output=True, text=True, timeout=1500,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")  # the report (indented JSON) comes last
    report = json.loads("\n".join(lines[start:]))
    assert report["tasks"] == 600 and report["annotations"] == 8 and report["label_studio_version"] == "v0001"
    assert report["predictions_per_task"] == [1, 1]
    assert report["report_linked"]  # the runner's push linked v0001's shortcut report from the instructions
    assert set(report["stages"]) == set(STAGES) and report["push_tasks_per_second"] > 0
    assert 0 <= report["waiting_for_the_run"] < report["seconds_to_new_queue"]
