"""A configuration dict as deterministic text (``dumps_config``) and written atomically (``write_config``)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...compiler.errors import SnncError
from ...compiler.fileio import atomic_write
from .arraytext import int_array_pieces
from .gcpause import gc_paused
from .load import check_config


@lru_cache(maxsize=1024)
def _key(key: str) -> str:
    return json.dumps(key)


def _scalar(x) -> str:
    """``json.dumps(x)`` for one value, without its machinery for the common plain types."""
    t = type(x)
    if t is int:
        return int.__repr__(x)
    if x is True:
        return "true"
    if x is False:
        return "false"
    if x is None:
        return "null"
    return json.dumps(x, allow_nan=False)


def _has_dict(x) -> bool:
    """Whether a (homogeneous) list holds objects; looks at first elements only, so big arrays cost nothing."""
    while isinstance(x, list) and x:
        x = x[0]
    return isinstance(x, dict)


def _short(x: dict) -> str | None:
    """A small dict without lists, on one line (e.g. ``{"x": 1, "y": 2}``), or None."""
    if all(type(k) is str for k in x) and sum(len(k) + 7 for k in x) > 80:
        return None  # longer than 80 even with one-character values ('"k": v', ", " after each, the braces)
    if any(isinstance(v, (list, dict, np.ndarray)) or type(k) is not str for k, v in x.items()):
        if any(isinstance(v, (list, np.ndarray)) for v in x.values()):
            return None
        text = json.dumps(x, separators=(", ", ": "), allow_nan=False)
    else:  # flat, string keys: the same text, faster
        text = "{" + ", ".join(f"{_key(k)}: {_scalar(v)}" for k, v in x.items()) + "}"
    return text if len(text) <= 80 else None


def _encode(x, depth: int, out: list) -> None:
    pad = " " * depth
    if isinstance(x, dict):
        short = _short(x)
        if short is not None:
            out.append(short)
            return
        out.append("{\n")
        items = list(x.items())
        for k, (key, value) in enumerate(items):
            out.append(f"{pad} {_key(str(key))}: ")
            _encode(value, depth + 1, out)
            out.append(",\n" if k < len(items) - 1 else "\n")
        out.append(pad + "}")
    elif isinstance(x, np.ndarray):  # build_config(..., arrays=True): the big integer arrays, as ASCII bytes
        out.extend(int_array_pieces(x))
    elif isinstance(x, list) and _has_dict(x):
        out.append("[\n")
        for k, value in enumerate(x):
            out.append(pad + " ")
            _encode(value, depth + 1, out)
            out.append(",\n" if k < len(x) - 1 else "\n")
        out.append(pad + "]")
    elif isinstance(x, list):  # arrays of numbers: one line
        out.append(_number_array(x))
    else:  # scalars
        out.append(_scalar(x))


def _number_array(x: list) -> str:
    """``json.dumps(x, separators=(",", ":"))``, in C for arrays of integers (the weights): orjson writes integers
    as json does, so its text is used when it holds nothing but digits, minus signs, commas and brackets."""
    import orjson

    try:
        text = orjson.dumps(x)
    except (TypeError, orjson.JSONEncodeError):
        text = None
    if text is not None and not text.translate(None, b"0123456789-,[]"):
        return text.decode("ascii")
    return json.dumps(x, separators=(",", ":"), allow_nan=False)


def dumps_config(config: dict) -> str:
    """The text of a configuration: keys in the dict's order, arrays of numbers on one line, ending in a newline.

    The same dict always gives the same text, and ``dumps_config(load_config(text_file))`` gives the file back.
    """
    return _dumps_bytes(config).decode("utf-8")


def _dumps_bytes(config: dict) -> bytes:
    """:func:`dumps_config`'s text as UTF-8 bytes (ASCII: JSON escapes the rest), joined once."""
    out: list = []
    try:
        _encode(config, 0, out)
    except (TypeError, ValueError) as e:
        raise SnncError(f"configuration holds a value JSON cannot store: {e}") from None
    chunks, run = [], []
    for piece in out:  # text pieces; numpy arrays come as bytes
        if type(piece) is str:
            run.append(piece)
        else:
            if run:
                chunks.append("".join(run).encode("utf-8"))
                run = []
            chunks.append(piece)
    run.append("\n")
    chunks.append("".join(run).encode("utf-8"))
    return b"".join(chunks)


@gc_paused
def write_config(config: dict, path: str | Path) -> Path:
    """Check ``config`` (as :func:`load_config` does), then write it atomically: nothing half-written on failure.

    The cores' weights, biases and initial states may be lists or integer numpy arrays (``build_config(...,
    arrays=True)``); both are checked alike and give the same text."""
    check_config(config, arrays=True)
    return atomic_write(path, _dumps_bytes(config))


@gc_paused
def build_and_write_config(result, path: str | Path, lists: bool = True) -> dict:
    """``build_config(result)`` written with :func:`write_config` (every check); returns the dict.

    The configuration is built with its big integer arrays as numpy arrays, checked and written from them; the
    returned dict then holds lists as :func:`build_config`'s does, or with ``lists=False`` keeps the arrays (what
    ``snnc compile`` does when it needs no dict afterwards: it saves turning ~10^5 numbers into Python ints)."""
    from .build import build_config

    config = build_config(result, arrays=True)
    write_config(config, path)
    if lists:
        for layer in config["cnn_layers"]:
            for key, value in layer.items():
                if isinstance(value, np.ndarray):
                    layer[key] = value.tolist()
    return config
