"""NeuroBench 2.3.0 run on a time-stepped torch model built from a configuration's deployed integers: the
reference the NeuroBench tests compare snnc's chip counts with.

``stepped_model(config)`` follows the cores of a chain configuration (input core, then each core's single
destination): per core a ``Conv2d`` holding the integer weights as floats, a :class:`StepIAF` with the core's
thresholds, and a :class:`SumPool` where the destination pools.  Called on frames ``[B, T, C, H, W]`` it runs the
T steps (each step: every layer once, as NeuroBench's hooks expect) and returns the last layer's spikes
``[B, T, F, H, W]``.  On one input per neuron and step it is the chip exactly (an event at a time: integrate, floor at
threshold_low, fire and subtract); with several inputs in a step it sums them first, as time-stepped models do.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn


class StepIAF(nn.Module):
    """Integrate-and-fire for one step: ``v = max(v + x, low)``; single: one spike if ``v >= thr`` (subtract thr);
    multi: ``floor(v / thr)`` spikes (sinabs' MultiSpike), each subtracting thr."""

    def __init__(self, thr: float, low: float, multi: bool):
        super().__init__()
        self.thr, self.low, self.multi = float(thr), float(low), bool(multi)
        self.v = None

    def forward(self, x):
        v = x if self.v is None else self.v + x
        v = torch.clamp(v, min=self.low)
        if self.multi:
            s = torch.clamp(torch.floor(v / self.thr), min=0)
        else:
            s = (v >= self.thr).to(v.dtype)
        self.v = v - s * self.thr
        return s


class SumPool(nn.Module):
    def __init__(self, k: int):
        super().__init__()
        self.k = int(k)

    def forward(self, x):
        return torch.nn.functional.avg_pool2d(x, self.k) * (self.k * self.k)


class Stepped(nn.Module):
    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.seq = nn.Sequential(*layers)

    def forward(self, x):
        for m in self.seq:
            if isinstance(m, StepIAF):
                m.v = None
        out = []
        for t in range(x.shape[1]):
            h = x[:, t]
            for m in self.seq:
                h = m(h)
            out.append(h)
        return torch.stack(out, 1)


def chain(program) -> list[int]:
    """The cores in order from the input core along the single destinations."""
    order, c = [], program.input_cores[0]
    while c in program.cores:
        order.append(c)
        dests = [d for d in program.cores[c].destinations if d[0] in program.cores]
        assert len(dests) <= 1 and all(d[2] == 0 for d in dests), "a chain without feature shifts"
        c = dests[0][0] if dests else None
    return order


def stepped_model(program, multi: bool = False, zero_as_epsilon: bool = False, upto: int | None = None) -> Stepped:
    """The configuration as a time-stepped torch model.  ``zero_as_epsilon``: zero integer weights become 1e-6, which
    changes no spike (states stay within 1e-6 x inputs of the integers, below any threshold step) but makes
    NeuroBench count every kernel tap as the chip does.  ``upto``: only the first ``upto`` cores."""
    layers = []
    cores = chain(program)[:upto]
    for c in cores:
        core = program.cores[c]
        F, C = core.out_shape[0], core.in_shape[0]
        conv = nn.Conv2d(C, F, core.kernel, stride=core.stride, padding=core.padding, bias=False)
        w = torch.as_tensor(np.asarray(core.weights), dtype=torch.float64).float()
        if zero_as_epsilon:
            w[w == 0] = 1e-6
        with torch.no_grad():
            conv.weight.copy_(w)
        layers += [conv, StepIAF(core.threshold_high, core.threshold_low, multi)]
        pools = [d[1] for d in core.destinations if d[0] in program.cores]
        if c != cores[-1] and pools and pools[0] > 1:
            layers.append(SumPool(pools[0]))
    return Stepped(layers).eval()


def neurobench_results(model: nn.Module, frames: torch.Tensor, labels: torch.Tensor, batch_size: int = 1) -> dict:
    """NeuroBench 2.3.0's own Benchmark with its own metrics on ``model`` (a TorchModel whose activation modules
    are the StepIAF layers)."""
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount
    from neurobench.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations
    from neurobench.models import TorchModel
    from torch.utils.data import DataLoader, TensorDataset

    nbm = TorchModel(model)
    nbm.add_activation_module(StepIAF)
    loader = DataLoader(TensorDataset(frames, labels), batch_size=batch_size)
    bench = Benchmark(nbm, loader, [], [lambda out: out.sum(1).flatten(1).argmax(1)],
                      [[Footprint, ConnectionSparsity, ParameterCount],
                       [ActivationSparsity, SynapticOperations, MembraneUpdates]])
    with torch.no_grad():
        return bench.run(quiet=True)
