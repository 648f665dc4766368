"""SAL in the backend: two models per project, the change point, machine saliency and the suggested region."""
import numpy as np
import pytest

from backend.evaluation.annotators import box_annotation
from backend.labelstudio.annotations import parse_task
from backend.labelstudio.config import LabelConfig
from backend.service.predictor import PredictorCache
from backend.service.sal_training import load_sal_state
from backend.service.training_run import run_training
from backend.storage.journal import AnnotationJournal
from backend.storage.project_dir import ProjectDir

PROJECT = 5


@pytest.fixture
def project(biased_project):
    data, settings, xml = biased_project
    settings = settings.updated(train_steps=4, sal_change_point="2")
    config = LabelConfig.parse(xml)
    journal = AnnotationJournal(ProjectDir(settings.model_dir, PROJECT))
    for index, sample in enumerate(data.splits["train"][:6]):
        if index < 2:  # a person drew the box: human saliency
            annotation = box_annotation(config, sample.label, sample.box, (64, 64))
        else:  # a person only chose the class
            annotation = {"result": [{"from_name": "class", "to_name": "image", "type": "choices",
                                      "value": {"choices": [data.classes[sample.label]]}}]}
        task = {"id": index, "data": {"image": f"/data/local-files/?d={sample.image.relative_to(data.root)}"}}
        journal.upsert(task, annotation | {"id": 100 + index}, xml, train_every=0)
    return settings, xml


def test_two_models_then_machine_saliency_after_the_change_point(project):
    settings, xml = project
    folder = ProjectDir(settings.model_dir, PROJECT)
    first = run_training(folder, settings).manifest
    assert first.metrics["sal_phase"] == "human" and first.metrics["machine_saliency"] == 0
    assert first.metrics["human_saliency"] == 2
    store = folder.interpretability_models
    assert [m.version for m in store.versions()] == ["v0001"]
    assert [m.version for m in folder.models.versions()] == ["v0001"]  # the interpretability folder is not a version
    assert PredictorCache(settings.serving).get(PROJECT, xml).interpretability is None  # no suggestions before the change point

    second = run_training(folder, settings).manifest
    assert second.metrics["sal_phase"] == "machine" and second.metrics["machine_saliency"] == 4
    assert load_sal_state(folder).switched_at == 2
    assert [m.version for m in store.versions()] == ["v0001", "v0002"]

    model = PredictorCache(settings.serving).get(PROJECT, xml)
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


def test_a_broken_state_file_starts_afresh(tmp_path):
    folder = ProjectDir(tmp_path, 1)
    folder.ensure()
    folder.sal_state.write_text('{"phase": "machine", "unknown": 1}')
    assert load_sal_state(folder).phase == "human"


def test_sal_off_trains_one_model(project):
    settings, _ = project
    folder = ProjectDir(settings.model_dir, PROJECT)
    manifest = run_training(folder, settings.updated(sal_change_point="")).manifest
    assert "sal_phase" not in manifest.metrics
    assert folder.interpretability_models.versions() == []
    assert np.isfinite(manifest.metrics["loss"])
