"""SAL in the backend: two models per project, the change point, machine saliency and the suggested region."""
from dataclasses import replace

import numpy as np
import pytest

from backend.annotations import parse_task
from backend.annotators import box_annotation
from backend.checkpoints import ModelStore
from backend.journal import AnnotationJournal
from backend.label_config import LabelConfig
from backend.model import ModelManager
from backend.sal import INTERPRETABILITY, ChangePoint, SALState, interpretability_store
from backend.training_run import run_training

PROJECT = 5


def test_change_point_forms():
    assert ChangePoint.parse("40") == ChangePoint("count", 40)
    assert ChangePoint.parse("0.2") == ChangePoint.parse("20%") == ChangePoint("fraction", 0.2)
    assert ChangePoint.parse("auto").kind == "auto"
    for bad in ("soon", "-3", "0"):
        with pytest.raises(ValueError, match="SAL_CHANGE_POINT"):
            ChangePoint.parse(bad)
    assert ChangePoint.parse("0.2").reached(human=20, tasks=100, dice_history=[]) is True
    assert ChangePoint.parse("0.2").reached(human=19, tasks=100, dice_history=[]) is False
    assert ChangePoint.parse("3").reached(human=3, tasks=0, dice_history=[]) is True
    auto = ChangePoint.parse("auto")
    assert auto.reached(0, 0, [0.40, 0.55, 0.556, 0.559]) is True  # two runs in a row with < 0.01 gain
    assert auto.reached(0, 0, [0.40, 0.55, 0.556, 0.59]) is False
    assert auto.reached(0, 0, [0.5, 0.5]) is False  # not enough history


@pytest.fixture
def project(biased_project):
    data, settings, xml = biased_project
    settings = replace(settings, train_steps=4, sal_change_point="2")
    config = LabelConfig.parse(xml)
    journal = AnnotationJournal(settings.model_dir, PROJECT)
    journal.set_label_config(xml)
    for index, sample in enumerate(data.splits["train"][:6]):
        if index < 2:  # a person drew the box: human saliency
            annotation = box_annotation(config, sample.label, sample.box, (64, 64))
        else:  # a person only chose the class
            annotation = {"result": [{"from_name": "class", "to_name": "image", "type": "choices",
                                      "value": {"choices": [data.classes[sample.label]]}}]}
        task = {"id": index, "data": {"image": f"/data/local-files/?d={sample.image.relative_to(data.root)}"}}
        journal.upsert(task, annotation | {"id": 100 + index})
    return settings, xml


def test_two_models_then_machine_saliency_after_the_change_point(project):
    settings, xml = project
    first = run_training(PROJECT, settings)
    assert first.metrics["sal_phase"] == "human" and first.metrics["machine_saliency"] == 0
    assert first.metrics["human_saliency"] == 2
    store = interpretability_store(settings, PROJECT)
    assert [m.version for m in store.versions(INTERPRETABILITY)] == ["v0001"]
    assert [m.version for m in ModelStore(settings.model_dir).versions(PROJECT)] == ["v0001"]  # the interpretability folder is not a version
    assert ModelManager(settings).get(PROJECT, xml).interpretability is None  # no suggestions before the change point

    second = run_training(PROJECT, settings)
    assert second.metrics["sal_phase"] == "machine" and second.metrics["machine_saliency"] == 4
    assert SALState.load(settings, PROJECT).switched_at == 2
    assert [m.version for m in store.versions(INTERPRETABILITY)] == ["v0001", "v0002"]

    model = ModelManager(settings).get(PROJECT, xml)
    assert model.model_version == "v0002" and model.interpretability.version == "v0002"
    task = {"id": 50, "data": {"image": "/data/local-files/?d=images/test/00000.png"}}
    prediction = model.predict([task])[0]
    assert LabelConfig.parse(xml).interface.validate_prediction(prediction, return_errors=True) == []
    suggested = [r for r in prediction["result"] if r["type"] == "brushlabels" and r["value"]["brushlabels"] == ["Object"]]
    assert len(suggested) == 1 and not suggested[0].get("readonly")

    accepted = {"id": 7, "result": [r for r in prediction["result"] if r["type"] in ("choices", "brushlabels")
                                    and r["value"].get("brushlabels", ["Object"]) == ["Object"]]}
    example = parse_task(task, [accepted], LabelConfig.parse(xml)).example
    assert example.has_saliency and example.saliency_mask().shape == (64, 64) and 0 < example.saliency_mask().mean() < 1


def test_sal_off_trains_one_model(project):
    settings, _ = project
    manifest = run_training(PROJECT, replace(settings, sal_change_point=""))
    assert "sal_phase" not in manifest.metrics
    assert interpretability_store(settings, PROJECT).versions(INTERPRETABILITY) == []
    assert np.isfinite(manifest.metrics["loss"])
