"""One training run: Label Studio first, the recorded annotations when it cannot be reached."""
import time

from backend.service import training_run
from tests.service.projects import folder_of, record_click


def test_training_goes_on_when_label_studio_cannot_be_reached(env, caplog):
    import logging
    import socket

    data, settings, xml = env
    silent = socket.socket()  # accepts connections and never answers: a hung Label Studio
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    hung = settings.updated(label_studio_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
                            label_studio_api_key="never-logged-token", label_studio_timeout=1.0)
    record_click(data, settings, xml)
    started = time.time()
    with caplog.at_level(logging.WARNING):
        result = training_run.run_training(folder_of(settings), hung)
    manifest = result.manifest
    silent.close()
    assert manifest.version == "v0001" and manifest.annotation_count == 1 and result.labels == {0: 0}
    assert "could not read annotations from Label Studio" in caplog.text and "never-logged-token" not in caplog.text
    assert time.time() - started < 60


def test_a_bad_example_in_the_journal_is_skipped_not_fatal(env, caplog):
    import logging

    from backend.evaluation.annotators import click_event
    from backend.storage.journal import AnnotationJournal

    data, settings, xml = env
    journal = AnnotationJournal(folder_of(settings))
    good = click_event(data, xml, 0, 8)
    journal.upsert(good["task"], good["annotation"], xml, train_every=0)
    bad = click_event(data, xml, 1, 8)  # recorded before references were checked at the webhook
    bad["task"]["data"]["image"] = "/data/local-files/?d=images/x.png\x00" + "y" * 5_000_000
    journal.upsert(bad["task"], bad["annotation"], xml, train_every=0)
    with caplog.at_level(logging.WARNING):
        result = training_run.run_training(folder_of(settings), settings)
    assert result.manifest.annotation_count == 1
    assert "skipped" in caplog.text and max(len(r.getMessage()) for r in caplog.records) < 2000


def test_each_version_is_measured_on_held_out_annotations_beside_its_parent(env):
    from PIL import Image

    from backend.evaluation.annotators import box_annotation
    from backend.http.server import create_app
    from backend.labelstudio.config import LabelConfig
    from backend.storage.journal import AnnotationJournal
    from backend.training.validation import holdout_split

    data, settings, xml = env
    config = LabelConfig.parse(xml)
    journal = AnnotationJournal(folder_of(settings))
    for index in range(12):
        sample = data.splits["train"][index]
        annotation = box_annotation(config, sample.label, sample.box, Image.open(sample.image).size[::-1]) | {"id": 500 + index}
        task = {"id": index, "data": {"image": f"/data/local-files/?d={sample.image.relative_to(data.root)}"}}
        journal.upsert(task, annotation, xml, train_every=0)
    manifest = training_run.run_training(folder_of(settings), settings).manifest
    train_at, held_at = holdout_split(list(range(12)), settings.validation_share)
    assert manifest.metrics["examples"] == len(train_at) and manifest.annotation_count == 12  # the held-out do not train
    for name in ("validation", "validation_parent"):
        found = manifest.metrics[name]
        assert found["held_out"] == found["with_class"] == found["with_box"] == found["with_object"] == len(held_at)
        assert 0 <= found["accuracy"] <= 1 and 0 <= found["pointing_game"] <= 1 and 0 <= found["attention_outside_box"] <= 1
    assert folder_of(settings).version_chart.exists()  # the PNG people look at
    cards = create_app(settings).test_client().get("/versions?project=8").json["measured"]["8"]
    assert cards[0]["version"] == "v0001" and cards[0]["validation"] == manifest.metrics["validation"]


def test_annotations_that_once_poisoned_the_journal_train(env):
    """Two object regions declaring different sizes and a region type no reader knows, recorded through the
    webhook: every later run used to fail in Example.saliency_mask or on the unknown type."""
    import numpy as np
    from label_studio_sdk.converter.brush import mask2rle

    from backend.evaluation.annotators import click_event
    from backend.http.server import create_app
    from backend.labelstudio.config import LabelConfig

    data, settings, xml = env
    config = LabelConfig.parse(xml)
    event = click_event(data, xml, 0, 8)
    for width, height in ((64, 64), (32, 48)):
        mask = np.zeros((height, width), np.uint8)
        mask[: height // 2, : width // 2] = 255
        event["annotation"]["result"].append(
            {"id": f"o{width}", "type": "brushlabels", "from_name": config.brush_name, "original_width": width,
             "original_height": height, "value": {"format": "rle", "rle": mask2rle(mask), "brushlabels": [config.saliency_label]}})
    event["annotation"]["result"].append({"type": "where", "value": {}})
    client = create_app(settings.updated(train_every=0)).test_client()
    assert client.post("/webhook", json=event).status_code == 200
    assert training_run.run_training(folder_of(settings), settings).manifest.annotation_count == 1
    assert client.post("/webhook", json=click_event(data, xml, 1, 8)).status_code == 200  # a later good one
    assert training_run.run_training(folder_of(settings), settings).manifest.annotation_count == 2
