"""Event streams: the structured-array layout, loading and checking event files, and encoders for static images.

An event stream is a numpy structured array with the fields ``x``, ``y``, ``t`` (microseconds) and ``p`` -- the
layout tonic uses, so tonic's arrays can be passed as they are.  ``p`` is the polarity (0 = OFF, 1 = ON) when the
events go to the DVS layer, and the input channel when they go straight to a core.  Times are non-negative and
sorted (stable for ties); :func:`load_events` checks all of this and says what is wrong.

Encoders turn static images into events:

* :func:`poisson_events` -- every pixel fires a Poisson process whose rate is its brightness times ``max_rate_hz``;
* :func:`saccade_events` -- a model of how N-MNIST was recorded: a DVS watches the image move through three
  saccades and emits ON/OFF events where the log brightness changes by more than a contrast threshold;
* :func:`events_to_frames` -- the other way: count events per time bin into ``[T, C, H, W]`` frames.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..compiler.errors import SnncError

from .eventio.layout import EVENT_DTYPE, make_events  # noqa: E402,F401  (the layout lives with the readers)

_INT16_MAX = np.iinfo(np.int16).max
#: Latest event time accepted (us): far beyond any recording, and far from int64 overflow in time arithmetic.
MAX_TIME_US = 2 ** 62


def _as_event_array(arr, what: str) -> np.ndarray:
    """Convert any structured array with integer fields x, y, t (or ts), p into :data:`EVENT_DTYPE`."""
    if isinstance(arr, np.ndarray) and arr.dtype.names is None and arr.ndim == 2 and arr.shape[1] == 4:
        raise SnncError(f"{what}: a plain {arr.shape} array has no field names; save a structured array with "
                        "fields x, y, t, p (e.g. snnc.runtime.events.make_events(x, y, t, p))")
    if not isinstance(arr, np.ndarray) or arr.dtype.names is None:
        raise SnncError(f"{what}: expected a numpy structured array with fields x, y, t, p "
                        f"(got {type(arr).__name__}{' of dtype ' + str(arr.dtype) if isinstance(arr, np.ndarray) else ''})")
    names = set(arr.dtype.names)
    tname = "t" if "t" in names else ("ts" if "ts" in names else None)
    missing = [f for f in ("x", "y", "p") if f not in names] + ([] if tname else ["t"])
    if missing:
        raise SnncError(f"{what}: event array lacks field(s) {', '.join(missing)} (has {', '.join(arr.dtype.names)}); "
                        "fields x, y, t (microseconds), p are needed")
    if arr.ndim == 0:
        arr = arr.reshape(1)
    for f in ("x", "y", tname, "p"):
        kind = arr.dtype[f].kind
        if arr.dtype[f].shape:
            raise SnncError(f"{what}: field {f!r} holds sub-arrays of shape {arr.dtype[f].shape}; one integer per "
                            "event is needed")
        if kind not in "iub":
            if kind == "f" and arr.size:
                col = arr[f]
                finite = np.isfinite(col)
                if not finite.all():
                    i = int(np.argmin(finite))
                    raise SnncError(f"{what}: event {i} has {f} = {col.ravel()[i]}; event fields must be whole "
                                    "numbers")
                big = np.abs(col) >= 2.0 ** 62
                if big.any():
                    i = int(np.argmax(big))
                    raise SnncError(f"{what}: event {i} has {f} = {col.ravel()[i]:g}, far beyond any event "
                                    f"{'time (microseconds)' if f == tname else 'coordinate'}; check the file")
            if kind == "f" and arr.size and np.all(np.mod(arr[f], 1) == 0):
                continue  # float fields holding whole numbers are accepted
            raise SnncError(f"{what}: field {f!r} has dtype {arr.dtype[f]}, integers are needed "
                            f"(times in whole microseconds)")
    arr = arr.ravel()
    ev = np.empty(arr.shape[0], dtype=EVENT_DTYPE)
    for f, src in (("x", "x"), ("y", "y"), ("p", "p")):
        col = arr[src].astype(np.int64)
        if col.size and (col.min() < 0 or col.max() > _INT16_MAX):
            bad = int(col.min()) if col.min() < 0 else int(col.max())
            raise SnncError(f"{what}: field {src!r} holds {bad}, outside 0..{_INT16_MAX if f != 'p' else 127}")
        if f == "p" and col.size and col.max() > 127:
            raise SnncError(f"{what}: field 'p' holds {int(col.max())}, outside 0..127")
        ev[f] = col
    tcol = arr[tname]
    if tcol.size and tcol.dtype.kind == "u" and int(tcol.max()) >= MAX_TIME_US:
        i = int(np.argmax(tcol))
        raise SnncError(f"{what}: event {i} has time {int(tcol[i])} us, beyond {MAX_TIME_US} us (146,000 years); "
                        "check the file's time unit (microseconds)")
    ev["t"] = tcol.astype(np.int64)
    if ev.size and int(ev["t"].max()) >= MAX_TIME_US:
        i = int(np.argmax(ev["t"]))
        raise SnncError(f"{what}: event {i} has time {int(ev['t'][i])} us, beyond {MAX_TIME_US} us (146,000 years); "
                        "check the file's time unit (microseconds)")
    return ev


def load_events(path_or_array, shape=None, what: str | None = None) -> np.ndarray:
    """Read and check an event stream; return it as :data:`EVENT_DTYPE`, sorted by time.

    ``path_or_array`` is an event file -- a ``.npy`` structured array (fields ``x, y, t, p``; tonic's layout, ``ts``
    accepted for ``t``), a ``.npz`` with such an array under ``events``, an N-MNIST/ATIS ``.bin`` or an AEDAT 4
    file, told apart by their content (:mod:`snnc.runtime.eventio`) -- or the array itself.  ``shape`` is the input
    ``(C, H, W)``; when given, ``p < C``, ``y < H`` and ``x < W`` are required.  Negative times, wrong fields and
    out-of-range coordinates raise :class:`SnncError` naming the problem.  Unsorted times are sorted (stable, so
    events with equal times keep their order) with a warning.
    """
    if isinstance(path_or_array, (str, Path)):
        from .eventio import read_recording

        what = what or str(path_or_array)
        arr = read_recording(path_or_array).events
    else:
        arr = path_or_array
        what = what or "events"
        if hasattr(arr, "events") and hasattr(arr, "sensor_size"):  # an EventRecording
            arr = arr.events
        elif hasattr(arr, "to_numpy") and not isinstance(arr, np.ndarray):  # e.g. a pandas frame
            arr = arr.to_records(index=False) if hasattr(arr, "to_records") else arr.to_numpy()
    ev = _as_event_array(np.asarray(arr) if not isinstance(arr, np.ndarray) else arr, what)
    if ev.size:
        tmin = int(ev["t"].min())
        if tmin < 0:
            i = int(np.argmax(ev["t"] < 0))
            raise SnncError(f"{what}: event {i} has negative time {int(ev['t'][i])} us; times must be >= 0")
        if shape is not None:
            c, h, w = (int(s) for s in shape)
            for f, lim, name in (("x", w, "width"), ("y", h, "height"), ("p", c, "channels")):
                bad = np.nonzero(ev[f] >= lim)[0]
                if bad.size:
                    i = int(bad[0])
                    fix = ("; fit them with --crop X0,Y0,W,H and/or --downsample N (snnc simulate, snnc evaluate)"
                           if f != "p" else "")
                    raise SnncError(f"{what}: event {i} has {f}={int(ev[f][i])}, outside the input {name} {lim} "
                                    f"(input shape C,H,W = {c},{h},{w}); {bad.size} event(s) out of range{fix}")
        if np.any(np.diff(ev["t"]) < 0):
            warnings.warn(f"{what}: event times are not sorted; sorting them (stable)", stacklevel=2)
            ev = ev[np.argsort(ev["t"], kind="stable")]
    return ev


def save_events(path, events) -> None:
    """Write an event array to ``path`` atomically: ``.npy``, or ``.bin`` (N-MNIST/ATIS records) by extension."""
    from .eventio import write_events

    write_events(path, events)


def _image_chw(image, what: str) -> np.ndarray:
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        img = img[None]
    if img.ndim != 3:
        raise SnncError(f"{what}: image must be [H, W] or [C, H, W], got shape {tuple(img.shape)}")
    if img.size and (not np.all(np.isfinite(img)) or img.min() < 0 or img.max() > 1):
        raise SnncError(f"{what}: image values must lie in 0..1 (got {np.nanmin(img):.3g}..{np.nanmax(img):.3g}); "
                        "divide by 255 for 8-bit images")
    return img


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def poisson_events(image, duration_us: int = 100_000, max_rate_hz: float = 1000.0, channels: int | None = None,
                   rng=None) -> np.ndarray:
    """Encode a static image as Poisson spike trains.

    ``image`` is float ``[H, W]`` or ``[C, H, W]`` with values in 0..1.  Pixel (c, y, x) fires a Poisson process of
    rate ``image[c, y, x] * max_rate_hz`` for ``duration_us`` microseconds; each event has ``p = c``.  ``channels``
    replicates a one-channel image onto that many channels (each with its own independent train), e.g. 2 for a
    network trained on two-polarity input; ``None`` keeps the image's channels.  ``rng`` is a
    ``numpy.random.Generator`` or a seed.  Times are whole microseconds in ``[0, duration_us)``, sorted.
    """
    img = _image_chw(image, "poisson_events")
    if channels is not None:
        if img.shape[0] == 1 and channels >= 1:
            img = np.repeat(img, int(channels), axis=0)
        elif channels != img.shape[0]:
            raise SnncError(f"poisson_events: channels={channels} but the image has {img.shape[0]} channels; "
                            "give channels only for one-channel images")
    if duration_us <= 0 or max_rate_hz < 0:
        raise SnncError("poisson_events: duration_us must be > 0 and max_rate_hz >= 0")
    g = _rng(rng)
    counts = g.poisson(img * (max_rate_hz * duration_us * 1e-6))
    c, y, x = np.nonzero(counts)
    reps = counts[c, y, x]
    c, y, x = (np.repeat(a, reps) for a in (c, y, x))
    t = g.integers(0, int(duration_us), size=c.size)
    order = np.argsort(t, kind="stable")
    return make_events(x[order], y[order], t[order], c[order])


#: The three saccades of :func:`saccade_events`: the image's top-left corner visits these (dx, dy) offsets in
#: pixels, in order, returning to the first (an isosceles triangle, as the N-MNIST recording rig moved the sensor).
SACCADE_PATH = ((0.0, 0.0), (3.0, 6.0), (6.0, 0.0), (0.0, 0.0))


def _shift_bilinear(img: np.ndarray, dx: float, dy: float, out_h: int, out_w: int) -> np.ndarray:
    """Place ``img`` [C,H,W] with its top-left corner at (dx, dy) on a zero canvas, with bilinear sub-pixel shift."""
    c, h, w = img.shape
    out = np.zeros((c, out_h, out_w))
    ix, iy = int(np.floor(dx)), int(np.floor(dy))
    fx, fy = dx - ix, dy - iy
    for oy, ox, wgt in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        if wgt == 0:
            continue
        y0, x0 = iy + oy, ix + ox
        ys, xs = slice(max(y0, 0), min(y0 + h, out_h)), slice(max(x0, 0), min(x0 + w, out_w))
        out[:, ys, xs] += wgt * img[:, ys.start - y0: ys.stop - y0, xs.start - x0: xs.stop - x0]
    return out


def saccade_events(image, duration_us: int = 300_000, contrast_threshold: float = 0.4, steps: int = 600,
                   out_shape: tuple[int, int] | None = None, rng=None, jitter: bool = True) -> np.ndarray:
    """Encode a static image the way N-MNIST recorded MNIST: a DVS watching the image move through three saccades.

    Model (ours, documented in docs/simulator.md): the image (``[H, W]`` or ``[C, H, W]`` in 0..1; channels are
    summed into one brightness) moves along :data:`SACCADE_PATH` -- three straight saccades of ``duration_us / 3``
    each, a triangle with 6 px sides as in N-MNIST -- over a dark canvas of ``out_shape`` (default ``(H + 6,
    W + 6)``, 34x34 for MNIST).  The motion is sampled at ``steps`` instants with bilinear sub-pixel shifts.  Each
    pixel keeps the log brightness ``log(0.1 + I)`` at its last event; when the current value differs from it by
    ``n`` whole contrast thresholds, the pixel emits ``n`` events (``p = 1`` ON for brighter, ``p = 0`` OFF for
    darker) and its reference moves by ``n`` thresholds.  Event times are the sample instant, spread uniformly over
    the sampling interval when ``jitter`` (``rng`` seeds it).  With the defaults an MNIST digit gives about 4,200
    events on average (measured over 50 test digits), the order of an N-MNIST recording.
    """
    img = _image_chw(image, "saccade_events").sum(axis=0, keepdims=True).clip(0, 1)
    _, h, w = img.shape
    oh, ow = out_shape if out_shape is not None else (h + 6, w + 6)
    if duration_us <= 0 or steps < 3 or contrast_threshold <= 0:
        raise SnncError("saccade_events: duration_us must be > 0, steps >= 3 and contrast_threshold > 0")
    g = _rng(rng)
    path = np.asarray(SACCADE_PATH)
    seg_len = duration_us / 3.0
    dt = duration_us / steps
    ref = np.log(0.1 + _shift_bilinear(img, *path[0], oh, ow)[0])
    xs, ys, ts, ps = [], [], [], []
    for k in range(1, steps + 1):
        tk = k * dt
        seg = min(int(tk // seg_len), 2)
        frac = (tk - seg * seg_len) / seg_len
        dx, dy = path[seg] + frac * (path[seg + 1] - path[seg])
        cur = np.log(0.1 + _shift_bilinear(img, dx, dy, oh, ow)[0])
        n = np.trunc((cur - ref) / contrast_threshold).astype(np.int64)
        if not n.any():
            continue
        ref = ref + n * contrast_threshold
        yy, xx = np.nonzero(n)
        cnt = np.abs(n[yy, xx])
        pol = (n[yy, xx] > 0).astype(np.int64)
        yy, xx, pol = np.repeat(yy, cnt), np.repeat(xx, cnt), np.repeat(pol, cnt)
        t0 = (k - 1) * dt
        tt = t0 + (g.random(yy.size) * dt if jitter else np.full(yy.size, dt))
        ts.append(np.minimum(tt, duration_us - 1).astype(np.int64))
        xs.append(xx), ys.append(yy), ps.append(pol)
    if not ts:
        return np.empty(0, dtype=EVENT_DTYPE)
    x, y, t, p = (np.concatenate(a) for a in (xs, ys, ts, ps))
    order = np.argsort(t, kind="stable")
    return make_events(x[order], y[order], t[order], p[order])


def events_to_frames(events, shape, n_bins: int, duration_us: int | None = None) -> np.ndarray:
    """Count events into frames: returns int64 ``[n_bins, C, H, W]``.

    ``shape`` is ``(C, H, W)``.  Time ``[0, duration_us)`` is cut into ``n_bins`` equal bins (an event at time t goes
    to bin ``t * n_bins // duration_us``); ``duration_us`` defaults to the last event's time + 1.  Events at or after
    ``duration_us`` are left out; coordinates outside ``shape`` raise :class:`SnncError`.
    """
    ev = load_events(events, shape=shape, what="events_to_frames")
    c, h, w = (int(s) for s in shape)
    if n_bins < 1:
        raise SnncError(f"events_to_frames: n_bins must be >= 1 (got {n_bins})")
    if duration_us is None:
        duration_us = int(ev["t"].max()) + 1 if ev.size else 1
    if duration_us <= 0:
        raise SnncError(f"events_to_frames: duration_us must be > 0 (got {duration_us})")
    frames = np.zeros((n_bins, c, h, w), dtype=np.int64)
    keep = ev["t"] < duration_us
    ev = ev[keep]
    b = (ev["t"].astype(np.int64) * n_bins) // int(duration_us)
    np.add.at(frames, (b, ev["p"].astype(np.int64), ev["y"].astype(np.int64), ev["x"].astype(np.int64)), 1)
    return frames
