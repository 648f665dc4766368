"""``MODEL_DIR/<project>/versions.png``: each version's held-out accuracy, pointing game and attention outside the
box, so a person can see which version to keep."""
from __future__ import annotations

from backend.core.line_chart import line_chart
from backend.storage.project_dir import ProjectDir

SERIES = ("accuracy", "pointing_game", "attention_outside_box")


def write_version_chart(project: ProjectDir) -> bool:
    """Draw the chart from the versions' manifests; False (and no file) when no version was measured."""
    measured = [m for m in project.models.versions() if isinstance(m.metrics.get("validation"), dict)]
    if not measured:
        return False
    series = {name.replace("_", " "): [m.metrics["validation"].get(name) for m in measured] for name in SERIES}
    labels = [f"{m.version}\nn={m.metrics['validation'].get('held_out', 0)}" for m in measured]
    line_chart(series, labels, project.version_chart, ("held-out annotated tasks;", "outside the box: lower is better"))
    return True
