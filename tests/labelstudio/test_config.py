import pytest

from backend.labelstudio.config import LabelConfig, LabelConfigError
from backend.labelstudio.templates import TEMPLATES, render_template


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_parse_with_the_controls_the_backend_needs(name):
    config = LabelConfig.parse(render_template(name, ["boat", "car", "horse"]))
    assert config.classes == ("boat", "car", "horse")
    assert (config.image_name, config.image_key, config.choices_name) == ("image", "image", "class")
    assert config.overlay_name == "overlay" and config.overlay_heat_label == "Attention"
    assert config.heat_label is None  # the brush is the annotator's; the model draws outlines in the overlay
    assert config.guess_name == "model_guess"  # the model's guess is shown apart from the annotator's answer
    if name in ("click", "combined"):
        assert (config.focus_label, config.ignore_point_label) == ("focus", "ignore")
        assert config.ignore_region_label == "Ignore" and config.overlay_ignore_label == "Ignore"
        assert config.brush_name == "paint"
    if name in ("box", "combined"):
        assert config.rectangles_name == "box" and config.object_labels == ("object",)


def test_a_second_choices_is_the_models_guess_only_with_the_same_classes():
    other = ("<View><Image name='i' value='$img'/><Choices name='c' toName='i'><Choice value='x'/><Choice value='y'/>"
             "</Choices><Choices name='quality' toName='i'><Choice value='blurry'/><Choice value='sharp'/></Choices></View>")
    assert LabelConfig.parse(other).guess_name is None
    same = other.replace("'blurry'", "'x'").replace("'sharp'", "'y'")
    assert LabelConfig.parse(same).guess_name == "quality"


def test_render_template_escapes_and_checks_classes():
    xml = render_template("click", ['a "quoted" <class>', "b"])
    assert LabelConfig.parse(xml).classes == ('a "quoted" <class>', "b")
    with pytest.raises(ValueError):
        render_template("click", ["only"])
    with pytest.raises(ValueError):
        render_template("nope")


@pytest.mark.parametrize(
    "xml, message",
    [
        ("", "empty"),
        ("<View><Image name='i' value='$img'/>", "not valid XML"),
        ("<View><Text name='t' value='$t'/></View>", "no <Image>"),
        ("<View><Image name='i' value='$img'/></View>", "no <Choices>"),
        ("<View><Image name='i' value='$img'/><Choices name='c' toName='i'><Choice value='x'/></Choices></View>", "two"),
    ],
)
def test_configs_without_what_we_need_are_refused(xml, message):
    with pytest.raises(LabelConfigError, match=message):
        LabelConfig.parse(xml)


def test_minimal_config_without_brush_is_accepted():
    config = LabelConfig.parse(
        "<View><Image name='img' value='$photo'/><Choices name='c' toName='img'>"
        "<Choice value='x'/><Choice value='y'/></Choices></View>"
    )
    assert config.image_key == "photo" and config.brush_name is None
