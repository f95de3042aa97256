"""snnc evaluate: accuracy of a trained model as float, as integers, and on the bit-accurate simulated chip."""
from __future__ import annotations

import json

from ._energy import add_energy_options, qualia_settings_from_args
from ._neurobench import neurobench_dt, print_neurobench


def add_parser(sub):
    p = sub.add_parser("evaluate", help="accuracy of the float model, the integer model and the simulated chip",
                       description="Evaluate on the evaluation split of a training configuration: the float model, "
                       "the integer (quantized) model, and the bit-accurate simulator built from the compiled "
                       "configuration, all fed the same input events; also how often the integer model and the "
                       "simulator agree.  Given a configuration JSON instead of a model, only the chip figure is "
                       "computed (the others are null).  With --data TEST.npz instead of --config: any model `compile` takes "
                       "(converted, trained, NIR) on labelled samples encoded as Poisson events, optionally against "
                       "an ANN (docs/conversion.md).")
    p.add_argument("model", metavar="MODEL_OR_CONFIG_JSON", help="a model saved by `snnc train` (.pt), or a "
                   "configuration written by `snnc compile` (.json)")
    p.add_argument("--config", metavar="CONFIG.toml", help="the training configuration (dataset, "
                   "evaluation split, encoding)")
    add_data_options(p)
    p.add_argument("--limit", metavar="N", type=int, default=None, help="evaluate only the first N samples of the "
                   "evaluation split")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    add_energy_options(p)
    from ._dataset_eval import add_dataset_options

    add_dataset_options(p)
    g = p.add_argument_group("NeuroBench metrics (docs/neurobench.md)")
    g.add_argument("--neurobench", action="store_true", help="also report NeuroBench's metrics counted on the "
                   "simulated chip (ClassificationAccuracy, ActivationSparsity, MembraneUpdates, SynapticOperations, "
                   "Footprint, ConnectionSparsity, ParameterCount), per layer and in total")
    g.add_argument("--neurobench-dt-us", type=int, default=None, metavar="US", help="with --neurobench: the time "
                   "bin (us) of ActivationSparsity, MembraneUpdates and Dense (default 1000)")
    return p


def add_data_options(p) -> None:
    """``--data TEST.npz`` and what goes with it (runtime/conversion/evaluate.py does the work)."""
    p.add_argument("--data", metavar="TEST.npz", help="labelled samples (x float32 [N, C, H, W], y [N]) encoded as "
                   "events; instead of --config. Works for converted, trained and NIR models")
    p.add_argument("--ann", metavar="ANN", help="with --data: also the ANN's accuracy on the same x")
    p.add_argument("--encoding", choices=["poisson"], default=None, help="with --data: input encoding (default: "
                   "what a converted model records, else poisson)")
    p.add_argument("--max-rate", type=float, default=None, metavar="HZ", help="with --data: Poisson rate of a "
                   "value 1.0 (default: recorded, else 250)")
    p.add_argument("--duration-ms", type=float, default=None, metavar="MS", help="with --data: encoding window "
                   "(default: recorded, else 100)")
    p.add_argument("--trust", action="store_true", help="with --ann: unpickle an ANN outside the allow-list")


def run_data(args) -> int:
    from snnc.runtime.conversion.evaluate import evaluate_data

    enc = {"kind": args.encoding, "max_rate_hz": args.max_rate,
           "duration_us": None if args.duration_ms is None else int(round(args.duration_ms * 1000))}
    res = evaluate_data(args.model, args.data, ann=args.ann, encoding=enc, limit=args.limit, trust=args.trust,
                        progress=True, neurobench_dt_us=neurobench_dt(args))
    if args.json:
        print(json.dumps(res))
        return 0
    pct = lambda v: "n/a" if v is None else f"{100 * v:.2f} %"  # noqa: E731
    print(f"samples:             {res['samples']}")
    print(f"events per sample:   {res['events_per_sample']:.0f}")
    print(f"ANN:                 {pct(res['ann_accuracy'])}")
    print(f"chip (simulated):    {pct(res['chip_accuracy'])}")
    print(f"ANN/chip agree:      {pct(res['agreement'])}")
    print_neurobench(res)
    return 0


def run(args) -> int:
    from snnc.compiler.errors import SnncError
    from snnc.runtime.training.evaluate import evaluate

    modes = [flag for flag, given in (("--config", args.config), ("--data", args.data),
                                      ("--dataset", args.dataset)) if given]
    if len(modes) > 1:
        raise SnncError(f"give one of --config CONFIG.toml, --data TEST.npz or --dataset DIR, not {' and '.join(modes)}")
    if args.limit is not None and args.limit < 1:
        raise SnncError(f"--limit must be >= 1, got {args.limit}")
    if args.ann is not None and args.data is None:
        raise SnncError("--ann needs --data")
    neurobench_dt(args)  # refuses a bad --neurobench-dt-us before any work
    if args.dataset:
        from ._dataset_eval import run_dataset

        return run_dataset(args)
    if args.data is not None:
        return run_data(args)
    if not args.config:
        raise SnncError("say what to evaluate on: --config CONFIG.toml (a training configuration's evaluation "
                        "split), --data TEST.npz (labelled samples) or --dataset DIR (a folder of event files)")
    res = evaluate(args.model, args.config, limit=args.limit, progress=not args.json,
                   energy=qualia_settings_from_args(args, training_toml=args.config),
                   neurobench_dt_us=neurobench_dt(args))
    if args.json:
        print(json.dumps(res))
        return 0

    def pct(v):
        return "n/a" if v is None else f"{100 * v:.2f} %"

    print(f"samples:             {res['samples']}")
    print(f"float model:         {pct(res['float_accuracy'])}")
    print(f"integer model:       {pct(res['quantized_accuracy'])}")
    print(f"chip (simulated):    {pct(res['chip_accuracy'])}")
    print(f"integer/chip agree:  {pct(res['agreement'])}")
    if (res.get("energy") or {}).get("qualia"):
        from snnc.compiler.energy_qualia import format_qualia

        print(format_qualia(res["energy"]["qualia"]))
    print_neurobench(res)
    return 0
