"""``.npy`` / ``.npz`` event files: a numpy structured array (fields x, y, t, p; tonic's layout), in an ``.npz``
under the name ``events``.  No pickles are loaded."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from snnc.compiler.errors import SnncError


def read_npy(path: Path, fmt: str) -> np.ndarray:
    """The array stored in ``path`` (fields are checked later, by ``load_events``).  The header is checked against
    the data in the file before numpy allocates what it declares."""
    try:
        if fmt == "npz":
            with np.load(path, allow_pickle=False) as z:
                if "events" not in z:
                    raise SnncError(f"{path}: .npz has no 'events' array (has {', '.join(z.files) or 'nothing'})")
                _check_npy_header(path, "events.npy")
                return z["events"]
        _check_npy_header(path)
        return np.load(path, allow_pickle=False)
    except SnncError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, MemoryError, OverflowError, TypeError,
            RecursionError, SyntaxError, KeyError) as e:
        kind = ".npz" if fmt == "npz" else ".npy"
        raise SnncError(f"{path}: not a readable {kind} event file ({str(e).splitlines()[0] or type(e).__name__}); "
                        "save the events with numpy.save as a structured array with fields x, y, t, p") from None


def _check_npy_header(path: Path, member: str | None = None) -> None:
    """Read a .npy header (of the file, or of ``member`` of an .npz) and check that the data it declares is there,
    before numpy allocates it (a 300-byte file may claim terabytes)."""
    import ast
    import zipfile

    fmt = np.lib.format
    if member is not None:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(member)
            if info.compress_type != zipfile.ZIP_STORED and info.file_size > 1000 * max(info.compress_size, 1):
                raise SnncError(f"{path}: {member} inflates {info.file_size // max(info.compress_size, 1)}-fold; "
                                "not an event file written by numpy.savez")
            with z.open(member) as f:
                return _check_header(path, f, info.file_size, fmt, ast)
    with open(path, "rb") as f:
        return _check_header(path, f, path.stat().st_size, fmt, ast)


def _check_header(path, f, size: int, fmt, ast) -> None:
    try:
        version = fmt.read_magic(f)
    except ValueError:
        f.seek(0)
        if f.read(4) == b"PK\x03\x04":
            raise SnncError(f"{path}: is a zip archive (.npz?); name it .npz with the events under 'events', "
                            "or save one array with numpy.save") from None
        raise
    header = f.read(4 if version[0] >= 2 else 2)
    n = int.from_bytes(header, "little")
    if n > 100_000:
        raise SnncError(f"{path}: its .npy header claims {n} bytes; not an event file written by numpy.save")
    text = f.read(n)
    start = f.tell()
    try:
        d = ast.literal_eval(text.decode("latin-1"))
        shape, descr = d["shape"], d["descr"]
        dtype = np.dtype(np.lib.format.descr_to_dtype(descr))
    except Exception:  # noqa: BLE001 - numpy will say what is wrong with the header itself
        return
    if dtype.hasobject:
        raise SnncError(f"{path}: holds Python objects (dtype {dtype}), which snnc does not unpickle; save a "
                        "structured array with integer fields x, y, t, p")
    if not isinstance(shape, tuple) or not all(isinstance(v, int) and v >= 0 for v in shape):
        raise SnncError(f"{path}: its .npy header declares shape {shape!r}; not an event file")
    count = 1
    for v in shape:
        count *= v
    need = count * dtype.itemsize
    have = size - start
    if need > have:
        raise SnncError(f"{path}: its header declares {count:,} entries ({need:,} bytes) but the file holds "
                        f"{max(have, 0):,} bytes of data; the file is truncated or damaged")
