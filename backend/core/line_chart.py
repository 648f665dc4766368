"""A small line chart in [0, 1] drawn with Pillow, for the PNGs the backend writes at run time (no plotting
library is installed with it)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

COLOURS = ((37, 99, 235), (22, 163, 74), (220, 38, 38), (147, 51, 234))
WIDTH, HEIGHT, MARGIN, LEGEND = 720, 360, 48, 190


def line_chart(series: dict[str, list[float | None]], x_labels: list[str], path: Path, notes: tuple[str, ...] = ()) -> None:
    """Plot each series (values in [0, 1], None where missing) over ``x_labels``, legend and ``notes`` on the
    right, and save the PNG at ``path``."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, top, right, bottom = MARGIN, MARGIN // 2, WIDTH - LEGEND, HEIGHT - MARGIN
    draw.rectangle((left, top, right, bottom), outline=(156, 163, 175))
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = bottom - tick * (bottom - top)
        draw.line((left, y, right, y), fill=(229, 231, 235))
        draw.text((8, y - 6), f"{tick:.2f}", fill="black", font=font)
    count = len(x_labels)
    xs = [left + (right - left) * i / (count - 1) for i in range(count)] if count > 1 else [(left + right) / 2]
    every = max(1, count // 8)  # at most about eight labels under the axis
    for i, (x, label) in enumerate(zip(xs, x_labels)):
        if i % every == 0 or i == count - 1:
            for row, line in enumerate(label.split("\n")):
                draw.text((x - 14, bottom + 6 + 14 * row), line, fill="black" if row == 0 else (107, 114, 128), font=font)
    for row, (name, values) in enumerate(series.items()):
        colour = COLOURS[row % len(COLOURS)]
        points = [(x, bottom - min(max(v, 0.0), 1.0) * (bottom - top)) for x, v in zip(xs, values) if v is not None]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
        draw.line((right + 16, top + 10 + 18 * row, right + 36, top + 10 + 18 * row), fill=colour, width=3)
        draw.text((right + 42, top + 4 + 18 * row), name, fill="black", font=font)
    for row, note in enumerate(notes):
        draw.text((right + 16, top + 16 + 18 * len(series) + 14 * row), note, fill=(107, 114, 128), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
