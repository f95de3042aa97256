"""What a simulation run produced (:class:`SimResult`), the output-event layout and the readout layer's model."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...compiler.bandwidth import peak_rate
from ...compiler.errors import SnncError

if TYPE_CHECKING:
    from .program import SimProgram

#: Output events: time (us), event layer (core id, the target's readout layer, or its DVS layer when monitored),
#: feature, x, y.
OUTPUT_DTYPE = np.dtype([("t", "<i8"), ("layer", "<i2"), ("feature", "<i2"), ("x", "<i2"), ("y", "<i2")])


#: One delivery of :attr:`SimResult.trace`: an event arriving at a core (see there).
TRACE_DTYPE = np.dtype([("t", "<i8"), ("core", "<i2"), ("synops", "<i8"), ("parent", "<i8"), ("outputs", "<i4")])


def trace_array(rows) -> np.ndarray:
    """Rows (t, core, synops, parent, outputs) -> a :data:`TRACE_DTYPE` array."""
    rows = np.asarray(rows, np.int64).reshape(-1, 5)
    arr = np.empty(len(rows), TRACE_DTYPE)
    for j, name in enumerate(TRACE_DTYPE.names):
        arr[name] = rows[:, j]
    return arr


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
    * ``trace`` -- with ``run(events, trace=True)``: every delivery (an event arriving at a core, targets or not)
      in processing order, :data:`TRACE_DTYPE`: ``t`` the time the simulator gives it (its input event's), ``core``,
      ``synops`` it caused on that core, ``parent`` the row of the delivery whose spike sent it (-1: an input
      event, or a spike fired by a leak tick), ``outputs`` the monitored output events its spikes became.  A
      parent always comes before its children.  The bandwidth queue model (``compiler/queue_model.py``) runs on it.
    * ``spike_log`` -- with ``run(events, spikes=True)``: every spike of every core, before its decimator, in
      processing order, :data:`OUTPUT_DTYPE` with ``layer`` the core and un-pooled coordinates (the NeuroBench
      metrics, ``runtime/neurobench_metrics.py``, count activations per time bin on it).
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
    trace: np.ndarray | None = None
    spike_log: np.ndarray | None = None

    def synop_times(self, core: int) -> tuple[np.ndarray, np.ndarray]:
        """``(event_t, synops)``: for each input event, its time (us) and the synops it caused on ``core``."""
        return self.event_t, self.event_synops[core]

    def peak_synops_rate(self, core: int, window_us: int = 1000) -> float:
        """The highest synops rate (per second) of ``core`` over any window of ``window_us`` us that starts at an
        input event (synops are placed at the time of the input event that caused them)."""
        t, s = self.synop_times(core)
        return peak_rate(t, s, window_us)

    def summary(self) -> dict:
        """The figures ``snnc simulate --json`` prints."""
        return {"input_events": int(self.n_input_events), "output_events": int(len(self.output_events)),
                "sim_seconds": float(self.sim_seconds),
                "cores": [{"core": int(c), "input_events": int(self.input_events_per_core[c]),
                           "spikes": int(self.spikes_per_core[c]), "synops": int(self.synops_per_core[c])}
                          for c in sorted(self.spike_counts)]}



#: Most slow-clock periods the readout model keeps (its per-period table: about 120 bytes each).
MAX_READOUT_PERIODS = 2_000_000


def readout_model(prog: "SimProgram", readout_events: np.ndarray, t_end: int) -> dict | None:
    """The readout layer (SPECK.md section 8; details [U], our model): events arriving at the readout layer are
    counted per slow-clock period for classes k = 1..``target.readout_classes`` (15), class k listening to CNN
    channel ``target.readout_channel_stride`` * (k-1) = 4(k-1) (speck2e/2f errata); a moving
    average over 1 (``low_pass_filter_disable``), 16 or 32 (``low_pass_filter32_not16``) periods, integer floor
    division; per period the class with the largest average if it is strictly above ``threshold``, else 0 (idle)."""
    ro = prog.readout
    if ro is None or prog.slow_clock_hz is None:
        return None
    hz = prog.slow_clock_hz
    n_cls, step = prog.target.readout_classes, prog.target.readout_channel_stride
    n_periods = int(math.floor(t_end * hz / 1e6)) + 1
    if n_periods > MAX_READOUT_PERIODS:
        raise SnncError(f"readout: the events run to t = {t_end} us, {n_periods:,} slow-clock periods at {hz:g} Hz; "
                        f"the readout model keeps at most {MAX_READOUT_PERIODS:,} periods: simulate a shorter "
                        "recording (or check the times' unit: microseconds)")
    counts = np.zeros((n_periods, n_cls), np.int64)
    f = readout_events["feature"].astype(np.int64)
    sel = (f % step == 0) & (f // step < n_cls)
    per = np.floor(readout_events["t"][sel] * hz / 1e6).astype(np.int64)
    np.add.at(counts, (per, f[sel] // step), 1)
    win = 1 if ro.get("low_pass_filter_disable") else (32 if ro.get("low_pass_filter32_not16") else 16)
    cum = np.concatenate([np.zeros((1, n_cls), np.int64), np.cumsum(counts, axis=0)])
    idx = np.arange(n_periods)
    avg = (cum[idx + 1] - cum[np.maximum(idx + 1 - win, 0)]) // win
    best = avg.argmax(axis=1)
    cls = np.where(avg[idx, best] > int(ro.get("threshold", 0)), best + 1, 0)
    return {"period_us": 1e6 / hz, "window": win, "counts": counts, "average": avg, "class": cls}


def split_outputs(rows: np.ndarray, readout_layer: int, channel_offset: dict | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Rows (t, layer, feature, x, y) -> (output events, readout events) as :data:`OUTPUT_DTYPE` arrays.

    ``channel_offset`` ({core: first channel}, :attr:`SimProgram.channel_offset`): the chip monitors a core's
    spikes with the core's own channel numbers; a core that holds a slice of a split layer, or one branch of a
    channel concatenation that is a model output, has its first channel added, so that the output events carry the
    model's channel numbers (what snnc's host side does with the events it reads)."""
    arr = np.empty(len(rows), OUTPUT_DTYPE)
    for j, name in enumerate(OUTPUT_DTYPE.names):
        arr[name] = rows[:, j] if len(rows) else []
    for core, offset in (channel_offset or {}).items():
        if offset:
            arr["feature"][arr["layer"] == core] += offset
    ro = arr["layer"] == readout_layer
    return arr[~ro], arr[ro]

