"""One project's folder, ``MODEL_DIR/<project>/``: the only place that knows its paths and file names.

::

    MODEL_DIR/<project>/
      v0001/ v0002/ ...          served model versions (model.pt + manifest.json)
      interpretability/vNNNN/    SAL's second model
      annotations.json           the annotation journal: snapshot, annotations.log since it,
                                 annotations.counters.json, .journal.lock
      scores/<version>.npz       batch-scoring cache per model version
      queue.json                 the annotation queue last pushed to Label Studio
      sal_state.json             SAL's progress
      train.lock train.pending   the training runner's lock and its queued-run marker
      train_status.json training.log
      run_report.json            the stage reports of the last run under TRAIN_LAUNCHER
      run_settings.json          the settings its runner was handed (secrets left out)
      project_settings.json      the project's own settings from Label Studio's model extra_params
      versions.png               each version's held-out accuracy, pointing game, attention outside the box
      reports/<version>.json     each version's shortcut report; shortcuts.png: the newest one's examples
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from backend.models.store import ModelStore

_LABEL_STUDIO_ID = re.compile(r"(\d+)(\.\d{6,})?")  # "12", or "12.1700000000": the id and a timestamp
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_KEY = _PLAIN  # every key project_key makes is a plain name
NO_PROJECT = "default"  # the folder of requests that name no project


def project_key(project: object) -> str:
    """Folder name of a project id, one per id: Label Studio's "12" and "12.1700000000" are project 12; no project
    (None) is "default"; other plain names stay as they are; anything else ("..", "a/b", "项目", "", and names that
    look like ours: "default", "id-...") becomes "id-" and a hash of it, so two ids never share a folder and none
    leaves MODEL_DIR."""
    if project is None:
        return NO_PROJECT
    text = str(project)
    number = _LABEL_STUDIO_ID.fullmatch(text)
    if number:
        return number.group(1)
    if _PLAIN.fullmatch(text) and text != NO_PROJECT and not text.lower().startswith("id-"):
        return text
    return "id-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


class ProjectDir:
    """Paths of one project's files; the stores built on them live in their own modules."""

    def __init__(self, model_dir: str | os.PathLike[str], project: object):
        self.key = project_key(project)
        self.path = Path(model_dir) / self.key

    @classmethod
    def at(cls, model_dir: str | os.PathLike[str], key: str) -> "ProjectDir":
        """The folder named ``key`` (a key made by :func:`project_key`, such as a folder name or a runner's argument),
        taken as it is; ValueError for a name that could leave ``model_dir``."""
        if not _KEY.fullmatch(key):
            raise ValueError(f"'{key[:100]}' is not a project folder name")
        folder = cls.__new__(cls)
        folder.key, folder.path = key, Path(model_dir) / key
        return folder

    @classmethod
    def all(cls, model_dir: str | os.PathLike[str]) -> list["ProjectDir"]:
        """Every project folder under ``model_dir``, sorted by key."""
        root = Path(model_dir)
        names = sorted(p.name for p in root.iterdir() if p.is_dir() and _KEY.fullmatch(p.name)) if root.is_dir() else []
        return [cls.at(model_dir, name) for name in names]

    def ensure(self) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path

    @property
    def models(self) -> ModelStore:
        """The versions of the served (accuracy) model."""
        return ModelStore(self.path)

    @property
    def interpretability_models(self) -> ModelStore:
        """SAL's interpretability model versions."""
        return ModelStore(self.path / "interpretability")

    @property
    def journal(self) -> Path:
        return self.path / "annotations.json"

    @property
    def journal_log(self) -> Path:
        return self.path / "annotations.log"

    @property
    def journal_counters(self) -> Path:
        return self.path / "annotations.counters.json"

    @property
    def journal_lock(self) -> Path:
        return self.path / ".journal.lock"

    def score_cache(self, version: str) -> Path:
        return self.path / "scores" / f"{version}.npz"

    @property
    def queue(self) -> Path:
        return self.path / "queue.json"

    @property
    def sal_state(self) -> Path:
        return self.path / "sal_state.json"

    @property
    def run_lock(self) -> Path:
        return self.path / "train.lock"

    @property
    def pending(self) -> Path:
        return self.path / "train.pending"

    @property
    def run_settings(self) -> Path:
        """The settings handed to the project's last runner or launched run (secrets are not in it)."""
        return self.path / "run_settings.json"

    @property
    def settings(self) -> Path:
        """The project's own settings (Label Studio's model ``extra_params``), over the environment's."""
        return self.path / "project_settings.json"

    @property
    def version_chart(self) -> Path:
        return self.path / "versions.png"

    @property
    def shortcut_reports(self) -> Path:
        """One shortcut report per model version (``<version>.json``)."""
        return self.path / "reports"

    def shortcut_report(self, version: str) -> Path:
        return self.shortcut_reports / f"{version}.json"

    @property
    def shortcut_png(self) -> Path:
        """The newest report's suspected shortcuts with example images."""
        return self.path / "shortcuts.png"

    @property
    def status(self) -> Path:
        return self.path / "train_status.json"

    @property
    def run_report(self) -> Path:
        """The stage reports of the last run under ``TRAIN_LAUNCHER`` (written by its first process)."""
        return self.path / "run_report.json"

    @property
    def log(self) -> Path:
        return self.path / "training.log"
