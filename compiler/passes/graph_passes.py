"""Graph passes: rewrite the float graph IR toward what a Speck core computes.

Each pass is a pure function ``(graph, ctx) -> graph``: it works on a copy, never on its argument, and says in its
docstring what it changes and when it refuses.  Diagnostics go to ``ctx.diags``.
"""
from __future__ import annotations

import numpy as np

from ..ir import IAF, AvgPool, BatchNorm, Conv2d, Flatten, Graph, Input, Linear, ReLU, SumPool


def convert_ann(graph: Graph, ctx) -> Graph:
    """ReLU -> IAF(threshold 1, subtract reset, no floor), only with ``--convert-ann``.

    Without the option ReLUs stay; the design-rule check then reports them (rule ``neuron_model``) with the hint.
    """
    if not ctx.options.convert_ann:
        return graph
    g = graph.copy()
    for name in g.node_names():
        if isinstance(g[name], ReLU):
            g.replace(name, IAF(name, threshold=1.0, threshold_low=None, reset="subtract", spike_mode="single"))
    return g


def fold_batchnorm(graph: Graph, ctx) -> Graph:
    """Fold an inference-mode BatchNorm into the Conv2d / Linear that feeds it (and only it).

    ``W' = W * gamma / sqrt(var + eps)`` per output channel, ``b' = (b - mean) * gamma / sqrt(var + eps) + beta``.
    Unlike sinabs this uses ``eps``.  Refuses (leaves the BatchNorm for the rule check) when the producer is not a
    weight layer or has other consumers, since folding would change them too.
    """
    g = graph.copy()
    for name in g.node_names():
        bn = g[name]
        if not isinstance(bn, BatchNorm):
            continue
        preds = g.predecessors(name)
        if len(preds) != 1:
            continue
        prod = g[preds[0]]
        if not isinstance(prod, (Conv2d, Linear)) or len(g.successors(preds[0])) != 1:
            continue
        k = bn.weight / np.sqrt(bn.var + bn.eps)
        n_out = prod.weight.shape[0]
        if k.shape[0] != n_out:
            continue
        w = prod.weight * k.reshape((-1,) + (1,) * (prod.weight.ndim - 1))
        b0 = prod.bias if prod.bias is not None else np.zeros(n_out)
        b = (b0 - bn.mean) * k + bn.bias
        folded = prod.copy()
        folded.weight, folded.bias = w, b
        g.replace(preds[0], folded)
        g.remove(name)
        ctx.folded.setdefault(preds[0], []).append(name)
    return g


def collapse_neuron_params(graph: Graph, ctx) -> Graph:
    """Per-neuron IAF parameters that are all equal become one value for the layer (Speck has one per layer).

    Unequal ones stay per-neuron; the rule check reports them (``threshold_shared``).
    """
    g = graph.copy()
    for name in g.node_names():
        n = g[name]
        if not isinstance(n, IAF):
            continue
        new = n.copy()
        for attr in ("threshold", "threshold_low"):
            a = getattr(new, attr)
            if a is not None and a.ndim > 0 and a.size > 0 and np.all(a == a.reshape(-1)[0]):
                setattr(new, attr, np.asarray(a.reshape(-1)[0]))
        if new.v_init is not None and not np.any(new.v_init):
            new.v_init = None
        g.replace(name, new)
    return g


def lower_linear(graph: Graph, ctx) -> Graph:
    """Linear -> Conv2d whose kernel covers the whole input map; a Flatten before it is absorbed.

    Vectors become ``(N, 1, 1)`` maps: an Input of shape ``(N,)`` too.  A Flatten with no Linear after it (e.g.
    right before the output) is dropped, since spikes keep their coordinates on the chip.
    """
    g = graph.copy()
    for name in g.inputs():
        inp = g[name]
        if len(inp.shape) == 1:
            g.replace(name, Input(name, shape=(inp.shape[0], 1, 1)))
    shapes = g.infer_shapes()
    for name in g.node_names():
        node = g[name]
        if not isinstance(node, Linear):
            continue
        (src,) = g.predecessors(name)
        in_shape = shapes[src]
        if isinstance(g[src], Flatten) and len(g.successors(src)) == 1:
            (flat_src,) = g.predecessors(src)
            in_shape = shapes[flat_src]
            if len(in_shape) == 3:
                ctx.folded.setdefault(name, []).append(src)
                g.remove(src)
        if len(in_shape) == 1:
            in_shape = (in_shape[0], 1, 1)
        c, h, w = in_shape
        weight = node.weight.reshape(node.weight.shape[0], c, h, w)
        g.replace(name, Conv2d(name, weight=weight, bias=node.bias, stride=1, padding=0))
    # Flattens that remain: drop those whose consumers no longer need a vector.
    for name in g.node_names():
        if isinstance(g[name], Flatten):
            g.remove(name)
    # neuron parameters given per neuron for a vector become (N, 1, 1)
    shapes = g.infer_shapes()
    for name in g.node_names():
        n = g[name]
        if isinstance(n, IAF):
            new = n.copy()
            shp = shapes[name]
            for attr in ("threshold", "threshold_low", "v_init"):
                a = getattr(new, attr)
                if a is not None and a.ndim > 0 and a.size == int(np.prod(shp)):
                    setattr(new, attr, a.reshape(shp))
            g.replace(name, new)
    return g


def avgpool_to_sumpool(graph: Graph, ctx) -> Graph:
    """AvgPool(k) -> SumPool(k) with every weight layer it feeds scaled by ``1 / (kh * kw)``.

    The chip only sums.  The scaling reaches the next Conv2d through Flatten (not through neurons: scaling after a
    spiking layer would change what it computes).  When a consumer is not a weight layer the pass refuses and the
    AvgPool stays for the rule check (``pooling``).
    """
    g = graph.copy()
    for name in g.node_names():
        node = g[name]
        if not isinstance(node, AvgPool):
            continue
        consumers = _weight_consumers(g, name)
        if consumers is None:
            continue
        factor = 1.0 / (node.kernel[0] * node.kernel[1])
        for c in consumers:
            scaled = g[c].copy()
            scaled.weight = scaled.weight * factor
            g.replace(c, scaled)
        g.replace(name, SumPool(name, kernel=node.kernel, stride=node.stride, padding=node.padding))
        ctx.notes.append(f"{name}: average pooling became sum pooling; weights of {', '.join(consumers)} "
                         f"scaled by 1/{node.kernel[0] * node.kernel[1]}")
    return g


def _weight_consumers(g: Graph, name: str) -> list[str] | None:
    """The weight layers that read ``name``'s output, looking through Flatten and further pooling; None if any
    consumer is something else."""
    out, stack = [], list(g.successors(name))
    while stack:
        s = stack.pop()
        node = g[s]
        if isinstance(node, (Conv2d, Linear)):
            out.append(s)
        elif isinstance(node, (Flatten, SumPool, AvgPool)):
            stack.extend(g.successors(s))
        else:
            return None
    return sorted(set(out)) or None


def merge_pools(graph: Graph, ctx) -> Graph:
    """Two sum poolings in a row (stride = kernel, no padding) become one with the product of their kernels."""
    g = graph.copy()
    changed = True
    while changed:
        changed = False
        for name in g.node_names():
            a = g[name]
            if not isinstance(a, SumPool) or not _plain(a):
                continue
            succ = g.successors(name)
            if len(succ) != 1 or not isinstance(g[succ[0]], SumPool) or not _plain(g[succ[0]]):
                continue
            b = g[succ[0]]
            k = (a.kernel[0] * b.kernel[0], a.kernel[1] * b.kernel[1])
            g.replace(name, SumPool(name, kernel=k, stride=k))
            g.remove(succ[0])
            ctx.folded.setdefault(name, []).append(succ[0])
            changed = True
            break
    return g


def _plain(p) -> bool:
    return p.stride == p.kernel and p.padding == (0, 0)


GRAPH_PASSES = {
    "convert_ann": convert_ann,
    "fold_batchnorm": fold_batchnorm,
    "collapse_neuron_params": collapse_neuron_params,
    "avgpool_to_sumpool": avgpool_to_sumpool,
    "lower_linear": lower_linear,
    "merge_pools": merge_pools,
}
