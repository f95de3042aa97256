"""Provenance: how the NIR files in this folder were made (run once, by hand, outside the project's environment).

Each framework builds the same small CNN, as its users would, with the same fixed weights:
conv 2->8 (3x3, stride 1, pad 1) -> IF -> avg pool 2 -> conv 8->16 (3x3, stride 2, pad 1) -> IF -> flatten ->
linear 1296->10 -> IF, on 2x34x34 input, no biases.  It is exported with the framework's own NIR exporter, and the
framework's own forward is run on the event streams in ``events.npz`` fed one event per time step; the per-sample,
per-class output spike counts are saved beside the file (``<name>_counts.npy``).

    python3 -m venv /tmp/fwenv
    /tmp/fwenv/bin/pip install torch==2.13.0 nir==1.0.8 nirtorch==2.6 snntorch==1.0.0 norse==1.1.0 rockpool==3.1.0 h5py
    /tmp/fwenv/bin/pip install --no-deps spikingjelly==2.0.0
    /tmp/fwenv/bin/python tests/data/frameworks/make_files.py snntorch spikingjelly norse rockpool

The versions actually used are written to ``provenance.json``.  ``--out DIR`` writes the files there instead
(tests/test_nir_frameworks.py runs snnTorch and SpikingJelly so, live, under nir 1.0.8).
"""
from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
OUT = HERE  # where the files go (--out)
SHAPE = (2, 34, 34)
N_SAMPLES, N_EVENTS = 6, 300


def weights():
    rng = np.random.default_rng(20)
    w1 = rng.uniform(-0.25, 0.75, (8, 2, 3, 3)).astype(np.float32)
    w2 = rng.uniform(-0.2, 0.5, (16, 8, 3, 3)).astype(np.float32)
    w3 = rng.uniform(-0.08, 0.12, (10, 16 * 9 * 9)).astype(np.float32)
    return w1, w2, w3


def events():
    path = HERE / "events.npz"
    if path.exists():
        d = np.load(path)
        return [d[f"s{i}"] for i in range(N_SAMPLES)]
    rng = np.random.default_rng(7)
    out = []
    for _ in range(N_SAMPLES):
        cy, cx = rng.integers(6, 28, 2)  # events cluster around a point, like a digit's strokes
        y = np.clip(rng.normal(cy, 6, N_EVENTS), 0, 33).astype(np.int64)
        x = np.clip(rng.normal(cx, 6, N_EVENTS), 0, 33).astype(np.int64)
        p = rng.integers(0, 2, N_EVENTS)
        out.append(np.stack([x, y, p], axis=1))  # one event per time step, in this order
    np.savez(path, **{f"s{i}": s for i, s in enumerate(out)})
    return out


def torch_layers(bias=False):
    w1, w2, w3 = weights()
    c1 = nn.Conv2d(2, 8, 3, 1, 1, bias=bias)
    c2 = nn.Conv2d(8, 16, 3, 2, 1, bias=bias)
    fc = nn.Linear(16 * 9 * 9, 10, bias=bias)
    with torch.no_grad():
        for m in (c1, c2, fc):
            if bias:
                m.bias.zero_()
        c1.weight.copy_(torch.from_numpy(w1))
        c2.weight.copy_(torch.from_numpy(w2))
        fc.weight.copy_(torch.from_numpy(w3))
    return c1, c2, fc


def run_stepped(step, reset, samples):
    """The framework's own forward: one event per time step; the output layer's spike counts per sample."""
    counts = np.zeros((len(samples), 10), dtype=np.int64)
    with torch.no_grad():
        for i, ev in enumerate(samples):
            reset()
            for x, y, p in ev:
                inp = torch.zeros((1,) + SHAPE)
                inp[0, p, y, x] = 1.0
                counts[i] += step(inp).reshape(-1).numpy().astype(np.int64)
    return counts


def make_snntorch(samples):
    import snntorch as snn
    from snntorch import utils
    from snntorch.export_nir import _extract_snntorch_module
    import nir
    import nirtorch

    out = {}
    for mode in ("subtract", "zero"):
        c1, c2, fc = torch_layers()
        net = nn.Sequential(c1, snn.Leaky(beta=1.0, init_hidden=True, reset_mechanism=mode), nn.AvgPool2d((2, 2), (2, 2)),
                            c2, snn.Leaky(beta=1.0, init_hidden=True, reset_mechanism=mode), nn.Flatten(),
                            fc, snn.Leaky(beta=1.0, init_hidden=True, reset_mechanism=mode, output=True))
        counts = run_stepped(lambda x: net(x)[0], lambda: utils.reset(net), samples)
        # export_to_nir(net, sample) raises in its last step, nir's infer_types ("type mismatch: 0.output:
        # [[8 34 34]] -> 1.input: []": Leaky with a scalar beta gives LIF parameters without a shape), so this runs
        # export_to_nir's own steps without that last call
        graph = nirtorch.extract_nir_graph(net, _extract_snntorch_module, torch.zeros((1,) + SHAPE),
                                           model_name="snntorch", ignore_submodules_of=[snn.RLeaky, snn.RSynaptic])
        # ... and nir.write then fails on the fields infer_types would have filled (Conv2d.input_shape,
        # Flatten.input_type are None): filled in by hand, nothing else changed
        for node in graph.nodes.values():
            if isinstance(node, nir.Conv2d) and node.input_shape is None:
                node.input_shape = np.array([34, 34] if node.weight.shape[1] == 2 else [17, 17])
            if isinstance(node, nir.Flatten) and (node.input_type or {}).get("input") is None:
                node.input_type = {"input": np.array([16, 9, 9])}
            for k, v in list(vars(node).items()):  # 0-d parameters (Leaky's beta): h5py cannot gzip a scalar
                if isinstance(v, np.ndarray) and v.ndim == 0:
                    setattr(node, k, v.reshape(1))
            for k in ("input_type", "output_type"):
                t = getattr(node, k, None)
                if isinstance(t, dict) and any(v is None for v in t.values()):
                    setattr(node, k, {kk: (np.array([]) if v is None else v) for kk, v in t.items()})
        nir.write(str(OUT / f"snntorch_{mode}.nir"), graph)
        np.save(OUT / f"snntorch_{mode}_counts.npy", counts)
        out[f"snntorch_{mode}"] = {"spikes": int(counts.sum()),
                                   "how": f"snn.Leaky(beta=1.0, init_hidden=True, reset_mechanism={mode!r}); "
                                          "snntorch.export_nir.export_to_nir's steps without its final "
                                          "infer_types (which raises on this net), Conv2d.input_shape and "
                                          "Flatten.input_type filled in (None, which nir.write refuses), 0-d parameters made 1-d "
                                          "(h5py cannot compress a scalar); nir.write"}
    return out


def make_spikingjelly(samples):
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    c1, c2, fc = torch_layers()
    net = nn.Sequential(c1, neuron.IFNode(v_threshold=1.0, v_reset=0.0), nn.AvgPool2d(2), c2,
                        neuron.IFNode(v_threshold=1.0, v_reset=0.0), nn.Flatten(), fc,
                        neuron.IFNode(v_threshold=1.0, v_reset=0.0))
    counts = run_stepped(net, lambda: functional.reset_net(net), samples)
    export_to_nir(net, torch.zeros((1,) + SHAPE), save_path=str(OUT / "spikingjelly_if.nir"), dt=1e-4)
    np.save(OUT / "spikingjelly_if_counts.npy", counts)
    return {"spikingjelly_if": {"spikes": int(counts.sum()),
                                "how": "neuron.IFNode(v_threshold=1.0, v_reset=0.0) (hard reset, its default); "
                                       "nir_exchange.export_to_nir(net, torch.zeros(1, 2, 34, 34), save_path, "
                                       "dt=1e-4)"}}


def make_norse(samples):
    import nir
    import norse.torch as norse
    from norse.torch.utils.export_nir import to_nir

    c1, c2, fc = torch_layers(bias=True)  # zero biases: Norse's exporter fails on a Conv2d without bias
    p = norse.IAFParameters(v_th=torch.tensor(1.0), v_reset=torch.tensor(0.0))
    net = norse.SequentialState(c1, norse.IAFCell(p), nn.AvgPool2d(2), c2, norse.IAFCell(p), nn.Flatten(), fc,
                                norse.IAFCell(p))
    state = [None]

    def step(x):
        out, state[0] = net(x, state[0])
        return out

    counts = run_stepped(step, lambda: state.__setitem__(0, None), samples)
    graph = to_nir(net, torch.zeros((1,) + SHAPE))
    kinds = {k: (type(v).__name__ if v is not None else None) for k, v in graph.nodes.items()}
    try:
        nir.write(str(OUT / "norse_iaf.nir"), graph)
        wrote = "written"
    except Exception as e:  # the pooling and the flatten come out as None nodes, which nir.write cannot store
        wrote = f"nir.write fails: {type(e).__name__}: {e}"
        (OUT / "norse_iaf.nir").unlink(missing_ok=True)
    return {"norse_iaf": {"spikes": int(counts.sum()), "nodes": kinds, "file": wrote,
                          "how": "norse.SequentialState(..., IAFCell(IAFParameters(v_th=1, v_reset=0)), ...); "
                                 "norse.torch.utils.export_nir.to_nir(net, torch.zeros(1, 2, 34, 34)); nir.write"}}


def make_rockpool(samples):
    import nir
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch
    from rockpool.nn.modules.torch.nir import to_nir

    net = Sequential(LinearTorch((64, 32), has_bias=False), LIFTorch(32), LinearTorch((32, 10), has_bias=False),
                     LIFTorch(10))
    graph = to_nir(net)
    nir.write(str(OUT / "rockpool_lif.nir"), graph)
    return {"rockpool_lif": {"how": "Sequential(LinearTorch((64, 32)), LIFTorch(32), LinearTorch((32, 10)), "
                                    "LIFTorch(10)); rockpool.nn.modules.torch.nir.to_nir(net); nir.write "
                                    "(Rockpool has no convolution that exports to NIR)"}}


def main(which):
    samples = events()
    prov_path = OUT / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.exists() else {}
    for name in which:
        files = {"snntorch": make_snntorch, "spikingjelly": make_spikingjelly, "norse": make_norse,
                 "rockpool": make_rockpool}[name](samples)
        for key, rec in files.items():
            rec["versions"] = {p: metadata.version(p) for p in ("torch", "nir", "nirtorch", name)}
            prov[key] = rec
    prov["_events"] = (f"events.npz: {N_SAMPLES} samples s0..s{N_SAMPLES - 1}, each {N_EVENTS} rows (x, y, p), fed "
                       "one event per time step")
    prov_path.write_text(json.dumps(prov, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--out" in args:
        i = args.index("--out")
        OUT = Path(args[i + 1])
        del args[i:i + 2]
    main(args)
