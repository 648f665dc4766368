"""Read what the backend needs from a Label Studio labeling config: each control found by its tag fills its fields."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from label_studio_sdk.label_interface import LabelInterface

from backend.labelstudio.controls import BY_TAG


class LabelConfigError(ValueError):
    """The labeling config lacks a control the backend needs."""


@dataclass(frozen=True)
class LabelRoles:
    """Label names (any case) that play a role whatever their language: ``focus`` (a click on the object),
    ``ignore`` (a click, brush or suggested region the model should not use) and ``object`` (a brush mask of the
    object). They are looked for first; English words (``controls``) are the fallback."""

    focus: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    object: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelConfig:
    """Names of the controls and labels the backend reads and writes."""

    xml: str
    image_name: str
    image_key: str  # task data key of the image, "image" for value="$image"
    choices_name: str
    classes: tuple[str, ...]
    guess_name: str | None = None  # a second Choices with the same classes: where the model's guess is shown
    keypoints_name: str | None = None
    focus_label: str | None = None
    ignore_point_label: str | None = None
    rectangles_name: str | None = None
    object_labels: tuple[str, ...] = ()
    brush_name: str | None = None
    heat_label: str | None = None
    ignore_region_label: str | None = None
    saliency_label: str | None = None  # brush label of the object's region (human saliency; SAL's suggestion)
    overlay_name: str | None = None  # PolygonLabels control the model draws into: heat levels, suggested regions
    overlay_heat_label: str | None = None
    overlay_ignore_label: str | None = None

    @property
    def digest(self) -> str:
        """Short hash of what the backend reads from the config (not its raw XML: the same config with other
        whitespace or attribute order is the same), to key caches."""
        fields = {k: v for k, v in self.__dict__.items() if k != "xml"}
        return hashlib.sha1(repr(sorted(fields.items())).encode()).hexdigest()[:12]

    @property
    def suggests_ignore_regions(self) -> bool:
        """Whether the config has a place for suggested ignore regions (overlay outlines or brush masks)."""
        return bool((self.overlay_name and self.overlay_ignore_label) or (self.brush_name and self.ignore_region_label))

    @property
    def interface(self) -> LabelInterface:
        return LabelInterface(self.xml)

    @classmethod
    def parse(cls, xml: str, roles: LabelRoles = LabelRoles()) -> "LabelConfig":
        """Parse ``xml``, finding the labels' roles by ``roles`` first, then by English words; raise LabelConfigError
        naming what is missing."""
        if not xml or not xml.strip():
            raise LabelConfigError("empty labeling config")
        try:
            interface = LabelInterface(xml)
        except Exception as exc:  # the SDK raises several types for broken XML
            raise LabelConfigError(f"labeling config is not valid XML: {exc}") from exc
        images = [obj for obj in interface.objects if obj.tag == "Image"]
        if not images:
            raise LabelConfigError("labeling config has no <Image> tag")
        image = images[0]
        found: dict[str, object] = {}
        for control in interface.controls:
            kind = BY_TAG.get(control.tag)
            if kind is not None and image.name in (control.to_name or []):
                found.update(kind.fields(control.name, list(getattr(control, "labels", None) or []), roles, found))
        if "choices_name" not in found:
            raise LabelConfigError(f"labeling config has no <Choices> control for the image '{image.name}'")
        if len(found["classes"]) < 2:  # type: ignore[arg-type]
            raise LabelConfigError("the <Choices> control needs at least two <Choice> classes")
        return cls(xml=xml, image_name=image.name, image_key=image.value.lstrip("$"), **found)  # type: ignore[arg-type]
