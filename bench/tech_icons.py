"""Draw the home-screen icons of the tech page (app/static/icons/*.png).

Run once after changing the design: `.venv/bin/python bench/tech_icons.py`. The PNGs are
committed; nothing runs this at request time.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "app" / "static" / "icons"
BRAND = (10, 58, 107, 255)  # the tech page's top bar (#0a3a6b)
WHITE = (255, 255, 255, 255)
SCALE = 4  # draw big, shrink: smooth edges without an antialiasing library


def bubble(draw: ImageDraw.ImageDraw, size: int, content: float) -> None:
    """A speech bubble with a check mark, filling `content` of the icon's width."""
    box = size * content
    left = (size - box) / 2
    top = (size - box * 0.92) / 2
    right, bottom = left + box, top + box * 0.72
    draw.rounded_rectangle((left, top, right, bottom), radius=box * 0.16, fill=WHITE)
    tail_x = left + box * 0.22
    draw.polygon(
        [
            (tail_x, bottom - 2),
            (tail_x + box * 0.2, bottom - 2),
            (tail_x - box * 0.02, top + box * 0.92),
        ],
        fill=WHITE,
    )
    mid_y = (top + bottom) / 2
    draw.line(
        [
            (left + box * 0.27, mid_y),
            (left + box * 0.43, mid_y + box * 0.15),
            (left + box * 0.74, mid_y - box * 0.17),
        ],
        fill=BRAND,
        width=round(box * 0.1),
        joint="curve",
    )


def icon(size: int, *, full_bleed: bool, content: float) -> Image.Image:
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if full_bleed:
        draw.rectangle((0, 0, big, big), fill=BRAND)
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.22, fill=BRAND)
    bubble(draw, big, content)
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    icon(192, full_bleed=False, content=0.62).save(OUT / "icon-192.png", optimize=True)
    icon(512, full_bleed=False, content=0.62).save(OUT / "icon-512.png", optimize=True)
    # Maskable: the launcher crops to its own shape; keep the drawing inside the central
    # 80 % safe zone and fill the rest.
    icon(512, full_bleed=True, content=0.5).save(OUT / "icon-maskable-512.png", optimize=True)
    # iOS rounds the corners itself and shows transparency as black.
    icon(180, full_bleed=True, content=0.6).convert("RGB").save(
        OUT / "apple-touch-icon.png", optimize=True
    )


if __name__ == "__main__":
    main()
