"""The float meaning of each non-spiking IR node, in one table (:data:`FLOAT_OPS`), and a float reference forward of
a non-spiking graph IR, to check that a frontend kept the model's meaning.

``float_op(node, inputs)`` evaluates one node with ``torch.nn.functional``; both :func:`forward_ann` (float64, frontend
tests) and ``snnc convert``'s ANN evaluation (``runtime/conversion/ann.py: run_graph``, float32, with autograd) use
it, so a new node type is taught its float meaning here once.  Spiking neurons need time and state: they are for the
simulator, and ``forward_ann`` refuses them (and ``Unsupported`` nodes) with an SnncError.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import SnncError
from ..ir import Add, AvgPool, BatchNorm, Concat, Conv2d, Flatten, Graph, Input, Linear, Output, ReLU, SumPool


def _t(a, like):
    import torch

    return None if a is None else torch.as_tensor(np.asarray(a), dtype=like.dtype)


def _weights(node, like, wb):
    return wb if wb is not None else (_t(node.weight, like), _t(node.bias, like))


def _conv(node, ins, wb):
    import torch.nn.functional as F

    w, b = _weights(node, ins[0], wb)
    return F.conv2d(ins[0], w, b, node.stride, node.padding, node.dilation, node.groups)


def _linear(node, ins, wb):
    import torch.nn.functional as F

    w, b = _weights(node, ins[0], wb)
    return F.linear(ins[0].reshape(ins[0].shape[0], -1), w, b)


def _batchnorm(node, ins, wb):
    import torch.nn.functional as F

    x = ins[0]
    return F.batch_norm(x, _t(node.mean, x), _t(node.var, x), _t(node.weight, x), _t(node.bias, x), False, 0.0,
                        node.eps)


def _avgpool(node, ins, wb):
    import torch.nn.functional as F

    return F.avg_pool2d(ins[0], node.kernel, node.stride, node.padding)


def _sumpool(node, ins, wb):
    import torch.nn.functional as F

    return F.avg_pool2d(ins[0], node.kernel, node.stride, node.padding, divisor_override=1)


def _add(node, ins, wb):
    v = ins[0]
    for other in ins[1:]:
        v = v + other
    return v


def _concat(node, ins, wb):
    import torch

    return torch.cat(ins, dim=1)


#: node class -> ``f(node, inputs, (weight, bias) or None) -> output``: the float meaning of every non-spiking node.
FLOAT_OPS: dict[type, Callable] = {
    Conv2d: _conv,
    Linear: _linear,
    BatchNorm: _batchnorm,
    AvgPool: _avgpool,
    SumPool: _sumpool,
    Flatten: lambda node, ins, wb: ins[0].reshape(ins[0].shape[0], -1),
    ReLU: lambda node, ins, wb: ins[0].clamp(min=0),
    Add: _add,
    Concat: _concat,
    Output: lambda node, ins, wb: ins[0],
}


def float_op(node, ins: list, wb=None):
    """``node`` applied to its input tensors ``ins``; ``wb``: (weight, bias) tensors to use instead of the node's own
    (Conv2d / Linear).  SnncError for a node without a float meaning (spiking neurons, Unsupported, Input)."""
    fn = FLOAT_OPS.get(type(node))
    if fn is None:
        raise SnncError(f"{node.name} is a {node.kind}; only non-spiking layers have a float forward (use the "
                        "simulator for spiking graphs)")
    return fn(node, ins, wb)


def forward_ann(graph: Graph, x) -> dict:
    """Run ``graph`` on ``x`` (array or tensor, batch first); return ``{output name: np.ndarray}``."""
    import torch

    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    values: dict = {}
    for name in graph.node_names():
        op = graph[name]
        ins = [values[p] for p in graph.predecessors(name)]
        if isinstance(op, Input):
            if tuple(x.shape[1:]) != tuple(op.shape):
                raise SnncError(f"forward_ann: input has shape {list(x.shape[1:])}, the graph takes {list(op.shape)}")
            values[name] = x
            continue
        try:
            values[name] = float_op(op, ins)
        except SnncError as e:
            raise SnncError(f"forward_ann: {e}") from None
    return {o: values[o].numpy() for o in graph.outputs()}
