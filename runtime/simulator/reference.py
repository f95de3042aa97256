"""The reference simulator: the chip's rules in plain Python, one event at a time, written to be read beside
SPECK.md section 5.  Slow (about 10^5 neuron updates per second) and meant for tests: the fast simulator
(``driver.py`` and ``kernel.py`` here) must give exactly the same output events, in the same order, and the same
final states.  The processing order it follows is stated in ``snnc.runtime.simulator``'s docstring and
docs/simulator.md.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ...compiler.errors import SnncError
from ..events import load_events
from ..neuron import INT16_MIN, fire, integrate, leak_ticks
from .budget import (B_COUNT, B_EVENT, B_LEAK, B_LEAK_LIMIT, B_PER_EVENT, B_START, B_TOTAL, leak_work_error,
                     new_budget, runaway_error)
from .program import SimProgram
from .result import SimResult, readout_model, split_outputs, trace_array

MAX_DEPTH = 10_000


class _Stop(Exception):
    """The spike budget is spent (see ``budget.py``): unwinds the cascade."""


class ReferenceSimulator:
    """Same interface as :class:`snnc.runtime.simulator.Simulator`: ``run(events) -> SimResult``."""

    def __init__(self, program: SimProgram):
        self.program = program

    def prepare_events(self, events):
        return load_events(events, shape=self.program.input_shape)

    # --- the chip's rules -------------------------------------------------------------------------------------
    def _targets(self, core, c, x, y):
        """Every output neuron (o, oy, ox) that input (c, x, y) reaches, with its kernel offset (ky, kx):
        ``x + px - kx = ox * sx`` and ``y + py - ky = oy * sy`` with exact division, inside the output map;
        in ascending (o, oy, ox) order."""
        L = self.program.cores[core]
        F, oh, ow = L.out_shape
        (sy, sx), (py, px), k = L.stride, L.padding, L.kernel
        hits = []
        for ky in range(k):
            for kx in range(k):
                ny, nx = y + py - ky, x + px - kx
                if ny % sy or nx % sx:
                    continue
                oy, ox = ny // sy, nx // sx
                if 0 <= oy < oh and 0 <= ox < ow:
                    hits.append((oy, ox, ky, kx))
        hits.sort()
        return [(o, oy, ox, ky, kx) for o in range(F) for (oy, ox, ky, kx) in hits]

    def _deliver(self, core, c, x, y, t, depth=0, parent=-1):
        """One event (feature c at x, y) arrives at ``core`` (or the readout layer)."""
        if depth > MAX_DEPTH:
            raise SnncError("simulation: cascade too deep; the configuration probably has a recurrent loop")
        if core == self.program.target.readout_layer:
            self.rows.append((t, core, c, x, y))
            return
        L = self.program.cores[core]
        C, H, W = L.in_shape
        if not (0 <= c < C and 0 <= x < W and 0 <= y < H):
            self.dropped += 1
            return
        self.in_events[core] += 1
        V = self.state[core]
        targets = self._targets(core, c, x, y)
        me = len(self.trace)  # the trace row of this delivery; parent: the delivery whose spike sent it, or -1
        self.trace.append([t, core, len(targets), parent, 0])
        for o, oy, ox, ky, kx in targets:
            self.synops[core] += 1
            self.row_synops[core] += 1
            v = integrate(int(V[o, oy, ox]), int(L.weights[o, c, ky, kx]), L.threshold_low, self.program.saturate)
            v, spiked = fire(v, L.threshold_high, L.return_to_zero)
            V[o, oy, ox] = v
            if spiked:
                self._spike(core, o, ox, oy, t, depth, me)

    def _spike(self, core, o, x, y, t, depth, src=-1):
        """Neuron (o, y, x) of ``core`` fired: count, decimate, monitor, route to destinations 0 then 1."""
        L = self.program.cores[core]
        self.counts[core][o, y, x] += 1
        b = self.budget
        b[B_COUNT] += 1
        if b[B_COUNT] - b[B_START] > b[B_PER_EVENT] or b[B_COUNT] > b[B_TOTAL]:
            raise _Stop
        self.spike_rows.append((t, core, o, x, y))  # the spike log: every spike, before the decimator
        if L.decimator:
            self.decimator[core] += 1
            if self.decimator[core] < L.decimator:
                return
            self.decimator[core] = 0
        if L.monitor:
            self.rows.append((t, core, o, x, y))  # monitored spikes keep un-pooled coordinates
            if src >= 0:
                self.trace[src][4] += 1
        for layer, pool, shift in L.destinations:
            self._deliver(layer, o + shift, x // pool, y // pool, t, depth + 1, src)

    def _leak_tick(self, t) -> bool:
        """One slow-clock tick that may fire (``leak_can_fire``): every leaking core adds its biases to all its
        neurons, each then tested for a spike.  Returns whether anything changed (else the tick is a fixed point)."""
        changed = False
        for core in sorted(self.program.cores):
            L = self.program.cores[core]
            if not L.leak_enable:
                continue
            F, H, W = L.out_shape
            self.budget[B_LEAK] += F * H * W
            if self.budget[B_LEAK] > self.budget[B_LEAK_LIMIT]:
                raise leak_work_error(self.program, self.budget)
            for o in range(F):
                for y in range(H):
                    for x in range(W):
                        v0 = int(self.state[core][o, y, x])
                        v = integrate(v0, int(L.biases[o]), L.threshold_low, self.program.saturate)
                        v, spiked = fire(v, L.threshold_high, L.return_to_zero)
                        self.state[core][o, y, x] = v
                        changed = changed or spiked or v != v0
                        if spiked:
                            self._spike(core, o, x, y, t, 0)
        return changed

    def _leak_quiet(self, n):
        """``n`` ticks that cannot fire: each neuron's ``n`` updates at once (``neuron.leak_ticks``)."""
        prog = self.program
        for core in sorted(prog.cores):
            L = prog.cores[core]
            if not L.leak_enable:
                continue
            F, H, W = L.out_shape
            if not prog.saturate and L.threshold_low > INT16_MIN:  # no closed form: n updates per neuron
                if n > (self.budget[B_LEAK_LIMIT] - self.budget[B_LEAK]) // (F * H * W):
                    raise leak_work_error(prog, self.budget)
                self.budget[B_LEAK] += n * F * H * W
            for o in range(F):
                for y in range(H):
                    for x in range(W):
                        self.state[core][o, y, x] = leak_ticks(int(self.state[core][o, y, x]), int(L.biases[o]),
                                                               L.threshold_low, n, prog.saturate)

    def _dvs(self, e):
        """The DVS layer on one event: None if filtered out, else (feature, x, y)."""
        d = self.program.dvs
        p = int(e["p"])
        if (p == 1 and not d.on_channel) or (p == 0 and not d.off_channel) or p not in (0, 1):
            return None
        f = 0 if d.merge else p
        x, y = int(e["x"]) // d.pooling[0], int(e["y"]) // d.pooling[1]
        if not (d.origin[0] <= x <= d.cut[0] and d.origin[1] <= y <= d.cut[1]):
            return None
        x, y = x - d.origin[0], y - d.origin[1]
        if d.mirror[0]:
            x = d.cut[0] - d.origin[0] - x
        if d.mirror[1]:
            y = d.cut[1] - d.origin[1] - y
        if d.mirror_diagonal:
            x, y = y, x
        return f, x, y

    # --- driver -----------------------------------------------------------------------------------------------
    def run(self, events, trace: bool = False, spikes: bool = False) -> SimResult:
        prog = self.program
        ev = self.prepare_events(events)
        used = sorted(prog.cores)
        self.state = {c: prog.cores[c].v_init.astype(np.int64).copy() for c in used}
        self.counts = {c: np.zeros(prog.cores[c].out_shape, np.int64) for c in used}
        self.in_events = {c: 0 for c in used}
        self.synops = {c: 0 for c in used}
        self.decimator = {c: 0 for c in used}
        self.rows, self.dropped, self.trace, self.spike_rows = [], 0, [], []
        event_synops = {c: np.zeros(len(ev), np.int64) for c in used}
        leaky = any(prog.cores[c].leak_enable for c in used) and prog.slow_clock_hz
        self.budget = new_budget(prog, len(ev))
        t0 = time.perf_counter()
        try:
            self._run_events(ev, used, leaky, event_synops)
        except _Stop:
            b = self.budget
            i = int(b[B_EVENT])
            raise runaway_error(prog, b, dict(self.in_events), {c: int(self.counts[c].sum()) for c in used}, i,
                                int(ev["t"][i])) from None
        sim_seconds = time.perf_counter() - t0
        rows = np.asarray(self.rows, np.int64).reshape(-1, 5)
        outputs, ro_events = split_outputs(rows, prog.target.readout_layer, prog.channel_offset)
        t_end = int(ev["t"][-1]) if len(ev) else 0
        return SimResult(outputs, self.counts, self.state, dict(self.in_events), dict(self.synops),
                         {c: int(self.counts[c].sum()) for c in used}, ev["t"].astype(np.int64), event_synops,
                         ro_events, readout_model(prog, ro_events, t_end), self.dropped, sim_seconds, len(ev),
                         trace=trace_array(self.trace) if trace else None,
                         spike_log=split_outputs(np.asarray(self.spike_rows, np.int64).reshape(-1, 5), -1)[0]
                         if spikes else None)

    def _run_events(self, ev, used, leaky, event_synops):
        prog = self.program
        ticks = 0
        for i, e in enumerate(ev):
            t = int(e["t"])
            self.budget[B_START] = self.budget[B_COUNT]
            self.budget[B_EVENT] = i
            self.row_synops = {c: 0 for c in used}
            if leaky:
                due = math.floor(t * prog.slow_clock_hz / 1e6)
                if due > ticks and not prog.leak_can_fire:
                    self._leak_quiet(due - ticks)
                    ticks = due
                while ticks < due:
                    ticks += 1
                    if not self._leak_tick(int(math.ceil(ticks * 1e6 / prog.slow_clock_hz))):
                        ticks = due  # a fixed point: the remaining ticks change nothing
            if prog.input_source == "dvs":
                routed = self._dvs(e)
                if routed is not None:
                    f, x, y = routed
                    if prog.dvs.monitor:
                        self.rows.append((t, prog.target.dvs_layer, f, x, y))
                    for core in prog.input_cores:
                        self._deliver(core, f, x, y, t)
            else:
                for core in prog.input_cores:
                    q = prog.input_pooling
                    self._deliver(core, int(e["p"]), int(e["x"]) // q, int(e["y"]) // q, t)
            for c in used:
                event_synops[c][i] = self.row_synops[c]
