"""Parse an input shape given as text or a list (``--input-shape 2,34,34``); shared by every frontend and the CLI."""
from __future__ import annotations

import re

from ..errors import SnncError

#: Largest input dimension accepted (event coordinates are int16; the chip takes 128x128).
MAX_SHAPE_DIM = 1 << 15


def parse_shape(text) -> tuple[int, ...]:
    """``"2,34,34"`` (or ``"2x34x34"``, ``"[2, 34, 34]"``, a list/tuple) -> ``(2, 34, 34)``.

    Raises SnncError on anything that is not one to three positive integers.
    """
    if isinstance(text, (list, tuple)):
        parts = list(text)
    else:
        s = str(text).strip()
        if s[:1] + s[-1:] in ("[]", "()"):
            s = s[1:-1].strip()
        parts = re.split(r"\s*[,x]\s*|\s+", s) if s else []
    try:
        if any(isinstance(p, str) and not p.isdigit() for p in parts):
            raise ValueError
        shape = tuple(int(p) for p in parts)
        if any(not isinstance(p, str) and p != d for p, d in zip(parts, shape)):
            raise ValueError  # 2.5 is not a size
    except (TypeError, ValueError):
        raise SnncError(f"input shape {text!r} is not a list of integers; write it like 2,34,34 (C,H,W) or 128 "
                        "(features)") from None
    if not 1 <= len(shape) <= 3 or any(d < 1 for d in shape):
        raise SnncError(f"input shape {text!r} must be 1 to 3 positive integers, like 2,34,34 (C,H,W) or 128")
    if (shape[0] > MAX_SHAPE_DIM ** 2) if len(shape) == 1 else any(d > MAX_SHAPE_DIM for d in shape):
        raise SnncError(f"input shape {text!r} is far beyond any chip input (events carry x, y below "
                        f"{MAX_SHAPE_DIM}); give the model's real input shape, like 2,34,34")
    return shape
