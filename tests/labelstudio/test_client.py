from backend.labelstudio.client import LabelStudioAccess, annotated_examples, annotated_ids
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
    assert [(e.task_id, e.label) for e in annotated_examples(tasks, CONFIG)] == [(1, 1)]  # 4 has neither class nor guidance


def test_a_label_studio_that_answers_429_is_asked_again_after_a_back_off():
    import json

    from backend.labelstudio.client import connect
    from tests.support.stand_in import QuietHandler, serving

    asked = []

    class Busy(QuietHandler):
        def do_GET(self):  # noqa: N802
            asked.append(self.path)
            if len(asked) <= 2:
                return self.answer(429, Retry_After="0.2")
            self.answer(200, json.dumps({"id": 5, "title": "busy", "label_config": "<View/>"}).encode(),
                        Content_Type="application/json")

    with serving(Busy) as url:
        project = connect(LabelStudioAccess(url, "token", timeout=5)).projects.get(5)
    assert project.id == 5 and len(asked) == 3
