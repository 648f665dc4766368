"""A miniature bias suite (2 kinds, 1 seed, a few steps): the whole pipeline and its table, in well under a minute."""
import json
from dataclasses import replace

import numpy as np

from backend.evaluation.simulation import SimConfig
from backend.evaluation.suite import SuiteConfig, run_suite, suite_rows, write_suite_report


def test_a_small_suite_runs_against_the_oracle_and_resumes(tmp_path):
    sim = SimConfig(train=replace(SimConfig().train, steps=3, batch_size=8, unlabeled_batch=8), rounds=1, image_size=32,
                    base_epochs=1)
    cfg = SuiteConfig(kinds=["patch", "texture"], methods=["swap", "rrr"], shares=[0.1], seeds=1, train_images=40, sim=sim,
                      compared=["random", "entropy"])
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
    assert "| patch | 10% | oracle |" in table and "| texture | 10% | swap |" in table and "- **texture** at 10%: best is" in table
    main, strategies = table.split("| kind | share | method | strategy |")
    assert "entropy" not in main and "| texture | 10% | swap | entropy |" in strategies
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
    cfg = SuiteConfig(kinds=["patch"], shares=[0.05])
    rows = write_suite_report(tmp_path / "out", cfg, [saved])
    assert rows == [earlier, dict(earlier, share=0.02, shifted_accuracy=0.1)]
    table = (tmp_path / "out" / "suite.md").read_text()
    assert "| patch | 5% | swap | 0.900 ± 0.010 | 0.90 | +0.500 ± 0.100 | 1.000 | 480 | 5 |" in table
    assert "- **patch** at 5%: best is `swap` with shifted accuracy 0.900 ± 0.010, gap closed 0.90: the 90% goal is met." in table
    assert "| 2% |" not in table  # only the shares asked for
