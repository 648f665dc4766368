import pytest

from backend.evaluation.annotators import click_event
from backend.labelstudio.config import LabelConfig
from backend.service import feedback
from backend.service.feedback import record_event
from backend.service.project_settings import for_project, save_extra_params
from backend.settings import SettingsError
from backend.storage.project_dir import ProjectDir


def test_a_projects_model_card_overrides_the_environment_for_that_project_only(settings):
    mine, other = ProjectDir(settings.model_dir, 4), ProjectDir(settings.model_dir, 5)
    saved = save_extra_params(settings, mine, {"train_loss": "swap", "TRAIN_STEPS": 7, "queue_strategy": "entropy"})
    assert saved == {"TRAIN_LOSS": "swap", "TRAIN_STEPS": "7", "QUEUE_STRATEGY": "entropy"}
    chosen = for_project(settings, mine)
    assert (chosen.train.loss, chosen.train.steps, chosen.queue_strategy) == ("swap", 7, "entropy")
    assert chosen.model_path == settings.model_path and chosen.label_studio_api_key == settings.label_studio_api_key
    assert for_project(settings, other) == settings
    save_extra_params(settings, mine, {})  # the card's settings were removed: the environment's apply again
    assert for_project(settings, mine) == settings


@pytest.mark.parametrize("extra, message", [
    ({"TRAIN_LOSS": "magic"}, "TRAIN_LOSS"),
    ({"TRAIN_STEPS": "0"}, "TRAIN_STEPS"),
    ({"TRAIN_STEPS": "1000000000"}, "TRAIN_STEPS"),  # would hold the only training slot for years
    ({"QUEUE_BATCH_SIZE": str(10**12)}, "QUEUE_BATCH_SIZE"),
    ({"TRAIN_EVERY": "inf"}, "TRAIN_EVERY"),
    ({"MODEL_PATH": "/etc/passwd"}, "cannot be set per project"),
    (["TRAIN_LOSS"], "JSON object"),
])
def test_bad_extra_params_are_refused_by_name_and_change_nothing(settings, extra, message):
    folder = ProjectDir(settings.model_dir, 4)
    save_extra_params(settings, folder, {"TRAIN_STEPS": 9})
    with pytest.raises(SettingsError, match=message):
        save_extra_params(settings, folder, extra)
    assert for_project(settings, folder).train.steps == 9


def test_the_projects_training_cadence_decides_when_a_run_is_requested(biased_project, monkeypatch):
    data, settings, xml = biased_project
    made = []
    monkeypatch.setattr(feedback.TrainingScheduler, "request", lambda self, folder: made.append(folder.key) or "started")
    settings = settings.updated(train_every=1)
    save_extra_params(settings, ProjectDir(settings.model_dir, 3), {"TRAIN_EVERY": 3})
    config = LabelConfig.parse(xml)
    answers = [record_event(settings, 3, config, "ANNOTATION_CREATED", click_event(data, xml, i, 3))["status"] for i in range(3)]
    assert answers == ["recorded", "recorded", "started"] and made == ["3"]
