"""``MODEL_DIR/<project>/versions.png``: each version's held-out accuracy, pointing game and attention outside the
box, drawn with Pillow (no plotting library at run time), so a person can see which version to keep."""
from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from backend.storage.project_dir import ProjectDir

SERIES = (("accuracy", (37, 99, 235)), ("pointing_game", (22, 163, 74)), ("attention_outside_box", (220, 38, 38)))
WIDTH, HEIGHT, MARGIN = 720, 360, 48


def write_version_chart(project: ProjectDir) -> bool:
    """Draw the chart from the versions' manifests; False (and no file) when no version was measured."""
    measured = [m for m in project.models.versions() if isinstance(m.metrics.get("validation"), dict)]
    if not measured:
        return False
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, top, right, bottom = MARGIN, MARGIN // 2, WIDTH - 190, HEIGHT - MARGIN
    draw.rectangle((left, top, right, bottom), outline=(156, 163, 175))
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = bottom - tick * (bottom - top)
        draw.line((left, y, right, y), fill=(229, 231, 235))
        draw.text((8, y - 6), f"{tick:.2f}", fill="black", font=font)
    step = (right - left) / max(1, len(measured) - 1) if len(measured) > 1 else 0
    xs = [left + step * i if len(measured) > 1 else (left + right) / 2 for i in range(len(measured))]
    for x, manifest in zip(xs, measured):
        held = manifest.metrics["validation"].get("held_out", 0)
        draw.text((x - 14, bottom + 6), manifest.version, fill="black", font=font)
        draw.text((x - 14, bottom + 20), f"n={held}", fill=(107, 114, 128), font=font)
    for row, (name, colour) in enumerate(SERIES):
        points = [(x, bottom - m.metrics["validation"][name] * (bottom - top)) for x, m in zip(xs, measured)
                  if name in m.metrics["validation"]]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
        draw.line((right + 16, top + 10 + 18 * row, right + 36, top + 10 + 18 * row), fill=colour, width=3)
        draw.text((right + 42, top + 4 + 18 * row), name.replace("_", " "), fill="black", font=font)
    draw.text((right + 16, top + 70), "held-out annotated tasks;", fill=(107, 114, 128), font=font)
    draw.text((right + 16, top + 84), "outside the box: lower is better", fill=(107, 114, 128), font=font)
    project.ensure()
    image.save(project.version_chart)
    return True
