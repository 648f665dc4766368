import pytest

from backend.evaluation.annotators import click_event
from backend.labelstudio.config import LabelConfig
from backend.service import feedback
from backend.service.feedback import EventError, record_event
from backend.storage.journal import AnnotationJournal
from backend.storage.project_dir import ProjectDir


@pytest.fixture
def requests_made(monkeypatch):
    """Training requests, without starting runner processes."""
    made = []
    monkeypatch.setattr(feedback.TrainingScheduler, "request", lambda self, folder: made.append(folder.key) or "started")
    return made


def test_an_annotation_is_recorded_without_loading_a_model(biased_project, tmp_path, requests_made):
    data, settings, xml = biased_project
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")  # a model that cannot load must not stop feedback from being recorded
    settings = settings.updated(model_path=str(broken), train_every=2)
    config = LabelConfig.parse(xml)
    first = record_event(settings, 3, config, "ANNOTATION_CREATED", click_event(data, xml, 0, 3))
    assert first == {"status": "recorded", "changes_since_training": 1} and requests_made == []
    second = record_event(settings, 3, config, "ANNOTATION_CREATED", click_event(data, xml, 1, 3))
    assert second == {"status": "started", "project": "3"} and requests_made == ["3"]
    journal = AnnotationJournal(ProjectDir(settings.model_dir, 3)).read()
    assert journal["label_config"] == xml and sorted(journal["tasks"]) == ["0", "1"] and journal["since_training"] == 0


def test_problems_are_reported_and_bad_bodies_refused(biased_project, requests_made):
    data, settings, xml = biased_project
    config = LabelConfig.parse(xml)
    event = click_event(data, xml, 0, 3)
    event["annotation"]["result"].append({"id": "p", "type": "keypointlabels", "from_name": config.keypoints_name,
                                          "value": {"x": 150.0, "y": 5.0, "keypointlabels": [config.focus_label]}})
    answer = record_event(settings, 3, config, "ANNOTATION_UPDATED", event)
    assert answer["status"] == "started" and any("outside the image" in p for p in answer["problems"])
    with pytest.raises(EventError, match="annotation"):
        record_event(settings, 3, config, "ANNOTATION_CREATED", {"task": {"id": 1}})
    with pytest.raises(EventError, match="list"):
        record_event(settings, 3, config, "ANNOTATIONS_DELETED", {"annotations": "all"})
    assert record_event(settings, 3, config, "PROJECT_UPDATED", {})["status"] == "ignored"


def test_deleting_the_last_annotation_does_not_train(biased_project, requests_made):
    data, settings, xml = biased_project
    config = LabelConfig.parse(xml)
    settings = settings.updated(train_every=0)
    record_event(settings, 3, config, "ANNOTATION_CREATED", click_event(data, xml, 0, 3))
    record_event(settings, 3, config, "ANNOTATION_CREATED", click_event(data, xml, 1, 3))
    assert record_event(settings, 3, config, "ANNOTATIONS_DELETED", {"annotations": [{"id": 1000}]})["status"] == "started"
    assert record_event(settings, 3, config, "ANNOTATIONS_DELETED", {"annotations": [1001]}) == {"status": "recorded", "removed": 1}
    assert record_event(settings, 3, config, "START_TRAINING", {})["status"] == "started"
    assert requests_made == ["3", "3"]


@pytest.mark.parametrize("reference", ["images/test/00000.png\x00", "x" * 10_000_000, "a\\b.png"])
def test_a_poisoned_reference_is_refused_before_anything_is_written(biased_project, requests_made, reference):
    data, settings, xml = biased_project
    event = click_event(data, xml, 0, 3)
    event["task"]["data"]["image"] = reference
    with pytest.raises(EventError, match="image reference"):
        record_event(settings, 3, LabelConfig.parse(xml), "ANNOTATION_CREATED", event)
    assert not ProjectDir(settings.model_dir, 3).journal.exists() and requests_made == []


def test_a_brush_bomb_in_a_webhook_is_reported_without_being_decoded(biased_project, requests_made):
    """A region claiming 16000x16000 px with an RLE whose header agrees would decode to 1 GB; it is refused by its
    claimed size, recorded as a problem, and the rest of the annotation still counts."""
    import numpy as np
    from label_studio_sdk.converter.brush import mask2rle

    data, settings, xml = biased_project
    config = LabelConfig.parse(xml)
    event = click_event(data, xml, 0, 3)
    header = list((16000 * 16000 * 4).to_bytes(4, "big"))
    bomb = {"id": "bomb", "type": "brushlabels", "from_name": config.brush_name, "original_width": 16000,
            "original_height": 16000, "value": {"format": "rle", "brushlabels": [config.ignore_region_label],
                                                "rle": header + mask2rle(np.zeros((8, 8), np.uint8))[4:]}}
    event["annotation"]["result"].append(bomb)
    answer = record_event(settings, 3, config, "ANNOTATION_CREATED", event)
    assert answer["status"] == "started" and any("MAX_IMAGE_PIXELS" in p for p in answer["problems"])
