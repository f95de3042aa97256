"""Group the rewritten graph into chip layers: ``Conv2d -> IAF -> (pooling per destination)`` per core.

Anything that does not fit this shape is left out of the chip model; the graph rule check (``drc.check_graph``)
has already said why, so grouping itself never reports: it only builds what can be built.  Nodes are told apart by
their ``role`` (``compiler.ir.Role``), never by their class.
"""
from __future__ import annotations

import numpy as np

from ..chip import OUTPUT, ChipLayer, ChipModel, Destination, DvsSpec
from ..ir import IAF, Graph, Role


def _neuron_after(g: Graph, conv: str) -> IAF | None:
    succ = g.successors(conv)
    if len(succ) == 1 and g[succ[0]].role == Role.NEURON:
        return g[succ[0]]
    return None


def _walk(g: Graph, start: str, layer_of: dict[str, int], shapes: dict | None = None):
    """Yield (target, pools, feature_shift) for every way spikes leaving ``start`` reach a chip layer or the output;
    a channel concatenation (``Concat``) on the way shifts the features by the channels of the inputs before this
    one."""
    stack = [(s, (), 0, start) for s in g.successors(start)]
    while stack:
        name, pools, shift, prev = stack.pop(0)
        node = g[name]
        if node.role == Role.SUM_POOL:
            stack.extend((s, pools + (node,), shift, name) for s in g.successors(name))
        elif node.role == Role.PASS_THROUGH:
            stack.extend((s, pools, shift, name) for s in g.successors(name))
        elif node.role == Role.CONCAT:
            shapes = shapes if shapes is not None else g.infer_shapes()
            preds = g.predecessors(name)
            offset = node.offsets([shapes[p] for p in preds])[preds.index(prev)]
            stack.extend((s, pools, shift + offset, name) for s in g.successors(name))
        elif node.role == Role.WEIGHT and name in layer_of:
            yield layer_of[name], pools, shift
        elif node.role == Role.OUTPUT:
            yield OUTPUT, pools, shift
        # anything else breaks the path; the graph rule check has reported it


def _destination(target, pools, shift: int = 0) -> Destination:
    ky = kx = sy = sx = 1
    for p in pools:
        ky, kx = ky * p.kernel[0], kx * p.kernel[1]
        sy, sx = sy * p.stride[0], sx * p.stride[1]
    padded = any(p.padding != (0, 0) for p in pools)
    return Destination(layer=target, pooling=ky if ky == kx else max(ky, kx), feature_shift=shift,
                       pool_name=",".join(p.name for p in pools) or None,
                       pooling_shape=(ky, kx), pooling_stride=(sy, sx), pooling_padded=padded)


def group_chip_layers(graph: Graph, ctx) -> ChipModel:
    g = graph
    shapes = g.infer_shapes()
    layers: list[ChipLayer] = []
    layer_of: dict[str, int] = {}
    for name in g.node_names():
        conv = g[name]
        if conv.role != Role.WEIGHT:
            continue
        neuron = _neuron_after(g, name)
        if neuron is None:
            continue
        (src,) = g.predecessors(name)
        thr = neuron.threshold if neuron.threshold.ndim == 0 else neuron.threshold.max()
        low = neuron.threshold_low
        if low is not None and low.ndim > 0:
            low = low.min()
        v_init = None
        if neuron.v_init is not None and np.any(neuron.v_init):
            v_init = np.broadcast_to(neuron.v_init, shapes[name]).astype(np.float64)
        layer_of[name] = len(layers)
        layers.append(ChipLayer(
            name=name, weight=conv.weight, bias=conv.bias, stride=conv.stride, padding=conv.padding,
            dilation=conv.dilation, groups=conv.groups,
            input_shape=tuple(shapes[src]), output_shape=tuple(shapes[name]),
            threshold_high=float(thr), threshold_low=None if low is None else float(low),
            reset=neuron.reset, spike_mode=neuron.spike_mode, v_init=v_init,
            sources=[name] + ctx.folded.get(name, []) + [neuron.name], neuron_name=neuron.name))
    for i, layer in enumerate(layers):
        for target, pools, shift in _walk(g, layer.neuron_name, layer_of, shapes):
            d = _destination(target, pools, shift)
            layer.destinations.append(d)
            for p in pools:
                layer.sources.append(p.name)
        layer.sources = list(dict.fromkeys(layer.sources))
    input_targets: list[int] = []
    input_pooling = 1
    input_pool_names: list[str] = []
    inputs = g.inputs()
    dvs = None
    starts = list(inputs)
    dvs_nodes = [n for n in g.node_names() if g[n].role == Role.DVS]
    if dvs_nodes:
        node = g[dvs_nodes[0]]
        (src,) = g.predecessors(dvs_nodes[0])
        origin, cut = node.region(shapes[src])
        dvs = DvsSpec(name=node.name, pooling=node.pooling, origin=origin, cut=cut, mirror_x=node.mirror_x,
                      mirror_y=node.mirror_y, mirror_diagonal=node.mirror_diagonal, merge=node.merge,
                      on_channel=node.on_channel, off_channel=node.off_channel,
                      pass_sensor_events=node.pass_sensor_events)
        starts = dvs_nodes[:1]
    for inp in starts:
        for target, pools, shift in _walk(g, inp, layer_of, shapes):
            if target != OUTPUT:
                input_targets.append(target)
            d = _destination(target, pools)
            if pools:
                input_pooling = d.pooling
                input_pool_names = [p.name for p in pools]
    shape = g[inputs[0]].shape if inputs else ()
    return ChipModel(layers=layers, input_shape=tuple(shape), input_targets=sorted(set(input_targets)),
                     input_name=inputs[0] if inputs else "input", input_pooling=input_pooling,
                     meta={"input_pool_names": input_pool_names}, dvs=dvs)
