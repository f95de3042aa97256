"""Progress bars on stderr that behave in files and pipes as well as on a terminal.

On a terminal the bar redraws itself in place.  When stderr is a file or a pipe (CI logs, ``2> log``), redrawing
would append one line per update; there the bar is written only when it starts and when it ends.
"""
from __future__ import annotations

import sys


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def progress_bar(iterable=None, **kwargs):
    """A ``tqdm`` bar on stderr; where stderr is not a terminal it prints only its first and last state."""
    from tqdm import tqdm

    stream = kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    if not _is_tty(stream):
        kwargs["mininterval"] = float("inf")  # no redraws: the start line, then the final line at close
        kwargs["dynamic_ncols"] = False
        kwargs.setdefault("ncols", 100)
    return tqdm(iterable, **kwargs)
