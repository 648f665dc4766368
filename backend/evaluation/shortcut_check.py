"""Does the shortcut report find the cue nobody marked? Checked on the bias suite's kinds, where the cue is known.

Per kind and seed a suite dataset is generated (its cue pixels and cue class recorded per image), a base model is
trained on the biased split and an oracle on the cue-free one, and the base is fine-tuned by the suite's default
method on a share of annotated images picked at random (the simulator's ``random`` cell). Each version's report is
computed over the training images as a project's tasks (classes known for all, objects for the annotated share) and
scored:

- ``flagged``: the report says the version uses a shortcut (wanted for the base, not for the oracle), by the
  background (plain moves) or by the object's size or place (cut moves, from rule 4 on);
- ``precision``: of the cells the report flags in its suspected groups (``Findings.cue``: on the annotated tasks
  whose objects moved, the hot cells off the object where hiding the background costs the decision, elsewhere the
  hot cells coloured like those), the share on the cue (16x16 cells; a cell counts when it or an edge neighbour
  touches a cue pixel: the small CNN's CAM has 4-pixel cells but each is blurred over its neighbours);
- ``auc``: the suspicion score ranking the cue-conflicting training images above the rest;
- ``affected``: the share of tasks in suspected groups (should shrink after guidance).
"""
from __future__ import annotations

import copy
import csv
import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from backend.active.pool import POOL_ATTENTION_SIDE
from backend.core.maps import colour_thumbnail, downsample_maps
from backend.core.shortcuts import Evidence, Findings, causal_tests, discover, grown, hot_cells, on_tasks
from backend.evaluation.dataset import load_dataset
from backend.evaluation.simulation import SimConfig, Simulator, model_outputs
from backend.evaluation.suite import SuiteConfig
from backend.evaluation.synthetic import CUE_KINDS, BiasSpec, write_dataset

logger = logging.getLogger(__name__)
GOALS = {"precision": 0.8, "flagged_base": 0.9, "flagged_oracle": 0.1, "auc": 0.8}
# What a version measurably does, whatever its role: a base may not have taken the cue and an oracle may not have
# learned the task. Set after the first four seeds had been scored (see reliance_table).
LEARNED = 0.8  # test accuracy of a version that learned the task
RELIES = 0.1  # shifted accuracy this far below the test accuracy: the version relies on the cue
RULE = 7  # the report's scoring rule; a cached row of another is scored again (2: suspicion led by doubt; 3: the
# flagged cells of unannotated members are the ones coloured like the group's off-object attention; 4: the cut
# moves test a cue the object carries; 5: the cue located by hiding the background, every group of a class whose
# backgrounds flip moved objects suspected, the teachers' object cells counted as not looked at; 6: objects cut on
# their own backgrounds, not the partner's; 7: suspicion the larger rank of doubt and of atypicality)
KEPT_RULES = (7,)  # rows a table may show (earlier rules flag other cells)


@dataclass
class CheckConfig:
    kinds: tuple[str, ...] = CUE_KINDS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    train_images: int = 1000  # as the bias suite: the oracle needs about this many to learn the stripes
    bias: float = 0.97
    share: float = 0.05  # annotated share: objects known to the report, images the default method guides with
    method: str = SuiteConfig().default  # the product's default, as the bias suite runs it
    steps: int = SuiteConfig().sim.train.steps
    device: str = "cpu"  # where models train and run (see SimConfig.device)


def cells(masks: list[np.ndarray], side: int = POOL_ATTENTION_SIDE) -> np.ndarray:
    """(N, side, side) bool: cells mostly inside each mask."""
    return downsample_maps(np.stack([m.astype(np.float32) for m in masks]), side) >= 0.5


def cue_cells(masks: list[np.ndarray], side: int = POOL_ATTENTION_SIDE) -> np.ndarray:
    """(N, side, side) bool: cells touched by the cue, grown by one cell across each edge."""
    return grown(downsample_maps(np.stack([m.astype(np.float32) for m in masks]), side) > 0)


def evidence_for(model: torch.nn.Module, sim: Simulator, known: np.ndarray) -> Evidence:
    """The report's inputs for the simulator's training images as a project's tasks."""
    out = model_outputs(model, sim.cfg.arch, sim.train.inputs)
    attention = downsample_maps(out.maps, POOL_ATTENTION_SIDE)
    tested = np.flatnonzero(known)
    masks = np.stack([sim.train.eval_masks[i] for i in tested])
    tests = causal_tests(model, sim.train.inputs[tested], masks, sim.train.labels[tested], hot_cells(attention[tested]))
    return Evidence(
        probabilities=out.probabilities, attention=attention, embeddings=out.embeddings, labels=sim.train.labels.copy(),
        objects=cells(sim.train.masks), object_known=known,
        colours=np.stack([colour_thumbnail(i, POOL_ATTENTION_SIDE) for i in sim.train.images]),
        **{name: None if rows is None else on_tasks(rows, tested, len(known)) for name, rows in tests.items()},
    )


def score(findings: Findings, evidence: Evidence, cue_cells: np.ndarray, conflicting: np.ndarray) -> dict[str, Any]:
    """The report of one version against the known cue."""
    total = int(findings.cue.sum())
    auc = float(roc_auc_score(conflicting, findings.suspicion)) if 0 < conflicting.sum() < len(conflicting) else None
    return {
        "rule": RULE,
        "flagged": findings.uses_shortcut,
        "flips": findings.flips, "moves": findings.moves,
        "cut_flips": findings.cut_flips, "cut_moves": findings.cut_moves, "carrier": findings.carrier,
        "context_accuracy": findings.context_accuracy,
        "object_accuracy": findings.object_accuracy,
        "affected": round(findings.affected_share, 4),
        "precision": round(float((findings.cue & cue_cells).sum() / total), 4) if total else None,
        "auc": None if auc is None else round(auc, 4),
        "groups": len(findings.groups),
        "suspected": [g.describe() for g in findings.suspected],
    }


def _scored(path: Path, rules: tuple[int, ...] = (RULE,)) -> bool:
    return path.is_file() and all(row.get("rule") in rules for row in json.loads(path.read_text()))


def _guided(sim: Simulator, method: str, seed: int, folder: Path) -> tuple[torch.nn.Module, np.ndarray]:
    """The base guided by ``method`` on the simulator's random pick, and which images were annotated (cached)."""
    path, picked = folder / f"guided-{method}.pt", folder / f"guided-{method}.npy"
    if path.is_file() and picked.is_file():
        model = copy.deepcopy(sim.base)
        model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
        return model.eval(), np.load(picked)
    guided, _, annotated = sim.guide("random", method, seed)
    torch.save(guided.state_dict(), path)
    np.save(picked, annotated)
    return guided, annotated


def check_one(kind: str, seed: int, out: Path, cfg: CheckConfig) -> list[dict[str, Any]]:
    """Rows (base, oracle, guided) for one kind and seed; cached in ``out/<kind>-<seed>.json``, and the models in
    ``out/<kind>-<seed>/``, so a report computed differently is scored again without training again."""
    path = out / f"{kind}-{seed}.json"
    if _scored(path):
        return json.loads(path.read_text())
    started = time.perf_counter()
    folder = out / f"{kind}-{seed}"
    spec = BiasSpec(cue=kind, train=cfg.train_images, val=20, test=100, shifted=100, bias=cfg.bias, seed=seed)
    data = load_dataset(write_dataset(folder / "data", spec))
    budget = max(1, round(cfg.share * cfg.train_images))
    sim = Simulator(data, replace(SimConfig(), strategies=["random"], losses=[cfg.method], budget=budget, rounds=1,
                                  seeds=[seed], train=replace(SimConfig().train, steps=cfg.steps), device=cfg.device),
                    folder, progress=False)
    with open(folder / "data" / "train.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cue = cue_cells([np.asarray(Image.open(folder / "data" / r["cue_mask"])) > 127 for r in rows])
    conflicting = np.array([r["cue"] != r["label"] for r in rows])
    random_known = np.zeros(len(rows), bool)
    random_known[np.random.default_rng(seed).choice(len(rows), budget, replace=False)] = True
    guided, annotated = _guided(sim, cfg.method, seed, folder)
    versions = {"base": (sim.base, random_known), "oracle": (sim.oracle(), random_known),
                cfg.method: (guided, annotated)}
    found = []
    for name, (model, known) in versions.items():
        evidence = evidence_for(model, sim, known)
        test, shifted = sim.evaluate_model(model)
        found.append({"kind": kind, "seed": seed, "version": name, "test_accuracy": round(test["accuracy"], 4),
                      "shifted_accuracy": round(shifted["accuracy"], 4),
                      **score(discover(evidence, seed), evidence, cue, conflicting)})
    path.write_text(json.dumps(found, indent=1))
    logger.info("%s seed %d: %s (%.0f s)", kind, seed,
                ", ".join(f"{r['version']} flagged={r['flagged']} precision={r['precision']} auc={r['auc']}" for r in found),
                time.perf_counter() - started)
    return found


def run_check(out: Path, cfg: CheckConfig, report_only: bool = False) -> list[dict[str, Any]]:
    """Run (or resume) every kind x seed and write the table; with ``report_only``, the table of the finished ones."""
    out.mkdir(parents=True, exist_ok=True)
    pairs = [(kind, seed) for seed in cfg.seeds for kind in cfg.kinds]
    if report_only:
        pairs = [(kind, seed) for kind, seed in pairs if _scored(out / f"{kind}-{seed}.json", KEPT_RULES)]
        rows = [row for kind, seed in pairs for row in json.loads((out / f"{kind}-{seed}.json").read_text())]
    else:
        rows = [row for kind, seed in pairs for row in check_one(kind, seed, out, cfg)]
    (out / "shortcut_check.json").write_text(json.dumps(rows, indent=1))
    (out / "shortcut_check.md").write_text(check_table(rows, cfg) + "\n" + reliance_table(rows))
    return rows


def reliance(row: dict[str, Any]) -> str:
    """``no task`` (did not learn it), ``relies`` (on the cue, by its shifted accuracy) or ``sound``."""
    if row["test_accuracy"] < LEARNED:
        return "no task"
    return "relies" if row["test_accuracy"] - row["shifted_accuracy"] > RELIES else "sound"


def reliance_table(rows: list[dict[str, Any]]) -> str:
    """Flagged versions by what they measurably do rather than by their role, with every version counted against
    the goals listed."""
    lines = [f"By what each version does (test accuracy below {LEARNED}: it did not learn the task; shifted accuracy "
             f"more than {RELIES} below test accuracy: it relies on the cue; else sound):", "",
             "| versions | count | flagged | precision (flagged) | not as wanted |", "|---|---|---|---|---|"]
    for name, wanted in (("relies", True), ("sound", False), ("no task", None)):
        some = [r for r in rows if reliance(r) == name]
        odd = [f"{r['kind']} {r['version']} seed {r['seed']} (test {r['test_accuracy']:.2f}, shifted {r['shifted_accuracy']:.2f})"
               for r in some if wanted is not None and r["flagged"] != wanted]
        flagged = sum(r["flagged"] for r in some)
        lines.append(f"| {name} | {len(some)} | {flagged} ({flagged / len(some):.0%}) | {_stat(some, 'precision')} | "
                     f"{'; '.join(odd) or '-'} |" if some else f"| {name} | 0 | - | - | - |")
    return "\n".join(lines) + "\n"


def check_table(rows: list[dict[str, Any]], cfg: CheckConfig) -> str:
    """Per kind and version: flips (summed over seeds), flagged share, precision, AUC and affected share (mean ± std
    over seeds)."""
    lines = [f"Goals: precision >= {GOALS['precision']}, flagged >= {GOALS['flagged_base']:.0%} of base versions and "
             f"<= {GOALS['flagged_oracle']:.0%} of oracles, AUC >= {GOALS['auc']} (base). {cfg.share:.0%} of "
             f"{cfg.train_images} training images annotated, bias {cfg.bias}.", "",
             "| kind | version | seeds | shifted accuracy | moved objects flipped | cut moves flipped | flagged | precision | AUC (conflicting) | affected share |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for kind in [k for k in cfg.kinds if any(r["kind"] == k for r in rows)]:
        for version in dict.fromkeys(r["version"] for r in rows if r["kind"] == kind):
            some = [r for r in rows if r["kind"] == kind and r["version"] == version]
            flips = sum(r["flips"] for r in some), sum(r["moves"] for r in some)
            cut = [r for r in some if "cut_moves" in r]  # rule 3 rows lack them
            cuts = (f"{sum(r['cut_flips'] for r in cut)} of {sum(r['cut_moves'] for r in cut)}"
                    + ("" if len(cut) == len(some) else f" ({len(cut)} seeds)") if cut else "-")
            lines.append(f"| {kind} | {version} | {len(some)} | {_stat(some, 'shifted_accuracy')} | "
                         f"{flips[0]} of {flips[1]} | {cuts} | {np.mean([r['flagged'] for r in some]):.0%} | "
                         f"{_stat(some, 'precision')} | {_stat(some, 'auc')} | {_stat(some, 'affected')} |")
    return "\n".join(lines) + "\n"


def _stat(rows: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in rows if r[key] is not None]
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "-"
