"""Which classifier a project uses now: its newest version, else the configured base model."""
from __future__ import annotations

from backend.models.classifier import Classifier, load_classifier, load_newest
from backend.settings import ModelSource
from backend.storage.project_dir import ProjectDir


def project_classifier(source: ModelSource, project: ProjectDir, classes: tuple[str, ...]) -> Classifier:
    """The served classifier of ``project`` (newest version, ``MODEL_PATH``, ImageNet or random, in that order)."""
    return load_classifier(project.models, classes, source.path, source.arch, source.image_size,
                           source.pretrained_weights)


def interpretability_classifier(project: ProjectDir, classes: tuple[str, ...]) -> Classifier | None:
    """SAL's newest readable interpretability model for ``classes``, or None."""
    return load_newest(project.interpretability_models, classes)
