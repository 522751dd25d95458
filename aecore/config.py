"""Plain dataclass configs whose field metadata (range, choices, help) drive validation and the UI.

A field's metadata may hold ``min``, ``max``, ``choices``, ``help`` and ``log`` (log-scale slider).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from aecore.errors import UserError


class ConfigError(UserError, ValueError):
    """A hyperparameter out of range, or an unknown field, in words a user can act on."""


def param(default: Any, help: str, *, min: float | None = None, max: float | None = None,
          choices: tuple | None = None, log: bool = False) -> Any:
    """A dataclass field carrying the bounds the UI and ``validate`` enforce."""
    meta = {"help": help, "min": min, "max": max, "choices": choices, "log": log}
    return dataclasses.field(default=default, metadata=meta)


def field_specs(config_cls) -> list[dict]:
    """Each field as a dict (name, type, default, help, min, max, choices, log) for widget builders."""
    specs = []
    for f in dataclasses.fields(config_cls):
        spec = {"name": f.name, "type": type(f.default).__name__, "default": f.default}
        spec.update({k: f.metadata.get(k) for k in ("help", "min", "max", "choices", "log")})
        specs.append(spec)
    return specs


def _problem(name: str, value: Any, kind: type, meta) -> str | None:
    """Why ``value`` is not allowed for a field (one line), or None."""
    if kind is bool:
        return None if isinstance(value, bool) else f"{name} must be true or false, got {value!r}"
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{name} must be a number, got {value!r}"
        if kind is int and int(value) != value:
            return f"{name} must be a whole number, got {value!r}"
        if not math.isfinite(value):
            return f"{name} must be finite, got {value!r}"
        lo, hi = meta.get("min"), meta.get("max")
        if lo is not None and value < lo or hi is not None and value > hi:
            allowed = (f"{lo:g} to {hi:g}" if lo is not None and hi is not None
                       else f"at least {lo:g}" if lo is not None else f"at most {hi:g}")
            return f"{name} = {value:g} is out of range: allowed {allowed}"
    choices = meta.get("choices")
    if choices and value not in choices:
        return f"{name} = {value!r} is not one of {', '.join(map(str, choices))}"
    return None


def field_problem(spec: dict, value: Any) -> str | None:
    """Why a value typed into the widget of a field (a :func:`field_specs` entry) is refused, or None."""
    kind = {"bool": bool, "int": int, "float": float}.get(spec["type"], str)
    return _problem(spec["name"], value, kind, spec)


def validate(config) -> None:
    """Raise ConfigError naming the first field that is out of its allowed range."""
    for f in dataclasses.fields(config):
        problem = _problem(f.name, getattr(config, f.name), type(f.default), f.metadata)
        if problem:
            raise ConfigError(problem)


def from_dict(config_cls, values: dict | None):
    """Build and validate a config, ignoring None values; unknown keys are an error."""
    values = {k: v for k, v in (values or {}).items() if v is not None}
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown setting(s) for {config_cls.__name__}: {', '.join(unknown)}")
    casted = {}
    for f in dataclasses.fields(config_cls):
        if f.name in values:
            v = values[f.name]
            kind = type(f.default)
            if kind is int and isinstance(v, float) and v.is_integer():
                v = int(v)
            elif kind is float and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            casted[f.name] = v
    config = config_cls(**casted)
    validate(config)
    return config


def to_dict(config) -> dict:
    return dataclasses.asdict(config)
