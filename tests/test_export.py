"""Exports for the Embedding Projector (read back as the Projector reads them, TensorBoard's plugin included),
and GIFs."""

import io
import json
import math
import re
import zipfile

import numpy as np
import pytest
from PIL import Image

from aecore import export


def read_tsv(data: bytes) -> list[list[str]]:
    return [line.split("\t") for line in data.decode().splitlines()]


def projector_pca(vectors: np.ndarray, k: int = 3) -> np.ndarray:
    """The Projector's PCA (vz_projector data.ts projectPCA): project onto columns 0..k-1 of U from the SVD of
    X'X / N; a column U lacks reads as JavaScript's undefined, which makes NaN (optionally centred first, as
    its 'sphereize data' does)."""
    x = np.asarray(vectors, np.float64)
    u = np.linalg.svd(x.T @ x / len(x))[0]
    u = np.pad(u, ((0, 0), (0, max(0, k - u.shape[1]))), constant_values=np.nan)
    return x @ u[:, :k]


def unzip(data: bytes, folder) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        z.extractall(folder)
        return z.namelist()


def test_projector_files_round_trip(bundled_test):
    n = 50
    codes = np.random.default_rng(0).normal(size=(n, 6)).astype(np.float32)
    coords = np.random.default_rng(1).normal(size=(n, 2)).astype(np.float32)
    rows = np.arange(100, 100 + n)
    files = export.projector_files("dense", codes, bundled_test.labels[:n].numpy(), coords,
                                   bundled_test.images[:n], dataset="mnist", rows=rows)
    vectors = np.array(read_tsv(files["dense_vectors.tsv"]), dtype=np.float32)
    np.testing.assert_allclose(vectors, codes, rtol=1e-5, atol=1e-6)  # same rows, same order, no header
    drawn = np.array(read_tsv(files["dense_map.tsv"]), np.float32)
    np.testing.assert_allclose(drawn[:, :2], coords, rtol=1e-5, atol=1e-6)
    assert (drawn[:, 2] == 0).all()  # a zero third column, so the Projector's PCA can draw the map
    meta = read_tsv(files["dense_metadata.tsv"])
    assert meta[0] == ["label", "label_id", "test_row", "map_x", "map_y"] and len(meta) == n + 1
    assert [r[0] for r in meta[1:]] == [str(v) for v in bundled_test.labels[:n].tolist()]  # MNIST names: digits
    assert [int(r[1]) for r in meta[1:]] == bundled_test.labels[:n].tolist()
    assert [int(r[2]) for r in meta[1:]] == rows.tolist()
    sprite = Image.open(io.BytesIO(files["dense_sprite.png"]))
    side = math.ceil(math.sqrt(n))
    assert sprite.size == (side * 28, side * 28)  # one image of square thumbnails, ceil(sqrt(N)) a side
    first = np.asarray(sprite)[:28, :28] / 255.0
    np.testing.assert_allclose(first, bundled_test.images[0, 0].numpy(), atol=1 / 255 + 1e-6)
    config = json.loads(files["projector_config.json"])
    assert [e["tensorPath"] for e in config["embeddings"]] == ["dense_vectors.tsv", "dense_map.tsv"]
    assert [e["tensorShape"] for e in config["embeddings"]] == [[n, 6], [n, 3]]
    assert config["embeddings"][0]["sprite"]["singleImageDim"] == [28, 28]


def test_fashion_mnist_rows_are_labelled_by_class_name():
    files = export.projector_files("f", np.zeros((3, 4)), np.array([7, 0, 9]), dataset="fashion_mnist")
    meta = read_tsv(files["f_metadata.tsv"])
    assert [r[:2] for r in meta[1:]] == [["Sneaker", "7"], ["T-shirt/top", "0"], ["Ankle boot", "9"]]


def test_bad_input_gets_a_clear_message():
    with pytest.raises(export.ExportError, match="unknown dataset 'cifar'"):
        export.projector_files("m", np.zeros((2, 4)), [1, 2], dataset="cifar")
    with pytest.raises(export.ExportError, match="not classes of mnist"):
        export.projector_files("m", np.zeros((2, 4)), [1, 12], dataset="mnist")
    with pytest.raises(export.ExportError, match="3 codes but 2 labels"):
        export.projector_files("m", np.zeros((3, 4)), [1, 2], dataset="mnist")
    with pytest.raises(export.ExportError, match="3 codes but 2 map points"):
        export.projector_files("m", np.zeros((3, 4)), [1, 2, 3], np.zeros((2, 2)), dataset="mnist")
    with pytest.raises(export.ExportError, match="test rows"):
        export.projector_zip("m", np.zeros((3, 4)), [1, 2, 3], np.zeros((3, 1, 28, 28)), np.zeros((1, 2)), [5],
                             dataset="mnist")


def test_single_column_metadata_has_no_header():
    assert export.metadata_tsv({"label": [3, 1]}).decode() == "3\n1\n"
    with pytest.raises(ValueError):
        export.metadata_tsv({"a": [1], "b": [1, 2]})


def test_projector_zip_of_a_subset_in_one_safely_named_folder(bundled_test):
    codes = np.zeros((10_000, 4), np.float32)
    rows = np.array([5, 7, 9])
    data = export.projector_zip("vae (pretrained) ü", codes, bundled_test.labels, bundled_test.images,
                                np.zeros((3, 2)), rows, dataset="mnist", method="t-SNE")
    assert export.projector_zip_name("vae (pretrained) ü", "t-SNE") == "vae-pretrained-t-SNE-projector.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        assert all(re.fullmatch(r"vae-pretrained-t-SNE-projector/[A-Za-z0-9._-]+", n) for n in names), names
        folder = "vae-pretrained-t-SNE-projector/"
        assert {folder + f for f in ("projector_config.pbtxt", "projector_config.json", "README.txt")} <= set(names)
        assert len(read_tsv(z.read(folder + "vae-pretrained_vectors.tsv"))) == 3
        assert [int(r[2]) for r in read_tsv(z.read(folder + "vae-pretrained_metadata.tsv"))[1:]] == [5, 7, 9]
        readme = z.read(folder + "README.txt").decode()
    assert "tensorboard --logdir" in readme and "projector.tensorflow.org" in readme and "no sprite" in readme
    assert "\n" not in export.PROJECTOR_HELP and "tensorboard --logdir" in export.PROJECTOR_HELP


def test_a_two_column_map_draws_in_the_projectors_pca():
    coords = np.random.default_rng(2).normal(size=(500, 2)) * [3, 1] + [5, -2]  # the app's maps are not centred
    assert np.isnan(projector_pca(coords)[:, 2]).all()  # as the map was: no z in the default 3-D view
    drawn = export.drawable(coords)
    for x in (drawn, drawn - drawn.mean(0)):  # as loaded, and centred ('sphereize data')
        pca = projector_pca(x)
        assert np.isfinite(pca).all() and np.allclose(pca[:, 2], 0, atol=1e-4)
        # the first two components are the map turned: every distance between points kept
        d = np.linalg.norm(pca[:1, :2] - pca[:, :2], axis=1)
        np.testing.assert_allclose(d, np.linalg.norm(x[:1, :2] - x[:, :2], axis=1), rtol=1e-4, atol=1e-4)


def test_tensorboard_opens_the_unzipped_folder(bundled_test, tmp_path):
    pytest.importorskip("tensorboard", reason="TensorBoard (the test extra) reads the export as its Projector does")
    from google.protobuf import text_format
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.projector import projector_plugin
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
    from werkzeug.test import Client

    n, name = 30, 'vae "2-D" \\ ü'
    codes = np.random.default_rng(3).normal(size=(10_000, 2)).astype(np.float32)  # a 2-D model's codes
    rows = np.arange(40, 40 + n)
    data = export.projector_zip(name, codes, bundled_test.labels, bundled_test.images,
                                np.random.default_rng(4).normal(size=(n, 2)) + 7, rows, dataset="mnist", method="umap")
    unzip(data, tmp_path)
    logdir = tmp_path / export.projector_folder(name, "umap")

    config = text_format.Parse((logdir / "projector_config.pbtxt").read_text(), ProjectorConfig())
    assert [e.tensor_name for e in config.embeddings] == [f"{name} codes", f"{name} map (umap)"]
    assert [e.tensor_name for e in config.embeddings] == [
        e["tensorName"] for e in json.loads((logdir / "projector_config.json").read_text())["embeddings"]]
    for e in config.embeddings:
        tensor = projector_plugin._read_tensor_tsv_file(str(logdir / e.tensor_path))
        assert list(tensor.shape) == list(e.tensor_shape) == [n, 3]
        assert np.isfinite(projector_pca(tensor)).all() and np.isfinite(projector_pca(tensor - tensor.mean(0))).all()
        meta = (logdir / e.metadata_path).read_text().splitlines()
        assert len(meta) == n + 1 and "\t" in meta[0]  # a header naming the columns, then one row per point
        sprite = Image.open(logdir / e.sprite.image_path)
        assert list(e.sprite.single_image_dim) == [28, 28]
        assert sprite.size == (math.ceil(math.sqrt(n)) * 28,) * 2

    # What `tensorboard --logdir <folder>` serves to the Projector tab: the folder is the run "."
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    plugin = projector_plugin.ProjectorPlugin(base_plugin.TBContext(
        logdir=str(logdir), data_provider=data_provider.MultiplexerDataProvider(multiplexer, str(logdir))))
    apps = plugin.get_plugin_apps()

    def get(route, **args):
        response = Client(apps[route]).get(route, query_string=args)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_data()

    assert json.loads(get("/runs")) == ["."]
    served = json.loads(get("/info", run="."))["embeddings"]
    assert [e["tensorName"] for e in served] == [e.tensor_name for e in config.embeddings]
    for e in served:
        tensor = np.frombuffer(get("/tensor", run=".", name=e["tensorName"]), np.float32)
        assert tensor.size == n * 3 and np.isfinite(projector_pca(tensor.reshape(n, 3))).all()
        assert len(get("/metadata", run=".", name=e["tensorName"]).decode().splitlines()) == n + 1
        assert Image.open(io.BytesIO(get("/sprite_image", run=".", name=e["tensorName"]))).format == "PNG"


def test_gif_plays_back_and_forth(bundled_test):
    gif = Image.open(io.BytesIO(export.gif(bundled_test.images[:5], scale=2)))
    assert gif.format == "GIF" and gif.size == (56, 56) and gif.n_frames == 8  # 5 forward, 3 back
