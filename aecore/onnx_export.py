"""ONNX forms of the models and the reference classifier, for running them in a browser (ONNX Runtime Web).

One graph per checkpoint answers all three questions the browser asks, on one digit at a time (batch 1):

==================  ====================  ==========================================================
input               shape                 meaning
==================  ====================  ==========================================================
``image``           (1, 1, 28, 28)        a digit in [0, 1]
``code``            (1, latent_dim)       a latent code to decode
``label``           (1,)                  conditional models only: the digit, as a float (no int64:
                                          ONNX Runtime Web hands int64 around as BigInt)
==================  ====================  ==========================================================

Outputs: ``reconstruction`` (the image rebuilt), ``latent`` (its code), ``decoded`` (``code`` decoded) and, for
the VAE family, ``logvar`` (the posterior's log-variance; ``latent`` is its mean). The VQ-VAE exports its
eval-only path (nearest codebook entries, no codebook updates). The classifier's graph maps ``image`` to
``probabilities`` (1, 10).

The browser gets the *compact* form (:func:`compact`): the same graph with its weights stored small, every big
matrix (:data:`INT8_FROM` values or more) as int8 with one scale per output channel (only for a model whose
reconstructions that keeps within :data:`COMPACT_MAX` on 512 probe digits; else float16), the rest as float16, each
turned back into float32 by a DequantizeLinear or Cast node in front of its use, so the arithmetic stays
float32 (ONNX Runtime folds those constants when a session starts). That is a quarter of the download, for a
difference of at most ~0.1 on a pixel of a reconstruction (mean ~1e-3; tests/test_onnx_export.py measures it);
the *exact* form (``exact=True``) is the float32 graph the parity tests hold to 1e-4 against torch.

Exports are keyed by the checkpoint's sha256 (and :data:`FORMAT`, and the form), stored gzipped (the server hands the
bytes out as they are, the browser unpacks them) in the shipped folder (package data: the pretrained
models', written by ``aecore pretrain`` (:func:`aecore.pretrain.export_for_browser`)) or else the user cache
(``~/.cache/aecore/onnx``), where :func:`ensure` writes one on first use. Exporting needs the ``onnx`` and
``onnxscript`` packages; running the graphs in Python (the parity tests) needs ``onnxruntime``.
"""

from __future__ import annotations

import gzip
import io
import warnings
from pathlib import Path

import torch
from torch import nn

from aecore import storage
from aecore.errors import UserError

FORMAT = 3  # the graphs' inputs and outputs above, and the compact form; a change makes every older export a miss
SHIPPED_DIR = storage.asset("onnx")
SUFFIX = f"-f{FORMAT}.onnx.gz"
EXACT_SUFFIX = f"-f{FORMAT}-exact.onnx.gz"
INT8_FROM = 16384  # weights with this many values or more are stored as int8 (per channel), smaller ones as float16
COMPACT_MAX = 0.25  # the most a pixel of a compact reconstruction may differ from torch's (tests hold it)


class ExportUnavailable(UserError):
    """The packages that write ONNX are missing, or this model cannot be exported."""


def cache_dir() -> Path:
    return storage.cache_root() / "onnx"


def file_name(sha256: str, exact: bool = False) -> str:
    return f"{sha256}{EXACT_SUFFIX if exact else SUFFIX}"


def find(sha256: str, exact: bool = False) -> Path | None:
    """The stored export of the checkpoint with this sha256: shipped first, then the user cache."""
    for folder in (SHIPPED_DIR, cache_dir()):
        path = folder / file_name(sha256, exact)
        if path.is_file():
            return path
    return None


class _Graph(nn.Module):
    """An autoencoder's three answers in one forward pass (see the module docstring)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.posterior = hasattr(model, "encode_distribution")

    def forward(self, image, code, label=None):
        m = self.model
        labels = label.long() if label is not None else None
        if self.posterior:
            mu, logvar = m.encode_distribution(image, labels)
            return m.decode(mu, labels), mu, m.decode(code, labels), logvar
        latent = m.encode(image, labels)
        return m.decode(latent, labels), latent, m.decode(code, labels)


class _Classifier(nn.Module):
    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, image):
        return torch.softmax(self.classifier(image), dim=1)


def signature(model) -> tuple[list[str], list[str]]:
    """(input names, output names) of a model's graph."""
    inputs = ["image", "code"] + (["label"] if model.conditional else [])
    outputs = ["reconstruction", "latent", "decoded"] + (["logvar"] if hasattr(model, "encode_distribution") else [])
    return inputs, outputs


def _onnx_bytes(module: nn.Module, args: tuple, inputs: list[str], outputs: list[str]) -> bytes:
    try:
        import onnx  # noqa: F401 - the exporter needs both; say so in one line rather than deep inside torch
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise ExportUnavailable(f"exporting a model for the browser needs the {e.name} package "
                                "(pip install onnx onnxscript)") from None
    module.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals
        program = torch.onnx.export(module, args, dynamo=True, external_data=False, input_names=inputs,
                                    output_names=outputs, verbose=False)
    if program is None:
        raise ExportUnavailable("the ONNX exporter returned nothing")
    return program.model_proto.SerializeToString()


def export_model(model) -> bytes:
    """The ONNX graph of an autoencoder (see the module docstring), as bytes."""
    model = model.cpu().eval()
    inputs, outputs = signature(model)
    args = (torch.rand(1, 1, 28, 28), torch.zeros(1, model.latent_dim))
    if model.conditional:
        args += (torch.zeros(1),)
    try:
        return _onnx_bytes(_Graph(model), args, inputs, outputs)
    except ExportUnavailable:
        raise
    except Exception as e:  # noqa: BLE001 - the exporter raises many kinds; the page needs one line
        raise ExportUnavailable(f"{model.variant} could not be exported for the browser "
                                f"({type(e).__name__})") from e


def export_classifier(classifier) -> bytes:
    """The reference classifier's graph: ``image`` -> ``probabilities``."""
    return _onnx_bytes(_Classifier(classifier.cpu().eval()), (torch.rand(1, 1, 28, 28),), ["image"],
                       ["probabilities"])


def _int8(a, axis: int):
    """(int8 values, float32 scale per channel along ``axis``): ``values * scale`` is ``a`` within scale / 2."""
    import numpy as np

    scale = np.abs(a).max(axis=tuple(d for d in range(a.ndim) if d != axis)).astype(np.float32) / 127
    scale[scale == 0] = 1
    shape = [1] * a.ndim
    shape[axis] = -1
    return np.clip(np.round(a / scale.reshape(shape)), -127, 127).astype(np.int8), scale, shape


def compact(onnx_bytes: bytes, int8: bool = True) -> bytes:
    """The graph with its float32 weights stored as int8 (per output channel) or float16 (see the module
    docstring); all as float16 without ``int8``."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph_proto = onnx.load_from_string(onnx_bytes)
    g = graph_proto.graph
    transposed = {i for n in g.node if n.op_type == "ConvTranspose" for i in n.input[1:2]}  # (in, out, kh, kw)
    inits, nodes = [], []
    for init in g.initializer:
        a = numpy_helper.to_array(init)
        if a.dtype != np.float32 or a.size < 64:  # shapes, biases of a few values: not worth a node
            inits.append(init)
            continue
        name = init.name
        if int8 and a.size >= INT8_FROM and a.ndim >= 2:
            axis = 1 if name in transposed else 0  # the output channel
            q, scale, _ = _int8(a, axis)
            inits += [numpy_helper.from_array(q, f"{name}.int8"), numpy_helper.from_array(scale, f"{name}.scale")]
            nodes.append(helper.make_node("DequantizeLinear", [f"{name}.int8", f"{name}.scale"], [name], axis=axis))
        else:
            inits.append(numpy_helper.from_array(a.astype(np.float16), f"{name}.fp16"))
            nodes.append(helper.make_node("Cast", [f"{name}.fp16"], [name], to=TensorProto.FLOAT))
    del g.initializer[:]
    g.initializer.extend(inits)
    rest = list(g.node)
    del g.node[:]
    g.node.extend(nodes + rest)
    return graph_proto.SerializeToString()


def int8_difference(model, images: torch.Tensor, labels: torch.Tensor | None = None) -> float:
    """The largest pixel difference int8 weights (as :func:`compact` stores them) make to ``model``'s
    reconstructions of ``images``, found in torch on a copy of the model with its weights rounded the same way."""
    import copy

    import numpy as np

    twin = copy.deepcopy(model).cpu().eval()
    transposed = {id(m.weight) for m in twin.modules() if isinstance(m, nn.ConvTranspose1d | nn.ConvTranspose2d)}
    with torch.no_grad():
        for p in [*twin.parameters(), *twin.buffers()]:
            if p.dtype == torch.float32 and p.numel() >= INT8_FROM and p.dim() >= 2:
                q, scale, shape = _int8(p.numpy(), 1 if id(p) in transposed else 0)
                p.copy_(torch.from_numpy(q.astype(np.float32) * scale.reshape(shape)))
            elif p.dtype == torch.float32 and p.numel() >= 64:
                p.copy_(p.half().float())
        model = model.cpu().eval()
        return float((twin.reconstruct(images, labels) - model.reconstruct(images, labels)).abs().max())


def _probe_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """512 MNIST test digits (the bundled sample's when the full set is absent) to check a compact form on."""
    from aecore import data

    try:
        test = data.load("mnist", "test")
        return test.images[:512], test.labels[:512]
    except data.DataUnavailable:  # no sample either: random strokes-like noise still exercises every weight
        g = torch.Generator().manual_seed(0)
        return (torch.rand(512, 1, 28, 28, generator=g) < 0.2).float(), torch.arange(512) % 10


def pack(onnx: bytes) -> bytes:
    """The stored form: gzip with no file name or time in its header, so one graph always packs the same."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(onnx)
    return out.getvalue()


def unpack(path: Path) -> bytes:
    return gzip.decompress(Path(path).read_bytes())


def write(sha256: str, onnx: bytes, folder: Path | None = None, exact: bool = False) -> Path:
    return storage.write_atomic((folder or cache_dir()) / file_name(sha256, exact), pack(onnx))


def export(thing, exact: bool = False) -> bytes:
    """The graph of a model or of the reference classifier, compact unless ``exact``."""
    model = hasattr(thing, "latent_dim")
    onnx = export_model(thing) if model else export_classifier(thing)
    if exact:
        return onnx
    if model:  # int8 where it keeps the reconstructions close (a model with saturated outputs may not), else float16
        images, labels = _probe_digits()
        # a margin below the bound: the probe is 512 digits, the tests hold the bound on 1,000 others
        close = int8_difference(thing, images, labels if thing.conditional else None) <= 0.8 * COMPACT_MAX
        return compact(onnx, int8=close)
    return compact(onnx)


def ensure(sha256: str, load, exact: bool = False) -> Path:
    """The export of the checkpoint with this sha256: stored, else made from ``load()`` (the model, or the
    classifier when ``load`` returns one) and written to the user cache. OSError when the cache cannot be
    written; ExportUnavailable when the model cannot be exported."""
    found = find(sha256, exact)
    if found is not None:
        return found
    return write(sha256, export(load(), exact), exact=exact)


def session(path: Path):
    """An onnxruntime (Python) session on a stored export: for tests and the parity checks."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(unpack(path), options, providers=["CPUExecutionProvider"])


def run(sess, model, images: torch.Tensor, codes: torch.Tensor | None = None,
        labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Every output of a model's graph for a batch, one digit at a time (the graphs take batch 1)."""
    names = [o.name for o in sess.get_outputs()]
    codes = codes if codes is not None else torch.zeros(len(images), model.latent_dim)
    rows = []
    for i in range(len(images)):
        feed = {"image": images[i: i + 1].numpy(), "code": codes[i: i + 1].numpy()}
        if model.conditional:
            feed["label"] = labels[i: i + 1].float().numpy()
        rows.append(sess.run(names, feed))
    return {n: torch.cat([torch.from_numpy(r[k]) for r in rows]) for k, n in enumerate(names)}
