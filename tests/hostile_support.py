"""Helpers for the tests of hostile inputs: image bytes, data URLs, and PNGs far larger than their bytes."""

import base64
import io
import struct
import zlib

import numpy as np

from aecore import preprocess


def encode(im, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def rgba_png_of_zeros(width: int, height: int) -> bytes:
    """A valid, fully transparent RGBA PNG of any size, built without ever holding its pixels: the zero rows are
    deflated once, the full-flushed segment repeated (a full flush makes it independent of what came before),
    and the Adler-32 of n zero bytes is ((n mod 65521) << 16) | 1."""
    n = height * (1 + 4 * width)  # each row: filter byte 0, then RGBA zeros
    piece = 1 << 20
    seg = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = seg.compress(bytes(piece)) + seg.flush(zlib.Z_FULL_FLUSH)
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = last.compress(bytes(n % piece)) + last.flush()
    stream = b"\x78\xda" + segment * (n // piece) + tail + struct.pack(">I", ((n % 65521) << 16) | 1)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", stream) + png_chunk(b"IEND", b"")


def data_url(raw: bytes, prefix: str = preprocess.CANVAS_PREFIX) -> str:
    return prefix + base64.b64encode(raw).decode("ascii")


def drawn_rgba(size=280):
    a = np.zeros((size, size, 4), np.uint8)
    a[..., 3] = 255
    a[40:240, 130:150, :3] = 255
    return a


def forbid_pixel_decoding(monkeypatch):
    """From here on, any pixel decode fails the test: the refusal must come from the header alone."""
    from PIL import ImageFile

    def refuse(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
