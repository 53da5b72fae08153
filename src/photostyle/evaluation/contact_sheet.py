"""Contact sheets: rows of photos side by side at one height, with column labels."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from photostyle.images import read_photo, write_photo

LABEL_HEIGHT = 18
GAP = 4


def contact_sheet(rows: list[list[Path]], labels: list[str], path: Path, height: int = 256) -> None:
    """Write a sheet with one row per list of photos (all shown `height` pixels tall)."""
    scaled = []
    for row in rows:
        images = []
        for photo in row:
            image = Image.fromarray(read_photo(photo).pixels)
            images.append(
                image.resize((max(1, round(image.width * height / image.height)), height), Image.Resampling.LANCZOS)
            )
        scaled.append(images)
    columns = max(len(row) for row in scaled)
    widths = [max(row[c].width for row in scaled if c < len(row)) for c in range(columns)]
    sheet = Image.new(
        "RGB", (sum(widths) + GAP * (columns + 1), LABEL_HEIGHT + len(rows) * (height + GAP) + GAP), "white"
    )
    draw = ImageDraw.Draw(sheet)
    x_of = [GAP + sum(widths[:c]) + GAP * c for c in range(columns)]
    for c, label in enumerate(labels[:columns]):
        draw.text((x_of[c], 3), label, fill="black")
    for r, row in enumerate(scaled):
        for c, image in enumerate(row):
            sheet.paste(image, (x_of[c], LABEL_HEIGHT + GAP + r * (height + GAP)))
    write_photo(path, np.asarray(sheet), quality=88)
