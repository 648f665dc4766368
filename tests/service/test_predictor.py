import logging

from backend.labelstudio.config import LabelConfig
from backend.service.predictor import Predictor, PredictorCache
from backend.storage.project_dir import ProjectDir


def test_predict_returns_validated_pre_annotations(settings, label_config_xml, tasks, dataset):
    model = PredictorCache(settings.serving).get(7, label_config_xml)
    predictions = model.predict(tasks)
    interface = LabelConfig.parse(label_config_xml).interface
    assert len(predictions) == len(tasks)
    for prediction in predictions:
        assert interface.validate_prediction(prediction, return_errors=True) == []
        types = [(r["type"], tuple(r["value"].get("polygonlabels", []))) for r in prediction["result"]]
        assert types[0] == ("choices", ())
        heat = [t for t in types if t == ("polygonlabels", ("Attention",))]
        ignore = [t for t in types if t == ("polygonlabels", ("Ignore",))]
        assert heat and ignore and len(heat) + len(ignore) == len(types) - 1
        assert prediction["model_version"] == model.model_version == "base-resnet18-" + model.model_version[-8:]
        assert 0.5 <= prediction["score"] <= 1.0
        assert prediction["score"] == prediction["result"][0]["score"]
        heat = prediction["result"][1]
        assert (heat["original_width"], heat["original_height"]) == (64, 64)


def test_unreadable_tasks_get_empty_predictions_and_a_log_line(settings, label_config_xml, tasks, caplog):
    model = Predictor(ProjectDir(settings.model_dir, 1), LabelConfig.parse(label_config_xml), settings.serving)
    bad = [
        {"id": 101, "data": {"image": "/data/local-files/?d=missing.png"}},
        {"id": 102, "data": {}},
        {"id": 103},
        "not a task",
    ]
    with caplog.at_level(logging.ERROR):
        predictions = model.predict([bad[0], tasks[0], bad[1], bad[2], bad[3], tasks[1]])
    assert [bool(p["result"]) for p in predictions] == [False, True, False, False, False, True]
    assert "task 101: image file not found" in caplog.text
    assert "task 102: task data has no 'image' field" in caplog.text


def test_manager_loads_once_and_reloads_on_a_new_version(settings, label_config_xml):
    import torch

    from backend.models.checkpoints import Manifest

    manager = PredictorCache(settings.serving)
    first = manager.get("4.1700000000", label_config_xml)
    assert manager.get(4, label_config_xml) is first
    state = first.classifier.model.state_dict()
    manifest = Manifest(version="v0002", arch="resnet18", classes=list(first.label_config.classes), image_size=64)
    ProjectDir(settings.model_dir, 4).models.save({k: v.clone() for k, v in state.items()}, manifest)
    second = manager.get(4, label_config_xml)
    assert second is not first and second.model_version == "v0002"
    assert manager.versions(4) == {"4": ["v0002"]}
    assert isinstance(second.classifier.model, torch.nn.Module)


def test_a_corrupt_newest_version_is_skipped_and_the_previous_one_serves(settings, label_config_xml, caplog):
    from backend.models.checkpoints import Manifest

    manager = PredictorCache(settings.serving)
    base = manager.get(5, label_config_xml)
    store = ProjectDir(settings.model_dir, 5).models
    classes = list(base.label_config.classes)
    state = {k: v.clone() for k, v in base.classifier.model.state_dict().items()}
    for version in ("v0001", "v0002", "v0003"):
        store.save(state, Manifest(version=version, arch="resnet18", classes=classes, image_size=64))
    store.path("v0003").write_bytes(b"\x00" * 100)  # bit rot, or a disk that lied about a write
    with caplog.at_level(logging.ERROR):
        served = manager.get(5, label_config_xml)
    assert served.model_version == "v0002" and "skipping unreadable model version v0003" in caplog.text
    assert manager.get(5, label_config_xml) is served  # not reloaded at every request
    store.save(state, Manifest(version="v0004", arch="resnet18", classes=classes, image_size=64))
    assert manager.get(5, label_config_xml).model_version == "v0004"


def test_the_cache_is_keyed_by_the_parsed_config_and_bounded(settings, label_config_xml):
    cache = PredictorCache(settings.updated(model_cache_size=2).serving)
    first = cache.get(1, label_config_xml)
    for spaces in range(1, 20):  # the same config with other whitespace: the same model, no new memory
        assert cache.get(1, label_config_xml.replace("<View>", "<View>" + " " * spaces)) is first
    cache.get(2, label_config_xml)
    cache.get(3, label_config_xml)
    assert len(cache._predictors) == 2 and ("1", first.label_config.digest) not in cache._predictors
    assert cache.get(1, label_config_xml) is not first  # it left, and comes back loaded anew


def test_an_ignore_click_is_previewed_as_exactly_the_superpixel_training_will_use(settings, label_config_xml, tasks):
    import numpy as np

    from backend.core.outlines import polygon_mask
    from backend.core.superpixels import compute_superpixels
    from backend.labelstudio.annotations import parse_task
    from backend.labelstudio.images import Fit
    from backend.training.training_set import prepare

    model = PredictorCache(settings.serving).get(7, label_config_xml)
    config = model.label_config

    def click(x, y, label, positive=True):
        return {"id": f"k{x}{y}", "from_name": config.keypoints_name, "to_name": config.image_name, "type": "keypointlabels",
                "original_width": 64, "original_height": 64, "image_rotation": 0, "is_positive": positive,
                "value": {"x": x, "y": y, "width": 1, "keypointlabels": [label]}}

    alt_click = click(20, 30, config.focus_label, positive=False)  # alt-click: an ignore click with any label
    [preview] = model.predict([tasks[0]], context={"result": [alt_click]})
    [region] = preview["result"]  # only the clicked region: no class, no heat, no suggestions in the draft
    assert region["from_name"] == config.overlay_name and region["value"]["polygonlabels"] == [config.overlay_ignore_label]
    url = tasks[0]["data"]["image"]
    picture = model.fetcher.load(url, Fit.for_model(model.classifier.image_size, settings.superpixels))
    segments = compute_superpixels(picture.pixels, settings.superpixels)  # what the training run computes
    assert region["meta"]["segment"] == segments.segment_at(20, 30)
    drawn = polygon_mask(np.asarray(region["value"]["points"]) / 100, segments.labels.shape)
    assert np.array_equal(drawn, segments.labels == segments.segment_at(20, 30))
    example = parse_task(tasks[0], [{"id": 1, "result": [click(20, 30, config.ignore_point_label)]}], config).example
    trained = prepare([example], [picture.pixels], picture.pixels.shape[0], settings.superpixels).ignore[0].numpy()
    assert np.array_equal(trained, drawn)  # the training set ignores exactly the previewed pixels
    focus = model.predict([tasks[0]], context={"result": [click(50, 50, config.focus_label)]})
    assert focus[0]["result"] == []  # a focus click has nothing to preview
    twice = model.predict([tasks[0]], context={"result": [click(20, 30, config.ignore_point_label), alt_click]})
    assert len(twice[0]["result"]) == 1  # one segment, one region
