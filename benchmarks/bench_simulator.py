"""Simulator speed: synaptic updates per second (one thread) and the ratio against sinabs' T = 300 forward.

On the NIR paper's N-MNIST CNN (the headline) and on four other networks, against sinabs' forward over T = 300 time
bins in the same run; and time against the number of events on the NIR CNN.

    NUMBA_NUM_THREADS=1 python benchmarks/bench_simulator.py [--networks nir,deep,wide,residual,mlp]
        [--digits 20] [--max-events 1000000] [--repeat 3] [--no-sinabs]

Runs from the project alone.  Input: N-MNIST-like events made by ``saccade_events`` from the MNIST test digits in
``examples/data/mnist`` (about 4,400 events over 300 ms on 2x34x34), the same for every network.

* ``nir``: ``examples/nmnist_cnn.nir`` compiled with ``snnc.compile`` (default options, cores 0-4: 5x5 stride 2,
  3x3 convs with pooling, a 4x4 conv to 256 features, a linear layer to 10).  sinabs runs the same integer weights
  and thresholds read back from the configuration, as a discretized ``DynapcnnNetwork``.
* ``deep`` (8 cores: seven 3x3 convs of 16-64 features with three sum poolings, a linear head), ``wide`` (7x7 and
  5x5 convs, sum pooling, a linear head), ``residual`` (3x3 convs with two residual additions, i.e. merges of two
  cores into one, and a linear head), ``mlp`` (a 3x3 stride-2 conv, pooling, three linear layers 512-128-64-10):
  torch / sinabs models with seeded random weights, compiled with ``snnc.compile``.  Random weights give no
  meaningful activity, so each core's ``threshold_high`` is then set (cores in input-to-output order) to the
  smallest value at which it makes at most one spike per input event (0.1 for the output cores), on three digits:
  about the activity of the trained NIR CNN.  sinabs runs the torch model itself (IAFSqueeze layers, float
  weights) on T = 300 frames: the same dense computation per time bin, whatever the weights.
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


# --- the other networks: torch / sinabs models with seeded random weights ------------------------------------------

def _iaf():
    import sinabs.layers as sl

    return sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)


def net_deep():
    import sinabs.layers as sl
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(2, 16, 3, padding=1, bias=False), _iaf(),
        nn.Conv2d(16, 16, 3, padding=1, bias=False), _iaf(), sl.SumPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), _iaf(),
        nn.Conv2d(32, 32, 3, padding=1, bias=False), _iaf(), sl.SumPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), _iaf(),
        nn.Conv2d(64, 64, 3, padding=1, bias=False), _iaf(), sl.SumPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1, bias=False), _iaf(),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 10, bias=False), _iaf())


def net_wide():
    import sinabs.layers as sl
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(2, 16, 7, padding=3, bias=False), _iaf(), sl.SumPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2, bias=False), _iaf(), sl.SumPool2d(2),
        nn.Conv2d(32, 32, 5, padding=2, bias=False), _iaf(), sl.SumPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 10, bias=False), _iaf())


def net_residual():
    import sinabs.layers as sl
    from torch import nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.s1 = nn.Conv2d(2, 16, 3, stride=2, padding=1, bias=False), _iaf()
            self.c2, self.s2 = nn.Conv2d(16, 16, 3, padding=1, bias=False), _iaf()
            self.c3, self.s3 = nn.Conv2d(16, 16, 3, padding=1, bias=False), _iaf()
            self.pool = sl.SumPool2d(2)
            self.c4, self.s4 = nn.Conv2d(16, 32, 3, padding=1, bias=False), _iaf()
            self.c5, self.s5 = nn.Conv2d(32, 32, 3, padding=1, bias=False), _iaf()
            self.flat = nn.Flatten()
            self.fc, self.s6 = nn.Linear(32 * 8 * 8, 10, bias=False), _iaf()

        def forward(self, x):
            a = self.s1(self.c1(x))
            b = self.s3(self.c3(self.s2(self.c2(a))))
            c = self.pool(a + b)
            d = self.s4(self.c4(c))
            e = self.s5(self.c5(d))
            return self.s6(self.fc(self.flat(d + e)))

    return Residual()


def net_mlp():
    import sinabs.layers as sl
    from torch import nn

    return nn.Sequential(nn.Conv2d(2, 8, 3, stride=2, padding=1, bias=False), _iaf(), sl.SumPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 8 * 8, 128, bias=False), _iaf(),
                         nn.Linear(128, 64, bias=False), _iaf(), nn.Linear(64, 10, bias=False), _iaf())


NETWORKS = {"deep": net_deep, "wide": net_wide, "residual": net_residual, "mlp": net_mlp}


def random_weights(model, seed: int = 0):
    """Seeded weights with a positive mean (so that events add up to spikes) and three times that spread."""
    import torch
    from torch import nn

    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            mean = 1.0 / m.weight[0].numel()
            m.weight.data = mean + 3 * mean * torch.randn(m.weight.shape, generator=g)
    return model


def core_order(prog) -> list[int]:
    """The used cores in input-to-output order (every core after all cores that feed it)."""
    feeds = {c: [d[0] for d in prog.cores[c].destinations if d[0] in prog.cores] for c in prog.cores}
    n_in = {c: 0 for c in prog.cores}
    for c in feeds:
        for d in feeds[c]:
            n_in[d] += 1
    order, todo = [], [c for c in prog.input_cores if n_in[c] == 0]
    while todo:
        c = todo.pop(0)
        order.append(c)
        for d in feeds[c]:
            n_in[d] -= 1
            if n_in[d] == 0:
                todo.append(d)
    return order


def calibrate(prog, streams, per_event: float = 1.0, exit_per_event: float = 0.1) -> dict[int, int]:
    """Set each core's threshold_high (cores in input-to-output order, the later ones silenced meanwhile) to the
    smallest value at which it makes at most ``per_event`` spikes per input event (``exit_per_event`` for cores
    without destinations) on ``streams``.  Returns {core: threshold}."""
    from snnc.runtime.simulator import Simulator

    order = core_order(prog)
    top = 2 ** 15 - 1
    for c in order:
        prog.cores[c].threshold_high = top

    def ratio(c):
        spikes = events = 0
        for ev in streams:
            r = Simulator(prog).run(ev)
            spikes += r.spikes_per_core[c]
            events += r.input_events_per_core[c]
        return spikes / max(events, 1)

    for c in order:
        want = per_event if any(d[0] in prog.cores for d in prog.cores[c].destinations) else exit_per_event
        lo, hi = 1, top  # ratio(hi) <= want is assumed (int8 weights: one spike needs hundreds of events)
        while lo < hi:
            mid = (lo + hi) // 2
            prog.cores[c].threshold_high = mid
            if ratio(c) <= want:
                hi = mid
            else:
                lo = mid + 1
        prog.cores[c].threshold_high = lo
    return {c: prog.cores[c].threshold_high for c in order}


def sinabs_time(net, streams, k: int = 5, repeat: int = 1) -> float:
    """Seconds per sample of ``net``'s forward on T = 300 frames of 1 ms (states reset before each sample): the
    fastest of ``repeat`` passes over ``k`` samples."""
    import torch
    from sinabs.layers import StatefulLayer

    from snnc.runtime.events import events_to_frames

    with torch.no_grad():
        frames = [torch.tensor(events_to_frames(ev, (2, 34, 34), 300, 300_000), dtype=torch.float32)
                  for ev in streams[:k]]
        net(frames[0])
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            for fr in frames:
                for m in net.modules():
                    if isinstance(m, StatefulLayer):
                        m.reset_states()
                net(fr)
            best = min(best, (time.perf_counter() - t0) / len(frames))
        return best


def run_samples(sim, streams, repeat: int = 1):
    """(events, synops, seconds) per sample, from the fastest of ``repeat`` passes over ``streams``; the last
    result."""
    best = None
    for _ in range(repeat):
        n_ev, syn, secs = [], [], []
        for ev in streams:
            r = sim.run(ev)
            n_ev.append(len(ev))
            syn.append(sum(r.synops_per_core.values()))
            secs.append(r.sim_seconds)
        if best is None or sum(secs) < sum(best[2]):
            best = (np.array(n_ev), np.array(syn), np.array(secs))
    return (*best, r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "examples" / "nmnist_cnn.nir")
    ap.add_argument("--mnist", type=Path, default=ROOT / "examples" / "data" / "mnist")
    ap.add_argument("--networks", default="nir," + ",".join(NETWORKS),
                    help="comma-separated, from: nir, " + ", ".join(NETWORKS))
    ap.add_argument("--digits", type=int, default=20)
    ap.add_argument("--max-events", type=int, default=1_000_000, help="scaling on the NIR CNN up to this (0: none)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="passes over the samples (and over sinabs' samples); the fastest pass counts (default 3)")
    ap.add_argument("--no-sinabs", action="store_true")
    args = ap.parse_args()
    names = [n.strip() for n in args.networks.split(",") if n.strip()]
    for n in names:
        if n != "nir" and n not in NETWORKS:
            ap.error(f"unknown network {n!r}: choose from nir, {', '.join(NETWORKS)}")

    import numba
    import torch

    numba.set_num_threads(1)
    torch.set_num_threads(1)
    import snnc
    from snnc.runtime.events import saccade_events
    from snnc.runtime.simulator import Simulator, program_from_config

    imgs = load_mnist(args.mnist, args.digits)
    streams = [saccade_events(im, rng=i) for i, im in enumerate(imgs)]
    summary = []
    sim = None
    for name in names:
        if name == "nir":
            cfg, layers = build(args.model)
            sim = nir_sim = Simulator.from_config(cfg)
            title = f"nir: NIR paper CNN"
        else:
            model = random_weights(NETWORKS[name]())
            cfg = snnc.compile(model, target="speck2f", input_shape=(2, 34, 34))
            prog = program_from_config(cfg)
            th = calibrate(prog, streams[:3])
            sim = Simulator(prog)
            title = f"{name}: thresholds {th}"
        sim.run(streams[0][:10])  # load / compile the kernel outside the timings
        n_ev, syn, secs, r = run_samples(sim, streams, args.repeat)
        rate = syn.sum() / secs.sum()
        used = sorted(r.synops_per_core)
        print(f"{title}; cores {used}, {len(streams)} saccade-encoded MNIST digits (300 ms each)")
        print(f"  events per sample: mean {n_ev.mean():.0f}; synops per sample: mean {syn.mean() / 1e6:.2f} M; "
              f"per core (last sample): " + ", ".join(
                  f"{c}: {v / 1e3:.0f} k ({r.spikes_per_core[c] / max(r.input_events_per_core[c], 1):.2f} "
                  "spikes/event)" for c, v in r.synops_per_core.items()))
        print(f"  fast simulator: {secs.mean() * 1e3:.2f} ms per sample, {rate / 1e6:.1f} M synops/s (one thread, "
              f"fastest of {args.repeat} passes)")
        ratio = None
        if not args.no_sinabs:
            net = sinabs_network(layers) if name == "nir" else model
            t_sinabs = sinabs_time(net, streams, repeat=args.repeat)
            ratio = t_sinabs / float(np.mean(secs[:5]))
            print(f"  sinabs{' DynapcnnNetwork (discretized,' if name == 'nir' else ' forward (IAFSqueeze,'} "
                  f"T = 300): {t_sinabs * 1e3:.1f} ms per sample -> snnc is {ratio:.1f}x faster")
        summary.append((name, syn.mean() / 1e6, rate / 1e6, ratio))

    if "nir" in names and args.max_events:
        # time against the number of events (streams laid end to end)
        print("nir scaling:           events      synops    seconds   ns/event   M synops/s")
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
            r = min((nir_sim.run(allev[:n]) for _ in range(args.repeat)), key=lambda r: r.sim_seconds)
            s = sum(r.synops_per_core.values())
            print(f"  {n:>20}  {s:>10}  {r.sim_seconds:>9.3f}  {r.sim_seconds / n * 1e9:>9.0f}  "
                  f"{s / r.sim_seconds / 1e6:>11.1f}")
            n *= 10

    print("summary:  network   M synops/sample   M synops/s   x sinabs (T = 300)")
    for name, per, rate, ratio in summary:
        print(f"  {name:>14}  {per:>16.2f}  {rate:>11.1f}  {'' if ratio is None else f'{ratio:>14.1f}'}")


if __name__ == "__main__":
    main()
