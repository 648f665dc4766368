"""Versioned model checkpoints in MODEL_DIR, written atomically.

Layout: ``MODEL_DIR/<project>/<version>/{model.pt,manifest.json}``. A version is
written into a hidden temporary folder and renamed into place, so a reader sees
either a complete version or none; folders without a manifest are ignored.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

MODEL_FILE = "model.pt"
MANIFEST_FILE = "manifest.json"
PARTIAL_PREFIX = ".partial-"  # folders of versions being written
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def project_key(project: object) -> str:
    """Folder name for a Label Studio project id ("12" or "12.1700000000" -> "12")."""
    text = str(project or "default").split(".")[0]
    return _SAFE.sub("_", text) or "default"


@dataclass
class Manifest:
    """What is known about one saved model version."""

    version: str
    arch: str
    classes: list[str]
    image_size: int
    parent: str | None = None
    created: float = field(default_factory=time.time)
    annotation_count: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)


class ModelStore:
    """The versions of each project's model under one root folder."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def versions(self, project: object) -> list[Manifest]:
        """Complete versions of ``project``, oldest first."""
        folder = self.root / project_key(project)
        found = []
        for child in folder.iterdir() if folder.is_dir() else []:
            manifest_path = child / MANIFEST_FILE
            if child.name.startswith(".") or not (child / MODEL_FILE).is_file() or not manifest_path.is_file():
                continue
            try:
                found.append(Manifest(**json.loads(manifest_path.read_text())))
            except (ValueError, TypeError):
                continue
        return sorted(found, key=lambda m: (m.created, m.version))

    def latest(self, project: object) -> Manifest | None:
        found = self.versions(project)
        return found[-1] if found else None

    def path(self, project: object, version: str) -> Path:
        return self.root / project_key(project) / version / MODEL_FILE

    def next_version(self, project: object) -> str:
        """The name after the highest ``vNNNN`` of ``project``."""
        numbers = [int(m.group(1)) for v in self.versions(project) if (m := re.match(r"v(\d+)$", v.version))]
        return f"v{max(numbers, default=0) + 1:04d}"

    def prune(self, project: object, keep: int) -> None:
        """Delete all but the newest ``keep`` versions (never the newest one)."""
        versions = self.versions(project)
        for old in versions[: max(0, len(versions) - max(1, keep))]:
            shutil.rmtree(self.path(project, old.version).parent, ignore_errors=True)

    def save(self, project: object, state_dict: dict[str, torch.Tensor], manifest: Manifest) -> Path:
        """Write ``state_dict`` and ``manifest`` as a new version; atomic."""
        folder = self.root / project_key(project)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / manifest.version
        if target.exists():
            raise FileExistsError(f"model version {manifest.version} already exists in {folder}")
        tmp = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=folder))
        try:
            torch.save(checkpoint_payload(state_dict, manifest), tmp / MODEL_FILE)
            (tmp / MANIFEST_FILE).write_text(json.dumps(asdict(manifest), indent=2))
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target / MODEL_FILE


def checkpoint_payload(state_dict: dict[str, torch.Tensor], manifest: Manifest) -> dict[str, Any]:
    """The dict saved in model.pt; loadable with ``torch.load(weights_only=True)``."""
    return {
        "arch": manifest.arch,
        "classes": list(manifest.classes),
        "image_size": int(manifest.image_size),
        "version": manifest.version,
        "state_dict": state_dict,
    }
