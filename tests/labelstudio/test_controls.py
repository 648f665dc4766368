import numpy as np
import pytest

from backend.core.examples import Example
from backend.labelstudio.brush_rle import rle_to_alpha
from backend.labelstudio.config import LabelConfig, LabelRoles
from backend.labelstudio.controls import (
    BY_REGION_TYPE,
    BY_TAG,
    CONTROLS,
    BrushLabels,
    Choices,
    KeyPointLabels,
    PolygonLabels,
    Reading,
    RectangleLabels,
    Silent,
    region,
)
from backend.labelstudio.templates import render_template

CONFIG = LabelConfig.parse(render_template("combined", ["cat", "dog"]))


def _reading() -> Reading:
    return Reading(CONFIG, Example(task_id=1, image_url="x"), [], max_pixels=10_000)


def test_a_region_names_its_control_and_image_and_sizes_when_given():
    point = region(CONFIG, CONFIG.keypoints_name, "keypointlabels", {"x": 1.0, "y": 2.0}, (30, 40))
    assert point["to_name"] == CONFIG.image_name and point["from_name"] == CONFIG.keypoints_name
    assert (point["original_width"], point["original_height"], point["image_rotation"]) == (40, 30, 0)
    assert point["value"] == {"x": 1.0, "y": 2.0} and len(point["id"]) == 10
    other = region(CONFIG, CONFIG.keypoints_name, "keypointlabels", {})
    assert "original_width" not in other and other["id"] != point["id"]


def test_every_control_is_found_by_its_tag_and_by_its_region_type():
    for control in CONTROLS:
        assert BY_TAG[control.tag] is control and BY_REGION_TYPE[control.region_type] is control
    assert BY_REGION_TYPE["textarea"] is Silent and "where" not in BY_REGION_TYPE


def test_the_first_control_of_a_kind_wins_and_a_second_choices_with_the_same_classes_is_the_guess():
    found = Choices.fields("answer", ["cat", "dog"], LabelRoles(), {})
    assert found == {"choices_name": "answer", "classes": ("cat", "dog")}
    assert Choices.fields("guess", ["cat", "dog"], LabelRoles(), found) == {"guess_name": "guess"}
    assert Choices.fields("other", ["red", "blue"], LabelRoles(), found) == {}
    clicks = KeyPointLabels.fields("clicks", ["Fokus", "Hintergrund"], LabelRoles(focus=("fokus",), ignore=("HINTERGRUND",)), {})
    assert clicks == {"keypoints_name": "clicks", "focus_label": "Fokus", "ignore_point_label": "Hintergrund"}
    assert KeyPointLabels.fields("more", ["focus"], LabelRoles(), clicks) == {}


@pytest.mark.parametrize("control", [Choices, KeyPointLabels, RectangleLabels, BrushLabels])
def test_what_a_control_writes_it_reads_back(control):
    reading = _reading()
    if control is Choices:
        written, check = Choices.write(CONFIG, 1), lambda e: e.label == 1
    elif control is KeyPointLabels:
        written, check = KeyPointLabels.write(CONFIG, CONFIG.focus_label, 25.0, 75.0, (40, 40)), lambda e: e.positive == [(25.0, 75.0)]
    elif control is RectangleLabels:
        written, check = RectangleLabels.write(CONFIG, (4, 8, 20, 28), (40, 40)), lambda e: np.allclose(e.boxes, [(10, 20, 50, 70)])
    else:
        mask = np.zeros((40, 40), bool)
        mask[5:15, 10:30] = True
        written = BrushLabels.write(CONFIG, CONFIG.saliency_label, mask)
        assert (rle_to_alpha(written["value"]["rle"], 40, 40) > 0).sum() == mask.sum()
        check = lambda e: len(e.saliency_masks) == 1 and (e.saliency_masks[0] == mask).all()  # noqa: E731
    assert BY_REGION_TYPE[written["type"]] is control and written["from_name"]
    control.read(written, written["value"], reading)
    assert check(reading.example) and reading.messages == []


def test_the_models_own_overlay_and_heat_are_not_read_as_guidance():
    reading = _reading()
    heat = PolygonLabels.write(CONFIG, CONFIG.overlay_heat_label, np.array([[0.1, 0.1], [0.5, 0.1], [0.3, 0.5]]), (40, 40))
    PolygonLabels.read(heat, heat["value"], reading)
    ignore = PolygonLabels.write(CONFIG, CONFIG.overlay_ignore_label, np.array([[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]), (40, 40))
    PolygonLabels.read(ignore, ignore["value"], reading)
    assert len(reading.example.ignore_masks) == 1 and reading.example.ignore_masks[0].mean() > 0.2


def test_a_bad_region_is_skipped_with_a_message_naming_it():
    reading = _reading()
    box = RectangleLabels.write(CONFIG, (4, 8, 20, 28), (40, 40)) | {"id": "b1"}
    RectangleLabels.read(box, box["value"] | {"width": -3}, reading)
    assert reading.example.boxes == [] and reading.messages == ["region 'b1': box needs finite x, y and positive width, height"]
