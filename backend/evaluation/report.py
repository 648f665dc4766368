"""Summaries of simulator records: results.json, summary.md and learning-curve plots.

results.json schema: ``{"config": {...}, "records": [...]}``; one record per strategy,
loss, seed and round: ``strategy``, ``loss``, ``seed``, ``round`` (0 = base model),
``annotations`` (images annotated so far), ``annotation_seconds`` (simulated human
time), ``class_mix`` (images per predicted class in this round's batch), and ``test`` /
``shifted`` with ``accuracy``, ``balanced_accuracy``, ``pointing_game``, ``dice`` and
``outside_box``. Controls: strategy ``base`` (loss ``none``), ``full_mask`` (loss ``mask``: guidance with every
training mask) and, where the dataset has a cue-free split, ``oracle`` (loss ``none``: the same architecture
trained from scratch without the cue, the upper bound "gap closed" is measured against).
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)
CONTROLS = ("base", "full_mask", "oracle")
MIN_GAP = 0.05  # an upper bound less than this above the base model leaves no gap worth measuring


def _area(records: list[dict], split: str, metric: str, budget: int) -> float:
    """Area under the learning curve (metric vs annotations, round 0 included), divided by the budget."""
    xs = [r["annotations"] for r in records]
    ys = [r[split][metric] for r in records]
    return float(np.trapezoid(ys, xs) / budget) if budget and len(xs) > 1 else float(ys[-1])


def summarise(records: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """One row per strategy x loss: mean and spread over seeds at the final round, and AULCs."""
    runs: dict[tuple[str, str], dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        runs[(r["strategy"], r["loss"])][r["seed"]].append(r)
    base = np.mean([r["shifted"]["accuracy"] for r in records if r["round"] == 0 and r["strategy"] != "oracle"])
    base_test = np.mean([r["test"]["accuracy"] for r in records if r["round"] == 0 and r["strategy"] != "oracle"])
    upper = _control(runs, "full_mask", "mask")
    oracle = _control(runs, "oracle", "none")
    rows = []
    for (strategy, loss), seeds in runs.items():
        control = strategy in CONTROLS
        finals = [sorted(rs, key=lambda r: r["round"])[-1] for rs in seeds.values()]
        paired = _paired(seeds, runs.get((strategy, "ce"), {})) if loss != "ce" and not control else np.array([])
        against_random = _paired(seeds, runs.get(("random", loss), {})) if strategy != "random" and not control else np.array([])
        curves = [sorted(rs, key=lambda r: r["round"]) for rs in seeds.values()]
        accuracy = np.array([f["shifted"]["accuracy"] for f in finals])
        mixes = [r["class_mix"] for rs in curves for r in rs if r["class_mix"]]
        majority = [max(m) / max(sum(m), 1) for m in mixes]
        rows.append({
            "strategy": strategy, "loss": loss, "seeds": len(finals),
            "annotations": int(np.mean([f["annotations"] for f in finals])),
            "shifted_accuracy": float(accuracy.mean()), "shifted_accuracy_std": float(accuracy.std()),
            "test_accuracy": float(np.mean([f["test"]["accuracy"] for f in finals])),
            "shifted_pointing_game": float(np.mean([f["shifted"]["pointing_game"] for f in finals])),
            "shifted_dice": float(np.mean([f["shifted"]["dice"] for f in finals])),
            "aulc_accuracy": float(np.mean([_area(c, "shifted", "accuracy", budget) for c in curves])) if control is False else float("nan"),
            "aulc_dice": float(np.mean([_area(c, "shifted", "dice", budget) for c in curves])) if control is False else float("nan"),
            "gap_closed": _gap(accuracy.mean(), base, oracle),
            "gap_closed_full_mask": _gap(accuracy.mean(), base, upper),
            "test_accuracy_drop": float(base_test - np.mean([f["test"]["accuracy"] for f in finals])),
            "vs_ce_mean": float(paired.mean()) if paired.size else float("nan"),
            "vs_ce_std": float(paired.std()) if paired.size else float("nan"),
            "vs_random_mean": float(against_random.mean()) if against_random.size else float("nan"),
            "vs_random_std": float(against_random.std()) if against_random.size else float("nan"),
            "annotation_seconds": float(np.mean([f["annotation_seconds"] for f in finals])),
            "majority_class_share": float(np.mean(majority)) if majority else float("nan"),
        })
    return sorted(rows, key=lambda r: (r["strategy"] not in CONTROLS, r["loss"], -r["shifted_accuracy"]))


def _final_shifted(rounds: list[dict]) -> float:
    return sorted(rounds, key=lambda r: r["round"])[-1]["shifted"]["accuracy"]


def _paired(seeds: dict[int, list[dict]], other: dict[int, list[dict]]) -> np.ndarray:
    """Per seed, the final shifted accuracy minus the other run's with the same seed (seeds both ran): against
    cross-entropy on the same selection, or against random selection with the same loss."""
    return np.array([_final_shifted(seeds[s]) - _final_shifted(other[s]) for s in sorted(seeds) if s in other])


def versus_random(row: dict[str, Any]) -> str:
    """The verdict against random selection: it is beaten only where the paired difference lies outside its
    spread over seeds, so a lucky seed never reads as a better strategy."""
    mean, std = row.get("vs_random_mean", np.nan), row.get("vs_random_std", np.nan)
    if not np.isfinite(mean):
        return ""
    return "beats random" if mean - std > 0 else "below random" if mean + std < 0 else "within the spread"


def _control(runs: dict, strategy: str, loss: str) -> float:
    """Mean final shifted accuracy of a control row, NaN when it was not run."""
    found = runs.get((strategy, loss), {})
    return float(np.mean([sorted(rs, key=lambda r: r["round"])[-1]["shifted"]["accuracy"] for rs in found.values()])) if found else np.nan


def _gap(accuracy: float, base: float, upper: float) -> float:
    """Share of the gap from the base model to ``upper`` closed; NaN when there is no gap to close (an upper bound
    missing, below the base or within MIN_GAP of it), so a run that made things worse never reads as progress."""
    if not np.isfinite(upper) or upper - base < MIN_GAP:
        return float("nan")
    return float((accuracy - base) / (upper - base))


def _overlaps(a: dict, b: dict) -> bool:
    return abs(a["shifted_accuracy"] - b["shifted_accuracy"]) <= a["shifted_accuracy_std"] + b["shifted_accuracy_std"]


def summary_markdown(rows: list[dict[str, Any]], config: dict[str, Any]) -> str:
    """The table of summary.md; a row whose spread overlaps the best of its loss is marked unresolved."""
    best = {}
    for row in rows:
        if row["strategy"] in CONTROLS:
            continue
        if row["loss"] not in best or row["shifted_accuracy"] > best[row["loss"]]["shifted_accuracy"]:
            best[row["loss"]] = row
    has_oracle = any(r["strategy"] == "oracle" for r in rows)
    lines = [
        "# Simulation summary",
        "",
        f"Budget {config['budget']} annotations in {config['rounds']} rounds, seeds {config['seeds']}, {config['arch']} at "
        f"{config['image_size']} px, {config['train']['steps']} fine-tuning steps per round. Shifted accuracy is on `shifted.csv` "
        "(the shortcut reversed), mean ± standard deviation over seeds at the final budget. AULC: area under the learning "
        "curve (round 0 included) divided by the budget. Gap closed: (accuracy - base) / (cue-free oracle - base); "
        "gap vs full mask: the same against guidance with every training mask. "
        "Majority share: the largest predicted class's share of the selected batches (0.5 is balanced for 2 classes). "
        "Minus random: per seed, the shifted accuracy minus random selection's with the same loss and seed (mean ± std); "
        "a strategy beats random only where that difference lies outside its spread.",
        "",
        "| strategy | loss | seeds | shifted acc | test acc | pointing game | Dice | AULC acc | AULC Dice | gap closed | gap vs full mask | majority share | human s | minus random, paired | vs random | vs best |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    if not has_oracle:
        lines[2:2] = ["This dataset has no cue-free split (train_unbiased.csv): there is no oracle and no \"gap closed\"; "
                      "only the full-mask control.", ""]
    for r in rows:
        if r["strategy"] in CONTROLS:
            verdict = "control"
        elif best[r["loss"]] is r:
            verdict = "best"
        else:
            verdict = "unresolved" if _overlaps(r, best[r["loss"]]) else "worse"
        lines.append(
            f"| {r['strategy']} | {r['loss']} | {r['seeds']} | {r['shifted_accuracy']:.3f} ± {r['shifted_accuracy_std']:.3f} | "
            f"{r['test_accuracy']:.3f} | {r['shifted_pointing_game']:.3f} | {r['shifted_dice']:.3f} | {r['aulc_accuracy']:.3f} | "
            f"{r['aulc_dice']:.3f} | {r['gap_closed']:.2f} | {r['gap_closed_full_mask']:.2f} | {r['majority_class_share']:.2f} | "
            f"{r['annotation_seconds']:.0f} | {signed_spread(r.get('vs_random_mean', np.nan), r.get('vs_random_std', np.nan))} | "
            f"{versus_random(r)} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def signed_spread(mean: float, std: float) -> str:
    """A paired difference as "+0.123 ± 0.045", empty where there was nothing to pair with."""
    return f"{mean:+.3f} ± {std:.3f}" if np.isfinite(mean) else ""


def plot_curves(records: list[dict[str, Any]], out: Path) -> list[Path]:
    """One PNG per loss: shifted accuracy and Dice against annotations, a line per strategy (mean, band = spread)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed (pip install -e '.[bench]'): no plots")
        return []
    written = []
    losses = sorted({r["loss"] for r in records if r["strategy"] not in CONTROLS})
    for loss in losses:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for strategy in sorted({r["strategy"] for r in records if r["loss"] == loss}):
            by_round = defaultdict(list)
            for r in records:
                if r["loss"] == loss and r["strategy"] == strategy:
                    by_round[r["round"]].append(r)
            rounds = sorted(by_round)
            xs = [np.mean([r["annotations"] for r in by_round[k]]) for k in rounds]
            for ax, metric in zip(axes, ("accuracy", "dice")):
                ys = np.array([[r["shifted"][metric] for r in by_round[k]] for k in rounds], dtype=object)
                mean = np.array([np.mean(y) for y in ys])
                spread = np.array([np.std(y) for y in ys])
                ax.plot(xs, mean, marker="o", label=strategy)
                ax.fill_between(xs, mean - spread, mean + spread, alpha=0.15)
        for ax, metric in zip(axes, ("shifted accuracy", "shifted Dice (top-N CAM pixels)")):
            ax.set_xlabel("annotated images")
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(f"loss: {loss}")
        fig.tight_layout()
        path = out / f"curves_{loss.replace(':', '-')}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def write_report(records: list[dict[str, Any]], config: dict[str, Any], out: Path) -> dict[str, Any]:
    """results.json, summary.md and the plots in ``out``; returns the summary rows."""
    rows = summarise(records, config["budget"])
    (out / "results.json").write_text(json.dumps({"config": config, "records": records}, indent=1))
    (out / "summary.json").write_text(json.dumps(rows, indent=1))
    (out / "summary.md").write_text(summary_markdown(rows, config))
    plots = plot_curves(records, out)
    return {"rows": rows, "plots": [str(p) for p in plots]}
