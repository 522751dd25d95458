"""One safetensors file per model, with JSON metadata inside. Loading never unpickles anything."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from aecore import metadata
from aecore.config import ConfigError, from_dict, to_dict
from aecore.data import DATASETS
from aecore.metadata import MAX_HEADER, CheckpointError, shown
from aecore.models import VARIANTS, Autoencoder, UnknownVariant, get_variant
from aecore.storage import write_atomic

__all__ = ["EXTRA", "FORMAT", "FORMAT_VERSION", "MAX_BYTES", "MAX_HEADER", "CheckpointError", "from_bytes", "load",
           "read_extras", "read_metadata", "save", "sniff", "to_bytes"]

FORMAT = "aecore-checkpoint"
FORMAT_VERSION = 2  # 2: extra tensors beside the weights (see EXTRA); a file without them is still written as 1
EXTRA = "extra."  # names of tensors that are not weights (e.g. training evolution frames)
MAX_BYTES = 100 * 1024 * 1024  # the largest settings of any variant make 55 MB of weights
# Extras are training evolution frames (aecore.evolution): 4 kB an epoch, 2 MB for 500 epochs.
MAX_TENSORS, MAX_EXTRAS, MAX_EXTRA_BYTES, MAX_NDIM = 1000, 8, 16 * 1024 * 1024, 4
TENSOR_NAME = re.compile(r"[A-Za-z0-9_.]{1,200}")


def _version() -> str:
    from aecore import __version__

    return __version__


def to_bytes(model: Autoencoder, extras: dict[str, torch.Tensor] | None = None, **meta) -> bytes:
    """Serialise weights plus metadata (variant, config and whatever ``meta`` adds), and ``extras``: tensors
    that are not weights (stored as ``EXTRA + name``; :func:`read_extras` gives them back)."""
    # Format 1 readers would refuse extra tensors as weights that don't fit; format 2 tells them to upgrade.
    header = {"format": FORMAT, "format_version": 2 if extras else 1, "variant": model.variant,
              "config": to_dict(model.config), "aecore_version": _version(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **meta}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({EXTRA + k: v.detach().cpu().contiguous() for k, v in (extras or {}).items()})
    return st_save(tensors, metadata={"aecore": _fitted(header)})


def _fitted(header: dict) -> str:
    """The header as JSON that every reader accepts: a history too long for MAX_META keeps every other step
    until it fits (the curves keep their shape), and source descriptions are cut to their limit."""
    if isinstance(header.get("data_source"), str):
        header["data_source"] = header["data_source"][: metadata.MAX_TEXT]
    history = header.get("history")
    if isinstance(history, dict):
        header["history"] = history = dict(history)
        if isinstance(history.get("train_source"), str):
            history["train_source"] = history["train_source"][: metadata.MAX_TEXT]
    raw = json.dumps(header)
    while len(raw) > metadata.MAX_META and isinstance(history, dict) and len(history.get("steps") or ()) > 2:
        steps = history["steps"]
        history["steps"] = steps[-1::-2][::-1]  # every other step, always with the last
        raw = json.dumps(header)
    return raw


def save(model: Autoencoder, path: str | Path, extras: dict[str, torch.Tensor] | None = None, **meta) -> Path:
    """Serialise and write atomically (see :func:`aecore.storage.write_atomic`)."""
    return write_atomic(Path(path), to_bytes(model, extras, **meta))


# Magic numbers of the files people most often mistake for a checkpoint.
_KINDS = [(b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip archive"), (b"\x7fELF", "a program (ELF)"),
          (b"PK\x03\x04", "a PyTorch .pt (pickle) file or zip archive; aecore loads only safetensors checkpoints"),
          (b"\x80", "a pickle or PyTorch .pt file; aecore loads only safetensors checkpoints")]


def _foreign(what: str) -> CheckpointError:
    return CheckpointError(f"not an aecore checkpoint: {what}")


def sniff(data: bytes) -> str:
    """What a file that is not a safetensors checkpoint looks like, in a few words."""
    if not data:
        return "the file is empty"
    for magic, kind in _KINDS:
        if data.startswith(magic):
            return kind
    if len(data) < 16:
        return f"only {len(data)} bytes long (truncated?)"
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return f"unrecognised binary data ({len(data):,} bytes)"
    return "a JSON file" if text.lstrip()[:1] in ("{", "[") else "a text file"


def read_metadata(data: bytes) -> dict:
    """The aecore header of a checkpoint, every field checked and typed (:mod:`aecore.metadata`), without
    building the model; ``data`` may end after the header.

    Any malformed content ends in a CheckpointError whose message is one line saying what is wrong."""
    if len(data) > MAX_BYTES:
        raise CheckpointError(f"file is {len(data) / 1e6:.0f} MB, larger than any aecore checkpoint")
    header_len = int.from_bytes(data[:8], "little") if len(data) >= 8 else 0
    # A header that opens with '{' is safetensors, even where its length's first byte looks like a magic number.
    if data[8:9] != b"{":
        raise _foreign(sniff(data))
    if header_len > MAX_HEADER:
        raise CheckpointError(f"its header is {header_len / 1e6:.1f} MB, far more than an aecore checkpoint's "
                              f"(at most {MAX_HEADER / 1e6:.0f} MB)")
    if 8 + header_len > len(data):
        raise CheckpointError("a safetensors file cut short (truncated download or copy?)")
    header = metadata.parse(data[8: 8 + header_len], "the safetensors header")
    meta_table = header.pop("__metadata__", None)
    raw = meta_table.get("aecore") if isinstance(meta_table, dict) else None
    if raw is None:
        raise _foreign("a safetensors file without aecore metadata (from another program?)")
    _check_tensors(header)
    return _checked(metadata.parse(raw, "its aecore metadata"))


def _check_tensors(table: dict) -> None:
    """Bounds on the tensors a header lists: plain names, at most MAX_NDIM dimensions, and few small extras."""
    if len(table) > MAX_TENSORS:
        raise CheckpointError(f"lists {len(table):,} tensors, more than any aecore model has")
    extra_bytes = n_extras = 0
    for name, info in table.items():
        if not TENSOR_NAME.fullmatch(name):
            raise CheckpointError(f"a tensor name that is not a plain word ({shown(name)})")
        shape, offsets = (info.get("shape"), info.get("data_offsets")) if isinstance(info, dict) else (None, None)
        if not (isinstance(shape, list) and len(shape) <= MAX_NDIM and isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(v, int) and v >= 0 for v in shape + offsets) and offsets[0] <= offsets[1]):
            raise CheckpointError(f"tensor {shown(name)} is described wrongly (shape, offsets)")
        if name.startswith(EXTRA):
            n_extras += 1
            extra_bytes += offsets[1] - offsets[0]
    if n_extras > MAX_EXTRAS or extra_bytes > MAX_EXTRA_BYTES:
        raise CheckpointError(f"holds {n_extras} extra tensors of {extra_bytes / 1e6:.1f} MB, more than aecore "
                              f"writes (at most {MAX_EXTRAS}, {MAX_EXTRA_BYTES / 1e6:.0f} MB)")


def _checked(meta: dict) -> dict:
    """The metadata rebuilt from its known fields, each checked; unknown fields are dropped."""
    if meta.get("format") != FORMAT or not isinstance(meta.get("config"), dict):
        raise CheckpointError("aecore metadata lacks the format tag or the config")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise CheckpointError(f"aecore metadata has a bad format_version ({shown(version)})")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"written by a newer aecore (format {version}); upgrade aecore")
    variant = meta.get("variant")
    if not isinstance(variant, str):
        raise CheckpointError("aecore metadata does not name a variant")
    if variant not in VARIANTS:
        raise CheckpointError(f"unknown variant {shown(variant)}: aecore has {', '.join(VARIANTS)}")
    out = {"format": FORMAT, "format_version": version, "variant": variant,
           "config": metadata.model_config(meta["config"], variant)}
    if meta.get("dataset") is not None:
        if meta["dataset"] not in DATASETS:
            raise CheckpointError(f"aecore metadata names an unknown dataset ({shown(meta['dataset'])})")
        out["dataset"] = meta["dataset"]
    checks = {"aecore_version": metadata.word, "created": lambda v, k: metadata.word(v, k, metadata.STAMP),
              "data_source": metadata.text, "metrics": lambda v, k: metadata.table(v, k, bools=True),
              "train_config": lambda v, k: metadata.train_config(v), "history": lambda v, k: metadata.history(v)}
    out.update({key: check(meta[key], key) for key, check in checks.items() if meta.get(key) is not None})
    return out


def _tensors(data: bytes) -> dict[str, torch.Tensor]:
    try:
        return st_load(data)
    except (SafetensorError, Exception):  # noqa: BLE001 - any decode failure means a corrupt file
        # Its words are not repeated: they may quote the file's tensor names.
        raise CheckpointError("weights cannot be read (truncated or corrupt file)") from None


def read_extras(data: bytes) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint that are not weights, by the name given to :func:`to_bytes` ({} if none)."""
    read_metadata(data)
    return {k[len(EXTRA):]: v for k, v in _tensors(data).items() if k.startswith(EXTRA)}


def from_bytes(data: bytes, expect_variant: str | None = None) -> tuple[Autoencoder, dict]:
    """Build the model a checkpoint describes and load its weights; CheckpointError on any problem."""
    meta = read_metadata(data)
    variant = meta["variant"]
    if expect_variant and variant != expect_variant:
        raise CheckpointError(f"this is a {variant!r} checkpoint, expected {shown(expect_variant)}")
    try:  # read_metadata checked the settings already
        cls = get_variant(variant)
        settings = {k: v for k, v in meta["config"].items() if k not in cls.retired_settings}
        model = cls(from_dict(cls.config_class, settings))
    except (UnknownVariant, ConfigError, TypeError) as e:
        raise CheckpointError(f"bad checkpoint settings: {str(e)[:160]}") from None
    tensors = {k: v for k, v in _tensors(data).items() if not k.startswith(EXTRA)}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        parts = [f"{label}: {', '.join(map(shown, keys[:3]))}{'…' if len(keys) > 3 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise CheckpointError(f"weights don't fit the {variant} config ({'; '.join(parts)})")
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise CheckpointError("weights contain NaN or infinity")
    model.load_state_dict(tensors)
    model.eval()
    return model, meta


def load(path: str | Path, expect_variant: str | None = None) -> tuple[Autoencoder, dict]:
    """(model, metadata) of a checkpoint file; CheckpointError naming the file (never its folder) on any problem."""
    path = Path(path)
    try:
        if not path.is_file():
            raise CheckpointError(f"no such file: {path.name}")
        if path.stat().st_size > MAX_BYTES:
            raise CheckpointError(f"{path.name} is {path.stat().st_size / 1e6:.0f} MB, larger than any aecore "
                                  "checkpoint")
        data = path.read_bytes()
    except OSError as e:  # its message would name the folder
        raise CheckpointError(f"{path.name} cannot be read: {e.strerror or type(e).__name__}") from None
    return from_bytes(data, expect_variant)
