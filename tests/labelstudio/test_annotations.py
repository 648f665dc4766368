import numpy as np
import pytest
from label_studio_sdk.converter.brush import mask2rle

from backend.labelstudio.annotations import parse_task, select_annotations
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.templates import render_template

CONFIG = LabelConfig.parse(render_template("combined", ["cat", "dog"]))
TASK = {"id": 9, "data": {"image": "/data/upload/1/x.png"}}


def _point(label, x, y, rotation=0):
    return {"id": f"p{x}{y}", "from_name": "clicks", "to_name": "image", "type": "keypointlabels", "image_rotation": rotation,
            "original_width": 200, "original_height": 100, "value": {"x": x, "y": y, "width": 0.5, "keypointlabels": [label]}}


def _choice(name):
    return {"from_name": "class", "to_name": "image", "type": "choices", "value": {"choices": [name]}}


def _box(x, y, w, h):
    return {"id": "b", "from_name": "box", "to_name": "image", "type": "rectanglelabels", "original_width": 200,
            "original_height": 100, "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": ["object"]}}


def _annotation(result, id=1, updated="2026-01-01T00:00:00Z", cancelled=False):
    return {"id": id, "result": result, "updated_at": updated, "was_cancelled": cancelled}


def test_clicks_boxes_and_class():
    parsed = parse_task(TASK, [_annotation([_choice("dog"), _point("focus", 25, 50), _point("focus", 35, 60),
                                            _point("ignore", 80, 10), _box(10, 20, 30, 40)])], CONFIG)
    ex = parsed.example
    assert parsed.messages == []
    assert ex.label == 1 and ex.task_id == 9 and ex.image_url == TASK["data"]["image"]
    assert ex.positive == [(25, 50), (35, 60)] and ex.negative == [(80, 10)]
    assert ex.boxes == [(10, 20, 40, 60)]


def test_accepted_ignore_region_becomes_a_mask():
    mask = np.zeros((100, 200), dtype=np.uint8)
    mask[10:30, 50:90] = 255
    region = {"from_name": "paint", "to_name": "image", "type": "brushlabels", "original_width": 200, "original_height": 100,
              "value": {"format": "rle", "rle": mask2rle(mask), "brushlabels": ["Ignore"]}}
    heat = dict(region, value=dict(region["value"], brushlabels=["Attention"]))
    ex = parse_task(TASK, [_annotation([_choice("cat"), region, heat])], CONFIG).example
    assert len(ex.ignore_masks) == 1 and np.array_equal(ex.ignore_masks[0], mask > 0)


def test_latest_wins_merge_unions_and_cancelled_are_skipped():
    old = _annotation([_choice("cat"), _point("focus", 10, 10)], id=1, updated="2026-01-01T00:00:00Z")
    new = _annotation([_choice("dog"), _point("focus", 90, 90)], id=2, updated="2026-02-01T00:00:00Z")
    skipped = _annotation([_choice("cat")], id=3, updated="2026-03-01T00:00:00Z", cancelled=True)
    latest = parse_task(TASK, [new, old, skipped], CONFIG)
    assert latest.example.label == 1 and latest.example.positive == [(90, 90)] and latest.example.annotation_id == 2
    assert any("skipped by the annotator" in m for m in latest.messages)
    merged = parse_task(TASK, [new, old], CONFIG, policy="merge").example
    assert merged.positive == [(10, 10), (90, 90)] and merged.label == 1
    assert parse_task(TASK, [skipped], CONFIG).example is None
    with pytest.raises(ValueError):
        select_annotations([], "vote")


@pytest.mark.parametrize(
    "region, message",
    [
        (_choice("horse"), "unknown class"),
        (_point("focus", 120, 50), "outside the image"),
        (_point("focus", float("nan"), 50), "finite"),
        (_point("maybe", 20, 20), "unknown keypoint label"),
        (_point("focus", 20, 20, rotation=45), "multiple of 90"),
        (_box(10, 10, -5, 10), "positive width"),
        (_box(150, 10, 10, 10), "outside the image"),
        ({"type": "keypointlabels"}, "without a 'value'"),
    ],
)
def test_bad_regions_are_reported_not_fatal(region, message):
    parsed = parse_task(TASK, [_annotation([_choice("cat"), region])], CONFIG)
    assert parsed.example is not None and parsed.example.label == 0
    assert any(message in m for m in parsed.messages), parsed.messages
    assert not parsed.example.has_guidance


def test_rotated_clicks_map_back_to_the_image():
    for rotation, expected in [(0, (20, 30)), (90, (30, 80)), (180, (80, 70)), (270, (70, 20))]:
        ex = parse_task(TASK, [_annotation([_point("focus", 20, 30, rotation)])], CONFIG).example
        assert ex.positive == [pytest.approx(expected)], rotation


def test_tasks_without_image_or_annotation():
    assert "no 'image'" in parse_task({"id": 1, "data": {}}, [], CONFIG).messages[0]
    assert parse_task({"id": 1}, [], CONFIG).example is None
    assert "no usable annotation" in parse_task(TASK, [], CONFIG).messages[-1]
    assert "neither a class nor guidance" in parse_task(TASK, [_annotation([])], CONFIG).messages[-1]


def test_a_result_that_is_not_a_list_is_reported_not_fatal():
    config = LabelConfig.parse(render_template("click", ["a", "b"]))
    parsed = parse_task({"id": 1, "data": {"image": "x.png"}}, [{"id": 2, "result": True}], config)
    assert parsed.example is None and any("not a list" in m for m in parsed.messages)


def _brush(rle, width, height):
    return {"id": "r", "from_name": "paint", "to_name": "image", "type": "brushlabels", "original_width": width,
            "original_height": height, "value": {"format": "rle", "rle": rle, "brushlabels": ["Ignore"]}}


@pytest.mark.parametrize(
    "width, height, rle, message",
    [
        (16000, 16000, mask2rle(np.zeros((10, 10), np.uint8)), "at most 50000000"),  # claims 256 MP: never decoded
        (200, 100, mask2rle(np.zeros((10, 10), np.uint8)), "announces 400 values"),  # header says another size
        (200, 100, mask2rle(np.zeros((100, 200), np.uint8))[:-3], "ends in the middle"),  # header matches, runs cut
        (200, 100, "AAAA", "not a list of integers"),
        (200, 100, [300, 1, 2, 3], "outside 0..255"),
        (-200, -100, [0], "pixels"),
    ],
)
def test_brush_bombs_and_broken_rle_are_refused_before_decoding(width, height, rle, message):
    parsed = parse_task(TASK, [_annotation([_choice("cat"), _brush(rle, width, height)])], CONFIG)
    assert parsed.example.ignore_masks == []
    assert any(message in m for m in parsed.messages), parsed.messages


def test_a_crafted_long_run_cannot_allocate_more_than_the_limit():
    """Runs of 65536 values cost 27 bits each: 265 kB of RLE would announce 16000x16000 px. A header that matches
    the claimed size is still refused above the pixel limit, so nothing of that size is allocated."""
    side = 4000
    huge = mask2rle(np.zeros((side, side), np.uint8))  # 16 MP of zeros in a few kB
    parsed = parse_task(TASK, [_annotation([_choice("cat"), _brush(huge, side, side)])], CONFIG, max_pixels=1_000_000)
    assert parsed.example.ignore_masks == [] and "at most 1000000" in " ".join(parsed.messages)


def test_an_accepted_ignore_outline_becomes_a_mask_and_heat_outlines_are_skipped():
    square = [[10, 20], [40, 20], [40, 60], [10, 60]]

    def outline(label, points):
        return {"id": label, "from_name": "overlay", "to_name": "image", "type": "polygonlabels", "original_width": 4000,
                "original_height": 3000, "value": {"points": points, "polygonlabels": [label], "closed": True}}

    parsed = parse_task(TASK, [_annotation([_choice("cat"), outline("Ignore", square), outline("Attention", square),
                                            outline("Ignore", [[1, 2]])])], CONFIG)
    [mask] = parsed.example.ignore_masks
    assert mask.shape == (768, 1024)  # the outline's shape, at most MASK_SIDE: the training resizes it to its image
    rows, cols = np.nonzero(mask)
    assert abs(cols.min() / 1024 - 0.10) < 0.01 and abs(cols.max() / 1024 - 0.40) < 0.01
    assert abs(rows.min() / 768 - 0.20) < 0.01 and abs(rows.max() / 768 - 0.60) < 0.01
    assert any("3 to 10000 finite" in m for m in parsed.messages)


def test_label_roles_name_the_labels_of_a_template_in_another_language():
    from backend.labelstudio.config import LabelRoles

    xml = (render_template("combined", ["chat", "chien"]).replace('"focus"', '"objet"').replace('"ignore"', '"à négliger"')
           .replace('value="Ignore"', 'value="Fond"').replace('value="Object"', 'value="Sujet"'))
    english = LabelConfig.parse(xml)
    assert english.focus_label is None and english.ignore_point_label is None  # the English words find nothing
    roles = LabelRoles(focus=("OBJET",), ignore=("à négliger", "fond"), object=("sujet",))
    config = LabelConfig.parse(xml, roles)
    assert (config.focus_label, config.ignore_point_label) == ("objet", "à négliger")
    assert (config.ignore_region_label, config.saliency_label) == ("Fond", "Sujet")
    parsed = parse_task(TASK, [_annotation([_choice("chien"), _point("objet", 25, 50), _point("à négliger", 80, 10)])],
                        config)
    assert parsed.example.positive == [(25, 50)] and parsed.example.negative == [(80, 10)]
    assert config.digest != english.digest  # predictors and caches keyed by the config see the difference


def _object(mask, region_id="o"):
    height, width = mask.shape
    return {"id": region_id, "from_name": "paint", "to_name": "image", "type": "brushlabels", "original_width": width,
            "original_height": height, "value": {"format": "rle", "rle": mask2rle(mask), "brushlabels": ["Object"]}}


def test_object_regions_declaring_different_sizes_still_make_one_object_mask():
    """Once a poisoned journal: two valid regions of 64x64 and 32x48 made every later training run fail."""
    first, second = np.zeros((64, 64), np.uint8), np.zeros((48, 32), np.uint8)
    first[:32, :32] = 255
    second[24:, 16:] = 255
    ex = parse_task(TASK, [_annotation([_choice("cat"), _object(first, "a"), _object(second, "b")])], CONFIG).example
    union = ex.saliency_mask()
    assert union.shape == (64, 64) and union[:32, :32].all() and union[48:, 32:].all() and not union[:32, 40:].any()


def test_brush_regions_are_budgeted_per_annotation_and_kept_small():
    """30 regions each just under the per-region limit once cost gigabytes in one webhook."""
    side = 300
    regions = [dict(_brush(mask2rle(np.full((side, side), 255, np.uint8)), side, side), id=f"r{i}") for i in range(30)]
    parsed = parse_task(TASK, [_annotation([_choice("cat"), *regions])], CONFIG, max_pixels=side * side)
    from backend.labelstudio.controls import BRUSH_BUDGET, MASK_SIDE

    assert len(parsed.example.ignore_masks) == BRUSH_BUDGET and parsed.over_limits
    assert sum("brush regions hold more than" in m for m in parsed.messages) == 30 - BRUSH_BUDGET
    big = np.zeros((1500, 3000), np.uint8)
    kept = parse_task(TASK, [_annotation([_choice("cat"), _brush(mask2rle(big), 3000, 1500)])], CONFIG).example
    assert kept.ignore_masks[0].shape == (MASK_SIDE // 2, MASK_SIDE)


@pytest.mark.parametrize("region", [
    {"type": "where", "value": {}},  # once dispatched to a helper by its name: TypeError and a 500
    {"type": "_where", "value": {}},
    {"type": "read", "value": {}},
    {"type": "keypointlabels", "value": {"x": 10, "y": 10, "keypointlabels": ["focus"]}, "image_rotation": [90]},
])
def test_region_types_and_values_no_reader_foresaw_are_reported_and_skipped(region):
    parsed = parse_task(TASK, [_annotation([_choice("cat"), region])], CONFIG)
    assert parsed.example.label == 0 and parsed.messages and not parsed.over_limits


def test_messages_quote_at_most_a_little_of_what_the_annotator_sent():
    parsed = parse_task(TASK, [_annotation([_choice("x" * 5_000_000)])], CONFIG)
    assert parsed.messages and all(len(m) < 400 for m in parsed.messages)
