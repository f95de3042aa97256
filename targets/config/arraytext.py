"""The JSON text of an integer numpy array, made with numpy (no Python step per element): the configuration's
weights, biases and initial states, which are most of its bytes.

The text is exactly ``json.dumps(a.tolist(), separators=(",", ":"))``: each element's digits, then the separator
that follows it, which only depends on its position (``,`` inside a row, ``],[`` between rows, ``]],[[`` between
planes ...).  Each element gets a fixed-width slot -- its digits right-aligned after spaces (from a table of the
array's value range), then one byte for its separator -- the spaces are deleted in one C pass and the row and plane
separators put in with ``bytes.replace``.  Arrays holding one value throughout (the initial states, mostly zeros)
are joined from one row's text.
"""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

_WORD = (1, 1, 2, 4, 4, 8, 8, 8, 8)  # bytes of the unsigned word that holds n characters (n = 0..8)
_SPACE = 32


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """``(len(values), width)`` uint8: each value's decimal text right-aligned, spaces before it."""
    mag = np.abs(values)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    out = ((mag[:, None] // powers) % 10 + ord("0")).astype(np.uint8)
    lead = mag[:, None] < powers  # leading zeros become spaces; the ones digit always stays
    lead[:, -1] = False
    out[lead] = _SPACE
    rows = np.flatnonzero(values < 0)
    if rows.size:
        n_digits = np.maximum((mag[rows, None] >= powers).sum(axis=1), 1)
        out[rows, width - 1 - n_digits] = ord("-")
    return out


@lru_cache(maxsize=64)
def _table(lo: int, hi: int, width: int, value_bytes: int) -> np.ndarray:
    """The texts of lo..hi (digits right-aligned after spaces) as words of ``value_bytes``; when lo <= 0 <= hi
    rotated so that the word of value v is at index v (negative v counted from the end, as numpy indexes)."""
    table = np.full((hi - lo + 1, value_bytes), _SPACE, np.uint8)
    table[:, value_bytes - width:] = _digits(np.arange(lo, hi + 1, dtype=np.int64), width)
    words = table.view(f"<u{value_bytes}").reshape(-1)
    words = np.roll(words, lo) if lo <= 0 <= hi else words
    words.flags.writeable = False
    return words


def _constant(shape: tuple, value: int) -> bytes:
    text = str(value).encode("ascii")
    for n in reversed(shape):
        text = b"[" + b",".join([text] * n) + b"]"
    return text


def _plain(a: np.ndarray) -> list[bytes]:
    return [json.dumps(a.tolist(), separators=(",", ":")).encode("ascii")]


def int_array_pieces(a: np.ndarray) -> list[bytes]:
    """The JSON text of an integer array (``json.dumps(a.tolist(), separators=(",", ":"))``) as ASCII pieces to
    be joined, made with numpy."""
    if a.dtype.kind not in "iu":
        raise TypeError(f"an array of {a.dtype} is not an integer array")
    if a.size == 0 or a.ndim == 0:
        return _plain(a)
    flat = a.reshape(-1)
    lo, hi = int(flat.min()), int(flat.max())
    if lo == hi:
        return [_constant(a.shape, lo)]
    width = max(len(str(lo)), len(str(hi)))
    d = a.ndim
    if width > 8 or d > 32:  # beyond any chip field: the plain way
        return _plain(a)
    value_bytes = _WORD[width]
    slot = np.dtype([("value", f"<u{value_bytes}"), ("sep", "u1")])
    slots = np.empty(flat.size, slot)
    slots.view(np.uint8)[...] = ord(",")  # the separator bytes, for now all commas (one contiguous fill)
    if hi - lo < flat.size:  # few distinct values: a table of their texts, one row per value in lo..hi
        words = _table(lo, hi, width, value_bytes)
        if lo <= 0 <= hi:  # index by the values themselves: numpy counts negative ones from the end
            slots["value"] = words[flat]
        else:
            slots["value"] = words[flat.astype(np.int64) - lo]
    else:
        text = np.full((flat.size, value_bytes), _SPACE, np.uint8)
        text[:, value_bytes - width:] = _digits(flat.astype(np.int64), width)
        slots["value"] = text.view(f"<u{value_bytes}").reshape(-1)
    # one separator byte per element, set by position through a view of the field in the array's shape: a comma,
    # or byte k (a control character, in no number) where k brackets close and reopen, replaced below
    strides = tuple(slot.itemsize * int(np.prod(a.shape[i + 1:])) for i in range(d))
    seps = np.lib.stride_tricks.as_strided(slots["sep"], shape=a.shape, strides=strides, writeable=True)
    for k in range(1, d):  # the last element along the k innermost axes closes (and reopens) k brackets
        seps[(Ellipsis,) + (-1,) * k] = k
    seps[(-1,) * d] = _SPACE  # nothing after the very last element
    text = slots.tobytes().translate(None, b" ")
    for k in range(1, d):
        text = text.replace(bytes([k]), b"]" * k + b"," + b"[" * k)
    return [b"[" * d, text, b"]" * d]


def int_array_text(a: np.ndarray) -> str:
    """``json.dumps(a.tolist(), separators=(",", ":"))`` for an integer array, made with numpy."""
    return b"".join(int_array_pieces(a)).decode("ascii")
