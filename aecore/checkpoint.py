"""One safetensors file per model, with JSON metadata inside. Loading never unpickles anything."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from aecore.config import ConfigError, from_dict, to_dict
from aecore.data import DATASETS
from aecore.errors import UserError
from aecore.models import Autoencoder, UnknownVariant, get_variant
from aecore.storage import write_atomic

FORMAT = "aecore-checkpoint"
FORMAT_VERSION = 2  # 2: extra tensors beside the weights (see EXTRA); a file without them is still written as 1
EXTRA = "extra."  # names of tensors that are not weights (e.g. training evolution frames)
MAX_BYTES = 200 * 1024 * 1024  # far above any aecore model; refuses accidental huge uploads


class CheckpointError(UserError, ValueError):
    """A file that is not a valid aecore checkpoint; the message is one line saying why."""


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
    return st_save(tensors, metadata={"aecore": json.dumps(header)})


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


def _json_object(raw, what: str) -> dict:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError):
        raise CheckpointError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{what} is not a JSON object")
    return value


def read_metadata(data: bytes) -> dict:
    """The aecore header of a checkpoint, checked, without building the model.

    Any malformed content ends in a CheckpointError whose message is one line saying what is wrong."""
    if len(data) > MAX_BYTES:
        raise CheckpointError(f"file is {len(data) / 1e6:.0f} MB, larger than any aecore checkpoint")
    header_len = int.from_bytes(data[:8], "little") if len(data) >= 8 else 0
    # A header that opens with '{' is safetensors, even where its length's first byte looks like a magic number.
    if data[8:9] != b"{":
        raise _foreign(sniff(data))
    if 8 + header_len > len(data):
        raise CheckpointError("a safetensors file cut short (truncated download or copy?)")
    header = _json_object(data[8: 8 + header_len], "the safetensors header")
    metadata = header.get("__metadata__")
    raw = metadata.get("aecore") if isinstance(metadata, dict) else None
    if raw is None:
        raise _foreign("a safetensors file without aecore metadata (from another program?)")
    meta = _json_object(raw, "its aecore metadata")
    if meta.get("format") != FORMAT or not isinstance(meta.get("config"), dict):
        raise CheckpointError("aecore metadata lacks the format tag or the config")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"aecore metadata has a bad format_version ({str(version)[:20]!r})")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"written by a newer aecore (format {version}); upgrade aecore")
    if not isinstance(meta.get("variant"), str):
        raise CheckpointError("aecore metadata does not name a variant")
    if meta.get("dataset", "mnist") not in DATASETS:
        raise CheckpointError(f"aecore metadata names an unknown dataset ({str(meta['dataset'])[:40]!r})")
    for key in ("metrics", "train_config", "history"):
        if not isinstance(meta.get(key, {}), dict):
            raise CheckpointError(f"aecore metadata has a malformed {key!r} entry")
    return meta


def _tensors(data: bytes) -> dict[str, torch.Tensor]:
    try:
        return st_load(data)
    except (SafetensorError, Exception) as e:  # noqa: BLE001 - any decode failure means a corrupt file
        raise CheckpointError(f"weights cannot be read (truncated or corrupt file): {str(e)[:120]}") from None


def read_extras(data: bytes) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint that are not weights, by the name given to :func:`to_bytes` ({} if none)."""
    read_metadata(data)
    return {k[len(EXTRA):]: v for k, v in _tensors(data).items() if k.startswith(EXTRA)}


def from_bytes(data: bytes, expect_variant: str | None = None) -> tuple[Autoencoder, dict]:
    """Build the model a checkpoint describes and load its weights; CheckpointError on any problem."""
    meta = read_metadata(data)
    variant = meta.get("variant")
    if expect_variant and variant != expect_variant:
        raise CheckpointError(f"this is a {variant!r} checkpoint, expected {expect_variant!r}")
    try:
        cls = get_variant(variant)
        settings = {k: v for k, v in meta["config"].items() if k not in cls.retired_settings}
        model = cls(from_dict(cls.config_class, settings))
    except (UnknownVariant, ConfigError, TypeError) as e:
        raise CheckpointError(f"bad checkpoint settings: {e}") from None
    tensors = {k: v for k, v in _tensors(data).items() if not k.startswith(EXTRA)}
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
