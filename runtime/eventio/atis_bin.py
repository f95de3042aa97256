"""N-MNIST / N-Caltech101 / ATIS ``.bin`` files (Orchard et al. 2015, the data sets' own format).

Each event is a 40-bit big-endian record of five bytes:

* byte 0: x; byte 1: y (both from 0);
* byte 2 bit 7: polarity (1 = ON, 0 = OFF);
* bits 22..0 of bytes 2-4: the time stamp in microseconds.

A record with ``y == 240`` is not an event but a time-stamp overflow marker: every later time stamp is
increased by 2^13 µs, as the data sets' authors' reader does.  The files do not record the sensor size (N-MNIST:
34x34; the ATIS: 304x240).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from snnc.compiler.errors import SnncError

RECORD_BYTES = 5
OVERFLOW_Y = 240
OVERFLOW_US = 1 << 13
TS_BITS = 23


def decode_atis_bin(raw: bytes | np.ndarray, what: str) -> np.ndarray:
    """Decode the bytes of an ATIS ``.bin`` file into an event array (x, y, t, p)."""
    from .layout import make_events

    buf = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw
    if buf.size % RECORD_BYTES:
        whole = buf.size // RECORD_BYTES
        raise SnncError(f"{what}: truncated N-MNIST/ATIS .bin file: {buf.size} bytes is {whole} whole 5-byte "
                        f"records and {buf.size % RECORD_BYTES} byte(s) more; the file was cut short (copy it again)")
    rec = buf.reshape(-1, RECORD_BYTES).astype(np.int64)
    ts = ((rec[:, 2] & 0x7F) << 16) | (rec[:, 3] << 8) | rec[:, 4]
    overflow = rec[:, 1] == OVERFLOW_Y
    ts = ts + OVERFLOW_US * np.cumsum(overflow)
    keep = ~overflow
    return make_events(rec[keep, 0], rec[keep, 1], ts[keep], rec[keep, 2] >> 7)


def read_atis_bin(path: Path) -> np.ndarray:
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise SnncError(f"{path}: cannot read ({e.strerror or e})") from None
    return decode_atis_bin(raw, str(path))


def encode_atis_bin(events, what: str = "events") -> bytes:
    """The ``.bin`` bytes of an event array: x, y < 256 (y != 240), p in 0/1, sorted times >= 0.  Times beyond
    the 23-bit field get overflow markers, so that :func:`decode_atis_bin` gives the same events back."""
    ev = np.asarray(events)
    x, y, t, p = (ev[f].astype(np.int64) for f in ("x", "y", "t", "p"))
    if ev.size:
        if x.min() < 0 or x.max() > 255 or y.min() < 0 or y.max() > 255 or np.any(y == OVERFLOW_Y):
            raise SnncError(f"{what}: the .bin format holds x and y in 0..255 (y = 240 is reserved); save as .npy")
        if p.min() < 0 or p.max() > 1:
            raise SnncError(f"{what}: the .bin format holds polarities 0/1 only; save as .npy")
        if t.min() < 0 or np.any(np.diff(t) < 0):
            raise SnncError(f"{what}: the .bin format needs sorted times >= 0")
    # overflow markers needed before each event so that its remainder fits 23 bits (never decreasing)
    need = np.maximum(0, -(-(t - ((1 << TS_BITS) - 1)) // OVERFLOW_US))
    need = np.maximum.accumulate(need) if need.size else need
    n_markers = np.diff(np.concatenate([[0], need])) if need.size else need
    low = t - need * OVERFLOW_US
    out = np.zeros((int(len(t) + n_markers.sum()), RECORD_BYTES), np.uint8)
    pos = np.arange(len(t)) + np.cumsum(n_markers)  # where each event's record goes
    out[pos, 0] = x
    out[pos, 1] = y
    out[pos, 2] = (p << 7) | ((low >> 16) & 0x7F)
    out[pos, 3] = (low >> 8) & 0xFF
    out[pos, 4] = low & 0xFF
    marker_rows = np.setdiff1d(np.arange(len(out)), pos)
    out[marker_rows, 1] = OVERFLOW_Y
    return out.tobytes()
