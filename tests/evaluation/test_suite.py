"""A miniature bias suite (2 kinds, 1 seed, a few steps): the whole pipeline and its table, in well under a minute."""
import json
from dataclasses import replace

import numpy as np

from backend.evaluation.simulation import SimConfig
from backend.evaluation.suite import SuiteConfig, run_suite, suite_rows, write_suite_report


def test_a_small_suite_runs_against_the_oracle_and_resumes(tmp_path):
    sim = SimConfig(train=replace(SimConfig().train, steps=3, batch_size=8, unlabeled_batch=8), rounds=1, image_size=32,
                    base_epochs=1, oracle_epochs=1)
    cfg = SuiteConfig(kinds=["patch", "texture"], methods=["swap", "rrr"], shares=[0.1], seeds=1, train_images=40, sim=sim,
                      compared=["random", "entropy"], default="swap", chosen_on=["patch"])
    rows = run_suite(tmp_path, cfg, progress=False)
    for kind in cfg.kinds:
        names = {(r["strategy"], r["loss"]) for r in rows if r["kind"] == kind}
        assert {("base", "none"), ("oracle", "none"), ("full_mask", "mask"), ("random", "ce"), ("random", "swap"),
                ("random", "rrr")} <= names
        swap = next(r for r in rows if r["kind"] == kind and r["loss"] == "swap")
        assert swap["annotations"] == 4 and swap["annotation_seconds"] == 4 * 12.0  # brush masks for 10% of 40 images
        assert "gap_closed" in swap and "test_accuracy_drop" in swap
        entropy = next(r for r in rows if r["kind"] == kind and (r["strategy"], r["loss"]) == ("entropy", "swap"))
        assert np.isfinite(entropy["vs_random_mean"])  # paired with random's cell of the same seed
        assert not any(r["kind"] == kind and (r["strategy"], r["loss"]) == ("entropy", "ce") for r in rows)
    table = (tmp_path / "suite.md").read_text()
    assert "| patch | no | 10% | oracle |" in table and "| texture | yes | 10% | swap |" in table
    assert "- **texture** (held out) at 10%: `swap` reaches shifted accuracy" in table
    assert "chosen on patch; held out of every choice: texture." in table
    main, strategies = table.split("| kind | share | method | strategy |")
    assert "entropy" not in main and "| texture | 10% | swap | entropy |" in strategies
    assert "| minus random, paired | test acc | test change | verdict |" in strategies  # the cost beside every row
    assert json.loads((tmp_path / "suite.json").read_text())[0]["kind"] == "patch"
    assert (tmp_path / "suite.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cells = sorted((tmp_path / "patch" / "0.1" / "cells").iterdir())
    stamps = [c.stat().st_mtime_ns for c in cells]
    assert json.dumps(suite_rows(tmp_path, cfg)) == json.dumps(rows)  # NaN-safe comparison
    run_suite(tmp_path, cfg, progress=False)  # resumes: nothing is run again
    assert [c.stat().st_mtime_ns for c in cells] == stamps
    assert all(np.isfinite(r["shifted_accuracy"]) for r in rows)


def test_the_report_fills_what_the_cells_lack_from_an_earlier_runs_rows(tmp_path):
    earlier = {"kind": "patch", "share": 0.05, "strategy": "random", "loss": "swap", "seeds": 5, "annotations": 40,
               "shifted_accuracy": 0.9, "shifted_accuracy_std": 0.01, "test_accuracy": 1.0, "gap_closed": 0.9,
               "test_accuracy_drop": 0.0, "vs_ce_mean": 0.5, "vs_ce_std": 0.1, "annotation_seconds": 480.0}
    saved = tmp_path / "earlier.json"
    saved.write_text(json.dumps([earlier, dict(earlier, share=0.02, shifted_accuracy=0.1)]))
    cfg = SuiteConfig(kinds=["patch"], shares=[0.05], default="swap")
    rows = write_suite_report(tmp_path / "out", cfg, [saved])
    assert rows == [earlier, dict(earlier, share=0.02, shifted_accuracy=0.1)]
    table = (tmp_path / "out" / "suite.md").read_text()
    assert "| patch | no | 5% | swap | 0.900 ± 0.010 | 0.90 | +0.500 ± 0.100 | 1.000 | +0.000 | 480 | 5 |" in table
    assert ("- **patch** at 5%: `swap` reaches shifted accuracy 0.900 ± 0.010, gap closed 0.90, test accuracy +0.000: "
            "the 95% goal is NOT met.") in table  # 0.90 of the gap is short of the 5% goal
    assert "| 2% |" not in table  # only the shares asked for


def test_the_verdict_is_about_the_default_and_refuses_a_method_that_costs_test_accuracy(tmp_path):
    row = {"kind": "scale", "share": 0.02, "strategy": "random", "seeds": 5, "annotations": 20, "shifted_accuracy": 0.95,
           "shifted_accuracy_std": 0.01, "test_accuracy": 0.95, "gap_closed": 0.97, "test_accuracy_drop": 0.05,
           "vs_ce_mean": 0.5, "vs_ce_std": 0.1, "annotation_seconds": 120.0}
    saved = tmp_path / "rows.json"
    saved.write_text(json.dumps([dict(row, loss="auto"), dict(row, loss="swap", gap_closed=0.92, test_accuracy_drop=0.0)]))
    write_suite_report(tmp_path / "out", SuiteConfig(kinds=["scale"], shares=[0.02], default="auto"), [saved])
    table = (tmp_path / "out" / "suite.md").read_text()
    assert "| scale | yes | 2% | auto |" in table and "| -0.050 |" in table
    assert "- **scale** (held out) at 2%: `auto` reaches" in table
    assert "the 90% goal is NOT met (test accuracy -0.050)." in table
    assert "Best other method that kept test accuracy: `swap`, gap closed 0.92." in table


def _default_beside_oracle(tmp_path, kind: str, share: float, default: dict, oracle: dict) -> str:
    """suite.md of a default ``auto`` row and its oracle row (given their differing figures)."""
    row = {"kind": kind, "share": share, "seeds": 5, "annotations": round(share * 1000), "shifted_accuracy_std": 0.01,
           "test_accuracy_drop": 0.0, "vs_ce_mean": 0.0, "vs_ce_std": 0.0, "annotation_seconds": 300.0}
    saved = tmp_path / "rows.json"
    saved.write_text(json.dumps([row | {"strategy": "random", "loss": "auto"} | default,
                                 row | {"strategy": "oracle", "loss": "oracle", "seeds": 1} | oracle]))
    write_suite_report(tmp_path / "out", SuiteConfig(kinds=[kind], shares=[share], default="auto"), [saved])
    return (tmp_path / "out" / "suite.md").read_text()


def test_a_default_that_beats_a_failed_oracle_is_not_called_a_success(tmp_path):
    table = _default_beside_oracle(tmp_path, "scale", 0.05,
                                   {"shifted_accuracy": 0.99, "test_accuracy": 1.0, "gap_closed": 5.3},
                                   {"shifted_accuracy": 0.6, "test_accuracy": 0.863, "gap_closed": 1.0})
    assert ("the cue-free oracle (shifted 0.600, test 0.863) did not learn the task, so there is no gap to judge the "
            "goal by.") in table
    assert "goal is met" not in table


def test_an_oracle_far_below_the_method_in_distribution_did_not_learn(tmp_path):
    table = _default_beside_oracle(tmp_path, "patch", 0.02,
                                   {"shifted_accuracy": 0.123, "test_accuracy": 0.929, "gap_closed": 0.22, "test_accuracy_drop": 0.067},
                                   {"shifted_accuracy": 0.567, "test_accuracy": 0.537, "gap_closed": 1.0})
    assert "the cue-free oracle (shifted 0.567, test 0.537) did not learn the task" in table
    assert "NOT met" not in table


def test_a_kind_the_base_model_did_not_take_is_not_called_a_failure(tmp_path):
    table = _default_beside_oracle(tmp_path, "texture", 0.05,
                                   {"shifted_accuracy": 1.0, "test_accuracy": 1.0, "gap_closed": float("nan")},
                                   {"shifted_accuracy": 0.997, "test_accuracy": 1.0, "gap_closed": float("nan")})
    assert ("the base model is already within 0.05 of the cue-free oracle's shifted accuracy (0.997): it did not take the "
            "cue, so there is no gap to judge the goal by.") in table
    assert "NOT met" not in table and "goal is met" not in table
