"""Build the two networks of docs/splitting.md: a layer too big for any Speck core, split over two cores.

    python examples/split_layer.py OUT_DIR

writes OUT_DIR/neuron_split.pt (input 2x34x34; conv 2->32 on 34x34: 131,072 neuron words), OUT_DIR/kernel_split.pt
(input 2x16x16; conv 64->128 3x3: 131,072 kernel words), OUT_DIR/events34.npy and OUT_DIR/events16.npy (2,000
random events each, on 34x34 and 16x16, over 100 ms).  Weights are random
non-negative integers below the threshold (40), so quantization keeps them and sinabs' time-stepped forward agrees
with the chip's event-driven one (docs/splitting.md shows both counts).
"""
import sys
from pathlib import Path

import numpy as np
import sinabs.layers as sl
import torch
import torch.nn as nn


def iaf():
    return sl.IAFSqueeze(batch_size=1, spike_threshold=40.0, min_v_mem=-160.0)


def integer_weights(net, density, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m, p in zip([m for m in net if isinstance(m, nn.Conv2d)], density):
            m.weight.copy_(torch.randint(1, 13, m.weight.shape, generator=g) * (torch.rand(m.weight.shape, generator=g) < p))
    return net


def neuron_split():
    net = nn.Sequential(nn.Conv2d(2, 32, 3, padding=1, bias=False), iaf(), sl.SumPool2d(4),
                        nn.Conv2d(32, 10, 8, bias=False), iaf())
    return integer_weights(net, (1.0, 0.3), 0)


def kernel_split():
    net = nn.Sequential(nn.Conv2d(2, 64, 3, padding=1, bias=False), iaf(),
                        nn.Conv2d(64, 128, 3, padding=1, bias=False), iaf(), sl.SumPool2d(4),
                        nn.Conv2d(128, 10, 4, bias=False), iaf())
    return integer_weights(net, (1.0, 0.05, 0.05), 1)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    torch.save(neuron_split(), out / "neuron_split.pt")
    torch.save(kernel_split(), out / "kernel_split.pt")
    rng = np.random.default_rng(0)
    n = 2000
    for size in (34, 16):
        ev = np.zeros(n, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
        ev["x"], ev["y"] = rng.integers(0, size, n), rng.integers(0, size, n)
        ev["t"], ev["p"] = np.sort(rng.integers(0, 100_000, n)), rng.integers(0, 2, n)
        np.save(out / f"events{size}.npy", ev)
    print(f"wrote {out}/neuron_split.pt, kernel_split.pt, events34.npy, events16.npy")
