"""Product pictures for `merx demo`, drawn with Pillow: one per product kind and colour (a
"Desk Lamp" in navy, a "Kettle" in red), so the storefront shows pictures of the right
colour instead of coloured initials, without shipping or downloading photographs.

Each picture is a studio-style card: a soft backdrop, the product's silhouette in its
colour (a shape chosen by the kind of product) with a shadow, and the product kind written
beneath. They are written once into `<data dir>/media/demo/` and served from `/media/`."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 360
COLOR_RGB = {"black": (38, 38, 42), "white": (236, 236, 232), "grey": (140, 144, 150), "red": (196, 48, 43),
             "blue": (46, 104, 196), "green": (52, 140, 84), "beige": (214, 196, 160), "navy": (30, 46, 92)}
# A silhouette per kind of product (matched on a word of the noun); round things round.
SHAPES = {"round": ("Lamp", "Light", "Bulb", "Vase", "Candle", "Pot", "Bowl", "Ball", "Helmet", "Watch", "Kettlebell",
                    "Cushion", "Headlamp", "Perfume", "Cream"),
          "tall": ("Phone", "Smartphone", "Bottle", "Shampoo", "Boots", "Coat", "Dress", "Jacket", "Hose", "Tent",
                   "Sleeping", "Bookshelf", "Chair", "Kettle", "Blender", "Hair"),
          "wide": ("TV", "Laptop", "Notebook", "Ultrabook", "Sofa", "Bed", "Desk", "Rug", "Mat", "Frame", "Board",
                   "Puzzle", "Mower", "Wallet", "Belt", "Cat", "Dog", "Leash")}


def _shape_of(noun: str) -> str:
    words = noun.replace("-", " ").split()
    for shape, keys in SHAPES.items():
        if any(w in keys for w in words):
            return shape
    return ("round", "tall", "wide")[int(hashlib.sha1(noun.encode()).hexdigest(), 16) % 3]


@lru_cache(maxsize=1)
def _shadow() -> Image.Image:
    """The soft shadow under every object: the same mask for all pictures, blurred once."""
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).ellipse([SIZE * 0.22, SIZE * 0.68, SIZE * 0.78, SIZE * 0.76], fill=120)
    return mask.filter(ImageFilter.GaussianBlur(8))


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def render_picture(noun: str, color: str) -> Image.Image:
    rgb = COLOR_RGB.get(color, (120, 120, 120))
    backdrop = tuple(int(245 - (245 - c) * 0.12) for c in rgb)
    img = Image.new("RGB", (SIZE, SIZE), backdrop)
    draw = ImageDraw.Draw(img)
    # floor line and a soft shadow under the object
    draw.rectangle([0, int(SIZE * 0.72), SIZE, SIZE], fill=tuple(max(0, c - 14) for c in backdrop))
    img.paste((60, 60, 60), (0, 0), _shadow())
    shape = _shape_of(noun)
    box = {"round": [SIZE * 0.28, SIZE * 0.18, SIZE * 0.72, SIZE * 0.70],
           "tall": [SIZE * 0.36, SIZE * 0.10, SIZE * 0.64, SIZE * 0.71],
           "wide": [SIZE * 0.16, SIZE * 0.30, SIZE * 0.84, SIZE * 0.71]}[shape]
    if shape == "round":
        draw.ellipse(box, fill=rgb)
    else:
        draw.rounded_rectangle(box, radius=int(SIZE * 0.05), fill=rgb)
    # a highlight, so the object reads as a solid thing under a studio light
    hx0, hy0, hx1, hy1 = box
    highlight = tuple(min(255, c + 60) for c in rgb)
    draw.ellipse([hx0 + (hx1 - hx0) * 0.15, hy0 + (hy1 - hy0) * 0.1, hx0 + (hx1 - hx0) * 0.35,
                  hy0 + (hy1 - hy0) * 0.3], fill=highlight)
    font = _font(24)
    text = noun
    width = draw.textlength(text, font=font)
    draw.text(((SIZE - width) / 2, SIZE * 0.82), text, font=font, fill=(50, 50, 56))
    return img


def picture_url(noun: str, color: str) -> str:
    return f"/media/demo/{noun.lower().replace(' ', '-')}-{color}.jpg"


def picture_file(media_dir: Path, name: str) -> Path | None:
    """The demo picture `name` ("desk-lamp-navy.jpg"), drawn and cached on first request;
    None for a name that is not a demo picture (so nothing else can be written)."""
    stem, dot, ext = name.rpartition(".")
    if ext != "jpg" or not dot or not stem.replace("-", "").isalnum() or len(stem) > 80:
        return None
    noun_part, _, color = stem.rpartition("-")
    if color not in COLOR_RGB or not noun_part:
        return None
    path = media_dir / "demo" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        noun = " ".join(w.upper() if w == "tv" else w.capitalize() for w in noun_part.split("-"))
        tmp = path.with_suffix(".tmp")
        render_picture(noun, color).save(tmp, "JPEG", quality=85)
        tmp.replace(path)  # atomic: a concurrent request never reads half a file
    return path
