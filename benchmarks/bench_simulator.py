"""Simulator speed on the NIR paper's N-MNIST CNN: synaptic updates per second (one thread), the ratio against
sinabs' discretized DynapcnnNetwork forward over T = 300 time bins, and time against the number of events.

    python benchmarks/bench_simulator.py [--model PATH] [--mnist DIR] [--max-events 1000000]

Until `snnc compile` exists, the config is built here from the NIR file: each chip layer's weights scaled so that
max |w| = 127, its threshold (1.0 in the model) scaled alike, biases dropped.  Input: N-MNIST-like events made by
``saccade_events`` from MNIST test digits (about 4,000 events over 300 ms on 2x34x34).
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def load_mnist(folder: Path, n: int) -> np.ndarray:
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n] / 255.0


def nir_layers(path: Path):
    """The NIR CNN as chip layers: (torch weight [F, C, k, k], stride, padding, input (C, H, W), sum pooling on the
    way to the next layer)."""
    import nir

    g = nir.read(str(path))
    n = g.nodes
    conv = lambda k: (n[k].weight, int(n[k].stride[0]), int(n[k].padding[0]))  # noqa: E731
    fc1 = n["9"].weight.reshape(256, 8, 4, 4)
    fc2 = n["11"].weight.reshape(10, 256, 1, 1)
    return [(*conv("0"), (2, 34, 34), 1), (*conv("2"), (16, 16, 16), 2), (*conv("5"), (16, 8, 8), 2),
            (fc1, 1, 0, (8, 4, 4), 1), (fc2, 1, 0, (256, 1, 1), 1)]


def build(path: Path):
    """(config dict, list of (integer weight, threshold, stride, padding)) for the NIR CNN on cores 0..4."""
    import configs as C

    cores, layers = {}, nir_layers(path)
    ints = []
    for i, (w, s, p, (c, h, wd), pool) in enumerate(layers):
        scale = 127.0 / np.abs(w).max()
        wq = np.round(w * scale).astype(np.int64)
        th = int(round(1.0 * scale))
        last = i == len(layers) - 1
        cores[i] = C.layer(wq, (h, wd), stride=s, padding=p, threshold_high=th, threshold_low=-32768,
                           monitor=last, destinations=[] if last else [(i + 1, pool, 0)])
        ints.append((wq, th, s, p))
    return C.config(cores), ints, layers


def sinabs_network(ints, layers):
    spec = importlib.util.spec_from_file_location("snnc_test_conftest", ROOT / "tests" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.install_samna_stub()
    import torch
    import sinabs.layers as sl
    from sinabs.backend.dynapcnn import DynapcnnNetwork

    mods = []
    for i, ((wq, th, s, p), (_, _, _, (c, h, w), _)) in enumerate(zip(ints, layers)):
        if i == 3:
            mods.append(torch.nn.Flatten())
            lin = torch.nn.Linear(wq.shape[1] * wq.shape[2] * wq.shape[3], wq.shape[0], bias=False)
            lin.weight.data = torch.tensor(wq.reshape(wq.shape[0], -1), dtype=torch.float32)
            mods.append(lin)
        elif i == 4:
            lin = torch.nn.Linear(wq.shape[1], wq.shape[0], bias=False)
            lin.weight.data = torch.tensor(wq.reshape(wq.shape[0], -1), dtype=torch.float32)
            mods.append(lin)
        else:
            conv = torch.nn.Conv2d(wq.shape[1], wq.shape[0], wq.shape[2], stride=s, padding=p, bias=False)
            conv.weight.data = torch.tensor(wq, dtype=torch.float32)
            mods.append(conv)
        mods.append(sl.IAFSqueeze(spike_threshold=float(th), min_v_mem=-32768.0, batch_size=1))
        if layers[i][4] > 1:
            mods.append(sl.SumPool2d(layers[i][4]))
    snn = torch.nn.Sequential(*mods)
    return DynapcnnNetwork(snn, input_shape=(2, 34, 34), discretize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT.parent / "shared" / "models" / "nir_paper_nmnist_cnn.nir")
    ap.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    ap.add_argument("--digits", type=int, default=20)
    ap.add_argument("--max-events", type=int, default=1_000_000)
    ap.add_argument("--no-sinabs", action="store_true")
    args = ap.parse_args()

    import numba
    import torch

    numba.set_num_threads(1)
    torch.set_num_threads(1)
    from snnc.runtime.events import events_to_frames, saccade_events
    from snnc.runtime.simulator import Simulator

    cfg, ints, layers = build(args.model)
    sim = Simulator.from_config(cfg)
    imgs = load_mnist(args.mnist, args.digits)
    streams = [saccade_events(im, rng=i) for i, im in enumerate(imgs)]
    sim.run(streams[0][:10])  # load / compile the kernel outside the timings

    # 1. one N-MNIST-like sample at a time
    n_ev, syn, secs = [], [], []
    for ev in streams:
        r = sim.run(ev)
        n_ev.append(len(ev))
        syn.append(sum(r.synops_per_core.values()))
        secs.append(r.sim_seconds)
    rate = sum(syn) / sum(secs)
    print(f"NIR paper CNN on cores 0-4, {len(streams)} saccade-encoded MNIST digits (300 ms each)")
    print(f"  events per sample: mean {np.mean(n_ev):.0f}; synops per sample: mean {np.mean(syn) / 1e6:.2f} M")
    print(f"  per core (last sample): " + ", ".join(f"core {c}: {v / 1e3:.0f} k" for c, v in r.synops_per_core.items()))
    print(f"  fast simulator: {np.mean(secs) * 1e3:.1f} ms per sample, {rate / 1e6:.1f} M synops/s (one thread)")

    # 2. against sinabs' discretized DynapcnnNetwork, T = 300 bins of 1 ms
    if not args.no_sinabs:
        net = sinabs_network(ints, layers)
        from sinabs.layers import StatefulLayer
        k = min(5, len(streams))
        with torch.no_grad():
            frames = [torch.tensor(events_to_frames(ev, (2, 34, 34), 300, 300_000), dtype=torch.float32)
                      for ev in streams[:k]]
            net(frames[0])
            t0 = time.perf_counter()
            for fr in frames:
                for m in net.modules():
                    if isinstance(m, StatefulLayer):
                        m.reset_states()
                net(fr)
            t_sinabs = (time.perf_counter() - t0) / k
        t_ours = float(np.mean(secs[:k]))
        print(f"  sinabs DynapcnnNetwork (discretized, T = 300): {t_sinabs * 1e3:.1f} ms per sample -> "
              f"snnc is {t_sinabs / t_ours:.1f}x faster")

    # 3. time against the number of events (streams laid end to end)
    print("  scaling:        events      synops    seconds   ns/event   M synops/s")
    big = []
    t_off = 0
    while sum(len(b) for b in big) < args.max_events:
        for ev in streams:
            e = ev.copy()
            e["t"] += t_off
            t_off += 300_000
            big.append(e)
    allev = np.concatenate(big)
    n = 1000
    while n <= min(args.max_events, len(allev)):
        r = sim.run(allev[:n])
        s = sum(r.synops_per_core.values())
        print(f"  {n:>20}  {s:>10}  {r.sim_seconds:>9.3f}  {r.sim_seconds / n * 1e9:>9.0f}  "
              f"{s / r.sim_seconds / 1e6:>11.1f}")
        n *= 10


if __name__ == "__main__":
    main()
