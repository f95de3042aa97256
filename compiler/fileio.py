"""Writing files so that a failure never leaves a partial one: a temporary file in the same folder, then a rename.

Every command that writes (compile, simulate, report, train, the encoders) goes through here.
"""
from __future__ import annotations

import os
import stat
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


def _same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same file (after links), as far as the file system can tell."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return False


def check_input(path, what: str = "input") -> Path:
    """Refuse, with one line, an input path that is missing, a folder, a loop of links, or not a regular file (a
    FIFO would block forever, /dev/zero would never end); return it as a ``Path``."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise SnncError(f"{p}: no such file; check the path") from None
    except OSError as e:
        raise SnncError(f"{p}: cannot open this {what} file ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise SnncError(f"{p}: is a folder; give the {what} file itself")
    if not stat.S_ISREG(st.st_mode):
        raise SnncError(f"{p}: is not a regular file (a device, pipe or socket); give the {what} file itself")
    return p


def check_output(path, flag: str = "-o", inputs: dict | None = None, probe: bool = False) -> Path:
    """Refuse an output path before any work is done; return it as a ``Path``.

    Every command that writes calls this first, so they all behave alike (exit 2, one line):

    * the folder must already exist: snnc never creates folders the user did not ask for;
    * the path must not be a folder, nor one of the command's own inputs (``inputs``: ``{"flag or role": path}``),
      compared after resolving links: writing would destroy the input;
    * ``probe=True`` (for long jobs such as training) also makes sure the folder is writable, by creating and
      removing a temporary file there, so that the failure comes before hours of work, not after.
    """
    if path is None or str(path) == "":
        raise SnncError(f"{flag}: give a file name to write")
    out = Path(path)
    if "\x00" in str(path):
        raise SnncError(f"{flag} {path!r}: a file name cannot hold a NUL character")
    try:
        folder = out.parent if str(out.parent) else Path(".")
        if not folder.is_dir():
            raise SnncError(f"{flag} {out}: folder {folder} does not exist; create it first or choose another "
                            "path (snnc does not create folders)")
        if out.is_dir():
            raise SnncError(f"{flag} {out}: is a folder; give a file name")
        if out.exists() and not out.is_file():
            raise SnncError(f"{flag} {out}: is not a regular file (a device, pipe or socket); snnc writes a "
                            "temporary file and renames it, which would replace it: give a file path (`snnc check` "
                            "only checks)")
        if out.is_symlink() and not out.exists():
            raise SnncError(f"{flag} {out}: is a symbolic link that leads nowhere (broken, or a loop); remove it or "
                            "choose another path")
        for role, given in (inputs or {}).items():
            if given is None or isinstance(given, dict):
                continue
            if _same_file(out, Path(given)):
                raise SnncError(f"{flag} {out} is the same file as {role} ({given}); writing it would destroy "
                                "that file: choose another output path")
    except OSError as e:  # e.g. a loop of symbolic links, a name too long
        raise SnncError(f"{flag} {out}: cannot use this path ({e.strerror or e})") from None
    if probe:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=folder)
            os.close(fd)
            os.unlink(tmp)
        except OSError as e:
            raise SnncError(f"{flag} {out}: cannot write in folder {folder} ({e.strerror or e}); choose a "
                            "writable folder") from None
    return out
