import numpy as np
import torch

from backend.core.shortcuts import (
    FLIP_FLOOR,
    atypicality,
    balanced_accuracy,
    carried_classes,
    causal_tests,
    context_moves,
    count_flips,
    discover,
    grown,
    hot_cells,
    locate_cues,
    lower_bound,
    off_object_share,
    peak_scatter,
    swap_test,
)
from tests.support.shortcut_project import shortcut_project


def test_a_model_that_decides_by_a_patch_is_flagged_and_the_patch_is_named():
    evidence, conflicting = shortcut_project(shortcut=True)
    found = discover(evidence)
    assert found.uses_shortcut and found.context_accuracy == 1.0 and found.object_accuracy == 0.0
    assert found.moves > 0 and found.flips == found.moves  # every rightly classified object took the background's class
    assert found.suspected and found.affected_share > 0.9
    for group in found.suspected:
        assert group.off_object > 0.9 and group.centre[0] > 0.7 and group.centre[1] > 0.7  # bottom right, off the object
        red, _, blue = group.colour  # the patch's colour, not the background's grey
        assert abs(red - blue) > 40
        assert "off the" in group.reasons[0]
    order = np.argsort(-found.suspicion)
    assert set(np.flatnonzero(conflicting)) <= set(order[: 3 * conflicting.sum()])  # cue-conflicting tasks first


def test_a_confidently_misled_task_whose_embedding_sits_apart_from_its_class_is_suspected():
    evidence, conflicting = shortcut_project(shortcut=True)
    misled = np.flatnonzero(conflicting & ~evidence.object_known)
    decided = evidence.probabilities.argmax(1)
    evidence.probabilities[misled] = np.eye(2)[decided[misled]] * 0.98 + 0.01  # sure of its wrong class ...
    evidence.labels[misled] = -1  # ... which nobody has corrected
    found = discover(evidence)
    assert found.suspicion[misled].min() < np.median(found.suspicion)  # doubt no longer finds them ...
    evidence.embeddings[misled] += [[1.5, 1.5]]  # ... but their object still looks like the other class
    found = discover(evidence)
    assert found.suspicion[misled].min() > np.quantile(found.suspicion, 0.9)
    assert found.suspicion.max() <= 1.0 and found.suspicion.min() > 0.0


def test_atypicality_is_the_distance_from_the_predicted_class_in_its_own_spread():
    rng = np.random.default_rng(0)
    components = np.vstack([rng.normal(0, [1.0, 0.1], (200, 2)), rng.normal(5, 1.0, (200, 2))])
    predicted = np.repeat([0, 1], 200)
    components[0] = [0.0, 1.0]  # one unit off along class 0's narrow axis: far in its own spread
    components[1] = [1.0, 0.0]  # one unit along its wide axis: typical
    distance = atypicality(components, predicted)
    assert distance[0] > 50 * distance[1] and distance[0] == distance[:200].max()
    assert np.median(distance[200:]) < 3  # two dimensions: the squared distance averages about 2
    assert atypicality(np.ones((1, 2)), np.zeros(1, int))[0] == 0.0  # a class of one task is nobody's outlier


def test_the_cue_is_flagged_on_every_member_by_its_colour_not_the_object_it_also_attends_to():
    evidence, _ = shortcut_project(shortcut=True, partial=True)
    found = discover(evidence)
    assert found.suspected
    hot = hot_cells(evidence.attention)
    members = np.concatenate([g.members for g in found.suspected])
    others = members[~evidence.object_known[members]]
    on_object = hot & evidence.objects
    assert on_object[others].sum() == len(others)  # each attends to one object cell ...
    assert not (found.cue[others] & evidence.objects[others]).any()  # ... which is not flagged
    assert np.array_equal(found.cue[others], (hot & ~evidence.objects)[others])  # the patch is
    evidence.colours[:] = 120  # a colour everywhere, attended in part, tells nothing: every hot cell
    assert np.array_equal(discover(evidence).cue[others], hot[others])
    evidence.colours = None
    assert np.array_equal(discover(evidence).cue[others], hot[others])


def test_a_model_that_looks_at_the_object_is_not_flagged():
    evidence, _ = shortcut_project(shortcut=False)
    found = discover(evidence)
    assert not found.uses_shortcut and not found.suspected and found.affected_share == 0.0
    measured = [g.off_object for g in found.groups if g.off_object is not None]
    assert measured and max(measured) < 0.5
    assert found.object_accuracy == 1.0


def test_without_annotated_objects_nothing_is_flagged_and_suspicion_falls_back_to_scatter():
    evidence, _ = shortcut_project(shortcut=True)
    evidence.object_known[:] = False
    evidence.swapped[:] = -1
    found = discover(evidence)
    assert not found.uses_shortcut and found.context_accuracy is None
    assert np.all(np.isnan(found.off_object)) and np.all(np.isfinite(found.suspicion))


def test_groups_stay_within_a_predicted_class_and_cover_every_task():
    evidence, _ = shortcut_project(shortcut=True, n=400)
    found = discover(evidence)
    owner = found.group_of()
    assert np.all(owner >= 0) and sum(len(g.members) for g in found.groups) == 400
    for group in found.groups:
        assert len(set(evidence.probabilities[group.members].argmax(1))) == 1


def test_errors_are_the_labelled_tasks_predicted_against_their_class():
    evidence, conflicting = shortcut_project(shortcut=True)
    assert set(discover(evidence).errors) == set(np.flatnonzero(conflicting))


def test_cell_measures():
    maps = np.zeros((2, 4, 4))
    maps[0, 0, 0], maps[0, 3, 3] = 1.0, 0.6
    hot = hot_cells(maps)
    assert hot[0].sum() == 2 and not hot[1].any()  # an empty map has no hot cell
    objects = np.zeros((2, 4, 4), bool)
    objects[0, 0, 0] = True
    assert off_object_share(hot, objects)[0] == 0.5  # (3, 3) lies beyond the object grown by a cell
    assert peak_scatter(maps)[0] == 0.5 and peak_scatter(maps)[1] == 0.0
    assert balanced_accuracy(np.array([0, 0, 1, -1]), np.array([0, 1, 1, 1])) == 0.75
    assert balanced_accuracy(np.array([-1]), np.array([0])) is None


def test_swap_test_pastes_each_object_on_another_class_s_background():
    class ReadsTheCorner(torch.nn.Module):
        """Class 1 when the top-left corner is bright: decides by the background."""

        def forward(self, x):
            corner = x[:, :, :2, :2].mean(dim=(1, 2, 3))
            return torch.stack([-corner, corner], dim=1)

    images = torch.zeros(4, 3, 8, 8)
    images[1::2] = 1.0  # class 1 images are bright everywhere
    objects = np.zeros((4, 8, 8), bool)
    objects[:, 4:, 4:] = True
    labels = np.array([0, 1, 0, 1])
    predicted, partner = swap_test(ReadsTheCorner(), images, objects, labels)
    assert partner.shape == (4, 4) and np.array_equal(partner, np.repeat(1 - labels[:, None], 4, 1))  # other class
    assert np.array_equal(predicted, partner)  # the corner, i.e. the background, decides


def test_flips_count_only_objects_the_model_gets_right_unmoved():
    labels = np.array([0, 1, 0, 1, -1])
    predicted = np.array([0, 1, 1, 1, 0])  # task 2 is wrong unmoved: its moves are its own error, not a flip
    partner = np.array([[1, 1], [0, 0], [1, 1], [0, -1], [1, 1]])
    swapped = np.array([[1, 0], [1, 1], [1, 1], [0, -1], [1, 1]])
    assert count_flips(predicted, labels, swapped, partner) == (2, 5)  # (0, round 0) and (3, round 0)


def test_a_partial_shortcut_is_called_and_a_few_stray_flips_or_the_models_errors_are_not():
    assert lower_bound(0, 200) == 0.0 and lower_bound(0, 0) == 0.0
    assert 0.05 < lower_bound(20, 200) < 20 / 200
    assert context_moves(20, 200)  # one move in ten flips: a partial shortcut
    assert not context_moves(1, 200) and not context_moves(0, 1000)  # a stray flip proves nothing
    assert lower_bound(5, 100) > FLIP_FLOOR


def test_a_model_right_on_most_conflicting_images_is_still_caught_by_its_flips():
    evidence, _ = shortcut_project(shortcut=False, n=400)
    tested = np.flatnonzero(evidence.object_known)
    evidence.swapped[tested[:4]] = evidence.partner_labels[tested[:4]]  # 4 of 24 moves follow the background
    found = discover(evidence)
    assert found.uses_shortcut and found.flips == 4 and found.context_accuracy < found.object_accuracy


class CountsBrightPixels(torch.nn.Module):
    """Class 1 when more than 8 pixels are bright: decides by the object's size, wherever it is."""

    def forward(self, x):
        area = (x[:, 0] > 0.5).flatten(1).sum(1).float()
        return torch.stack([8.5 - area, area - 8.5], dim=1)


def test_cut_moves_carry_the_partner_s_size_so_a_size_reader_follows_them():
    images = torch.zeros(4, 3, 12, 12)
    objects = np.zeros((4, 12, 12), bool)
    objects[0, 1:3, 1:3] = objects[2, 7:9, 2:4] = True  # class 0: 2x2 objects
    objects[1, 6:10, 6:10] = objects[3, 1:5, 7:11] = True  # class 1: 4x4 objects
    images += torch.as_tensor(objects, dtype=torch.float32)[:, None]
    labels = np.array([0, 1, 0, 1])
    plain, partner = swap_test(CountsBrightPixels(), images, objects, labels)
    assert np.array_equal(plain, np.repeat(labels[:, None], 4, 1))  # moved at its own size, an object keeps its class
    cut, cut_partner = swap_test(CountsBrightPixels(), images, objects, labels, cut=True)
    assert np.all(cut[[0, 2]] == -1)  # a small object has no smaller partner to be cut down to
    assert np.all(cut_partner[[1, 3]] == 0) and np.all(cut[[1, 3]] == 0)  # cut to 2x2, the large ones read as small


def test_a_cue_the_object_carries_is_named_when_only_cut_moves_flip():
    evidence, _ = shortcut_project(shortcut=False)  # attention on the object; plain moves keep the class
    evidence.cut, evidence.cut_partner_labels = evidence.partner_labels.copy(), evidence.partner_labels.copy()
    found = discover(evidence)
    assert found.uses_shortcut and found.carrier == "object" and found.cut_flips == found.cut_moves > 0
    assert found.suspected and all(g.carrier == "object" for g in found.suspected)
    assert any("size or place" in r for g in found.suspected for r in g.reasons)
    known = evidence.object_known
    assert found.cue.any() and not (found.cue[known] & ~grown(evidence.objects[known])).any()  # flagged on the object
    evidence.cut = np.where(evidence.cut >= 0, evidence.labels[:, None], -1)  # cut objects keep their class
    assert not discover(evidence).uses_shortcut
    background, _ = shortcut_project(shortcut=True)
    background.cut, background.cut_partner_labels = background.swapped.copy(), background.partner_labels.copy()
    assert discover(background).carrier == "context"  # the plain moves already explain the cut ones


class ReadsTheMark(torch.nn.Module):
    """Class 1 when rows 0-3 of columns 12-15 are bright (a mark beside the object), plus a little of the object."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        mark = x[:, 0, 0:4, 12:16].mean(dim=(1, 2))
        thing = x[:, 1, 4:12, 4:12].mean(dim=(1, 2))
        score = self.scale * (4 * mark + 0.1 * thing - 1.0)
        return torch.stack([-score, score], dim=1)


def _marked(count: int = 8) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """16x16 images: an object (channel 1) in the middle; class 1 images carry the mark beside it."""
    images = torch.zeros(count, 3, 16, 16)
    objects = np.zeros((count, 16, 16), bool)
    objects[:, 4:12, 4:12] = True
    images[:, 1, 4:12, 4:12] = 1.0
    labels = np.arange(count) % 2
    images[labels == 1, 0, 0:4, 12:16] = 1.0
    return images, objects, labels


def test_hiding_the_background_locates_the_cue_and_not_the_blur_around_the_object():
    images, objects, labels = _marked()
    hot = np.zeros((8, 8, 8), bool)  # 8x8 attention cells of 2x2 pixels
    hot[:, 0:2, 6:8] = True  # the mark
    hot[:, 2, 2:6] = True  # blur above the object: hot, off it, but deciding nothing
    located = locate_cues(ReadsTheMark(), images, objects, labels, hot)
    assert np.array_equal(located[labels == 1], np.broadcast_to(hot[0] & (np.arange(8)[:, None] < 2), (4, 8, 8)))
    assert not located[labels == 0].any()  # no mark there: hiding its place costs nothing


def test_causal_tests_locate_only_when_the_moves_show_a_context_shortcut():
    images, objects, labels = _marked()
    hot = np.zeros((8, 8, 8), bool)
    hot[:, 0:2, 6:8] = True
    found = causal_tests(ReadsTheMark(), images, objects, labels, hot)
    assert np.array_equal(found["swapped"], found["partner_labels"])  # the mark on the background decides
    assert found["located"] is not None and found["located"][labels == 1].any()
    images[:, 0] = 0.0
    images[labels == 1, 1, 4:12, 4:12] = 30.0  # now only the object tells the classes apart
    assert causal_tests(ReadsTheMark(), images, objects, labels, hot)["located"] is None


def test_carried_classes_are_those_whose_backgrounds_turn_moved_objects_into_them():
    labels = np.array([0] * 10 + [1] * 10)
    partner = np.where(labels[:, None] == 0, 1, 0).repeat(4, axis=1)
    swapped = np.where(labels[:, None] == 0, 1, 1).repeat(4, axis=1)  # class 1 backgrounds take every object, class 0 none
    assert carried_classes(labels, labels, swapped, partner) == {1: (40, 40)}
    assert carried_classes(labels, labels, labels[:, None].repeat(4, axis=1), partner) == {}


def test_a_cue_beside_the_object_is_named_from_where_hiding_costs_the_decision():
    evidence, _ = shortcut_project(shortcut=False, n=400)  # attention on the object ...
    patch = (evidence.colours != 120).any(axis=3) & ~evidence.objects
    evidence.attention[patch] = 0.7  # ... and on the patch, which alone decides
    evidence.swapped = np.where(evidence.object_known, evidence.partner_labels, -1)
    found = discover(evidence)
    assert found.carrier == "context" and found.suspected
    measured = [g.off_object for g in found.suspected if g.off_object is not None]
    assert measured and max(measured) < 0.5  # suspected by the moves, not by where attention lies
    assert any("took its class" in r for g in found.suspected for r in g.reasons)
    evidence.located = patch & evidence.object_known[:, None, None]
    named = discover(evidence).cue
    others = ~evidence.object_known
    assert named[others].any() and not (named & ~patch).any()  # the patch's colour on every member, nothing else
