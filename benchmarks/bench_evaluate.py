"""Data-set evaluation throughput: `snnc evaluate MODEL --dataset DIR` with --workers 1 and --workers 2.

    python benchmarks/bench_evaluate.py [--count 200] [--repeat 2]

Builds an N-MNIST-like folder of `--count` MNIST test digits (saccade events, N-MNIST .bin files; the same
generator as examples/encode_mnist.py --dataset) in a temporary folder, compiles the NIR paper CNN, and runs the
whole evaluation (reading the files, fitting, simulating, collecting) with 1 and with 2 worker processes.  The
numba kernel is loaded once before timing, so that the first run does not pay for it.  Prints samples/s for each,
the ratio, the CPU time per sample of all processes together (equal for 1 and 2 workers when the parallel run adds
no work), whether the runs gave identical per-sample predictions, the CPU count and the load average before and
after (the samples/s depend on the other work the machine does at the time; with Linux autogroup scheduling,
``/proc/sys/kernel/sched_autogroup_enabled`` = 1, all processes of one terminal session share one CPU share, so a
second worker gains nothing on a machine busy with other sessions).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished worker processes."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200, help="digits in the data set")
    ap.add_argument("--repeat", type=int, default=2, help="runs per worker count (the best is reported)")
    ap.add_argument("--workers", default="1,2", help="worker counts to compare, e.g. 1,2,4")
    args = ap.parse_args()

    import snnc
    from snnc.runtime.evaluation import Job, evaluate_dataset, warm_up
    from snnc.runtime.training.data import load_mnist

    spec = importlib.util.spec_from_file_location("encode_mnist", ROOT / "examples" / "encode_mnist.py")
    enc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(enc)
    images, labels = load_mnist(ROOT / "examples" / "data" / "mnist")
    config = snnc.compile(snnc.load(ROOT / "examples" / "nmnist_cnn.nir"), target="speck2f")
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "digits"
        enc.write_dataset(folder, images, labels, 0, args.count, "saccade", "bin")
        import json

        warm_up(Job(json.dumps(config, sort_keys=True)))
        load0 = os.getloadavg()
        best, preds, cpu = {}, {}, {}
        for _ in range(args.repeat):
            for w in counts:
                c0 = _cpu_seconds()
                res = evaluate_dataset(config, folder, workers=w)
                used = _cpu_seconds() - c0
                cpu[w] = min(cpu.get(w, float("inf")), used / res["samples"])
                best[w] = max(best.get(w, 0.0), res["samples_per_second"])
                preds[w] = [r["prediction"] for r in res["predictions"]]
                acc = res["chip_accuracy"]
        load1 = os.getloadavg()
    base = best[counts[0]]
    print(f"N-MNIST-like digits: {args.count}; chip accuracy {100 * acc:.1f} %; CPUs {os.cpu_count()}; "
          f"load average {load0[0]:.1f} before, {load1[0]:.1f} after")
    for w in counts:
        print(f"  --workers {w}: {best[w]:.1f} samples/s (best of {args.repeat})  x{best[w] / base:.2f}  "
              f"CPU {1e3 * cpu[w]:.1f} ms per sample (all processes)  "
              f"predictions identical to --workers {counts[0]}: {preds[w] == preds[counts[0]]}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
