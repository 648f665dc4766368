"""Settings from one of the backend's processes to the next one it starts (a runner, a launched training run).

They travel as one JSON document of typed values (:meth:`Settings.to_document`), written beside the project (readable
by its owner only) and read back once, instead of as environment strings each process parses again; the secrets,
left out of the document, travel in the child's environment only, so they never reach the disk or a command line.
"""
from __future__ import annotations

import json
from pathlib import Path

from backend.settings import SECRETS, Settings, SettingsError
from backend.storage.files import atomic_write_json
from backend.storage.project_dir import ProjectDir


def hand_over(settings: Settings, project: ProjectDir) -> dict[str, str]:
    """Write ``settings`` for a child working on ``project``; returns the environment variables its secrets need."""
    atomic_write_json(project.run_settings, settings.to_document())
    return {name.upper(): getattr(settings, name) for name in SECRETS}


def take_over(path: str | Path) -> Settings:
    """The settings a parent handed over in ``path`` (the secrets from this process's environment)."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read the settings handed over in {path}: {exc}") from None
    if not isinstance(document, dict):
        raise SettingsError(f"{path} holds no settings document")
    return Settings.from_document(document)
