"""Simulator speed on the NIR paper's N-MNIST CNN: synaptic updates per second (one thread), the ratio against
sinabs' discretized DynapcnnNetwork forward over T = 300 time bins, and time against the number of events.

    python benchmarks/bench_simulator.py [--model PATH] [--mnist DIR] [--max-events 1000000]

Runs from the project alone: the model is ``examples/nmnist_cnn.nir``, compiled with ``snnc.compile`` (default
options: snnc's quantization, cores 0-4), and the input is N-MNIST-like events made by ``saccade_events`` from the
MNIST test digits in ``examples/data/mnist`` (about 4,000 events over 300 ms on 2x34x34).  sinabs runs the same
integer weights and thresholds, read back from the configuration.
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def load_mnist(folder: Path, n: int) -> np.ndarray:
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n] / 255.0


def build(path: Path):
    """(config dict, the used cores in input-to-output order as (integer weight [F, C, ky, kx], threshold_high,
    threshold_low, stride, padding, input (C, H, W), sum pooling on the way to the next core))."""
    import snnc

    cfg = snnc.compile(str(path), target="speck2f")
    cores = cfg["cnn_layers"]
    order, core = [], cfg["snnc"]["input"]["cores"][0]
    while core is not None:
        order.append(core)
        nxt = [d for d in cores[core]["destinations"] if d["enable"]]
        core = nxt[0]["layer"] if nxt else None
    layers = []
    for k, c in enumerate(order):
        L, d = cores[c], cores[c]["dimensions"]
        w = np.asarray(L["weights"], np.int64).transpose(0, 1, 3, 2)  # [out][in][x][y] -> [out][in][y][x]
        nxt = [x for x in L["destinations"] if x["enable"]]
        layers.append((w, int(L["threshold_high"]), int(L["threshold_low"]), int(d["stride"]["x"]),
                       int(d["padding"]["x"]), (d["input_shape"]["feature_count"], d["input_shape"]["size"]["y"],
                                                d["input_shape"]["size"]["x"]), int(nxt[0]["pooling"]) if nxt else 1))
    return cfg, layers


def sinabs_network(layers):
    spec = importlib.util.spec_from_file_location("snnc_test_conftest", ROOT / "tests" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.install_samna_stub()
    import torch
    import sinabs.layers as sl
    from sinabs.backend.dynapcnn import DynapcnnNetwork

    mods = []
    for wq, th, tl, s, p, _, pool in layers:
        conv = torch.nn.Conv2d(wq.shape[1], wq.shape[0], wq.shape[2], stride=s, padding=p, bias=False)
        conv.weight.data = torch.tensor(wq, dtype=torch.float32)
        mods += [conv, sl.IAFSqueeze(spike_threshold=float(th), min_v_mem=float(tl), batch_size=1)]
        if pool > 1:
            mods.append(sl.SumPool2d(pool))
    return DynapcnnNetwork(torch.nn.Sequential(*mods), input_shape=layers[0][5], discretize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "examples" / "nmnist_cnn.nir")
    ap.add_argument("--mnist", type=Path, default=ROOT / "examples" / "data" / "mnist")
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

    cfg, layers = build(args.model)
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
    used = [i for i, layer in enumerate(cfg["cnn_layers"]) if layer["weights"]]
    print(f"NIR paper CNN on cores {used}, {len(streams)} saccade-encoded MNIST digits (300 ms each)")
    print(f"  events per sample: mean {np.mean(n_ev):.0f}; synops per sample: mean {np.mean(syn) / 1e6:.2f} M")
    print(f"  per core (last sample): " + ", ".join(f"core {c}: {v / 1e3:.0f} k" for c, v in r.synops_per_core.items()))
    print(f"  fast simulator: {np.mean(secs) * 1e3:.1f} ms per sample, {rate / 1e6:.1f} M synops/s (one thread)")

    # 2. against sinabs' discretized DynapcnnNetwork, T = 300 bins of 1 ms
    if not args.no_sinabs:
        net = sinabs_network(layers)
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
