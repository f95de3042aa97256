"""Labelled or unlabelled sample arrays (``.npz``) and their encoding as input events.

A data file is a NumPy ``.npz`` with ``x``: float ``[N, C, H, W]`` (or ``[N, F]``), the ANN's inputs exactly as the
ANN takes them, and optionally ``y``: integer labels ``[N]``.  Every problem is one :class:`SnncError` naming the
file and the fix.

The encoding is a small dict recorded in converted models, so that ``compile`` / ``evaluate`` need no flags:
``{"kind": "poisson", "max_rate_hz": R, "duration_us": T}``.  Under it a value of 1.0 fires a Poisson train of
``R`` Hz for ``T`` microseconds (:func:`snnc.runtime.events.poisson_events`); sample ``i`` uses the seed
``(seed, i)``, so the same file always gives the same events.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from snnc.compiler.errors import SnncError

DEFAULT_ENCODING = {"kind": "poisson", "max_rate_hz": 250.0, "duration_us": 100_000}
ENCODINGS = ("poisson",)


def make_encoding(kind: str | None = None, max_rate_hz: float | None = None, duration_ms: float | None = None,
                  base: dict | None = None) -> dict:
    """An encoding dict from CLI values; unset values come from ``base`` (a recorded encoding) or the defaults."""
    enc = dict(DEFAULT_ENCODING if base is None else base)
    if kind is not None:
        enc["kind"] = kind
    if max_rate_hz is not None:
        enc["max_rate_hz"] = float(max_rate_hz)
    if duration_ms is not None:
        enc["duration_us"] = int(round(float(duration_ms) * 1000))
    if enc.get("kind") not in ENCODINGS:
        raise SnncError(f"--encoding {enc.get('kind')!r} is not known; use one of: {', '.join(ENCODINGS)}")
    if not (float(enc["max_rate_hz"]) > 0):
        raise SnncError(f"--max-rate must be > 0 Hz, got {enc['max_rate_hz']}")
    if not (int(enc["duration_us"]) >= 1):
        raise SnncError(f"--duration-ms must be > 0, got {int(enc['duration_us']) / 1000:g}")
    return {"kind": enc["kind"], "max_rate_hz": float(enc["max_rate_hz"]), "duration_us": int(enc["duration_us"])}


def load_samples(path: str | Path, shape: tuple | None = None, what: str = "data", need_labels: bool = False,
                 encoding: dict | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(x float32 [N, *shape], y int64 [N] or None)`` from an ``.npz`` file, checked.

    ``shape``: the per-sample shape the model takes (C, H, W); ``encoding``: when Poisson, values must lie in 0..1.
    """
    p = Path(path)
    if not p.is_file():
        raise SnncError(f"{what} {p}: no such file; give an .npz file with x [N, C, H, W] (and y [N] labels)")
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.keys())
            if "x" not in keys:
                raise SnncError(f"{what} {p}: holds no array 'x' (it has: {', '.join(keys) or 'nothing'}); save it "
                                "with np.savez(path, x=images, y=labels)")
            x = z["x"]
            y = z["y"] if "y" in keys else None
    except SnncError:
        raise
    except Exception as e:  # zip/pickle/format errors of all kinds
        raise SnncError(f"{what} {p}: not a readable .npz file ({type(e).__name__}: {str(e)[:100]}); write it with "
                        "np.savez") from None
    if not np.issubdtype(x.dtype, np.floating):
        raise SnncError(f"{what} {p}: x has dtype {x.dtype}, expected float32 (the ANN's inputs as it takes them, "
                        "e.g. images / 255)")
    if x.ndim < 2 or x.shape[0] == 0:
        raise SnncError(f"{what} {p}: x has shape {list(x.shape)}; expected [N, C, H, W] with N >= 1 samples")
    if shape is not None and tuple(x.shape[1:]) != tuple(shape):
        raise SnncError(f"{what} {p}: samples have shape {list(x.shape[1:])}, the model takes {list(shape)} "
                        f"(x must be [N, {', '.join(map(str, shape))}])")
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x).reshape(len(x), -1).all(axis=1)))
        raise SnncError(f"{what} {p}: x holds NaN or infinite values (in {bad} of {len(x)} samples); remove them")
    if encoding is not None and encoding.get("kind") == "poisson" and (x.min() < 0 or x.max() > 1):
        raise SnncError(f"{what} {p}: x ranges over {float(x.min()):.3g}..{float(x.max()):.3g}, but the Poisson "
                        "encoding needs values in 0..1 (1.0 fires at --max-rate); scale the inputs (and the ANN) "
                        "to 0..1")
    if y is not None:
        if not np.issubdtype(y.dtype, np.integer) or y.shape != (x.shape[0],):
            raise SnncError(f"{what} {p}: y must be integer labels of shape [{x.shape[0]}], got {y.dtype} "
                            f"{list(y.shape)}")
        y = y.astype(np.int64)
    elif need_labels:
        raise SnncError(f"{what} {p}: holds no labels 'y'; save np.savez(path, x=x, y=labels)")
    return x.astype(np.float32, copy=False), y


def encode(x: np.ndarray, encoding: dict, index: int, seed: int = 0) -> np.ndarray:
    """The input events of one sample ``x`` ([C, H, W] values) under ``encoding``; seeded by ``(seed, index)``."""
    from snnc.runtime.events import poisson_events

    if encoding["kind"] != "poisson":  # pragma: no cover - make_encoding refuses others
        raise SnncError(f"unknown encoding {encoding['kind']!r}")
    img = np.asarray(x, dtype=np.float64)
    if img.ndim == 1:
        img = img.reshape(-1, 1, 1)
    return poisson_events(img, duration_us=int(encoding["duration_us"]), max_rate_hz=float(encoding["max_rate_hz"]),
                          rng=np.random.default_rng([int(seed), int(index)]))
