"""``snnc evaluate --dataset DIR``: chip accuracy over a folder of event files, on all cores or a Dask cluster.
(Options and output; the work is in ``snnc.runtime.evaluation``.)"""
from __future__ import annotations

import json

from snnc.targets.speck import DEFAULT_TARGET, target_help


def add_dataset_options(p) -> None:
    g = p.add_argument_group("event data sets (--dataset)")
    g.add_argument("--dataset", metavar="DIR", help="a folder DIR/<class>/*.{bin,npy,npz,aedat4} (class folders "
                   "named 0, 1, ... or listed in DIR/classes.txt) or DIR/labels.csv: chip accuracy of MODEL_OR_CONFIG "
                   "over it (no --config needed)")
    g.add_argument("--workers", type=int, metavar="N", default=None, help="worker processes (default: all cores); "
                   "results are identical to --workers 1, in the same order")
    g.add_argument("--scheduler", metavar="ADDRESS", help="run the samples on a Dask cluster, e.g. "
                   "tcp://HOST:8786 (pip install 'snnc[dask]'; the files must be readable there)")
    g.add_argument("--crop", metavar="X0,Y0,W,H", help="keep the events in this sensor window (shifted to 0,0)")
    g.add_argument("--downsample", type=int, metavar="N", help="divide event coordinates by N (after --crop)")
    g.add_argument("--target", default=DEFAULT_TARGET, help=target_help("chip to compile a model file for"))
    g.add_argument("-o", "--output", metavar="PREDICTIONS.csv", help="write one line per sample: index, file, "
                   "label, prediction, input_events, output_spikes")


def run_dataset(args) -> int:
    from snnc.compiler.errors import SnncError
    from snnc.runtime.eventfit import check_downsample, parse_crop
    from snnc.runtime.evaluation import evaluate_dataset, load_model_config, write_predictions

    from ._neurobench import neurobench_dt, print_neurobench

    if args.limit is not None and args.limit < 1:
        raise SnncError(f"--limit must be >= 1, got {args.limit}")
    if args.output:
        from pathlib import Path

        parent = Path(args.output).resolve().parent
        if not parent.is_dir():
            raise SnncError(f"{args.output}: folder {parent} does not exist")
    config = load_model_config(args.model, target=args.target)
    res = evaluate_dataset(config, args.dataset, limit=args.limit, workers=args.workers, scheduler=args.scheduler,
                           crop=parse_crop(args.crop), downsample=check_downsample(args.downsample),
                           progress=not args.json, neurobench_dt_us=neurobench_dt(args))
    rows = res.pop("predictions")
    if args.output:
        write_predictions(args.output, rows)
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"samples:             {res['samples']} ({res['events_per_sample']:.0f} input events per sample)")
    print(f"chip (simulated):    {100 * res['chip_accuracy']:.2f} %")
    print("per class:           " + ", ".join(f"{k}: {100 * v['accuracy']:.1f} % of {v['samples']}"
                                            for k, v in res["per_class"].items()))
    sps = res["samples_per_second"]
    print(f"time:                {res['seconds']:.2f} s ({sps:.1f} samples/s, workers: {res['workers']})")
    print_neurobench(res)
    if args.output:
        print(f"wrote {args.output}")
    return 0
