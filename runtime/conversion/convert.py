"""``snnc convert``: an ANN and calibration data -> a spiking model of chip integers, checked on the simulated chip.

1. :func:`~.ann.load_ann` reads and folds the ANN (BatchNorm into weights, AvgPool into SumPool + 1/k^2).
2. The ANN runs on the calibration inputs; each ReLU's (and the logits') positive activations give percentiles.
3. :mod:`.normalize` turns one choice of knobs (percentile, biases as leak or dropped, output gain, floor) into
   integer layers; the result is compiled with the ordinary pipeline and run on the bit-accurate simulator, fed the
   calibration inputs encoded as events.  The score is how often the chip's prediction (output feature with the
   most spikes) agrees with the ANN's.
4. A small coordinate search over the knobs keeps the best-scoring choice (ties: the earlier, i.e. default,
   choice).  Given ``percentile``, only that percentile is tried.

The per-layer report compares each layer's spike counts with the ANN's activations on the same samples.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from snnc.compiler.errors import SnncError

from .ann import activations, load_ann, run_graph
from .data import encode
from .normalize import Choice, act_node, analyse, integer_layers, percentiles, spiking_graph
from .refit import STEPS as REFIT_STEPS
from .refit import blank_activity, refit_biases
from snnc.targets.speck import DEFAULT_TARGET

DEFAULT_PERCENTILE = 99.9
BIAS_WAYS = ("auto", "leak", "refit", "drop")
FORMAT = 1


@dataclass
class Conversion:
    """What :func:`convert_ann` returns."""

    module: object  # the torch module to save
    graph: object  # the spiking graph IR
    record: dict  # the snnc_conversion record saved with the model
    input_shape: tuple
    report: dict = field(default_factory=dict)


def _log(progress, msg):
    if progress:
        print(msg, file=sys.stderr, flush=True)


def make_record(encoding: dict, choice: Choice, slow_hz: float, has_leak: bool, source: dict) -> dict:
    return {
        "format_version": FORMAT,
        "encoding": dict(encoding),
        "compile": {"keep_biases": bool(has_leak), "clip": False, "slow_clock_hz": float(slow_hz) if has_leak
                    else None},
        "choice": {"percentile": choice.percentile, "scale": choice.scale, "bias": choice.bias, "output_gain": choice.gain,
                   "floor": choice.floor, "half_init": choice.half_init},
        "source": source,
    }


def compile_graph(sg, target: str) -> dict:
    """Compile the spiking graph (its meta carries the conversion record) with default options."""
    from snnc.targets.compile import CompileOptions, compile_model

    return compile_model(sg, CompileOptions(target=target))


def chip_run(config: dict, xs: np.ndarray, idx: np.ndarray, encoding: dict, seed: int = 0,
             keep_counts: bool = False, neurobench: tuple[int, list] | None = None):
    """Run the simulator built from ``config`` on the samples ``xs[idx]``.

    Returns ``(output counts [n, F], events per sample [n], {core: counts [n, ...]} or None)``.  ``neurobench``:
    ``(dt_us, list)``: each sample's NeuroBench counts (``runtime/neurobench_metrics.sample_counts``, over the
    encoding window) are appended to the list.
    """
    from snnc.runtime.simulator import Simulator

    sim = Simulator.from_config(config)
    outs = config["snnc"]["outputs"]
    if len({o["name"] for o in outs}) != 1:  # one layer (split over several cores: one entry per core)
        raise SnncError(f"the compiled model has {len(outs)} output layers; evaluation needs one")
    # output events carry the model's channels (a split output layer's cores: channel_offset, docs/splitting.md)
    n_feat = max(int(o.get("channel_offset", 0))
                 + int(config["cnn_layers"][int(o["core"])]["dimensions"]["output_shape"]["feature_count"])
                 for o in outs)
    counts = np.zeros((len(idx), n_feat), np.int64)
    n_events = np.zeros(len(idx), np.int64)
    per_core: dict | None = {} if keep_counts else None
    for j, i in enumerate(idx):
        ev = encode(xs[i], encoding, int(i), seed)
        res = sim.run(ev, spikes=neurobench is not None)
        if neurobench is not None:
            from ..neurobench_metrics import sample_counts

            neurobench[1].append(sample_counts(sim.program, sim.prepare_events(ev), res, neurobench[0],
                                               window_us=int(encoding["duration_us"])))
        n_events[j] = len(ev)
        f = res.output_events["feature"].astype(np.int64)
        counts[j] = np.bincount(f, minlength=n_feat)[:n_feat]
        if per_core is not None:
            for c, a in res.spike_counts.items():
                per_core.setdefault(c, []).append(a)
    if per_core is not None:
        per_core = {c: np.stack(v) for c, v in per_core.items()}
    return counts, n_events, per_core


def predict(counts: np.ndarray) -> np.ndarray:
    """The output feature with the most spikes (ties: the lowest index)."""
    return np.argmax(counts, axis=-1)


def convert_ann(ann, calibration: np.ndarray, input_shape=None, encoding: dict | None = None,
                percentile: float | None = None, target: str = DEFAULT_TARGET, trust: bool = False,
                tune_samples: int = 100, seed: int = 0, progress: bool = False,
                correct: bool = True, refit_steps: int | None = None, biases: str = "auto") -> Conversion:
    """Convert ``ann`` (path, torch module or ONNX path) using ``calibration`` inputs ``[N, ...]``.

    ``refit_steps``: the Adam steps of the bias re-fit (:mod:`.refit`; default ``refit.STEPS``).  ``biases``:
    ``"auto"`` (measure leak, re-fit -- when conv neurons are active on a blank input -- and dropped; keep the best),
    or one of ``"leak"``, ``"refit"``, ``"drop"`` to take that way without measuring the others."""
    from .data import DEFAULT_ENCODING

    t0 = time.perf_counter()
    encoding = dict(encoding or DEFAULT_ENCODING)
    graph = load_ann(ann, input_shape=input_shape, trust=trust)
    (inp,) = graph.inputs()
    shape = tuple(graph[inp].shape)
    x = np.asarray(calibration, dtype=np.float32)
    if x.ndim < 2 or len(x) == 0 or tuple(x.shape[1:]) != shape:
        raise SnncError(f"calibration data has shape {list(x.shape)}; the ANN takes [N, {', '.join(map(str, shape))}] "
                        "with N >= 1")
    n_tune = min(len(x), max(1, int(tune_samples)))
    fit_idx = np.arange(n_tune)
    check_idx = np.arange(n_tune, min(len(x), 2 * n_tune)) if len(x) > n_tune else fit_idx
    q = percentile if percentile is not None else DEFAULT_PERCENTILE
    per_run = encoding["max_rate_hz"] * encoding["duration_us"] * 1e-6  # input spikes of a value 1.0
    tried: list = []

    def source(g):
        """A (folded, float) graph to convert, with its structure, calibration activations and percentiles."""
        s = analyse(g)
        keep = {act_node(s, w) for w in s.weights}
        acts = activations(g, x, keep)
        return SimpleNamespace(graph=g, st=s, acts=acts, pct=percentiles(acts, [q]))

    ann_src = source(graph)
    st = ann_src.st
    _log(progress, f"convert: {len(st.weights)} weight layers, calibrating on {len(x)} samples")
    logits = ann_src.acts[act_node(st, st.logits)].reshape(len(x), -1)
    ann_pred = np.argmax(logits, axis=1)

    def build(src, choice, ints, slow):
        has_leak = any(li.bias is not None for li in ints.values())
        sg = spiking_graph(src.graph, src.st, ints)
        sg.meta["conversion"] = make_record(encoding, choice, slow, has_leak, {})
        return sg, compile_graph(sg, target)

    def calibrate(src, choice: Choice):
        """Integer layers for ``choice``, then potential correction layer by layer; returns the figures."""
        s, acts = src.st, src.acts
        ints, slow = integer_layers(src.graph, s, src.pct, choice, encoding)
        try:
            sg, config = build(src, choice, ints, slow)
        except SnncError as e:
            return {"error": str(e), "ints": ints, "slow": slow, "sg": spiking_graph(src.graph, s, ints),
                    "config": None, "choice": choice, "src": src, "agreement": -1.0}
        if correct:
            for k, w in enumerate(s.weights):
                _log(progress, f"  [{choice.bias} biases] potential correction of layer {w} ({k + 1}/"
                               f"{len(s.weights)}) on {len(fit_idx)} samples")
                _, _, per = chip_run(config, x, fit_idx, encoding, seed, keep_counts=True)
                core = {e["name"]: int(e["core"]) for e in config["snnc"]["layers"]}[w]
                li = ints[w]
                c = per[core].reshape(len(fit_idx), -1).astype(np.float64)
                a = acts[act_node(s, w)][fit_idx].reshape(len(fit_idx), -1).astype(np.float64)
                excess = (c - np.maximum(a, 0.0) / li.scale * per_run).mean(axis=0)  # spikes per neuron
                v0 = np.broadcast_to(np.asarray(li.v_init, np.float64), excess.shape)
                li.v_init = v0 - excess * li.threshold
                sg, config = build(src, choice, ints, slow)
        counts, n_ev, per = chip_run(config, x, check_idx, encoding, seed, keep_counts=True)
        hits = predict(counts) == ann_pred[check_idx]
        agree = float(np.mean(hits))
        # how closely the output spike counts follow the ANN's logits: the tie-break between equal agreements
        out_r = _corr(counts.astype(np.float64).ravel(), np.maximum(logits[check_idx], 0).astype(np.float64).ravel())
        fig = {"biases": choice.bias, "agreement": agree, "output_correlation": out_r,
               "samples": int(len(check_idx)), "events_per_sample": float(n_ev.mean())}
        if src.refit is not None:
            fig["refit"] = src.refit
        tried.append(fig)
        _log(progress, f"  [{choice.bias} biases] chip agrees with the ANN on {100 * agree:.1f} % of "
                       f"{len(check_idx)} {'held-out ' if check_idx is not fit_idx else ''}calibration samples")
        return {"agreement": agree, "output_correlation": out_r if out_r is not None else -1.0, "ints": ints,
                "slow": slow, "sg": sg, "config": config, "choice": choice, "per_core": per,
                "events": float(n_ev.mean()), "src": src, "hits": hits}

    ann_src.refit = None
    if biases not in BIAS_WAYS:
        raise SnncError(f"--biases must be one of {', '.join(BIAS_WAYS)}, got {biases!r}")
    ways = ["leak", "refit", "strip"] if biases == "auto" else [{"drop": "strip"}.get(biases, biases)]
    if not st.has_bias:
        ways = ["strip"]
    candidates: list = []
    for way in ways:
        if way == "refit":
            blank = blank_activity(graph, st.weights, st.neuron_of, shape)
            active = ", ".join(f"{w} {100 * v:.0f} %" for w, v in blank.items() if v > 0)
            if biases == "auto" and not active:
                continue
            _log(progress, "convert: conv neurons active on a blank input (the chip cannot fire them without input "
                           f"events): {active or 'none'}; re-fitting with conv biases <= 0")
            train_idx = np.setdiff1d(np.arange(len(x)), check_idx) if check_idx is not fit_idx else fit_idx
            hidden = [st.neuron_of[w] for w in st.weights if st.neuron_of[w]]
            student, figs = refit_biases(graph, st.weights, st.logits, x[train_idx], hidden=hidden, seed=seed,
                                         steps=REFIT_STEPS if refit_steps is None else int(refit_steps),
                                         progress=(lambda m: _log(progress, m)))
            figs["blank_active"] = blank
            _log(progress, f"  re-fitted in {figs['seconds']:.0f} s: agrees with the ANN on "
                           f"{100 * figs['agreement']:.1f} % of its {figs['samples']} training samples")
            ref_src = source(student)
            ref_src.refit = figs
            cand = calibrate(ref_src, Choice(percentile=q, bias="refit"))
        else:
            cand = calibrate(ann_src, Choice(percentile=q, bias=way))
        candidates.append(cand)
        if cand.get("config") is None:
            _log(progress, f"convert: the model does not compile for {target}, so it cannot be calibrated on the "
                           f"simulated chip ({cand['error']})")
            break
    tuned = candidates[0].get("config") is not None
    best = _pick(candidates)
    had_bias = st.has_bias
    graph, st, acts = best["src"].graph, best["src"].st, best["src"].acts
    choice, ints, slow, sg, config = best["choice"], best["ints"], best["slow"], best["sg"], best["config"]
    has_leak = any(li.bias is not None for li in ints.values())
    record = make_record(encoding, choice, slow, has_leak, {})
    sg.meta["conversion"] = record

    # per-layer report on the check samples
    chip_figs, name_core, per_core = {}, {}, {}
    n_chk = len(check_idx)
    if config is not None:
        name_core = {e["name"]: int(e["core"]) for e in config["snnc"]["layers"]}
        per_core = best["per_core"]
        chip_figs = {"agreement": best["agreement"], "events_per_sample": best["events"], "samples": int(n_chk),
                     "held_out": bool(check_idx is not fit_idx)}
    duration_s = encoding["duration_us"] * 1e-6
    layers = []
    for w in st.weights:
        li = ints[w]
        rep = dict(li.report)
        a = acts[act_node(st, w)][check_idx].reshape(n_chk, -1).astype(np.float64)
        rep["expected_rate_hz"] = float(np.mean(np.maximum(a, 0.0) / li.scale) * encoding["max_rate_hz"])
        rep["measured_rate_hz"] = None
        rep["spike_agreement"] = None
        core = name_core.get(w)
        if core is not None and core in per_core:
            c = per_core[core].reshape(n_chk, -1).astype(np.float64)
            if c.shape == a.shape:
                rep["measured_rate_hz"] = float(c.mean() / duration_s)
                rep["spike_agreement"] = _corr(c.ravel(), a.ravel())
            rep["core"] = core
        layers.append(rep)
    biases = "none"
    if had_bias:
        biases = "refit" if choice.bias == "refit" else ("leak" if has_leak else "stripped")
    report = {
        "input_shape": list(shape), "encoding": encoding, "calibration_samples": int(len(x)),
        "tuning_samples": int(n_tune), "potential_correction": bool(correct and tuned),
        "choice": record["choice"], "biases": biases,
        "slow_clock_hz": record["compile"]["slow_clock_hz"], "tried": tried, "chip": chip_figs,
        "notes": list(graph.meta.get("notes", [])), "layers": layers, "seconds": time.perf_counter() - t0,
        "tuned": tuned, "refit": best["src"].refit,
    }
    from .module import export_module

    module, names = export_module(sg)
    for rep in layers:
        rep["module"] = names.get(rep["layer"])
    return Conversion(module, sg, record, shape, report)


def _pick(candidates: list) -> dict:
    """The candidate whose chip agrees with the ANN most often, unless others are within the noise of that count;
    then, among those, the one whose output spike counts follow the ANN's logits most closely (then the earlier one).

    "Within the noise" is a paired comparison on the same samples (McNemar): with ``d`` samples on which exactly one
    of two candidates agrees with the ANN, a lead of at most ``max(1, 2 sqrt(d))`` samples is not a difference."""
    ok = [c for c in candidates if "hits" in c]
    if not ok:
        return candidates[0]
    best = max(ok, key=lambda c: c["agreement"])

    def close(c):
        lead = int(best["hits"].sum()) - int(c["hits"].sum())
        d = int(np.count_nonzero(best["hits"] != c["hits"]))
        return lead <= max(1.0, 2.0 * np.sqrt(d))

    return max((c for c in ok if close(c)), key=lambda c: c.get("output_correlation", -1.0))


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def ann_predictions(graph, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """The ANN's predicted class per sample (argmax of its output)."""
    (out,) = graph.outputs()
    (src,) = graph.predecessors(out)
    preds = []
    for a in range(0, len(x), batch):
        res = run_graph(graph, x[a:a + batch], {src})
        preds.append(res[src].reshape(len(res[src]), -1).argmax(1).numpy())
    return np.concatenate(preds)
