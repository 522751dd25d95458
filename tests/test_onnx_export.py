"""The browser's ONNX graphs (aecore.onnx_export) answer as the models do: onnxruntime (Python) against torch on
1,000 test digits for every shipped model and the reference classifier (max abs difference <= 1e-4), so an
export that drifts fails here before the browser shows it. Exports go to a fresh cache, made on first use."""

import pytest
import torch

from aecore import checkpoint, onnx_export
from aecore.catalog import file_sha256
from aecore.classifier import CLASSIFIER_PATH, load_classifier
from aecore.pretrain import MODELS_DIR

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
N, TOL = 1000, 1e-4
SHIPPED = sorted(p.stem for p in MODELS_DIR.glob("*.safetensors"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("cache")
        mp.setenv("AECORE_CACHE_DIR", str(root))
        mp.setattr(onnx_export, "SHIPPED_DIR", root / "no-shipped")
        yield root


def digits(dataset: str):
    from aecore.data import load

    test = load(dataset, "test", data_dir="/nonexistent-aecore-root", download=False)
    return test.images[:N], test.labels[:N]


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_model_answers_in_onnx_as_in_torch(cache, name):
    path = MODELS_DIR / f"{name}.safetensors"
    model, meta = checkpoint.load(path)
    model.eval()
    stored = onnx_export.ensure(file_sha256(path), lambda: model)
    assert stored.parent == cache / "onnx" and stored.name.startswith(file_sha256(path))
    x, y = digits(meta.get("dataset") or "mnist")
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(N, model.latent_dim, generator=gen)
    labels = y if model.conditional else None
    got = onnx_export.run(onnx_export.session(stored), model, x, z, labels)
    with torch.no_grad():
        if hasattr(model, "encode_distribution"):
            latent, logvar = model.encode_distribution(x, labels)
            want = {"latent": latent, "logvar": logvar}
        else:
            want = {"latent": model.encode(x, labels)}
        want["reconstruction"] = model.decode(want["latent"], labels)
        want["decoded"] = model.decode(z, labels)
    assert set(got) == set(want)
    keep = ~near_ties(model, x) if model.has_codebook else torch.ones(N, dtype=torch.bool)
    assert keep.float().mean() >= 0.95  # 32 of the 1,000 for the shipped vq_vae
    worst = {k: float((got[k] - want[k])[keep].abs().max()) for k in want}
    assert max(worst.values()) <= TOL, worst


def near_ties(model, x) -> torch.Tensor:
    """Digits with a grid position whose two nearest (and different) codebook entries lie within 1e-4 of it:
    rounding alone may pick either (4 positions of 49,000 for the shipped vq_vae), so there the two may differ."""
    codebook = model.quantizer.codebook
    with torch.no_grad():
        best2 = torch.cdist(model._grid(x), codebook).topk(2, largest=False)
    gap = best2.values[:, 1] - best2.values[:, 0]
    differ = (codebook[best2.indices[:, 0]] - codebook[best2.indices[:, 1]]).abs().amax(1) > 0
    return ((gap < 1e-4) & differ).reshape(len(x), -1).any(1)


@pytest.mark.slow
def test_the_classifier_answers_in_onnx_as_in_torch(cache):
    clf = load_classifier()
    stored = onnx_export.ensure(file_sha256(CLASSIFIER_PATH), lambda: clf)
    x, _ = digits("mnist")
    sess = onnx_export.session(stored)
    got = torch.cat([torch.from_numpy(sess.run(["probabilities"], {"image": x[i: i + 1].numpy()})[0])
                     for i in range(N)])
    want = clf.probabilities(x)
    assert float((got - want).abs().max()) <= TOL
    assert torch.equal(got.argmax(1), want.argmax(1))


def test_an_export_is_found_by_the_checkpoints_content(tmp_path, monkeypatch):
    """A stored export is reused (no second export), and a file of other content misses."""
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(onnx_export, "SHIPPED_DIR", tmp_path / "no-shipped")
    assert onnx_export.find("ab" * 32) is None
    onnx_export.write("ab" * 32, b"graph")
    assert onnx_export.ensure("ab" * 32, lambda: pytest.fail("exported again")) == onnx_export.find("ab" * 32)
    assert onnx_export.unpack(onnx_export.find("ab" * 32)) == b"graph"
    assert onnx_export.pack(b"graph") == onnx_export.pack(b"graph")  # no time in the gzip header
