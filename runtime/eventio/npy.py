"""``.npy`` / ``.npz`` event files: a numpy structured array (fields x, y, t, p; tonic's layout), in an ``.npz``
under the name ``events``.  No pickles are loaded."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from snnc.compiler.errors import SnncError


def read_npy(path: Path, fmt: str) -> np.ndarray:
    """The array stored in ``path`` (fields are checked later, by ``load_events``)."""
    try:
        if fmt == "npz":
            with np.load(path, allow_pickle=False) as z:
                if "events" not in z:
                    raise SnncError(f"{path}: .npz has no 'events' array (has {', '.join(z.files) or 'nothing'})")
                return z["events"]
        return np.load(path, allow_pickle=False)
    except SnncError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        kind = ".npz" if fmt == "npz" else ".npy"
        raise SnncError(f"{path}: not a readable {kind} event file ({str(e).splitlines()[0] or type(e).__name__}); "
                        "save the events with numpy.save as a structured array with fields x, y, t, p") from None
