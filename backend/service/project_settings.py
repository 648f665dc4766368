"""A project's own settings: Label Studio's model card (*Settings > Model > Extra params*) reaches ``/setup`` as
``extra_params``; the few that are a project's choice override the environment's for that project."""
from __future__ import annotations

from typing import Any

from backend.settings import Settings, SettingsError
from backend.storage.files import atomic_write_json, read_json
from backend.storage.project_dir import ProjectDir

PROJECT_SETTINGS = ("QUEUE_STRATEGY", "QUEUE_BATCH_SIZE", "TRAIN_LOSS", "TRAIN_STEPS", "TRAIN_EVERY")


def save_extra_params(settings: Settings, folder: ProjectDir, extra: Any) -> dict[str, str]:
    """Validate ``extra`` (a dict of the ``PROJECT_SETTINGS``, any case) and keep it as the project's settings;
    an empty dict clears them. SettingsError names an unknown key or a bad value, and nothing is written."""
    if not isinstance(extra, dict):
        raise SettingsError("extra_params must be a JSON object such as {\"TRAIN_LOSS\": \"swap\"}")
    chosen = {str(key).upper(): "" if value is None else str(value) for key, value in extra.items()}
    unknown = sorted(set(chosen) - set(PROJECT_SETTINGS))
    if unknown:
        raise SettingsError(f"extra_params {unknown} cannot be set per project; choose from {', '.join(PROJECT_SETTINGS)}")
    _apply(settings, chosen)  # raises on a bad value, naming the variable
    folder.ensure()
    atomic_write_json(folder.settings, chosen)
    return chosen


def for_project(settings: Settings, folder: ProjectDir) -> Settings:
    """``settings`` with the project's own choices applied (the environment's where it has none)."""
    chosen = read_json(folder.settings, None)
    if not isinstance(chosen, dict) or not chosen:
        return settings
    try:
        return _apply(settings, chosen)
    except SettingsError:  # saved before a setting's allowed values changed: the environment's apply
        return settings


def _apply(settings: Settings, chosen: dict[str, str]) -> Settings:
    """Validated like the environment at start-up: an empty value keeps the environment's."""
    return Settings.from_env({**settings.to_env(), **{key: value for key, value in chosen.items() if value}})
