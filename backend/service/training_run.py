"""One training run of a project as explicit stages: sync -> train -> validate -> publish -> rank -> push -> report.

A :class:`TrainingRun` holds what the stages share in memory: the Label Studio client and the project's tasks (read
once), the labeling config (from Label Studio when it answers, else the one the webhooks recorded), the examples
parsed once, their images, and the model just trained, which ranks the queue without being saved and loaded again;
the shortcut report reads the same scores, examples and images.
Each stage returns a typed result; the run's outcome is what they returned (see :class:`StageReport`).

``torchrun ... -m backend.service.training_run PROJECT SETTINGS`` runs it under DDP with the settings the runner
handed over; the first process writes the stage reports to ``run_report.json`` for the runner.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from backend.core.examples import Example
from backend.labelstudio.annotations import parse_task
from backend.labelstudio.client import LabelStudioAccess, annotated_ids, connect, project_tasks
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.images import Fit, ImageError, ImageFetcher
from backend.models.checkpoints import Manifest
from backend.models.classifier import Classifier
from backend.service.classifiers import project_classifier
from backend.service.handoff import take_over
from backend.service.predictor import Predictor
from backend.service.ranking import publish_queue, rank
from backend.service.sal_training import train_sal
from backend.service.scoring import ScoredTasks
from backend.service.shortcut_report import gather_evidence, object_box, task_pictures, write_shortcut_report
from backend.service.version_chart import write_version_chart
from backend.settings import QueueSettings, ServingSettings, Settings, TrainingSettings
from backend.storage.files import atomic_write_json
from backend.storage.journal import AnnotationJournal
from backend.storage.project_dir import ProjectDir
from backend.training import distributed
from backend.training.trainer import fine_tune
from backend.training.training_set import TrainingSet, prepare
from backend.training.validation import evaluate, holdout_split

logger = logging.getLogger(__name__)
STAGES = ("sync", "train", "validate", "publish", "rank", "push", "report")
QUEUE_STAGES = ("rank", "push", "report")  # after publishing: their failure leaves the new version served
ERROR_TEXT = 500  # characters of an error kept in a stage report and in train_status.json


def error_text(exc: BaseException) -> str:
    """An error as reports keep it: its type and message, cut to ``ERROR_TEXT``."""
    return f"{type(exc).__name__}: {exc}"[:ERROR_TEXT]


class NothingToTrain(RuntimeError):
    """The project has no usable annotation yet."""


@dataclass
class Synced:
    source: str  # label_studio | journal
    tasks: int  # tasks read from Label Studio (0 from the journal)
    annotated: int


@dataclass
class Trained:
    examples: int
    skipped: int  # annotated tasks left out: no usable annotation, unreadable image
    metrics: dict[str, Any]


@dataclass
class Validated:
    held_out: int
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Published:
    version: str
    parent: str


@dataclass
class Ranked:
    version: str
    strategy: str
    scored: int
    queue: int


@dataclass
class Pushed:
    predictions: int
    tasks_per_second: float
    delete_seconds: float  # Label Studio removing the previous predictions
    import_seconds: float  # and taking the new ones


@dataclass
class Reported:
    uses_shortcut: bool
    groups: int
    affected_share: float


@dataclass
class StageReport:
    """A stage's outcome (done, skipped or failed), its seconds and its result or error."""

    stage: str
    outcome: str
    seconds: float
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass
class RunResult:
    """The saved version (None when the run saved none) and the stage reports."""

    manifest: Manifest | None
    reports: list[StageReport]

    @property
    def queue_error(self) -> str:
        return next((r.error for r in self.reports if r.stage in QUEUE_STAGES and r.outcome == "failed"), "")


class TrainingRun:
    """One run of one project; :meth:`run` takes it through :data:`STAGES`."""

    def __init__(self, project: ProjectDir, training: TrainingSettings, serving: ServingSettings, queue: QueueSettings,
                 label_studio: LabelStudioAccess):
        self.project, self.training, self.serving, self.queue_settings = project, training, serving, queue
        self.label_studio = label_studio
        self.world = distributed.current()
        self.fetcher = ImageFetcher(serving.image_access, scope=project.key)  # one fetcher and cache for both uses
        self.client: Any = None
        self.tasks: list[dict] | None = None  # the tasks read from Label Studio (all of them when a queue is kept)
        self.task_count: int | None = None  # the project's size in Label Studio
        self._record: dict[str, Any] = {}  # the journal after the sync
        self.config: LabelConfig | None = None
        self.base: Classifier | None = None
        self.model: nn.Module | None = None
        self.examples: list[Example] = []
        self.images: list[np.ndarray] = []
        self.labels: dict[Any, int] = {}
        self.data: TrainingSet | None = None
        self.held: list[int] = []
        self.metrics: dict[str, Any] = {}
        self.manifest: Manifest | None = None
        self.predictor: Predictor | None = None
        self.queue: Any = None
        self.scored: ScoredTasks | None = None
        self.predictions: dict[Any, dict] = {}
        self.reports: list[StageReport] = []
        self.started = time.time()

    def run(self) -> RunResult:
        """Every stage in order. A failure before publishing fails the run (the served model stays); rank and push
        failures are reported and leave the new version served."""
        for stage in STAGES:
            step: Callable[[], Any] = getattr(self, stage)
            began = time.perf_counter()
            try:
                result = step()
            except Exception as exc:
                self.reports.append(StageReport(stage, "failed", round(time.perf_counter() - began, 3),
                                                error=error_text(exc)))
                if stage in QUEUE_STAGES:
                    logger.exception("project %s: the %s stage failed; %s stays served", self.project.key, stage,
                                     self.manifest.version)
                    break
                raise
            self.reports.append(StageReport(stage, "skipped" if result is None else "done",
                                            round(time.perf_counter() - began, 3), asdict(result) if result else {}))
        return RunResult(self.manifest, self.reports)

    # -- stages ------------------------------------------------------------------------------------------------

    def sync(self) -> Synced:
        """Read the project once from Label Studio (its config and every task) and make the journal match its
        annotations; when it cannot be read, go on with what the webhooks recorded."""
        key = self.project.key
        read = None
        if self.world.is_main and self.label_studio.configured and key.isdigit():
            try:
                self.client = connect(self.label_studio)
                project = self.client.projects.get(int(key))
                tasks = project_tasks(self.client, int(key), annotated_only=not self.queue_settings.strategy)
                read = (project.label_config, project.task_number, tasks)
            except Exception as exc:  # unreachable, auth, project deleted: keep what the webhooks recorded
                logger.warning("project %s: could not read Label Studio (%s); using the recorded annotations",
                               key, type(exc).__name__)
                self.client = None
        read = next((part for part in distributed.gather(read, self.world) if part is not None), None)
        journal = AnnotationJournal(self.project)
        if read is not None:
            label_config, self.task_count, self.tasks = read
            if self.world.is_main:
                annotated = annotated_ids(self.tasks)
                journal.replace_tasks([t for t in self.tasks if t["id"] in annotated], label_config)
        distributed.barrier(self.world)
        record = journal.compact() if self.world.is_main else journal.read()  # each run folds the webhooks' log
        distributed.barrier(self.world)
        if not record.get("label_config"):
            raise NothingToTrain(f"project {key}: no labeling config recorded yet")
        self.config = LabelConfig.parse(record["label_config"], self.serving.label_roles)
        self._record = record
        return Synced("label_studio" if read is not None else "journal", len(self.tasks or []), len(record["tasks"]))

    def train(self) -> Trained:
        """Parse each annotated task once, read its image (through the image cache) and fine-tune a copy of the
        served model; one unreadable or hostile task is skipped, never the run."""
        settings, key = self.training, self.project.key
        if self.world.is_main:
            self.project.models.clean_partial()
        self.base = project_classifier(settings.model, self.project, self.config.classes)
        fit = Fit.for_model(self.base.image_size, settings.superpixels)  # the same reduced images predict segments
        skipped = 0
        for entry in self._record["tasks"].values():
            parsed = parse_task(entry["task"], entry["annotations"], self.config, settings.annotation_policy,
                                settings.max_image_pixels)
            for message in parsed.messages:
                logger.warning("project %s: %.300s", key, message)
            if parsed.example is None:
                skipped += 1
                continue
            if parsed.example.label is not None:
                self.labels[parsed.example.task_id] = parsed.example.label
            try:
                self.images.append(self.fetcher.load(parsed.example.image_url, fit, parsed.example.task_id).pixels)
            except Exception as exc:  # one unreadable or hostile example never fails the run
                logger.warning("project %s: task %.100s skipped: %.300s", key, parsed.example.task_id,
                               exc if isinstance(exc, ImageError) else f"{type(exc).__name__}: {exc}")
                skipped += 1
                continue
            self.examples.append(parsed.example)
        if not self.examples:
            raise NothingToTrain(f"project {key}: no usable annotated task")
        logger.info("project %s: training from %s on %d annotated tasks", key, self.base.version, len(self.examples))
        if settings.sal_change_point:
            size = self.task_count or len(self._record["tasks"])
            self.model, self.metrics = train_sal(self.project, settings, self.examples, self.images, self.base, size)
            return Trained(len(self.examples), skipped, self.metrics)
        self.model = copy.deepcopy(self.base.model)
        self.data = prepare(self.examples, self.images, self.base.image_size, settings.superpixels)
        train_at, self.held = holdout_split([e.task_id for e in self.examples], settings.validation_share)
        guided, extra = self._split_labelled(train_at)
        self.metrics = fine_tune(self.model, self.base.arch, self.data.subset(torch.tensor(guided)), settings.train,
                                 extra=extra, device=distributed.resolve_device(settings.device))
        return Trained(len(self.examples), skipped, dict(self.metrics))

    def _split_labelled(self, train_at: list[int]) -> tuple[list[int], tuple[torch.Tensor, torch.Tensor] | None]:
        """(guided positions, label-only inputs and labels): as in the simulator, every step shows the tasks with
        clicks, boxes or masks and draws ``TRAIN_UNLABELED_BATCH`` of those with only a class for the classification
        term (all of them together while none is guided, and for last-layer retraining, which fits them all)."""
        label_only = [i for i in train_at if not self.examples[i].has_guidance and self.examples[i].label is not None]
        guided = [i for i in train_at if self.examples[i].has_guidance or self.examples[i].label is None]
        if not label_only or not guided or self.training.train.loss == "dfr":
            return train_at, None
        at = torch.tensor(label_only)
        return guided, (self.data.inputs[at], self.data.labels[at])

    def validate(self) -> Validated | None:
        """The same held-out tasks judge this version and its parent (skipped with too few examples, and under
        SAL, whose runs judge themselves)."""
        if not self.held or self.data is None:
            return None
        s, held = self.training.train, self.data.subset(torch.tensor(self.held))
        found = {"validation": evaluate(self.model, self.base.arch, held, s.cam_method, s.cam_layer),
                 "validation_parent": evaluate(self.base.model, self.base.arch, held, s.cam_method, s.cam_layer)}
        self.metrics |= found
        return Validated(len(self.held), found)

    def publish(self) -> Published:
        """Save the version atomically (the first process); the served model changes only now."""
        store = self.project.models
        self.manifest = Manifest(
            version=store.next_version(), arch=self.base.arch, classes=list(self.config.classes),
            image_size=self.base.image_size, parent=self.base.version, annotation_count=len(self.examples),
            metrics=self.metrics | {"seconds": round(time.time() - self.started, 2), "processes": self.world.size},
        )
        if self.world.is_main:
            store.save({k: v.detach().cpu() for k, v in self.model.state_dict().items()}, self.manifest)
            store.prune(self.training.keep_versions)
            write_version_chart(self.project)
            logger.info("project %s: saved %s (parent %s) in %.1f s", self.project.key, self.manifest.version,
                        self.base.version, time.time() - self.started)
        distributed.barrier(self.world)
        return Published(self.manifest.version, self.base.version)

    def rank(self) -> Ranked | None:
        """Score every task with the model just trained (no reload) through /predict's analysis and order the
        queue with ``QUEUE_STRATEGY`` (skipped without one)."""
        s = self.queue_settings
        if not s.strategy:
            return None
        if self.tasks is None:
            raise RuntimeError("the project's tasks could not be read from Label Studio: no new queue")
        classifier = Classifier(self.model.eval(), self.base.arch, tuple(self.config.classes), self.base.image_size,
                                self.manifest.version, "model_dir")
        self.predictor = Predictor(self.project, self.config, self.serving, fetcher=self.fetcher)
        self.predictor.setup(classifier)
        boxes = {e.task_id: box for e in self.examples if (box := object_box(e)) is not None}
        self.queue, self.scored = rank(self.predictor, self.tasks, self.labels, s.strategy, s.batch_size, s.seed,
                                       with_predictions=True, progress=False, boxes=boxes)
        self.predictions = self.scored.predictions
        return Ranked(self.queue.version, s.strategy, len(self.scored.task_ids), len(self.queue.order))

    def push(self) -> Pushed | None:
        """Write the queue and its predictions to Label Studio (the first process)."""
        if self.queue is None or not self.world.is_main:
            return None
        pushed = publish_queue(self.client, int(self.project.key), self.predictor, self.queue, self.predictions,
                               progress=False, public_url=self.queue_settings.public_url)
        return Pushed(int(pushed["predictions"]), round(pushed["predictions"] / max(pushed["seconds"], 1e-9), 1),
                      pushed["delete_seconds"], pushed["import_seconds"])

    def report(self) -> Reported | None:
        """The new version's shortcut report from the queue's scores, the annotated examples and their images in
        memory (skipped without a queue; the first process)."""
        if self.scored is None or not self.world.is_main:
            return None
        held_out = {self.examples[i].task_id for i in self.held}
        evidence = gather_evidence(self.scored, self.labels, self.examples, self.images, self.model,
                                   self.base.image_size, self.queue_settings.seed, unseen=held_out)
        record = write_shortcut_report(self.project, self.manifest.version, list(self.config.classes), self.scored,
                                       evidence, self._pictures, self.queue_settings.seed)
        return Reported(record["uses_shortcut"], len(record["groups"]), record["affected_share"])

    def _pictures(self, task_ids: list[Any]) -> dict[Any, np.ndarray]:
        return task_pictures(self.predictor, self.tasks or [], task_ids)


def run_training(project: ProjectDir, settings: Settings) -> RunResult:
    """One run of ``project`` through every stage (see :class:`TrainingRun`)."""
    return TrainingRun(project, settings.training, settings.serving, settings.queue, settings.label_studio).run()


def write_report(project: ProjectDir, reports: list[StageReport]) -> None:
    """The stage reports of a run under ``TRAIN_LAUNCHER``, for the runner to read."""
    atomic_write_json(project.run_report, [asdict(r) for r in reports])


def read_report(project: ProjectDir) -> list[StageReport]:
    """The stage reports the last launched run wrote ([] when it wrote none: it died before the end)."""
    try:
        return [StageReport(**r) for r in json.loads(project.run_report.read_text())]
    except (OSError, ValueError, TypeError):
        return []


def main(key: str, handed_over: str) -> int:
    """``torchrun ... -m backend.service.training_run PROJECT SETTINGS``: one run with the settings handed over."""
    settings = take_over(handed_over)
    settings.configure_logging()
    world = distributed.init(settings.device)
    project = ProjectDir.at(settings.model_dir, key)
    run = TrainingRun(project, settings.training, settings.serving, settings.queue, settings.label_studio)
    try:
        run.run()
    except Exception as exc:
        run.reports.append(StageReport("run", "failed", 0.0, error=error_text(exc),
                                       result={"nothing_to_train": isinstance(exc, NothingToTrain)}))
        raise
    finally:
        if world.is_main:
            write_report(project, run.reports)
        distributed.close(world)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m backend.service.training_run",
                                     description="One training run of a project (run by the runner, under TRAIN_LAUNCHER "
                                                 "such as torchrun) with the settings the runner handed over.")
    parser.add_argument("project", help="the project's folder name under MODEL_DIR")
    parser.add_argument("settings", help="the settings document handed over (secrets come from the environment)")
    arguments = parser.parse_args()
    sys.exit(main(arguments.project, arguments.settings))
