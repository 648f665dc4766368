import json

import numpy as np
import torch
from PIL import Image

from backend.core.examples import Example
from backend.models.architectures import build_model
from backend.service.scoring import ScoredTasks
from backend.service.shortcut_report import (
    TILE,
    draw_report,
    example_tasks,
    gather_evidence,
    load_reports,
    object_box,
    object_mask,
    write_shortcut_report,
)
from backend.storage.project_dir import ProjectDir


def _scored(n: int = 40, seed: int = 0) -> ScoredTasks:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet([1, 1], n)
    return ScoredTasks(list(range(100, 100 + n)), p, rng.random((n, 16, 16)).astype(np.float16),
                       rng.normal(size=(n, 8)).astype(np.float32), rng.integers(0, 255, (n, 16, 16, 3), dtype=np.uint8))


def test_the_object_comes_from_painted_regions_else_boxes():
    painted = np.zeros((10, 20), bool)
    painted[2:4, 5:10] = True
    assert np.array_equal(object_mask(Example(1, "", saliency_masks=[painted], boxes=[(0, 0, 100, 100)]), (10, 20)), painted)
    assert object_mask(Example(1, "", boxes=[(50, 0, 100, 50)]), (4, 4)).sum() == 4
    assert object_mask(Example(1, ""), (4, 4)) is None
    assert object_box(Example(1, "", boxes=[(10, 20, 30, 40)])) == (0.1, 0.2, 0.3, 0.4)


def test_evidence_swaps_the_annotated_objects_and_the_report_lands_beside_the_models(tmp_path):
    scored = _scored()
    images = [np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8) for i in range(6)]
    examples = [Example(100 + i, "", label=i % 2, boxes=[(20, 20, 60, 60) if i % 2 == 0 else (30, 30, 50, 50)])
                for i in range(6)]
    examples.append(Example(999, "", label=0, boxes=[(0, 0, 50, 50)]))  # not among the scored tasks: ignored
    labels = {e.task_id: e.label for e in examples}
    model = build_model("small_cnn", 2).eval()
    evidence = gather_evidence(scored, labels, examples, images + [images[0]], model, 32)
    assert evidence.object_known.sum() == 6 and np.all(evidence.partner_labels[:6] == (1 - np.arange(6) % 2)[:, None])
    assert np.all(evidence.swapped[:6] >= 0) and np.all(evidence.swapped[6:] == -1)
    assert np.all(evidence.cut[0:6:2] >= 0) and np.all(evidence.cut[1:6:2] == -1)  # only larger objects are cut down
    assert evidence.objects[0, 6:10, 6:10].all() and not evidence.objects[0, 0, 0] and not evidence.swap_unseen
    held = gather_evidence(scored, labels, examples, images + [images[0]], model, 32, unseen={100, 103})
    moved = np.flatnonzero((held.swapped >= 0).any(1))
    assert held.swap_unseen and moved.tolist() == [0, 3]  # only the held-out objects move; all lend backgrounds
    project = ProjectDir(tmp_path, 5)
    asked = []

    def pictures(ids):
        asked.extend(ids)
        return {t: np.zeros((20, 20, 3), np.uint8) for t in ids}

    with torch.no_grad():
        record = write_shortcut_report(project, "v0001", ["a", "b"], scored, evidence, pictures)
    assert record["tasks"] == 40 and sum(g["tasks"] for g in record["groups"]) == 40
    assert sum(sum(g["class_mix"].values()) for g in record["groups"]) == 6  # the six labelled tasks, by class name
    assert all(set(g["class_mix"]) <= {"a", "b"} for g in record["groups"])
    assert asked == example_tasks(record) and 0 < len(asked) <= 4 * len(record["groups"])
    assert json.loads(project.shortcut_report("v0001").read_text()) == json.loads(json.dumps(record))
    assert project.shortcut_png.read_bytes()[:4] == b"\x89PNG" and record["swap_unseen"] is False
    write_shortcut_report(project, "v0002", ["a", "b"], scored, evidence, pictures)
    project.shortcut_reports.joinpath("broken.json").write_text("{")
    assert [r["version"] for r in load_reports(project)] == ["v0001", "v0002"]  # oldest first, broken skipped


def test_the_png_frames_the_cells_the_report_flags_as_the_cue(tmp_path):
    project = ProjectDir(tmp_path, 5)
    record = {"groups": [{"predicted_class": "a", "tasks": 3, "off_object": 0.9, "suspected": True, "examples": [7, 8]}]}
    pictures = {7: np.zeros((20, 20, 3), np.uint8), 8: np.zeros((20, 20, 3), np.uint8)}
    flagged = np.zeros((4, 4), bool)
    flagged[3, 3] = True  # the bottom-right cell of the first example only
    draw_report(project, record, pictures, {t: np.zeros((4, 4)) for t in pictures}, {7: flagged})
    sheet = np.asarray(Image.open(project.shortcut_png).convert("RGB")).astype(int)
    yellow = (sheet[..., 0] > 200) & (sheet[..., 1] > 180) & (sheet[..., 2] < 60)
    ys, xs = np.nonzero(yellow)
    assert len(ys) and xs.min() >= 4 + 3 * TILE // 4 and xs.max() < 4 + TILE  # within that cell of the first tile
