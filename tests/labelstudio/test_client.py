from backend.labelstudio.client import annotated_ids, annotated_labels
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.templates import render_template

CONFIG = LabelConfig.parse(render_template("click", ["cat", "dog"]))


def _choice(name: str) -> dict:
    return {"from_name": CONFIG.choices_name, "to_name": CONFIG.image_name, "type": "choices", "value": {"choices": [name]}}


def test_annotated_tasks_and_their_labels():
    tasks = [
        {"id": 1, "data": {"image": "a.png"}, "annotations": [{"id": 10, "result": [_choice("dog")]}]},
        {"id": 2, "data": {"image": "b.png"}, "annotations": [{"id": 11, "was_cancelled": True, "result": [_choice("cat")]}]},
        {"id": 3, "data": {"image": "c.png"}, "annotations": []},
        {"id": 4, "data": {"image": "d.png"}, "annotations": [{"id": 12, "result": []}]},  # annotated, no class
    ]
    assert annotated_ids(tasks) == {1, 4}
    assert annotated_labels(tasks, CONFIG) == {1: 1}
