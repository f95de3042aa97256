"""Figures of an event recording, for ``snnc inspect EVENTS``: count, duration, sensor size, polarity split, mean
and peak event rates."""
from __future__ import annotations

import numpy as np


def peak_count(t: np.ndarray, window_us: int) -> int:
    """The most events in any window ``[t_i, t_i + window_us)`` starting at an event (``t`` sorted)."""
    if not t.size:
        return 0
    ends = np.searchsorted(t, t + window_us, side="left")
    return int((ends - np.arange(t.size)).max())


def event_stats(rec, windows_us=(1_000, 10_000)) -> dict:
    """A dict of figures for an :class:`~snnc.runtime.eventio.EventRecording`: the events must be sorted by time
    (``load_events`` sorts them)."""
    ev = rec.events
    t = ev["t"].astype(np.int64)
    n = int(ev.size)
    duration = int(t.max() - t.min()) + 1 if n else 0
    p = ev["p"].astype(np.int64)
    out = {
        "file": str(rec.path) if rec.path is not None else None,
        "format": rec.format,
        "events": n,
        "t_first_us": int(t.min()) if n else None,
        "t_last_us": int(t.max()) if n else None,
        "duration_us": duration,
        "sensor_size": list(rec.sensor_size) if rec.sensor_size else None,
        "span": list(rec.span),
        "polarities": {int(k): int(v) for k, v in zip(*np.unique(p, return_counts=True))},
        "mean_rate_hz": (n / (duration * 1e-6)) if duration else 0.0,
        "peak_rate_hz": {},
    }
    for w in windows_us:
        out["peak_rate_hz"][f"{w // 1000} ms"] = peak_count(t, w) / (w * 1e-6)
    return out


def format_stats(s: dict) -> str:
    def rate(v):
        return f"{v / 1e6:.3g} M events/s" if v >= 1e6 else f"{v / 1e3:.3g} k events/s"

    lines = [f"{s['file']}: {s['format']} event file"]
    lines.append(f"  events:        {s['events']:,}")
    if s["events"]:
        lines.append(f"  duration:      {s['duration_us'] / 1e3:.1f} ms (t = {s['t_first_us']:,} .. "
                     f"{s['t_last_us']:,} us)")
    if s["sensor_size"]:
        lines.append(f"  sensor size:   {s['sensor_size'][0]}x{s['sensor_size'][1]} (W x H, from the file); events "
                     f"span x 0..{s['span'][0] - 1}, y 0..{s['span'][1] - 1}")
    else:
        lines.append(f"  sensor size:   not recorded in the file; events span {s['span'][0]}x{s['span'][1]} "
                     f"(x 0..{s['span'][0] - 1}, y 0..{s['span'][1] - 1})")
    pol = s["polarities"]
    if set(pol) <= {0, 1}:
        on, off = pol.get(1, 0), pol.get(0, 0)
        tot = max(on + off, 1)
        lines.append(f"  polarity:      ON {on:,} ({100 * on / tot:.1f} %), OFF {off:,} ({100 * off / tot:.1f} %)")
    else:
        lines.append("  channels (p):  " + ", ".join(f"{k}: {v:,}" for k, v in sorted(pol.items())))
    lines.append(f"  mean rate:     {rate(s['mean_rate_hz'])}")
    lines.append("  peak rate:     " + "; ".join(f"{rate(v)} over {k}" for k, v in s["peak_rate_hz"].items()))
    return "\n".join(lines)
