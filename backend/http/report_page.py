"""``GET /report?project=ID``: the project's shortcut reports as one HTML page a project manager reads.

Everything shown comes from files the training runs wrote (see backend/service/shortcut_report.py); every value is
escaped, since class names and task ids come from Label Studio users.
"""
from __future__ import annotations

import base64
from html import escape
from typing import Any

from backend.storage.project_dir import ProjectDir


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _flipped(record: dict[str, Any], prefix: str = "swap") -> str:
    moves = record.get(f"{prefix}_moves")
    return f"{record.get(f'{prefix}_flips', 0)} of {moves}" if moves else "-"


def _carrier(record: dict[str, Any]) -> str:
    """What the version decides by (reports written before the cut moves only knew the background)."""
    return record.get("carrier", "context" if record["uses_shortcut"] else "")


def _strength(record: dict[str, Any]) -> float | None:
    """Share of the moves of the version's own test (plain or cut) that flipped: how strongly the cue decides."""
    prefix = "cut" if _carrier(record) == "object" else "swap"
    moves = record.get(f"{prefix}_moves")
    return record.get(f"{prefix}_flips", 0) / moves if moves else None


def _tested(record: dict[str, Any]) -> bool:
    """Whether any object could be moved (the moves need annotated objects of at least two classes); a version
    flagged in a report written before the moves were counted was tested."""
    return bool(record["uses_shortcut"] or record.get("swap_moves") or record.get("cut_moves"))


def _answer(record: dict[str, Any]) -> str:
    """The versions table's shortcut column."""
    return "yes" if record["uses_shortcut"] else "no" if _tested(record) else "not tested"


def _verdict(record: dict[str, Any]) -> str:
    carrier = _carrier(record)
    if carrier == "context":
        return (f"uses a shortcut: {_flipped(record)} moves of a rightly classified object onto another class's "
                "background changed its class to the background's")
    if carrier == "object":
        return (f"uses a shortcut carried by the object's size or place: {_flipped(record, 'cut')} moves of a "
                "rightly classified object, cut down to a smaller object of another class and put in its place, "
                f"changed its class (at its own size and place: {_flipped(record)})")
    if not _tested(record):
        return ("cannot be tested yet: the test moves annotated objects (a box, a brush mask or a focus click) onto "
                "images of another class, and it found no such pair; annotate the objects of tasks of at least two "
                "classes. Until then the suspected groups below rest on attention alone")
    return (f"shows no sign of a shortcut: {_flipped(record)} moves of a rightly classified object onto another "
            f"class's background changed its class, {_flipped(record, 'cut')} cut down to another's size and place")


def trend(reports: list[dict[str, Any]]) -> str:
    """Whether the last version shrank the shortcut the one before it used."""
    if len(reports) < 2:
        return "Only one version has a report so far."
    before, after = reports[-2], reports[-1]
    if not _tested(after):
        return (f"{after['version']} could not be tested, so it cannot be compared with {before['version']}: "
                "whether the last batch removed a shortcut is not known.")
    if not _tested(before):
        return (f"{before['version']} could not be tested; {after['version']} "
                f"{'uses a shortcut' if after['uses_shortcut'] else 'shows none'}.")
    if not before["uses_shortcut"]:
        return (f"{before['version']} showed no shortcut; {after['version']} "
                f"{'does' if after['uses_shortcut'] else 'does not either'}.")
    if not after["uses_shortcut"]:
        what = "the object's size or place" if _carrier(before) == "object" else "the background"
        return f"The last batch removed it: {after['version']} no longer decides by {what} ({before['version']} did)."
    share = (f"{_percent(before['affected_share'])} of the tasks in suspected groups with {before['version']}, "
             f"{_percent(after['affected_share'])} with {after['version']}")
    strength = _strength(before), _strength(after)
    if _carrier(before) != _carrier(after) or None in strength:
        verb = "shrank" if after["affected_share"] < before["affected_share"] else "did not shrink"
        return f"The shortcut {verb}: {share}."
    verb = "shrank" if strength[1] < strength[0] else "did not shrink"
    test = "cut down to a smaller object" if _carrier(after) == "object" else "moved onto another class's background"
    return (f"The shortcut {verb}: {_percent(strength[0])} of the rightly classified objects {test} took its class "
            f"with {before['version']}, {_percent(strength[1])} with {after['version']} ({share}).")


def render_report(project: ProjectDir, reports: list[dict[str, Any]], label_studio_url: str = "") -> str:
    """The page: the versions side by side, then the newest version's groups and examples."""
    newest = reports[-1]
    rows = "".join(
        f"<tr><td>{escape(str(r['version']))}</td><td>{_answer(r)}</td>"
        f"<td>{_flipped(r)}</td><td>{_flipped(r, 'cut')}</td><td>{_percent(r.get('swap_follows_background'))}</td>"
        f"<td>{_percent(r['affected_share'])}</td><td>{int(r['error_count'])}</td></tr>" for r in reports)
    groups = "".join(_group(g, project.key, label_studio_url) for g in newest["groups"] if g["suspected"])
    picture = ""
    if project.shortcut_png.is_file():
        data = base64.b64encode(project.shortcut_png.read_bytes()).decode("ascii")
        picture = f'<h2>Examples</h2><img id="examples" alt="examples with their attention" src="data:image/png;base64,{data}">'
    moved = ("annotated tasks held out of its training" if newest.get("swap_unseen")
             else "annotated tasks, which it may have trained on")
    verdict = _verdict(newest) + (f" (objects of {moved})" if _tested(newest) else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shortcut report, project {escape(project.key)}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}}img{{max-width:100%}}</style></head>
<body><h1>Shortcut report, project {escape(project.key)}</h1>
<p id="verdict"><strong>{escape(str(newest['version']))}</strong> {verdict}.</p>
<p id="trend">{escape(trend(reports))}</p>
<h2>Versions</h2><table id="versions"><tr><th>version</th><th>shortcut</th><th>moved objects that took the
background's class</th><th>... cut down to a smaller object's size and place</th><th>swaps follow the background (balanced)</th><th>tasks in suspected groups</th><th>annotated tasks predicted wrong</th></tr>{rows}</table>
<h2>Suspected shortcuts of {escape(str(newest['version']))}</h2>{groups or '<p>None.</p>'}{picture}
</body></html>"""


def _group(group: dict[str, Any], key: str, label_studio_url: str) -> str:
    def link(task: Any) -> str:
        text = escape(str(task))
        if label_studio_url and key.isdigit() and str(task).isdigit():
            return f'<a href="{escape(label_studio_url.rstrip("/"))}/projects/{key}/data?task={text}">{text}</a>'
        return text

    reasons = "".join(f"<li>{escape(r)}</li>" for r in group["reasons"])
    mix = ", ".join(f"{escape(str(name))}: {count}" for name, count in group.get("class_mix", {}).items()) or "none labelled"
    return (f'<div class="group"><p>{escape(group["description"])} ({_percent(group["share"])} of the tasks)</p>'
            f"<ul>{reasons}</ul><p>Annotated classes in the group: {mix}</p>"
            f"<p>Examples: {', '.join(link(t) for t in group['examples'])}</p></div>")
