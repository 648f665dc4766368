from backend.labelstudio.config import LabelConfig
from backend.labelstudio.regions import choice, region
from backend.labelstudio.templates import render_template

CONFIG = LabelConfig.parse(render_template("combined", ["cat", "dog"]))


def test_a_region_names_its_control_and_image_and_sizes_when_given():
    point = region(CONFIG, CONFIG.keypoints_name, "keypointlabels", {"x": 1.0, "y": 2.0}, (30, 40))
    assert point["to_name"] == CONFIG.image_name and point["from_name"] == CONFIG.keypoints_name
    assert (point["original_width"], point["original_height"], point["image_rotation"]) == (40, 30, 0)
    assert point["value"] == {"x": 1.0, "y": 2.0} and len(point["id"]) == 10
    other = region(CONFIG, CONFIG.keypoints_name, "keypointlabels", {})
    assert "original_width" not in other and other["id"] != point["id"]


def test_choice_names_the_class():
    assert choice(CONFIG, 1)["value"] == {"choices": ["dog"]} and choice(CONFIG, 1)["type"] == "choices"
