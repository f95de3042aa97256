"""Graph passes: rewrite the float graph IR toward what a Speck core computes.

Each pass is a pure function ``(graph, ctx) -> graph``: it works on a copy, never on its argument (a pass with
nothing to change returns its argument), and says in its docstring what it changes and when it refuses.
Diagnostics go to ``ctx.diags``.
"""
from __future__ import annotations

import numpy as np

from ..ir import IAF, Add, AvgPool, BatchNorm, Concat, Conv2d, Flatten, Graph, Input, Linear, ReLU, SumPool


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
    if not any(isinstance(graph[n], BatchNorm) for n in graph.g):
        return graph
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
    changes = {}
    for name in graph.node_names():
        n = graph[name]
        if not isinstance(n, IAF):
            continue
        change = {}
        for attr in ("threshold", "threshold_low"):
            a = getattr(n, attr)
            if a is not None and a.ndim > 0 and a.size > 0 and np.all(a == a.reshape(-1)[0]):
                change[attr] = np.asarray(a.reshape(-1)[0])
        if n.v_init is not None and not np.any(n.v_init):
            change["v_init"] = None
        if change:
            changes[name] = change
    if not changes:
        return graph
    g = graph.copy()
    for name, change in changes.items():
        new = g[name].copy()
        for attr, value in change.items():
            setattr(new, attr, value)
        g.replace(name, new)
    return g


def drop_identity_pools(graph: Graph, ctx) -> Graph:
    """Remove poolings that do nothing: kernel 1x1, stride 1x1, no padding (``AvgPool2d(1)``, ``SumPool2d(1)``),
    wherever they are, also after the last neuron layer.  Others stay."""

    def identity(name):
        node = graph[name]
        return (isinstance(node, (SumPool, AvgPool)) and node.kernel == (1, 1) and node.stride == (1, 1)
                and node.padding == (0, 0) and len(graph.predecessors(name)) == 1)

    names = [n for n in graph.node_names() if identity(n)]
    if not names:
        return graph
    g = graph.copy()
    for name in names:
        g.remove(name)
        ctx.notes.append(f"{name}: 1x1 pooling does nothing; removed")
    return g


def _map_shape(g: Graph, name: str, shapes: dict) -> tuple | None:
    """The (C, H, W) map a vector-valued node was flattened from, looking upstream through Flatten and merges
    (Add) of flattened branches; None when it is a plain vector (or the branches disagree)."""
    node = g[name]
    if isinstance(node, Flatten):
        (src,) = g.predecessors(name)
        s = shapes[src]
        return tuple(s) if len(s) == 3 else _map_shape(g, src, shapes)
    if isinstance(node, Add):
        found = {_map_shape(g, p, shapes) if len(shapes[p]) == 1 else tuple(shapes[p]) for p in g.predecessors(name)}
        return found.pop() if len(found) == 1 and None not in found else None
    if isinstance(node, Concat):  # flattened maps side by side = their channels side by side (C-major flatten)
        maps = [_map_shape(g, p, shapes) if len(shapes[p]) == 1 else tuple(shapes[p]) for p in g.predecessors(name)]
        if None in maps or len({m[1:] for m in maps}) != 1:
            return None
        return (sum(m[0] for m in maps),) + tuple(maps[0][1:])
    return None


def lower_linear(graph: Graph, ctx) -> Graph:
    """Linear -> Conv2d whose kernel covers the whole input map; Flattens before it are absorbed.

    Works on DAGs: a Linear fed by a merge (Add) of several flattened branches (``Flatten -> Merge -> Linear``)
    absorbs every branch's Flatten; the merge then adds maps, and the weight is reshaped to a conv over that map,
    which each merged input reaches.  Vectors become ``(N, 1, 1)`` maps: an Input of shape ``(N,)`` too.  Flattens
    with no Linear after them (e.g. right before the output) are dropped, since spikes keep their coordinates on
    the chip.
    """
    g = graph.copy()
    for name in g.inputs():
        inp = g[name]
        if len(inp.shape) == 1:
            g.replace(name, Input(name, shape=(inp.shape[0], 1, 1)))
    shapes = g.infer_shapes()
    linears = {}
    for name in g.node_names():
        node = g[name]
        if not isinstance(node, Linear):
            continue
        (src,) = g.predecessors(name)
        in_shape = shapes[src]
        if len(in_shape) == 1:
            in_shape = _map_shape(g, src, shapes) or (in_shape[0], 1, 1)
        elif len(in_shape) != 3:  # fed by a layer the rules refuse (e.g. a partial Flatten): nothing is lowered,
            return g  # the rules report that layer
        if isinstance(g[src], Flatten) and len(g.successors(src)) == 1:
            ctx.folded.setdefault(name, []).append(src)
        linears[name] = in_shape
    # every Flatten goes: the maps keep their shape on the chip
    for name in g.node_names():
        if isinstance(g[name], Flatten):
            g.remove(name)
    for name, (c, h, w) in linears.items():
        node = g[name]
        weight = node.weight.reshape(node.weight.shape[0], c, h, w)
        g.replace(name, Conv2d(name, weight=weight, bias=node.bias, stride=1, padding=0))
    # neuron parameters given per neuron for a vector become (N, 1, 1)
    shapes = g.infer_shapes()
    for name in g.node_names():
        n = g[name]
        if isinstance(n, IAF):
            shp = shapes[name]
            reshaped = {attr: a.reshape(shp) for attr in ("threshold", "threshold_low", "v_init")
                        if (a := getattr(n, attr)) is not None and a.ndim > 0 and a.size == int(np.prod(shp))
                        and a.shape != tuple(shp)}
            if reshaped:
                new = n.copy()
                for attr, a in reshaped.items():
                    setattr(new, attr, a)
                g.replace(name, new)
    return g


_THROUGH = (Add, Concat, Flatten, SumPool, AvgPool)


def _weight_consumers(g: Graph, name: str) -> list[str] | None:
    """The weight layers that read ``name``'s output, looking through Flatten, merges and further pooling; None if
    any path ends somewhere else (a neuron, the output)."""
    out, stack, seen = [], list(g.successors(name)), set()
    while stack:
        s = stack.pop()
        if s in seen:
            continue
        seen.add(s)
        node = g[s]
        if isinstance(node, (Conv2d, Linear)):
            out.append(s)
        elif isinstance(node, _THROUGH):
            stack.extend(g.successors(s))
        else:
            return None
    return sorted(set(out)) or None


def _input_scales(g: Graph, name: str, convertible: set) -> dict[str, tuple[float, list[str]]]:
    """For a weight layer: {branch source: (scale, avg pools on the way)} over every path back through merges,
    Flatten and pooling to the layer that produced the spikes (or the input)."""
    out: dict = {}
    stack = [(p, 1.0, []) for p in g.predecessors(name)]
    while stack:
        s, scale, pools = stack.pop()
        node = g[s]
        if isinstance(node, AvgPool) and s in convertible:
            scale, pools = scale / (node.kernel[0] * node.kernel[1]), pools + [s]
        if isinstance(node, _THROUGH):
            stack.extend((p, scale, pools) for p in g.predecessors(s))
        else:
            out.setdefault(s, (scale, pools))
    return out


def avgpool_to_sumpool(graph: Graph, ctx) -> Graph:
    """AvgPool(k) -> SumPool(k) with every weight layer it feeds scaled by ``1 / (kh * kw)``.

    The chip only sums.  The scaling reaches the next weight layer through Flatten, merges (Add) and further
    pooling (not through neurons: scaling after a spiking layer would change what it computes).  A weight layer
    fed by a merge takes one scale for all of its inputs: when the merged branches are pooled differently (say
    one average-pooled 2x2 and one not) no single scale is right, and the pass reports a ``pooling`` violation
    naming both branches and both scales.  When an AvgPool's output reaches anything but weight layers the pass
    leaves it, and the rule check reports it (``pooling``).
    """
    convertible = {n for n in graph.node_names()
                   if isinstance(graph[n], AvgPool) and _weight_consumers(graph, n) is not None}
    if not convertible:
        return graph
    g = graph.copy()
    consumers = sorted({c for n in convertible for c in _weight_consumers(g, n)})
    for c in consumers:
        branches = _input_scales(g, c, convertible)
        scales = sorted({v[0] for v in branches.values()})
        if len(scales) > 1:
            (a, (sa, pa)), (b, (sb, pb)) = [min(((k, v) for k, v in branches.items() if v[0] == s))
                                            for s in (scales[0], scales[-1])]
            where = lambda src, pools: f"{src}" + (f" (via {', '.join(pools)})" if pools else "")  # noqa: E731
            ctx.diags.error("pooling", c, f"the merged inputs are average-pooled differently: {where(a, pa)} "
                            f"arrives scaled by {sa:g}, {where(b, pb)} by {sb:g}; the chip sums, and one weight "
                            "layer can take only one scale", "pool every merged branch alike, or use SumPool2d "
                            "and scale the weights yourself", measured=[sa, sb], limit="one scale")
            continue
        factor = scales[0]
        if factor != 1.0:
            scaled = g[c].copy()
            scaled.weight = scaled.weight * factor
            g.replace(c, scaled)
            used = sorted({p for v in branches.values() for p in v[1]})
            ctx.notes.append(f"{', '.join(used)}: average pooling became sum pooling; weights of {c} scaled by "
                             f"{factor:g}")
    for name in convertible:
        node = g[name]
        g.replace(name, SumPool(name, kernel=node.kernel, stride=node.stride, padding=node.padding))
    return g


def merge_pools(graph: Graph, ctx) -> Graph:
    """Two sum poolings in a row (stride = kernel, no padding) become one with the product of their kernels."""
    def mergeable(g, name):
        a = g[name]
        if not isinstance(a, SumPool) or not _plain(a):
            return False
        succ = g.successors(name)
        return len(succ) == 1 and isinstance(g[succ[0]], SumPool) and _plain(g[succ[0]])

    if not any(mergeable(graph, name) for name in graph.g):
        return graph
    g = graph.copy()
    changed = True
    while changed:
        changed = False
        for name in g.node_names():
            if not mergeable(g, name):
                continue
            a, succ = g[name], g.successors(name)
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
