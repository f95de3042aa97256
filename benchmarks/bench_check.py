"""How long `snnc check`'s compile pipeline takes on a 9-layer model (frontend, passes, rule checks, core assignment).

    python benchmarks/bench_check.py [--repeat 20]

Prints the median and best wall time per stage and in total, for the model built as a torch module saved to a .pt
file (the path a user takes) and as an in-memory graph (the pipeline alone).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn


def nine_layer_model() -> nn.Module:
    import sinabs.layers as sl

    chans = [2, 16, 32, 32, 64, 64, 64, 32, 16]
    layers = []
    for i in range(8):
        layers += [nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1,
                                                                                                min_v_mem=-1.0)]
        if i in (0, 2, 4):
            layers.append(sl.SumPool2d(2))
    layers += [nn.Flatten(), nn.Linear(16 * 8 * 8, 10, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)]
    return nn.Sequential(*layers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from snnc.targets.compile import CompileOptions, run_pipeline

    model = nine_layer_model()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nine.pt"
        torch.save({"model": model, "input_shape": [2, 64, 64]}, path)
        run_pipeline(str(path), CompileOptions())  # warm-up (imports)
        totals, stages = [], {}
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            r = run_pipeline(str(path), CompileOptions())
            totals.append(time.perf_counter() - t0)
            for k, v in r.timings.items():
                stages.setdefault(k, []).append(v)
        assert r.fits and len(r.chip.layers) == 9, "the benchmark model must fit on 9 cores"
    print(f"snnc check pipeline, 9-layer model from a .pt file, {args.repeat} runs:")
    print(f"  total   median {statistics.median(totals) * 1e3:8.1f} ms   best {min(totals) * 1e3:8.1f} ms")
    for k, v in stages.items():
        print(f"  {k:<7} median {statistics.median(v) * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
