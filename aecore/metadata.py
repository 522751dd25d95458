"""A checkpoint's aecore metadata, parsed with bounds and every field checked and typed.

Visitors upload checkpoints into the folder every page lists, so the metadata is hostile input. The JSON is
parsed only after its size, nesting and number lengths are bounded (nothing escapes but CheckpointError);
then each known field is checked against its type and range and rebuilt. Unknown fields, at the top and in
``train_config`` and ``history``, are dropped: a newer aecore may add some, and nothing reads them. A known
field with a bad value refuses the file. Strings are plain text (bounded, no control characters); the app
shows them as text, never as Markdown or HTML.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata

from aecore.errors import UserError

MAX_HEADER = 1024 * 1024  # bytes of a safetensors header: aecore's is a few kB plus the training history
MAX_META = MAX_HEADER // 2  # what the writer allows its JSON: it is escaped once more inside the header
MAX_DEPTH = 8  # an aecore header nests 5 deep (metadata, history, epochs, an epoch, its loss terms)
MAX_DIGITS = 20  # no aecore integer is longer; Python refuses to parse ones over 4,300 digits
MAX_NUMBER = 1e15
MAX_TEXT = 1000  # a data source names a folder
MAX_TERMS = 64  # metrics, loss terms
MAX_EPOCHS = 1000  # TrainConfig allows as many
MAX_STEPS = 20_000  # jobs report ~1,000 steps; the writer thins longer histories to fit MAX_META
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")  # metric, loss term and setting names
PLAIN = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,59}")  # a word with no Markdown or HTML meaning
STAMP = re.compile(r"[0-9][0-9T:Z.+-]{0,39}")  # when it was written: 2026-01-31T12:00:00Z
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


class CheckpointError(UserError, ValueError):
    """A file that is not a valid aecore checkpoint; the message is one line saying why."""


class _Refused(Exception):
    pass


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _Refused(f"a number {len(text):,} digits long")
    return int(text)


def depth(text: str) -> int:
    """How deep ``text``'s JSON arrays and objects nest, counted without parsing (stops past MAX_DEPTH)."""
    level = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        level += 1 if bracket in "[{" else -1
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
    return deepest


def parse(raw, what: str) -> dict:
    """A JSON object of at most MAX_HEADER bytes and MAX_DEPTH levels; NaN and ±Infinity read as null."""
    if not isinstance(raw, (bytes, str)):
        raise CheckpointError(f"{what} is not valid JSON")
    if len(raw) > MAX_HEADER:
        raise CheckpointError(f"{what} is {len(raw) / 1e6:.1f} MB, far more than an aecore checkpoint's "
                              f"(at most {MAX_HEADER / 1e6:.0f} MB)")
    try:
        source = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise CheckpointError(f"{what} is not valid JSON") from None
    if depth(source) > MAX_DEPTH:
        raise CheckpointError(f"{what} nests deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(source, parse_int=_int, parse_constant=lambda _: None)
    except _Refused as e:
        raise CheckpointError(f"{what} holds {e}") from None
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError; the depth bound makes recursion rare
        raise CheckpointError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{what} is not a JSON object")
    return value


def shown(value) -> str:
    """``value`` for an error message: quoted when it is a plain word, else only its kind, so that a message
    never repeats a file's text that would mean something as Markdown or HTML (a link, a tag)."""
    if isinstance(value, str):
        return repr(value) if PLAIN.fullmatch(value) else f"a {len(value):,}-character text"
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)[:24]
    return f"a JSON {'list' if isinstance(value, list) else 'object'}"


# -- fields ----------------------------------------------------------------------------------------

def _bad(what: str, why: str) -> CheckpointError:
    return CheckpointError(f"aecore metadata has a bad {what!r}: {why}")


def word(value, what: str, pattern: re.Pattern = PLAIN) -> str:
    """A setting's value, a name or a version: a plain word (``pattern``)."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _bad(what, "not a plain word")
    return value


def text(value, what: str, limit: int = MAX_TEXT) -> str:
    """Free text (a data source): bounded, without control characters."""
    if not isinstance(value, str):
        raise _bad(what, "not text")
    if len(value) > limit:
        raise _bad(what, f"longer than {limit} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in value):
        raise _bad(what, "control characters")
    return value


def number(value, what: str, lo: float = -MAX_NUMBER, hi: float = MAX_NUMBER) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(what, "not a number")
    if not (math.isfinite(value) and lo <= value <= hi):
        raise _bad(what, f"out of range {lo:g} to {hi:g}")
    return value


def whole(value, what: str, lo: int = 0, hi: float = MAX_NUMBER) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(what, "not a whole number")
    return int(number(value, what, lo, hi))


def table(value, what: str, bools: bool = False, limit: int = MAX_TERMS) -> dict:
    """A flat {name: number} (``bools``: or true/false); a null value (a NaN when written) is dropped."""
    if not isinstance(value, dict):
        raise _bad(what, "not an object")
    if len(value) > limit:
        raise _bad(what, f"more than {limit} entries")
    out = {}
    for key, v in value.items():
        if not NAME.fullmatch(key):
            raise _bad(what, f"a name that is not a plain word ({shown(key)})")
        if v is None:
            continue
        out[key] = v if bools and isinstance(v, bool) else number(v, f"{what} {key}")
    return out


def _listing(value, what: str, limit: int) -> list:
    if not isinstance(value, list):
        raise _bad(what, "not a list")
    if len(value) > limit:
        raise _bad(what, f"more than {limit:,} entries")
    return value


def _epoch(e, i: int) -> dict:
    what = f"history epoch {i + 1}"
    if not isinstance(e, dict):
        raise _bad(what, "not an object")
    out = {k: whole(e[k], f"{what} {k}") for k in ("epoch", "step") if k in e}
    out.update({k: number(e[k], f"{what} {k}", 0) for k in ("lr", "seconds") if e.get(k) is not None})
    out.update({k: table(e[k], f"{what} {k}") for k in ("train", "val") if k in e})
    return out


def history(value) -> dict:
    if not isinstance(value, dict):
        raise _bad("history", "not an object")
    out: dict = {}
    if "epochs" in value:
        out["epochs"] = [_epoch(e, i) for i, e in enumerate(_listing(value["epochs"], "history epochs", MAX_EPOCHS))]
    if "steps" in value:
        steps = _listing(value["steps"], "history steps", MAX_STEPS)
        out["steps"] = [{**table(s, "history step"), "step": whole(s.get("step"), "history step")} for s in steps]
    for key, check in (("train_size", whole), ("train_source", text), ("precision", word)):
        if key in value:
            out[key] = check(value[key], f"history {key}")
    if "out_of_time" in value:
        out["out_of_time"] = value["out_of_time"] is True
    return out


def train_config(value) -> dict:
    """The known TrainConfig settings, each checked as the Train page checks it (type, range, choices)."""
    from aecore.config import field_problem, field_specs
    from aecore.training import TrainConfig

    if not isinstance(value, dict):
        raise _bad("train_config", "not an object")
    out = {}
    for spec in field_specs(TrainConfig):
        v = value.get(spec["name"])
        if v is None:
            continue
        if spec["type"] == "int" and isinstance(v, float) and v.is_integer():
            v = int(v)
        if spec["type"] == "str":
            v = word(v, f"train_config {spec['name']}")
        problem = field_problem(spec, v)
        if problem:
            raise CheckpointError(f"aecore metadata has a bad train_config: {problem[:120]}")
        out[spec["name"]] = v
    return out


def model_config(value, variant: str) -> dict:
    """The variant's settings: plain values that the variant's config accepts (an older checkpoint's retired
    settings are kept, and ignored when the model is built)."""
    from aecore.config import ConfigError, from_dict
    from aecore.models import get_variant

    if not isinstance(value, dict):
        raise CheckpointError("aecore metadata lacks the format tag or the config")
    if len(value) > MAX_TERMS:
        raise _bad("config", f"more than {MAX_TERMS} settings")
    out = {}
    for key, v in value.items():
        if not NAME.fullmatch(key):
            raise _bad("config", f"a setting name that is not a plain word ({shown(key)})")
        out[key] = v if v is None or isinstance(v, bool) else word(v, f"config {key}") if isinstance(v, str) \
            else number(v, f"config {key}")
    cls = get_variant(variant)
    try:
        from_dict(cls.config_class, {k: v for k, v in out.items() if k not in cls.retired_settings})
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"bad checkpoint settings: {str(e)[:160]}") from None
    return out
