"""A float reference forward of a non-spiking graph IR, to check that a frontend kept the model's meaning.

``forward_ann(graph, x)`` runs Conv2d, Linear, BatchNorm, AvgPool, SumPool, Flatten, ReLU and Add with
``torch.nn.functional`` on a batch ``x`` of shape ``(B, *input_shape)``.  Spiking neurons need time and state: they
are for the simulator, and ``forward_ann`` refuses them (and ``Unsupported`` nodes) with an SnncError.
"""
from __future__ import annotations

import numpy as np

from ..errors import SnncError
from ..ir import Add, AvgPool, BatchNorm, Concat, Conv2d, Flatten, Graph, Input, Linear, Output, ReLU, SumPool


def forward_ann(graph: Graph, x) -> dict:
    """Run ``graph`` on ``x`` (array or tensor, batch first); return ``{output name: np.ndarray}``."""
    import torch
    import torch.nn.functional as F

    def t(a):
        return None if a is None else torch.as_tensor(np.asarray(a), dtype=torch.float64)

    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    values: dict = {}
    for name in graph.node_names():
        op = graph[name]
        ins = [values[p] for p in graph.predecessors(name)]
        if isinstance(op, Input):
            if tuple(x.shape[1:]) != tuple(op.shape):
                raise SnncError(f"forward_ann: input has shape {list(x.shape[1:])}, the graph takes {list(op.shape)}")
            y = x
        elif isinstance(op, Output):
            y = ins[0]
        elif isinstance(op, Conv2d):
            y = F.conv2d(ins[0], t(op.weight), t(op.bias), op.stride, op.padding, op.dilation, op.groups)
        elif isinstance(op, Linear):
            y = F.linear(ins[0].reshape(ins[0].shape[0], -1), t(op.weight), t(op.bias))
        elif isinstance(op, BatchNorm):
            y = F.batch_norm(ins[0], t(op.mean), t(op.var), t(op.weight), t(op.bias), False, 0.0, op.eps)
        elif isinstance(op, AvgPool):
            y = F.avg_pool2d(ins[0], op.kernel, op.stride, op.padding)
        elif isinstance(op, SumPool):
            y = F.avg_pool2d(ins[0], op.kernel, op.stride, op.padding, divisor_override=1)
        elif isinstance(op, Flatten):
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif isinstance(op, ReLU):
            y = F.relu(ins[0])
        elif isinstance(op, Add):
            y = sum(ins[1:], ins[0])
        elif isinstance(op, Concat):
            y = torch.cat(ins, dim=1)
        else:
            raise SnncError(f"forward_ann: {name} is a {op.kind}; only non-spiking layers have a float forward "
                            "(use the simulator for spiking graphs)")
        values[name] = y
    return {o: values[o].numpy() for o in graph.outputs()}
