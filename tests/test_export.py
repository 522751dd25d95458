"""Exports in the Embedding Projector's format (read back as the Projector reads them), and GIFs."""

import io
import json
import math
import zipfile

import numpy as np
import pytest
from PIL import Image

from aecore import export


def read_tsv(data: bytes) -> list[list[str]]:
    return [line.split("\t") for line in data.decode().splitlines()]


def test_projector_files_round_trip(bundled_test):
    n = 50
    codes = np.random.default_rng(0).normal(size=(n, 6)).astype(np.float32)
    coords = np.random.default_rng(1).normal(size=(n, 2)).astype(np.float32)
    rows = np.arange(100, 100 + n)
    files = export.projector_files("dense", codes, bundled_test.labels[:n].numpy(), coords,
                                   bundled_test.images[:n], rows=rows)
    vectors = np.array(read_tsv(files["dense_vectors.tsv"]), dtype=np.float32)
    np.testing.assert_allclose(vectors, codes, rtol=1e-5, atol=1e-6)  # same rows, same order, no header
    np.testing.assert_allclose(np.array(read_tsv(files["dense_map.tsv"]), np.float32), coords, rtol=1e-5, atol=1e-6)
    meta = read_tsv(files["dense_metadata.tsv"])
    assert meta[0] == ["label", "test_row", "map_x", "map_y"] and len(meta) == n + 1  # a header: several columns
    assert [int(r[0]) for r in meta[1:]] == bundled_test.labels[:n].tolist()
    assert [int(r[1]) for r in meta[1:]] == rows.tolist()
    sprite = Image.open(io.BytesIO(files["dense_sprite.png"]))
    side = math.ceil(math.sqrt(n))
    assert sprite.size == (side * 28, side * 28)  # one image of square thumbnails, ceil(sqrt(N)) a side
    first = np.asarray(sprite)[:28, :28] / 255.0
    np.testing.assert_allclose(first, bundled_test.images[0, 0].numpy(), atol=1 / 255 + 1e-6)
    config = json.loads(files["projector_config.json"])
    assert [e["tensorPath"] for e in config["embeddings"]] == ["dense_vectors.tsv", "dense_map.tsv"]
    assert config["embeddings"][0]["sprite"]["singleImageDim"] == [28, 28]


def test_single_column_metadata_has_no_header():
    assert export.metadata_tsv({"label": [3, 1]}).decode() == "3\n1\n"
    with pytest.raises(ValueError):
        export.metadata_tsv({"a": [1], "b": [1, 2]})


def test_projector_zip_of_a_subset(bundled_test):
    codes = np.zeros((10_000, 4), np.float32)
    rows = np.array([5, 7, 9])
    data = export.projector_zip("m", codes, bundled_test.labels, bundled_test.images, np.zeros((3, 2)), rows)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert len(read_tsv(z.read("m_vectors.tsv"))) == 3
        assert [int(r[1]) for r in read_tsv(z.read("m_metadata.tsv"))[1:]] == [5, 7, 9]


def test_gif_plays_back_and_forth(bundled_test):
    gif = Image.open(io.BytesIO(export.gif(bundled_test.images[:5], scale=2)))
    assert gif.format == "GIF" and gif.size == (56, 56) and gif.n_frames == 8  # 5 forward, 3 back
