"""The registry of variants (the names live in :mod:`aecore.models.variants`: a new variant is one module
plus one line there). A class is imported the first time it is asked for, so listing the variants
(``aecore --help``, ``aecore variants``) never imports torch.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from aecore.errors import UserError
from aecore.metric_info import METRICS, Metric
from aecore.models.variants import CLASSES, name_of

if TYPE_CHECKING:
    from aecore.models.base import Autoencoder



class _Registry(Mapping):
    """name -> class, in registry order; names, ``in`` and ``len`` import nothing."""

    def __init__(self, paths: dict[str, str]):
        self._paths = paths
        self._loaded: dict[str, type] = {}

    def __getitem__(self, name: str) -> type[Autoencoder]:
        if name not in self._loaded:
            module, cls = self._paths[name].split(":")
            self._loaded[name] = getattr(importlib.import_module(module), cls)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, name) -> bool:
        return name in self._paths

    def path(self, name: str) -> str:
        return self._paths[name]


VARIANTS = _Registry(CLASSES)


class UnknownVariant(UserError, KeyError):
    def __str__(self):
        return self.args[0]


def get_variant(name: str) -> type[Autoencoder]:
    try:
        return VARIANTS[name]
    except KeyError:
        raise UnknownVariant(f"unknown variant {name!r}: choose one of {', '.join(VARIANTS)}") from None


def all_metrics() -> list[Metric]:
    """The common metrics, then each variant's own, in registry order (each key once): that one list drives
    ``aecore eval``, the model card and every metric table."""
    out = {m.key: m for m in METRICS}
    for cls in VARIANTS.values():
        out.update({m.key: m for m in cls.metric_info if m.key not in out})
    return list(out.values())


def metric_of(key: str) -> Metric:
    """The metric of ``key``; keys made on the fly (e.g. ``denoise_mse_dense``) get a plain entry."""
    return next((m for m in all_metrics() if m.key == key), None) or Metric(key, key.replace("_", " "), ".4g",
                                                                             None, "")


def description(name: str) -> str:
    """A variant's one-line ``description``, read from its module's source when the class is not yet
    imported: ``aecore variants`` lists them all in a fraction of the second torch takes to import."""
    module, cls_name = VARIANTS.path(name).split(":")
    if module not in sys.modules:
        spec = importlib.util.find_spec(module)
        tree = ast.parse(Path(spec.origin).read_text())
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls_name)
        for node in cls.body:
            if (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["description"]
                    and isinstance(node.value, ast.Constant)):
                return node.value.value
    return get_variant(name).description  # not a plain literal in the class body: import it


def build(name: str, config: dict | None = None, seed: int | None = None) -> Autoencoder:
    """Instantiate a variant from a plain dict of settings (validated); ``seed`` fixes the initial weights: those
    of building it after ``torch.manual_seed(seed)``, drawn from a generator of its own (thread-safe)."""
    from aecore.config import from_dict
    from aecore.seeding import init_weights

    cls = get_variant(name)
    cfg = from_dict(cls.config_class, config)
    return cls(cfg) if seed is None else init_weights(cls(cfg), seed)


def __getattr__(name: str):
    # The base classes import torch: loaded on first use, as ``from aecore.models import VAEBase``.
    if name in ("AEOutput", "Autoencoder"):
        from aecore.models import base

        return getattr(base, name)
    if name == "VAEBase":
        from aecore.models.vae import VAEBase

        return VAEBase
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AEOutput", "Autoencoder", "VAEBase", "VARIANTS", "all_metrics", "build", "description", "get_variant",
           "metric_of", "name_of", "UnknownVariant"]
