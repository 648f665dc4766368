import json

import numpy as np
from label_studio_sdk.converter.brush import decode_rle

from backend.core.outlines import polygon_mask
from backend.core.superpixels import SuperpixelParams, compute_superpixels
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.predictions import choice_region, heat_alpha, heat_region, ignore_candidates, ignore_regions
from backend.labelstudio.templates import render_template
from backend.models.inference import Analysis

CONFIG = LabelConfig.parse(render_template("combined", ["a", "b"]))


def _analysis(attention: np.ndarray) -> Analysis:
    return Analysis(probabilities=np.array([0.2, 0.8]), attention=attention, embedding=np.zeros(4))


def _decoded_alpha(region: dict) -> np.ndarray:
    h, w = region["original_height"], region["original_width"]
    return decode_rle(region["value"]["rle"]).reshape(h, w, 4)[..., 3]


def test_the_predicted_class_is_a_guess_and_ticks_the_answer_only_when_asked():
    [guess] = choice_region(CONFIG, _analysis(np.zeros((8, 8))))
    assert guess["from_name"] == "model_guess" and guess["value"] == {"choices": ["b"]} and guess["score"] == 0.8
    both = choice_region(CONFIG, _analysis(np.zeros((8, 8))), prefill=True)
    assert [r["from_name"] for r in both] == ["model_guess", "class"] and both[1]["value"] == {"choices": ["b"]}
    plain = LabelConfig.parse("<View><Image name='i' value='$img'/><Choices name='c' toName='i'><Choice value='a'/>"
                              "<Choice value='b'/></Choices></View>")
    assert choice_region(plain, _analysis(np.zeros((8, 8)))) == []
    assert [r["from_name"] for r in choice_region(plain, _analysis(np.zeros((8, 8))), prefill=True)] == ["c"]


def test_heat_outlines_are_nested_levels_that_follow_the_attention():
    ramp = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))  # left to right
    regions = heat_region(CONFIG, _analysis(ramp), (3000, 4000), floor=0.2)
    assert [r["meta"]["level"] for r in regions] == [1, 2, 3, 4]
    for region in regions:
        assert region["type"] == "polygonlabels" and region["readonly"] and region["from_name"] == "overlay"
        assert region["value"]["polygonlabels"] == ["Attention"]
        assert (region["original_width"], region["original_height"]) == (4000, 3000)
    left_edges = [min(x for x, _ in r["value"]["points"]) for r in regions]
    assert all(a < b for a, b in zip(left_edges, left_edges[1:]))  # each level starts further right
    assert 15 < left_edges[0] < 25  # the floor 0.2 is reached a fifth of the way across
    assert len(json.dumps(regions)) < 4000  # a few outlines, whatever the image size


def test_configs_without_an_overlay_get_a_graded_brush_at_image_size():
    legacy = LabelConfig.parse(
        '<View><Image name="image" value="$image"/><Choices name="class" toName="image"><Choice value="a"/>'
        '<Choice value="b"/></Choices><BrushLabels name="paint" toName="image"><Label value="Attention"/>'
        '<Label value="Ignore"/></BrushLabels></View>')
    assert legacy.overlay_name is None and legacy.heat_label == "Attention"
    ramp = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))
    [region] = heat_region(legacy, _analysis(ramp), (60, 90), floor=0.2)
    alpha = _decoded_alpha(region)
    assert alpha[:, :10].max() == 0 and np.all(np.diff(alpha[30].astype(int)) >= 0) and len(np.unique(alpha)) >= 6
    assert np.array_equal(heat_alpha(ramp, 60, 90, 0.2), alpha)


def test_ignore_candidates_skip_the_focus_and_weak_segments(rgb_image):
    sp = compute_superpixels(rgb_image, SuperpixelParams("slic", segments=4))
    attention = np.zeros(sp.labels.shape, dtype=np.float32)
    blocks = {(5, 5): 1.0, (5, 50): 0.6, (40, 5): 0.4, (40, 50): 0.05}
    for (r, c), v in blocks.items():
        attention[sp.labels == sp.labels[r, c]] = v
    found = ignore_candidates(sp, attention, limit=5, threshold=0.3)
    segments = [s for s, _ in found]
    assert sp.labels[5, 5] not in segments  # the focus itself
    assert segments == [sp.labels[5, 50], sp.labels[40, 5]]  # strongest first, 0.05 is below 0.3 of max


def test_ignore_regions_are_exact_superpixel_outlines(rgb_image):
    sp = compute_superpixels(rgb_image, SuperpixelParams("slic", segments=4))
    attention = np.where(sp.labels == sp.labels[5, 5], 1.0, 0.5).astype(np.float32)
    regions = ignore_regions(CONFIG, _analysis(attention), sp, (3000, 4000), limit=2, threshold=0.3)
    assert len(regions) == 2
    for region in regions:
        assert region["value"]["polygonlabels"] == ["Ignore"] and region["from_name"] == "overlay"
        points = np.asarray(region["value"]["points"]) / 100
        segment = sp.labels == region["meta"]["segment"]
        assert np.array_equal(polygon_mask(points, sp.labels.shape), segment)  # exactly what a click maps back to
