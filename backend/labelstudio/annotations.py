"""Turn a Label Studio task + annotation into a training example, each region read by its control (``controls``).

Coordinates stay in Label Studio's percent of the image (top-left origin) until an
image is at hand; negative clicks map to the superpixel under them at training time
with the same segmentation as predict.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from backend.core.examples import Example
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.controls import BY_REGION_TYPE, Reading, quote
from backend.labelstudio.images import MAX_IMAGE_PIXELS

POLICIES = ("latest", "merge")


@dataclass
class Parsed:
    """An example (or None when nothing is usable), the messages explaining what was skipped, and whether a region
    went past a limit that no annotation of a real image reaches (a webhook refuses such an annotation)."""

    example: Example | None
    messages: list[str] = field(default_factory=list)
    over_limits: bool = False


def _annotation_time(annotation: dict) -> tuple:
    return (str(annotation.get("updated_at") or ""), str(annotation.get("created_at") or ""), str(annotation.get("id") or ""))


def select_annotations(annotations: list[dict], policy: str = "latest") -> tuple[list[dict], list[str]]:
    """Usable annotations of a task: the latest one, or all (``merge``); cancelled ones are skipped."""
    if policy not in POLICIES:
        raise ValueError(f"unknown annotation policy '{policy}'; choose one of {POLICIES}")
    messages = []
    usable = []
    for annotation in annotations:
        if not isinstance(annotation, dict):
            messages.append("annotation is not an object")
        elif annotation.get("was_cancelled"):
            messages.append(f"annotation {annotation.get('id')} was skipped by the annotator")
        else:
            usable.append(annotation)
    usable.sort(key=_annotation_time)
    return (usable[-1:] if policy == "latest" else usable), messages


def parse_task(task: dict, annotations: list[dict] | None, config: LabelConfig, policy: str = "latest",
               max_pixels: int = MAX_IMAGE_PIXELS) -> Parsed:
    """The training example of ``task`` from its ``annotations`` (default: ``task['annotations']``); brush regions
    over ``max_pixels`` are skipped with a message before they are decoded."""
    messages: list[str] = []
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        return Parsed(None, ["task has no 'data' object"])
    url = task["data"].get(config.image_key)
    if not isinstance(url, str) or not url:
        return Parsed(None, [f"task {task.get('id')}: no '{config.image_key}' in task data"])
    chosen, skipped = select_annotations(annotations if annotations is not None else task.get("annotations") or [], policy)
    messages += [f"task {task.get('id')}: {m}" for m in skipped]
    if not chosen:
        return Parsed(None, messages + [f"task {task.get('id')}: no usable annotation"])
    example = Example(task_id=task.get("id"), image_url=url, annotation_id=chosen[-1].get("id"))
    reading = Reading(config, example, messages, max_pixels)
    for annotation in chosen:
        regions = annotation.get("result") or []
        if not isinstance(regions, list):
            messages.append(f"task {task.get('id')}: annotation {annotation.get('id')} has a 'result' that is not a list")
            continue
        for region in regions:
            _read(region, reading)
    if reading.unknown:
        messages.append(f"task {quote(task.get('id'))}: region types {sorted(map(quote, reading.unknown))} say "
                        "nothing about attention and were skipped")
    if example.label is None and not example.has_guidance:
        return Parsed(None, messages + [f"task {task.get('id')}: annotation has neither a class nor guidance"],
                      reading.over_limits)
    return Parsed(example, messages, reading.over_limits)


def _read(region: object, reading: Reading) -> None:
    """One region into the example by the control that claims its type; an unknown type is noted (a few) and
    skipped, and a region no check foresaw costs itself, never the annotation or a training run."""
    if not isinstance(region, dict) or not isinstance(region.get("value"), dict):
        reading.messages.append("region without a 'value' object")
        return
    kind = str(region.get("type", "")).lower()
    control = BY_REGION_TYPE.get(kind)
    if control is None:
        if len(reading.unknown) < 10:
            reading.unknown.add(kind)
        return
    try:
        control.read(region, region["value"], reading)
    except Exception as exc:
        reading.skip(region, f"unreadable {quote(kind)} region ({type(exc).__name__})")


def context_clicks(task: dict, context: object, config: LabelConfig) -> list[tuple[float, float]]:
    """The ignore clicks (percent of the image, rotation undone) an annotator just placed with a smart keypoint
    tool, which Label Studio sends as ``/predict``'s ``context``; an alt-click (``is_positive: false``) with any
    keypoint label counts as an ignore click."""
    results = context.get("result") if isinstance(context, dict) else None
    if not isinstance(results, list) or not config.ignore_point_label:
        return []
    regions = []
    for region in results:
        if not isinstance(region, dict) or region.get("type") != "keypointlabels" or not isinstance(region.get("value"), dict):
            continue
        if region.get("is_positive") is False:
            region = region | {"value": region["value"] | {"keypointlabels": [config.ignore_point_label]}}
        regions.append(region)
    parsed = parse_task(task, [{"id": "context", "result": regions}], config) if regions else None
    return list(parsed.example.negative) if parsed is not None and parsed.example is not None else []
