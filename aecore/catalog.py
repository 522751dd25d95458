"""The models on offer: the pretrained checkpoints shipped with the package plus the user's own folder.

Listing reads only each file's header (cheap); the content hash that keys every cache is computed
once per file version (path, size, mtime).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from aecore import checkpoint
from aecore.checkpoint import CheckpointError
from aecore.storage import pretrained_dir, user_models_dir, write_atomic

SUFFIX = ".safetensors"
HEADER_LIMIT = 100 * 1024 * 1024  # a safetensors header longer than this is not an aecore checkpoint
_HASHES: dict[tuple, str] = {}
_SUMMARIES: dict[tuple, dict] = {}


@dataclass
class ModelEntry:
    """One checkpoint on disk, described from its header."""

    name: str  # unique display name
    path: Path
    source: str  # "pretrained" or "yours"
    variant: str = "?"
    sha256: str = ""
    size: int = 0
    meta: dict = field(default_factory=dict)  # checkpoint metadata without the (large) history
    error: str | None = None  # set when the file is not a loadable checkpoint

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics") or {}

    @property
    def dataset(self) -> str:
        return self.meta.get("dataset") or (self.meta.get("train_config") or {}).get("dataset") or "mnist"

    @property
    def latent_dim(self) -> int | None:
        return (self.meta.get("config") or {}).get("latent_dim") or self.metrics.get("latent_dim")

    def can(self, capability: str) -> bool:
        """A capability its variant declares (``generative``, ``conditional``, ``denoises``, ``has_codebook``)."""
        from aecore.models import VARIANTS

        return bool(getattr(VARIANTS.get(self.variant), capability, False))

    @property
    def generative(self) -> bool:
        return self.can("generative")

    @property
    def conditional(self) -> bool:
        return self.can("conditional")


def _file_state(path: Path) -> tuple:
    """What identifies a file's content cheaply: a rewrite changes its size or modification time."""
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def file_sha256(path: str | Path) -> str:
    """Content hash of a file, remembered per (path, size, mtime)."""
    key = _file_state(path := Path(path))
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def read_header(path: str | Path) -> dict:
    """A checkpoint's aecore metadata, reading only the safetensors header (or enough bytes to say what
    the file is instead)."""
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else 0
        body = f.read(n if 0 < n <= HEADER_LIMIT else 4096)
    return checkpoint.read_metadata(head + body)


def _summary(path: Path) -> dict:
    """A checkpoint's metadata without its training history, remembered per (path, size, mtime): every
    page lists the models on every run, and parsing a dozen headers each time cost 17 ms of a stroke."""
    key = _file_state(path)
    if key not in _SUMMARIES:
        _SUMMARIES[key] = {k: v for k, v in read_header(path).items() if k != "history"}
    return _SUMMARIES[key]


def describe(path: Path, source: str, name: str | None = None) -> ModelEntry:
    entry = ModelEntry(name or path.stem, path, source)
    try:
        entry.size = path.stat().st_size
        meta = _summary(path)
        entry.meta = dict(meta)
        entry.variant = meta.get("variant", "?")
        entry.sha256 = file_sha256(path)
    except (CheckpointError, OSError) as e:
        entry.error = str(e)
    return entry


def list_models(include_broken: bool = False) -> list[ModelEntry]:
    """Pretrained models first (in registry order), then the user's, newest first."""
    from aecore.models import VARIANTS

    order = {name: i for i, name in enumerate(VARIANTS)}
    entries: list[ModelEntry] = []
    pre = pretrained_dir()
    if pre.is_dir():
        found = [describe(p, "pretrained", f"{p.stem} (pretrained)") for p in pre.glob(f"*{SUFFIX}")]
        entries += sorted(found, key=lambda e: (order.get(e.variant, 99), e.name))
    user = user_models_dir()
    if user.is_dir():
        found = [describe(p, "yours") for p in user.glob(f"*{SUFFIX}") if not p.name.startswith(".")]
        entries += sorted(found, key=lambda e: -e.path.stat().st_mtime_ns)
    return [e for e in entries if include_broken or e.error is None]


def pretrained_reference(variant: str) -> dict | None:
    """Metadata (metrics, train_config) of the pretrained model of ``variant``, if one is installed."""
    return next((e.meta for e in list_models() if e.source == "pretrained" and e.variant == variant), None)


def load(entry_or_path) -> tuple:
    """(model, full metadata) of a catalog entry or path; CheckpointError with a one-line reason."""
    path = entry_or_path.path if isinstance(entry_or_path, ModelEntry) else Path(entry_or_path)
    return checkpoint.load(path)


def safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return name[:60] or "model"


def unique_path(folder: Path, stem: str) -> Path:
    stem = safe_name(stem)
    path = folder / f"{stem}{SUFFIX}"
    i = 2
    while path.exists():
        path = folder / f"{stem}-{i}{SUFFIX}"
        i += 1
    return path


def import_upload(data: bytes, filename: str = "uploaded", folder: Path | None = None) -> tuple[ModelEntry, bool]:
    """Validate an uploaded checkpoint fully (builds the model) and store it in the user's folder.

    Returns (entry, added): ``added`` is False when the same file was already there."""
    model, meta = checkpoint.from_bytes(data)  # CheckpointError: one-line reason
    folder = folder or user_models_dir()
    digest = hashlib.sha256(data).hexdigest()
    if folder.is_dir():
        for p in folder.glob(f"*{SUFFIX}"):
            if p.stat().st_size == len(data) and file_sha256(p) == digest:
                return describe(p, "yours"), False
    stem = Path(filename).name
    stem = stem[: -len(SUFFIX)] if stem.endswith(SUFFIX) else Path(stem).stem
    path = write_atomic(unique_path(folder, stem or meta["variant"]), data)
    return describe(path, "yours"), True


def new_model_path(variant: str, folder: Path | None = None) -> Path:
    folder = folder or user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return unique_path(folder, f"{variant}-{time.strftime('%Y%m%d-%H%M%S')}")
