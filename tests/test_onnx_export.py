"""The browser's ONNX graphs (aecore.onnx_export) answer as the models do: onnxruntime (Python) against torch on
1,000 test digits for every shipped model and the reference classifier, so an export that drifts fails here
before the browser shows it. Exports go to a fresh cache, made on first use.

- the exact form (float32): max abs difference <= 1e-4 on every output;
- the compact form the browser downloads (int8/float16 weights): reconstructions within COMPACT_MAX of torch's
  on every pixel (measured: 0.03-0.20 at worst, mean 4.5e-4 to 1.5e-3 on MNIST, 5.2e-3 for fashion_mnist_dense;
  the vq_vae's rounding picks another codebook entry for some digits: there 92% of the digits), and the
  classifier's answer the same on every one of the 1,000 digits (probabilities within 0.01)."""

import pytest
import torch

from aecore import checkpoint, onnx_export
from aecore.catalog import file_sha256
from aecore.classifier import CLASSIFIER_PATH, load_classifier
from aecore.pretrain import MODELS_DIR

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
N, TOL = 1000, 1e-4
COMPACT_MAX, COMPACT_MEAN = onnx_export.COMPACT_MAX, 6e-3
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
    stored = onnx_export.ensure(file_sha256(path), lambda: model, exact=True)
    assert stored.parent == cache / "onnx" and stored.name == onnx_export.file_name(file_sha256(path), exact=True)
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
    stored = onnx_export.ensure(file_sha256(CLASSIFIER_PATH), lambda: clf, exact=True)
    x, _ = digits("mnist")
    sess = onnx_export.session(stored)
    got = torch.cat([torch.from_numpy(sess.run(["probabilities"], {"image": x[i: i + 1].numpy()})[0])
                     for i in range(N)])
    want = clf.probabilities(x)
    assert float((got - want).abs().max()) <= TOL
    assert torch.equal(got.argmax(1), want.argmax(1))


def compact_session(path):
    """A session on the compact export the browser gets (int8 or float16 weights, as ensure chose)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(onnx_export.unpack(path), options, providers=["CPUExecutionProvider"])


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_the_compact_form_reconstructs_within_a_stated_difference(cache, name):
    path = MODELS_DIR / f"{name}.safetensors"
    model, meta = checkpoint.load(path)
    model.eval()
    x, y = digits(meta.get("dataset") or "mnist")
    labels = y if model.conditional else None
    got = onnx_export.run(compact_session(onnx_export.ensure(file_sha256(path), lambda: model)), model, x, None,
                          labels)["reconstruction"]
    with torch.no_grad():
        want = model.reconstruct(x, labels)
    diff = (got - want).abs()
    within = (diff.flatten(1).amax(1) <= COMPACT_MAX).float().mean()
    print(f"{name}: compact max abs {float(diff.max()):.3g}, mean {float(diff.mean()):.2g}, within {float(within):.3f}")
    assert float(within) >= (0.9 if model.has_codebook else 1.0) and float(diff.mean()) <= COMPACT_MEAN, \
        (float(diff.max()), float(diff.mean()), float(within))


@pytest.mark.slow
def test_the_compact_classifier_answers_as_torch_on_every_digit(cache):
    clf = load_classifier()
    sess = compact_session(onnx_export.ensure(file_sha256(CLASSIFIER_PATH), lambda: clf))
    x, _ = digits("mnist")
    got = torch.cat([torch.from_numpy(sess.run(["probabilities"], {"image": x[i: i + 1].numpy()})[0])
                     for i in range(N)])
    want = clf.probabilities(x)
    print(f"classifier: compact max abs probability difference {float((got - want).abs().max()):.3g}")
    assert torch.equal(got.argmax(1), want.argmax(1))


def test_the_browser_gets_the_compact_form_a_quarter_of_the_size(cache):
    """ensure() hands out the compact form by default, under a name of its own (no stale exact file served)."""
    clf = load_classifier()
    sha = file_sha256(CLASSIFIER_PATH)
    small, exact = onnx_export.ensure(sha, lambda: clf), onnx_export.ensure(sha, lambda: clf, exact=True)
    assert small.name == onnx_export.file_name(sha) != exact.name
    assert small.stat().st_size <= 0.3 * exact.stat().st_size


def test_an_export_is_found_by_the_checkpoints_content(tmp_path, monkeypatch):
    """A stored export is reused (no second export), and a file of other content misses."""
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(onnx_export, "SHIPPED_DIR", tmp_path / "no-shipped")
    assert onnx_export.find("ab" * 32) is None
    onnx_export.write("ab" * 32, b"graph")
    assert onnx_export.ensure("ab" * 32, lambda: pytest.fail("exported again")) == onnx_export.find("ab" * 32)
    assert onnx_export.unpack(onnx_export.find("ab" * 32)) == b"graph"
    assert onnx_export.pack(b"graph") == onnx_export.pack(b"graph")  # no time in the gzip header
