"""Writing files so that a failure never leaves a partial one: a temporary file in the same folder, then a rename.

Every command that writes (compile, simulate, report, train, the encoders) goes through here.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import SnncError


def _folder(path: Path) -> Path:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SnncError(f"cannot write {path}: folder {folder} does not exist; create it or choose another path")
    if path.is_dir():
        raise SnncError(f"cannot write {path}: it is a folder; give a file name")
    return folder


@contextmanager
def atomic_open(path, mode: str = "wb"):
    """``with atomic_open("out.npz") as f: np.savez(f, ...)`` -- ``path`` appears only if the block succeeds."""
    path = Path(path)
    folder = _folder(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise SnncError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; give it the permissions a plain open would
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise SnncError(f"cannot write {path}: {e.strerror or e}") from None
        raise


def atomic_write(path, data: bytes | str) -> Path:
    """Write ``data`` (bytes or text) to ``path`` atomically."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as fh:
        fh.write(data)
    return Path(path)
