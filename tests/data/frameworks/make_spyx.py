"""Provenance of spyx_if.nir and spyx_if_counts.npy (run once, by hand, in a throwaway venv: Spyx needs JAX, which
the project's environment does not have):

    python3 -m venv /tmp/spyxenv && /tmp/spyxenv/bin/pip install jax spyx nir==1.0.8
    /tmp/spyxenv/bin/python tests/data/frameworks/make_spyx.py

The CNN of make_files.py with the same weights, in Spyx 1.0 (flax.nnx, channels-last): nnx.Conv -> spyx.nn.IF ->
spyx.nn.SumPool(2) -> nnx.Conv (weights / 4, so that the sum pooling equals the others' average pooling) -> IF ->
spyx.nn.Flatten -> nnx.Linear -> IF, run on events.npz one event per time step (each event on the NHWC input) and
3 empty steps (Spyx's IF fires one step late per layer: on its state before the step's input), then
exported with spyx.nir.to_nir and written with nir.write.  Spyx's Linear after a Flatten reads (H, W, C) order, so
its kernel holds the other frameworks' (C, H, W) weights permuted to (H, W, C): the file carries them as Spyx has
them.
"""
import json
from importlib import metadata
from pathlib import Path

import jax.numpy as jnp
import nir
import numpy as np
import spyx.nn as snn
from flax import nnx
from spyx.nir import to_nir

HERE = Path(__file__).resolve().parent
rng = np.random.default_rng(20)  # make_files.weights()
w1 = rng.uniform(-0.25, 0.75, (8, 2, 3, 3)).astype(np.float32)
w2 = rng.uniform(-0.2, 0.5, (16, 8, 3, 3)).astype(np.float32)
w3 = rng.uniform(-0.08, 0.12, (10, 16 * 9 * 9)).astype(np.float32)

rngs = nnx.Rngs(0)
# zero biases: with use_bias=False Spyx exports Conv2d(bias=None), which nir.write cannot store
c1 = nnx.Conv(2, 8, (3, 3), strides=1, padding=((1, 1), (1, 1)), use_bias=True, rngs=rngs)
c2 = nnx.Conv(8, 16, (3, 3), strides=2, padding=((1, 1), (1, 1)), use_bias=True, rngs=rngs)
fc = nnx.Linear(16 * 9 * 9, 10, use_bias=False, rngs=rngs)
c1.bias.value = jnp.zeros(8)
c2.bias.value = jnp.zeros(16)
c1.kernel.value = jnp.asarray(w1.transpose(2, 3, 1, 0))  # OIHW -> HWIO
c2.kernel.value = jnp.asarray((w2 / 4).transpose(2, 3, 1, 0))
fc.kernel.value = jnp.asarray(w3.reshape(10, 16, 9, 9).transpose(0, 2, 3, 1).reshape(10, -1).T)  # (H, W, C) rows
model = snn.Sequential(c1, snn.IF((34, 34, 8)), snn.SumPool(2, 2, "VALID"), c2, snn.IF((9, 9, 16)), snn.Flatten(),
                       fc, snn.IF((10,)))

d = np.load(HERE / "events.npz")
samples = [d[k] for k in sorted(d.files, key=lambda k: int(k[1:]))]
step = nnx.jit(lambda m, x, s: m(x, s))
counts = np.zeros((len(samples), 10), dtype=np.int64)
for i, ev in enumerate(samples):
    state = model.initial_state(1)
    for x, y, p in ev:
        inp = np.zeros((1, 34, 34, 2), np.float32)
        inp[0, y, x, p] = 1.0
        out, state = step(model, jnp.asarray(inp), state)
        counts[i] += np.asarray(out).reshape(-1).astype(np.int64)
    for _ in range(3):  # Spyx's IF fires on the state before the step's input: one step late per layer, so three
        out, state = step(model, jnp.zeros((1, 34, 34, 2)), state)  # empty steps let the last events come out
        counts[i] += np.asarray(out).reshape(-1).astype(np.int64)

graph = to_nir(model, {"input": np.array([2, 34, 34])}, {"output": np.array([10])}, dt=1)
nir.write(str(HERE / "spyx_if.nir"), graph)
np.save(HERE / "spyx_if_counts.npy", counts)
prov_path = HERE / "provenance.json"
prov = json.loads(prov_path.read_text())
prov["spyx_if"] = {"spikes": int(counts.sum()), "how": "see make_spyx.py: spyx.nn.IF (fires on the state before "
                   "this step's input, then subtracts the threshold; 3 empty steps after the events); spyx.nir.to_nir(model, {'input': [2, 34, 34]}, "
                   "{'output': [10]}, dt=1); nir.write",
                   "versions": {p: metadata.version(p) for p in ("jax", "flax", "spyx", "nir")}}
prov_path.write_text(json.dumps(prov, indent=1, sort_keys=True) + "\n")
print(counts.sum(), counts)
