"""A configuration dict as deterministic text (``dumps_config``) and written atomically (``write_config``)."""
from __future__ import annotations

import json
from pathlib import Path

from ...compiler.errors import SnncError
from ...compiler.fileio import atomic_write
from .gcpause import gc_paused
from .load import load_config


def _has_dict(x) -> bool:
    """Whether a (homogeneous) list holds objects; looks at first elements only, so big arrays cost nothing."""
    while isinstance(x, list) and x:
        x = x[0]
    return isinstance(x, dict)


def _short(x: dict) -> str | None:
    """A small dict without lists, on one line (e.g. ``{"x": 1, "y": 2}``), or None."""
    if any(isinstance(v, list) for v in x.values()):
        return None
    text = json.dumps(x, separators=(", ", ": "), allow_nan=False)
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
            out.append(f"{pad} {json.dumps(str(key))}: ")
            _encode(value, depth + 1, out)
            out.append(",\n" if k < len(items) - 1 else "\n")
        out.append(pad + "}")
    elif isinstance(x, list) and _has_dict(x):
        out.append("[\n")
        for k, value in enumerate(x):
            out.append(pad + " ")
            _encode(value, depth + 1, out)
            out.append(",\n" if k < len(x) - 1 else "\n")
        out.append(pad + "]")
    else:  # scalars and arrays of numbers: one line
        out.append(json.dumps(x, separators=(",", ":"), allow_nan=False))


def dumps_config(config: dict) -> str:
    """The text of a configuration: keys in the dict's order, arrays of numbers on one line, ending in a newline.

    The same dict always gives the same text, and ``dumps_config(load_config(text_file))`` gives the file back.
    """
    out: list = []
    try:
        _encode(config, 0, out)
    except (TypeError, ValueError) as e:
        raise SnncError(f"configuration holds a value JSON cannot store: {e}") from None
    return "".join(out) + "\n"


@gc_paused
def write_config(config: dict, path: str | Path) -> Path:
    """Check ``config`` (as :func:`load_config` does), then write it atomically: nothing half-written on failure."""
    load_config(config)
    text = dumps_config(config)
    return atomic_write(path, text.encode("utf-8"))
