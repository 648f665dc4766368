"""Generated payloads against /predict and /webhook: every answer is JSON, none is a 500, none hangs."""
import math

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from backend.http.server import create_app
from backend.labelstudio.templates import render_template
from backend.service.scheduler import TrainingScheduler

CLASSES = ["boat", "car"]
CONFIGS = [render_template(name, CLASSES) for name in ("click", "box", "combined")]
BAD_CONFIGS = ["", "<View>", "<View><Text name='t' value='$t'/></View>", "not xml at all", "<View><Image name='i'/></View>"]
EVENTS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED", "START_TRAINING", "PROJECT_UPDATED", "TASKS_CREATED"]
URLS = [
    "/data/local-files/?d=images/test/00000.png", "/data/local-files/?d=images/test/00001.png",
    "/data/local-files/?d=missing.png", "/data/local-files/?d=../../../etc/passwd", "/data/local-files/?d=",
    "/data/local-files/?d=test.csv", "/data/upload/1/a.png", "http://example.com/a.png", "http://127.0.0.1:1/a.png",
    "ftp://127.0.0.1/a.png", "file:///etc/passwd", "javascript:alert(1)", "", "\x00", "/" * 300,
]

json_leaf = (st.none() | st.booleans() | st.integers() | st.text(max_size=12)
             | st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False))  # conftest flushes denormals
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                          max_leaves=16)
number = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False) | st.integers(-10**6, 10**6) | st.floats(-10, 110, allow_subnormal=False) | st.text(max_size=4)


def _maybe(value):
    """Mostly ``value``, sometimes any JSON value in its place."""
    return st.one_of(value, value, value, json_value)


region = st.fixed_dictionaries(
    {
        "type": _maybe(st.sampled_from(["keypointlabels", "rectanglelabels", "brushlabels", "choices", "polygonlabels"])),
        "from_name": _maybe(st.sampled_from(["clicks", "box", "class", "ignore", "nope"])),
        "to_name": st.just("image"),
        "value": _maybe(st.fixed_dictionaries(
            {"x": number, "y": number},
            optional={
                "width": number, "height": number, "rotation": number,
                "keypointlabels": _maybe(st.lists(st.sampled_from(["focus", "ignore", "boat", "??"]), max_size=2)),
                "rectanglelabels": _maybe(st.lists(st.sampled_from(["object", "boat", "??"]), max_size=2)),
                "choices": _maybe(st.lists(st.sampled_from(CLASSES + ["horse"]), max_size=2)),
                "brushlabels": st.lists(st.sampled_from(["Ignore", "Attention"]), max_size=1),
                "rle": _maybe(st.lists(st.integers(0, 255), max_size=20)),
                "format": st.just("rle"),
            },
        )),
    },
    optional={"original_width": number, "original_height": number, "image_rotation": number, "id": json_value},
)
annotation = st.fixed_dictionaries(
    {"id": _maybe(st.integers(0, 5)), "result": _maybe(st.lists(region, max_size=4))},
    optional={"was_cancelled": json_value, "updated_at": json_value, "lead_time": number},
)
task = st.fixed_dictionaries({"id": _maybe(st.integers(0, 5)), "data": _maybe(st.fixed_dictionaries({"image": _maybe(st.sampled_from(URLS))}))})
config = _maybe(st.sampled_from(CONFIGS) | st.sampled_from(CONFIGS) | st.sampled_from(BAD_CONFIGS))


predict_body = st.fixed_dictionaries(
    {"tasks": _maybe(st.lists(_maybe(task), min_size=1, max_size=4)), "label_config": config},
    optional={"project": json_value, "params": _maybe(st.fixed_dictionaries({"context": json_value}))},
)
webhook_body = st.fixed_dictionaries(
    {"action": st.sampled_from(EVENTS) | st.text(max_size=5), "annotation": _maybe(annotation), "task": _maybe(task),
     "project": _maybe(st.fixed_dictionaries({"id": _maybe(st.integers(1, 3)), "label_config": config}))},
    optional={"annotations": _maybe(st.lists(_maybe(annotation), max_size=3))},
)


@pytest.fixture
def client(settings, monkeypatch):
    """The app; training requests are counted instead of starting runner processes (tested in test_scheduler)."""
    monkeypatch.setattr(TrainingScheduler, "request", lambda self, project: "started")
    return create_app(settings).test_client()


def _answer_is_sound(response):
    assert response.status_code < 500, response.get_data(as_text=True)
    body = response.get_json()
    event(f"HTTP {response.status_code} " + str(body.get("status") or body.get("error", ""))[:25] if isinstance(body, dict) else "")
    assert isinstance(body, dict), response.get_data(as_text=True)
    if response.status_code >= 400:
        assert isinstance(body.get("error"), str) and body["error"]
    return body


fuzz = hsettings(max_examples=300, deadline=20_000, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@fuzz
@given(body=predict_body)
def test_predict_never_fails_with_a_500(client, body):
    response = _answer_is_sound(client.post("/predict", json=body))
    if response.get("results") is not None:
        assert len(response["results"]) == len(body["tasks"])
        assert all(math.isfinite(r["score"]) for r in response["results"])


@fuzz
@given(body=webhook_body)
def test_webhook_never_fails_with_a_500(client, body):
    _answer_is_sound(client.post("/webhook", json=body))


@fuzz
@given(body=json_value | predict_body.flatmap(lambda b: st.sets(st.sampled_from(sorted(b))).map(lambda gone: {
    k: v for k, v in b.items() if k not in gone})) | webhook_body.flatmap(lambda b: st.sets(st.sampled_from(sorted(b))).map(
    lambda gone: {k: v for k, v in b.items() if k not in gone})), path=st.sampled_from(["/predict", "/webhook", "/setup"]))
def test_any_json_or_missing_keys_get_a_sound_answer(client, body, path):
    _answer_is_sound(client.post(path, json=body))


@fuzz
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode), path=st.sampled_from(["/predict", "/webhook", "/setup"]))
def test_bytes_that_are_not_a_json_object_get_400(client, raw, path):
    response = client.post(path, data=raw, content_type="application/json")
    assert response.status_code < 500
    if response.status_code != 200:
        assert response.get_json()["error"]
