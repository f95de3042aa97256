"""Event files: readers chosen by the file's content, all returning the structured ``x, y, t, p`` array.

Formats (:func:`detect_format` looks at the first bytes, the extension only breaks ties):

* ``npy`` / ``npz`` -- a numpy structured array (tonic's layout), in an ``.npz`` under ``events``;
* ``atis-bin`` -- N-MNIST / N-Caltech101 / ATIS ``.bin`` files: 40-bit records (:mod:`.atis_bin`);
* ``aedat4`` -- AEDAT 4.0 recordings from iniVation cameras (:mod:`.aedat4`).

:func:`read_recording` returns an :class:`EventRecording`: the events (not yet checked against any model input;
:func:`snnc.runtime.events.load_events` does that), the sensor size when the file records it, and the format.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnc.compiler.errors import SnncError

#: Extensions of the event files snnc reads (data-set folders are scanned for these).
EVENT_SUFFIXES = (".npy", ".npz", ".bin", ".aedat4")

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_AEDAT_MAGIC = b"#!AER-DAT"


@dataclass
class EventRecording:
    """Events read from a file.  ``sensor_size`` is ``(width, height)`` when the file records it, else None."""

    events: np.ndarray
    sensor_size: tuple[int, int] | None
    format: str
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.events)

    def __array__(self, dtype=None, copy=None):
        return self.events if dtype is None else self.events.astype(dtype)

    @property
    def span(self) -> tuple[int, int]:
        """``(width, height)`` the events cover: largest x and y + 1 (0, 0 when empty)."""
        ev = self.events
        if not len(ev):
            return (0, 0)
        return (int(ev["x"].max()) + 1, int(ev["y"].max()) + 1)


def detect_format(path: str | Path) -> str:
    """The format of an event file from its first bytes: ``npy``, ``npz``, ``aedat4`` or ``atis-bin``."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise SnncError(f"{path}: cannot read ({e.strerror or e})") from None
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith(_ZIP_MAGIC):
        return "npz"
    if head.startswith(_AEDAT_MAGIC):
        if head.startswith(b"#!AER-DAT4"):
            return "aedat4"
        version = head[len(_AEDAT_MAGIC):].split(b"\r")[0].split(b"\n")[0].decode("ascii", "replace")
        raise SnncError(f"{path}: an AEDAT {version} file; snnc reads AEDAT 4 (.aedat4) only: convert it with "
                        "iniVation's DV software (or tonic) to AEDAT 4 or to .npy")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return "npy"  # the .npy reader says what is wrong with it
    if suffix == ".npz":
        return "npz"
    if suffix == ".aedat4":
        raise SnncError(f"{path}: not an AEDAT 4 file (it does not start with '#!AER-DAT4.0'); the file is "
                        "damaged or mislabelled")
    if suffix == ".bin" or _looks_like_atis(path):
        return "atis-bin"
    raise SnncError(f"{path}: unknown event file format; snnc reads .npy/.npz structured arrays (x, y, t, p), "
                    "N-MNIST/ATIS .bin and AEDAT 4 (.aedat4) files")


def _looks_like_atis(path: Path) -> bool:
    """A file of whole 5-byte records whose time stamps (bits 22..0 of bytes 2-4) never decrease."""
    size = path.stat().st_size
    if size == 0 or size % 5:
        return False
    raw = np.fromfile(path, dtype=np.uint8, count=min(size, 5 * 4096)).reshape(-1, 5).astype(np.int64)
    ts = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    ts = ts[raw[:, 1] != 240]
    return bool(ts.size) and bool(np.all(np.diff(ts) >= 0))


def read_recording(path: str | Path) -> EventRecording:
    """Read an event file of any supported format (found by its content); raises :class:`SnncError` with one line
    naming the file and the problem (missing, truncated, corrupt, unknown format)."""
    path = Path(path)
    if not path.exists():
        raise SnncError(f"{path}: no such events file")
    if path.is_dir():
        raise SnncError(f"{path}: is a folder, not an events file (data-set folders go to `snnc evaluate --dataset`)")
    from snnc.compiler.fileio import check_input

    check_input(path, "events")  # a FIFO would block, /dev/zero would never end
    fmt = detect_format(path)
    if fmt in ("npy", "npz"):
        from .npy import read_npy

        ev = read_npy(path, fmt)
        return EventRecording(ev, None, fmt, path)
    if fmt == "atis-bin":
        from .atis_bin import read_atis_bin

        ev = read_atis_bin(path)
        return EventRecording(ev, None, fmt, path)
    from .aedat4 import read_aedat4

    ev, size = read_aedat4(path)
    return EventRecording(ev, size, fmt, path)


def write_events(path: str | Path, events: np.ndarray) -> None:
    """Write events atomically in the format the extension names: ``.bin`` (N-MNIST/ATIS records) or ``.npy``."""
    from snnc.compiler.fileio import atomic_open

    path = Path(path)
    if path.suffix.lower() == ".bin":
        from .atis_bin import encode_atis_bin

        data = encode_atis_bin(events, what=str(path))
        with atomic_open(path) as f:
            f.write(data)
        return
    if path.suffix.lower() not in (".npy", ""):
        raise SnncError(f"{path}: snnc writes events as .npy or .bin; use one of these extensions")
    with atomic_open(path) as f:
        np.save(f, np.asarray(events))
