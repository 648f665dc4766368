"""One training run of a project: journal -> examples -> fine-tune -> a new model version."""
from __future__ import annotations

import copy
import logging
import shutil
import sys
import time

from backend import distributed
from backend.annotations import parse_task
from backend.checkpoints import PARTIAL_PREFIX, Manifest, ModelStore, project_key
from backend.classifier import load_classifier
from backend.images import ImageError, ImageFetcher
from backend.inference import resolve_device
from backend.journal import AnnotationJournal
from backend.label_config import LabelConfig
from backend.sal import train_sal
from backend.settings import Settings
from backend.trainer import TrainConfig, fine_tune, prepare

logger = logging.getLogger(__name__)


class NothingToTrain(RuntimeError):
    """The project has no usable annotation yet."""


def clean_partial(store: ModelStore, project: object) -> None:
    """Remove temporary folders left by a run that was killed while saving."""
    folder = store.root / project_key(project)
    for leftover in folder.glob(f"{PARTIAL_PREFIX}*") if folder.is_dir() else []:
        shutil.rmtree(leftover, ignore_errors=True)


def sync_from_label_studio(project: object, settings: Settings) -> int | None:
    """Refresh the journal with every annotation Label Studio holds for the project, when it can be reached.

    Webhooks only tell about annotations made after they were added; Label Studio is the source of truth. When it
    cannot be read, training goes on with the annotations recorded from webhooks. Returns the project's task count
    when it was read.
    """
    key = project_key(project)
    if not (settings.label_studio_url and settings.label_studio_api_key and key.isdigit()):
        return None
    from backend.label_studio import connect, project_tasks

    try:
        client = connect(settings.label_studio_url, settings.label_studio_api_key, settings.label_studio_timeout)
        tasks = project_tasks(client, int(key))
    except Exception as exc:  # unreachable, auth, project deleted: keep what the webhooks recorded
        logger.warning("project %s: could not read annotations from Label Studio (%s); using the recorded ones", key, type(exc).__name__)
        return None
    kept = AnnotationJournal(settings.model_dir, project).replace_tasks(tasks)
    logger.info("project %s: %d annotated tasks read from Label Studio", key, kept)
    return len(tasks)


def run_training(project: object, settings: Settings) -> Manifest:
    """Fine-tune the project's current model on every annotation and save the result as a new version.

    Under ``torchrun`` every process prepares the same examples and trains its share of each batch;
    the first process reads Label Studio beforehand and saves the version.
    """
    started = time.time()
    world = distributed.current()
    project_size = sync_from_label_studio(project, settings) if world.is_main else None
    distributed.barrier(world)
    journal = AnnotationJournal(settings.model_dir, project).read()
    if not journal.get("label_config"):
        raise NothingToTrain(f"project {project}: no labeling config recorded yet")
    config = LabelConfig.parse(journal["label_config"])
    fetcher = ImageFetcher(settings)
    examples, images = [], []
    for entry in journal["tasks"].values():
        parsed = parse_task(entry["task"], entry["annotations"], config, settings.annotation_policy)
        for message in parsed.messages:
            logger.warning("project %s: %s", project, message)
        if parsed.example is None:
            continue
        try:
            images.append(fetcher.load(parsed.example.image_url))
        except ImageError as exc:
            logger.warning("project %s: task %s skipped: %s", project, parsed.example.task_id, exc)
            continue
        examples.append(parsed.example)
    if not examples:
        raise NothingToTrain(f"project {project}: no usable annotated task")
    store = ModelStore(settings.model_dir)
    if world.is_main:
        clean_partial(store, project)
    base = load_classifier(settings, config.classes, project)
    logger.info("project %s: training from %s on %d annotated tasks", project, base.version, len(examples))
    if settings.sal_change_point:
        model, metrics = train_sal(project, settings, examples, images, base, project_size or len(journal["tasks"]))
    else:
        model = copy.deepcopy(base.model)
        data = prepare(examples, images, base.image_size, settings)
        metrics = fine_tune(model, base.arch, data, TrainConfig.from_settings(settings), device=resolve_device(settings.device))
    manifest = Manifest(
        version=store.next_version(project),
        arch=base.arch,
        classes=list(config.classes),
        image_size=base.image_size,
        parent=base.version,
        annotation_count=len(examples),
        metrics=metrics | {"seconds": round(time.time() - started, 2), "processes": world.size},
    )
    if world.is_main:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        store.save(project, state, manifest)
        store.prune(project, settings.keep_versions)
        logger.info("project %s: saved %s (parent %s) in %.1f s", project, manifest.version, base.version, time.time() - started)
    distributed.barrier(world)
    return manifest


def main(project: str) -> int:
    """``torchrun ... -m backend.training_run PROJECT``: one run, settings from the environment."""
    settings = Settings.from_env()
    settings.configure_logging()
    world = distributed.init(settings.device)
    try:
        run_training(project, settings)
    finally:
        distributed.close(world)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
