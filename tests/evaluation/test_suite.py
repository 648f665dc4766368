"""A miniature bias suite (2 kinds, 1 seed, a few steps): the whole pipeline and its table, in well under a minute."""
import json
from dataclasses import replace

import numpy as np

from backend.evaluation.simulation import SimConfig
from backend.evaluation.suite import SuiteConfig, run_suite, suite_rows


def test_a_small_suite_runs_against_the_oracle_and_resumes(tmp_path):
    sim = SimConfig(train=replace(SimConfig().train, steps=3, batch_size=8, unlabeled_batch=8), rounds=1, image_size=32,
                    base_epochs=1)
    cfg = SuiteConfig(kinds=["patch", "texture"], methods=["swap", "rrr"], shares=[0.1], seeds=1, train_images=40, sim=sim)
    rows = run_suite(tmp_path, cfg, progress=False)
    for kind in cfg.kinds:
        names = {(r["strategy"], r["loss"]) for r in rows if r["kind"] == kind}
        assert {("base", "none"), ("oracle", "none"), ("full_mask", "mask"), ("random", "ce"), ("random", "swap"),
                ("random", "rrr")} <= names
        swap = next(r for r in rows if r["kind"] == kind and r["loss"] == "swap")
        assert swap["annotations"] == 4 and swap["annotation_seconds"] == 4 * 12.0  # brush masks for 10% of 40 images
        assert "gap_closed" in swap and "test_accuracy_drop" in swap
    table = (tmp_path / "suite.md").read_text()
    assert "| patch | oracle |" in table and "| texture | swap |" in table and "- **texture**: best at 10%" in table
    assert json.loads((tmp_path / "suite.json").read_text())[0]["kind"] == "patch"
    cells = sorted((tmp_path / "patch" / "0.1" / "cells").iterdir())
    stamps = [c.stat().st_mtime_ns for c in cells]
    assert json.dumps(suite_rows(tmp_path, cfg)) == json.dumps(rows)  # NaN-safe comparison
    run_suite(tmp_path, cfg, progress=False)  # resumes: nothing is run again
    assert [c.stat().st_mtime_ns for c in cells] == stamps
    assert all(np.isfinite(r["shifted_accuracy"]) for r in rows)
