import pytest

from backend.evaluation.report import summarise, summary_markdown


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
    assert "| a | click | 2 | 0.800 ± 0.100 |" in table and "unresolved" in table.split("| a | click")[1].split("\n")[0]
    assert "worse" in table.split("| c | click")[1].split("\n")[0]
