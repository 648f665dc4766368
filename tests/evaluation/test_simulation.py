"""One miniature simulator run, end to end."""
import json
import subprocess
import sys

import pytest

from backend.evaluation.synthetic import BiasSpec, write_dataset


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    data = write_dataset(out / "data", BiasSpec(size=32, train=80, val=4, test=24, shifted=24))
    command = [sys.executable, "scripts/simulate.py", "--data", str(data), "--out", str(out), "--strategies", "random", "gmm@topk",
               "--losses", "click", "ce", "click:gradcam++", "sal", "--budget", "8", "--rounds", "2", "--seeds", "2", "--steps", "2", "--image-size", "32"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return out, first, second


def test_outputs_and_schema(run):
    out, first, _ = run
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["budget"] == 8 and results["config"]["seeds"] == [0, 1]
    assert results["config"]["train"]["steps"] == 2 and results["config"]["train"]["batch_size"] == 16
    records = results["records"]
    cells = {(r["strategy"], r["loss"], r["seed"]) for r in records}
    assert ("base", "none", 0) in cells and ("full_mask", "mask", 0) in cells
    assert {(s, loss) for s, loss, _ in cells} >= {("random", "click"), ("gmm@topk", "ce"), ("gmm@topk", "click:gradcam++")}
    for record in records:
        assert set(record["shifted"]) == {"accuracy", "balanced_accuracy", "pointing_game", "dice", "outside_box"}
    rounds = sorted((r["round"], r["annotations"]) for r in records if r["strategy"] == "random" and r["loss"] == "click" and r["seed"] == 1)
    assert rounds == [(0, 0), (1, 4), (2, 8)]
    per_class = [r["class_mix"] for r in records if r["strategy"] == "random" and r["round"] > 0]
    assert all(sum(m) == 4 for m in per_class)
    assert all(r["annotation_seconds"] == 6.0 * r["annotations"] for r in records if r["loss"] == "click")
    sal = sorted((r["round"], r["annotations"], r["annotation_seconds"]) for r in records
                 if r["strategy"] == "random" and r["loss"] == "sal" and r["seed"] == 0)
    assert sal == [(0, 0, 0.0), (1, 4, 2 * 8.0 + 2 * 2.0), (2, 8, 2 * 8.0 + 6 * 2.0)]  # masks for 20% (2), then labels only
    written = {r["round"]: r["machine_saliency_dice"] for r in records
               if r["loss"] == "sal" and r["seed"] == 0 and r["strategy"] == "random" and r["round"] > 0}
    assert written[1] is None and 0.0 <= written[2] <= 1.0  # the interpretability model writes once it has trained
    summary = (out / "summary.md").read_text()
    assert "| random | click | 2 |" in summary and "gap closed" in summary
    assert (out / "curves_click.png").stat().st_size > 1000 and (out / "curves_ce.png").is_file()


def test_interrupted_runs_resume_without_redoing_cells(run):
    _, first, second = run
    assert "19 to run" in first.stderr + first.stdout  # base, full mask, oracle, 2 strategies x 4 losses x 2 seeds
    assert "19 done before, 0 to run" in second.stderr + second.stdout


def test_a_run_reuses_the_base_and_oracle_models_of_another_folder(run, tmp_path):
    out, _, _ = run
    command = [sys.executable, "scripts/simulate.py", "--data", str(out / "data"), "--out", str(tmp_path), "--models", str(out),
               "--strategies", "entropy", "--losses", "ce", "--budget", "4", "--rounds", "1", "--seeds", "1", "--steps", "1",
               "--image-size", "32"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "training a model from scratch" not in done.stderr and not (tmp_path / "base_model.pt").exists()
    base = next(r for r in json.loads((tmp_path / "results.json").read_text())["records"] if r["strategy"] == "base")
    first = next(r for r in json.loads((out / "results.json").read_text())["records"] if r["strategy"] == "base")
    assert base["shifted"] == first["shifted"]  # the very same base model
