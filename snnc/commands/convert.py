"""snnc convert: a ReLU ANN + calibration data -> a spiking model of chip integers (docs/conversion.md)."""
from __future__ import annotations

import json
from pathlib import Path

from snnc.targets.speck import DEFAULT_TARGET, target_help


def add_parser(sub):
    p = sub.add_parser(
        "convert", help="convert a ReLU ANN to a spiking model for the chip, calibrated on data",
        description="Fold BatchNorm, turn AvgPool into SumPool, normalize each layer to its activation scale on "
                    "the calibration data (Rueckauer et al. 2017), quantize to the chip's integers, add a spiking "
                    "output layer, and correct each layer's initial potentials on the bit-accurate simulator so "
                    "its spike counts match the ANN's activations (Li et al. 2021); biases as leak, dropped, or "
                    "re-fitted (conv biases <= 0, so no neuron must fire without input), whichever agrees best with "
                    "the ANN. Writes a model that `snnc "
                    "check/compile/evaluate` load without --trust or --input-shape. Exit 0: written; 2: bad "
                    "usage, an ANN layer that cannot convert, or bad calibration data.")
    p.add_argument("ann", metavar="ANN", help="the ANN: a torch model file (.pt, whole module; loaded safely) or "
                   ".onnx, built from Conv2d, Linear, BatchNorm, ReLU, AvgPool2d, Flatten, Dropout and residual "
                   "additions")
    p.add_argument("--input-shape", metavar="C,H,W", help="the ANN's input shape (if the file does not store it)")
    p.add_argument("--calibration", metavar="DATA.npz", required=True, help="calibration inputs: x float32 "
                   "[N, C, H, W], as the ANN takes them (a few hundred samples)")
    p.add_argument("--percentile", type=float, default=None, help="activation percentile that sets each layer's "
                   "scale (default 99.9)")
    p.add_argument("--encoding", default=None, choices=["poisson"], help="input encoding (default poisson)")
    p.add_argument("--max-rate", type=float, default=None, metavar="HZ", help="Poisson rate of an input value 1.0 "
                   "(default 250)")
    p.add_argument("--duration-ms", type=float, default=None, metavar="MS", help="encoding window (default 100)")
    p.add_argument("--target", default=DEFAULT_TARGET, help=target_help("chip the calibration runs on"))
    p.add_argument("--tune-samples", type=int, default=100, metavar="N", help="calibration samples the potential "
                   "correction runs on the simulated chip (default 100); the next N check the result")
    p.add_argument("--biases", default="auto", choices=["auto", "leak", "refit", "drop"],
                   help="how the ANN's biases reach the chip: auto (default) measures leak, re-fit (conv biases <= 0, "
                        "distilled from the ANN; tried when conv neurons are active on a blank input) and drop on "
                        "held-out calibration samples and keeps the best; the others take that way alone")
    p.add_argument("--trust", action="store_true", help="unpickle an ANN that names classes outside the "
                   "allow-list (runs code from the file)")
    p.add_argument("-o", "--output", required=True, metavar="SNN.pt", help="where to write the spiking model")
    p.add_argument("--json", action="store_true", help="print the per-layer report as JSON")
    return p


def _pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def format_report(rep: dict, out: str) -> str:
    enc = rep["encoding"]
    lines = [f"snnc convert: {len(rep['layers'])} layers, input {'x'.join(map(str, rep['input_shape']))}, "
             f"calibrated on {rep['calibration_samples']} samples; encoding poisson {enc['max_rate_hz']:g} Hz, "
             f"{enc['duration_us'] / 1000:g} ms"]
    head = (f"  {'layer':<12} {'core':>4} {'act. scale':>10} {'thr':>6} {'w scale':>9} {'clipped':>8} "
            f"{'zeroed':>7} {'bias':>8} {'exp. Hz':>8} {'chip Hz':>8} {'agree r':>8}")
    lines.append(head)
    for r in rep["layers"]:
        chip_hz = "-" if r.get("measured_rate_hz") is None else f"{r['measured_rate_hz']:.1f}"
        corr = "-" if r.get("spike_agreement") is None else f"{r['spike_agreement']:.3f}"
        lines.append(f"  {r['layer'][:12]:<12} {str(r.get('core', '-')):>4} {r['activation_scale']:>10.4g} "
                     f"{r['threshold']:>6} {r['weight_scale']:>9.4g} {_pct(r['clipped_weights']):>8} "
                     f"{_pct(r['zeroed_weights']):>7} {r['bias']:>8} {r['expected_rate_hz']:>8.1f} {chip_hz:>8} "
                     f"{corr:>8}")
    ch = rep["choice"]
    lines.append(f"  scales: {ch.get('scale', 1):g} x the {ch['percentile']:g}th percentile of each layer's positive activations; neurons floored "
                 "at -32768" + ("; initial potentials corrected layer by layer on the simulated chip"
                                if rep.get("potential_correction") else ""))
    tried = {t["biases"]: t for t in rep["tried"]}
    if rep["biases"] == "leak":
        lines.append(f"  biases: kept as leak at a {rep['slow_clock_hz']:g} Hz slow clock (recorded in the model; "
                     "compile writes it into the configuration)")
    elif rep["biases"] == "stripped":
        lines.append("  biases: dropped (the potential correction absorbs their mean effect)")
    elif rep["biases"] == "refit":
        rf = rep["refit"]
        lines.append(f"  biases: re-fitted so that no conv neuron must fire on a blank input (the chip fires a neuron "
                     f"only on an input event): conv biases <= 0, weights fine-tuned to the ANN's logits on "
                     f"{rf['samples']} calibration samples ({rf['steps']} steps; agrees with the ANN on "
                     f"{100 * rf['agreement']:.1f} % of them); the remaining biases are leak at a "
                     f"{rep['slow_clock_hz']:g} Hz slow clock")
    if len(tried) > 1:
        names = {"leak": "leak", "strip": "dropped", "refit": "re-fitted"}
        lines.append("    measured: " + "; ".join(f"{names.get(k, k)}: chip agrees with the ANN on "
                                                  f"{100 * t['agreement']:.1f} %" for k, t in tried.items()))
    chip = rep.get("chip") or {}
    if chip:
        lines.append(f"  calibration check: chip agrees with the ANN on {100 * chip['agreement']:.1f} % of "
                     f"{chip['samples']} {'held-out ' if chip.get('held_out') else ''}calibration samples, "
                     f"{chip['events_per_sample']:.0f} input events per sample")
    else:
        lines.append("  calibration check: not run (the model does not compile for the target; see `snnc check`)")
    lines.append(f"wrote {out}")
    return "\n".join(lines)


def run(args) -> int:
    from snnc.compiler.errors import SnncError
    from snnc.runtime.conversion.convert import convert_ann
    from snnc.runtime.conversion.data import load_samples, make_encoding
    from snnc.runtime.conversion.module import save_converted

    from ._common import parse_shape

    out = Path(args.output)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise SnncError(f"-o {out}: folder {out.parent} does not exist")
    if args.percentile is not None and not (0 < args.percentile <= 100):
        raise SnncError(f"--percentile must be in (0, 100], got {args.percentile:g}")
    if args.tune_samples < 1:
        raise SnncError(f"--tune-samples must be >= 1, got {args.tune_samples}")
    enc = make_encoding(args.encoding, args.max_rate, args.duration_ms)
    shape = parse_shape(args.input_shape)
    x, _ = load_samples(args.calibration, shape=shape, what="--calibration", encoding=enc)
    conv = convert_ann(args.ann, x, input_shape=shape, encoding=enc, percentile=args.percentile,
                       target=args.target, trust=args.trust, tune_samples=args.tune_samples, progress=not args.json,
                       biases=args.biases)
    conv.record["source"] = {"ann": str(args.ann), "calibration": str(args.calibration)}
    save_converted(out, conv.module, conv.input_shape, conv.record)
    if args.json:
        print(json.dumps(dict(conv.report, output=str(out))))
    else:
        print(format_report(conv.report, str(out)))
    return 0
