"""Where aecore reads and writes, and how it writes.

Read-only package data (the bundled MNIST sample, pretrained checkpoints and their card, the
reference classifier, shipped projections) travels inside the package as ``aecore.assets`` and is
found through ``importlib.resources``; nothing is ever written there. Everything aecore writes goes
to the user's folders, each overridable by an environment variable:

=====================  =========================  ==========================================
folder                 variable                   default
=====================  =========================  ==========================================
cache root             ``AECORE_CACHE_DIR``       ``$XDG_CACHE_HOME/aecore`` (``~/.cache/aecore``)
your models            ``AECORE_MODELS_DIR``      ``<cache root>/models``
data root              ``AECORE_DATA_DIR``        ``<cache root>/data``
pretrained models      ``AECORE_PRETRAINED_DIR``  the package's ``assets/models`` (read only)
=====================  =========================  ==========================================

Your models folder is shared by everyone the app serves, so it has a quota (:func:`models_quota`):
``AECORE_MODELS_QUOTA_MB`` (default 500) and ``AECORE_MODELS_QUOTA_FILES`` (default 200).
"""

from __future__ import annotations

import errno
import importlib.resources
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def assets_dir() -> Path:
    """The package data folder: ``aecore.assets`` when installed, else a source checkout's ``assets/``."""
    try:
        root = importlib.resources.files("aecore.assets")
    except ModuleNotFoundError:  # run from a checkout without installing: assets/ sits beside aecore/
        return Path(__file__).resolve().parent.parent / "assets"
    if not isinstance(root, Path):
        raise RuntimeError("aecore must be installed as files (not imported from a zip archive)")
    return root


def asset(*parts: str) -> Path:
    return assets_dir().joinpath(*parts)


def _env_dir(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return _env_dir("AECORE_CACHE_DIR") or Path(xdg) / "aecore"


def user_models_dir() -> Path:
    return _env_dir("AECORE_MODELS_DIR") or cache_root() / "models"


def data_root(data_dir: str | Path | None = None) -> Path:
    """The one data-root rule, shared by the CLI and the app: ``data_dir``, else $AECORE_DATA_DIR,
    else ``<cache root>/data`` (where ``aecore data --download`` puts the files)."""
    if data_dir:
        return Path(data_dir).expanduser()
    return _env_dir("AECORE_DATA_DIR") or cache_root() / "data"


def pretrained_dir() -> Path:
    return _env_dir("AECORE_PRETRAINED_DIR") or asset("models")


MODELS_QUOTA_MB = 500
MODELS_QUOTA_FILES = 200


def _env_limit(name: str, default: int) -> int:
    """A positive whole number from the environment; a value that is not one is ignored (the default holds)."""
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def models_quota() -> tuple[int, int]:
    """(bytes, files) your models folder may hold: $AECORE_MODELS_QUOTA_MB and $AECORE_MODELS_QUOTA_FILES."""
    return (_env_limit("AECORE_MODELS_QUOTA_MB", MODELS_QUOTA_MB) * 1024 * 1024,
            _env_limit("AECORE_MODELS_QUOTA_FILES", MODELS_QUOTA_FILES))


def third_party_caches() -> None:
    """Point third-party caches (numba's compiled UMAP code) at the user cache, never site-packages."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_root() / "numba"))


def plain_os_error(error: OSError) -> str:
    """A failed write in words a user can act on (not an errno and a temp path)."""
    words = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
             errno.EROFS: "the folder is on a read-only disk", errno.EACCES: "no permission to write there",
             errno.EPERM: "no permission to write there", errno.ENOENT: "the folder does not exist"}
    return words.get(error.errno, error.strerror or type(error).__name__)


def write_atomic(path: str | Path, data: bytes | Callable[[BinaryIO], None], exclusive: bool = False) -> Path:
    """Write ``data`` (bytes, or a function that writes to a binary file) to ``path`` atomically.

    A uniquely named temp file in the same folder, fsync, then rename: a crash or a full disk never
    leaves a half-written file, and two writers never share a temp file. The file gets the user's
    usual permissions (0666 less the umask), like any file they create. With ``exclusive``, an existing
    ``path`` is never replaced: FileExistsError instead, even when another writer creates it at the same moment.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            _link_new(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a rename; after a link, the name that stays is ``path``
    return path


def _link_new(tmp: Path, path: Path) -> None:
    """Give the written ``tmp`` the name ``path`` unless that name exists (FileExistsError): a hard link, which
    the kernel refuses over an existing name, so two writers racing for one name can't replace each other."""
    try:
        os.link(tmp, path)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        # A file system without hard links: claim the name with an empty file first (O_EXCL), then fill it.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.replace(tmp, path)
