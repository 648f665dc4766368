"""The labeling configs shipped with the package (``templates/`` in the repository), with a project's classes."""
from __future__ import annotations

import re
from importlib import resources
from xml.sax.saxutils import quoteattr

TEMPLATES = ("click", "box", "combined", "interactive")  # interactive: click with a smart keypoint tool
_CHOICES = re.compile(r"(<Choices\b[^>]*>)(.*?)(\s*</Choices>)", re.S)


def render_template(name: str, classes: list[str] | tuple[str, ...] | None = None) -> str:
    """The XML of template ``name``; ``classes`` replace the example <Choice> values of each of its Choices."""
    if name not in TEMPLATES:
        raise ValueError(f"unknown template '{name}'; choose one of {TEMPLATES}")
    xml = resources.files("backend.labelstudio.templates_data").joinpath(f"{name}.xml").read_text(encoding="utf-8")
    if classes is None:
        return xml
    if len(classes) < 2:
        raise ValueError("a classification project needs at least two classes")
    choices = "".join(f"\n    <Choice value={quoteattr(c)}/>" for c in classes)
    return _CHOICES.sub(lambda m: m.group(1) + choices + m.group(3), xml)  # the answer and the model's guess
