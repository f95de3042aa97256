"""The queue model's added latency on the NIR paper's N-MNIST CNN: the first N saccade-encoded MNIST test digits
(as examples/encode_mnist.py makes them) and, when ../shared is here, the real N-MNIST recording, each at its own
rate and 10x faster.  The figures behind the default `--max-latency-ms` (docs/bandwidth.md, "Why 10 ms").

    python benchmarks/bench_latency.py [--digits 20]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def read_nmnist_bin(path):
    from snnc.runtime.events import make_events

    b = np.fromfile(path, np.uint8).reshape(-1, 5).astype(np.int64)
    return make_events(b[:, 0], b[:, 1], ((b[:, 2] & 0x7F) << 16) | (b[:, 3] << 8) | b[:, 4], b[:, 2] >> 7)


def main() -> None:
    from snnc.runtime.measure import analyze
    from snnc.targets.compile import CompileOptions, run_pipeline
    from snnc.runtime.events import saccade_events
    from snnc.runtime.training.data import load_mnist

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--digits", type=int, default=20)
    args = ap.parse_args()
    res = run_pipeline(str(ROOT / "examples" / "nmnist_cnn.nir"), CompileOptions(), until="assign")
    images, _ = load_mnist(ROOT / "examples" / "data" / "mnist")
    streams = {f"digit {k}": saccade_events(images[k] / 255.0, out_shape=(34, 34), rng=np.random.default_rng(k))
               for k in range(args.digits)}
    rec = ROOT.parent / "shared" / "data" / "events" / "sample_nmnist.bin"
    if rec.exists():
        streams["sample_nmnist.bin"] = read_nmnist_bin(rec)
    print(f"{'input':<20} {'events':>7}  {'own rate: max / p99 late':>26}  {'10x faster: max / p99 late':>28}  verdict")
    worst = {1: [], 10: []}
    t0 = time.perf_counter()
    for name, ev in streams.items():
        cells, verdicts = [], []
        for k in (1, 10):
            e = ev.copy()
            e["t"] = e["t"] // k
            a = analyze(res, events=e)
            worst[k].append(a["max_added_latency_us"] / 1e3)
            cells.append(f"{a['max_added_latency_us'] / 1e3:8.2f} / {a['p99_added_latency_us'] / 1e3:6.2f} ms")
            verdicts.append("fails" if any(d.severity == "error" for d in a["diagnostics"]) else "passes")
        print(f"{name:<20} {len(ev):>7}  {cells[0]:>26}  {cells[1]:>28}  {' / '.join(verdicts)}")
    print(f"own rate: {min(worst[1]):.2f}-{max(worst[1]):.2f} ms; 10x faster: {min(worst[10]):.2f}-"
          f"{max(worst[10]):.2f} ms  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
