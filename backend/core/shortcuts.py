"""Shortcut discovery from a model's own outputs, without anyone marking the cue.

A model that decides by a shortcut looks at the same kind of thing off the object in many images. In the spirit of
SpRAy (Lapuschkin et al. 2019; Reveal-to-Revise, 2023) the tasks of each predicted class are clustered by their
attention maps and embeddings; each group is then measured against what the project knows: the objects annotated on
a few tasks (how much of the group's peak attention lies off them) and the classes annotated on the labelled ones
(whether the group's predictions follow the group rather than the annotators).

Attention alone cannot tell a shortcut from a two-class model that attends to "not the other class" everywhere, so
the version's verdict is causal: each task with an annotated object is also shown to the model with its object
pasted onto the emptied backgrounds of annotated tasks of another class. A flip is an object the model classifies
right in its own image that takes the class of the background it is moved onto. A version uses a shortcut when,
with 95% confidence, more than ``FLIP_FLOOR`` of those moves flip: a partial shortcut (a model right on most
cue-conflicting images, wrong on some) counts, and the model's own errors do not (they are not flips). Its groups
whose peak attention lies mostly off the object, and every group of a class whose backgrounds turn moved objects
into that class, are then the suspected shortcuts, described by where that attention sits and what colour it has.

Attention is blurred over an object's surroundings, so a cue beside the object (a halo, a companion shape, a logo
on its corner) cannot be told from the blur by attention alone. Where the moves show a context shortcut, the
background of each moved object's own image is hidden block by block (filled by its mean colour): the blocks whose
hiding costs the decision most are where the cue lies (:func:`locate_cues`), and the report names as the cue the
cells coloured like those wherever else the group looks.

A cue carried by the object itself (its size, its place) moves with it, so the same objects are also cut down to a
smaller partner object's area (peeled edge by edge, never resampled: a resampled texture misleads sound models too)
and shifted by whole pixels to its place, on their own emptied backgrounds (on the partner's, a context that only
wins against a smaller object would pass for a size cue). When the plain moves do not flip but more than
``FLIP_FLOOR`` of these cut moves do, the version decides by the object's size or place, and its groups whose
attention rests on the object are the suspected ones.

Each task's shortcut suspicion is the larger of two ranks: the model's doubt about its class, raised by attention
off the object, and how atypical its embedding is of its predicted class (:func:`atypicality`). A model that
decides by a cue is least sure of the images that contradict it where it still gets them right, but sure of those
it gets wrong, and those are represented by features of two classes at once.

Everything here works on small arrays the queue's scoring already has (16x16 attention, embeddings, probabilities,
16x16 colour thumbnails), so a report costs no second pass over the images.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.ndimage import binary_dilation
from scipy.spatial import cKDTree
from scipy.stats import rankdata
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from backend.core.counterfactuals import cut_on_partners, hide_background, paste_on_partners
from backend.core.maps import downsample_maps

HOT = 0.5  # a cell is part of where the decision rests when its attention is at least half the map's maximum
OFF_OBJECT_LIMIT = 0.5  # a group is suspected when more than half of its hot cells lie off the annotated objects
MIN_EVIDENCE = 3  # annotated members a group needs before its off-object share counts as measured
TASKS_PER_GROUP = 60  # about this many tasks per group, up to MAX_GROUPS_PER_CLASS per predicted class
MAX_GROUPS_PER_CLASS = 4
FEATURE_SIDE = 8  # attention maps enter the clustering as 8x8 block means
EMBEDDING_COMPONENTS = 8
SWAP_ROUNDS = 4  # backgrounds each annotated object is moved onto: 50 annotated objects make 200 moves
FLIP_FLOOR = 0.01  # a context that changes fewer than 1 in 100 right decisions is not called a shortcut
CONFIDENCE_Z = 1.645  # one-sided 95%
CUE_NEIGHBOURS = 15  # a colour is attended when most of this many off-object cells nearest to it are hot
BLOCK_CELLS = 2  # the background is hidden in blocks of 2x2 attention cells (an 8x8 grid at 16x16)
LOCATE_KEEP = 0.5  # a hidden block is part of the cue when it costs at least half the image's largest loss of margin


@dataclass
class Evidence:
    """What the project knows per task (N tasks, maps h x w)."""

    probabilities: np.ndarray  # (N, C)
    attention: np.ndarray  # (N, h, w) in [0, 1]
    embeddings: np.ndarray  # (N, D)
    labels: np.ndarray  # (N,) annotated class, -1 where unknown
    objects: np.ndarray | None = None  # (N, h, w) bool annotated object, meaningful where ``object_known``
    object_known: np.ndarray | None = None  # (N,) bool
    colours: np.ndarray | None = None  # (N, h, w, 3) uint8 thumbnails
    swapped: np.ndarray | None = None  # (N,) or (N, R): class predicted for the object on partners' backgrounds, -1: untested
    partner_labels: np.ndarray | None = None  # same shape: the annotated class of each background's task
    swap_unseen: bool = False  # the moved objects are of tasks the model was not trained on
    cut: np.ndarray | None = None  # as ``swapped``, each object cut down to a smaller partner object's size and place
    cut_partner_labels: np.ndarray | None = None
    located: np.ndarray | None = None  # (N, h, w) bool: cue cells found by hiding the background (:func:`locate_cues`)
    # on the tasks whose objects moved; None where it was not run (the moves showed no context shortcut)

    def __len__(self) -> int:
        return int(self.probabilities.shape[0])


@dataclass
class Group:
    """Tasks the model treats alike (one predicted class, similar attention and embedding)."""

    members: np.ndarray
    predicted_class: int
    labelled: int  # members with an annotated class
    label_mix: dict[int, int]  # annotated class -> members: does the prediction follow the group or the annotators?
    errors: int  # labelled members whose annotated class the model does not predict
    off_object: float | None  # share of the members' hot attention off the annotated object (None: too few annotated)
    evidence: int  # annotated objects among the members
    centre: tuple[float, float]  # (x, y) of the mean hot attention, fractions of the side
    extent: float  # share of the image the hot attention covers
    colour: tuple[int, int, int] | None  # mean colour where the attention is hot (off the object where known)
    suspected: bool = False
    carrier: str = ""  # what carries the suspected shortcut: "context" (off the object) or "object" (its size or place)
    reasons: list[str] = field(default_factory=list)

    def describe(self, classes: list[str] | None = None) -> str:
        """One sentence on where this group's decision rests."""
        name = classes[self.predicted_class] if classes and self.predicted_class < len(classes) else str(self.predicted_class)
        where = "unknown share" if self.off_object is None else f"{self.off_object:.0%}"
        colour = "" if self.colour is None else " of colour #%02x%02x%02x" % self.colour
        return (f"{len(self.members)} tasks predicted '{name}': {where} of the peak attention off the object, "
                f"on {self.extent:.0%} of the image{colour} around ({self.centre[0]:.2f}, {self.centre[1]:.2f})")


@dataclass
class Findings:
    """One model version's shortcut evidence over the project's tasks."""

    groups: list[Group]
    context_accuracy: float | None  # balanced accuracy of the swapped predictions on the backgrounds' classes
    object_accuracy: float | None  # ... and on the objects' classes
    flips: int  # moves of a rightly classified object that took the background's class
    moves: int  # moves of rightly classified objects
    cut_flips: int  # the same, each object cut down to a smaller partner object's size and place
    cut_moves: int
    off_object: np.ndarray  # (N,) per task: measured where the object is annotated, else its group's share (NaN: unknown)
    scatter: np.ndarray  # (N,) share of the hot attention outside the peak's own box
    suspicion: np.ndarray  # (N,) in (0, 1]: the larger rank of doubt x (1 + off-object share, else scatter) / 2 and
    # of atypicality (both as shares of the tasks); the ``shortcut`` queue
    errors: np.ndarray  # indices of labelled tasks the model gets wrong
    cue: np.ndarray  # (N, h, w) bool: the cells each suspected group's member is flagged for (the cue)

    @property
    def suspected(self) -> list[Group]:
        return [g for g in self.groups if g.suspected]

    @property
    def carrier(self) -> str:
        """"context" when, with 95% confidence, more than ``FLIP_FLOOR`` of the moved objects take their new
        background's class; else "object" when more than that do cut down to the partner object's size and place;
        else "" (no shortcut shown)."""
        return _carrier(self.flips, self.moves, self.cut_flips, self.cut_moves)

    @property
    def uses_shortcut(self) -> bool:
        return bool(self.carrier)

    @property
    def affected_share(self) -> float:
        """Share of the tasks in a suspected group."""
        n = len(self.suspicion)
        return float(sum(len(g.members) for g in self.suspected) / n) if n else 0.0

    def group_of(self) -> np.ndarray:
        """(N,) index of each task's group."""
        owner = np.full(len(self.suspicion), -1)
        for k, g in enumerate(self.groups):
            owner[g.members] = k
        return owner


def hot_cells(attention: np.ndarray) -> np.ndarray:
    """(N, h, w) bool: where each map is at least HOT of its maximum (nothing for an all-zero map)."""
    peak = attention.reshape(len(attention), -1).max(axis=1)[:, None, None]
    return (attention >= HOT * peak) & (peak > 0)


def off_object_share(hot: np.ndarray, objects: np.ndarray) -> np.ndarray:
    """(N,) share of each map's hot cells off its object, the object grown by one cell (a CAM cell's blur)."""
    count = hot.reshape(len(hot), -1).sum(axis=1)
    off = (hot & ~grown(objects)).reshape(len(hot), -1).sum(axis=1)
    return np.where(count > 0, off / np.maximum(count, 1), 0.0)


def grown(objects: np.ndarray) -> np.ndarray:
    """(N, h, w) objects grown by one cell across each edge: a CAM cell is blurred over its neighbours."""
    return np.stack([binary_dilation(o) for o in objects]) if len(objects) else objects


def off_known_objects(hot: np.ndarray, objects: np.ndarray, known: np.ndarray, members: np.ndarray) -> np.ndarray:
    """(M, h, w) the members' hot cells, off the object where it is annotated."""
    cells = hot[members].copy()
    cells[known[members]] &= ~np.asarray(objects)[members[known[members]]].astype(bool)
    return cells


def cue_regions(hot: np.ndarray, objects: np.ndarray, known: np.ndarray, colours: np.ndarray | None,
                groups: list[Group], located: np.ndarray | None = None, teachers: np.ndarray | None = None) -> np.ndarray:
    """(N, h, w) bool: where each member of ``groups`` is flagged for looking, i.e. the cue the report names. On
    ``teachers`` (annotated tasks whose cue was ``located`` by hiding the background; without ``located``, every
    task with an annotated object) the hot cells off the object (and located); on the others, the hot cells whose
    colour the group looks at wherever it shows on its teachers: most of the ``CUE_NEIGHBOURS`` cells nearest in
    colour, off the teachers' objects or on them (never looked at), are flagged there. A cue is what the model
    attends to whenever it is there, so this keeps it on the images without an annotated object and drops the
    object and the attention's blur over the background. Without ``located``, where no colour is attended that way
    (a tint everywhere, looked at in part) or there are no colours, every such hot cell."""
    teachers = known if teachers is None else teachers
    flagged = np.zeros_like(hot)
    for group in groups:
        members = group.members
        taught = teachers[members]
        looked = off_known_objects(hot, objects, known, members)
        if located is not None:
            looked[taught] &= located[members[taught]]
        flagged[members] = looked if located is None else looked & taught[:, None, None]
        if colours is None:
            continue
        tint = np.asarray(colours[members], dtype=np.float32)
        inside = np.asarray(objects[members[taught]], bool)
        off = ~grown(inside)
        seen = np.concatenate([tint[taught][off], tint[taught][inside]])
        said = np.concatenate([looked[taught][off], np.zeros(int(inside.sum()), bool)])
        if len(seen) < CUE_NEIGHBOURS:
            continue
        candidate = off_known_objects(hot, objects, known, members)
        nearest = cKDTree(seen).query(tint[candidate], k=CUE_NEIGHBOURS)[1]
        attended = candidate.copy()
        attended[candidate] = said[nearest].mean(axis=1) > 0.5
        if located is not None:
            attended[taught] = looked[taught]
        if located is not None or attended[taught].any():
            flagged[members] = attended
    return flagged


def object_regions(hot: np.ndarray, objects: np.ndarray, known: np.ndarray, groups: list[Group]) -> np.ndarray:
    """(N, h, w) bool: where each member of ``groups`` is flagged for looking when the object itself carries the
    cue: its hot cells on the object (grown by a cell) where the object is annotated, else every hot cell."""
    flagged = np.zeros_like(hot)
    for group in groups:
        members = group.members
        flagged[members] = hot[members]
        annotated = members[known[members]]
        flagged[annotated] &= grown(objects[annotated])
    return flagged


def peak_scatter(attention: np.ndarray) -> np.ndarray:
    """(N,) share of each map's hot cells farther than a quarter of the side from its peak: attention that rests on
    more than one place (the object estimate where no object is annotated is the peak's neighbourhood)."""
    n, h, w = attention.shape
    hot = hot_cells(attention)
    peaks = attention.reshape(n, -1).argmax(axis=1)
    rows, cols = np.mgrid[0:h, 0:w]
    near = (np.abs(rows[None] - (peaks // w)[:, None, None]) <= h / 4) & (np.abs(cols[None] - (peaks % w)[:, None, None]) <= w / 4)
    count = hot.reshape(n, -1).sum(axis=1)
    return np.where(count > 0, (hot & ~near).reshape(n, -1).sum(axis=1) / np.maximum(count, 1), 0.0)


def swap_test(model: torch.nn.Module, inputs: torch.Tensor, objects: np.ndarray, labels: np.ndarray,
              seed: int = 0, batch: int = 256, rounds: int = SWAP_ROUNDS,
              movable: np.ndarray | None = None, cut: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each annotated object (normalised inputs, (M, S, S) masks at input size) pasted onto the emptied backgrounds
    of ``rounds`` annotated tasks of another class (with ``cut``, instead cut down to that task's object's size and
    shifted to its place on its own background, where that object is smaller; :func:`cut_on_partners`):
    (M, rounds) arrays of the model's class for each move and of that background's class (-1 where no partner).
    Partners are drawn within batches of ``batch``. ``movable`` (M,) bool: only those objects move (e.g. the ones
    the model was not trained on); every task lends its background."""
    movable = np.ones(len(labels), bool) if movable is None else np.asarray(movable, bool)
    generator = torch.Generator().manual_seed(seed)
    predicted, partner_labels = np.full((len(labels), rounds), -1), np.full((len(labels), rounds), -1)
    masks = torch.as_tensor(np.asarray(objects), dtype=torch.float32)
    targets = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    model = model.eval()
    device = next(model.parameters(), torch.empty(0)).device  # a trained model may sit on the GPU; images come from the CPU
    with torch.no_grad():
        for round_ in range(rounds):
            for start in range(0, len(labels), batch):
                part = slice(start, start + batch)
                pasted, source, _ = (cut_on_partners if cut else paste_on_partners)(inputs[part], masks[part],
                                                                                   targets[part], generator)
                found = (source >= 0).numpy() & movable[part]
                if found.any():
                    rows = np.arange(start, min(start + batch, len(labels)))[found]
                    predicted[rows, round_] = model(pasted[torch.as_tensor(found)].to(device)).argmax(1).cpu().numpy()
                    partner_labels[rows, round_] = targets[part][source[torch.as_tensor(found)]].numpy()
    return predicted, partner_labels


def _margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """How far each annotated class's logit leads the strongest other one."""
    own = logits.gather(1, labels[:, None]).squeeze(1)
    return own - logits.scatter(1, labels[:, None], float("-inf")).amax(1)


def locate_cues(model: torch.nn.Module, inputs: torch.Tensor, objects: np.ndarray, labels: np.ndarray,
                hot: np.ndarray, batch: int = 256) -> np.ndarray:
    """(M, h, w) bool: the hot cells off each object (``hot``: (M, h, w) attention cells; ``objects``: (M, S, S)
    masks at input size) where hiding the background moves the decision. Each block of ``BLOCK_CELLS`` x
    ``BLOCK_CELLS`` cells that holds such a cell has its background filled by the image's mean background colour
    (:func:`hide_background`); the blocks that lower the annotated class's margin by at least ``LOCATE_KEEP`` of the
    image's largest drop are kept (none where no block lowers it). Only candidate blocks are hidden, so the cost is
    a forward pass per hot block."""
    count, side, cells = len(labels), inputs.shape[-1], hot.shape[-1]
    masks = torch.as_tensor(np.asarray(objects), dtype=torch.float32)
    inside = downsample_maps(masks.numpy(), cells) >= 0.5
    candidates = hot & ~inside
    blocks = cells // BLOCK_CELLS
    per_block = candidates[:, : blocks * BLOCK_CELLS, : blocks * BLOCK_CELLS].reshape(
        count, blocks, BLOCK_CELLS, blocks, BLOCK_CELLS).any(axis=(2, 4))
    jobs = np.argwhere(per_block)  # (image, block row, block column)
    targets = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    edges = np.round(np.arange(blocks + 1) * BLOCK_CELLS * side / cells).astype(int)
    drops = np.zeros((count, blocks, blocks), np.float32)
    device = next(model.parameters(), torch.empty(0)).device
    model = model.eval()
    with torch.no_grad():
        unhidden = torch.cat([_margin(model(inputs[s : s + batch].to(device)).cpu(), targets[s : s + batch])
                              for s in range(0, count, batch)]) if count else torch.zeros(0)
        for start in range(0, len(jobs), batch):
            part = jobs[start : start + batch]
            index = torch.as_tensor(part[:, 0])
            regions = torch.zeros(len(part), side, side)
            for k, (_, row, col) in enumerate(part):
                regions[k, edges[row] : edges[row + 1], edges[col] : edges[col + 1]] = 1.0
            hidden = hide_background(inputs[index], masks[index], regions)
            margin = _margin(model(hidden.to(device)).cpu(), targets[index])
            drops[part[:, 0], part[:, 1], part[:, 2]] = (unhidden[index] - margin).numpy()
    largest = drops.reshape(count, -1).max(axis=1, initial=0.0)[:, None, None]
    kept = (drops >= LOCATE_KEEP * largest) & (largest > 0) & per_block
    cells_kept = np.zeros_like(candidates)
    cells_kept[:, : blocks * BLOCK_CELLS, : blocks * BLOCK_CELLS] = np.repeat(np.repeat(kept, BLOCK_CELLS, 1), BLOCK_CELLS, 2)
    return candidates & cells_kept


def causal_tests(model: torch.nn.Module, inputs: torch.Tensor, objects: np.ndarray, labels: np.ndarray,
                 hot: np.ndarray, seed: int = 0, movable: np.ndarray | None = None) -> dict[str, np.ndarray | None]:
    """Everything the report asks of the model itself about M annotated tasks (normalised inputs, (M, S, S) object
    masks, their classes, their (M, h, w) hot attention cells), as :class:`Evidence` fields for those rows: the
    plain and cut moves (:func:`swap_test`) and, where the plain moves show a context shortcut, the cue located on
    the moved objects' own images (:func:`locate_cues`; ``located`` None otherwise)."""
    swapped, partner = swap_test(model, inputs, objects, labels, seed, movable=movable)
    cut, cut_partner = swap_test(model, inputs, objects, labels, seed, movable=movable, cut=True)
    device = next(model.parameters(), torch.empty(0)).device
    with torch.no_grad():
        predicted = np.concatenate([model.eval()(inputs[s : s + 256].to(device)).argmax(1).cpu().numpy()
                                    for s in range(0, len(labels), 256)]) if len(labels) else np.zeros(0, int)
    located = None
    if context_moves(*count_flips(predicted, np.asarray(labels), swapped, partner)):
        located = np.zeros(hot.shape, bool)
        moved = np.flatnonzero((swapped >= 0).any(axis=1))
        located[moved] = locate_cues(model, inputs[moved], np.asarray(objects)[moved], np.asarray(labels)[moved], hot[moved])
    return {"swapped": swapped, "partner_labels": partner, "cut": cut, "cut_partner_labels": cut_partner,
            "located": located}


def on_tasks(rows: np.ndarray, at: np.ndarray, n: int) -> np.ndarray:
    """Per-row results of the tested tasks ``at`` spread over all ``n`` tasks: -1 (False for masks) elsewhere."""
    out = np.zeros((n, *rows.shape[1:]), bool) if rows.dtype == bool else np.full((n, *rows.shape[1:]), -1, rows.dtype)
    out[at] = rows
    return out


def balanced_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float | None:
    """Mean recall over the classes present (None without any tested task)."""
    tested = (predicted >= 0) & (labels >= 0)
    if not tested.any():
        return None
    classes = np.unique(labels[tested])
    return float(np.mean([(predicted[tested & (labels == c)] == c).mean() for c in classes]))


def lower_bound(successes: int, trials: int, z: float = CONFIDENCE_Z) -> float:
    """Wilson score lower bound of a binomial proportion (0 without trials): a few moves prove little."""
    if trials == 0:
        return 0.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return float((centre - spread) / (1 + z * z / trials))


def context_moves(flips: int, moves: int) -> bool:
    """True when the flips show, with 95% confidence, that more than ``FLIP_FLOOR`` of the moves flip."""
    return lower_bound(flips, moves) > FLIP_FLOOR


def _carrier(flips: int, moves: int, cut_flips: int, cut_moves: int) -> str:
    if context_moves(flips, moves):
        return "context"
    return "object" if context_moves(cut_flips, cut_moves) else ""


def count_flips(predicted: np.ndarray, labels: np.ndarray, swapped: np.ndarray, partner: np.ndarray) -> tuple[int, int]:
    """(flips, moves) over the moves of objects the model classifies right unmoved (``swapped``/``partner``: (N, R))."""
    right = ((labels >= 0) & (predicted == labels))[:, None]
    moved = right & (swapped >= 0) & (partner >= 0) & (partner != labels[:, None])
    return int((moved & (swapped == partner)).sum()), int(moved.sum())


def carried_classes(predicted: np.ndarray, labels: np.ndarray, swapped: np.ndarray,
                    partner: np.ndarray) -> dict[int, tuple[int, int]]:
    """The classes whose backgrounds turn moved objects into them, with their (flips, moves): with 95% confidence
    more than ``FLIP_FLOOR`` of the moves onto backgrounds of that class flip (as :func:`count_flips`, per
    background class)."""
    right = ((labels >= 0) & (predicted == labels))[:, None]
    moved = right & (swapped >= 0) & (partner >= 0) & (partner != labels[:, None])
    counts = {int(c): (int((moved & (partner == c) & (swapped == c)).sum()), int((moved & (partner == c)).sum()))
              for c in np.unique(partner[moved])}
    return {c: found for c, found in counts.items() if context_moves(*found)}


def principal_embeddings(embeddings: np.ndarray) -> np.ndarray:
    """The embeddings on their ``EMBEDDING_COMPONENTS`` principal components (as they are when there are fewer)."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    components = min(EMBEDDING_COMPONENTS, embeddings.shape[1], max(1, len(embeddings) - 1))
    if len(embeddings) > components:
        return PCA(components, random_state=0).fit_transform(embeddings - embeddings.mean(0))
    return embeddings


def atypicality(components: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(N,) squared Mahalanobis distance of each task's principal embedding from the mean of its predicted class
    (0 in a class of fewer than two tasks): a cue-conflicting image the model decides by its cue sits apart from the
    images of the class it is given, since its object still looks like the other class."""
    distance = np.zeros(len(components))
    for c in np.unique(predicted):
        members = predicted == c
        if members.sum() < 2:
            continue
        centred = components[members] - components[members].mean(0)
        covariance = np.atleast_2d(np.cov(centred.T))
        covariance += np.eye(len(covariance)) * 1e-6 * max(float(np.trace(covariance)), 1e-12)
        distance[members] = np.einsum("ij,jk,ik->i", centred, np.linalg.pinv(covariance), centred)
    return distance


def _features(evidence: Evidence, components: np.ndarray) -> np.ndarray:
    maps = downsample_maps(evidence.attention, FEATURE_SIDE).reshape(len(evidence), -1).astype(np.float64)
    maps /= np.maximum(maps.sum(axis=1, keepdims=True), 1e-9)
    maps = (maps - maps.mean(0)) / (maps.std() + 1e-9)
    return np.hstack([maps, components / (components.std() + 1e-9)])


def _clusters(features: np.ndarray, predicted: np.ndarray, seed: int) -> list[np.ndarray]:
    groups = []
    for c in np.unique(predicted):
        members = np.flatnonzero(predicted == c)
        k = int(np.clip(len(members) // TASKS_PER_GROUP, 1, MAX_GROUPS_PER_CLASS))
        if k == 1:
            groups.append(members)
            continue
        assignment = KMeans(k, n_init=2, random_state=seed).fit_predict(features[members])
        groups += [members[assignment == j] for j in range(k) if np.any(assignment == j)]
    return groups


def _colour(colours: np.ndarray | None, cells: np.ndarray) -> tuple[int, int, int] | None:
    if colours is None or not cells.any():
        return None
    return tuple(int(v) for v in colours[cells].reshape(-1, 3).mean(axis=0).round())


def _group(evidence: Evidence, members: np.ndarray, hot: np.ndarray, known: np.ndarray, measured: np.ndarray,
           predicted: np.ndarray) -> Group:
    """One group measured: its off-object share (from enough annotated members), class mix, errors, where its hot
    attention sits and its colour there (off the object where the object is known)."""
    labels = np.asarray(evidence.labels)
    annotated = members[known[members]]
    labelled = members[labels[members] >= 0]
    cells = off_known_objects(hot, evidence.objects, known, members)
    if not cells.any():
        cells = hot[members]
    density = hot[members].mean(axis=0)
    ys, xs = np.mgrid[0 : density.shape[0], 0 : density.shape[1]]
    weight = max(float(density.sum()), 1e-9)
    return Group(
        members=members, predicted_class=int(predicted[members[0]]), labelled=len(labelled),
        label_mix={int(c): int(k) for c, k in zip(*np.unique(labels[labelled], return_counts=True))},
        errors=int((predicted[labelled] != labels[labelled]).sum()),
        off_object=float(measured[annotated].mean()) if len(annotated) >= MIN_EVIDENCE else None,
        evidence=len(annotated),
        centre=(float((density * (xs + 0.5)).sum() / weight / density.shape[1]),
                float((density * (ys + 0.5)).sum() / weight / density.shape[0])),
        extent=float(density.mean()), colour=_colour(None if evidence.colours is None else evidence.colours[members], cells),
    )


def discover(evidence: Evidence, seed: int = 0) -> Findings:
    """Group the tasks, measure each group against the annotated objects and classes, score every task."""
    n = len(evidence)
    attention = np.asarray(evidence.attention, dtype=np.float32)
    hot = hot_cells(attention)
    predicted = evidence.probabilities.argmax(axis=1)
    labels = np.asarray(evidence.labels)
    known = np.zeros(n, bool) if evidence.object_known is None else np.asarray(evidence.object_known, bool)
    measured = np.full(n, np.nan)
    if known.any():
        measured[known] = off_object_share(hot[known], np.asarray(evidence.objects)[known].astype(bool))
    swapped = np.full(n, -1) if evidence.swapped is None else np.asarray(evidence.swapped)
    partner = np.full(n, -1) if evidence.partner_labels is None else np.asarray(evidence.partner_labels)
    swapped, partner = swapped.reshape(n, -1), partner.reshape(n, -1)
    context = balanced_accuracy(swapped.ravel(), partner.ravel())
    object_ = balanced_accuracy(np.where(partner >= 0, swapped, -1).ravel(), np.repeat(labels, swapped.shape[1]))
    flips, moves = count_flips(predicted, labels, swapped, partner)
    cut = np.full_like(swapped, -1) if evidence.cut is None else np.asarray(evidence.cut).reshape(n, -1)
    cut_partner = (np.full_like(cut, -1) if evidence.cut_partner_labels is None
                   else np.asarray(evidence.cut_partner_labels).reshape(n, -1))
    cut_flips, cut_moves = count_flips(predicted, labels, cut, cut_partner)
    carrier = _carrier(flips, moves, cut_flips, cut_moves)
    carried = carried_classes(predicted, labels, swapped, partner) if carrier == "context" else {}
    off = measured.copy()
    components = principal_embeddings(evidence.embeddings)
    groups = [_group(evidence, members, hot, known, measured, predicted)
              for members in (_clusters(_features(evidence, components), predicted, seed) if n else [])]
    for group in groups:
        if group.off_object is not None:
            off[group.members[~known[group.members]]] = group.off_object
        if carrier == "context" and (group.predicted_class in carried or (group.off_object or 0.0) > OFF_OBJECT_LIMIT):
            if (group.off_object or 0.0) > OFF_OBJECT_LIMIT:
                group.reasons.append(f"{group.off_object:.0%} of the peak attention lies off the {group.evidence} annotated objects")
            if group.predicted_class in carried:
                taken, onto = carried[group.predicted_class]
                group.reasons.append(f"objects of other classes moved onto backgrounds of its class took its class in "
                                     f"{taken} of {onto} moves")
        elif carrier == "object" and group.off_object is not None and group.off_object <= OFF_OBJECT_LIMIT:
            group.reasons.append(f"{1 - group.off_object:.0%} of the peak attention rests on the {group.evidence} annotated "
                                 f"objects, and {cut_flips} of {cut_moves} objects cut down to a smaller object's size "
                                 f"and place took its class ({flips} of {moves} at their own): their size or place "
                                 "decides")
        else:
            continue
        group.suspected, group.carrier = True, carrier
        if group.errors:  # the model's errors in a suspected group share its shortcut
            group.reasons.append(f"{group.errors} of its {group.labelled} labelled tasks are predicted against their class")
    confidence = evidence.probabilities[np.arange(n), np.where(labels >= 0, labels, predicted)]
    doubt = np.where(labels >= 0, 1.0 - confidence, 1.0 - evidence.probabilities.max(axis=1))
    scatter = peak_scatter(attention)
    # Doubt about the annotated class: a model that decides by a cue is least sure of the images that contradict it,
    # even where it memorised them (JTT, AFR); attention off the object (no object known: off the peak's own box)
    # raises it at most twofold, since a diffuse cue (a texture, a colour cast) leaves no place to point at. The
    # contradicting images it gets wrong it is sure of, but they sit apart from their predicted class: either
    # ranking high is suspect.
    doubted = doubt * (1.0 + np.where(np.isnan(off), scatter, off)) / 2.0
    suspicion = np.maximum(rankdata(doubted), rankdata(atypicality(components, predicted))) / max(n, 1)
    errors = np.flatnonzero((labels >= 0) & (predicted != labels))
    objects = np.zeros_like(hot) if evidence.objects is None else np.asarray(evidence.objects, bool)
    located = None if evidence.located is None else np.asarray(evidence.located, bool)
    teachers = None if located is None else known & (swapped >= 0).any(axis=1)
    cue = (cue_regions(hot, objects, known, evidence.colours, [g for g in groups if g.carrier == "context"], located, teachers)
           | object_regions(hot, objects, known, [g for g in groups if g.carrier == "object"]))
    return Findings(groups, context, object_, flips, moves, cut_flips, cut_moves, off, scatter, suspicion, errors, cue)
