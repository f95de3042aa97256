"""Synaptic-operation bandwidth per core: a static estimate, a measurement on events, the queue check and the
decimator advice.

A Speck core does one synaptic operation (one weight added into one membrane potential) for every output neuron an
input event touches.  docs/speck.md §7 gives the rate as ``SynOps/s ~ N_in/s * C_out * kx * ky / (sx * sy)``.
:func:`fanout` evaluates that count exactly for a layer's geometry (borders and padding included), averaged over
input positions, which is the formula's ``kx * ky / (sx * sy)`` away from the borders.

* Static (:func:`static_estimate`): from an input event rate, rates are propagated layer by layer; a layer emits
  ``activity`` output spikes per input event it receives (a stated default, or measured), divided by its output
  decimator ratio.
* Measured (``snnc.runtime.measure.measure`` runs the simulator; :class:`Measurement` holds its counts): the
  model is quantized and written to a configuration in memory, the bit-accurate simulator runs the events, and
  every core's exact synaptic operations are counted: total, mean rate over the input's duration and peak rates
  over sliding 1 ms and 10 ms windows of input time.
* Check (:func:`analyze`): every core is a queue (``compiler/queue_model.py``) serving each event in
  ``t0 + synops / limit`` (``targets/speck.py``: ``Target.event_time_s``, ``Core.synops_limit``; estimates,
  overridable with ``--synops-limit``).  ``synops_bandwidth`` fails when output events come more than
  ``--max-latency-ms`` late or the queues do not drain in time; the hint names the output decimators that make the
  model pass (``compiler/latency.py``), checked by re-running the model (``remeasure``).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from .chip import ChipLayer, ChipModel, resolve_decimate
from .errors import Diagnostic, SnncError
from .geometry import synops_fanout

#: Output spikes per input event a layer emits when nothing better is known (``--activity`` overrides it).  Chosen
#: from the NIR paper's N-MNIST CNN on encoded MNIST digits; see docs/bandwidth.md.
DEFAULT_ACTIVITY = 1.0

#: Sliding windows (microseconds of input time) over which peak rates are measured.
PEAK_WINDOWS_US = (1_000, 10_000)
#: The window whose peak is compared with the limit (the chip's queues absorb bursts shorter than this; a 1 ms
#: peak above the limit alone gives a warning).
CHECK_WINDOW_US = 10_000


# ---------------------------------------------------------------------------------------------------------------
# limits
# ---------------------------------------------------------------------------------------------------------------
def parse_synops_limits(specs) -> dict:
    """Parse ``--synops-limit`` values: ``"CORE=RATE"`` for one core, or a bare ``"RATE"`` for every core.

    ``parse_synops_limits(["0=1e8", "3e7"]) == {0: 1e8, "*": 3e7}``; a per-core entry wins over ``"*"``.
    Raises SnncError naming the bad entry.
    """
    if specs is None:
        return {}
    if isinstance(specs, (str, int, float)):
        specs = [specs]
    out: dict = {}
    for spec in specs:
        text = str(spec).strip()
        core_s, sep, rate_s = text.partition("=")
        if not sep:
            core_s, rate_s = "*", core_s
        try:
            rate = float(rate_s)
        except ValueError:
            raise SnncError(f"--synops-limit {text!r}: {rate_s.strip()!r} is not a number; give CORE=RATE "
                            "(e.g. 0=1e8) or one RATE for every core") from None
        if not math.isfinite(rate) or rate <= 0:
            raise SnncError(f"--synops-limit {text!r}: the rate must be a positive number of synaptic operations "
                            "per second")
        if core_s != "*":
            try:
                core = int(core_s.strip())
            except ValueError:
                raise SnncError(f"--synops-limit {text!r}: {core_s.strip()!r} is not a core number; give CORE=RATE "
                                "(e.g. 0=1e8)") from None
            if core < 0:
                raise SnncError(f"--synops-limit {text!r}: core numbers start at 0")
            out[core] = rate
        else:
            out["*"] = rate
    return out


def core_limits(target, overrides: dict | None = None) -> dict[int, float]:
    """Every core's SynOps/s limit: the target's defaults, then ``"*"``, then per-core overrides."""
    overrides = dict(overrides or {})
    limits = {c.index: float(c.synops_limit) for c in target.cores}
    if "*" in overrides:
        limits = {k: float(overrides["*"]) for k in limits}
    for k, v in overrides.items():
        if k == "*":
            continue
        if k not in limits:
            raise SnncError(f"--synops-limit {k}={v:g}: {target.name} has cores 0..{target.n_cores - 1}")
        limits[k] = float(v)
    return limits


# ---------------------------------------------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------------------------------------------
def fanout(layer: ChipLayer) -> float:
    """Synaptic operations one input event causes in ``layer``, averaged over input positions (exact geometry,
    ``compiler/geometry.py: synops_fanout``)."""
    return synops_fanout(layer.input_shape, layer.output_shape, layer.kernel_size, layer.stride, layer.padding)


def fanout_formula(layer: ChipLayer) -> float:
    """docs/speck.md §7's ``C_out * kx * ky / (sx * sy)`` (no border correction), for comparison."""
    kh, kw = layer.kernel_size
    sy, sx = layer.stride
    return layer.out_channels * kh * kw / (sy * sx)


def decimation(chip: ChipModel, options, target) -> dict[int, int]:
    """Resolve ``CompileOptions.decimate`` into ``{layer index: N}`` (``compiler/chip.py: resolve_decimate``)."""
    return resolve_decimate(chip, getattr(options, "decimate", None), target)


def _activity_for(activity, layer: ChipLayer, i: int) -> float:
    if activity is None:
        return DEFAULT_ACTIVITY
    if isinstance(activity, dict):
        for key in (layer.name, i, str(i)):
            if key in activity:
                return _check_activity(activity[key])
        return _check_activity(activity.get("*", DEFAULT_ACTIVITY))
    return _check_activity(activity)


def _check_activity(value) -> float:
    try:
        a = float(value)
    except (TypeError, ValueError, OverflowError):
        a = float("nan")
    if not math.isfinite(a) or a < 0:
        raise SnncError(f"--activity {value}: give a non-negative number of output spikes per input event "
                        "(e.g. 1.0)")
    return a


# ---------------------------------------------------------------------------------------------------------------
# static estimate
# ---------------------------------------------------------------------------------------------------------------
def static_estimate(chip: ChipModel, input_rate: float, activity=None, decimate: dict[int, int] | None = None
                    ) -> list[dict]:
    """Propagate an input event rate (events/s) through the chip layers (topological order).

    ``activity``: output spikes per input event, one number, or ``{layer name or index: number}`` (``"*"`` for the
    rest); default :data:`DEFAULT_ACTIVITY`.  ``decimate``: ``{layer index: N}``.  Returns one dict per layer with
    ``in_rate``, ``synops_per_s``, ``out_rate`` (neuron spikes/s) and ``forwarded_rate`` (after the decimator).
    """
    if input_rate is None or not math.isfinite(float(input_rate)) or float(input_rate) < 0:
        raise SnncError(f"--input-rate {input_rate}: give a non-negative number of input events per second")
    decimate = decimate or {}
    srcs = chip.sources()
    rows: list[dict] = []
    fwd: dict[int, float] = {}
    for i, layer in enumerate(chip.layers):
        rate_in = (float(input_rate) if i in chip.input_targets else 0.0) + sum(fwd.get(s, 0.0) for s in srcs[i])
        f = fanout(layer)
        a = _activity_for(activity, layer, i)
        out = a * rate_in
        n = decimate.get(i, 1)
        fwd[i] = out / n
        rows.append({"layer": layer.name, "core": layer.core, "in_rate": rate_in, "fanout": f,
                     "synops_per_s": rate_in * f, "activity": a, "out_rate": out, "decimate": n,
                     "forwarded_rate": fwd[i]})
    return rows


# ---------------------------------------------------------------------------------------------------------------
# measurement
# ---------------------------------------------------------------------------------------------------------------
def peak_rate(times_us: np.ndarray, counts: np.ndarray, window_us: int) -> float:
    """Largest number of ``counts`` falling into any window ``[t, t + window_us)`` of input time, per second.

    ``times_us`` sorted; ``counts[i]`` belongs to time ``times_us[i]``.  The best window starts at an event.
    """
    times_us = np.asarray(times_us, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.float64)
    if times_us.size == 0:
        return 0.0
    csum = np.concatenate([[0.0], np.cumsum(counts)])
    end = np.searchsorted(times_us, times_us + int(window_us), side="left")
    start = np.arange(times_us.size)
    best = float(np.max(csum[end] - csum[start]))
    return best / (window_us * 1e-6)


@dataclass
class Measurement:
    """What the simulator counted for one input stream, per chip layer (same order as ``ChipModel.layers``)."""

    duration_s: float  # last minus first input time
    times_us: np.ndarray  # input event times (sorted)
    synops: list[np.ndarray]  # per layer: synaptic operations caused by each input event (aligned with times_us)
    in_events: list[int]  # per layer: events that arrived at its core
    out_spikes: list[int]  # per layer: spikes its neurons emitted (before the decimator)
    sim: object = None  # the simulator's SimResult (output events, spike counts) for plots
    config: dict | None = None  # the configuration that was simulated
    trace: np.ndarray | None = None  # every delivery (SimResult.trace), for the queue model
    events: object = None  # the input events as given (to re-simulate with other decimators)


# ---------------------------------------------------------------------------------------------------------------
# check and advice
# ---------------------------------------------------------------------------------------------------------------
def with_decimate(result, chip: ChipModel, decimate: dict[int, int]):
    """A shallow copy of a compile result that asks for the output decimators ``{layer index: N}``: in its options
    (``--decimate``) and where the pipeline keeps them resolved (``chip.meta["decimators"]``, which the config
    writer reads)."""
    q = copy.copy(result)
    q.options = copy.copy(result.options)
    q.options.decimate = {chip.layers[k].name: v for k, v in decimate.items()}
    q.chip = copy.copy(result.chip)
    q.chip.meta = dict(result.chip.meta)
    q.chip.meta["decimators"] = {int(k): int(v) for k, v in decimate.items()}
    return q


def analyze(result, input_rate=None, synops_limits=None, activity=None, measurement: Measurement | None = None,
            events_given: bool = False, max_latency_ms: float | None = None, remeasure=None, qualia=None) -> dict:
    """Synaptic-operation bandwidth, queueing delay and energy of a compiled model (``snnc check
    --events/--input-rate``).

    With a ``measurement`` (``snnc.runtime.measure.measure``: the model simulated bit-accurately on events, with
    its delivery trace) the figures are counted; otherwise ``input_rate`` (events/s) is propagated statically with
    ``activity`` (see :func:`static_estimate`).  ``events_given``: events were given but not simulated (the model
    does not fit).  ``snnc.runtime.measure.analyze`` takes the events themselves and runs the simulator.  Either way every core is a queue
    (``compiler/queue_model.py``): it serves each event in ``t0 + synops / synops_limit``, and the check
    (``synops_bandwidth``) fails when output events come more than ``max_latency_ms`` (default
    :data:`~snnc.compiler.queue_model.DEFAULT_MAX_LATENCY_MS`) late or the queues do not drain by the input's end
    plus that.  Returns a JSON-ready dict ``{"mode", "cores": [...], "layers": [...], "energy": {...},
    "limit_source", "max_added_latency_us", "p99_added_latency_us", "latency": {...}, "queue_series",
    "diagnostics": [Diagnostic]}``; ``cores`` has one row per chip layer: core, layer, synops, synops_per_s_mean,
    synops_per_s_peak (10 ms window; None when static), synops_per_s_peak_1ms, synops_limit, utilisation,
    max_backlog_synops, max_added_delay_us, longest_busy_period_us.  A model that does not fit is not simulated
    (a note says so).  ``remeasure(decimate) -> Measurement`` simulates the model again with other decimators
    ``{layer index: N}`` for the advice (``snnc.runtime.measure.analyze`` passes one).  ``qualia``
    (``energy_qualia.QualiaEnergySettings``) adds Qualia-SNN's estimate to ``energy``.
    """
    from . import latency as lat
    from .energy import LayerActivity, estimate
    from .queue_model import DEFAULT_MAX_LATENCY_MS

    chip: ChipModel | None = result.chip
    target = result.target
    if not events_given and input_rate is None and measurement is None:
        raise SnncError("the bandwidth check needs --events FILE or --input-rate EVENTS_PER_S")
    if max_latency_ms is None:
        max_latency_ms = DEFAULT_MAX_LATENCY_MS
    if not math.isfinite(float(max_latency_ms)) or float(max_latency_ms) <= 0:
        raise SnncError(f"--max-latency-ms {max_latency_ms}: give a positive number of milliseconds")
    max_lat_us = float(max_latency_ms) * 1e3
    limits = core_limits(target, synops_limits if isinstance(synops_limits, dict)
                         else parse_synops_limits(synops_limits))
    t0_s = float(target.event_time_s)
    measured = events_given or measurement is not None
    out = {"mode": "measured" if measured else "static", "cores": [], "layers": [], "energy": None,
           "diagnostics": [], "limit_source": target.synops_limit_source}
    if chip is None or not chip.layers:
        return out
    decimate = decimation(chip, result.options, target)
    static = static_estimate(chip, input_rate if input_rate is not None else 0.0, activity, decimate)
    meas = measurement
    if meas is None and events_given:
        out["note"] = "not simulated: the model does not fit the chip (see the violations)"
        return out
    acts: list[LayerActivity] = []
    # the queue model: on the simulator's trace, or on a Poisson trace for the static estimate
    if meas is not None:
        start_us = float(meas.times_us[0]) if len(meas.times_us) else 0.0
        end_us = float(meas.times_us[-1]) if len(meas.times_us) else 0.0

        def evaluate(dec: dict[int, int]) -> dict | None:
            m = remeasure(dec) if remeasure is not None else None
            if m is None or m.trace is None:
                return None
            return lat.figures(_trace_columns(m.trace), chip, limits, t0_s, max_lat_us, start_us, end_us)

        fig = lat.figures(_trace_columns(meas.trace), chip, limits, t0_s, max_lat_us, start_us, end_us,
                          series=True) if meas.trace is not None else None
        load = None
    else:
        start_us = 0.0

        def evaluate(dec: dict[int, int]) -> dict:
            rows = static_estimate(chip, input_rate, activity, dec)
            tr, dur = lat.static_trace(chip, rows, input_rate)
            f = lat.figures(tr, chip, limits, t0_s, max_lat_us, 0.0, dur)
            f["load"] = lat.static_load(chip, rows, limits, t0_s)
            return f

        tr, end_us = lat.static_trace(chip, static, input_rate)
        fig = lat.figures(tr, chip, limits, t0_s, max_lat_us, 0.0, end_us, series=True)
        load = lat.static_load(chip, static, limits, t0_s)
    for i, layer in enumerate(chip.layers):
        core = layer.core
        limit = limits.get(core) if core is not None else None
        row = {"core": core, "layer": layer.name, "synops_limit": limit, "fanout": static[i]["fanout"],
               "decimate": decimate.get(i, 1)}
        if meas is not None:
            synops = int(meas.synops[i].sum())
            dur = meas.duration_s
            mean = synops / dur if dur > 0 else 0.0
            peaks = {w: peak_rate(meas.times_us, meas.synops[i], w) for w in PEAK_WINDOWS_US}
            row.update({"synops": synops, "synops_per_s_mean": mean,
                        "synops_per_s_peak": peaks[CHECK_WINDOW_US],
                        "synops_per_s_peak_1ms": peaks[1_000], "synops_per_s_peak_10ms": peaks[10_000],
                        "in_events": meas.in_events[i], "out_spikes": meas.out_spikes[i]})
            acts.append(LayerActivity(layer.name, meas.in_events[i], meas.out_spikes[i], synops, core))
        else:
            rate = static[i]["synops_per_s"]
            row.update({"synops": None, "synops_per_s_mean": rate, "synops_per_s_peak": None,
                        "in_rate": static[i]["in_rate"], "out_rate": static[i]["out_rate"],
                        "activity": static[i]["activity"], "load": load[i]})
            acts.append(LayerActivity(layer.name, static[i]["in_rate"], static[i]["out_rate"],
                                      static[i]["synops_per_s"], core))
        if fig is not None:
            st = fig["layers"][i]
            row.update({"utilisation": st["utilisation"], "max_backlog_synops": st["max_backlog_synops"],
                        "max_added_delay_us": st["max_added_delay_us"],
                        "mean_added_delay_us": st["mean_added_delay_us"],
                        "longest_busy_period_us": st["longest_busy_period_us"],
                        "max_backlog_events": st["max_backlog_events"]})
        out["cores"].append(row)
    diags: list[Diagnostic] = []
    if fig is not None:
        summ = fig["summary"]
        out["max_added_latency_us"] = summ["max_added_latency_us"]
        out["p99_added_latency_us"] = summ["p99_added_latency_us"]
        out["latency"] = {"max_latency_ms": float(max_latency_ms), "output_events": summ["output_events"],
                          "drain_us": summ["drain_us"], "drain_deadline_us": summ["drain_deadline_us"],
                          "input_start_us": start_us, "input_end_us": end_us, "event_time_s": t0_s,
                          "model": "one FIFO queue per core, t0 + synops / synops_limit per event; "
                                   "see docs/bandwidth.md", "source": target.event_time_source}
        out["queue_series"] = lat.jsonable_series(fig.get("series"))
        d = lat.diagnostic(chip, target, fig, decimate, max_lat_us, evaluate, out["mode"], load)
        if d is not None:
            diags.append(d)
    out["layers"] = static
    if meas is not None:
        out["duration_s"] = meas.duration_s
        out["input_events"] = int(len(meas.times_us))
        out["energy"] = estimate(chip, acts, target, duration_s=meas.duration_s, measured=True, qualia=qualia)
    else:
        out["energy"] = estimate(chip, acts, target, duration_s=1.0, measured=False, qualia=qualia)
        out["energy"]["per"] = "second of input at the given rate"
    out["diagnostics"] = diags
    return out


def _trace_columns(trace: np.ndarray) -> dict:
    """The simulator's trace (``SimResult.trace``) as the columns the queue model takes."""
    return {name: np.asarray(trace[name]) for name in ("t", "core", "synops", "parent", "outputs")}


def format_cores(analysis: dict) -> str:
    """The per-core table that ``snnc check`` prints under its report: SynOps/s, and each core as a queue."""
    measured = analysis.get("mode") == "measured"
    basis = "simulated on the events" if measured else "static estimate, Poisson input"
    lines = [f"synaptic operations and queues per core ({basis}; limits and service times are estimates):"]
    head = f"  {'core':>4}  {'layer':<14} {'mean':>12}"
    head += f"  {'peak 10 ms':>12}" if measured else f"  {'in ev/s':>12}"
    lines.append(head + f"  {'limit':>12}  {'busy':>5}  {'max backlog':>13}  {'max delay':>10}")
    for row in analysis.get("cores", []):
        lim = row.get("synops_limit")
        mean = row.get("synops_per_s_mean") or 0.0
        core = "-" if row.get("core") is None else str(row["core"])
        line = f"  {core:>4}  {str(row['layer'])[:14]:<14} {_m(mean):>12}"
        line += f"  {_m(row.get('synops_per_s_peak')):>12}" if measured else f"  {row.get('in_rate', 0):>12.4g}"
        util = row.get("utilisation")
        busy = "-" if util is None else f"{100 * util:.0f}%"
        backlog = "-" if row.get("max_backlog_synops") is None else f"{row['max_backlog_synops']:,}"
        delay = row.get("max_added_delay_us")
        delay = "-" if delay is None else f"{delay / 1e3:.3g} ms"
        lines.append(line + f"  {_m(lim):>12}  {busy:>5}  {backlog:>13}  {delay:>10}")
    lat = analysis.get("latency")
    if lat:
        mx, p99 = analysis.get("max_added_latency_us"), analysis.get("p99_added_latency_us")
        txt = ("no output events" if mx is None else
               f"output events up to {mx / 1e3:.3g} ms late (p99 {p99 / 1e3:.3g} ms)")
        drain = lat.get("drain_us")
        after = "" if drain is None else (f"; queues drained {max(drain - lat['input_end_us'], 0) / 1e3:.3g} ms "
                                          "after the last input event")
        lines.append(f"end to end: {txt}{after}; accepted: {lat['max_latency_ms']:g} ms (--max-latency-ms)")
    e = analysis.get("energy")
    if e:
        lines.append(f"energy estimate ({e['per']}): {e['total_joules'] * 1e6:.4g} uJ (Speck model), "
                     f"{e['lemaire2022']['total_joules'] * 1e6:.4g} uJ (Lemaire et al. 2022 model, 45 nm)")
        if e.get("qualia"):
            from .energy_qualia import format_qualia

            lines.append(format_qualia(e["qualia"], per=e["per"]))
    if analysis.get("note"):
        lines.append(f"note: {analysis['note']}")
    return "\n".join(lines)


def _m(v) -> str:
    return "-" if v is None else f"{v / 1e6:.4g} M/s"


__all__ = ["format_cores", "DEFAULT_ACTIVITY", "parse_synops_limits", "core_limits", "fanout", "fanout_formula",
           "decimation", "static_estimate", "peak_rate", "Measurement", "analyze", "with_decimate"]
