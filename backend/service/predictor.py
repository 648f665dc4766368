"""Predictions for Label Studio: class, attention heat, ignore suggestions and queue score per task.

:class:`Predictor` has the shape of ``LabelStudioMLBase``'s ``setup``/``predict``; :class:`PredictorCache`
keeps one per project and config in a worker and reloads when a new version lands.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from backend.active.annotation_queue import Queue
from backend.core.maps import colour_thumbnail
from backend.core.shorten import shorten
from backend.core.superpixels import Superpixels
from backend.labelstudio.annotations import context_clicks
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.images import Fit, ImageError, ImageFetcher, Picture
from backend.labelstudio.predictions import choice_region, clicked_regions, heat_region, ignore_regions, saliency_region
from backend.models.classifier import Classifier
from backend.models.inference import Analysis, Analyzer, to_batch
from backend.service.classifiers import interpretability_classifier, project_classifier
from backend.service.sal_training import load_sal_state
from backend.settings import ServingSettings
from backend.storage.project_dir import ProjectDir
from backend.storage.queue_file import load_queue
from backend.storage.superpixel_cache import SuperpixelCache
from backend.training.distributed import resolve_device
from backend.training.sal import machine_saliency

logger = logging.getLogger(__name__)


class TaskError(ValueError):
    """A task cannot be predicted; the other tasks of the request still are."""


LOGGED_CHARACTERS = 300  # a hostile reference must not write megabytes into the log


def _short(value: object) -> str:
    return shorten(str(value), LOGGED_CHARACTERS)


def _task_id(task: object, index: int) -> str:
    return _short(task.get("id")) if isinstance(task, dict) else str(index)


THUMBNAIL_SIDE = 16  # colour thumbnails, cell for cell with the queue's attention maps (the shortcut report's colours)


@dataclass
class Analysed:
    """One task's model outputs (None when its image could not be read), its Label Studio prediction and a colour
    thumbnail of its image."""

    analysis: Analysis | None
    prediction: dict
    colours: np.ndarray | None = None


class Predictor:
    """One project's classifier with its attention pre-annotations."""

    def __init__(self, project: ProjectDir, label_config: LabelConfig, settings: ServingSettings,
                 fetcher: ImageFetcher | None = None):
        self.project = project
        self.label_config = label_config
        self.settings = settings
        self.fetcher = fetcher or ImageFetcher(settings.image_access, scope=project.key)
        self.segmenter = SuperpixelCache(*settings.superpixel_cache)
        self.classifier: Classifier | None = None
        self.newest_on_disk: str | None = None  # newest version on disk at setup (served unless unreadable)
        self.interpretability: Classifier | None = None  # SAL's second model, once it writes saliency
        self.analyzer: Analyzer | None = None
        self._queue_stamp: int | None = -1
        self._queue_cache: Queue | None = None

    @property
    def model_version(self) -> str:
        return self.classifier.version if self.classifier else "unloaded"

    def setup(self, classifier: Classifier | None = None) -> None:
        """Load the classifier (once per worker and model version), or serve ``classifier`` as it is in memory (a
        training run ranks with the model it has just trained and saved)."""
        latest = self.project.models.latest()
        self.newest_on_disk = latest.version if latest else None
        classes = self.label_config.classes
        self.classifier = classifier or project_classifier(self.settings.model, self.project, classes)
        s = self.settings
        self.analyzer = Analyzer(self.classifier.model, self.classifier.arch, self.classifier.image_size,
                                 resolve_device(s.device), s.predict_batch_size, s.cam_method, s.cam_layer)
        sal_on = s.sal and load_sal_state(self.project).phase == "machine"
        self.interpretability = interpretability_classifier(self.project, classes) if sal_on else None
        logger.info(
            "project %s: loaded %s (%s, %d classes) from %s",
            self.project.key, self.classifier.version, self.classifier.arch, len(classes), self.classifier.source,
        )

    def predict(self, tasks: list[dict], context: dict | None = None, **kwargs: Any) -> list[dict]:
        """One prediction per task, in order; unreadable tasks get an empty prediction, and so do the tasks not
        reached within ``PREDICT_DEADLINE`` (batches of ``PREDICT_BATCH_SIZE``, so memory grows by one batch). With a
        ``context`` (an annotator's clicks with a smart tool), only the preview of those clicks."""
        if self.analyzer is None:
            self.setup()
        if isinstance(context, dict) and context.get("result"):
            return [self.preview(task, context) for task in tasks]
        deadline = time.monotonic() + self.settings.predict_deadline
        step = self.settings.predict_batch_size
        predictions: list[dict] = []
        for start in range(0, len(tasks), step):
            if time.monotonic() > deadline:
                logger.warning("project %s: %d of %d tasks answered empty: PREDICT_DEADLINE (%g s) passed",
                               self.project.key, len(tasks) - start, len(tasks), self.settings.predict_deadline)
                predictions += [self._empty() for _ in tasks[start:]]
                break
            predictions += [analysed.prediction for analysed in self.analyse(tasks[start:start + step])]
        queue = self._queue()
        for task, prediction in zip(tasks, predictions):
            if queue is not None and prediction["result"] and str(task.get("id")) in queue.scores:
                prediction["score"] = queue.scores[str(task["id"])]
        return predictions

    def analyse(self, tasks: list[dict], with_predictions: bool = True) -> list[Analysed]:
        """The one analysis path of a batch of tasks, for ``/predict`` and the queue's push alike: read each image,
        run the model (and SAL's interpretability model), segment, and build the Label Studio prediction. One entry
        per task, in order; an unreadable task has no analysis and an empty prediction. Without
        ``with_predictions`` (scoring for ranking only) nothing is segmented or drawn."""
        readable = self.read_images(tasks)
        images = [picture.pixels for _, picture in readable]
        found = [Analysed(None, self._empty()) for _ in tasks]
        with ThreadPoolExecutor(1) as pool:  # segment while the model runs (both release the GIL)
            segmented = [pool.submit(self._segments, picture) if with_predictions else None for _, picture in readable]
            analyses = self.analyzer.analyze(images) if images else []
        suggestions = self._suggested_saliency(images, analyses) if with_predictions else [None] * len(images)
        for (i, picture), analysis, suggestion, segments in zip(readable, analyses, suggestions, segmented):
            found[i].analysis = analysis
            found[i].colours = colour_thumbnail(picture.pixels, THUMBNAIL_SIDE)
            if segments is None:
                continue
            try:
                found[i].prediction = self.prediction_for(picture, analysis, suggestion, segments.result())
            except Exception as exc:  # one task's failure leaves the others answered
                logger.error("task %s: no prediction: %s", _task_id(tasks[i], i), _short(exc))
        return found

    def preview(self, task: dict, context: dict) -> dict:
        """The regions an annotator's ignore clicks will train on: the superpixel under each click, segmented on the
        same reduced picture as training, and nothing else (no model pass, no heat: the draft gets no duplicates)."""
        try:
            points = context_clicks(task, context, self.label_config)
            if not points:
                return self._empty()
            readable = self.read_images([task])  # the same reduced picture, the same logged refusals
            if not readable:
                return self._empty()
            picture = readable[0][1]
            segments = self.segmenter.segments(picture.pixels, self.settings.superpixels)
            return self._empty() | {"result": clicked_regions(self.label_config, segments, points, picture.size)}
        except Exception as exc:  # a bad click or image costs this preview only
            logger.error("task %s: no preview: %s", _task_id(task, 0), _short(exc))
            return self._empty()

    def _suggested_saliency(self, images: list[np.ndarray], analyses: list[Analysis]) -> list[np.ndarray | None]:
        """SAL: the interpretability model's saliency for each image's predicted class (None without that model)."""
        if self.interpretability is None or not images:
            return [None] * len(images)
        model = self.interpretability
        inputs = to_batch(images, model.image_size)
        predicted = torch.tensor([a.predicted for a in analyses])
        return list(machine_saliency(model.model, model.arch, inputs, predicted, self.settings.cam_method))

    def read_images(self, tasks: list[dict]) -> list[tuple[int, Picture]]:
        """(index, picture reduced to what the model needs) of each task whose image can be read; the others are
        logged and left out. Only reduced images are held, so a batch of photos costs model-size memory."""
        readable = []
        fit = Fit.for_model(self.classifier.image_size, self.settings.superpixels)
        for i, task in enumerate(tasks):
            try:
                readable.append((i, self.fetcher.load(self.image_url(task), fit, task.get("id"))))
            except (ImageError, TaskError) as exc:
                logger.error("task %s: %s", _task_id(task, i), _short(exc))
            except Exception as exc:  # whatever a hostile reference does, it costs this task only
                logger.error("task %s: image cannot be read: %s", _task_id(task, i), _short(exc))
        return readable

    def _queue(self) -> Queue | None:
        """The stored annotation queue when it was ranked with the served version (re-read when the file changes)."""
        path = self.project.queue
        stamp = path.stat().st_mtime_ns if path.exists() else None
        if stamp != self._queue_stamp:
            self._queue_stamp, self._queue_cache = stamp, load_queue(self.project)
        queue = self._queue_cache
        return queue if queue is not None and queue.version == self.model_version else None

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

    def _segments(self, picture: Picture) -> Superpixels | None:
        """The superpixels ignore suggestions are made of (None when the config asks for none)."""
        wanted = self.label_config.suggests_ignore_regions
        return self.segmenter.segments(picture.pixels, self.settings.superpixels) if wanted else None

    def prediction_for(self, picture: Picture, analysis: Analysis, suggestion: np.ndarray | None = None,
                       superpixels: Superpixels | None = None) -> dict:
        """The Label Studio prediction of one analysed image (with SAL's suggested object region when given); the
        regions are drawn at the full image's size; ``superpixels`` of the picture when already computed."""
        if not np.all(np.isfinite(analysis.probabilities)) or not np.all(np.isfinite(analysis.attention)):
            raise TaskError("the model gave non-finite outputs")
        size = picture.size
        config, s = self.label_config, self.settings
        result = choice_region(config, analysis, s.prefill_class)
        result += heat_region(config, analysis, size, s.heat_floor)
        if suggestion is not None:
            result += saliency_region(config, suggestion, size)
        superpixels = superpixels or self._segments(picture)
        if superpixels is not None:
            result += ignore_regions(config, analysis, superpixels, size, s.ignore_regions, s.ignore_threshold)
        return {
            "result": result,
            "score": float(analysis.probabilities[analysis.predicted]),
            "model_version": self.model_version,
        }


class PredictorCache:
    """One :class:`Predictor` per project and config in this worker; a new version on disk replaces it.

    At most ``MODEL_CACHE_SIZE`` are kept, the least recently used leaving first, so a worker's memory is bounded
    whatever projects and configs arrive.
    """

    def __init__(self, settings: ServingSettings):
        self.settings = settings
        self._predictors: OrderedDict[tuple[str, str], Predictor] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, project: object, label_config: str | LabelConfig) -> Predictor:
        config = (label_config if isinstance(label_config, LabelConfig)
                  else LabelConfig.parse(label_config, self.settings.label_roles))
        folder = ProjectDir(self.settings.model_dir, project)
        key = (folder.key, config.digest)
        with self._lock:
            predictor = self._predictors.get(key)
            latest = folder.models.latest()
            stale = predictor is not None and latest is not None and latest.version != predictor.newest_on_disk
            if predictor is None or stale:
                predictor = Predictor(folder, config, self.settings)
                predictor.setup()
                self._predictors[key] = predictor
            self._predictors.move_to_end(key)
            while len(self._predictors) > self.settings.model_cache_size:
                self._predictors.popitem(last=False)
            return predictor

    def versions(self, project: object = None) -> dict[str, list[str]]:
        """Model versions on disk (per project) and loaded in this worker."""
        folders = [ProjectDir(self.settings.model_dir, project)] if project is not None else ProjectDir.all(self.settings.model_dir)
        found = {f.key: [m.version for m in f.models.versions()] for f in folders}
        wanted = {f.key for f in folders}
        for (key, _), predictor in self._predictors.items():
            if project is None or key in wanted:
                found.setdefault(key, [])
                if predictor.model_version not in found[key]:
                    found[key].append(predictor.model_version)
        return found
