"""The converted model as torch/sinabs layers that ``snnc check/compile`` load without ``--trust``.

A chain becomes ``nn.Sequential`` of ``Conv2d`` / ``Linear`` (integer weights, integer biases when kept as leak),
``sinabs.layers.IAFSqueeze`` (integer threshold, ``min_v_mem``, subtract reset, one spike per step, the initial
state in ``v_mem``), ``sinabs.layers.SumPool2d`` and ``Flatten``.  A graph with residual sums becomes a
:class:`SpikingGraph`: the same layers in an ``nn.ModuleDict`` and a plan of which feeds which, with
``sinabs.layers.Merge`` for the sums (``torch.fx`` traces its ``forward``).

The file holds ``{"model": module, "input_shape": [C, H, W], "snnc_conversion": record}``; the record carries the
encoding the model was calibrated for and how the compiler must treat it (biases kept as leak at a slow-clock
frequency, no weight clipping), see :func:`save_converted`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from snnc.compiler.ir import IAF, Add, Conv2d, Flatten, Graph, Input, Linear, Output, SumPool


class SpikingGraph(nn.Module):
    """Layers in a ModuleDict run in the order of ``plan``: ``[(key, [input keys])]``; ``"input"`` is the input."""

    def __init__(self, layers: dict, plan: list, output: str):
        super().__init__()
        self.layers = nn.ModuleDict(layers)
        self.plan = [(k, list(srcs)) for k, srcs in plan]
        self.output = output

    def forward(self, x):
        env = {"input": x}
        for key, srcs in self.plan:
            env[key] = self.layers[key](*[env[s] for s in srcs])
        return env[self.output]


def _key(name: str) -> str:
    return name.replace(".", "_")


def _torch_layer(node, shape):
    import sinabs.layers as sl
    from sinabs.activation import MembraneSubtract, SingleSpike

    if isinstance(node, Conv2d):
        o, i, kh, kw = node.weight.shape
        m = nn.Conv2d(i, o, (kh, kw), stride=node.stride, padding=node.padding, bias=node.bias is not None)
    elif isinstance(node, Linear):
        o, i = node.weight.shape
        m = nn.Linear(i, o, bias=node.bias is not None)
    elif isinstance(node, IAF):
        m = sl.IAFSqueeze(num_timesteps=1, spike_threshold=torch.tensor(float(node.threshold)),
                          min_v_mem=float(node.threshold_low), reset_fn=MembraneSubtract(), spike_fn=SingleSpike)
        if node.v_init is not None:
            m.v_mem = torch.as_tensor(np.asarray(node.v_init), dtype=torch.float32).reshape((1,) + tuple(shape))
        return m
    elif isinstance(node, SumPool):
        return sl.SumPool2d(kernel_size=node.kernel, stride=node.stride)
    elif isinstance(node, Flatten):
        return nn.Flatten()
    elif isinstance(node, Add):
        return sl.Merge()
    else:  # pragma: no cover - the spiking graph holds nothing else
        raise TypeError(node.kind)
    with torch.no_grad():
        m.weight.copy_(torch.as_tensor(node.weight, dtype=torch.float32))
        if node.bias is not None:
            m.bias.copy_(torch.as_tensor(node.bias, dtype=torch.float32))
    return m


def export_module(g: Graph) -> tuple[nn.Module, dict]:
    """``(module, {IR node name: module path})`` for a spiking graph."""
    shapes = g.infer_shapes()
    names = [n for n in g.node_names() if not isinstance(g[n], (Input, Output))]
    chain = not any(isinstance(g[n], Add) for n in names)
    mods = {n: _torch_layer(g[n], shapes[n]) for n in names}
    if chain:
        return nn.Sequential(*[mods[n] for n in names]), {n: str(i) for i, n in enumerate(names)}
    keys = {n: _key(n) for n in names}
    inp = g.inputs()[0]
    plan = [(keys[n], ["input" if p == inp else keys[p] for p in g.predecessors(n)]) for n in names]
    (out,) = g.outputs()
    (last,) = g.predecessors(out)
    module = SpikingGraph({keys[n]: mods[n] for n in names}, plan, keys[last])
    return module, {n: f"layers.{keys[n]}" for n in names}


def save_converted(path, module: nn.Module, input_shape, record: dict) -> None:
    """Write the converted model atomically (``{"model", "input_shape", "snnc_conversion"}``)."""
    import io

    from snnc.compiler.fileio import atomic_write

    buf = io.BytesIO()
    torch.save({"model": module, "input_shape": [int(s) for s in input_shape], "snnc_conversion": record}, buf)
    atomic_write(path, buf.getvalue())


def read_conversion_record(path) -> dict | None:
    """The ``snnc_conversion`` record of a converted model file, or None for other files (never unpickles code)."""
    from pathlib import Path

    p = Path(path)
    if p.suffix.lower() not in (".pt", ".pth") or not p.is_file():
        return None
    from snnc.compiler.errors import SnncError
    from snnc.compiler.frontends.safe_pickle import load_torch_file

    try:
        _, _, record = load_torch_file(p, with_record=True)
    except SnncError:
        return None
    return record if isinstance(record, dict) else None


__all__ = ["SpikingGraph", "export_module", "save_converted", "read_conversion_record"]
