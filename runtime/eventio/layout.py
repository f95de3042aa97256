"""The event layout every reader returns and every part of snnc uses: a numpy structured array with the fields
``x``, ``y``, ``t`` (microseconds) and ``p`` -- tonic's layout (re-exported by :mod:`snnc.runtime.events`)."""
from __future__ import annotations

import numpy as np

from snnc.compiler.errors import SnncError

#: The canonical event layout (field order as tonic writes it: x, y, t, p).
EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])


def make_events(x, y, t, p) -> np.ndarray:
    """Build an event array of :data:`EVENT_DTYPE` from four equally long sequences (no sorting, no checks)."""
    x, y, t, p = (np.asarray(a).ravel() for a in (x, y, t, p))
    n = len(x)
    if not (len(y) == len(t) == len(p) == n):
        raise SnncError(f"make_events: x, y, t, p must have the same length (got {n}, {len(y)}, {len(t)}, {len(p)})")
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
    return ev
