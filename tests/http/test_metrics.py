import os

from backend.http.metrics import PREFIX, Metrics


def test_counters_add_up_and_render_with_labels_and_pid():
    metrics = Metrics()
    metrics.add("requests_total")
    metrics.add("requests_total", 2)
    metrics.add("events_total", event="A")
    metrics.set("running", 1.0, project="3")
    metrics.set("running", 0.0, project="3")
    lines = metrics.render().splitlines()
    pid = os.getpid()
    assert f'{PREFIX}requests_total{{pid="{pid}"}} 3' in lines
    assert f'{PREFIX}events_total{{event="A",pid="{pid}"}} 1' in lines
    assert f'{PREFIX}running{{pid="{pid}",project="3"}} 0' in lines
