"""The models on offer: the pretrained checkpoints shipped with the package plus the user's own folder.

Listing reads only each file's header (cheap); the content hash that keys every cache is computed
once per file version (path, size, mtime). Everyone the app serves shares your folder, so a file there
is hostile input: a broken one is listed as unusable with a one-line reason, an upload is checked by the
same rules first, and the folder has a quota (:func:`aecore.storage.models_quota`). New files never
replace one another (:func:`store_model`).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aecore import checkpoint, storage
from aecore.checkpoint import MAX_BYTES, MAX_HEADER, CheckpointError
from aecore.storage import pretrained_dir, user_models_dir

SUFFIX = ".safetensors"
_HASHES: dict[tuple, str] = {}
_SUMMARIES: dict[tuple, dict] = {}
_REMEMBER = 4096  # file versions remembered; past that the memo starts again (files rewritten all day)
_STORE = threading.RLock()  # one writer at a time checks the quota and duplicates, then writes


class ModelsFolderError(CheckpointError):
    """Your models folder refuses: a file that cannot be written, or is not yours to delete; one line."""


class QuotaExceeded(ModelsFolderError):
    """Your models folder is at its quota; the message says the quota and how to free space."""


@dataclass
class ModelEntry:
    """One checkpoint on disk, described from its header."""

    name: str  # unique display name
    path: Path
    source: str  # "pretrained" or "yours"
    variant: str = "?"
    sha256: str = ""
    size: int = 0
    meta: dict = field(default_factory=dict)  # the checked metadata (aecore.metadata), without the (large) history
    error: str | None = None  # set when the file is not a loadable checkpoint: one line, no folder named
    mtime_ns: int = 0

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics") or {}

    @property
    def dataset(self) -> str:
        return self.meta.get("dataset") or (self.meta.get("train_config") or {}).get("dataset") or "mnist"

    @property
    def latent_dim(self) -> int | None:
        size = (self.meta.get("config") or {}).get("latent_dim") or self.metrics.get("latent_dim")
        return int(size) if isinstance(size, (int, float)) and 1 <= size <= 100_000 and size == int(size) else None

    @property
    def binarize(self) -> str:
        """The pixels it was trained and is scored on: ``none`` (grey levels), ``dynamic`` or ``fixed``."""
        value = (self.meta.get("train_config") or {}).get("binarize")
        return value if isinstance(value, str) else "none"

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


def _remember(memo: dict, key: tuple, value):
    if len(memo) >= _REMEMBER:
        memo.clear()
    memo[key] = value
    return value


def file_sha256(path: str | Path) -> str:
    """Content hash of a file, remembered per (path, size, mtime)."""
    key = _file_state(path := Path(path))
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _remember(_HASHES, key, h.hexdigest())
    return _HASHES[key]


def read_header(path: str | Path) -> dict:
    """A checkpoint's checked aecore metadata, reading only the safetensors header (or enough bytes to say
    what the file is instead); the same rules as an upload's (:func:`aecore.checkpoint.read_metadata`)."""
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else 0
        body = f.read(n if 0 < n <= MAX_HEADER else 4096)
    return checkpoint.read_metadata(head + body)


def _summary(path: Path) -> dict:
    """A checkpoint's metadata without its training history, remembered per (path, size, mtime): every
    page lists the models on every run, and parsing every header each time slowed every stroke."""
    key = _file_state(path)
    if key not in _SUMMARIES:
        _remember(_SUMMARIES, key, {k: v for k, v in read_header(path).items() if k != "history"})
    return _SUMMARIES[key]


def describe(path: Path, source: str, name: str | None = None) -> ModelEntry:
    """An entry for ``path``; never raises: a file that is not a usable checkpoint gets ``error``."""
    entry = ModelEntry(name or path.stem, path, source)
    try:
        st = path.stat()
        entry.size, entry.mtime_ns = st.st_size, st.st_mtime_ns
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointError("not a regular file")
        if st.st_size > MAX_BYTES:
            raise CheckpointError(f"file is {st.st_size / 1e6:.0f} MB, larger than any aecore checkpoint")
        meta = _summary(path)
        entry.meta = dict(meta)
        entry.variant = meta["variant"]
        entry.sha256 = file_sha256(path)
    except CheckpointError as e:
        entry.error = str(e)
    except OSError as e:  # its message would name the folder
        entry.error = f"cannot be read: {e.strerror or type(e).__name__}"
    except Exception as e:  # noqa: BLE001 - one odd file must not take the list from every page
        entry.error = f"cannot be read ({type(e).__name__})"
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
        found = [describe(p, "yours") for p in _user_files(user)]
        entries += sorted(found, key=lambda e: -e.mtime_ns)
    return [e for e in entries if include_broken or e.error is None]


def _user_files(folder: Path) -> list[Path]:
    """The checkpoints in a models folder (not the hidden temp files of a write under way)."""
    return [p for p in folder.glob(f"*{SUFFIX}") if not p.name.startswith(".")]


def pretrained_reference(variant: str) -> dict | None:
    """Metadata (metrics, train_config) of the pretrained model of ``variant``, if one is installed: the file named
    after it first (``vae``, not ``vae_bin``, a model of another protocol), else any of that variant."""
    shipped = [e for e in list_models() if e.source == "pretrained" and e.variant == variant]
    return next((e.meta for e in sorted(shipped, key=lambda e: e.path.stem != variant)), None)


def load(entry_or_path) -> tuple:
    """(model, full metadata) of a catalog entry or path; CheckpointError with a one-line reason."""
    path = entry_or_path.path if isinstance(entry_or_path, ModelEntry) else Path(entry_or_path)
    return checkpoint.load(path)


def safe_name(text: str) -> str:
    """A name that is safe as a file name, in a URL and as Markdown: letters, digits, '-' and '_' (no dots, so
    nothing in it reads as a link)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")
    return name[:60] or "model"


def usage(folder: Path | None = None) -> tuple[int, int]:
    """(bytes, files) your models folder holds now."""
    folder = folder or user_models_dir()
    sizes = []
    for p in _user_files(folder) if folder.is_dir() else []:
        try:
            sizes.append(p.stat().st_size)
        except OSError:  # deleted meanwhile
            continue
    return sum(sizes), len(sizes)


def check_quota(size: int, folder: Path | None = None) -> None:
    """QuotaExceeded unless a new file of ``size`` bytes fits in your models folder."""
    max_bytes, max_files = storage.models_quota()
    used, files = usage(folder)
    if used + size > max_bytes or files + 1 > max_files:
        mib = 1024 * 1024
        raise QuotaExceeded(
            f"the models folder is full: {files} models, {used / mib:.0f} MB, and this one needs {size / mib:.1f} MB "
            f"more than the quota of {max_files} models and {max_bytes / mib:.0f} MB allows; delete models you no "
            "longer need, or have the server raise AECORE_MODELS_QUOTA_MB or AECORE_MODELS_QUOTA_FILES")


def store_model(data: bytes, stem: str, folder: Path | None = None) -> Path:
    """Write checkpoint bytes as a new file ``<stem>[-N].safetensors`` in your models folder, within its quota.

    The file is created exclusively: two writers that pick the same name at the same moment (two uploads of
    ``model.safetensors``, two saves of one variant in one second) get two files, and nothing is replaced.
    ModelsFolderError (QuotaExceeded when full) says why nothing was written."""
    folder = folder or user_models_dir()
    stem = safe_name(stem)
    with _STORE:
        check_quota(len(data), folder)
        for i in range(1, 10_000):
            path = folder / f"{stem}{'' if i == 1 else f'-{i}'}{SUFFIX}"
            if path.exists() or path.is_symlink():
                continue
            try:
                return storage.write_atomic(path, data, exclusive=True)
            except FileExistsError:  # another process took the name since the check
                continue
            except OSError as e:
                raise ModelsFolderError(f"could not save {path.name}: {storage.plain_os_error(e)}") from None
    raise ModelsFolderError(f"could not save {stem}{SUFFIX}: too many files of that name")


def find_duplicate(data: bytes, folder: Path | None = None) -> ModelEntry | None:
    """The model already on offer (yours or pretrained) whose file has exactly these bytes, if any."""
    digest = hashlib.sha256(data).hexdigest()
    for where, source in ((folder or user_models_dir(), "yours"), (pretrained_dir(), "pretrained")):
        for p in _user_files(where) if where.is_dir() else []:
            try:
                if p.stat().st_size == len(data) and file_sha256(p) == digest:
                    return describe(p, source, None if source == "yours" else f"{p.stem} (pretrained)")
            except OSError:
                continue
    return None


def import_upload(data: bytes, filename: str = "uploaded", folder: Path | None = None) -> tuple[ModelEntry, bool]:
    """Validate an uploaded checkpoint fully (builds the model) and store it in the user's folder.

    Returns (entry, added): ``added`` is False when the same file was already there (yours or pretrained).
    CheckpointError (a ModelsFolderError when the folder refuses it) with a one-line reason otherwise."""
    _, meta = checkpoint.from_bytes(data)  # the rules list_models applies, and the weights too
    folder = folder or user_models_dir()
    stem = Path(filename).name
    stem = stem[: -len(SUFFIX)] if stem.endswith(SUFFIX) else Path(stem).stem
    with _STORE:  # the duplicate check and the write are one step: two equal uploads at once keep one file
        same = find_duplicate(data, folder)
        if same is not None:
            return same, False
        path = store_model(data, stem or meta["variant"], folder)
    return describe(path, "yours"), True


def save_trained(data: bytes, variant: str, folder: Path | None = None) -> Path:
    """Store a model trained here as ``<variant>-<date>-<time>.safetensors`` (see :func:`store_model`)."""
    return store_model(data, f"{variant}-{time.strftime('%Y%m%d-%H%M%S')}", folder)


def delete_model(entry: ModelEntry, folder: Path | None = None) -> None:
    """Remove one of your models from your models folder (never a pretrained one, never a file elsewhere).

    ModelsFolderError with a one-line reason when it is not yours to delete, is gone, or cannot be removed."""
    folder = folder or user_models_dir()
    path = Path(entry.path)
    if entry.source != "yours":
        raise ModelsFolderError(f"{entry.name} is a pretrained model: only your own models can be deleted")
    inside = os.path.realpath(path.parent) == os.path.realpath(folder) != os.path.realpath(pretrained_dir())
    if not inside or not path.name.endswith(SUFFIX) or path.name.startswith("."):
        raise ModelsFolderError(f"{path.name} is not in your models folder: only your own models can be deleted")
    with _STORE:
        try:
            state = _file_state(path) if path.is_file() else None
            path.unlink()  # a symbolic link itself, never its target
        except FileNotFoundError:
            raise ModelsFolderError(f"{path.name} is already gone") from None
        except OSError as e:
            raise ModelsFolderError(f"could not delete {path.name}: {storage.plain_os_error(e)}") from None
    if state:
        _HASHES.pop(state, None)
        _SUMMARIES.pop(state, None)
