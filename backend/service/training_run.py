"""One training run of a project: Label Studio (or the journal) -> examples -> fine-tune -> a new version.

``torchrun ... -m backend.service.training_run PROJECT`` runs it under DDP with the settings from the environment.
"""
from __future__ import annotations

import argparse
import copy
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

import torch

from backend.labelstudio.annotations import parse_task
from backend.labelstudio.client import connect, project_tasks
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.images import Fit, ImageError, ImageFetcher
from backend.models.checkpoints import Manifest
from backend.service.classifiers import project_classifier
from backend.service.sal_training import train_sal
from backend.service.version_chart import write_version_chart
from backend.settings import Settings
from backend.storage.journal import AnnotationJournal
from backend.storage.project_dir import ProjectDir
from backend.training import distributed
from backend.training.trainer import fine_tune
from backend.training.training_set import prepare
from backend.training.validation import evaluate, holdout_split

logger = logging.getLogger(__name__)


class NothingToTrain(RuntimeError):
    """The project has no usable annotation yet."""


@dataclass
class RunResult:
    """The saved version and the class of each annotated task as this run parsed it (None when another process
    trained), so that ranking after the run does not parse the annotations again."""

    manifest: Manifest
    labels: dict[Any, int] | None


def sync_from_label_studio(project: ProjectDir, settings: Settings) -> int | None:
    """Refresh the journal with every annotation Label Studio holds for the project, when it can be reached.

    Webhooks only tell about annotations made after they were added; Label Studio is the source of truth. When it
    cannot be read, training goes on with the annotations recorded from webhooks. Only annotated tasks are read.
    Returns the project's task count when it was read.
    """
    if not (settings.label_studio_url and settings.label_studio_api_key and project.key.isdigit()):
        return None
    try:
        client = connect(settings.label_studio_url, settings.label_studio_api_key, settings.label_studio_timeout)
        tasks = project_tasks(client, int(project.key), annotated_only=True)
        size = client.projects.get(int(project.key)).task_number
    except Exception as exc:  # unreachable, auth, project deleted: keep what the webhooks recorded
        logger.warning("project %s: could not read annotations from Label Studio (%s); using the recorded ones",
                       project.key, type(exc).__name__)
        return None
    kept = AnnotationJournal(project).replace_tasks(tasks)
    logger.info("project %s: %d annotated tasks read from Label Studio", project.key, kept)
    return size


def run_training(project: ProjectDir, settings: Settings) -> RunResult:
    """Fine-tune the project's current model on every annotation and save the result as a new version.

    Under ``torchrun`` every process prepares the same examples and trains its share of each batch;
    the first process reads Label Studio beforehand and saves the version.
    """
    started = time.time()
    world = distributed.current()
    project_size = sync_from_label_studio(project, settings) if world.is_main else None
    distributed.barrier(world)
    journal = AnnotationJournal(project).compact()  # each run folds the webhooks' log into the snapshot
    if not journal.get("label_config"):
        raise NothingToTrain(f"project {project.key}: no labeling config recorded yet")
    config = LabelConfig.parse(journal["label_config"], settings.label_roles)
    store = project.models
    if world.is_main:
        store.clean_partial()
    base = project_classifier(settings, project, config.classes)
    fetcher = ImageFetcher(settings.image_access, scope=project.key)
    fit = Fit.for_model(base.image_size, settings.superpixels)  # the same reduced images predict segments
    examples, images, labels = [], [], {}
    for entry in journal["tasks"].values():
        parsed = parse_task(entry["task"], entry["annotations"], config, settings.annotation_policy,
                            settings.max_image_pixels)
        for message in parsed.messages:
            logger.warning("project %s: %.300s", project.key, message)
        if parsed.example is None:
            continue
        if parsed.example.label is not None:
            labels[parsed.example.task_id] = parsed.example.label
        try:
            images.append(fetcher.load(parsed.example.image_url, fit, parsed.example.task_id).pixels)
        except Exception as exc:  # one unreadable or hostile example never fails the run
            logger.warning("project %s: task %.100s skipped: %.300s", project.key, parsed.example.task_id,
                           exc if isinstance(exc, ImageError) else f"{type(exc).__name__}: {exc}")
            continue
        examples.append(parsed.example)
    if not examples:
        raise NothingToTrain(f"project {project.key}: no usable annotated task")
    logger.info("project %s: training from %s on %d annotated tasks", project.key, base.version, len(examples))
    if settings.sal_change_point:
        model, metrics = train_sal(project, settings, examples, images, base, project_size or len(journal["tasks"]))
    else:
        model = copy.deepcopy(base.model)
        data = prepare(examples, images, base.image_size, settings.superpixels)
        train_at, held_at = holdout_split([e.task_id for e in examples], settings.validation_share)
        metrics = fine_tune(model, base.arch, data.subset(torch.tensor(train_at)), settings.train,
                            device=distributed.resolve_device(settings.device))
        if held_at:  # the same held-out tasks judge this version and its parent
            held = data.subset(torch.tensor(held_at))
            metrics |= {"validation": evaluate(model, base.arch, held, settings.cam_method, settings.cam_layer),
                        "validation_parent": evaluate(base.model, base.arch, held, settings.cam_method, settings.cam_layer)}
    manifest = Manifest(
        version=store.next_version(),
        arch=base.arch,
        classes=list(config.classes),
        image_size=base.image_size,
        parent=base.version,
        annotation_count=len(examples),
        metrics=metrics | {"seconds": round(time.time() - started, 2), "processes": world.size},
    )
    if world.is_main:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        store.save(state, manifest)
        store.prune(settings.keep_versions)
        write_version_chart(project)
        logger.info("project %s: saved %s (parent %s) in %.1f s", project.key, manifest.version, base.version,
                    time.time() - started)
    distributed.barrier(world)
    return RunResult(manifest, labels)


def main(key: str) -> int:
    """``torchrun ... -m backend.service.training_run PROJECT``: one run, settings from the environment."""
    settings = Settings.from_env()
    settings.configure_logging()
    world = distributed.init(settings.device)
    try:
        run_training(ProjectDir.at(settings.model_dir, key), settings)
    finally:
        distributed.close(world)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m backend.service.training_run",
                                     description="One training run of a project (run by the runner, under TRAIN_LAUNCHER "
                                                 "such as torchrun); settings from the environment.")
    parser.add_argument("project", help="the project's folder name under MODEL_DIR")
    sys.exit(main(parser.parse_args().project))
