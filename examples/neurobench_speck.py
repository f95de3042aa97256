"""NeuroBench's Benchmark on the simulated Speck chip: the N-MNIST CNN of the NIR paper, MNIST test digits as
N-MNIST-like saccade events binned into 1 ms frames, every metric counted by the bit-accurate simulator.

    pip install "snnc[neurobench]" && pip install --no-deps neurobench==2.3.0
    python examples/neurobench_speck.py --count 20          # prints NeuroBench's results dictionary
    python examples/neurobench_speck.py --config cnn.json   # any configuration from `snnc compile`

The frames are whole event counts per 1 ms step and pixel: SpeckModel turns step s into events at s * 1000 us,
so the metrics' time bins are the frames' steps.  docs/neurobench.md says what each metric means on the chip.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from neurobench.benchmarks import Benchmark
from torch.utils.data import DataLoader, TensorDataset

from snnc.neurobench import (ActivationSparsity, ClassificationAccuracy, ConnectionSparsity, Footprint,
                             MembraneUpdates, ParameterCount, SpeckModel, SynapticOperations)
from snnc.runtime.events import events_to_frames, saccade_events
from snnc.runtime.training.data import load_mnist

HERE = Path(__file__).resolve().parent


def frames(first: int, count: int, dt_us: int, steps: int):
    """MNIST test digits first.. as saccade events (seeded by the index), binned into ``steps`` frames of dt_us."""
    images, labels = load_mnist(HERE / "data" / "mnist")
    x = []
    for i in range(first, first + count):
        ev = saccade_events(images[i] / 255.0, out_shape=(34, 34), rng=np.random.default_rng(i))
        x.append(events_to_frames(ev[ev["t"] < steps * dt_us], (2, 34, 34), steps, steps * dt_us))
    y = labels[first:first + count].astype(np.int64)
    return torch.from_numpy(np.stack(x).astype(np.float32)), torch.from_numpy(y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(HERE / "nmnist_cnn.nir"), help="a configuration JSON or a model file")
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--dt-us", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=5)
    args = ap.parse_args()
    x, y = frames(args.first, args.count, args.dt_us, args.steps)
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size)
    model = SpeckModel(args.config, dt_us=args.dt_us)
    static = [Footprint, ConnectionSparsity, ParameterCount]
    workload = [ClassificationAccuracy, ActivationSparsity, SynapticOperations, MembraneUpdates]
    results = Benchmark(model, loader, [], [], [static, workload]).run(quiet=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
