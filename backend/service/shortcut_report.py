"""A model version's shortcut report: computed after each training run (and on demand), kept beside the models.

The evidence is what the run already holds: the queue's scores of every task (probabilities, 16x16 attention,
embeddings, colour thumbnails), the annotated classes and objects, and the annotated images in memory for the swap
test (see backend/core/shortcuts.py). ``MODEL_DIR/<project>/reports/<version>.json`` keeps the findings and
``MODEL_DIR/<project>/shortcuts.png`` shows the newest version's suspected shortcuts with example images.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image, ImageDraw

from backend.core.examples import Example
from backend.core.maps import box_mask, downsample_maps, resize_map, resize_mask
from backend.core.shortcuts import Evidence, Findings, causal_tests, discover, hot_cells, on_tasks
from backend.models.inference import to_batch
from backend.service.predictor import Predictor
from backend.service.scoring import ScoredTasks
from backend.storage.files import atomic_write_json
from backend.storage.project_dir import ProjectDir

logger = logging.getLogger(__name__)
EXAMPLES = 4  # example images per suspected group, the most suspicious first
LISTED_TASKS = 200  # task ids per list in the JSON (suspicion, errors): enough to look at, bounded for 100k tasks
TILE = 96  # pixels per example in shortcuts.png


def object_mask(example: Example, shape: tuple[int, int]) -> np.ndarray | None:
    """Where the annotator put the object (painted regions, else boxes) at ``shape``; None when unmarked."""
    painted = example.saliency_mask()
    if painted is not None:
        return resize_mask(painted, *shape)
    return box_mask(example.boxes, shape, unit=100) if example.boxes else None


def object_box(example: Example) -> tuple[float, float, float, float] | None:
    """The object's box in fractions of the side (the queue strategies' ``boxes``)."""
    mask = object_mask(example, (100, 100))
    if mask is None or not mask.any():
        return None
    rows, cols = np.nonzero(mask)
    return cols.min() / 100, rows.min() / 100, (cols.max() + 1) / 100, (rows.max() + 1) / 100


def gather_evidence(scored: ScoredTasks, labels: dict[Any, int], examples: list[Example], images: list[np.ndarray],
                    model: torch.nn.Module, image_size: int, seed: int = 0, unseen: set[Any] = frozenset()) -> Evidence:
    """The report's evidence for the scored tasks: ``examples`` with their images (as read for training) give the
    annotated objects and, through the causal tests with ``model`` (moves, cut moves, hidden background), whether the decision follows them and where its cue lies. Where some of
    them are ``unseen`` (task ids held out of the version's training), only their objects move: a version could
    have memorised the others' objects on their backgrounds."""
    n, side = len(scored.task_ids), scored.attention.shape[-1]
    index = {t: i for i, t in enumerate(scored.task_ids)}
    objects, known = np.zeros((n, side, side), bool), np.zeros(n, bool)
    tested, masks, pictures = [], [], []
    for example, image in zip(examples, images):
        at = index.get(example.task_id)
        mask = object_mask(example, image.shape[:2])
        if at is None or mask is None or not mask.any() or example.label is None:
            continue
        objects[at] = downsample_maps(mask[None].astype(np.float32), side)[0] >= 0.5
        known[at] = True
        tested.append(at)
        masks.append(resize_mask(mask, image_size, image_size))
        pictures.append(image)
    tests: dict[str, np.ndarray | None] = {}
    if tested:
        movable = np.array([scored.task_ids[i] in unseen for i in tested], bool)
        classes = np.array([labels.get(scored.task_ids[i], -1) for i in tested])
        rows = causal_tests(model, to_batch(pictures, image_size), np.stack(masks), classes,
                            hot_cells(scored.attention[tested].astype(np.float32)), seed,
                            movable=movable if movable.any() else None)
        tests = {name: None if found is None else on_tasks(found, np.array(tested), n) for name, found in rows.items()}
        tests["swap_unseen"] = bool(movable.any())
    return Evidence(scored.probabilities, scored.attention.astype(np.float32), scored.embeddings,
                    np.array([labels.get(t, -1) for t in scored.task_ids]), objects, known, scored.colours, **tests)


def report_record(version: str, findings: Findings, task_ids: list[Any], classes: list[str]) -> dict[str, Any]:
    """The JSON a report page and the next version's comparison read."""
    order = np.argsort(-findings.suspicion, kind="stable")
    owner = findings.group_of()
    groups = []
    for group in findings.groups:
        ranked = group.members[np.argsort(-findings.suspicion[group.members], kind="stable")]
        groups.append({
            "description": group.describe(classes), "tasks": len(group.members),
            "share": round(len(group.members) / max(len(task_ids), 1), 4),
            "predicted_class": classes[group.predicted_class] if group.predicted_class < len(classes) else str(group.predicted_class),
            "off_object": None if group.off_object is None else round(group.off_object, 4),
            "annotated_objects": group.evidence, "labelled": group.labelled, "errors": group.errors,
            "centre": [round(v, 3) for v in group.centre], "extent": round(group.extent, 4),
            "colour": None if group.colour is None else "#%02x%02x%02x" % group.colour,
            "class_mix": {classes[c] if c < len(classes) else str(c): int(k) for c, k in group.label_mix.items()},
            "suspected": group.suspected, "carrier": group.carrier, "reasons": group.reasons,
            "examples": [task_ids[i] for i in ranked[:EXAMPLES]],
        })
    return {
        "version": version, "tasks": len(task_ids), "uses_shortcut": findings.uses_shortcut, "carrier": findings.carrier,
        "swap_follows_background": _rounded(findings.context_accuracy),
        "swap_follows_object": _rounded(findings.object_accuracy),
        "swap_flips": findings.flips, "swap_moves": findings.moves,
        "cut_flips": findings.cut_flips, "cut_moves": findings.cut_moves,
        "affected_share": round(findings.affected_share, 4),
        "groups": groups,
        "attention_scatter": round(float(findings.scatter.mean()), 4) if len(findings.scatter) else None,
        "errors": [[task_ids[i], int(owner[i])] for i in findings.errors[:LISTED_TASKS]],  # (task, its group's index)
        "error_count": int(len(findings.errors)),
        "most_suspicious": [[task_ids[i], round(float(findings.suspicion[i]), 4)] for i in order[:LISTED_TASKS]],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def save_report(project: ProjectDir, record: dict[str, Any]) -> None:
    atomic_write_json(project.shortcut_report(record["version"]), record)


def load_reports(project: ProjectDir) -> list[dict[str, Any]]:
    """Every version's report, oldest first (unreadable files are skipped)."""
    found = []
    for path in sorted(project.shortcut_reports.glob("*.json")) if project.shortcut_reports.is_dir() else []:
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            logger.warning("project %s: unreadable report %s", project.key, path.name)
    return found


def draw_report(project: ProjectDir, record: dict[str, Any], pictures: dict[Any, np.ndarray],
                attention: dict[Any, np.ndarray], flagged: dict[Any, np.ndarray] | None = None) -> None:
    """``shortcuts.png``: a row per suspected group (every group when none is), its examples with their attention
    laid over in red and the cells the report flags as the cue (``flagged``: (h, w) bool per task) framed in yellow."""
    rows = shown_groups(record)
    sheet = Image.new("RGB", (EXAMPLES * TILE + 8, max(1, len(rows)) * (TILE + 22) + 4), "white")
    pen = ImageDraw.Draw(sheet)
    for r, group in enumerate(rows):
        top = r * (TILE + 22) + 4
        pen.text((4, top), f"{group['predicted_class']}: {group['tasks']} tasks, "
                           f"{'?' if group['off_object'] is None else format(group['off_object'], '.0%')} off the object",
                 fill="black")
        for c, task in enumerate(group["examples"]):
            if task not in pictures:
                continue
            tile = Image.fromarray(pictures[task]).convert("RGB").resize((TILE, TILE))
            heat = resize_map(attention[task].astype(np.float32), TILE, TILE)
            red = np.zeros((TILE, TILE, 3), np.uint8)
            red[..., 0] = 255
            alpha = Image.fromarray((np.clip(heat, 0, 1) * 150).astype(np.uint8))
            tile.paste(Image.fromarray(red), (0, 0), alpha)
            _frame_cells(tile, (flagged or {}).get(task))
            sheet.paste(tile, (4 + c * TILE, top + 16))
    project.shortcut_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = project.shortcut_png.with_name(".tmp-" + project.shortcut_png.name)
    sheet.save(tmp, format="PNG")
    tmp.replace(project.shortcut_png)


def _frame_cells(tile: Image.Image, cells: np.ndarray | None) -> None:
    """Outline each flagged cell of a (h, w) grid laid over the tile."""
    if cells is None:
        return
    pen, (rows, cols) = ImageDraw.Draw(tile), cells.shape
    for y, x in zip(*np.nonzero(cells)):
        pen.rectangle([x * TILE // cols, y * TILE // rows, (x + 1) * TILE // cols - 1, (y + 1) * TILE // rows - 1],
                      outline=(255, 220, 0))


def write_shortcut_report(project: ProjectDir, version: str, classes: list[str], scored: ScoredTasks,
                          evidence: Evidence, read_pictures: Callable[[list[Any]], dict[Any, np.ndarray]],
                          seed: int = 0) -> dict[str, Any]:
    """Discover, save the JSON and draw the PNG (``read_pictures``: the images of a few task ids, by id)."""
    findings = discover(evidence, seed)
    record = report_record(version, findings, scored.task_ids, classes) | {"swap_unseen": evidence.swap_unseen}
    save_report(project, record)
    index = {t: i for i, t in enumerate(scored.task_ids)}
    pictures = read_pictures(example_tasks(record))
    shown = [t for t in pictures if t in index]
    draw_report(project, record, pictures, {t: scored.attention[index[t]] for t in shown},
                {t: findings.cue[index[t]] for t in shown})
    logger.info("project %s: %s %s a shortcut (%d groups, %.0f%% of the tasks in suspected ones)", project.key,
                version, "uses" if record["uses_shortcut"] else "shows no sign of", len(record["groups"]),
                100 * record["affected_share"])
    return record


def shown_groups(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The groups the PNG shows: the suspected ones, or every group when none is."""
    return [g for g in record["groups"] if g["suspected"]] or record["groups"]


def example_tasks(record: dict[str, Any]) -> list[Any]:
    """The task ids the PNG shows."""
    return [t for g in shown_groups(record) for t in g["examples"]]


def task_pictures(predictor: Predictor, tasks: list[dict], task_ids: list[Any]) -> dict[Any, np.ndarray]:
    """The images of the ``tasks`` whose ids are asked for, by id (through the predictor's image cache)."""
    wanted = set(task_ids)
    chosen = [t for t in tasks if t["id"] in wanted]
    return {chosen[i]["id"]: picture.pixels for i, picture in predictor.read_images(chosen)}


def report_served_model(predictor: Predictor, tasks: list[dict], examples: list[Example], labels: dict[Any, int],
                        scored: ScoredTasks, seed: int = 0) -> dict[str, Any]:
    """The report of the version ``predictor`` serves (e.g. the base model, before any training run), from the
    project's ``tasks``, their annotated ``examples`` and ``scored`` outputs; reads the annotated objects' images once."""
    def pictures(task_ids: list[Any]) -> dict[Any, np.ndarray]:
        return task_pictures(predictor, tasks, task_ids)

    marked = [e for e in examples if e.has_saliency]
    read = pictures([e.task_id for e in marked])
    marked = [e for e in marked if e.task_id in read]
    classifier = predictor.classifier
    evidence = gather_evidence(scored, labels, marked, [read[e.task_id] for e in marked], classifier.model,
                               classifier.image_size, seed)
    return write_shortcut_report(predictor.project, predictor.model_version, list(predictor.label_config.classes),
                                 scored, evidence, pictures, seed)
