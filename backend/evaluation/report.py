"""Summaries of simulator records: results.json, summary.md and learning-curve plots.

results.json schema: ``{"config": {...}, "records": [...]}``; one record per strategy,
loss, seed and round: ``strategy``, ``loss``, ``seed``, ``round`` (0 = base model),
``annotations`` (images annotated so far), ``annotation_seconds`` (simulated human
time), ``class_mix`` (images per predicted class in this round's batch), and ``test`` /
``shifted`` with ``accuracy``, ``balanced_accuracy``, ``pointing_game``, ``dice`` and
``outside_box``. Controls: strategy ``base`` (loss ``none``) and ``full_mask`` (loss ``mask``).
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


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
    base = np.mean([r["shifted"]["accuracy"] for r in records if r["round"] == 0])
    upper_runs = runs.get(("full_mask", "mask"), {})
    upper = np.mean([rs[-1]["shifted"]["accuracy"] for rs in upper_runs.values()]) if upper_runs else np.nan
    rows = []
    for (strategy, loss), seeds in runs.items():
        control = strategy in ("base", "full_mask")
        finals = [sorted(rs, key=lambda r: r["round"])[-1] for rs in seeds.values()]
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
            "gap_closed": float((accuracy.mean() - base) / (upper - base)) if np.isfinite(upper) and upper != base else float("nan"),
            "annotation_seconds": float(np.mean([f["annotation_seconds"] for f in finals])),
            "majority_class_share": float(np.mean(majority)) if majority else float("nan"),
        })
    return sorted(rows, key=lambda r: (r["strategy"] not in ("base", "full_mask"), r["loss"], -r["shifted_accuracy"]))


def _overlaps(a: dict, b: dict) -> bool:
    return abs(a["shifted_accuracy"] - b["shifted_accuracy"]) <= a["shifted_accuracy_std"] + b["shifted_accuracy_std"]


def summary_markdown(rows: list[dict[str, Any]], config: dict[str, Any]) -> str:
    """The table of summary.md; a row whose spread overlaps the best of its loss is marked unresolved."""
    best = {}
    for row in rows:
        if row["strategy"] in ("base", "full_mask"):
            continue
        if row["loss"] not in best or row["shifted_accuracy"] > best[row["loss"]]["shifted_accuracy"]:
            best[row["loss"]] = row
    lines = [
        "# Simulation summary",
        "",
        f"Budget {config['budget']} annotations in {config['rounds']} rounds, seeds {config['seeds']}, {config['arch']} at "
        f"{config['image_size']} px, {config['train']['steps']} fine-tuning steps per round. Shifted accuracy is on `shifted.csv` "
        "(the shortcut reversed), mean ± standard deviation over seeds at the final budget. AULC: area under the learning "
        "curve (round 0 included) divided by the budget. Gap closed: (accuracy - base) / (full-mask upper bound - base). "
        "Majority share: the largest predicted class's share of the selected batches (0.5 is balanced for 2 classes).",
        "",
        "| strategy | loss | seeds | shifted acc | test acc | pointing game | Dice | AULC acc | AULC Dice | gap closed | majority share | human s | vs best |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["strategy"] in ("base", "full_mask"):
            verdict = "control"
        elif best[r["loss"]] is r:
            verdict = "best"
        else:
            verdict = "unresolved" if _overlaps(r, best[r["loss"]]) else "worse"
        lines.append(
            f"| {r['strategy']} | {r['loss']} | {r['seeds']} | {r['shifted_accuracy']:.3f} ± {r['shifted_accuracy_std']:.3f} | "
            f"{r['test_accuracy']:.3f} | {r['shifted_pointing_game']:.3f} | {r['shifted_dice']:.3f} | {r['aulc_accuracy']:.3f} | "
            f"{r['aulc_dice']:.3f} | {r['gap_closed']:.2f} | {r['majority_class_share']:.2f} | {r['annotation_seconds']:.0f} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


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
    losses = sorted({r["loss"] for r in records if r["strategy"] not in ("base", "full_mask")})
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
