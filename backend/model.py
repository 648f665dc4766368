"""The Label Studio ML model: ``setup``, ``predict`` and ``fit`` in the shape of ``LabelStudioMLBase``."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backend.classifier import Classifier, load_classifier
from backend.annotations import parse_task
from backend.checkpoints import ModelStore, project_key
from backend.images import ImageError, ImageFetcher
from backend.inference import Analysis, Analyzer, to_batch
from backend.journal import AnnotationJournal
from backend.label_config import LabelConfig
from backend.queue import QUEUE_FILE, Queue, load_queue
from backend.regions import choice_region, heat_region, ignore_regions, saliency_region
from backend.sal import SALState, load_interpretability, machine_saliency
from backend.settings import Settings
from backend.scheduler import TrainingScheduler
from backend.superpixels import superpixels_for

logger = logging.getLogger(__name__)

TRAINING_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED", "START_TRAINING")


class TaskError(ValueError):
    """A task cannot be predicted; the other tasks of the request still are."""


def _answer(problems: list[str], **fields: Any) -> dict:
    """A webhook answer, with the annotation's problems when there are any."""
    return fields | ({"problems": problems} if problems else {})


class AttentionModel:
    """One project's classifier with its attention pre-annotations."""

    def __init__(self, project: object, label_config: LabelConfig, settings: Settings):
        self.project = project_key(project)
        self.label_config = label_config
        self.settings = settings
        self.fetcher = ImageFetcher(settings)
        self.classifier: Classifier | None = None
        self.newest_on_disk: str | None = None  # newest version in MODEL_DIR at setup (served unless unreadable)
        self.interpretability: Classifier | None = None  # SAL's second model, once it writes saliency
        self.analyzer: Analyzer | None = None
        self._queue_stamp: int | None = -1
        self._queue_cache: Queue | None = None

    @property
    def model_version(self) -> str:
        return self.classifier.version if self.classifier else "unloaded"

    def setup(self) -> None:
        """Load the classifier (once per worker and model version)."""
        latest = ModelStore(self.settings.model_dir).latest(self.project)
        self.newest_on_disk = latest.version if latest else None
        self.classifier = load_classifier(self.settings, self.label_config.classes, self.project)
        self.analyzer = Analyzer(self.classifier, self.settings)
        sal_on = self.settings.sal_change_point and SALState.load(self.settings, self.project).phase == "machine"
        self.interpretability = load_interpretability(self.settings, self.project, self.label_config.classes) if sal_on else None
        logger.info(
            "project %s: loaded %s (%s, %d classes) from %s",
            self.project, self.classifier.version, self.classifier.arch, len(self.label_config.classes), self.classifier.source,
        )

    def predict(self, tasks: list[dict], context: dict | None = None, **kwargs: Any) -> list[dict]:
        """One prediction per task, in order; unreadable tasks get an empty prediction."""
        if self.analyzer is None:
            self.setup()
        readable = self.read_images(tasks)
        images = [image for _, image in readable]
        predictions = [self._empty() for _ in tasks]
        analyses = self.analyzer.analyze(images) if images else []
        suggestions = self._suggested_saliency(images, analyses)
        for (i, image), analysis, suggestion in zip(readable, analyses, suggestions):
            predictions[i] = self.prediction_for(image, analysis, suggestion)
        queue = self._queue()
        for task, prediction in zip(tasks, predictions):
            if queue is not None and prediction["result"] and str(task.get("id")) in queue.scores:
                prediction["score"] = queue.scores[str(task["id"])]
        return predictions

    def _suggested_saliency(self, images: list[np.ndarray], analyses: list[Analysis]) -> list[np.ndarray | None]:
        """SAL: the interpretability model's saliency for each image's predicted class (None without that model)."""
        if self.interpretability is None or not images:
            return [None] * len(images)
        model = self.interpretability
        inputs = to_batch(images, model.image_size)
        predicted = torch.tensor([a.predicted for a in analyses])
        return list(machine_saliency(model.model, model.arch, inputs, predicted, self.settings.cam_method))

    def read_images(self, tasks: list[dict]) -> list[tuple[int, np.ndarray]]:
        """(index, RGB image) of each task whose image can be read; the others are logged and left out."""
        readable = []
        for i, task in enumerate(tasks):
            try:
                readable.append((i, self.fetcher.load(self.image_url(task))))
            except (ImageError, TaskError) as exc:
                logger.error("task %s: %s", task.get("id") if isinstance(task, dict) else i, exc)
        return readable

    def _queue(self) -> Queue | None:
        """The stored annotation queue when it was ranked with the served version (re-read when the file changes)."""
        path = Path(self.settings.model_dir) / project_key(self.project) / QUEUE_FILE
        stamp = path.stat().st_mtime_ns if path.exists() else None
        if stamp != self._queue_stamp:
            self._queue_stamp, self._queue_cache = stamp, load_queue(self.settings.model_dir, self.project)
        queue = self._queue_cache
        return queue if queue is not None and queue.version == self.model_version else None

    def fit(self, event: str, data: dict, **kwargs: Any) -> dict:
        """Record a webhook event's annotations and queue background training; never trains in the request."""
        if event not in TRAINING_EVENTS:
            return {"status": "ignored", "reason": f"event {event} does not trigger training"}
        journal = AnnotationJournal(self.settings.model_dir, self.project)
        problems: list[str] = []
        journal.set_label_config(self.label_config.xml)
        if event in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
            annotation, task = data.get("annotation"), data.get("task")
            if not isinstance(annotation, dict) or not isinstance(task, dict) or task.get("id") is None:
                raise TaskError(f"{event} needs 'annotation' and 'task' objects")
            changes = journal.upsert(task, annotation)
            problems = parse_task(task, [annotation], self.label_config, self.settings.annotation_policy).messages
            every = self.settings.train_every
            if every <= 0 or changes < every:
                return _answer(problems, status="recorded", changes_since_training=changes)
        elif event == "ANNOTATIONS_DELETED":
            deleted = data.get("annotations")
            if not isinstance(deleted, list):
                raise TaskError("ANNOTATIONS_DELETED needs an 'annotations' list")
            removed = journal.delete([a.get("id") if isinstance(a, dict) else a for a in deleted])
            if journal.annotation_count() == 0:
                return {"status": "recorded", "removed": removed}
        journal.reset_counter()
        return _answer(problems, status=TrainingScheduler(self.settings).request(self.project), project=self.project)

    def image_url(self, task: dict) -> str:
        """The task's image URL from its data; TaskError when there is none."""
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise TaskError("task has no 'data' object")
        url = task["data"].get(self.label_config.image_key)
        if not url:
            raise TaskError(f"task data has no '{self.label_config.image_key}' field")
        return url

    def _empty(self) -> dict:
        return {"result": [], "score": 0.0, "model_version": self.model_version}

    def prediction_for(self, image: np.ndarray, analysis: Analysis, suggestion: np.ndarray | None = None) -> dict:
        """The Label Studio prediction of one analysed image (with SAL's suggested object region when given)."""
        size = image.shape[:2]
        result = choice_region(self.label_config, analysis)
        result += heat_region(self.label_config, analysis, size, self.settings)
        if suggestion is not None:
            result += saliency_region(self.label_config, suggestion, size)
        if self.label_config.brush_name and self.label_config.ignore_region_label:
            superpixels = superpixels_for(image, self.settings)
            result += ignore_regions(self.label_config, analysis, superpixels, size, self.settings)
        return {
            "result": result,
            "score": float(analysis.probabilities[analysis.predicted]),
            "model_version": self.model_version,
        }


class ModelManager:
    """Keeps one AttentionModel per project and config in this worker; reloads when a new version lands."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = ModelStore(settings.model_dir)
        self._models: dict[tuple[str, str], AttentionModel] = {}
        self._lock = threading.Lock()

    def get(self, project: object, label_config: str | LabelConfig) -> AttentionModel:
        config = label_config if isinstance(label_config, LabelConfig) else LabelConfig.parse(label_config)
        key = (project_key(project), config.digest)
        with self._lock:
            model = self._models.get(key)
            latest = self.store.latest(key[0])
            stale = model is not None and latest is not None and latest.version != model.newest_on_disk
            if model is None or stale:
                model = AttentionModel(key[0], config, self.settings)
                model.setup()
                self._models[key] = model
            return model

    def versions(self, project: object = None) -> dict[str, list[str]]:
        """Model versions known in MODEL_DIR (per project) and loaded in this worker."""
        projects = [project_key(project)] if project is not None else sorted(
            p.name for p in self.store.root.iterdir() if p.is_dir()
        ) if self.store.root.is_dir() else []
        found = {p: [m.version for m in self.store.versions(p)] for p in projects}
        for (p, _), model in self._models.items():
            if project is None or p == project_key(project):
                found.setdefault(p, [])
                if model.model_version not in found[p]:
                    found[p].append(model.model_version)
        return found
