"""The ``synops_bandwidth`` check as a queue: per-core and end-to-end delay from a delivery trace, the verdict, and
the decimator advice (docs/bandwidth.md).

This module works on traces (measured by the simulator, or synthetic Poisson ones for ``--input-rate``) and never
runs the simulator itself: the caller passes ``evaluate(decimate) -> figures`` so the advice can try decimator
ratios (the measurement re-simulates the compiled model with them, the static estimate rebuilds its trace).
"""
from __future__ import annotations

import numpy as np

from .chip import OUTPUT, ChipModel
from .errors import Diagnostic
from .queue_model import culprit, poisson_trace, run_queues, service_us, summary

#: Points of the backlog / delay curves kept for the report's plots.
SERIES_POINTS = 400
#: At most this many input events in the static estimate's Poisson trace (its duration is 1 s or shorter).
STATIC_MAX_EVENTS = 50_000
#: Decimator changes the advice tries before giving up.
ADVICE_STEPS = 12


def t_syn(limits: dict[int, float]) -> dict[int, float]:
    """Seconds per synaptic operation of each core: ``1 / --synops-limit``."""
    return {int(c): 1.0 / float(v) for c, v in limits.items()}


def figures(trace: dict, chip: ChipModel, limits: dict[int, float], t0_s: float, max_latency_us: float,
            input_start_us: float, input_end_us: float, series: bool = False) -> dict:
    """Run the queue model on a trace (columns ``t, core, synops, parent, outputs``) and gather what the check and
    the reports need: ``summary`` (end to end, :func:`queue_model.summary`), ``layers`` (per chip layer, the core's
    figures), ``culprit`` (core), and with ``series`` the backlog / delay curves per core."""
    core = np.asarray(trace["core"], np.int64)
    synops = np.asarray(trace["synops"], float)
    service = service_us(core, synops, t0_s, t_syn(limits))
    run = run_queues(trace["t"], core, synops, trace["parent"], service, trace["outputs"])
    summ = summary(run, input_end_us, max_latency_us)
    window = max(input_end_us, summ["drain_us"] or input_end_us) - input_start_us
    per_layer = []
    for layer in chip.layers:
        st = run.core_stats(layer.core, window_us=window if window > 0 else None)
        per_layer.append(st)
    out = {"summary": summ, "layers": per_layer, "culprit": culprit(run) if core.size else None, "run": run}
    if series and core.size:
        end = max(input_end_us, summ["drain_us"] or input_end_us)
        grid = np.linspace(input_start_us, end, SERIES_POINTS)
        curves = []
        for layer in chip.layers:
            on = np.flatnonzero(run.core == layer.core)
            delay = np.full(SERIES_POINTS, np.nan)  # no arrival in a bin: no point
            if on.size:
                b = np.clip(np.searchsorted(grid, run.arrival[on], side="right") - 1, 0, SERIES_POINTS - 1)
                np.fmax.at(delay, b, run.delay[on])
            curves.append({"layer": layer.name, "core": layer.core, "backlog_synops": run.backlog_at(layer.core, grid),
                           "max_delay_us": delay})
        out["series"] = {"t_us": grid, "cores": curves}
    return out


def static_trace(chip: ChipModel, rows: list[dict], input_rate: float, seed: int = 0) -> tuple[dict, float]:
    """A Poisson trace for the static estimate from :func:`bandwidth.static_estimate`'s rows (fan-out, activity,
    decimator per layer).  Returns ``(trace, duration_us)``: 1 s of input, shorter at rates above
    :data:`STATIC_MAX_EVENTS` per second."""
    rate = max(float(input_rate), 0.0)
    duration = 1e6 if rate <= STATIC_MAX_EVENTS else STATIC_MAX_EVENTS / rate * 1e6
    layers = []
    for i, (layer, row) in enumerate(zip(chip.layers, rows)):
        dests = ["output" if d.layer == OUTPUT else int(d.layer) for d in layer.destinations]
        layers.append({"core": layer.core, "fanout": row["fanout"], "activity": row["activity"],
                       "decimate": row["decimate"], "input": i in chip.input_targets, "destinations": dests})
    return poisson_trace(rate, duration, layers, seed=seed), duration


def static_load(chip: ChipModel, rows: list[dict], limits: dict[int, float], t0_s: float) -> list[float]:
    """Offered load of each layer's core: input events/s x mean service time (>= 1: the queue grows without
    bound on a steady input)."""
    ts = t_syn(limits)
    return [row["in_rate"] * (t0_s + row["fanout"] * ts.get(layer.core, 0.0)) for layer, row in zip(chip.layers, rows)]


def _fmt_ms(us) -> str:
    if us is None:
        return "-"
    return f"{us / 1e3:.3g} ms" if abs(us) < 1e6 else f"{us / 1e6:.3g} s"


def verdict(fig: dict, max_latency_us: float, load: list[float] | None = None) -> bool:
    """True when the figures pass: added latency within the limit, backlog drained in time, and (static) no core
    loaded at or above 1."""
    return fig["summary"]["ok"] and not (load and max(load) >= 1.0)


def advise(chip: ChipModel, target, decimate: dict[int, int], evaluate, max_latency_us: float,
           first: dict) -> tuple[dict[int, int] | None, dict | None]:
    """Greedy decimator advice: while the figures fail, relieve the core that adds the largest delay by raising
    the output decimator of the layer that sends it the most events (to the next ratio of the target).  Returns
    ``(decimate, figures)`` that pass, ``(None, None)`` when the culprit is fed only by the input or the
    ratios run out, ``(None, False)`` when the model cannot be run again.  ``evaluate(decimate) -> figures``
    (with a ``load`` entry in static mode; None when the model cannot be run again)."""
    srcs = chip.sources()
    dec = dict(decimate)
    fig = first
    ratios = list(target.decimator_ratios)
    for _ in range(ADVICE_STEPS):
        c = fig["culprit"]
        layer_i = next((i for i, layer in enumerate(chip.layers) if layer.core == c), None)
        if layer_i is None:
            return None, None
        run = fig["run"]
        on = np.flatnonzero(run.core == c)
        par = run.parent[on]
        from_core = run.core[par[par >= 0]]
        candidates = []
        for s in srcs[layer_i]:
            now = dec.get(s, 1)
            nxt = [n for n in ratios if n > now]
            if nxt:
                share = int(np.sum(from_core == chip.layers[s].core))
                candidates.append((share, s, nxt[0]))
        if not candidates:
            return None, None
        _, s, n = max(candidates)
        dec[s] = n
        fig = evaluate(dec)
        if fig is None:  # nothing to re-run the model with
            return None, False
        if verdict(fig, max_latency_us, fig.get("load")):
            return dec, fig
    return None, None


def diagnostic(chip: ChipModel, target, fig: dict, decimate: dict[int, int], max_latency_us: float, evaluate,
               mode: str, load: list[float] | None = None) -> Diagnostic | None:
    """The ``synops_bandwidth`` violation for failing figures (None when they pass): the message names the core
    that adds the most delay and the end-to-end figures; the hint names the decimator ratios that make the model
    pass and what they bring the latency to."""
    if verdict(fig, max_latency_us, load):
        return None
    summ = fig["summary"]
    c = fig["culprit"]
    if load and max(load) >= 1.0:
        i = int(np.argmax(load))
        c = chip.layers[i].core
    i = next(i for i, layer in enumerate(chip.layers) if layer.core == c)
    layer = chip.layers[i]
    st = fig["layers"][i]
    what = []
    if summ["max_added_latency_us"] is not None and summ["max_added_latency_us"] > max_latency_us:
        what.append(f"output events come up to {_fmt_ms(summ['max_added_latency_us'])} late (p99 "
                    f"{_fmt_ms(summ['p99_added_latency_us'])}), over the accepted {_fmt_ms(max_latency_us)}")
    if "drain" in summ["reasons"]:
        what.append(f"the queues drain only {_fmt_ms(summ['drain_us'] - summ['drain_deadline_us'] + max_latency_us)}"
                    " after the input ends")
    if load and max(load) >= 1.0:
        what.append(f"core {c} is offered {max(load):.2f} of its capacity on a steady input, so its queue grows "
                    "without bound")
    basis = "simulated events" if mode == "measured" else "Poisson input at the given rate"
    message = (f"core {c} falls behind ({basis}): it adds up to {_fmt_ms(st['max_added_delay_us'])} to an event "
               f"and holds up to {st['max_backlog_synops']:,} synaptic operations in its queue "
               f"(busy {100 * st['utilisation']:.0f} % of the time); " + "; ".join(what) +
               "; a core that cannot keep up stalls the chip")
    general = (f"or reduce the synaptic work of core {c}: fewer output channels (now {layer.out_channels}), a "
               f"smaller kernel (now {layer.kernel_size[0]}x{layer.kernel_size[1]}) or a larger stride (now "
               f"{layer.stride[0]}), or lower the input event rate")
    fixed, after = advise(chip, target, decimate, evaluate, max_latency_us, fig)
    if fixed is not None:
        changed = {k: v for k, v in fixed.items() if decimate.get(k, 1) != v}
        flags = " ".join(f"--decimate {chip.layers[k].name}={v}" for k, v in sorted(changed.items()))
        names = ", ".join(f"{chip.layers[k].name!r} with ratio {v} (output_decimator_interval "
                          f"{target.decimator_ratios.index(v)})" for k, v in sorted(changed.items()))
        s2 = after["summary"]
        lat = s2["max_added_latency_us"]
        hint = (f"enable the output decimator on {names}: `{flags}`; the model then gives output events at most "
                f"{_fmt_ms(lat) if lat is not None else 'no'} late (from {_fmt_ms(summ['max_added_latency_us'])}) "
                f"and core {c} at most {_fmt_ms(after['layers'][i]['max_added_delay_us'])} of delay (check "
                f"accuracy with `snnc simulate`: the decimator passes 1 spike in N); " + general)
    elif i in chip.input_targets and not chip.sources()[i]:
        hint = ("lower the input event rate (pool or crop the input in the DVS layer); the output decimator cannot "
                f"help a core fed by the input; " + general)
    elif after is False:
        feeders = ", ".join(f"`--decimate {chip.layers[s].name}=N`" for s in chip.sources()[i])
        hint = f"enable the output decimator on a layer feeding core {c} ({feeders}) and check again; " + general
    else:
        hint = "no output decimator ratio on the feeding layers is enough; " + general
    measured = summ["max_added_latency_us"]
    if measured is None or ("drain" in summ["reasons"] and measured <= max_latency_us):
        measured = (summ["drain_us"] or 0.0) - summ["drain_deadline_us"] + max_latency_us
    return Diagnostic("synops_bandwidth", layer.name, message, hint, measured=round(float(measured), 1),
                      limit=max_latency_us,
                      severity="error")


def jsonable_series(series: dict | None) -> dict | None:
    """The curves as lists (for the HTML report's data and tests)."""
    if not series:
        return None
    return {"t_us": np.asarray(series["t_us"]).tolist(),
            "cores": [{"layer": c["layer"], "core": c["core"],
                       "backlog_synops": np.asarray(c["backlog_synops"]).tolist(),
                       "max_delay_us": [None if np.isnan(v) else float(v) for v in c["max_delay_us"]]}
                      for c in series["cores"]]}


__all__ = ["figures", "static_trace", "static_load", "verdict", "advise", "diagnostic", "t_syn"]
