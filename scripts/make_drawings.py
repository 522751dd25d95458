"""Build the drawings set (tests/data/drawings.npz, a test fixture): digits that are not from MNIST, stored as the raw
inputs the Draw page receives, so they can be read through preprocess.from_canvas / from_bytes.

    python scripts/make_drawings.py [--out tests/data/drawings.npz] [--sheet drawings.png]

Three sources, balanced over the ten digits, all made here (seed 0, nothing downloaded):

- ``canvas``: pen digits drawn as strokes on the 280x280 canvas (white on black, brush 8-40 like the
  page's slider), each by a different synthetic writer: one of several skeletons per digit, point
  jitter, slant, rotation up to 15 degrees, aspect, size and position.
- ``scan``: the same kind of pen digits as dark ink on uneven paper, then a low-resolution scan or a
  phone photo: reduced (to as little as 28 pixels a side), blurred, noisy, saved as JPEG or PNG.
- ``font``: the digits of every local TrueType font (Debian: ``apt-get install fonts-dejavu-core
  fonts-dejavu-extra fonts-liberation``), sized, turned a little, dark on light or light on dark.

Only the generated file is committed, so the tests need none of these fonts. ``--sheet`` writes a
tiled picture of the set after preprocessing, to check by eye that every digit is unambiguous.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation"]
# Fonts whose digits are not handwriting-like enough to be read as one: none so far; a name here is skipped.
SKIP_FONTS: set[str] = set()
PER_DIGIT = {"canvas": 50, "scan": 30, "font": 20}
CANVAS = 280


def _bezier(p0, p1, p2, p3, n=24):
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2, p3 = (np.asarray(p, float) for p in (p0, p1, p2, p3))
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3


def _ellipse(cx, cy, rx, ry, start=-90.0, sweep=380.0, n=48):
    a = np.radians(start + np.linspace(0, sweep, n))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)


def _line(*pts):
    return np.asarray(pts, float)


def _join(*parts):
    return np.concatenate(parts)


# Skeletons in a unit box (x right, y down): each digit has a few ways people write it; each way is a
# list of strokes, each stroke a polyline. Control points get jittered per writer.
def skeletons(d: int, rng: np.random.Generator) -> list[np.ndarray]:
    j = lambda v: v + rng.normal(0, 0.05)  # noqa: E731 - one writer's wobble per control point
    style = int(rng.integers(3))
    if d == 0:
        return [_ellipse(j(0.5), j(0.5), j(0.3), j(0.46), start=j(-100), sweep=j(370))]
    if d == 1:
        stem = _line((j(0.55), j(0.0)), (j(0.5), j(1.0)))
        if style == 0:
            return [stem]
        flag = _line((0.42 + rng.normal(0, 0.02), 0.17 + rng.normal(0, 0.02)), stem[0])  # short: a long flag reads as 7
        if style == 1:
            return [_join(flag, stem)]
        return [_join(flag, stem), _line((j(0.25), j(1.0)), (j(0.8), j(1.0)))]
    if d == 2:
        top = _bezier((j(0.15), j(0.25)), (j(0.25), j(-0.08)), (j(0.9), j(-0.05)), (j(0.78), j(0.38)))
        diag = _line(top[-1], (j(0.12), j(1.0)))
        base = _line((0.12, 1.0), (j(0.9), j(0.98)))
        if style == 2:  # a curl where the diagonal meets the base
            curl = _ellipse(j(0.2), j(0.9), 0.08, 0.08, start=-90, sweep=-300, n=16)
            return [_join(top, _line(top[-1], curl[0]), curl, base)]
        return [_join(top, diag, base)]
    if d == 3:
        a = _bezier((j(0.15), j(0.1)), (j(0.5), j(-0.12)), (j(1.0), j(0.25)), (j(0.42), j(0.47)))
        b = _bezier(a[-1], (j(1.05), j(0.5)), (j(0.95), j(1.15)), (j(0.12), j(0.88)))
        return [_join(a, b)]
    if d == 4:
        if style == 0:  # open four: two strokes
            return [_line((j(0.25), j(0.0)), (j(0.12), j(0.58)), (j(0.88), j(0.58))),
                    _line((j(0.7), j(0.05)), (j(0.7), j(1.0)))]
        return [_line((j(0.62), j(0.0)), (j(0.08), j(0.66)), (j(0.9), j(0.66))),  # closed four
                _line((j(0.64), j(0.02)), (j(0.64), j(1.0)))]
    if d == 5:
        flag = _line((j(0.85), j(0.0)), (j(0.25), j(0.02)), (j(0.2), j(0.45)))
        belly = _bezier(flag[-1], (j(0.65), j(0.25)), (j(1.05), j(0.6)), (j(0.75), j(0.88)))
        tail = _bezier(belly[-1], (j(0.6), j(1.05)), (j(0.3), j(1.05)), (j(0.12), j(0.88)))
        return [_line(*flag), _join(belly, tail)] if style == 0 else [_join(flag, belly, tail)]
    if d == 6:
        down = _bezier((j(0.75), j(0.0)), (j(0.35), j(0.1)), (j(0.15), j(0.4)), (j(0.2), j(0.75)))
        loop = _ellipse(j(0.5), j(0.74), j(0.3), j(0.25), start=180, sweep=j(365))  # closed: open reads as 5
        return [_join(down, loop)]
    if d == 7:
        body = _line((j(0.1), j(0.02)), (j(0.88), j(0.0)), (j(0.38), j(1.0)))
        if style == 2:  # continental seven with a bar
            return [body, _line((j(0.38), j(0.5)), (j(0.8), j(0.5)))]
        return [body]
    if d == 8:
        top = _ellipse(j(0.5), j(0.26), j(0.24), j(0.24), start=90, sweep=360)
        bottom = _ellipse(j(0.5), j(0.74), j(0.29), j(0.26), start=-90, sweep=j(370))
        return [top, bottom]
    if d == 9:
        loop = _ellipse(j(0.48), j(0.28), j(0.28), j(0.27), start=0, sweep=j(370))
        if style == 0:
            stem = _line(loop[-1], (j(0.74), j(1.0)))
        else:
            stem = _bezier(loop[-1], (j(0.78), j(0.6)), (j(0.72), j(0.95)), (j(0.5), j(1.0)))
        return [_join(loop, stem)]
    raise ValueError(d)


def tremor(stroke: np.ndarray, rng) -> np.ndarray:
    """A hand's slow wobble along a stroke: two random low-frequency waves, perpendicular offsets."""
    seg = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
    t = np.concatenate([[0], np.cumsum(seg)])
    wave = sum(rng.uniform(0, 0.015) * np.sin(2 * np.pi * rng.uniform(0.5, 2.5) * t + rng.uniform(0, 6.3))
               for _ in range(2))
    d = np.gradient(stroke, axis=0)
    normal = np.stack([-d[:, 1], d[:, 0]], 1) / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    return stroke + wave[:, None] * normal


def writer_transform(strokes, rng, side: float):
    """Slant, rotation, aspect and size of one writer; returns strokes in pixels and the bounding box.
    The slant and the rotation together lean a digit at most 25 degrees: more and a 1 reads as a stroke."""
    slant = rng.uniform(-0.3, 0.3)
    lean = np.degrees(np.arctan(slant))
    rot = np.radians(np.clip(rng.uniform(-15, 15), -25 - lean, 25 - lean))
    strokes = [tremor(s, rng) for s in strokes]
    aspect = rng.uniform(0.6, 1.05)  # narrower, and a seven's bar shrinks to a one's flag
    m = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]]) @ np.array([[aspect, -slant], [0, 1]])
    out = [(s - 0.5) @ m.T for s in strokes]
    pts = np.concatenate(out)
    lo, hi = pts.min(0), pts.max(0)
    scale = side / max(hi - lo)
    return [(s - lo) * scale for s in out], (hi - lo) * scale


def draw_strokes(strokes, size, offset, width, ink, paper, supersample=3) -> Image.Image:
    """Antialiased round-capped strokes (as a browser canvas draws them) on a size x size picture."""
    big = Image.new("L", (size * supersample, size * supersample), paper)
    d = ImageDraw.Draw(big)
    w = max(1, round(width * supersample))
    for s in strokes:
        p = [tuple(v) for v in (s + offset) * supersample]
        d.line(p, fill=ink, width=w, joint="curve")
        for x, y in (p[0], p[-1]):
            d.ellipse([x - w / 2, y - w / 2, x + w / 2, y + w / 2], fill=ink)
    return big.resize((size, size), Image.LANCZOS)


def canvas_digit(d: int, rng) -> Image.Image:
    """A drawing on the page's canvas: white strokes on black, 280x280."""
    size = rng.uniform(70, 250)  # small digits in a corner as well as ones that fill the canvas
    brush = rng.uniform(8, min(40, 0.2 * size))  # thicker on a small digit would fill its loops
    strokes, extent = writer_transform(skeletons(d, rng), rng, size)
    room = CANVAS - extent - brush
    offset = brush / 2 + rng.uniform(0, 1, 2) * np.maximum(room, 0)
    return draw_strokes(strokes, CANVAS, offset, brush, 255, 0)


def _canvas_png(img: Image.Image) -> bytes:
    """The canvas's grey levels in a 4-bit PNG (16 levels keep its antialiased edges at half the size);
    loading turns them back into the RGBA array the canvas returns."""
    levels = (np.asarray(img, np.float32) / 17).round().astype(np.uint8)
    pal = Image.fromarray(levels, "L").convert("P")
    pal.putpalette([v * 17 for v in range(16) for _ in range(3)])
    buf = io.BytesIO()
    pal.save(buf, "PNG", bits=4, optimize=True)
    return buf.getvalue()


def _encode(img: Image.Image, rng) -> bytes:
    buf = io.BytesIO()
    if rng.random() < 0.5:
        img.convert("RGB").save(buf, "JPEG", quality=int(rng.integers(35, 95)))
    else:
        img.save(buf, "PNG")
    return buf.getvalue()


def _paper(img: Image.Image, rng, dark_on_light: bool) -> Image.Image:
    """Uneven lighting and sensor noise, for ink (white = ink) on a picture."""
    a = np.asarray(img, np.float32) / 255.0
    h, w = a.shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    light = rng.uniform(0.75, 0.95) + rng.uniform(-0.12, 0.12) * xx + rng.uniform(-0.12, 0.12) * yy
    ink_level = rng.uniform(0.05, 0.3)
    if dark_on_light:
        grey = light * (1 - a) + ink_level * a
    else:
        grey = (1 - light) * (1 - a) + (1 - ink_level) * a
    if rng.random() < 0.5:  # sensor noise (costs file size, so not on every picture)
        grey = grey + rng.normal(0, rng.uniform(0, 0.025), grey.shape)
    return Image.fromarray((np.clip(grey, 0, 1) * 255).astype(np.uint8), "L")


def scan_digit(d: int, rng) -> bytes:
    """A pen digit on paper, then scanned or photographed at low resolution."""
    size = 300
    strokes, extent = writer_transform(skeletons(d, rng), rng, rng.uniform(150, 220))
    pen = rng.uniform(0.06, 0.16) * max(extent)
    offset = (size - extent) / 2 + rng.uniform(-20, 20, 2)
    img = _paper(draw_strokes(strokes, size, offset, pen, 255, 0), rng, dark_on_light=rng.random() < 0.85)
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 3)))
    low = int(rng.integers(28, 90))  # the scan's resolution, in pixels a side
    img = img.resize((low, low), Image.BILINEAR)
    if rng.random() < 0.4:  # some uploads were enlarged again before sending
        img = img.resize((low * 4, low * 4), Image.NEAREST if rng.random() < 0.5 else Image.BICUBIC)
    return _encode(img, rng)


def fonts() -> list[Path]:
    found = sorted(p for d in FONT_DIRS for p in Path(d).glob("*.ttf") if p.stem not in SKIP_FONTS)
    if not found:
        raise SystemExit("no fonts found: apt-get install fonts-dejavu-core fonts-dejavu-extra fonts-liberation")
    return found


def font_digit(d: int, font: Path, rng) -> bytes:
    """A printed digit, photographed or scanned: sized, turned a little, either polarity."""
    px = int(rng.integers(32, 110))
    f = ImageFont.truetype(str(font), px)
    side = int(px * rng.uniform(1.4, 2.2))
    img = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(img)
    box = draw.textbbox((0, 0), str(d), font=f)
    pos = ((side - (box[2] - box[0])) / 2 - box[0], (side - (box[3] - box[1])) / 2 - box[1])
    draw.text(pos, str(d), fill=255, font=f)
    img = img.rotate(rng.uniform(-10, 10), resample=Image.BICUBIC)
    img = _paper(img, rng, dark_on_light=rng.random() < 0.7)
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    return _encode(img, rng)


def build(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    font_files = fonts()
    items = []  # (label, source, how it is delivered, bytes)
    for d in range(10):
        for _ in range(PER_DIGIT["canvas"]):
            items.append((d, "canvas", "canvas", _canvas_png(canvas_digit(d, rng))))
        for _ in range(PER_DIGIT["scan"]):
            items.append((d, "scan", "upload", scan_digit(d, rng)))
        for i in range(PER_DIGIT["font"]):
            font = font_files[(i + d * 7) % len(font_files)]
            items.append((d, f"font:{font.stem}", "upload", font_digit(d, font, rng)))
    blobs = [it[3] for it in items]
    return {"labels": np.array([it[0] for it in items], np.uint8),
            "sources": np.array([it[1] for it in items]),
            "paths": np.array([it[2] for it in items]),
            "offsets": np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64),
            "blobs": np.frombuffer(b"".join(blobs), np.uint8)}


def contact_sheet(path: Path, per_row: int = 40, data: Path | None = None):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests import drawings

    ds = drawings.load(data or drawings.DRAWINGS_PATH)
    order = np.argsort(ds.labels.numpy(), kind="stable")
    imgs = (ds.images[order, 0].numpy() * 255).astype(np.uint8)
    rows = (len(imgs) + per_row - 1) // per_row
    sheet = np.zeros((rows * 30, per_row * 30), np.uint8)
    for i, im in enumerate(imgs):
        r, c = divmod(i, per_row)
        sheet[r * 30 + 1: r * 30 + 29, c * 30 + 1: c * 30 + 29] = im
    Image.fromarray(sheet).save(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/drawings.npz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sheet", type=Path, help="also write a tiled picture of the preprocessed set here")
    args = parser.parse_args()
    arrays = build(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **arrays)  # the blobs are PNG/JPEG already: compressing again gains nothing
    print(f"{len(arrays['labels'])} digits, {args.out.stat().st_size / 1e6:.2f} MB -> {args.out}")
    if args.sheet:
        contact_sheet(args.sheet)
        print(f"sheet -> {args.sheet}")


if __name__ == "__main__":
    main()
