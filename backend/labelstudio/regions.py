"""Label Studio result regions: the JSON every prediction and every (simulated) annotation is made of."""
from __future__ import annotations

import uuid

from backend.labelstudio.config import LabelConfig


def region(config: LabelConfig, from_name: str | None, kind: str, value: dict, size: tuple[int, int] | None = None) -> dict:
    """One region of control ``from_name`` on the config's image; ``size`` (H, W) of the image where the control
    needs it (brushes, points, boxes)."""
    found = {"id": uuid.uuid4().hex[:10], "from_name": from_name, "to_name": config.image_name, "type": kind}
    if size is not None:
        found |= {"original_width": int(size[1]), "original_height": int(size[0]), "image_rotation": 0}
    return found | {"value": value}


def choice(config: LabelConfig, label: int, control: str | None = None) -> dict:
    """Class ``label`` (an index into the config's classes) in the Choices control (the annotator's, or ``control``)."""
    return region(config, control or config.choices_name, "choices", {"choices": [config.classes[label]]})
