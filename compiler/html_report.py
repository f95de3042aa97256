"""The ``snnc report`` page: one self-contained HTML file (no external resources; plots are inline PNG images
drawn with matplotlib's Agg backend).

:func:`report_data` gathers plain data from a compile result and a bandwidth analysis; :func:`render_html` turns
that data into the page (so the page can be tested from hand-made data); :func:`write_html` writes it atomically.
"""
from __future__ import annotations

import base64
import html
import io

import numpy as np

from .memory import memory_row

MAX_RASTER_POINTS = 20_000  # above this, the raster shows an even subsample (said on the plot)


# ---------------------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------------------
def report_data(result, analysis: dict | None, source: str = "model", measurement=None) -> dict:
    """Plain data for the page: layers with memory use against their core's capacity, the SynOps/s rows of
    ``analysis`` (from :func:`snnc.compiler.bandwidth.analyze`), its energy estimate, diagnostics, and -- with a
    measurement -- input and output event times for the raster and per-layer spike rates."""
    t = result.target
    chip = result.chip
    layers = []
    for layer in (chip.layers if chip is not None else []):
        core = t.cores[layer.core] if layer.core is not None else None
        row = memory_row(layer, core)
        if core is None:
            row.update({"kernel_capacity": None, "neuron_capacity": None, "bias_capacity": None})
        layers.append(row)
    diags = list(result.diagnostics.items) + list((analysis or {}).get("diagnostics", []))
    data = {
        "source": source, "target": t.name, "fits": bool(result.fits) and not any(
            d.severity == "error" for d in (analysis or {}).get("diagnostics", [])),
        "layers": layers,
        "mode": (analysis or {}).get("mode"),
        "cores": (analysis or {}).get("cores", []),
        "energy": (analysis or {}).get("energy"),
        "limit_source": t.synops_limit_source,
        "diagnostics": [{"severity": d.severity, "rule": d.rule, "layer": d.layer, "message": d.message,
                         "hint": d.hint} for d in diags],
        "note": (analysis or {}).get("note"),
        "notes": list(getattr(result, "notes", []) or []),  # what the compiler did on its own (a split, ...)
        "queue_series": (analysis or {}).get("queue_series"),
        "latency": (analysis or {}).get("latency"),
        "max_added_latency_us": (analysis or {}).get("max_added_latency_us"),
        "p99_added_latency_us": (analysis or {}).get("p99_added_latency_us"),
    }
    if measurement is not None:
        run = measurement.sim
        dur = measurement.duration_s
        data["duration_s"] = dur
        data["input_times_us"] = np.asarray(measurement.times_us)
        spikes = []
        for layer, n in zip(chip.layers, measurement.out_spikes):
            spikes.append({"layer": layer.name, "core": layer.core, "spikes": n,
                           "rate": n / dur if dur > 0 else None})
        data["spike_rates"] = spikes
        if run is not None and len(run.output_events):
            data["output_events"] = {"t": np.asarray(run.output_events["t"]),
                                     "layer": np.asarray(run.output_events["layer"]),
                                     "feature": np.asarray(run.output_events["feature"])}
    return data


# ---------------------------------------------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _label(row) -> str:
    core = "-" if row.get("core") is None else row["core"]
    name = str(row.get('name') or row.get('layer')).replace("$", r"\$")  # a user's "$" is not matplotlib's math
    return f"core {core}\n{name}"


def plot_memory(layers: list[dict]) -> str | None:
    """Kernel and neuron memory per core as a fraction of that core's capacity (100% = full)."""
    if not layers:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(layers) + 2), 3.2))
    x = np.arange(len(layers))
    for off, kind, color in ((-0.2, "kernel", "#4c72b0"), (0.2, "neuron", "#dd8452")):
        used = np.array([r[f"{kind}_memory"] for r in layers], float)
        cap = np.array([r[f"{kind}_capacity"] or np.nan for r in layers], float)
        ax.bar(x + off, 100 * used / cap, 0.4, label=f"{kind} memory", color=color)
    ax.axhline(100, color="crimson", lw=1.2, ls="--", label="core capacity")
    ax.set_xticks(x, [_label(r) for r in layers], fontsize=8)
    ax.set_ylabel("% of the core's memory")
    ax.set_title("Memory per core against its capacity")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_synops(cores: list[dict], mode: str | None) -> str | None:
    """SynOps/s per core (mean, and peaks when measured) against each core's limit, log scale."""
    rows = [r for r in cores if r.get("synops_per_s_mean") is not None]
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(rows) + 2), 3.4))
    x = np.arange(len(rows))
    series = [("synops_per_s_mean", "mean" if mode == "measured" else "static estimate (mean)", "#4c72b0")]
    if mode == "measured":
        series += [("synops_per_s_peak_10ms", "peak, 10 ms window", "#dd8452"),
                   ("synops_per_s_peak_1ms", "peak, 1 ms window", "#c44e52")]
    width = 0.8 / len(series)
    for j, (key, label, color) in enumerate(series):
        vals = np.array([max(float(r.get(key) or 0), 1.0) for r in rows])
        ax.bar(x - 0.4 + width * (j + 0.5), vals, width, label=label, color=color)
    for xi, r in zip(x, rows):
        if r.get("synops_limit"):
            ax.hlines(r["synops_limit"], xi - 0.45, xi + 0.45, color="crimson", lw=2,
                      label="limit (estimate)" if xi == 0 else None)
    ax.set_yscale("log")
    ax.set_xticks(x, [_label(r) for r in rows], fontsize=8)
    ax.set_ylabel("synaptic operations / s")
    ax.set_title("Synaptic operations per core against the limits")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_queues(series: dict | None, max_latency_ms: float | None = None) -> str | None:
    """Each core as a queue over time: the synaptic operations waiting in it, and the largest delay it adds to an
    event arriving then (docs/bandwidth.md)."""
    if not series or not series.get("cores"):
        return None
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4))
    t = np.asarray(series["t_us"]) * 1e-3
    for c in series["cores"]:
        label = f"core {c['core']} ({c['layer']})"
        a1.plot(t, np.asarray(c["backlog_synops"]), lw=1.2, label=label)
        a2.plot(t, np.asarray(c["max_delay_us"], dtype=float) * 1e-3, lw=1.2, label=label)
    a1.set_xlabel("time (ms)")
    a1.set_ylabel("synaptic operations queued")
    a1.set_title("Backlog per core")
    a2.set_xlabel("arrival time (ms)")
    a2.set_ylabel("delay added (ms)")
    a2.set_title("Largest delay a core adds to an event")
    if max_latency_ms:
        a2.axhline(max_latency_ms, color="crimson", lw=1.2, ls="--", label="accepted end-to-end delay")
    a1.legend(fontsize=7)
    a2.legend(fontsize=7)
    return _png(fig)


def plot_raster(data: dict) -> str | None:
    """Input events and the monitored output spikes over time; per-layer spike rates beside them."""
    if "input_times_us" not in data:
        return None
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [2, 1]})
    t_in = np.asarray(data["input_times_us"]) * 1e-3
    step = max(1, t_in.size // MAX_RASTER_POINTS)
    a1.plot(t_in[::step], np.full(t_in[::step].size, -1), "|", ms=6, color="0.6", label="input events")
    out = data.get("output_events")
    if out is not None and len(out["t"]):
        t = np.asarray(out["t"]) * 1e-3
        st = max(1, t.size // MAX_RASTER_POINTS)
        a1.scatter(t[::st], np.asarray(out["feature"])[::st], s=4, c=np.asarray(out["layer"])[::st],
                   cmap="tab10", label="output spikes (feature)")
    a1.set_xlabel("input time (ms)")
    a1.set_ylabel("output feature (input at -1)")
    thinned = step > 1 or (out is not None and len(out["t"]) > MAX_RASTER_POINTS)
    a1.set_title("Spike raster" + (" (subsampled evenly)" if thinned else ""))
    a1.legend(fontsize=8, loc="upper right")
    rates = data.get("spike_rates") or []
    if rates:
        a2.barh(np.arange(len(rates)), [r["rate"] or 0 for r in rates], color="#55a868")
        a2.set_yticks(np.arange(len(rates)), [_label(r).replace("\n", " ") for r in rates], fontsize=8)
        a2.invert_yaxis()
        a2.set_xlabel("spikes / s")
        a2.set_title("Spike rate per layer")
    return _png(fig)


def plot_energy(energy: dict | None) -> str | None:
    """Per-layer energy under both models: Lemaire et al. split by component, the Speck model beside it."""
    if not energy:
        return None
    plt = _plt()
    lem = energy["lemaire2022"]["per_layer"]
    names = [f"{p['layer']}" for p in lem]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4))
    x = np.arange(len(lem))
    bottom = np.zeros(len(lem))
    for key, color in (("mem_pot", "#4c72b0"), ("mem_weights", "#dd8452"), ("mem_bias", "#937860"),
                       ("mem_io", "#8172b3"), ("ops", "#55a868"), ("addr", "#c44e52")):
        vals = np.array([p[key] for p in lem]) * 1e6
        a1.bar(x, vals, 0.6, bottom=bottom, label=key, color=color)
        bottom += vals
    a1.set_xticks(x, names, fontsize=8)
    a1.set_ylabel("µJ")
    a1.set_title("Lemaire et al. 2022 model (45 nm), per layer")
    a1.legend(fontsize=7)
    sp = energy["per_layer"]
    a2.bar(np.arange(len(sp)), [p["joules"] * 1e6 for p in sp], 0.6, color="#4c72b0", label="dynamic")
    a2.set_xticks(np.arange(len(sp)), [p["layer"] for p in sp], fontsize=8)
    a2.set_ylabel("µJ")
    a2.set_title(f"Speck model, per layer (+ static {energy['static_joules'] * 1e6:.3g} µJ)")
    fig.suptitle(f"Energy estimate per {energy['per']}", fontsize=10, y=1.04)
    return _png(fig)


# ---------------------------------------------------------------------------------------------------------------
# page
# ---------------------------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1150px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.ok{color:#1a7f37;font-weight:600} .bad{color:#c0392b;font-weight:600} .muted{color:#666;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:8px 0} td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left} img{max-width:100%;display:block;margin:8px 0}
.diag{font-family:ui-monospace,Menlo,monospace;font-size:13px;margin:6px 0} .error{color:#c0392b} .warning{color:#9a6700}
"""


def _e(x) -> str:
    return html.escape(str(x))


def _num(v, unit="") -> str:
    if v is None:
        return "–"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}{unit}"
    return f"{v:.4g}{unit}"


def _img(b64: str | None, alt: str) -> str:
    if not b64:
        return f'<p class="muted">({_e(alt)}: nothing to plot)</p>'
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">'


def render_html(data: dict) -> str:
    """The whole page as one string; every image is inline, nothing is fetched."""
    fits = data["fits"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>snnc report: {_e(data['source'])}"
             f"</title><style>{_CSS}</style></head><body>",
             f"<h1>snnc report: {_e(data['source'])} → {_e(data['target'])}</h1>",
             f"<p class='{'ok' if fits else 'bad'}'>{'fits the chip' if fits else 'does not fit the chip'}</p>"]
    mode = data.get("mode")
    if mode == "measured":
        parts.append(f"<p class='muted'>Synaptic operations counted by the bit-accurate simulator on "
                     f"{len(data.get('input_times_us', []))} input events over {_num(data.get('duration_s'))} s of "
                     "input time. Limits and energies are estimates, not measurements.</p>")
    elif mode == "static":
        parts.append("<p class='muted'>Synaptic operations from a static estimate (input rate × fan-out, an assumed "
                     "activity per layer). Limits and energies are estimates, not measurements.</p>")

    parts.append("<h2>Memory per core</h2>")
    parts.append(_img(plot_memory(data["layers"]), "memory per core"))
    rows = "".join(
        f"<tr><td class='l'>{_e(r['name'])}</td><td>{_e(r['core'] if r['core'] is not None else '–')}</td>"
        f"<td>{_e('×'.join(map(str, r['input_shape'])))}</td><td>{_e('×'.join(map(str, r['output_shape'])))}</td>"
        f"<td>{_num(r['kernel_memory'])} / {_num(r['kernel_capacity'])}</td>"
        f"<td>{_num(r['neuron_memory'])} / {_num(r['neuron_capacity'])}</td>"
        f"<td>{_num(r['bias_memory'])} / {_num(r['bias_capacity'])}</td></tr>" for r in data["layers"])
    parts.append("<table><tr><th class='l'>layer</th><th>core</th><th>input</th><th>output</th><th>kernel mem</th>"
                 f"<th>neuron mem</th><th>bias mem</th></tr>{rows}</table>")
    if data.get("notes"):
        parts.append("<ul class='muted'>" + "".join(f"<li>note: {_e(n)}</li>" for n in data["notes"]) + "</ul>")

    if data.get("cores"):
        parts.append("<h2>Synaptic operations per core</h2>")
        parts.append(_img(plot_synops(data["cores"], mode), "synaptic operations per core"))
        hdr = "<tr><th class='l'>layer</th><th>core</th><th>synops</th><th>mean /s</th>"
        hdr += "<th>peak 1 ms /s</th><th>peak 10 ms /s</th>" if mode == "measured" else "<th>input events /s</th>"
        hdr += "<th>limit /s</th><th>decimator</th></tr>"
        body = ""
        for r in data["cores"]:
            body += (f"<tr><td class='l'>{_e(r['layer'])}</td><td>{_e(r['core'])}</td><td>{_num(r.get('synops'))}</td>"
                     f"<td>{_num(r.get('synops_per_s_mean'))}</td>")
            body += (f"<td>{_num(r.get('synops_per_s_peak_1ms'))}</td><td>{_num(r.get('synops_per_s_peak'))}</td>"
                     if mode == "measured" else f"<td>{_num(r.get('in_rate'))}</td>")
            body += f"<td>{_num(r.get('synops_limit'))}</td><td>1/{_e(r.get('decimate', 1))}</td></tr>"
        parts.append(f"<table>{hdr}{body}</table><p class='muted'>Limits: {_e(data['limit_source'])}</p>")

    if data.get("queue_series"):
        lat = data.get("latency") or {}
        mx, p99 = data.get("max_added_latency_us"), data.get("p99_added_latency_us")
        parts.append("<h2>Queues per core: backlog and delay</h2>")
        parts.append("<p class='muted'>Each core serves the events reaching it one at a time, "
                     f"{_num((lat.get('event_time_s') or 0) * 1e9)} ns plus 1 / limit per synaptic operation "
                     "(estimates; docs/bandwidth.md). End to end: output events "
                     + ("none" if mx is None else f"up to {_num(mx / 1e3)} ms late (p99 {_num(p99 / 1e3)} ms)")
                     + f"; accepted {_num(lat.get('max_latency_ms'))} ms.</p>")
        parts.append(_img(plot_queues(data["queue_series"], lat.get("max_latency_ms")), "backlog and delay per core"))
        body = "".join(
            f"<tr><td class='l'>{_e(r['layer'])}</td><td>{_e(r['core'])}</td>"
            f"<td>{_num(100 * r['utilisation'] if r.get('utilisation') is not None else None, ' %')}</td>"
            f"<td>{_num(r.get('max_backlog_synops'))}</td>"
            f"<td>{_num(r['max_added_delay_us'] / 1e3 if r.get('max_added_delay_us') is not None else None)}</td>"
            f"<td>{_num(r['longest_busy_period_us'] / 1e3 if r.get('longest_busy_period_us') is not None else None)}"
            f"</td></tr>" for r in data.get("cores", []))
        parts.append("<table><tr><th class='l'>layer</th><th>core</th><th>busy</th><th>max backlog (synops)</th>"
                     f"<th>max delay (ms)</th><th>longest busy period (ms)</th></tr>{body}</table>")

    if "input_times_us" in data:
        parts.append("<h2>Spikes</h2>")
        parts.append(_img(plot_raster(data), "spike raster and per-layer rates"))

    e = data.get("energy")
    if e:
        parts.append("<h2>Energy (estimate)</h2>")
        parts.append(_img(plot_energy(e), "energy per layer"))
        lem = e["lemaire2022"]
        parts.append(
            f"<table><tr><th class='l'>model</th><th>total</th><th class='l'>basis</th></tr>"
            f"<tr><td class='l'>Speck model (see docs/energy.md for its figures)</td>"
            f"<td>{_num(e['total_joules'] * 1e6, ' µJ')}</td><td class='l'>{_e(e['basis'])}; per {_e(e['per'])}; "
            f"dynamic {_num(e['dynamic_joules'] * 1e6, ' µJ')} + static {_num(e['static_joules'] * 1e6, ' µJ')}</td></tr>"
            f"<tr><td class='l'>Lemaire et al., ICONIP 2022 (45 nm, Qualia-SNN)</td>"
            f"<td>{_num(lem['total_joules'] * 1e6, ' µJ')}</td><td class='l'>same activity; memory accesses and "
            f"operations</td></tr></table>")
        if e.get("qualia"):
            from .energy_qualia import TERMS

            q = e["qualia"]
            pr = q["params"]
            op = pr["op_estimation_type"]
            hdr = ("<tr><th class='l'>layer</th><th>θ in</th><th>θ out</th>"
                   + "".join(f"<th>{t}</th>" for t in TERMS) + "<th>total</th></tr>")
            body = "".join(
                f"<tr><td class='l'>{_e(r['layer'])}</td><td>{_num(r.get('input_count'))}</td>"
                f"<td>{_num(r.get('output_count'))}</td>"
                + "".join(f"<td>{_num(r[t] * 1e9)}</td>" for t in TERMS) + f"<td>{_num(r['total'] * 1e9)}</td></tr>"
                for r in [*q["per_layer"], {"layer": "total", **q["total"]}])
            parts.append(
                f"<h3>Qualia-SNN EnergyEstimationMetric (nJ)</h3><p class='muted'>T = {_e(pr['timesteps'])}, "
                f"mem_width {_e(pr['mem_width'])}, fifo_size {_e(pr['fifo_size'])}, op_estimation_type "
                f"{_e('default' if op is None else op['add'] + ' / ' + op['mul'])}, sram_estimation_type {_e(pr['sram_estimation_type'])}; "
                f"{_e(q['reference'])}</p><table>{hdr}{body}</table>")

    parts.append("<h2>Diagnostics</h2>")
    if data["diagnostics"]:
        for d in data["diagnostics"]:
            where = f"{d['layer']}: " if d["layer"] else ""
            parts.append(f"<div class='diag {_e(d['severity'])}'>{_e(d['severity'])}[{_e(d['rule'])}]: {_e(where)}"
                         f"{_e(d['message'])}" + (f"<br>&nbsp;&nbsp;= hint: {_e(d['hint'])}" if d["hint"] else "")
                         + "</div>")
    else:
        parts.append("<p class='muted'>none</p>")
    if data.get("note"):
        parts.append(f"<p class='muted'>note: {_e(data['note'])}</p>")
    parts.append("<p class='muted'>Generated by snnc.</p></body></html>")
    return "\n".join(parts)


def write_html(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    from .fileio import atomic_write

    atomic_write(path, text)