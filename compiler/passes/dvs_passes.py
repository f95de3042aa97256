"""Graph passes for the DVS layer (the chip's input pre-processing), each a pure ``(graph, ctx) -> graph``.

* :func:`insert_dvs` -- puts a ``DVS`` node after the input when the options ask for the DVS layer (``--dvs-input``,
  ``--dvs-crop``, ``--dvs-mirror``, ``--dvs-pool``, ``--dvs-channels``) and the model has none; applies those options
  to a DVS node the model brought (sinabs' ``DVSLayer``).
* :func:`absorb_dvs_pooling` -- sum pooling right after the DVS layer becomes the DVS layer's own per-axis pooling.
"""
from __future__ import annotations

from ..errors import SnncError
from ..ir import DVS, Graph, Input, SumPool


def dvs_requested(options) -> bool:
    return bool(options.dvs_input or options.dvs_crop or options.dvs_mirror or options.dvs_pool
                or options.dvs_channels)


def _apply_options(node: DVS, options) -> DVS:
    node = node.copy()
    if options.dvs_pool is not None:
        node.pooling = tuple(int(v) for v in options.dvs_pool)
    if options.dvs_crop is not None:
        x0, y0, x1, y1 = (int(v) for v in options.dvs_crop)
        node.origin, node.cut = (y0, x0), (y1, x1)
    for m in options.dvs_mirror or ():
        setattr(node, {"x": "mirror_x", "y": "mirror_y", "diagonal": "mirror_diagonal"}[m], True)
    ch = options.dvs_channels
    if ch == "on":
        node.on_channel, node.off_channel = True, False
    elif ch == "off":
        node.on_channel, node.off_channel = False, True
    elif ch == "merge":
        node.merge = True
    if options.dvs_input:
        node.pass_sensor_events = True
    node.__post_init__()
    return node


def _insert_after(g: Graph, src: str, node) -> None:
    succs = [(s, g.g.edges[src, s]["index"]) for s in g.successors(src)]
    for s, _ in succs:
        g.g.remove_edge(src, s)
    g.add(node, [src])
    for s, i in succs:
        g.g.add_edge(node.name, s, index=i)


def insert_dvs(graph: Graph, ctx) -> Graph:
    """The DVS layer as a node of the graph.

    A model without one gets one when the options ask for it: its input (C, H, W) becomes what the DVS layer
    outputs, and the graph's input becomes the events the layer reads -- 2 polarities, the region the pooling and
    crop need (the whole 128x128 sensor when cropping).  C must be 1 (polarities merged) or 2, and the crop region
    must have the model's input size: otherwise a SnncError (the same for check and compile).
    """
    opts = ctx.options
    nodes = [n for n in graph.node_names() if isinstance(graph[n], DVS)]
    if len(nodes) > 1:
        raise SnncError(f"the model has {len(nodes)} DVS layers ({', '.join(nodes)}); the chip has one")
    if not nodes and not dvs_requested(opts):
        return graph
    g = graph.copy()
    if nodes:
        name = nodes[0]
        preds = g.predecessors(name)
        if len(preds) != 1 or not isinstance(g[preds[0]], Input):
            raise SnncError(f"{name}: the DVS layer must come first, right after the input")
        g.replace(name, _apply_options(g[name], opts))
        return g
    inputs = g.inputs()
    if len(inputs) != 1:
        raise SnncError(f"the DVS layer needs a model with one input; this one has {len(inputs)}")
    inp = g[inputs[0]]
    shape = tuple(inp.shape)
    if len(shape) != 3 or shape[0] not in (1, 2):
        raise SnncError(f"--dvs-input: the DVS gives 1 (merged) or 2 (on/off) polarity channels; the model's input "
                        f"is {list(shape)} (drop the --dvs-* options to feed the input cores directly)")
    c, h, w = shape
    if c == 2 and opts.dvs_channels == "merge":
        raise SnncError("--dvs-channels merge gives 1 channel; the model's input has 2 (use on, off or both)")
    node = _apply_options(DVS(_unique(g, "dvs"), merge=c == 1, pass_sensor_events=bool(opts.dvs_input)), opts)
    py, px = node.pooling
    if node.cut is not None:
        rh, rw = node.cut[0] - node.origin[0] + 1, node.cut[1] - node.origin[1] + 1
        if node.mirror_diagonal:
            rh, rw = rw, rh
        if (rh, rw) != (h, w):
            x0, y0, x1, y1 = opts.dvs_crop
            raise SnncError(f"--dvs-crop {x0},{y0},{x1},{y1} gives a {rw}x{rh} region (X1, Y1 inclusive"
                            f"{', swapped by --dvs-mirror diagonal' if node.mirror_diagonal else ''}); the model's "
                            f"input is {w}x{h}")
        n = ctx.target.dvs_size
        events = (2, n, n)
    else:
        rh, rw = (w, h) if node.mirror_diagonal else (h, w)
        events = (2, rh * py, rw * px)
    g.replace(inputs[0], Input(inputs[0], shape=events))
    _insert_after(g, inputs[0], node)
    return g


def _unique(g: Graph, base: str) -> str:
    name, k = base, 1
    while name in g:
        name, k = f"{base}_{k}", k + 1
    return name


def absorb_dvs_pooling(graph: Graph, ctx) -> Graph:
    """Sum pooling (stride = kernel, no padding) right after the DVS layer becomes the DVS layer's pooling, per axis
    (``AvgPool2d((2, 4))`` at the input: DVS pooling y 2, x 4, the next weights scaled by 1/8).

    Refuses when the DVS layer crops or mirrors (it pools *before* its region of interest, so a pooling after it
    is not the same); the pooling then stays and the rule check reports it (``pooling``).
    """
    names = [n for n in graph.node_names() if isinstance(graph[n], DVS)]
    if not names:
        return graph
    g = graph.copy()
    for name in names:
        while True:
            node = g[name]
            succ = g.successors(name)
            if len(succ) != 1 or not isinstance(g[succ[0]], SumPool):
                break
            pool = g[succ[0]]
            if pool.stride != pool.kernel or pool.padding != (0, 0):
                break
            if node.origin is not None or node.cut is not None or node.mirror_x or node.mirror_y \
                    or node.mirror_diagonal:
                break
            new = node.copy()
            new.pooling = (node.pooling[0] * pool.kernel[0], node.pooling[1] * pool.kernel[1])
            g.replace(name, new)
            g.remove(succ[0])
            ctx.notes.append(f"{succ[0]}: the input pooling {pool.kernel[0]}x{pool.kernel[1]} runs in the DVS layer "
                             f"(pooling y {new.pooling[0]}, x {new.pooling[1]})")
            ctx.folded.setdefault(name, []).append(succ[0])
    return g
