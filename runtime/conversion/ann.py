"""The ANN side of a conversion: read it into the graph IR, check it converts, fold it, and run it in float.

An ANN (a torch module, a ``.pt`` file loaded with snnc's safe loader, or an ``.onnx`` file) is read by the ordinary
frontends into the graph IR.  It converts when every node is one of Input, Conv2d, Linear, BatchNorm, ReLU, AvgPool,
SumPool, Flatten, Add (a residual sum) or Output (Dropout and Identity are dropped by the frontends); anything else
-- MaxPool, Sigmoid, LayerNorm, Conv1d, a spiking layer -- is refused, naming every such layer at once.

Then BatchNorm is folded into the weight layer before it and AvgPool becomes SumPool with the next weights scaled by
1/k^2 (the compiler's own passes, so the chip sees the same rewrite).  :func:`run_graph` evaluates the folded graph in
float (torch), returning every node's output: the activations the normalization is calibrated on.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from snnc.compiler.errors import Diagnostics, SnncError
from snnc.compiler.ir import Add, AvgPool, BatchNorm, Conv2d, Flatten, Graph, Input, Linear, Output, ReLU, SumPool

CONVERTIBLE = (Input, Conv2d, Linear, BatchNorm, ReLU, AvgPool, SumPool, Flatten, Add, Output)
WEIGHT = (Conv2d, Linear)


def load_ann(ann, input_shape=None, trust: bool = False) -> Graph:
    """The ANN as a folded graph IR; SnncError naming every layer that cannot convert."""
    from snnc.compiler.frontends.loader import load_model

    graph = load_model(ann, input_shape=input_shape, trust=trust)
    bad = []
    for node in graph.nodes():
        if not isinstance(node, CONVERTIBLE):
            what = getattr(node, "op", "") or node.kind
            detail = getattr(node, "detail", "")
            bad.append(f"{node.name} ({what}{': ' + detail if detail else ''})")
    if bad:
        raise SnncError(f"{len(bad)} layer{'s' * (len(bad) != 1)} cannot be converted: {'; '.join(bad)}. snnc "
                        "convert takes ANNs of Conv2d, Linear, BatchNorm, ReLU, AvgPool2d, Flatten, Dropout and "
                        "residual additions")
    graph.validate()
    ctx = SimpleNamespace(diags=Diagnostics(), folded={}, notes=[], options=None)
    from snnc.compiler.pipeline import run_graph_passes

    # the compiler's own passes that keep the ANN's float function, in the pipeline's order
    graph = run_graph_passes(graph, ctx, only={"fold_batchnorm", "avgpool_to_sumpool"})
    left = [n.name for n in graph.nodes() if isinstance(n, (BatchNorm, AvgPool))]
    if left:
        raise SnncError(f"cannot fold {', '.join(left)}: a BatchNorm must directly follow a Conv2d/Linear that "
                        "feeds only it, and an AvgPool must feed weight layers")
    for node in graph.nodes():
        if isinstance(node, Conv2d) and (node.groups != 1 or node.dilation != (1, 1)):
            raise SnncError(f"{node.name}: Conv2d with groups={node.groups}, dilation={node.dilation} cannot run on "
                            "the chip; use groups=1, dilation=1")
    graph.meta["folded"] = ctx.folded
    graph.meta["notes"] = ctx.notes
    return graph


def order(graph: Graph) -> list[str]:
    """Node names in topological order (inputs first)."""
    return graph.node_names()


def run_graph(graph: Graph, x, keep: set | None = None, params: dict | None = None) -> dict:
    """Evaluate the (folded, float) graph on a batch ``x`` [B, ...]; returns ``{node name: tensor}``.

    ``keep``: the node names whose outputs are wanted (all when None); others are freed as soon as possible.
    ``params``: ``{weight node: (weight tensor, bias tensor or None)}`` used instead of the nodes' own arrays; with
    it the evaluation is differentiable (autograd on), without it it runs under ``torch.no_grad``.
    """
    import contextlib

    import torch

    from snnc.compiler.frontends.float_forward import float_op

    names = order(graph)
    users = {n: len(graph.successors(n)) for n in names}
    env: dict = {}
    out: dict = {}

    def wb(name, node):
        if params is not None and name in params:
            return params[name]
        w = torch.as_tensor(node.weight, dtype=torch.float32)
        return w, (None if node.bias is None else torch.as_tensor(node.bias, dtype=torch.float32))

    with (torch.no_grad() if params is None else contextlib.nullcontext()):
        for name in names:
            node = graph[name]
            ins = [env[p] for p in graph.predecessors(name)]
            if isinstance(node, Input):
                v = torch.as_tensor(x, dtype=torch.float32)
            else:  # the one float meaning of each node (compiler/frontends/float_forward.py: FLOAT_OPS)
                v = float_op(node, ins, wb(name, node) if isinstance(node, (Conv2d, Linear)) else None)
            env[name] = v
            if keep is None or name in keep:
                out[name] = v
            for p in graph.predecessors(name):
                users[p] -= 1
                if users[p] == 0 and (keep is None or p not in keep):
                    env.pop(p, None)
    return out


def activations(graph: Graph, x: np.ndarray, keep: set, batch: int = 256) -> dict:
    """``run_graph`` over ``x`` in batches; ``{name: float32 array [N, ...]}`` for the names in ``keep``."""
    parts: dict = {k: [] for k in keep}
    for a in range(0, len(x), batch):
        res = run_graph(graph, x[a:a + batch], keep)
        for k in keep:
            parts[k].append(res[k].numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


def output_node(graph: Graph) -> str:
    """The single graph output's producer (the logits node)."""
    outs = graph.outputs()
    if len(outs) != 1:
        raise SnncError(f"the ANN has {len(outs)} outputs; snnc convert takes an ANN with one output (the logits)")
    (src,) = graph.predecessors(outs[0])
    return src
