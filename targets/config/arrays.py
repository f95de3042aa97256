"""The integer arrays of a configuration that is being built, checked and written in one go (``snnc compile``).

Inside :func:`array_memo`, ``build_config`` records each big array list (weights, biases, initial states) with the
numpy array it was made from; the checks (``load.py``) then read that array instead of converting the list back, and
the writer (``text.py``) writes the array's JSON with orjson, without a Python step per element.  An entry is used
only for the very list object it was made for (a list put in its place is checked and written from itself), and the
memo ends with the block, so nothing outlives one compile; the lists must not be edited in place inside the block
(``build_and_write_config`` gives no chance to).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

_MEMO: ContextVar[dict | None] = ContextVar("snnc_config_arrays", default=None)


@contextmanager
def array_memo():
    """Remember arrays inside the block (a block inside another one shares the outer memo)."""
    if _MEMO.get() is not None:
        yield
        return
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def remember(lst: list, array=None, text: bytes | None = None) -> None:
    """Record that ``lst`` holds ``array`` (a C-contiguous int64 numpy array) and/or has the JSON ``text``."""
    memo = _MEMO.get()
    if memo is not None:
        memo[id(lst)] = [lst, array, text]


def _entry(lst):
    memo = _MEMO.get()
    entry = None if memo is None else memo.get(id(lst))
    return entry if entry is not None and entry[0] is lst else None


def known_array(lst):
    """The int64 numpy array ``lst`` was made from, or None."""
    entry = _entry(lst)
    return None if entry is None else entry[1]


def known_text(lst) -> bytes | None:
    """The JSON text of ``lst`` (``[[1,2],[3,4]]``, as json writes integers), or None."""
    entry = _entry(lst)
    if entry is None:
        return None
    if entry[2] is None and entry[1] is not None:
        import orjson

        entry[2] = orjson.dumps(entry[1], option=orjson.OPT_SERIALIZE_NUMPY)
    return entry[2]
