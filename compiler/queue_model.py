"""Bandwidth as a queue: the delay a core's overload adds to events, from a trace of deliveries.

Pure maths (numpy, networkx); nothing here runs the simulator.  The model (docs/bandwidth.md):

* Every **delivery** -- one event arriving at one core -- is served by that core in arrival order (first in, first
  out, one at a time) and takes ``t0 + synops * t_syn`` (``service_us``): a fixed cost per event plus one
  synaptic-operation time per target neuron.  ``t_syn = 1 / synops_limit`` of the core.
* A delivery caused by an input event arrives at that event's timestamp; a delivery caused by a spike arrives when
  the delivery that produced the spike **completes** on its own core (a tandem of queues; merges take the arrivals
  of all their sources in time order).  Ties are served in the simulator's processing order.
* Per core: its utilisation, its longest busy period, its largest backlog (synaptic operations queued or in
  service, just after an arrival) and the largest delay it adds to one delivery (waiting + service).  End to end:
  the added latency of every output event, its completion minus the timestamp of the input event that caused it
  (the simulator puts every output at that timestamp; the chip would emit it this much later).

:func:`run_queues` computes the exact FIFO schedule with Lindley's recursion per core, cores in topological order
(vectorised: ``C_k = S_1..k + max_j<=k (A_j - S_1..j-1)``).  :func:`run_queues_events` is an independent
event-by-event simulation of the same model (a heap of arrivals); it is the reference in the tests and handles
recurrent (cyclic) core graphs.  :func:`poisson_trace` builds a synthetic trace from rates (the static estimate).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

#: The largest end-to-end delay the check accepts by default (``--max-latency-ms``), in milliseconds.  A readout
#: that counts spikes over a sample (N-MNIST: three saccades over 300 ms) does not notice a delay of one 10 ms
#: frame (3 % of the sample); the NIR paper's CNN, which ran on a real Speck at the recordings' own rate, stays under
#: it on real and saccade-encoded digits.  See docs/bandwidth.md.
DEFAULT_MAX_LATENCY_MS = 10.0


def service_us(core: np.ndarray, synops: np.ndarray, t0_s: float, t_syn_s: dict) -> np.ndarray:
    """Service time (us) of each delivery: ``t0 + synops * t_syn[core]``.  ``t_syn_s`` maps core -> seconds per
    synaptic operation."""
    core = np.asarray(core, np.int64)
    per = np.zeros(int(core.max(initial=0)) + 1)
    for c, v in t_syn_s.items():
        if 0 <= int(c) < per.size:
            per[int(c)] = float(v)
    return (float(t0_s) + np.asarray(synops, float) * per[core]) * 1e6


@dataclass
class QueueRun:
    """The FIFO schedule of every delivery (arrays aligned with the trace, times in us)."""

    t: np.ndarray  # the input event time of each delivery's cascade
    core: np.ndarray
    synops: np.ndarray
    parent: np.ndarray
    outputs: np.ndarray
    service: np.ndarray
    arrival: np.ndarray
    start: np.ndarray
    completion: np.ndarray
    cores: list = field(default_factory=list)

    @property
    def delay(self) -> np.ndarray:
        """Delay a delivery's own core adds to it: waiting plus service."""
        return self.completion - self.arrival

    def output_latency_us(self) -> np.ndarray:
        """Added latency of every output event: completion of the delivery whose spike it is, minus its input
        event's time (repeated for deliveries that produced several output events)."""
        lat = self.completion - self.t
        return np.repeat(lat, np.asarray(self.outputs, np.int64))

    def drain_us(self) -> float:
        """When the last delivery completes (us); -inf for an empty trace."""
        return float(self.completion.max()) if self.completion.size else -math.inf

    def _on(self, c) -> np.ndarray:
        """Indices of core ``c``'s deliveries in service order."""
        idx = np.flatnonzero(self.core == c)
        return idx[np.lexsort((idx, self.start[idx]))]

    def backlog_at(self, c, times_us) -> np.ndarray:
        """Synaptic operations queued or in service on core ``c`` at each of ``times_us`` (arrived at or before the
        time, completed after it)."""
        idx = self._on(c)
        a = np.sort(self.arrival[idx])
        comp = self.completion[idx]  # FIFO: completions increase in service order
        cum_by_arrival = np.concatenate([[0.0], np.cumsum(self.synops[idx][np.argsort(self.arrival[idx],
                                                                                      kind="stable")])])
        cum = np.concatenate([[0.0], np.cumsum(self.synops[idx])])
        times = np.asarray(times_us, float)
        arrived = np.searchsorted(a, times, side="right")
        done = np.searchsorted(comp, times, side="right")
        return cum_by_arrival[arrived] - cum[done]

    def core_stats(self, c, window_us: float | None = None) -> dict:
        """Per-core figures: deliveries, busy time, utilisation (busy time over ``window_us``, default from the
        first input event to the later of the last input event and this core's last completion), longest busy
        period, largest backlog (synops and deliveries) and largest delay added."""
        idx = self._on(c)
        t_first = float(self.t.min()) if self.t.size else 0.0
        t_last = float(self.t.max()) if self.t.size else 0.0
        if idx.size == 0:
            return {"deliveries": 0, "busy_us": 0.0, "utilisation": 0.0, "longest_busy_period_us": 0.0,
                    "max_backlog_synops": 0, "max_backlog_events": 0, "max_added_delay_us": 0.0,
                    "mean_added_delay_us": 0.0, "drain_us": None}
        a, s, comp, syn = self.arrival[idx], self.service[idx], self.completion[idx], self.synops[idx]
        busy = float(s.sum())
        if window_us is None:
            window_us = max(t_last, float(comp[-1])) - t_first
        util = busy / window_us if window_us > 0 else 1.0
        # busy periods: a new one starts where an arrival finds the core idle
        new = np.ones(idx.size, bool)
        new[1:] = a[1:] >= comp[:-1]
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:] - 1, idx.size - 1)
        longest = float((comp[ends] - a[starts]).max())
        # backlog just after each arrival k: deliveries j <= k still in the system (completion after a_k)
        first_open = np.searchsorted(comp, a, side="right")
        cum = np.concatenate([[0.0], np.cumsum(syn)])
        k = np.arange(idx.size)
        backlog = cum[k + 1] - cum[first_open]
        kmax = int(np.argmax(backlog))
        d = comp - a
        return {"deliveries": int(idx.size), "busy_us": busy, "utilisation": float(min(util, 1.0)),
                "longest_busy_period_us": longest, "max_backlog_synops": int(round(backlog[kmax])),
                "max_backlog_events": int((k + 1 - first_open).max()), "max_backlog_at_us": float(a[kmax]),
                "max_added_delay_us": float(d.max()), "mean_added_delay_us": float(d.mean()),
                "drain_us": float(comp[-1])}


def _core_order(core: np.ndarray, parent: np.ndarray):
    """Cores in topological order of the trace's core graph, or None when it has a cycle."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(int(c) for c in np.unique(core))
    kids = parent >= 0
    for u, v in set(zip(core[parent[kids]].tolist(), core[kids].tolist())):
        if u == v:
            return None
        g.add_edge(u, v)
    try:
        return list(nx.topological_sort(g))
    except nx.NetworkXUnfeasible:
        return None


def _as_arrays(t, core, synops, parent, outputs):
    t = np.asarray(t, float)
    core = np.asarray(core, np.int64)
    synops = np.asarray(synops, float)
    parent = np.asarray(parent, np.int64)
    outputs = np.zeros(t.size, np.int64) if outputs is None else np.asarray(outputs, np.int64)
    if not (t.size == core.size == synops.size == parent.size == outputs.size):
        raise ValueError("trace columns differ in length")
    if np.any(parent >= np.arange(t.size)):
        raise ValueError("a delivery's parent must come before it in the trace")
    return t, core, synops, parent, outputs


def run_queues(t, core, synops, parent, service, outputs=None) -> QueueRun:
    """The FIFO schedule of a trace: for each delivery (``t`` its input event's time in us, ``core``, ``synops``,
    ``parent`` row or -1, ``outputs`` it produced) with ``service`` us, its arrival, start and completion."""
    t, core, synops, parent, outputs = _as_arrays(t, core, synops, parent, outputs)
    service = np.asarray(service, float)
    order = _core_order(core, parent)
    if order is None:
        return run_queues_events(t, core, synops, parent, service, outputs)
    n = t.size
    arrival = np.where(parent < 0, t, np.nan)
    start = np.empty(n)
    comp = np.empty(n)
    kids = parent >= 0
    for c in order:
        idx = np.flatnonzero(core == c)
        k = idx[kids[idx]]
        arrival[k] = comp[parent[k]]  # parents' cores come earlier in topological order
        idx = idx[np.lexsort((idx, arrival[idx]))]  # arrival order, ties in processing order
        a, s = arrival[idx], service[idx]
        cs = np.cumsum(s)
        c_done = cs + np.maximum.accumulate(a - (cs - s))  # Lindley: C_k = max(A_k, C_k-1) + S_k
        comp[idx] = c_done
        start[idx] = c_done - s
    return QueueRun(t, core, synops, parent, outputs, service, arrival, start, comp, [int(c) for c in order])


def run_queues_events(t, core, synops, parent, service, outputs=None) -> QueueRun:
    """The same schedule as :func:`run_queues`, by simulating events one at a time (a heap of pending arrivals per
    core); slow, independent, and correct for recurrent core graphs too."""
    t, core, synops, parent, outputs = _as_arrays(t, core, synops, parent, outputs)
    service = np.asarray(service, float)
    n = t.size
    children: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        if parent[i] >= 0:
            children[parent[i]].append(i)
    arrival = np.full(n, np.nan)
    start = np.full(n, np.nan)
    comp = np.full(n, np.nan)
    busy: set = set()  # cores serving a delivery
    waiting: dict[int, list] = {}  # core -> heap of (arrival, row)
    timeline: list = []  # heap of (time, row, kind): kind 0 = arrival, 1 = completion
    for i in np.flatnonzero(parent < 0):
        heapq.heappush(timeline, (float(t[i]), int(i), 0))
    while timeline:
        now = timeline[0][0]
        while timeline and timeline[0][0] == now:  # everything that happens at this instant, then start service
            _, i, kind = heapq.heappop(timeline)
            c = int(core[i])
            if kind == 0:
                arrival[i] = now
                heapq.heappush(waiting.setdefault(c, []), (now, i))
            else:
                busy.discard(c)
                for j in children[i]:
                    heapq.heappush(timeline, (now, j, 0))
        for c, q in waiting.items():
            if q and c not in busy:
                _, j = heapq.heappop(q)
                start[j] = now
                comp[j] = now + service[j]
                busy.add(c)
                heapq.heappush(timeline, (comp[j], j, 1))
    return QueueRun(t, core, synops, parent, outputs, service, arrival, start, comp, sorted(set(core.tolist())))


def summary(run: QueueRun, input_end_us: float, max_latency_us: float) -> dict:
    """End-to-end figures and the verdict: ``max_added_latency_us``, ``p99_added_latency_us``, ``output_events``,
    ``drain_us`` (last completion), ``drain_deadline_us`` (input end + the accepted latency), ``ok``, ``reason``."""
    lat = run.output_latency_us()
    mx = float(lat.max()) if lat.size else None
    p99 = float(np.percentile(lat, 99)) if lat.size else None
    drain = run.drain_us()
    deadline = float(input_end_us) + float(max_latency_us)
    reasons = []
    if mx is not None and mx > max_latency_us:
        reasons.append("latency")
    if drain > deadline:
        reasons.append("drain")
    return {"max_added_latency_us": mx, "p99_added_latency_us": p99, "output_events": int(lat.size),
            "drain_us": None if not math.isfinite(drain) else drain, "drain_deadline_us": deadline,
            "ok": not reasons, "reasons": reasons}


def culprit(run: QueueRun) -> int | None:
    """The core that adds the largest delay to one delivery (the bottleneck to relieve first)."""
    best, who = -1.0, None
    for c in np.unique(run.core):
        d = run.delay[run.core == c]
        if d.size and float(d.max()) > best:
            best, who = float(d.max()), int(c)
    return who


def poisson_trace(rate_hz: float, duration_us: float, layers: list[dict], seed: int = 0) -> dict:
    """A synthetic trace for the static estimate: input events a Poisson process of ``rate_hz`` over
    ``duration_us``; each delivery to a layer's core costs that layer's mean ``fanout`` synops and emits a
    Poisson(``activity``) number of spikes, 1 in ``decimate`` of which (counted per layer, the N-th first) go to
    each destination layer or count as output events.

    ``layers``: in topological order, dicts with ``core``, ``fanout``, ``activity``, ``decimate``, ``input``
    (bool: receives the input events), ``destinations`` (layer indices; ``"output"`` for the exit).  Returns the
    trace columns ``t, core, synops, parent, outputs`` (parents come first: rows are grouped by layer in order).
    """
    rng = np.random.default_rng(seed)
    n_in = int(rng.poisson(max(rate_hz, 0.0) * duration_us * 1e-6))
    t_in = np.sort(rng.uniform(0.0, duration_us, n_in))
    t_parts, core_p, syn_p, par_p, out_p = [], [], [], [], []
    rows = 0
    incoming: dict[int, list] = {i: [] for i in range(len(layers))}  # layer -> [(t, parent row)]
    for i, layer in enumerate(layers):
        if layer.get("input"):
            incoming[i].append((t_in, np.full(n_in, -1, np.int64)))
    for i, layer in enumerate(layers):
        if incoming[i]:
            tt = np.concatenate([p[0] for p in incoming[i]])
            pp = np.concatenate([p[1] for p in incoming[i]])
        else:
            tt, pp = np.zeros(0), np.zeros(0, np.int64)
        m = tt.size
        my_rows = rows + np.arange(m)
        rows += m
        spikes = rng.poisson(float(layer.get("activity", 1.0)), m)
        n = max(int(layer.get("decimate", 1)), 1)
        cum = np.cumsum(spikes)
        passed = cum // n - np.concatenate([[0], cum[:-1]]) // n  # spikes of each delivery the decimator passes
        outputs = np.zeros(m, np.int64)
        for d in layer.get("destinations", []):
            if d == "output":
                outputs += passed
            else:
                src = np.repeat(np.arange(m), passed)
                incoming[int(d)].append((tt[src], my_rows[src]))
        t_parts.append(tt)
        core_p.append(np.full(m, int(layer["core"]), np.int64))
        syn_p.append(np.full(m, float(layer["fanout"])))
        par_p.append(pp)
        out_p.append(outputs)
    cat = (lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt))  # noqa: E731
    return {"t": cat(t_parts, float), "core": cat(core_p, np.int64), "synops": cat(syn_p, float),
            "parent": cat(par_p, np.int64), "outputs": cat(out_p, np.int64)}


__all__ = ["DEFAULT_MAX_LATENCY_MS", "QueueRun", "service_us", "run_queues", "run_queues_events", "summary",
           "culprit", "poisson_trace"]
