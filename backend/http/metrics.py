"""Prometheus metrics at ``/metrics``, summed over gunicorn workers.

Request counters use ``prometheus_client``; under gunicorn (``PROMETHEUS_MULTIPROC_DIR``, set by
:mod:`backend.http.gunicorn_conf`) every worker writes its own file and a scrape adds them up. Label values come
from fixed lists (an unknown endpoint or webhook action counts as ``other``), so no request can add a series or
write into the exposition text. Training state is read from ``MODEL_DIR`` at scrape time.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

PREFIX = "attention_backend_"
ENDPOINTS = ("/", "/health", "/setup", "/predict", "/webhook", "/versions", "/metrics", "/report")
OTHER = "other"


@dataclass(frozen=True)
class TrainingState:
    """One project's training state as the scrape reports it."""

    project: str
    runs: int
    failures: int
    running: bool
    versions: int
    stage_seconds: dict[str, float] = field(default_factory=dict)  # the last run's stages (names from a fixed list)


class _TrainingCollector:
    def __init__(self, read: Callable[[], Iterable[TrainingState]]):
        self.read = read

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(f"{PREFIX}training_runs", "Finished training runs", labels=["project"])
        failures = CounterMetricFamily(f"{PREFIX}training_failures", "Failed or killed training runs", labels=["project"])
        running = GaugeMetricFamily(f"{PREFIX}training_running", "1 while a run is in progress", labels=["project"])
        versions = GaugeMetricFamily(f"{PREFIX}model_versions", "Model versions kept on disk", labels=["project"])
        stages = GaugeMetricFamily(f"{PREFIX}training_stage_seconds", "Seconds each stage of the last run took",
                                   labels=["project", "stage"])
        for state in self.read():
            for stage, seconds in state.stage_seconds.items():
                stages.add_metric([state.project, stage], seconds)
            runs.add_metric([state.project], state.runs)
            failures.add_metric([state.project], state.failures)
            running.add_metric([state.project], float(state.running))
            versions.add_metric([state.project], state.versions)
        yield from (runs, failures, running, versions, stages)


class Metrics:
    """The backend's counters; ``training`` lists the projects' training states for each scrape."""

    def __init__(self, events: Iterable[str], training: Callable[[], Iterable[TrainingState]] = lambda: ()):
        self.events = frozenset(events)
        self.registry = CollectorRegistry()
        self.training = _TrainingCollector(training)
        self.registry.register(self.training)

        def counter(name: str, text: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(PREFIX + name, text, labels, registry=self.registry)

        self.bad_requests = counter("bad_requests", "Requests answered 4xx for their body", ("endpoint",))
        self.errors = counter("errors", "Requests that failed on our side", ("endpoint",))
        self.predict_requests = counter("predict_requests", "Answered /predict requests")
        self.predict_tasks = counter("predict_tasks", "Tasks in answered /predict requests")
        self.predict_task_errors = counter("predict_task_errors", "Tasks answered with an empty prediction")
        self.predict_seconds = counter("predict_seconds", "Seconds spent answering /predict")
        self.webhook_events = counter("webhook_events", "Webhook events received", ("event",))

    @staticmethod
    def endpoint(path: str) -> str:
        return path if path in ENDPOINTS else OTHER

    def event(self, action: str) -> str:
        return action if action in self.events else OTHER

    def render(self) -> bytes:
        """The exposition text: every worker's counters when running under gunicorn, and the training state."""
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not folder:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, folder)
        registry.register(self.training)
        return generate_latest(registry)
