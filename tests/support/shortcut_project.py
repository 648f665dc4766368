"""A simulated project's scores for the shortcut report's tests: a patch cue off the object, or none."""
import numpy as np

from backend.core.shortcuts import Evidence

SIDE = 16


def shortcut_project(shortcut: bool, n: int = 240, seed: int = 0, partial: bool = False) -> tuple[Evidence, np.ndarray]:
    """Two classes; each task has an object (a green 4x4 square somewhere) and a red or blue 2x2 patch elsewhere. A
    shortcut model attends to the patch (``partial``: and to one cell of the object) and its swapped predictions
    follow the background; a sound one attends to the object. Returns the evidence and which tasks contradict the
    cue (their patch says the other class)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    conflicting = rng.random(n) < 0.05
    cue = np.where(conflicting, 1 - labels, labels)
    attention = np.zeros((n, SIDE, SIDE), np.float32)
    objects = np.zeros((n, SIDE, SIDE), bool)
    colours = np.full((n, SIDE, SIDE, 3), 120, np.uint8)
    for i in range(n):
        oy, ox = rng.integers(0, 6, size=2)
        objects[i, oy:oy + 4, ox:ox + 4] = True
        colours[i, oy:oy + 4, ox:ox + 4] = (60, 170, 60)
        py, px = rng.integers(11, 14, size=2)
        colours[i, py:py + 2, px:px + 2] = (230, 40, 40) if cue[i] == 0 else (40, 90, 230)
        y, x, size = (py, px, 2) if shortcut else (oy, ox, 4)
        attention[i, y:y + size, x:x + size] = 1.0
        if partial:
            attention[i, oy + 1, ox + 1] = 0.8
    attention += rng.random(attention.shape).astype(np.float32) * 0.1
    decided = cue if shortcut else labels
    confidence = np.where(conflicting & shortcut, 0.6, 0.95)  # the shortcut model is less sure where they disagree
    probabilities = np.where(np.eye(2)[decided] == 1, confidence[:, None], 1 - confidence[:, None])
    embeddings = np.eye(2)[decided] * 3 + rng.normal(0, 0.3, (n, 2))
    known = np.zeros(n, bool)
    known[rng.choice(n, 24, replace=False)] = True
    partner = np.where(known, 1 - labels, -1)
    swapped = np.where(known, partner if shortcut else labels, -1)
    return Evidence(probabilities, attention, embeddings, labels, objects, known, colours, swapped, partner), conflicting
