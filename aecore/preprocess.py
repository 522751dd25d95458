"""Turn a drawing or an uploaded picture into an MNIST-style 28x28 digit.

MNIST digits are white ink on black, fitted into a 20x20 box (aspect ratio kept) and placed in a
28x28 frame so that their centre of mass sits at the centre. :func:`from_canvas` handles the RGBA
array of a drawing canvas (light ink on a dark or transparent background); :func:`from_bytes` and
:func:`read_upload` handle an uploaded picture in one of the UPLOAD_TYPES, detecting dark-on-light photos and
inverting them. Both come from the network, so :func:`canvas_from_data_url` and the upload path bound the
bytes and the pixel count before any pixel is decoded, and uploads only reach Pillow's in-process decoders.
Every refusal is a :class:`PreprocessError` whose message a user can act on.
"""

from __future__ import annotations

import base64
import binascii
import io
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from aecore.errors import UserError
from aecore.paper import away_from_edges, solid, stroke_width, under_uneven_light, unenlarged

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SIDE = 4096
MAX_PIXELS = 4096 * 4096  # the decode-memory bound, kept apart from MAX_SIDE so long thin pictures stay bounded
# Raster formats Pillow decodes in-process (its format id -> file extensions). Never EPS/PS: Pillow hands those
# to Ghostscript, an external program; Image.open gets these ids so no other plugin even looks at a file.
_FORMATS = {"PNG": ("png",), "JPEG": ("jpg", "jpeg"), "GIF": ("gif",), "BMP": ("bmp",), "WEBP": ("webp",),
            "TIFF": ("tif", "tiff")}
UPLOAD_TYPES = tuple(ext for exts in _FORMATS.values() for ext in exts)  # for st.file_uploader(type=...)
NOT_ACCEPTED = "this file is not a PNG, JPEG, GIF, BMP, WebP or TIFF picture; only those are accepted"
CANVAS_PREFIX = "data:image/png;base64,"  # what the canvas's fabric.js toDataURL({format: "png"}) sends
WORK_SIDE = 1024  # larger pictures are reduced to this before any float array is made
INK = 0.2  # a pixel with at least this much ink (0..1) counts as ink
BOX = 20  # MNIST fits the digit in a 20x20 box ...
SIZE = 28  # ... inside a 28x28 frame


class PreprocessError(UserError, ValueError):
    """An input that cannot become a digit. ``kind`` is one of empty, all_ink, not_image, too_large, no_digit."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def canvas_ink(rgba: np.ndarray) -> np.ndarray:
    """Ink map in [0, 1] from a canvas array (H, W, 4) or (H, W, 3): light strokes on dark/transparent."""
    a = np.asarray(rgba)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] < 2 or a.shape[1] < 2:
        raise PreprocessError(f"expected an RGB(A) image array, got shape {a.shape}", "not_image")
    a = a.astype(np.float32)
    if a.max() > 1.0:
        a = a / 255.0
    ink = _luminance(a[..., :3])
    if a.shape[2] == 4:
        ink = ink * a[..., 3]  # transparent pixels carry no ink
    return np.clip(ink, 0.0, 1.0)


@contextmanager
def _pillow_errors(unidentified: str, too_large: str):
    """Pillow's refusals as PreprocessError, with the messages for a file no allowed plugin reads and for one
    whose header claims more pixels than Pillow's own decompression-bomb limit."""
    from PIL import Image, UnidentifiedImageError

    try:
        yield
    except PreprocessError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PreprocessError(too_large, "too_large") from None
    except UnidentifiedImageError:
        raise PreprocessError(unidentified, "not_image") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise PreprocessError("this image file is truncated or corrupt", "not_image") from None


def _decode(data: bytes):
    """Decode an image file at bounded memory: dimensions checked before any pixel is decoded, EXIF
    orientation applied (phone photos), and anything over WORK_SIDE a side reduced before float conversion.
    Returns the image and notes for the user (a file of several frames or pages gives its first)."""
    from PIL import Image, ImageOps

    notes = ()
    with _pillow_errors(NOT_ACCEPTED, f"the image is too large; the limit is {MAX_SIDE} pixels a side"):
        img = Image.open(io.BytesIO(data), formats=list(_FORMATS))  # reads the header only
        w, h = img.size
        if max(w, h) > MAX_SIDE:
            raise PreprocessError(f"the image is {w}x{h} pixels; the limit is {MAX_SIDE} pixels a side", "too_large")
        if w * h > MAX_PIXELS:
            raise PreprocessError(f"the image is {w}x{h} pixels; the limit is {MAX_PIXELS / 1e6:.1f} megapixels",
                                  "too_large")
        if getattr(img, "is_animated", False):  # looks one frame ahead only: counting them all could take long
            notes = ("the file holds several frames or pages; only the first is used",)
        img.draft(img.mode, (WORK_SIDE, WORK_SIDE))  # JPEG: decode at a reduced scale
        img.load()
        img = ImageOps.exif_transpose(img)
        if max(img.size) > WORK_SIDE:
            img.thumbnail((WORK_SIDE, WORK_SIDE))
    return img, notes


def _grey(img) -> np.ndarray:
    """Grey levels in [0, 1] of an image without transparency."""
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        # 16-bit and float pictures span their own range: convert("L") would clip them at 255 (all ink)
        # or round a 0..1 float picture to black.
        a = np.asarray(img, dtype=np.float32)
        finite = np.isfinite(a)
        if not finite.any():
            raise PreprocessError("no digit found: the picture holds no finite values", "no_digit")
        lo, hi = float(a[finite].min()), float(a[finite].max())
        a = np.where(finite, a, lo)
        return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    try:
        return np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    except (ValueError, OSError):
        raise PreprocessError(f"this picture's colour format ({img.mode}) is not supported; save it as PNG or JPEG",
                              "not_image") from None


def _upload_ink(data: bytes) -> tuple[np.ndarray, tuple[str, ...]]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PreprocessError("expected the bytes of an image file", "not_image")
    if not data:
        raise PreprocessError("the file is empty", "not_image")
    if len(data) > MAX_UPLOAD_BYTES:
        raise PreprocessError(f"the file is {len(data) / 1e6:.1f} MB; upload an image under "
                              f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB", "too_large")
    img, notes = _decode(data)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        grey = _luminance(rgba[..., :3])
        opaque = alpha > 0.5
        # Put transparent areas on the background colour opposite to the strokes.
        light_strokes = opaque.any() and float(np.median(grey[opaque])) > 0.5
        grey = grey * alpha + (0.0 if light_strokes else 1.0) * (1 - alpha)
    else:
        grey = _grey(img)
    grey = unenlarged(grey)
    if grey.shape[0] < 2 or grey.shape[1] < 2:
        raise PreprocessError("the image is too small to hold a digit", "no_digit")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    dark_ink = background > 0.5
    if dark_ink:  # dark ink on light paper: invert
        background = 1.0 - background
    plain = 1.0 - grey if dark_ink else grey
    top = float(np.percentile(plain, 99.5))
    if top - background < 0.15:
        raise PreprocessError("no digit found: the picture has too little contrast", "no_digit")
    ink = np.clip((plain - background) / (top - background), 0.0, 1.0)
    # Shadows and light falling off across a photo are not ink: read the ink against the paper's own light
    # around it, over a window a few strokes wide (the strokes' width from the surely-ink pixels: shadows are
    # fainter), unless that loses the strokes themselves.
    strong = away_from_edges(ink >= 0.7)
    lit = under_uneven_light(grey, dark_ink, stroke_width(strong))
    if lit is not None and (lit[strong] >= 0.5).mean() >= 0.9:
        ink = lit
    ink[ink < 0.25] = 0.0  # paper texture and lighting gradients are not ink
    return ink, notes


def image_ink(data: bytes) -> np.ndarray:
    """Ink map in [0, 1] from image file bytes; dark-on-light pictures are inverted."""
    return _upload_ink(data)[0]


def to_mnist(ink: np.ndarray, *, source: str = "canvas") -> np.ndarray:
    """Ink map (H, W) in [0, 1] -> (28, 28) float32 digit, cropped, fitted in 20x20 and centred by mass."""
    from PIL import Image

    ink = np.asarray(ink, dtype=np.float32)
    mask = ink >= INK
    n_ink = int(mask.sum())
    if ink.max() < INK or n_ink < max(4, ink.size // 20000):
        if source == "canvas":
            raise PreprocessError("the canvas is empty: draw a digit", "empty")
        raise PreprocessError("no digit found in the picture", "no_digit")
    if n_ink > 0.9 * ink.size:
        if source == "canvas":
            raise PreprocessError("the canvas is covered in ink: clear it and draw one digit", "all_ink")
        raise PreprocessError("no digit found: the picture is almost all ink", "no_digit")
    rows, cols = np.nonzero(mask)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    crop = ink[r0:r1, c0:c1]
    h, w = crop.shape
    if source != "canvas" and solid(crop):
        raise PreprocessError("no digit found: the dark area is a solid block, not strokes", "no_digit")
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    # A small picture enlarged: bicubic, not Lanczos, whose ringing would draw its pixels' edges.
    resample = Image.BICUBIC if source != "canvas" and scale > 1 else Image.LANCZOS
    small = Image.fromarray((crop * 255).astype(np.uint8), "L").resize((nw, nh), resample)
    small = np.asarray(small, dtype=np.float32) / 255.0
    frame = np.zeros((SIZE, SIZE), np.float32)
    top, left = (SIZE - nh) // 2, (SIZE - nw) // 2
    frame[top: top + nh, left: left + nw] = small
    total = frame.sum()
    if total <= 0:
        raise PreprocessError("no digit found: the strokes are too faint", "no_digit")
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    cy, cx = (frame * yy).sum() / total, (frame * xx).sum() / total
    dy, dx = int(round((SIZE - 1) / 2 - cy)), int(round((SIZE - 1) / 2 - cx))
    # Shift without wrap-around, never pushing ink off the frame.
    dy = int(np.clip(dy, -top, SIZE - (top + nh)))
    dx = int(np.clip(dx, -left, SIZE - (left + nw)))
    out = np.zeros_like(frame)
    out[max(dy, 0): SIZE + min(dy, 0), max(dx, 0): SIZE + min(dx, 0)] = \
        frame[max(-dy, 0): SIZE - max(dy, 0), max(-dx, 0): SIZE - max(dx, 0)]
    if source != "canvas" and scale > 1.5:
        # A digit enlarged from a few pixels is soft all over: its strokes' edges get MNIST's crisper
        # profile back (and the heavy ink of a tiny picture no longer fills its loops).
        out = (out - 0.1) / 0.5
    return np.clip(out, 0.0, 1.0)


def from_canvas(rgba: np.ndarray | None) -> np.ndarray:
    """A drawing canvas's RGBA array -> (28, 28) digit. ``None`` (nothing drawn yet) is an empty canvas."""
    if rgba is None:
        raise PreprocessError("the canvas is empty: draw a digit", "empty")
    return to_mnist(canvas_ink(rgba), source="canvas")


class Upload(NamedTuple):
    digit: np.ndarray  # (28, 28) float32
    notes: tuple[str, ...]  # what the user should know about how the file was read, e.g. only its first frame


def read_upload(data: bytes) -> Upload:
    """An uploaded image file (one of UPLOAD_TYPES) -> its (28, 28) digit and notes for the user."""
    ink, notes = _upload_ink(data)
    return Upload(to_mnist(ink, source="upload"), notes)


def from_bytes(data: bytes) -> np.ndarray:
    """An uploaded image file (one of UPLOAD_TYPES) -> (28, 28) digit."""
    return read_upload(data).digit


def canvas_from_data_url(text: str, expected: tuple[int, int] = (280, 280)) -> np.ndarray:
    """The drawing canvas's raw value, a PNG data URL from the browser, -> its RGBA array (H, W, 4) uint8.

    The value comes from the network: its length, prefix and base64 are checked, then the PNG header's size
    (``expected`` is the canvas's (width, height)) before a single pixel is decoded."""
    from PIL import Image

    # The component sends exactly the canvas size (retina scaling off); twice that tolerates a version that
    # scales by the screen's pixel density, and still bounds the decode at a few MB.
    max_w, max_h = 2 * expected[0], 2 * expected[1]
    worst_png = max_h * (1 + 4 * max_w) + 65536  # incompressible RGBA rows, plus chunk and zlib overhead
    max_len = len(CANVAS_PREFIX) + 4 * (worst_png // 3 + 1)
    if not isinstance(text, str):
        raise PreprocessError("the canvas sent something that is not a picture", "not_image")
    if len(text) > max_len:
        raise PreprocessError(f"the canvas sent {len(text) / 1e6:.1f} MB; a drawing is at most "
                              f"{max_len / 1e6:.1f} MB", "too_large")
    if not text.startswith(CANVAS_PREFIX):
        raise PreprocessError("the canvas did not send a PNG picture", "not_image")
    try:
        raw = base64.b64decode(text[len(CANVAS_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise PreprocessError("the canvas picture is not valid base64", "not_image") from None
    too_large = f"the drawing is larger than the {expected[0]}x{expected[1]} canvas"
    with _pillow_errors("the canvas did not send a PNG picture", too_large):
        img = Image.open(io.BytesIO(raw), formats=["PNG"])  # reads the header only
        w, h = img.size
        if w > max_w or h > max_h:
            raise PreprocessError(f"{too_large} ({w}x{h} pixels)", "too_large")
        return np.asarray(img.convert("RGBA"))


def as_batch(digit: np.ndarray):
    """(28, 28) array -> (1, 1, 28, 28) float tensor for the models."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(digit, dtype=np.float32)).view(1, 1, SIZE, SIZE)
