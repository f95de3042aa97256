"""The fast simulator's driver: packs a :class:`SimProgram` into the kernel's arrays, runs the numba kernel on an
event stream and collects a :class:`SimResult`."""
from __future__ import annotations

import time

import numpy as np

from ...compiler.errors import SnncError
from ..events import load_events
from .budget import B_EVENT, RC_LEAK, RC_RUNAWAY, check_limit, leak_work_error, new_budget, runaway_error
from .kernel import (_P, _P_FIELDS, C_DROP, C_OUT, DVS, LOG, RO, STACK_LIMIT, fired_capacity, flags_capacity, kx_position,
                     run_kernel)
from .program import SimProgram, SimDvs, program_from_config
from .reference import ReferenceSimulator
from .result import OUTPUT_DTYPE, SimResult, readout_model, split_outputs, trace_array


def kx_order(k: int, sx: int) -> list[int]:
    """The kernel columns in the order the kernel stores them (``kernel.kx_position``)."""
    order = [0] * k
    for kx in range(k):
        order[kx_position(kx, k, sx)] = kx
    return order


def check_ranges(chip) -> None:
    """The kernel keeps states in int16 and weights in int8 and computes in 32 bits (``kernel.lane``): true of
    every Speck target; a target with wider numbers would need a wider kernel."""
    for what, (lo, hi), t in (("state", chip.state_range, np.int16), ("threshold", chip.threshold_range, np.int16),
                              ("weight", chip.weight_range, np.int8)):
        if lo < np.iinfo(t).min or hi > np.iinfo(t).max:
            raise SnncError(f"the fast simulator keeps {what}s in {np.dtype(t).name}, but {chip.name}'s range is "
                            f"{lo}..{hi}; use the reference simulator (--reference)")


def on_a_loop(destinations: dict[int, list[int]]) -> set[int]:
    """The cores that can reach themselves through their destinations (``{core: [destination layer, ...]}``;
    layers that are not keys, such as the readout, end a path)."""
    loop = set()
    for start in destinations:
        seen, todo = set(), list(destinations[start])
        while todo:
            n = todo.pop()
            if n == start:
                loop.add(start)
                break
            if n in destinations and n not in seen:
                seen.add(n)
                todo.extend(destinations[n])
    return loop


def dvs_transform(dvs: SimDvs, ev: np.ndarray):
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


class Simulator:
    """The fast simulator.  Build it with :meth:`from_config`; :meth:`run` simulates an event stream from the
    configuration's initial states (each call starts afresh)."""

    def __init__(self, program: SimProgram):
        self.program = program
        self._out_per_event = 0.25  # output rows per input event in the last run: the next run's first guess

    @classmethod
    def from_config(cls, config, overflow: str = "saturate", slow_clock_hz: float | None = None,
                    leak_can_fire: bool | None = None, reference: bool = False, max_events: int | None = None,
                    max_total_events: int | None = None):
        """Build a simulator from a configuration file path or dict (docs/config-format.md).

        ``overflow``: ``"saturate"`` (default) or ``"wrap"`` for the int16 state.  ``slow_clock_hz``: the slow
        clock driving leak ticks (required when a core has ``leak_enable``; default from ``snnc.simulator``).
        ``leak_can_fire``: whether a leak tick can make a neuron spike (default False).  ``reference=True`` returns
        the plain-Python reference simulator instead (same interface, slow).  ``max_events`` / ``max_total_events``:
        the most spikes one input event / the whole run may cause before the run stops with ``RunawayActivity``
        (exit 1); the defaults are far above any sound network (``budget.new_budget``, docs/limits.md)."""
        check_limit("max_events", max_events)
        check_limit("max_total_events", max_total_events)
        prog = program_from_config(config, overflow=overflow, slow_clock_hz=slow_clock_hz,
                                   leak_can_fire=leak_can_fire)
        prog.max_events, prog.max_total_events = max_events, max_total_events
        if reference:
            return ReferenceSimulator(prog)
        return cls(prog)

    def prepare_events(self, events) -> np.ndarray:
        """Check and sort the input events against the configuration's input (see :func:`load_events`)."""
        return load_events(events, shape=self.program.input_shape)

    def _dvs_only(self, ev: np.ndarray) -> SimResult:
        return _dvs_only_result(self.program, ev)

    def run(self, events, trace: bool = False, spikes: bool = False, _trace_rows: int | None = None,
            _out_rows: int | None = None) -> SimResult:
        """Simulate ``events``.  ``trace=True`` also records every delivery (one event arriving at a core) in
        processing order as ``SimResult.trace`` (:data:`TRACE_DTYPE`); ``spikes=True`` records every spike of every
        core (before its decimator) as ``SimResult.spike_log``; the other results are the same either way."""
        prog = self.program
        log_spikes = bool(spikes)  # (``spikes`` below is the kernel's per-core spike counter)
        ev = self.prepare_events(events)
        n = len(ev)
        used = sorted(prog.cores)
        chip = prog.target
        if not used:
            res = self._dvs_only(ev)
            if trace:  # no core, no delivery
                res.trace = trace_array(np.zeros((0, 5), np.int64))
            if log_spikes:
                res.spike_log = np.empty(0, OUTPUT_DTYPE)
            return res
        check_ranges(chip)
        P = np.zeros((chip.n_cores, len(_P_FIELDS)), np.int64)
        w_parts, s_parts = [], []
        w_off = s_off = 0
        B = np.zeros((P.shape[0], max(c.out_shape[0] for c in prog.cores.values())), np.int64)
        cyclic = on_a_loop({ci: [d[0] for d in prog.cores[ci].destinations] for ci in used})
        for col, ci in enumerate(used):
            c = prog.cores[ci]
            F, oh, ow = c.out_shape
            row = P[ci]
            for what, v in (("threshold_high", c.threshold_high), ("threshold_low", c.threshold_low)):
                if not -2 ** 15 <= v < 2 ** 15:  # (a program built by hand: configurations are checked on loading)
                    raise SnncError(f"core {ci}: {what} = {v} is outside the int16 range the chip holds")
            vals = dict(in_c=c.in_shape[0], in_h=c.in_shape[1], in_w=c.in_shape[2], out_f=F, out_h=oh, out_w=ow,
                        k=c.kernel, sy=c.stride[0], sx=c.stride[1], py=c.padding[0], px=c.padding[1],
                        thh=c.threshold_high, thl=c.threshold_low, rtz=int(c.return_to_zero),
                        mon=int(c.monitor) | (2 if log_spikes else 0),
                        dec_n=c.decimator, n_dest=len(c.destinations), w_off=w_off, s_off=s_off, used=1,
                        leak=int(c.leak_enable), col=col, cyc=int(ci in cyclic))
            for j, (layer, pool, shift) in enumerate(c.destinations[:2]):
                layer = RO if layer == chip.readout_layer else layer
                vals[f"d{j}_layer"], vals[f"d{j}_pool"], vals[f"d{j}_shift"] = layer, pool, shift
            for k, v in vals.items():
                row[_P[k]] = v
            w_parts.append(c.weights.transpose(1, 2, 3, 0)[:, :, kx_order(c.kernel, c.stride[1]), :].ravel())
            s_parts.append(c.v_init.transpose(1, 2, 0).ravel())  # [y][x][o] (kernel.state_index)
            B[ci, :F] = c.biases
            w_off += c.weights.size
            s_off += c.v_init.size
        W = np.concatenate(w_parts).astype(np.int8)
        S = np.concatenate(s_parts).astype(np.int16)
        counts = np.zeros(S.shape, np.int64)
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
        ev_syn = np.empty((n, len(used)), np.int64)
        ev_syn.fill(0)  # written here, not at its first touch inside the timed kernel (page faults: not events)
        in_ev = np.zeros(P.shape[0], np.int64)
        synops = np.zeros(P.shape[0], np.int64)
        spikes = np.zeros(P.shape[0], np.int64)
        dec = np.zeros(P.shape[0], np.int64)
        # output rows: room for a guess; when the run makes more, it counts them and runs again with room for all
        out = np.empty((_out_rows if _out_rows is not None else int(self._out_per_event * n * 1.25) + 1024, 5),
                       np.int64)
        ctr = np.zeros(2, np.int64)
        stack = np.empty((STACK_LIMIT, 14), np.int64)
        fired = np.empty(fired_capacity(P), np.int64)
        flags = np.empty(flags_capacity(P), np.uint8)
        cap = (_trace_rows if _trace_rows is not None else 8 * n + 1024) if trace else 0
        tr = np.zeros((cap, 5), np.int64)
        trn = np.array([0, 0, int(bool(trace))], np.int64)
        kernel = run_kernel
        # a call with no events first: numba loads (or compiles) the kernel on its first call, which is not event
        # processing and must not count in sim_seconds
        e0 = np.zeros(0, np.int64)
        budget = new_budget(prog, n)
        kernel(P, W, S.copy(), B, counts.copy(), dec.copy(), e0, e0, e0, e0, np.zeros(0, bool), np.zeros(0, bool),
               entry, prog.saturate, 0.0, prog.leak_can_fire, leak_cores, ev_syn[:0], in_ev.copy(), synops.copy(),
               spikes.copy(), out[:0], ctr.copy(), stack, fired, flags, tr[:0], np.zeros(3, np.int64), budget.copy())
        t0 = time.perf_counter()
        rc = kernel(P, W, S, B, counts, dec, ev["t"].astype(np.int64), f, x, y, ok, mon, entry, prog.saturate,
                    float(leak_hz), prog.leak_can_fire, leak_cores, ev_syn, in_ev, synops, spikes, out, ctr, stack,
                    fired, flags, tr, trn, budget)
        sim_seconds = time.perf_counter() - t0
        n_out, dropped = int(ctr[C_OUT]), int(ctr[C_DROP])
        if rc == RC_RUNAWAY:
            i = int(budget[B_EVENT])
            raise runaway_error(prog, budget, {c: int(in_ev[c]) for c in used}, {c: int(spikes[c]) for c in used},
                                i, int(ev["t"][i]))
        if rc == RC_LEAK:
            raise leak_work_error(prog, budget)
        if rc < 0:
            raise SnncError(f"simulation: the cascade of one input event grew deeper than {STACK_LIMIT} pending "
                            "events; the configuration probably has a recurrent loop that keeps firing")
        self._out_per_event = n_out / max(n, 1)
        if (trace and trn[1]) or n_out > len(out):  # the trace or the outputs outgrew their buffers: run again
            return self.run(events, trace=trace, spikes=log_spikes, _trace_rows=int(trn[0]) if trace else None,
                            _out_rows=n_out)
        rows = out[:n_out]
        log = rows[:, 1] <= LOG
        spike_log = None
        if log_spikes:
            spike_log = np.empty(int(log.sum()), OUTPUT_DTYPE)
            lr = rows[log]
            for j, name in enumerate(OUTPUT_DTYPE.names):
                spike_log[name] = LOG - lr[:, 1] if name == "layer" else lr[:, j]
            rows = rows[~log]
        rows[rows[:, 1] == RO, 1] = chip.readout_layer
        rows[rows[:, 1] == DVS, 1] = chip.dvs_layer
        outputs, ro_events = split_outputs(rows, chip.readout_layer, prog.channel_offset)
        spike_counts, final = {}, {}
        for ci in used:
            c = prog.cores[ci]
            o, sz = P[ci, _P["s_off"]], c.v_init.size
            F, oh, ow = c.out_shape
            spike_counts[ci] = np.ascontiguousarray(counts[o:o + sz].reshape(oh, ow, F).transpose(2, 0, 1))
            final[ci] = np.ascontiguousarray(S[o:o + sz].reshape(oh, ow, F).transpose(2, 0, 1)).astype(np.int64)
        t_end = int(ev["t"][-1]) if n else 0
        return SimResult(outputs, spike_counts, final, {c: int(in_ev[c]) for c in used},
                         {c: int(synops[c]) for c in used}, {c: int(spikes[c]) for c in used},
                         ev["t"].astype(np.int64), {c: ev_syn[:, j] for j, c in enumerate(used)}, ro_events,
                         readout_model(prog, ro_events, t_end), int(dropped), sim_seconds, n,
                         trace=trace_array(tr[:trn[0]]) if trace else None, spike_log=spike_log)


def _dvs_only_result(prog: SimProgram, ev: np.ndarray) -> SimResult:
    """A configuration that uses only the DVS layer (monitored): its output events, no core."""
    t0 = time.perf_counter()
    ok, f, x, y = dvs_transform(prog.dvs, ev)
    rows = np.stack([ev["t"].astype(np.int64), np.full(len(ev), prog.target.dvs_layer, np.int64), f, x, y],
                    axis=1)[ok]
    outputs, ro_events = split_outputs(rows, prog.target.readout_layer)
    t_end = int(ev["t"][-1]) if len(ev) else 0
    return SimResult(outputs, {}, {}, {}, {}, {}, ev["t"].astype(np.int64), {}, ro_events,
                     readout_model(prog, ro_events, t_end), 0, time.perf_counter() - t0, len(ev))


def simulate(config, events, **options) -> SimResult:
    """Build a simulator from ``config`` and run ``events`` through it (options as :meth:`Simulator.from_config`)."""
    return Simulator.from_config(config, **options).run(events)
