import numpy as np
import pytest

from backend.core.superpixels import SuperpixelParams, compute_superpixels
from backend.evaluation.annotators import BOX_SECONDS, CLICK_SECONDS, box_annotation, click_annotation
from backend.labelstudio.annotations import parse_task
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.templates import render_template


@pytest.fixture
def scene():
    image = np.full((60, 80, 3), 120, dtype=np.uint8)
    mask = np.zeros((60, 80), dtype=bool)
    mask[20:45, 30:60] = True
    image[mask] = (200, 200, 200)
    image[5:15, 5:15] = (230, 40, 40)  # the shortcut
    attention = np.zeros((60, 80), dtype=np.float32)
    attention[5:15, 5:15] = 1.0
    attention[25:35, 35:50] = 0.4
    return image, mask, attention


@pytest.mark.parametrize("template", ["click", "combined"])
def test_click_annotation_is_valid_and_lands_where_it_should(scene, template):
    image, mask, attention = scene
    config = LabelConfig.parse(render_template(template, ["a", "b"]))
    superpixels = compute_superpixels(image, SuperpixelParams(segments=24))
    annotation = click_annotation(config, 1, mask, attention, superpixels)
    assert annotation["lead_time"] == CLICK_SECONDS
    assert config.interface.validate_prediction({"result": annotation["result"]}, return_errors=True) == []
    example = parse_task({"id": 1, "data": {"image": "x.png"}}, [annotation], config).example
    assert example.label == 1 and len(example.positive) == 1 and 1 <= len(example.negative) <= 3
    x, y = example.positive[0]
    assert mask[int(y / 100 * 60), int(x / 100 * 80)]
    for x, y in example.negative:
        assert not mask[int(y / 100 * 60), int(x / 100 * 80)]
    nx, ny = example.negative[0]  # the strongest outside-object attention is the red patch
    assert 5 <= ny / 100 * 60 < 15 + 3 and 5 <= nx / 100 * 80 < 15 + 3


def test_noisy_click_stays_inside_the_object(scene):
    _, mask, _ = scene
    config = LabelConfig.parse(render_template("click", ["a", "b"]))
    rng = np.random.default_rng(1)
    for _ in range(20):
        region = click_annotation(config, 0, mask, rng=rng, noise=0.3)["result"][1]
        x, y = region["value"]["x"], region["value"]["y"]
        assert mask[int(y / 100 * 60), int(x / 100 * 80)]


@pytest.mark.parametrize("template", ["box", "combined"])
def test_box_annotation_round_trips(template):
    config = LabelConfig.parse(render_template(template, ["a", "b"]))
    annotation = box_annotation(config, 0, (30, 20, 60, 45), (60, 80))
    assert annotation["lead_time"] == BOX_SECONDS
    assert config.interface.validate_prediction({"result": annotation["result"]}, return_errors=True) == []
    example = parse_task({"id": 1, "data": {"image": "x.png"}}, [annotation], config).example
    assert example.boxes == [pytest.approx((37.5, 100 / 3, 75.0, 75.0))]
    jittered = box_annotation(config, 0, (30, 20, 60, 45), (60, 80), np.random.default_rng(0), jitter=0.1)
    value = jittered["result"][1]["value"]
    assert value["x"] != 37.5 and 0 <= value["x"] and value["x"] + value["width"] <= 100.0001


def test_annotators_need_the_right_controls(scene):
    _, mask, _ = scene
    with pytest.raises(ValueError, match="KeyPointLabels"):
        click_annotation(LabelConfig.parse(render_template("box", ["a", "b"])), 0, mask)
    with pytest.raises(ValueError, match="RectangleLabels"):
        box_annotation(LabelConfig.parse(render_template("click", ["a", "b"])), 0, (0, 0, 5, 5), (10, 10))
