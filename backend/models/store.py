"""A folder of model versions, written atomically.

Layout: ``<folder>/<version>/{model.pt,manifest.json}``. A version is written into a
hidden temporary folder and renamed into place, so a reader sees either a complete
version or none; folders without a manifest are ignored.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import torch

from backend.models.checkpoints import CheckpointError, Manifest, checkpoint_payload, checksum

MODEL_FILE = "model.pt"
MANIFEST_FILE = "manifest.json"
PARTIAL_PREFIX = ".partial-"  # folders of versions being written


class ModelStore:
    """The versions of one model (a project's served model, or SAL's interpretability model)."""

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)

    def versions(self) -> list[Manifest]:
        """Complete versions, oldest first."""
        found = []
        for child in self.folder.iterdir() if self.folder.is_dir() else []:
            manifest_path = child / MANIFEST_FILE
            if child.name.startswith(".") or not (child / MODEL_FILE).is_file() or not manifest_path.is_file():
                continue
            try:
                found.append(Manifest(**json.loads(manifest_path.read_text())))
            except (ValueError, TypeError):
                continue
        return sorted(found, key=lambda m: (m.created, m.version))

    def latest(self) -> Manifest | None:
        found = self.versions()
        return found[-1] if found else None

    def path(self, version: str) -> Path:
        return self.folder / version / MODEL_FILE

    def verified_path(self, manifest: Manifest) -> Path:
        """The version's model.pt after checking it against the manifest's checksum (CheckpointError when it
        changed since it was written: bit rot, a partial copy, tampering)."""
        path = self.path(manifest.version)
        if manifest.checksum and checksum(path) != manifest.checksum:
            raise CheckpointError(f"{manifest.version}/{MODEL_FILE} does not match its manifest's checksum")
        return path

    def next_version(self) -> str:
        """The name after the highest ``vNNNN``."""
        numbers = [int(m.group(1)) for v in self.versions() if (m := re.match(r"v(\d+)$", v.version))]
        return f"v{max(numbers, default=0) + 1:04d}"

    def prune(self, keep: int) -> None:
        """Delete all but the newest ``keep`` versions (never the newest one)."""
        versions = self.versions()
        for old in versions[: max(0, len(versions) - max(1, keep))]:
            shutil.rmtree(self.path(old.version).parent, ignore_errors=True)

    def clean_partial(self) -> None:
        """Remove temporary folders left by a run that was killed while saving."""
        for leftover in self.folder.glob(f"{PARTIAL_PREFIX}*") if self.folder.is_dir() else []:
            shutil.rmtree(leftover, ignore_errors=True)

    def save(self, state_dict: dict[str, torch.Tensor], manifest: Manifest) -> Path:
        """Write ``state_dict`` and ``manifest`` as a new version; atomic."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / manifest.version
        if target.exists():
            raise FileExistsError(f"model version {manifest.version} already exists in {self.folder}")
        tmp = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=self.folder))
        try:
            torch.save(checkpoint_payload(state_dict, manifest), tmp / MODEL_FILE)
            manifest = replace(manifest, checksum=checksum(tmp / MODEL_FILE))
            (tmp / MANIFEST_FILE).write_text(json.dumps(asdict(manifest), indent=2))
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target / MODEL_FILE
