import numpy as np
import pytest

from backend.evaluation.report import summarise, summary_markdown, versus_random


def test_summary_marks_overlapping_spreads_unresolved():
    def record(strategy, seed, accuracy):
        metrics = {"accuracy": accuracy, "balanced_accuracy": accuracy, "pointing_game": 0, "dice": 0, "outside_box": 0}
        return [{"strategy": strategy, "loss": "click", "seed": seed, "round": r, "annotations": 4 * r, "annotation_seconds": 0,
                 "class_mix": [2, 2] if r else [], "test": metrics, "shifted": metrics if r else dict(metrics, accuracy=0.0)} for r in (0, 1)]

    records = [x for s, a in [(0, 0.9), (1, 0.7)] for x in record("a", s, a)]
    records += [x for s, a in [(0, 0.85), (1, 0.8)] for x in record("b", s, a)]
    records += [x for s, a in [(0, 0.2), (1, 0.21)] for x in record("c", s, a)]
    rows = {r["strategy"]: r for r in summarise(records, 4)}
    assert rows["b"]["shifted_accuracy"] == pytest.approx(0.825)
    table = summary_markdown(list(rows.values()), {"budget": 4, "rounds": 1, "seeds": [0, 1], "arch": "x", "image_size": 8,
                                                   "train": {"steps": 1}})
    assert "| b | click | 2 | 0.825 ± 0.025 |" in table and table.count("| best |") == 1
    assert "no cue-free split" in table
    assert "| a | click | 2 | 0.800 ± 0.100 |" in table and "unresolved" in table.split("| a | click")[1].split("\n")[0]
    assert "worse" in table.split("| c | click")[1].split("\n")[0]


def _final(strategy, loss, shifted, test=0.9, round_=1):
    metrics = {"accuracy": shifted, "balanced_accuracy": shifted, "pointing_game": 0, "dice": 0, "outside_box": 0}
    return {"strategy": strategy, "loss": loss, "seed": 0, "round": round_, "annotations": 4 * round_, "annotation_seconds": 0,
            "class_mix": [], "test": dict(metrics, accuracy=test), "shifted": metrics}


def test_gap_closed_is_measured_against_the_oracle_and_never_reads_as_progress_without_a_gap():
    records = [_final("base", "none", 0.1, 1.0, 0), _final("oracle", "none", 0.9, 0.95, 0), _final("full_mask", "mask", 0.5),
               _final("random", "swap", 0.7, 0.97), _final("random", "ce", 0.05)]
    rows = {r["loss"] if r["strategy"] == "random" else r["strategy"]: r for r in summarise(records, 4)}
    assert rows["swap"]["gap_closed"] == pytest.approx(0.75) and rows["swap"]["gap_closed_full_mask"] == pytest.approx(1.5)
    assert rows["ce"]["gap_closed"] < 0  # worse than the base model: a negative share, not progress
    assert rows["swap"]["test_accuracy_drop"] == pytest.approx(0.03)
    no_gap = [_final("base", "none", 0.8, 1.0, 0), _final("oracle", "none", 0.82, 1.0, 0), _final("random", "swap", 0.9)]
    assert np.isnan(next(r for r in summarise(no_gap, 4) if r["loss"] == "swap")["gap_closed"])


def test_a_strategy_beats_random_only_outside_the_spread_of_its_paired_differences():
    def runs(strategy, accuracies):
        return [dict(_final(strategy, "swap", a), seed=seed) for seed, a in enumerate(accuracies)]

    records = [_final("base", "none", 0.0, 1.0, 0)] + runs("random", [0.5, 0.6, 0.4])
    records += runs("steady", [0.6, 0.7, 0.5])      # +0.1 on every seed: outside a zero spread
    records += runs("lucky", [0.9, 0.4, 0.3])       # higher mean, but one seed carries it
    records += runs("poor", [0.2, 0.3, 0.2])
    rows = {r["strategy"]: r for r in summarise(records, 4)}
    assert rows["steady"]["vs_random_mean"] == pytest.approx(0.1) and rows["steady"]["vs_random_std"] == pytest.approx(0.0)
    assert np.isnan(rows["random"]["vs_random_mean"])
    assert [versus_random(rows[s]) for s in ("steady", "lucky", "poor", "random")] == \
        ["beats random", "within the spread", "below random", ""]
    table = summary_markdown(list(rows.values()), {"budget": 4, "rounds": 1, "seeds": [0, 1, 2], "arch": "x",
                                                   "image_size": 8, "train": {"steps": 1}})
    assert "| +0.100 ± 0.000 | beats random |" in table.split("| steady | swap")[1].split("\n")[0]
