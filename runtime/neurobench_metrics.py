"""NeuroBench's metrics (Yik et al., Nature Communications 16:1545, 2025; the ``neurobench`` 2.3.0 package) counted
on the simulated chip: exact where NeuroBench, with torch hooks on a time-stepped model, can only estimate.

NeuroBench runs a model step by step and counts with forward hooks.  The chip has no steps; it processes events.  The
workload metrics here are NeuroBench's definitions applied to what the bit-accurate simulator did, with the
sample's time cut into bins of ``dt_us`` (bin ``b`` holds the events with ``b * dt_us <= t < (b + 1) * dt_us``,
counted from t = 0, the simulator's clock; a sample has ``T = t_last // dt_us + 1`` bins, or more when its encoding
window is known and longer).  Per core (one chip layer) and in total, per sample:

* ``SynapticOperations.Effective_ACs``: the chip's synaptic updates -- one per event arriving at a core and target
  neuron (``SimResult.synops_per_core``), every kernel tap the chip reads, zero weights included.
  ``Effective_MACs`` is 0 (the chip only accumulates).  ``Dense``: what the same ``T`` bins would cost densely,
  NeuroBench's all-ones count: ``T`` x (output features x input channels x the in-bounds kernel taps summed over
  the output positions).
* ``ActivationSparsity``: 1 - (neuron, bin) pairs in which the neuron spiked at least once / (neurons x ``T``),
  over every core's neurons (NeuroBench counts non-zero activations per step).
* ``MembraneUpdates``: (neuron, bin) pairs in which the neuron's membrane was written at least once: an event
  reached it, or a leak tick of its core fell in the bin.
* Static: ``ParameterCount`` (kernel weights, plus one bias per feature where the core applies biases, i.e. leaks),
  ``Footprint`` (bytes the chip stores for them: weights at ``weight_bits``, two thresholds and the used biases at
  their bit widths -- NeuroBench counts 4 bytes per float parameter and buffer), ``ConnectionSparsity`` (zeros among
  the deployed integer weights).

Who reads what: :func:`static_metrics` reads a :class:`~snnc.runtime.simulator.SimProgram`; :func:`sample_counts`
reads one run (``Simulator.run(events, spikes=True)``) and the events it ran; :func:`summarize` turns the per-sample
counts into the ``neurobench`` object of ``snnc evaluate --neurobench``; :func:`format_table` prints it.
"""
from __future__ import annotations

import math

import numpy as np

from snnc.compiler.errors import SnncError

#: Default time bin (us) of the binned metrics (``--neurobench-dt-us``).
DEFAULT_DT_US = 1000

#: Most (bin x input position) cells one step of the membrane-update count holds at once.
_CHUNK_CELLS = 1 << 22

#: Most bins one sample may have (``T``): the binned counts loop over the bins that hold events, but a sample of
#: more bins than this is almost surely a wrong time unit.
MAX_BINS = 10_000_000


def check_dt(dt_us) -> int:
    """``--neurobench-dt-us``: a whole number of microseconds >= 1."""
    try:
        v = int(dt_us)
    except (TypeError, ValueError):
        raise SnncError(f"--neurobench-dt-us must be a whole number of microseconds, got {dt_us!r}") from None
    if v != dt_us or v < 1:
        raise SnncError(f"--neurobench-dt-us must be a whole number of microseconds >= 1, got {dt_us!r}")
    return v


def _taps(n_in: int, n_out: int, k: int, s: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Along one axis: for each output position, the kernel taps that land inside the input; for each input
    position, the output positions whose kernel covers it.  (``o * s - p + k_i = i``.)"""
    o = np.arange(n_out)[:, None]
    i_of = o * s - p + np.arange(k)[None, :]
    per_out = ((i_of >= 0) & (i_of < n_in)).sum(axis=1)
    per_in = np.zeros(n_in, np.int64)
    np.add.at(per_in, i_of[(i_of >= 0) & (i_of < n_in)], 1)
    return per_out.astype(np.int64), per_in


def dense_per_step(core) -> int:
    """NeuroBench's ``Dense`` of one core for one step: the core's convolution on an all-ones input with all-ones
    weights, summed (output features x input channels x in-bounds taps over the output positions)."""
    C, H, W = core.in_shape
    F, OH, OW = core.out_shape
    ny, _ = _taps(H, OH, core.kernel, core.stride[0], core.padding[0])
    nx, _ = _taps(W, OW, core.kernel, core.stride[1], core.padding[1])
    return int(F) * int(C) * int(ny.sum()) * int(nx.sum())


def layer_names(config: dict | None) -> dict[int, str]:
    """core -> the layer name recorded in a configuration's ``snnc.layers`` (empty without one)."""
    names = {}
    for row in ((config or {}).get("snnc") or {}).get("layers") or []:
        try:
            names[int(row["core"])] = str(row["name"])
        except (KeyError, TypeError, ValueError):
            continue
    return names


def static_metrics(program, names: dict[int, str] | None = None) -> dict:
    """Per core and in total: ``ParameterCount``, ``Footprint`` (bytes), ``ConnectionSparsity``, plus what the
    binned metrics need (``neurons``, ``dense_per_step``)."""
    t = program.target
    wb, bb, tb = t.weight_bits / 8, t.bias_bits / 8, t.threshold_bits / 8
    layers = []
    for c in sorted(program.cores):
        core = program.cores[c]
        w = np.asarray(core.weights)
        n_bias = int(core.out_shape[0]) if core.leak_enable else 0
        layers.append({
            "core": int(c), "name": (names or {}).get(c, str(c)),
            "neurons": int(np.prod(core.out_shape)),
            "ParameterCount": int(w.size) + n_bias,
            "Footprint": int(math.ceil(w.size * wb + 2 * tb + n_bias * bb)),
            "ConnectionSparsity": float(np.count_nonzero(w == 0) / w.size) if w.size else 0.0,
            "weights": int(w.size), "zero_weights": int(np.count_nonzero(w == 0)), "biases": n_bias,
            "dense_per_step": dense_per_step(core),
        })
    n_w = sum(r["weights"] for r in layers)
    return {"layers": layers,
            "ParameterCount": sum(r["ParameterCount"] for r in layers),
            "Footprint": sum(r["Footprint"] for r in layers),
            "ConnectionSparsity": (sum(r["zero_weights"] for r in layers) / n_w) if n_w else 0.0,
            "bits": {"weight": t.weight_bits, "bias": t.bias_bits, "threshold": t.threshold_bits}}


def n_bins(events: np.ndarray, dt_us: int, window_us: int | None = None) -> int:
    """``T``: the bins from t = 0 to the last event (at least one), or to the end of ``window_us`` if later."""
    t_last = int(events["t"].max()) if len(events) else 0
    T = t_last // dt_us + 1
    if window_us is not None:
        T = max(T, -(-int(window_us) // dt_us))
    if T > MAX_BINS:
        raise SnncError(f"--neurobench-dt-us {dt_us}: the sample runs to t = {t_last} us, {T:,} bins (at most "
                        f"{MAX_BINS:,}); use a larger bin or check the times' unit (microseconds)")
    return int(T)


def _input_arrivals(program, ev: np.ndarray):
    """(t, channel, x, y) of the input events as they reach the entry cores (DVS layer or input pooling)."""
    from .simulator import dvs_transform

    if program.input_source == "dvs":
        keep, f, x, y = dvs_transform(program.dvs, ev)
        return ev["t"][keep].astype(np.int64), f[keep], x[keep], y[keep]
    q = program.input_pooling
    return (ev["t"].astype(np.int64), ev["p"].astype(np.int64), ev["x"].astype(np.int64) // q,
            ev["y"].astype(np.int64) // q)


def arrivals(program, ev: np.ndarray, spike_log: np.ndarray) -> dict[int, tuple]:
    """core -> (t, channel, x, y) of every event that reached it and was inside its input: the input events at the
    entry cores, and every spike that passed its core's decimator, pooled and shifted, at each destination core."""
    parts: dict[int, list] = {c: [] for c in program.cores}
    inp = _input_arrivals(program, ev)
    for c in program.input_cores:
        if c in parts:
            parts[c].append(inp)
    layer = spike_log["layer"].astype(np.int64)
    for c, core in program.cores.items():
        s = spike_log[layer == c]
        if core.decimator:
            s = s[core.decimator - 1::core.decimator]  # the N-th spike passes first (kernel._emit)
        t, f = s["t"].astype(np.int64), s["feature"].astype(np.int64)
        x, y = s["x"].astype(np.int64), s["y"].astype(np.int64)
        for dest, pool, shift in core.destinations:
            if dest in parts:
                parts[dest].append((t, f + shift, x // pool, y // pool))
    out = {}
    for c, core in program.cores.items():
        C, H, W = core.in_shape
        cols = [np.concatenate([p[j] for p in parts[c]]) if parts[c] else np.zeros(0, np.int64) for j in range(4)]
        t, f, x, y = cols
        ok = (f >= 0) & (f < C) & (x >= 0) & (x < W) & (y >= 0) & (y < H)
        out[c] = (t[ok], f[ok], x[ok], y[ok])
    return out


def _touched(core, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> int:
    """Output positions x bins in which at least one arrival's kernel reached the position (all features are
    reached alike, so the neurons are this times the feature count)."""
    if not len(b):
        return 0
    C, H, W = core.in_shape
    F, OH, OW = core.out_shape
    k, (sy, sx), (py, px) = core.kernel, core.stride, core.padding
    key = np.unique((b * H + y) * W + x)
    bb, rest = np.divmod(key, H * W)
    yy, xx = np.divmod(rest, W)
    ub, inv = np.unique(bb, return_inverse=True)
    Hp, Wp = max(H + 2 * py, (OH - 1) * sy + k), max(W + 2 * px, (OW - 1) * sx + k)
    r0 = (np.arange(OH) * sy)[:, None]
    c0 = (np.arange(OW) * sx)[None, :]
    per = max(1, _CHUNK_CELLS // ((Hp + 1) * (Wp + 1)))
    total = 0
    for a in range(0, len(ub), per):
        m = (inv >= a) & (inv < a + per)
        n = min(per, len(ub) - a)
        grid = np.zeros((n, Hp + 1, Wp + 1), np.int32)
        grid[inv[m] - a, yy[m] + py + 1, xx[m] + px + 1] = 1
        S = grid.cumsum(1).cumsum(2)
        win = S[:, r0 + k, c0 + k] - S[:, r0, c0 + k] - S[:, r0 + k, c0] + S[:, r0, c0]
        total += int(np.count_nonzero(win))
    return total


def _leak_bins(program, core, t_last: int, dt_us: int, T: int) -> int:
    """Bins holding at least one leak tick of a leaking core (ticks at k * 1e6 / hz us, k >= 1, up to the last
    input event: the simulator processes no tick after it)."""
    hz = program.slow_clock_hz
    if not core.leak_enable or not hz:
        return 0
    k_max = math.floor(t_last * hz / 1e6)
    if k_max < 1:
        return 0
    b = np.arange(T, dtype=np.float64)
    period = 1e6 / hz
    k_lo = np.maximum(np.ceil(b * dt_us / period), 1)
    k_hi = np.minimum(np.ceil((b + 1) * dt_us / period) - 1, k_max)
    return int(np.count_nonzero(k_hi >= k_lo))


def sample_counts(program, ev: np.ndarray, res, dt_us: int = DEFAULT_DT_US, window_us: int | None = None) -> dict:
    """One sample's counts per core: ``synops``, ``spikes``, ``active`` ((neuron, bin) pairs with a spike),
    ``updated`` ((neuron, bin) pairs with a membrane write) and the sample's ``bins``.  ``ev``: the events the
    simulator ran (after fitting); ``res``: its result of ``run(ev, spikes=True)``."""
    if res.spike_log is None:
        raise SnncError("the NeuroBench counts need the spike log: run the simulator with spikes=True")
    T = n_bins(ev, dt_us, window_us)
    t_last = int(ev["t"].max()) if len(ev) else 0
    log = res.spike_log
    arr = arrivals(program, ev, log)
    cores = {}
    for c in sorted(program.cores):
        core = program.cores[c]
        F, OH, OW = core.out_shape
        s = log[log["layer"] == c]
        key = ((s["t"].astype(np.int64) // dt_us * F + s["feature"]) * OH + s["y"]) * OW + s["x"]
        active = int(len(np.unique(key)))
        t, _, x, y = arr[c]
        leak = _leak_bins(program, core, t_last, dt_us, T)
        b = t // dt_us
        if leak:  # bins with a tick update every neuron: count arrivals only in the other bins
            period = 1e6 / program.slow_clock_hz
            lo = np.maximum(np.ceil(b * dt_us / period), 1)
            hi = np.minimum(np.ceil((b + 1) * dt_us / period) - 1, math.floor(t_last * program.slow_clock_hz / 1e6))
            quiet = hi < lo
            b, x, y = b[quiet], x[quiet], y[quiet]
        updated = _touched(core, b, x, y) * int(F) + leak * int(F * OH * OW)
        cores[int(c)] = {"synops": int(res.synops_per_core.get(c, 0)), "spikes": int(res.spikes_per_core.get(c, 0)),
                         "active": active, "updated": int(updated), "arrivals": int(len(t))}
    return {"bins": T, "cores": cores}


def summarize(static: dict, samples: list[dict], dt_us: int, accuracy: float | None = None) -> dict:
    """The ``neurobench`` object: NeuroBench's names, per sample (means over ``samples``), per layer and total."""
    n = len(samples)
    if n < 1:
        raise SnncError("no sample to report NeuroBench metrics on")
    bins = np.array([s["bins"] for s in samples], np.int64)
    T = int(bins.sum())
    layers, tot = [], {"synops": 0, "active": 0, "updated": 0, "cells": 0, "dense": 0}
    for row in static["layers"]:
        c = row["core"]
        syn = sum(s["cores"][c]["synops"] for s in samples)
        act = sum(s["cores"][c]["active"] for s in samples)
        upd = sum(s["cores"][c]["updated"] for s in samples)
        spk = sum(s["cores"][c]["spikes"] for s in samples)
        cells = row["neurons"] * T
        dense = row["dense_per_step"] * T
        tot["synops"] += syn
        tot["active"] += act
        tot["updated"] += upd
        tot["cells"] += cells
        tot["dense"] += dense
        layers.append({"name": row["name"], "core": c, "neurons": row["neurons"],
                       "ActivationSparsity": 1 - act / cells if cells else 0.0,
                       "MembraneUpdates": upd / n,
                       "SynapticOperations": {"Effective_MACs": 0.0, "Effective_ACs": syn / n, "Dense": dense / n},
                       "spikes": spk / n,
                       "ParameterCount": row["ParameterCount"], "Footprint": row["Footprint"],
                       "ConnectionSparsity": row["ConnectionSparsity"]})
    return {
        "ClassificationAccuracy": accuracy,
        "ActivationSparsity": 1 - tot["active"] / tot["cells"] if tot["cells"] else 0.0,
        "MembraneUpdates": tot["updated"] / n,
        "SynapticOperations": {"Effective_MACs": 0.0, "Effective_ACs": tot["synops"] / n, "Dense": tot["dense"] / n},
        "Footprint": static["Footprint"], "ConnectionSparsity": static["ConnectionSparsity"],
        "ParameterCount": static["ParameterCount"],
        "layers": layers,
        "dt_us": int(dt_us), "bins_per_sample": T / n, "samples": n,
        "units": {"SynapticOperations": "operations per sample", "MembraneUpdates": "updates per sample",
                  "Footprint": "bytes", "ActivationSparsity": "fraction of (neuron, bin) pairs without a spike",
                  "ConnectionSparsity": "fraction of zero integer weights"},
        "notes": [f"counted on the simulated chip in bins of {dt_us} us from t = 0 ({T / n:g} bins per sample): "
                  "Effective_ACs are the chip's synaptic updates (every kernel tap of every event, zero weights "
                  "included); Dense is NeuroBench's all-ones count over the same bins",
                  f"Footprint: the bytes the chip stores for weights ({static['bits']['weight']} bit), thresholds "
                  f"({static['bits']['threshold']} bit) and used biases ({static['bits']['bias']} bit); NeuroBench "
                  "counts 4 bytes per float parameter and buffer of the torch model"],
    }


def report(config: dict, samples: list[dict], dt_us: int, accuracy: float | None) -> dict:
    """The ``neurobench`` object of a configuration dict from its per-sample counts (:func:`sample_counts`)."""
    from .simulator import program_from_config

    prog = program_from_config(config)
    return summarize(static_metrics(prog, layer_names(config)), samples, dt_us, accuracy)


def format_table(nb: dict) -> str:
    """The text table of ``snnc evaluate --neurobench``."""
    head = ["layer", "core", "neurons", "ActivationSparsity", "MembraneUpdates", "Effective_ACs", "Dense",
            "ParameterCount", "Footprint (B)", "ConnectionSparsity"]

    def row(name, core, r):
        so = r["SynapticOperations"]
        return [str(name), str(core), str(r.get("neurons", "")), f"{r['ActivationSparsity']:.4f}",
                f"{r['MembraneUpdates']:.0f}", f"{so['Effective_ACs']:.0f}", f"{so['Dense']:.0f}",
                str(r["ParameterCount"]), str(r["Footprint"]), f"{r['ConnectionSparsity']:.4f}"]

    rows = [row(r["name"], r["core"], r) for r in nb["layers"]]
    tot = dict(nb, neurons=sum(r["neurons"] for r in nb["layers"]))
    rows.append(row("total", "", tot))
    w = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(head)]
    lines = [f"NeuroBench (per sample, simulated chip; bins of {nb['dt_us']} us, {nb['bins_per_sample']:g} bins per "
             f"sample, {nb['samples']} samples)"]
    acc = nb.get("ClassificationAccuracy")
    lines.append(f"  ClassificationAccuracy: {'n/a' if acc is None else f'{acc:.4f}'}    Effective_MACs: 0")
    lines.append("  " + "  ".join(h.rjust(w[j]) for j, h in enumerate(head)))
    for r in rows:
        lines.append("  " + "  ".join(v.rjust(w[j]) for j, v in enumerate(r)))
    return "\n".join(lines)


def frames_to_events(frames, dt_us: int = DEFAULT_DT_US, what: str = "frames") -> np.ndarray:
    """One sample's frames ``[T, C, H, W]`` of whole event counts -> events: ``n`` events at (c, y, x) in step ``s``
    become ``n`` events at ``t = s * dt_us`` with ``p = c``, in (step, channel, y, x) order (events of one time are
    processed in that order), so that the metrics' bins are the frames' steps."""
    from .events import make_events

    a = np.asarray(frames)
    if a.ndim != 4:
        raise SnncError(f"{what}: expected one sample's frames [T, C, H, W], got shape {list(a.shape)}")
    if not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a != np.round(a)):
        raise SnncError(f"{what}: frames must hold whole event counts >= 0 (events per step and pixel); bin the "
                        "events into counts, or pass event arrays")
    n = a.astype(np.int64)
    s, c, y, x = np.nonzero(n)
    rep = n[s, c, y, x]
    s, c, y, x = (np.repeat(v, rep) for v in (s, c, y, x))
    return make_events(x, y, s * int(dt_us), c)
