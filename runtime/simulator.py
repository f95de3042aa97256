"""The bit-accurate, event-driven Speck simulator, built only from a configuration (docs/config-format.md).

What is simulated is exactly what would be deployed: the simulator reads the configuration that ``snnc compile``
writes (integer weights, thresholds, routing), never the float model.  ``runtime/reference_sim.py`` is a plain-Python
version of the same rules that reads like SPECK.md section 5; this module is the fast one (numba).  Both give the
same output events, in the same order, and the same final states; the property tests check it.

Processing order -- what "bit-accurate" means here (see docs/simulator.md for the chip facts behind each rule):

1. Input events are taken in timestamp order (ties keep their order in the file).
2. Depth-first: one input event and every event it causes are processed before the next input event [C: the chip
   works depth-first].  With several entry cores (``snnc.input.cores``, or the two DVS destinations), the event
   goes to them in list order, each one's cascade finished before the next.
3. An event (c, x, y) arriving at a core updates its target neurons in ascending (output feature, y, x) order [U,
   chosen].  Each neuron: ``V = integrate(V, W[o][c][ky][kx], threshold_low)``, then ``fire(V, threshold_high)``
   (``runtime/neuron.py``).  A spike is handled completely -- counted, decimated, monitored, sent to destination 0
   and its cascade finished, then to destination 1 -- before the next target neuron is updated.
4. A spike of core N at (o, y, x): the spike count of core N is incremented (every spike, before the decimator);
   if the output decimator is enabled, a per-core counter passes only every N-th spike (the N-th is the first
   passed) [I]; a passed spike is recorded as an output event with un-pooled coordinates when ``monitor_enable``
   [C], then for each enabled destination in order 0, 1 becomes ``(o + feature_shift, x // pooling, y // pooling)``
   at that core [C pooling, I shift] (or is recorded as a readout input when the destination is layer 12).
   Events whose shifted/pooled coordinates fall outside the destination's input are dropped and counted.
5. Output events carry the timestamp of the input event that caused them.
6. Leak: with ``leak_enable`` and a slow clock of ``slow_clock_hz``, tick k happens at ``k * 1e6 / hz`` us
   (k = 1, 2, ...).  Every tick at or before an input event's time is processed before that event: each leaking core
   (ascending) adds its channel bias to every neuron in ascending (o, y, x) order with the same integrate rule.  A
   leak tick does not fire (default, [U]); with ``leak_can_fire=True`` a neuron at or above threshold after the
   leak spikes at the tick's time (rounded up to a whole us) and its cascade runs at once.  Ticks after the last
   input event are not processed.
7. The membrane state is int16, saturating by default (``overflow="wrap"`` makes the adder wrap) [U].

The result (:class:`SimResult`) exposes the output events, per-core spike counts, input-event counts, synaptic
operations (one per input event and target neuron) and, per input event, the synops it caused on each core
(``event_t``, ``event_synops[core]``) so peak rates over sliding windows can be computed
(:meth:`SimResult.peak_synops_rate`).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

from ..compiler.errors import SnncError
from ..targets.speck import TARGETS
from . import neuron
from .events import load_events

_CHIP = TARGETS["speck2f"]
N_CORES = _CHIP.n_cores
READOUT_LAYER = _CHIP.readout_layer
DVS_LAYER = _CHIP.dvs_layer

#: Output events: time (us), event layer (core id, or 13 for the monitored DVS layer), feature, x, y.
OUTPUT_DTYPE = np.dtype([("t", "<i8"), ("layer", "<i2"), ("feature", "<i2"), ("x", "<i2"), ("y", "<i2")])


# --------------------------------------------------------------------------------------------------- config reading
def read_config(path_or_dict) -> dict:
    """Read a configuration (path or dict).  Uses ``snnc.targets.config.load_config`` (schema + range checks) when
    it is installed, else reads the JSON itself; the simulator checks what it relies on either way."""
    try:
        from snnc.targets.config import load_config
    except ImportError:
        load_config = None
    if load_config is not None:
        return load_config(path_or_dict)
    if isinstance(path_or_dict, dict):
        return path_or_dict
    path = Path(path_or_dict)
    if not path.exists():
        raise SnncError(f"{path}: no such configuration file")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SnncError(f"{path}: not a JSON configuration ({e}); write one with `snnc compile`") from None


@dataclass
class CoreProgram:
    """One used core, as the simulators need it.  Arrays are in torch order: weights [F, C, ky, kx], states
    [F, y, x] (the config's [out][in][x][y] and [f][x][y] transposed)."""

    core: int
    in_shape: tuple[int, int, int]  # C, H, W
    out_shape: tuple[int, int, int]  # F, H, W (before pooling)
    kernel: int
    stride: tuple[int, int]  # (y, x)
    padding: tuple[int, int]  # (y, x)
    weights: np.ndarray
    biases: np.ndarray
    v_init: np.ndarray
    threshold_high: int
    threshold_low: int
    return_to_zero: bool
    leak_enable: bool
    monitor: bool
    decimator: int  # 0 = off, else N
    destinations: list[tuple[int, int, int]]  # enabled ones, in order: (layer, pooling, feature_shift)


@dataclass
class DvsProgram:
    merge: bool
    on_channel: bool
    off_channel: bool
    pooling: tuple[int, int]  # (x, y)
    origin: tuple[int, int]
    cut: tuple[int, int]
    mirror: tuple[bool, bool]
    mirror_diagonal: bool
    monitor: bool
    destinations: list[int]


@dataclass
class ChipProgram:
    """A parsed configuration: the used cores, where input events go, and the readout settings."""

    cores: dict[int, CoreProgram]
    input_source: str  # "core" or "dvs"
    input_shape: tuple[int, int, int]
    input_cores: list[int]
    dvs: DvsProgram | None
    readout: dict | None
    slow_clock_hz: float | None
    leak_can_fire: bool
    saturate: bool
    input_pooling: int = 1  # snnc.input.pooling: core input only, (x, y) -> (x // p, y // p) before delivery


def _get(d, *keys, where="", default=KeyError):
    cur = d
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            if default is not KeyError:
                return default
            raise SnncError(f"configuration: {where}{'.'.join(keys)} is missing; write the file with `snnc compile` "
                            "(format in docs/config-format.md)")
        cur = cur[k]
    return cur


def _int_array(value, shape, what, lo, hi) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.int64)
    except (ValueError, TypeError):
        raise SnncError(f"configuration: {what} is not a regular integer array") from None
    if arr.shape != tuple(shape):
        raise SnncError(f"configuration: {what} has shape {list(arr.shape)}, expected {list(shape)} from dimensions")
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise SnncError(f"configuration: {what} holds {int(arr.min())}..{int(arr.max())}, outside {lo}..{hi}")
    return arr


def parse_config(config, overflow: str = "saturate", slow_clock_hz: float | None = None,
                 leak_can_fire: bool | None = None) -> ChipProgram:
    """Turn a configuration (path or dict) into a :class:`ChipProgram`; raise :class:`SnncError` on anything the
    simulator cannot run."""
    if overflow not in ("saturate", "wrap"):
        raise SnncError(f"overflow must be 'saturate' or 'wrap', not {overflow!r}")
    cfg = read_config(config)
    if not isinstance(cfg, dict) or not isinstance(cfg.get("cnn_layers"), list):
        raise SnncError("configuration: no 'cnn_layers' list; this is not an snnc configuration file")
    layers = cfg["cnn_layers"]
    if len(layers) > N_CORES:
        raise SnncError(f"configuration: {len(layers)} cnn_layers, the chip has {N_CORES} cores")
    wlo, whi = _CHIP.weight_range
    slo, shi = _CHIP.state_range
    cores: dict[int, CoreProgram] = {}
    for i, L in enumerate(layers):
        where = f"cnn_layers[{i}]."
        dims = _get(L, "dimensions", where=where)
        F = int(_get(dims, "output_shape", "feature_count", where=where + "dimensions."))
        weights = L.get("weights") or []
        if F == 0 or len(weights) == 0:
            continue  # unused core
        C = int(_get(dims, "input_shape", "feature_count", where=where + "dimensions."))
        ih = int(_get(dims, "input_shape", "size", "y", where=where + "dimensions."))
        iw = int(_get(dims, "input_shape", "size", "x", where=where + "dimensions."))
        oh = int(_get(dims, "output_shape", "size", "y", where=where + "dimensions."))
        ow = int(_get(dims, "output_shape", "size", "x", where=where + "dimensions."))
        K = int(_get(dims, "kernel_size", where=where + "dimensions."))
        sy, sx = int(_get(dims, "stride", "y", where=where + "dimensions.")), int(_get(dims, "stride", "x", where=where + "dimensions."))
        py, px = int(_get(dims, "padding", "y", where=where + "dimensions.")), int(_get(dims, "padding", "x", where=where + "dimensions."))
        if min(C, ih, iw, oh, ow, K, sy, sx) < 1 or min(py, px) < 0:
            raise SnncError(f"configuration: core {i} has a zero or negative dimension")
        for axis, n_in, n_out, s, p in (("y", ih, oh, sy, py), ("x", iw, ow, sx, px)):
            expect = (n_in + 2 * p - K) // s + 1
            if n_out != expect:
                raise SnncError(f"configuration: core {i} output size {axis}={n_out} does not match "
                                f"(in {n_in} + 2*pad {p} - kernel {K}) // stride {s} + 1 = {expect}")
        w = _int_array(weights, (F, C, K, K), f"cnn_layers[{i}].weights [out][in][x][y]", wlo, whi)
        w = np.ascontiguousarray(w.transpose(0, 1, 3, 2))  # -> [out][in][y][x]
        b = L.get("biases") or [0] * F
        b = _int_array(b, (F,), f"cnn_layers[{i}].biases", *_CHIP.bias_range)
        v0 = L.get("neurons_initial_value")
        v0 = (np.zeros((F, oh, ow), np.int64) if not v0 else
              np.ascontiguousarray(_int_array(v0, (F, ow, oh), f"cnn_layers[{i}].neurons_initial_value [f][x][y]",
                                              slo, shi).transpose(0, 2, 1)))
        th_high = int(_get(L, "threshold_high", where=where))
        th_low = int(_get(L, "threshold_low", where=where))
        dec = 0
        if L.get("output_decimator_enable"):
            try:
                dec = neuron.decimator_ratio(int(L.get("output_decimator_interval", 0)))
            except ValueError as e:
                raise SnncError(f"configuration: core {i}: {e}") from None
        dests = []
        for d in L.get("destinations", []):
            if d.get("enable"):
                pool = int(d.get("pooling", 1))
                if pool < 1:
                    raise SnncError(f"configuration: core {i} destination pooling {pool} must be >= 1")
                dests.append((int(d["layer"]), pool, int(d.get("feature_shift", 0))))
        cores[i] = CoreProgram(i, (C, ih, iw), (F, oh, ow), K, (sy, sx), (py, px), w, b, v0, th_high, th_low,
                               bool(L.get("return_to_zero")), bool(L.get("leak_enable")),
                               bool(L.get("monitor_enable")), dec, dests)
    if not cores:
        raise SnncError("configuration: no core is used (every cnn_layers entry is empty)")
    for c in cores.values():
        for layer, _, _ in c.destinations:
            if layer != READOUT_LAYER and layer not in cores:
                raise SnncError(f"configuration: core {c.core} sends spikes to layer {layer}, which is not a used "
                                f"core (used: {sorted(cores)}; the readout is {READOUT_LAYER})")

    meta = cfg.get("snnc") or {}
    inp = meta.get("input") or {}
    dvs_cfg = cfg.get("dvs_layer") or {}
    dvs_dests = [int(d["layer"]) for d in dvs_cfg.get("destinations", []) if d.get("enable")]
    source = inp.get("source") or ("dvs" if dvs_dests else None)
    if source not in ("core", "dvs"):
        raise SnncError("configuration: snnc.input.source is missing or not 'core'/'dvs'; cannot tell where the "
                        "input events go")
    dvs = None
    if source == "core":
        input_cores = [int(c) for c in inp.get("cores") or []]
        if not input_cores:
            raise SnncError("configuration: snnc.input.cores is empty; no core receives the input events")
        if input_cores[0] not in cores:
            raise SnncError(f"configuration: input events go to core {input_cores[0]}, which is not a used core "
                            f"(used: {sorted(cores)})")
        shape = inp.get("shape") or list(cores[input_cores[0]].in_shape)
    else:
        input_cores = dvs_dests
        if not dvs_dests:
            raise SnncError("configuration: input goes to the DVS layer but both dvs_layer destinations are disabled")
        g = lambda k, a: int((dvs_cfg.get(k) or {}).get(a, 0))  # noqa: E731
        n = _CHIP.dvs_size
        dvs = DvsProgram(bool(dvs_cfg.get("merge")), bool(dvs_cfg.get("on_channel", True)),
                         bool(dvs_cfg.get("off_channel", True)),
                         (max(g("pooling", "x"), 1), max(g("pooling", "y"), 1)), (g("origin", "x"), g("origin", "y")),
                         (int((dvs_cfg.get("cut") or {}).get("x", n - 1)), int((dvs_cfg.get("cut") or {}).get("y", n - 1))),
                         (bool((dvs_cfg.get("mirror") or {}).get("x")), bool((dvs_cfg.get("mirror") or {}).get("y"))),
                         bool(dvs_cfg.get("mirror_diagonal")), bool(dvs_cfg.get("monitor_enable")), dvs_dests)
        shape = [2, n, n]
    for c in input_cores:
        if c not in cores:
            raise SnncError(f"configuration: input events go to core {c}, which is not a used core (used: "
                            f"{sorted(cores)})")
    if shape is None or len(shape) != 3:
        raise SnncError("configuration: snnc.input.shape must be [C, H, W]")
    simcfg = meta.get("simulator") or {}
    if slow_clock_hz is None:
        slow_clock_hz = simcfg.get("slow_clock_hz")
    if slow_clock_hz is not None and not (float(slow_clock_hz) > 0):
        raise SnncError(f"slow clock must be > 0 Hz, got {slow_clock_hz}")
    if leak_can_fire is None:
        leak_can_fire = bool(simcfg.get("leak_can_fire", False))
    leaky = [c.core for c in cores.values() if c.leak_enable]
    if leaky and slow_clock_hz is None:
        raise SnncError(f"configuration enables leak on core(s) {leaky}; give the slow-clock frequency "
                        "(--slow-clock HZ, or slow_clock_hz=...)")
    ro = cfg.get("readout") or {}
    readout = ro if ro.get("enable") else None
    pool = int(inp.get("pooling", 1) or 1) if source == "core" else 1
    return ChipProgram(cores, source, tuple(int(s) for s in shape), input_cores, dvs, readout,
                       None if slow_clock_hz is None else float(slow_clock_hz), bool(leak_can_fire),
                       overflow == "saturate", max(pool, 1))


def dvs_transform(dvs: DvsProgram, ev: np.ndarray):
    """The DVS layer on an event array: returns (keep mask, feature, x, y).  Order as SPECK.md section 8: polarity
    select/merge, pooling, region of interest (origin..cut inclusive, shifted to 0,0), mirror x/y, diagonal swap."""
    p = ev["p"].astype(np.int64)
    keep = ((p == 1) & dvs.on_channel) | ((p == 0) & dvs.off_channel)
    f = np.zeros_like(p) if dvs.merge else p
    x = ev["x"].astype(np.int64) // dvs.pooling[0]
    y = ev["y"].astype(np.int64) // dvs.pooling[1]
    keep &= (x >= dvs.origin[0]) & (x <= dvs.cut[0]) & (y >= dvs.origin[1]) & (y <= dvs.cut[1])
    x, y = x - dvs.origin[0], y - dvs.origin[1]
    if dvs.mirror[0]:
        x = (dvs.cut[0] - dvs.origin[0]) - x
    if dvs.mirror[1]:
        y = (dvs.cut[1] - dvs.origin[1]) - y
    if dvs.mirror_diagonal:
        x, y = y, x
    return keep, f, x, y


# ------------------------------------------------------------------------------------------------------ the result
@dataclass
class SimResult:
    """What a simulation run produced.

    * ``output_events`` -- :data:`OUTPUT_DTYPE` (t, layer, feature, x, y): spikes of monitored cores (the exits) with
      un-pooled coordinates, and of the DVS layer (layer 13) when it is monitored; in processing order.
    * ``spike_counts[core]`` -- int64 [F, H, W], every spike of the core (before decimator and pooling).
    * ``final_state[core]`` -- int64 [F, H, W] membrane states at the end.
    * ``input_events_per_core``, ``synops_per_core``, ``spikes_per_core`` -- dict core -> int.  A synop is one
      neuron update: one per event arriving at a core and target neuron.
    * ``event_t`` (int64 [n]) and ``event_synops[core]`` (int64 [n]) -- per input event (after time sorting), its
      time and the synops it caused on each core (including its whole cascade; synops of spikes fired by leak ticks
      are counted in the row of the input event whose arrival processed the tick).  :meth:`synop_times` and
      :meth:`peak_synops_rate` work on these.
    * ``readout_events`` -- events sent to layer 12 (t, layer=12, feature, x, y); ``readout`` -- the readout
      layer's per-period counts, moving averages and classes when it is enabled and a slow clock is given.
    * ``dropped_events`` -- routed events outside their destination's input (a misconfiguration sign).
    * ``sim_seconds`` -- wall time of event processing alone.
    """

    output_events: np.ndarray
    spike_counts: dict
    final_state: dict
    input_events_per_core: dict
    synops_per_core: dict
    spikes_per_core: dict
    event_t: np.ndarray
    event_synops: dict
    readout_events: np.ndarray
    readout: dict | None = None
    dropped_events: int = 0
    sim_seconds: float = 0.0
    n_input_events: int = 0
    extra: dict = field(default_factory=dict)

    def synop_times(self, core: int) -> tuple[np.ndarray, np.ndarray]:
        """``(event_t, synops)``: for each input event, its time (us) and the synops it caused on ``core``."""
        return self.event_t, self.event_synops[core]

    def peak_synops_rate(self, core: int, window_us: int = 1000) -> float:
        """The highest synops rate (per second) of ``core`` over any window of ``window_us`` us that starts at an
        input event (synops are placed at the time of the input event that caused them)."""
        t, s = self.synop_times(core)
        if t.size == 0:
            return 0.0
        cum = np.concatenate([[0], np.cumsum(s, dtype=np.int64)])
        end = np.searchsorted(t, t + window_us, side="left")
        return float((cum[end] - cum[np.arange(t.size)]).max()) * 1e6 / window_us

    def summary(self) -> dict:
        """The figures ``snnc simulate --json`` prints."""
        return {"input_events": int(self.n_input_events), "output_events": int(len(self.output_events)),
                "sim_seconds": float(self.sim_seconds),
                "cores": [{"core": int(c), "input_events": int(self.input_events_per_core[c]),
                           "spikes": int(self.spikes_per_core[c]), "synops": int(self.synops_per_core[c])}
                          for c in sorted(self.spike_counts)]}


def readout_model(prog: ChipProgram, readout_events: np.ndarray, t_end: int) -> dict | None:
    """The readout layer (SPECK.md section 8; details [U], our model): events arriving at layer 12 are counted per
    slow-clock period for classes k = 1..15, class k listening to CNN channel 4(k-1) (speck2e/2f errata); a moving
    average over 1 (``low_pass_filter_disable``), 16 or 32 (``low_pass_filter32_not16``) periods, integer floor
    division; per period the class with the largest average if it is strictly above ``threshold``, else 0 (idle)."""
    ro = prog.readout
    if ro is None or prog.slow_clock_hz is None:
        return None
    hz = prog.slow_clock_hz
    n_periods = int(math.floor(t_end * hz / 1e6)) + 1
    counts = np.zeros((n_periods, 15), np.int64)
    f = readout_events["feature"].astype(np.int64)
    sel = (f % 4 == 0) & (f // 4 < 15)
    per = np.floor(readout_events["t"][sel] * hz / 1e6).astype(np.int64)
    np.add.at(counts, (per, f[sel] // 4), 1)
    win = 1 if ro.get("low_pass_filter_disable") else (32 if ro.get("low_pass_filter32_not16") else 16)
    cum = np.concatenate([np.zeros((1, 15), np.int64), np.cumsum(counts, axis=0)])
    idx = np.arange(n_periods)
    avg = (cum[idx + 1] - cum[np.maximum(idx + 1 - win, 0)]) // win
    best = avg.argmax(axis=1)
    cls = np.where(avg[idx, best] > int(ro.get("threshold", 0)), best + 1, 0)
    return {"period_us": 1e6 / hz, "window": win, "counts": counts, "average": avg, "class": cls}


# -------------------------------------------------------------------------------------------------- the fast kernel
_P_FIELDS = ("in_c", "in_h", "in_w", "out_f", "out_h", "out_w", "k", "sy", "sx", "py", "px", "thh", "thl", "rtz",
             "mon", "dec_n", "n_dest", "d0_layer", "d0_pool", "d0_shift", "d1_layer", "d1_pool", "d1_shift",
             "w_off", "s_off", "used", "leak", "col")
_P = {name: i for i, name in enumerate(_P_FIELDS)}

(IN_C, IN_H, IN_W, OUT_F, OUT_H, OUT_W, K, SY, SX, PY, PX, THH, THL, RTZ, MON, DEC_N, N_DEST, D0_LAYER, D0_POOL,
 D0_SHIFT, D1_LAYER, D1_POOL, D1_SHIFT, W_OFF, S_OFF, USED, LEAK, COL) = range(len(_P_FIELDS))
# the neuron rules of runtime/neuron.py, compiled (the same source the reference simulator calls)
integrate = numba.njit(cache=True, inline="always")(neuron.integrate)
fire = numba.njit(cache=True, inline="always")(neuron.fire)
RO = READOUT_LAYER
# stack frame columns: core, c, x, y, o, oy, ox (next target), oy0, oy1, ox0, ox1 (target ranges)

@numba.njit(cache=True)
def _grow(buf, n):
    if n < buf.shape[0]:
        return buf
    new = np.empty((buf.shape[0] * 2, buf.shape[1]), buf.dtype)
    new[:n] = buf[:n]
    return new

@numba.njit(cache=True)
def _push(P, stack, sp, core, c, x, y, t, row, in_ev, synops, ev_syn, out, n_out, dropped):
    """Deliver event (c, x, y) to ``core``: push a frame (or record it when core is the readout)."""
    if core == RO:
        out = _grow(out, n_out)
        out[n_out, 0] = t
        out[n_out, 1] = RO
        out[n_out, 2] = c
        out[n_out, 3] = x
        out[n_out, 4] = y
        return sp, out, n_out + 1, dropped
    if c < 0 or c >= P[core, IN_C] or x < 0 or x >= P[core, IN_W] or y < 0 or y >= P[core, IN_H]:
        return sp, out, n_out, dropped + 1
    k = P[core, K]
    sx = P[core, SX]
    sy = P[core, SY]
    ax = x + P[core, PX]
    ay = y + P[core, PY]
    ox0 = -((k - 1 - ax) // sx)  # ceil((ax - k + 1) / sx)
    if ox0 < 0:
        ox0 = 0
    ox1 = ax // sx
    if ox1 > P[core, OUT_W] - 1:
        ox1 = P[core, OUT_W] - 1
    oy0 = -((k - 1 - ay) // sy)
    if oy0 < 0:
        oy0 = 0
    oy1 = ay // sy
    if oy1 > P[core, OUT_H] - 1:
        oy1 = P[core, OUT_H] - 1
    in_ev[core] += 1
    if ox1 < ox0 or oy1 < oy0:
        return sp, out, n_out, dropped
    n = P[core, OUT_F] * (oy1 - oy0 + 1) * (ox1 - ox0 + 1)
    synops[core] += n
    ev_syn[row, P[core, COL]] += n
    if sp >= stack.shape[0]:
        return -1, out, n_out, dropped
    stack[sp, 0] = core
    stack[sp, 1] = c
    stack[sp, 2] = x
    stack[sp, 3] = y
    stack[sp, 4] = 0
    stack[sp, 5] = oy0
    stack[sp, 6] = ox0
    stack[sp, 7] = oy0
    stack[sp, 8] = oy1
    stack[sp, 9] = ox0
    stack[sp, 10] = ox1
    return sp + 1, out, n_out, dropped

@numba.njit(cache=True)
def _emit(P, stack, sp, core, o, oy, ox, t, row, counts, dec, spikes, in_ev, synops, ev_syn, out, n_out,
          dropped):
    """A neuron of ``core`` spiked: count, decimate, monitor, push its destinations (1 first, so 0 runs first)."""
    counts[P[core, S_OFF] + (o * P[core, OUT_H] + oy) * P[core, OUT_W] + ox] += 1
    spikes[core] += 1
    if P[core, DEC_N] > 0:
        dec[core] += 1
        if dec[core] < P[core, DEC_N]:
            return sp, out, n_out, dropped
        dec[core] = 0
    if P[core, MON] != 0:
        out = _grow(out, n_out)
        out[n_out, 0] = t
        out[n_out, 1] = core
        out[n_out, 2] = o
        out[n_out, 3] = ox
        out[n_out, 4] = oy
        n_out += 1
    for d in range(P[core, N_DEST] - 1, -1, -1):
        base = D0_LAYER + 3 * d
        layer = P[core, base]
        pool = P[core, base + 1]
        f = o + P[core, base + 2]
        if layer == RO:  # a deferred record: a frame with core = RO
            if sp >= stack.shape[0]:
                return -1, out, n_out, dropped
            stack[sp, 0] = RO
            stack[sp, 1] = f
            stack[sp, 2] = ox // pool
            stack[sp, 3] = oy // pool
            sp += 1
        else:
            sp, out, n_out, dropped = _push(P, stack, sp, layer, f, ox // pool, oy // pool, t, row, in_ev,
                                            synops, ev_syn, out, n_out, dropped)
            if sp < 0:
                return sp, out, n_out, dropped
    return sp, out, n_out, dropped

@numba.njit(cache=True)
def _drain(P, W, S, stack, sp, t, row, sat, counts, dec, spikes, in_ev, synops, ev_syn, out, n_out, dropped):
    """Run the stack of pending deliveries to completion, depth-first."""
    while sp > 0:
        fr = sp - 1
        core = stack[fr, 0]
        c = stack[fr, 1]
        x = stack[fr, 2]
        y = stack[fr, 3]
        if core == RO:
            sp -= 1
            sp2, out, n_out, dropped = _push(P, stack, sp, RO, c, x, y, t, row, in_ev, synops, ev_syn, out,
                                             n_out, dropped)
            continue
        o = stack[fr, 4]
        oy = stack[fr, 5]
        ox = stack[fr, 6]
        oy0 = stack[fr, 7]
        oy1 = stack[fr, 8]
        ox0 = stack[fr, 9]
        ox1 = stack[fr, 10]
        F = P[core, OUT_F]
        k = P[core, K]
        sx = P[core, SX]
        sy = P[core, SY]
        ax = x + P[core, PX]
        ay = y + P[core, PY]
        oh = P[core, OUT_H]
        ow = P[core, OUT_W]
        thh = P[core, THH]
        thl = P[core, THL]
        rtz = P[core, RTZ] != 0
        wbase = P[core, W_OFF] + c * F * k * k
        sbase = P[core, S_OFF]
        fired = False
        so = 0
        soy = 0
        sox = 0
        while o < F:
            while oy <= oy1:
                wrow = wbase + (o * k + (ay - oy * sy)) * k + ax
                srow = sbase + (o * oh + oy) * ow
                while ox <= ox1:
                    v = integrate(S[srow + ox], W[wrow - ox * sx], thl, sat)
                    v, s = fire(v, thh, rtz)
                    S[srow + ox] = v
                    ox += 1
                    if s:
                        fired = True
                        break
                if fired:
                    so = o
                    soy = oy
                    sox = ox - 1
                    break
                ox = ox0
                oy += 1
            if fired:
                break
            oy = oy0
            o += 1
        if not fired:
            sp -= 1
            continue
        stack[fr, 4] = o
        stack[fr, 5] = oy
        stack[fr, 6] = ox
        sp, out, n_out, dropped = _emit(P, stack, sp, core, so, soy, sox, t, row, counts, dec, spikes, in_ev,
                                        synops, ev_syn, out, n_out, dropped)
        if sp < 0:
            return sp, out, n_out, dropped
    return sp, out, n_out, dropped

@numba.njit(cache=True)
def run_kernel(P, W, S, B, counts, dec, ev_t, ev_c, ev_x, ev_y, ev_ok, ev_mon, entry, sat, leak_hz, leak_fire,
               leak_cores, ev_syn, in_ev, synops, spikes, out, stack):
    n_out = 0
    dropped = 0
    ticks_done = 0
    for i in range(ev_t.shape[0]):
        t = ev_t[i]
        if leak_hz > 0.0:
            due = np.int64(np.floor(t * leak_hz / 1e6))
            while ticks_done < due:
                ticks_done += 1
                tt = np.int64(np.ceil(ticks_done * 1e6 / leak_hz))
                for li in range(leak_cores.shape[0]):
                    core = leak_cores[li]
                    oh = P[core, OUT_H]
                    ow = P[core, OUT_W]
                    thl = P[core, THL]
                    thh = P[core, THH]
                    rtz = P[core, RTZ] != 0
                    for o in range(P[core, OUT_F]):
                        b = B[core, o]
                        for yy in range(oh):
                            for xx in range(ow):
                                idx = P[core, S_OFF] + (o * oh + yy) * ow + xx
                                v = integrate(S[idx], b, thl, sat)
                                if leak_fire:
                                    v, s = fire(v, thh, rtz)
                                    S[idx] = v
                                    if s:
                                        sp, out, n_out, dropped = _emit(P, stack, 0, core, o, yy, xx, tt, i,
                                                                        counts, dec, spikes, in_ev, synops,
                                                                        ev_syn, out, n_out, dropped)
                                        if sp < 0:
                                            return -1, out, n_out, dropped
                                        sp, out, n_out, dropped = _drain(P, W, S, stack, sp, tt, i, sat, counts,
                                                                         dec, spikes, in_ev, synops, ev_syn, out,
                                                                         n_out, dropped)
                                        if sp < 0:
                                            return -1, out, n_out, dropped
                                else:
                                    S[idx] = v
        if not ev_ok[i]:
            continue
        if ev_mon[i]:
            out = _grow(out, n_out)
            out[n_out, 0] = t
            out[n_out, 1] = 13
            out[n_out, 2] = ev_c[i]
            out[n_out, 3] = ev_x[i]
            out[n_out, 4] = ev_y[i]
            n_out += 1
        for e in range(entry.shape[0]):
            sp, out, n_out, dropped = _push(P, stack, 0, entry[e], ev_c[i], ev_x[i], ev_y[i], t, i, in_ev,
                                            synops, ev_syn, out, n_out, dropped)
            if sp < 0:
                return -1, out, n_out, dropped
            sp, out, n_out, dropped = _drain(P, W, S, stack, sp, t, i, sat, counts, dec, spikes, in_ev, synops,
                                             ev_syn, out, n_out, dropped)
            if sp < 0:
                return -1, out, n_out, dropped
    return 0, out, n_out, dropped



def _get_kernel():
    return run_kernel


STACK_LIMIT = 1 << 16


def split_outputs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (t, layer, feature, x, y) -> (output events, readout events) as :data:`OUTPUT_DTYPE` arrays."""
    arr = np.empty(len(rows), OUTPUT_DTYPE)
    for j, name in enumerate(OUTPUT_DTYPE.names):
        arr[name] = rows[:, j] if len(rows) else []
    ro = arr["layer"] == READOUT_LAYER
    return arr[~ro], arr[ro]


class Simulator:
    """The fast simulator.  Build it with :meth:`from_config`; :meth:`run` simulates an event stream from the
    configuration's initial states (each call starts afresh)."""

    def __init__(self, program: ChipProgram):
        self.program = program

    @classmethod
    def from_config(cls, config, overflow: str = "saturate", slow_clock_hz: float | None = None,
                    leak_can_fire: bool | None = None, reference: bool = False):
        """Build a simulator from a configuration file path or dict (docs/config-format.md).

        ``overflow``: ``"saturate"`` (default) or ``"wrap"`` for the int16 state.  ``slow_clock_hz``: the slow
        clock driving leak ticks (required when a core has ``leak_enable``; default from ``snnc.simulator``).
        ``leak_can_fire``: whether a leak tick can make a neuron spike (default False).  ``reference=True`` returns
        the plain-Python reference simulator instead (same interface, slow)."""
        prog = parse_config(config, overflow=overflow, slow_clock_hz=slow_clock_hz, leak_can_fire=leak_can_fire)
        if reference:
            from .reference_sim import ReferenceSimulator

            return ReferenceSimulator(prog)
        return cls(prog)

    def prepare_events(self, events) -> np.ndarray:
        """Check and sort the input events against the configuration's input (see :func:`load_events`)."""
        return load_events(events, shape=self.program.input_shape)

    def run(self, events) -> SimResult:
        prog = self.program
        ev = self.prepare_events(events)
        n = len(ev)
        used = sorted(prog.cores)
        P = np.zeros((max(N_CORES, READOUT_LAYER + 1), len(_P_FIELDS)), np.int64)
        w_parts, s_parts = [], []
        w_off = s_off = 0
        B = np.zeros((P.shape[0], max(c.out_shape[0] for c in prog.cores.values())), np.int64)
        for col, ci in enumerate(used):
            c = prog.cores[ci]
            F, oh, ow = c.out_shape
            row = P[ci]
            vals = dict(in_c=c.in_shape[0], in_h=c.in_shape[1], in_w=c.in_shape[2], out_f=F, out_h=oh, out_w=ow,
                        k=c.kernel, sy=c.stride[0], sx=c.stride[1], py=c.padding[0], px=c.padding[1],
                        thh=c.threshold_high, thl=c.threshold_low, rtz=int(c.return_to_zero), mon=int(c.monitor),
                        dec_n=c.decimator, n_dest=len(c.destinations), w_off=w_off, s_off=s_off, used=1,
                        leak=int(c.leak_enable), col=col)
            for j, (layer, pool, shift) in enumerate(c.destinations[:2]):
                vals[f"d{j}_layer"], vals[f"d{j}_pool"], vals[f"d{j}_shift"] = layer, pool, shift
            for k, v in vals.items():
                row[_P[k]] = v
            w_parts.append(c.weights.transpose(1, 0, 2, 3).ravel())  # [c][o][ky][kx]
            s_parts.append(c.v_init.ravel())
            B[ci, :F] = c.biases
            w_off += c.weights.size
            s_off += c.v_init.size
        W = np.concatenate(w_parts).astype(np.int64)
        S = np.concatenate(s_parts).astype(np.int64)
        counts = np.zeros_like(S)
        if prog.input_source == "dvs":
            ok, f, x, y = dvs_transform(prog.dvs, ev)
            mon = ok & prog.dvs.monitor
        else:
            ok = np.ones(n, bool)
            f = ev["p"].astype(np.int64)
            x = ev["x"].astype(np.int64) // prog.input_pooling
            y = ev["y"].astype(np.int64) // prog.input_pooling
            mon = np.zeros(n, bool)
        entry = np.asarray(prog.input_cores, np.int64)
        leak_cores = np.asarray([c for c in used if prog.cores[c].leak_enable], np.int64)
        leak_hz = prog.slow_clock_hz if (prog.slow_clock_hz and len(leak_cores)) else 0.0
        ev_syn = np.zeros((n, len(used)), np.int64)
        in_ev = np.zeros(P.shape[0], np.int64)
        synops = np.zeros(P.shape[0], np.int64)
        spikes = np.zeros(P.shape[0], np.int64)
        dec = np.zeros(P.shape[0], np.int64)
        out = np.empty((1024, 5), np.int64)
        stack = np.empty((STACK_LIMIT, 11), np.int64)
        kernel = _get_kernel()
        # a call with no events first: numba loads (or compiles) the kernel on its first call, which is not event
        # processing and must not count in sim_seconds
        e0 = np.zeros(0, np.int64)
        kernel(P, W, S.copy(), B, counts.copy(), dec.copy(), e0, e0, e0, e0, np.zeros(0, bool), np.zeros(0, bool),
               entry, prog.saturate, 0.0, prog.leak_can_fire, leak_cores, ev_syn[:0], in_ev.copy(), synops.copy(),
               spikes.copy(), out.copy(), stack)
        t0 = time.perf_counter()
        rc, out, n_out, dropped = kernel(P, W, S, B, counts, dec, ev["t"].astype(np.int64), f, x, y, ok, mon, entry,
                                         prog.saturate, float(leak_hz), prog.leak_can_fire, leak_cores, ev_syn,
                                         in_ev, synops, spikes, out, stack)
        sim_seconds = time.perf_counter() - t0
        if rc < 0:
            raise SnncError(f"simulation: the cascade of one input event grew deeper than {STACK_LIMIT} pending "
                            "events; the configuration probably has a recurrent loop that keeps firing")
        outputs, ro_events = split_outputs(out[:n_out])
        spike_counts, final = {}, {}
        for ci in used:
            c = prog.cores[ci]
            o, sz = P[ci, _P["s_off"]], c.v_init.size
            spike_counts[ci] = counts[o:o + sz].reshape(c.out_shape).copy()
            final[ci] = S[o:o + sz].reshape(c.out_shape).copy()
        t_end = int(ev["t"][-1]) if n else 0
        return SimResult(outputs, spike_counts, final, {c: int(in_ev[c]) for c in used},
                         {c: int(synops[c]) for c in used}, {c: int(spikes[c]) for c in used},
                         ev["t"].astype(np.int64), {c: ev_syn[:, j] for j, c in enumerate(used)}, ro_events,
                         readout_model(prog, ro_events, t_end), int(dropped), sim_seconds, n)


def simulate(config, events, **options) -> SimResult:
    """Build a simulator from ``config`` and run ``events`` through it (options as :meth:`Simulator.from_config`)."""
    return Simulator.from_config(config, **options).run(events)
