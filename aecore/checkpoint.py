"""One safetensors file per model, with JSON metadata inside. Loading never unpickles anything."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from aecore.config import ConfigError, from_dict, to_dict
from aecore.models import Autoencoder, UnknownVariant, get_variant

FORMAT = "aecore-checkpoint"
FORMAT_VERSION = 1
MAX_BYTES = 200 * 1024 * 1024  # far above any aecore model; refuses accidental huge uploads


class CheckpointError(ValueError):
    """A file that is not a valid aecore checkpoint; the message is one line saying why."""


def _version() -> str:
    from aecore import __version__

    return __version__


def to_bytes(model: Autoencoder, **meta) -> bytes:
    """Serialise weights plus metadata (variant, config and whatever ``meta`` adds)."""
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "variant": model.variant,
              "config": to_dict(model.config), "aecore_version": _version(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **meta}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return st_save(tensors, metadata={"aecore": json.dumps(header)})


def save(model: Autoencoder, path: str | Path, **meta) -> Path:
    """Serialise and write atomically (see :func:`write_atomic`)."""
    return write_atomic(Path(path), to_bytes(model, **meta))


def write_atomic(path: Path, data: bytes) -> Path:
    """A temp file in the same folder, fsync, then rename: a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_metadata(data: bytes) -> dict:
    """The aecore header of a checkpoint, checked, without building the model."""
    if len(data) > MAX_BYTES:
        raise CheckpointError(f"file is {len(data) / 1e6:.0f} MB, larger than any aecore checkpoint")
    # A safetensors header length can start with these bytes too (~1 in 256 files): its JSON starts at byte 8.
    if (data[:2] == b"PK" or data[:1] == b"\x80") and data[8:9] != b"{":
        raise CheckpointError("this is a pickle/PyTorch .pt file; aecore only loads safetensors checkpoints")
    if len(data) < 8:
        raise CheckpointError("file is empty or truncated")
    header_len = int.from_bytes(data[:8], "little")
    if header_len <= 0 or 8 + header_len > len(data):
        raise CheckpointError("not a safetensors file (bad header length: truncated or another format)")
    try:
        header = json.loads(data[8: 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError("not a safetensors file (header is not JSON)") from None
    raw = (header.get("__metadata__") or {}).get("aecore") if isinstance(header, dict) else None
    if raw is None:
        raise CheckpointError("a safetensors file, but not an aecore checkpoint (no aecore metadata)")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise CheckpointError("aecore metadata is not valid JSON") from None
    if meta.get("format") != FORMAT or not isinstance(meta.get("config"), dict):
        raise CheckpointError("aecore metadata lacks the format tag or the config")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"written by a newer aecore (format {meta['format_version']}); upgrade aecore")
    return meta


def from_bytes(data: bytes, expect_variant: str | None = None) -> tuple[Autoencoder, dict]:
    """Build the model a checkpoint describes and load its weights; CheckpointError on any problem."""
    meta = read_metadata(data)
    variant = meta.get("variant")
    if expect_variant and variant != expect_variant:
        raise CheckpointError(f"this is a {variant!r} checkpoint, expected {expect_variant!r}")
    try:
        cls = get_variant(variant)
        model = cls(from_dict(cls.config_class, meta["config"]))
    except (UnknownVariant, ConfigError, TypeError) as e:
        raise CheckpointError(f"bad checkpoint settings: {e}") from None
    try:
        tensors = st_load(data)
    except (SafetensorError, Exception) as e:  # noqa: BLE001 - any decode failure means a corrupt file
        raise CheckpointError(f"weights cannot be read (truncated or corrupt file): {str(e)[:120]}") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        parts = [f"{label}: {', '.join(keys[:3])}{'…' if len(keys) > 3 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise CheckpointError(f"weights don't fit the {variant} config ({'; '.join(parts)})")
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise CheckpointError("weights contain NaN or infinity")
    model.load_state_dict(tensors)
    model.eval()
    return model, meta


def load(path: str | Path, expect_variant: str | None = None) -> tuple[Autoencoder, dict]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no such file: {path}")
    if path.stat().st_size > MAX_BYTES:
        raise CheckpointError(f"{path.name} is {path.stat().st_size / 1e6:.0f} MB, larger than any aecore checkpoint")
    return from_bytes(path.read_bytes(), expect_variant)
