"""Uploads and canvas drawings come from the network (the app may serve a room with no login): each is bounded
where it enters, refused with a one-line PreprocessError, and never reaches a decoder that starts a program."""

import base64
import io

import numpy as np
import pytest
from app_support import png_of_one
from hostile_support import data_url, drawn_rgba, encode, forbid_pixel_decoding, rgba_png_of_zeros

from aecore import preprocess
from aecore.preprocess import PreprocessError


def one(size=(200, 200), ink=255, paper=0, mode="L"):
    """A picture of a "1": a thick vertical stroke."""
    from PIL import Image, ImageDraw

    im = Image.new(mode, size, paper)
    ImageDraw.Draw(im).line([(size[0] // 2, size[1] // 8), (size[0] // 2, size[1] * 7 // 8)], fill=ink, width=16)
    return im


def bar(size=(200, 200)):
    """A horizontal stroke: a different picture from one()."""
    from PIL import Image, ImageDraw

    im = Image.new("L", size, 0)
    ImageDraw.Draw(im).line([(20, size[1] // 2), (size[0] - 20, size[1] // 2)], fill=255, width=16)
    return im


# --- uploads ---------------------------------------------------------------------------------------------------


def test_the_uploader_types_are_plain_raster_formats():
    assert {"png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"} == set(preprocess.UPLOAD_TYPES)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"])
def test_every_accepted_format_reads_as_the_digit(fmt):
    want = preprocess.from_bytes(encode(one(), "PNG"))
    digit, notes = preprocess.read_upload(encode(one(), fmt))
    assert np.abs(digit - want).mean() < 0.03 and notes == ()


EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\n"
       b"newpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.mark.parametrize("data", [EPS, EPS.replace(b" EPSF-3.0", b""), PDF], ids=["eps", "ps", "pdf"])
def test_postscript_and_pdf_are_refused_without_starting_a_program(data, monkeypatch):
    import subprocess

    from PIL import EpsImagePlugin, Image

    assert Image.open(io.BytesIO(EPS)).format == "EPS"  # Pillow on its own would take this file to Ghostscript

    def no_program(*args, **kwargs):
        raise AssertionError("an external program was started")

    for name in ("Popen", "run", "call", "check_call", "check_output"):
        monkeypatch.setattr(subprocess, name, no_program)
    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", no_program)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", no_program)
    with pytest.raises(PreprocessError) as e:
        preprocess.from_bytes(data)
    assert e.value.kind == "not_image" and str(e.value) == preprocess.NOT_ACCEPTED
    assert "PNG, JPEG" in str(e.value)


def test_the_pixel_count_is_bounded_from_the_header(monkeypatch):
    forbid_pixel_decoding(monkeypatch)
    monkeypatch.setattr(preprocess, "MAX_SIDE", 10_000)  # a long thin picture within the side limit
    with pytest.raises(PreprocessError) as e:
        preprocess.from_bytes(rgba_png_of_zeros(9000, 2000))
    assert e.value.kind == "too_large" and "megapixels" in str(e.value)


def test_the_byte_size_is_checked_before_decoding(monkeypatch):
    forbid_pixel_decoding(monkeypatch)
    with pytest.raises(PreprocessError) as e:
        preprocess.read_upload(encode(one(), "PNG") + bytes(preprocess.MAX_UPLOAD_BYTES))
    assert e.value.kind == "too_large" and "MB" in str(e.value)


@pytest.mark.parametrize("value", ["a string", None, 42])
def test_not_bytes_is_refused(value):
    with pytest.raises(PreprocessError):
        preprocess.from_bytes(value)


@pytest.mark.parametrize("top", [65535, 4095], ids=["16-bit", "12-bit-in-16"])
@pytest.mark.parametrize("dark_on_light", [False, True])
def test_a_16_bit_png_is_scaled_by_its_range(top, dark_on_light):
    from PIL import Image

    want = preprocess.from_bytes(encode(one(), "PNG"))
    levels = np.asarray(one(), dtype=np.float64) / 255
    if dark_on_light:
        levels = 1 - levels
    im = Image.fromarray((levels * (top - 200) + 200).astype(np.uint16))
    data = encode(im, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")  # really a 16-bit picture
    assert np.abs(preprocess.from_bytes(data) - want).mean() < 0.03


@pytest.mark.parametrize("lo,hi", [(0.0, 1.0), (-3.0, 7.5)])
def test_a_float_tiff_is_scaled_by_its_range(lo, hi):
    from PIL import Image

    want = preprocess.from_bytes(encode(one(), "PNG"))
    a = lo + (hi - lo) * np.asarray(one(), dtype=np.float32) / 255
    a[0, 0] = np.nan  # a missing value is not ink
    data = encode(Image.fromarray(a.astype(np.float32)), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "F"
    assert np.abs(preprocess.from_bytes(data) - want).mean() < 0.03


def test_a_constant_float_picture_has_no_digit():
    from PIL import Image

    with pytest.raises(PreprocessError) as e:
        preprocess.from_bytes(encode(Image.fromarray(np.full((50, 50), 3.0, np.float32)), "TIFF"))
    assert e.value.kind == "no_digit"


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP", "TIFF"])
def test_a_file_of_several_frames_gives_its_first_and_says_so(fmt):
    first_alone = preprocess.from_bytes(encode(one(), fmt))
    digit, notes = preprocess.read_upload(encode(one(), fmt, save_all=True, append_images=[bar(), bar()]))
    assert np.abs(digit - first_alone).mean() < 0.01
    assert len(notes) == 1 and "first" in notes[0]


def test_from_bytes_still_returns_the_digit_alone():
    d = preprocess.from_bytes(png_of_one())
    assert isinstance(d, np.ndarray) and d.shape == (28, 28)


# --- the drawing canvas's payload ------------------------------------------------------------------------------


def test_a_canvas_data_url_reads_back_as_its_pixels():
    from PIL import Image

    a = drawn_rgba()
    got = preprocess.canvas_from_data_url(data_url(encode(Image.fromarray(a, "RGBA"), "PNG")))
    assert got.dtype == np.uint8 and np.array_equal(got, a)
    assert preprocess.from_canvas(got).max() > 0.9


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's own header check speaks too
def test_a_huge_png_on_the_wire_is_refused_from_its_header(monkeypatch):
    forbid_pixel_decoding(monkeypatch)
    raw = rgba_png_of_zeros(13_000, 13_000)  # 676 MB of pixels
    assert len(raw) < 1_000_000
    with pytest.raises(PreprocessError) as e:
        preprocess.canvas_from_data_url(data_url(raw))
    assert e.value.kind == "too_large" and "280x280" in str(e.value)


def test_a_larger_drawing_than_the_canvas_is_refused(monkeypatch):
    forbid_pixel_decoding(monkeypatch)
    with pytest.raises(PreprocessError) as e:
        preprocess.canvas_from_data_url(data_url(rgba_png_of_zeros(1000, 200)))
    assert e.value.kind == "too_large"


def test_an_overlong_string_is_refused_before_base64(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("decoded base64")

    monkeypatch.setattr(base64, "b64decode", refuse)
    with pytest.raises(PreprocessError) as e:
        preprocess.canvas_from_data_url(preprocess.CANVAS_PREFIX + "A" * 10_000_000)
    assert e.value.kind == "too_large"


@pytest.mark.parametrize("value", [
    data_url(encode(one(mode="RGB"), "JPEG"), "data:image/jpeg;base64,"),  # not the PNG prefix
    data_url(encode(one(mode="RGB"), "JPEG")),  # a JPEG under the PNG prefix
    data_url(EPS),
    preprocess.CANVAS_PREFIX + "not*base64!",
    preprocess.CANVAS_PREFIX + "é",
    preprocess.CANVAS_PREFIX,
    data_url(b"\x89PNG\r\n\x1a\n" + b"\0" * 40),
    {"data": "x"}, 42, b"bytes",
], ids=["jpeg-prefix", "jpeg-bytes", "eps", "bad-base64", "non-ascii", "empty", "broken-png", "dict", "int", "bytes"])
def test_a_bad_canvas_value_is_a_one_line_refusal(value):
    with pytest.raises(PreprocessError) as e:
        preprocess.canvas_from_data_url(value)
    assert e.value.kind == "not_image" and "\n" not in str(e.value)
