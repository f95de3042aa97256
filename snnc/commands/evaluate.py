"""snnc evaluate: accuracy of a trained model as float, as integers, and on the bit-accurate simulated chip."""
from __future__ import annotations

import json

from ._energy import add_energy_options, qualia_settings_from_args


def add_parser(sub):
    p = sub.add_parser("evaluate", help="accuracy of the float model, the integer model and the simulated chip",
                       description="Evaluate on the evaluation split of a training configuration: the float model, "
                       "the integer (quantized) model, and the bit-accurate simulator built from the compiled "
                       "configuration, all fed the same input events; also how often the integer model and the "
                       "simulator agree.  Given a configuration JSON instead of a model, only the chip figure is "
                       "computed (the others are null).")
    p.add_argument("model", metavar="MODEL_OR_CONFIG_JSON", help="a model saved by `snnc train` (.pt), or a "
                   "configuration written by `snnc compile` (.json)")
    p.add_argument("--config", metavar="CONFIG.toml", help="the training configuration (dataset, "
                   "evaluation split, encoding)")
    p.add_argument("--limit", metavar="N", type=int, default=None, help="evaluate only the first N samples of the "
                   "evaluation split")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    add_energy_options(p)
    from ._dataset_eval import add_dataset_options

    add_dataset_options(p)
    return p


def run(args) -> int:
    from snnc.compiler.errors import SnncError
    from snnc.runtime.training.evaluate import evaluate

    if args.dataset:
        from ._dataset_eval import run_dataset

        if args.config:
            raise SnncError("give --dataset DIR (chip accuracy over a folder) or --config CONFIG.toml (the "
                            "training configuration's evaluation split), not both")
        return run_dataset(args)
    if not args.config:
        raise SnncError("give --config CONFIG.toml (the training configuration) or --dataset DIR (a folder of "
                        "event files)")
    if args.limit is not None and args.limit < 1:
        raise SnncError(f"--limit must be >= 1, got {args.limit}")
    res = evaluate(args.model, args.config, limit=args.limit, progress=not args.json,
                   energy=qualia_settings_from_args(args, training_toml=args.config))
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
    return 0
