"""Build the held-out drawings (tests/data/drawings_heldout.npz, EVALUATION only) and the tuning drawings
(tests/data/drawings_tuning.npz): digits from sources that differ from MNIST, from the drawings set
(scripts/make_drawings.py) and from the classifier's augmentations, stored as the raw inputs the Draw page
receives, like drawings.npz (tests/drawings.py reads all three files the same way).

    python scripts/make_heldout.py [--split heldout|tuning|both] [--sheet DIR]

The two splits never share a source: each font, Hershey stroke font and writer is in one split only
(HELDOUT / TUNING below). Four kinds of input in each:

- ``canvas``: the digits of Hershey stroke fonts (Debian: ``hershey-fonts-data``), written on the 280x280
  canvas with the page's brush (8-40 px) by a writer of their own (slant, rotation, aspect, size, place).
- ``font``: digits of TrueType/OpenType fonts not in the drawings set (handwriting, script, rounded,
  condensed; Debian font packages listed in tests/data/README.md), scanned: grey, either polarity, blur.
- ``photo``: those fonts' and stroke fonts' digits written with varied pens (ballpoint to marker) on paper,
  then photographed: perspective, uneven light, a soft shadow, paper tint, blur, camera noise, JPEG.
- ``lowres``: 8x8 digit pictures of 0-16 ink counts per cell, heavily inked. Held out: scikit-learn's
  bundled ``load_digits`` (UCI optdigits, writers not in MNIST). Tuning: the drawings set's own pen
  writers through the same 32x32 -> 8x8 counting. Uploaded as the 8x8 picture, or enlarged, either polarity.

Nothing is downloaded; only the generated files are committed, so the tests need none of these fonts.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_drawings import _canvas_png, _encode, draw_strokes, skeletons, tremor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HERSHEY_DIR = Path("/usr/share/hershey-fonts")
FONT_ROOT = Path("/usr/share/fonts")
# Disjoint by source: a font family or a stroke font is in one split only.
HELDOUT = {
    "hershey": ["futuram", "rowmand", "rowmant", "scriptc", "cursive", "timesi", "timesrb"],
    "fonts": ["Z003-MediumItalic", "ComicNeue-Regular", "ComicNeue-Bold", "ComicNeue-Italic", "ComicNeue-Light",
              "dkg", "dkgBd", "Breip", "femkeklaver", "Humor-Sans", "KleeOne-Regular", "BecauseWeBuild-Regular",
              "BecauseWeLearn-Regular", "BecauseWeCreate-Regular", "URWGothic-Book", "Quicksand-Regular",
              "Andika-Regular", "C059-Italic", "NimbusSansNarrow-Regular", "Cabin-Italic"],
}
TUNING = {
    "hershey": ["futural", "rowmans", "timesr", "scripts", "timesib"],
    "fonts": ["Rufscript010", "BecauseWeOrganize-Regular", "BecauseWeMentor-Regular", "BecauseWeConnect-Regular",
              "FreeSans", "FreeSerifItalic", "FreeMono", "Quicksand-Bold", "Andika-Italic", "Cabin-Regular",
              "NimbusRoman-Italic", "URWBookman-Light", "NimbusMonoPS-Regular", "P052-Roman", "KleeOne-SemiBold"],
}
PER_DIGIT = {"canvas": 40, "font": 30, "photo": 40, "lowres": 50}  # 1,600 digits a split
SEEDS = {"heldout": 2026, "tuning": 7}


def hershey_digits(name: str) -> list[list[np.ndarray]]:
    """The strokes of the digits 0-9 of one Hershey font (.jhf: glyphs in ASCII order from the space, each
    '<5-digit id><3-digit count><margins><x y pairs>' with ' R' lifting the pen, coordinates offset by 'R')."""
    text = "".join((HERSHEY_DIR / f"{name}.jhf").read_text("latin-1").splitlines())
    glyphs, i = [], 0
    while i < len(text) and len(glyphs) < 26:
        n = int(text[i + 5: i + 8])
        body = text[i + 10: i + 8 + 2 * n]
        i += 8 + 2 * n
        strokes, cur = [], []
        for k in range(0, len(body), 2):
            if body[k: k + 2] == " R":
                strokes.append(cur)
                cur = []
            else:
                cur.append((ord(body[k]) - 82, ord(body[k + 1]) - 82))
        strokes.append(cur)
        glyphs.append([np.array(s, float) for s in strokes if len(s) >= 1])
    digits = glyphs[16:26]
    for g in digits:  # to a unit box, as make_drawings' skeletons
        pts = np.concatenate(g)
        lo, span = pts.min(0), max(np.ptp(pts, 0).max(), 1e-9)
        g[:] = [np.vstack([(s - lo) / span] * (2 if len(s) == 1 else 1)) for s in g]
    return digits


def font_files(names: list[str]) -> list[Path]:
    found = {p.stem: p for ext in ("ttf", "otf") for p in FONT_ROOT.rglob(f"*.{ext}")}
    missing = [n for n in names if n not in found]
    if missing:
        raise SystemExit(f"fonts not found: {missing}; apt-get install the packages named in tests/data/README.md")
    return [found[n] for n in names]


def hand(strokes, rng, side: float):
    """One writer: slant, rotation, aspect, size and tremor; strokes in pixels and their extent."""
    slant, rot = rng.uniform(-0.25, 0.25), np.radians(rng.uniform(-12, 12))
    aspect = rng.uniform(0.7, 1.1)
    strokes = [tremor(s, rng) if len(s) > 2 else s for s in strokes]
    m = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]]) @ np.array([[aspect, -slant], [0, 1]])
    out = [(s - 0.5) @ m.T for s in strokes]
    pts = np.concatenate(out)
    lo, hi = pts.min(0), pts.max(0)
    scale = side / max(hi - lo)
    return [(s - lo) * scale for s in out], (hi - lo) * scale


def glyph_image(rng, size: int, source) -> Image.Image:
    """White ink on black, ``size`` a side: a font's digit or a stroke digit written with a random pen."""
    kind, d, what = source
    if kind == "font":
        px = int(size * rng.uniform(0.45, 0.7))
        f = ImageFont.truetype(str(what), px)
        img = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(img)
        box = draw.textbbox((0, 0), str(d), font=f)
        draw.text(((size - box[2] - box[0]) / 2, (size - box[3] - box[1]) / 2), str(d), fill=255, font=f)
        return img.rotate(rng.uniform(-8, 8), resample=Image.BICUBIC)
    strokes, extent = hand(what, rng, size * rng.uniform(0.45, 0.7))
    pen = rng.choice([0.03, 0.06, 0.1, 0.15]) * max(extent) * rng.uniform(0.8, 1.2)  # ballpoint .. marker
    return draw_strokes(strokes, size, (size - extent) / 2, pen, 255, 0)


def scan(img: Image.Image, rng) -> bytes:
    """A flat scan: grey paper, either polarity, some blur, a resolution of its own."""
    a = np.asarray(img, np.float32) / 255
    paper, ink = rng.uniform(0.75, 1.0), rng.uniform(0.0, 0.35)
    grey = paper * (1 - a) + ink * a
    if rng.random() < 0.3:
        grey = 1 - grey
    out = Image.fromarray((grey * 255).astype(np.uint8))
    if rng.random() < 0.4:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.5)))
    side = int(rng.integers(40, 160))
    return _encode(out.resize((side, side), Image.BILINEAR), rng)


def photo(img: Image.Image, rng) -> bytes:
    """Dark ink on paper, photographed with a phone: perspective, light falling off across the sheet, a soft
    shadow (a hand or the phone), a tinted paper, blur, camera noise, a JPEG of some resolution."""
    size = img.size[0]
    c = size * 0.14
    square = ((0, 0), (0, size), (size, size), (size, 0))
    corners = [(rng.uniform(-c, c) + x, rng.uniform(-c, c) + y) for x, y in square]
    img = img.transform((size, size), Image.QUAD, [v for p in corners for v in p], Image.BICUBIC)
    a = np.asarray(img, np.float32) / 255
    yy, xx = np.mgrid[0:size, 0:size] / size
    light = rng.uniform(0.7, 0.95) + rng.uniform(-0.2, 0.2) * (xx - 0.5) + rng.uniform(-0.2, 0.2) * (yy - 0.5)
    if rng.random() < 0.6:  # a soft-edged shadow across part of the sheet
        ang = rng.uniform(0, 2 * np.pi)
        dist = (xx - 0.5) * np.cos(ang) + (yy - 0.5) * np.sin(ang) - rng.uniform(0.1, 0.4)
        light = light * (1 - rng.uniform(0.25, 0.5) / (1 + np.exp(-dist / rng.uniform(0.02, 0.08))))
    tint = rng.uniform(0.9, 1.0, 3)
    grey = light * (1 - a) + rng.uniform(0.05, 0.3) * a
    rgb = grey[..., None] * tint + rng.normal(0, rng.uniform(0.005, 0.03), (size, size, 3))
    out = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8), "RGB")
    out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 2.0)))
    side = int(rng.integers(60, 240))
    buf = io.BytesIO()
    out.resize((side, side), Image.BILINEAR).save(buf, "JPEG", quality=int(rng.integers(30, 90)))
    return buf.getvalue()


def counts_8x8(strokes, rng) -> np.ndarray:
    """optdigits' own reduction: a 32x32 binary bitmap, its 4x4 blocks counted (0-16)."""
    pts, extent = hand(strokes, rng, 27)
    pen = rng.uniform(2.0, 4.5)
    big = draw_strokes(pts, 32, (32 - extent) / 2, pen, 255, 0, supersample=4)
    bits = (np.asarray(big) > 127).astype(np.int64)
    return bits.reshape(8, 4, 8, 4).sum((1, 3))


def lowres_upload(cells: np.ndarray, rng) -> bytes:
    """An 8x8 picture of 0-16 counts as a user would upload it: as it is, or enlarged; either polarity."""
    grey = (cells.astype(np.float32) / 16 * 255).astype(np.uint8)
    if rng.random() < 0.5:
        grey = 255 - grey
    img = Image.fromarray(grey, "L")
    r = rng.random()
    if r > 0.3:
        side = int(rng.choice([16, 24, 32, 64, 128]))
        img = img.resize((side, side), Image.NEAREST if r < 0.7 else Image.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def build(split: str) -> dict[str, np.ndarray]:
    spec = HELDOUT if split == "heldout" else TUNING
    rng = np.random.default_rng(SEEDS[split])
    hershey = {n: hershey_digits(n) for n in spec["hershey"]}
    fonts = font_files(spec["fonts"])
    if split == "heldout":
        from sklearn.datasets import load_digits

        optdigits = load_digits()
        by_digit = {d: rng.permutation(np.nonzero(optdigits.target == d)[0]) for d in range(10)}
    items = []
    for d in range(10):
        for i in range(PER_DIGIT["canvas"]):
            name = spec["hershey"][i % len(spec["hershey"])]
            size = rng.uniform(70, 250)
            brush = rng.uniform(8, min(40, 0.2 * size))
            strokes, extent = hand(hershey[name][d], rng, size)
            offset = brush / 2 + rng.uniform(0, 1, 2) * np.maximum(280 - extent - brush, 0)
            drawing = draw_strokes(strokes, 280, offset, brush, 255, 0)
            items.append((d, f"canvas:{name}", "canvas", _canvas_png(drawing)))
        for i in range(PER_DIGIT["font"]):
            font = fonts[(i + 3 * d) % len(fonts)]
            items.append((d, f"font:{font.stem}", "upload", scan(glyph_image(rng, 240, ("font", d, font)), rng)))
        for i in range(PER_DIGIT["photo"]):
            if i % 2:
                font = fonts[(i + 5 * d) % len(fonts)]
                src, img = font.stem, glyph_image(rng, 320, ("font", d, font))
            else:
                name = spec["hershey"][(i // 2) % len(spec["hershey"])]
                src, img = name, glyph_image(rng, 320, ("pen", d, hershey[name][d]))
            items.append((d, f"photo:{src}", "upload", photo(img, rng)))
        for i in range(PER_DIGIT["lowres"]):
            if split == "heldout":
                k = int(by_digit[d][i])
                cells, src = optdigits.images[k].astype(np.int64), f"optdigits#{k}"
            elif i % 2:
                name = spec["hershey"][(i // 2) % len(spec["hershey"])]
                cells, src = counts_8x8(hershey[name][d], rng), name
            else:
                cells, src = counts_8x8(skeletons(d, rng), rng), "pen"
            items.append((d, f"lowres:{src}", "upload", lowres_upload(cells, rng)))
    blobs = [it[3] for it in items]
    return {"labels": np.array([it[0] for it in items], np.uint8),
            "sources": np.array([it[1] for it in items]),
            "paths": np.array([it[2] for it in items]),
            "offsets": np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64),
            "blobs": np.frombuffer(b"".join(blobs), np.uint8)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["heldout", "tuning", "both"], default="both")
    parser.add_argument("--sheet", type=Path, help="write a tiled picture of each preprocessed set here")
    args = parser.parse_args()
    for split in ["heldout", "tuning"] if args.split == "both" else [args.split]:
        out = ROOT / f"tests/data/drawings_{split}.npz"
        np.savez(out, **build(split))  # the blobs are PNG/JPEG already
        print(f"{split}: {out.stat().st_size / 1e6:.2f} MB -> {out}")
        if args.sheet:
            from make_drawings import contact_sheet

            args.sheet.mkdir(parents=True, exist_ok=True)
            contact_sheet(args.sheet / f"{split}.png", data=out)


if __name__ == "__main__":
    main()
