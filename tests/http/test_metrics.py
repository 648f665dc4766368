from prometheus_client.parser import text_string_to_metric_families

from backend.http.metrics import PREFIX, Metrics, TrainingState


def _samples(metrics: Metrics) -> dict:
    text = metrics.render().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_counters_add_up_and_training_state_is_read_at_scrape_time():
    states = [TrainingState("3", runs=2, failures=1, running=True, versions=2)]
    metrics = Metrics(["ANNOTATION_CREATED"], lambda: states)
    metrics.predict_tasks.inc(3)
    metrics.predict_tasks.inc(2)
    metrics.webhook_events.labels(metrics.event("ANNOTATION_CREATED")).inc()
    samples = _samples(metrics)
    assert samples[(f"{PREFIX}predict_tasks_total", ())] == 5
    assert samples[(f"{PREFIX}webhook_events_total", (("event", "ANNOTATION_CREATED"),))] == 1
    assert samples[(f"{PREFIX}training_runs_total", (("project", "3"),))] == 2
    assert samples[(f"{PREFIX}training_running", (("project", "3"),))] == 1
    states[0] = TrainingState("3", runs=3, failures=1, running=False, versions=3)
    assert _samples(metrics)[(f"{PREFIX}training_runs_total", (("project", "3"),))] == 3


def test_hostile_label_values_cannot_forge_lines_or_grow_the_page():
    metrics = Metrics(["ANNOTATION_CREATED"])
    forged = 'X"} 1\nattention_backend_forged{a="b'
    for i in range(40):
        metrics.webhook_events.labels(metrics.event(forged + "x" * (1 << 20) + str(i))).inc()
        metrics.errors.labels(metrics.endpoint(f"/no/such/{i}")).inc()
    text = metrics.render().decode()
    assert "forged" not in text and len(text) < 10_000
    samples = _samples(metrics)
    assert samples[(f"{PREFIX}webhook_events_total", (("event", "other"),))] == 40
    assert samples[(f"{PREFIX}errors_total", (("endpoint", "other"),))] == 40
