"""NIR graph -> graph IR.

Node names are the NIR node ids; edges come from ``nir_graph.edges``.  Several edges into one node mean their sum
(NIR's rule), so snnc inserts an ``Add`` named ``<id>:sum`` in front of it.

Neuron semantics, following the NIR 1.0 specification (documented in docs/frontends.md):

* ``IF`` -> ``IAF(threshold=v_threshold, threshold_low=None, reset="subtract", spike_mode="single")``.  NIR
  defines the IF reset as ``v <- v - v_threshold`` and the output as one spike (z in {0, 1}) per step.  Thresholds
  stay per neuron as stored; a later pass collapses uniform ones.  sinabs' own NIR import differs: it makes
  ``MultiSpike`` neurons with ``min_v_mem = -v_threshold``; snnc follows the specification instead.
* ``r`` (``dv/dt = R I``): 1 is the identity.  Another positive ``r`` is folded into the Conv2d / Linear / Affine
  that feeds the IF (its weights and bias for output ``i`` are multiplied by ``r_i``; for a conv ``r`` must be the
  same across a channel), which leaves every spike unchanged.  When that is impossible the IF becomes
  ``Unsupported`` with the reason.
* ``LIF`` -> ``LIF`` (the rule check reports it); ``I``, ``LI``, ``CubaLIF`` and other nodes -> ``Unsupported``.
"""
from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np

from ..errors import SnncError
from ..ir import real_array
from ..ir import IAF, LIF, Add, AvgPool, Conv2d, Flatten, Graph, Input, Linear, Output, SumPool, Unsupported
from .shape import parse_shape


def read_nir(path) -> "object":
    """``nir.read`` with every failure turned into one SnncError line naming the file."""
    import nir

    path = Path(path)
    inspect_hdf5(path)
    try:
        graph = nir.read(str(path))
    except Exception as e:  # h5py / nir raise OSError, KeyError, ValueError, AssertionError ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:150]
        raise SnncError(f"{path}: is not a readable NIR file ({type(e).__name__}: {first}); write it with "
                        "nir.write(path, graph)") from None
    if not isinstance(graph, nir.NIRGraph):
        raise SnncError(f"{path}: holds a single NIR {type(graph).__name__} node, not a graph; wrap it in "
                        "nir.NIRGraph with Input and Output nodes")
    return graph


#: Limits on what a .nir (HDF5) file may declare before nir reads it: its datasets' total size, the number of
#: groups and datasets, and how deep groups nest.  A chip holds well under a million weights; these are far above.
MAX_HDF5_BYTES = 256 << 20
MAX_HDF5_OBJECTS = 100_000
MAX_HDF5_DEPTH = 64


def inspect_hdf5(path: Path) -> None:
    """Look at a .nir file with h5py before ``nir.read`` does, and refuse (one line naming the dataset) what would
    make reading it touch other files or allocate without bound: external storage (raw data kept in another
    file), external and soft links, virtual datasets, and datasets whose declared sizes add up to more than
    :data:`MAX_HDF5_BYTES`."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except Exception as e:  # OSError for a non-HDF5 file; others for odd ones
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:150]
        raise SnncError(f"{path}: is not a readable NIR file (not HDF5: {first}); write it with "
                        "nir.write(path, graph)") from None
    try:
        with f:
            _walk_hdf5(path, f)
    except SnncError:
        raise
    except Exception as e:  # a damaged file: h5py raises RuntimeError, OSError, KeyError, TypeError (bytes names)...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:150]
        raise SnncError(f"{path}: is not a readable NIR file (damaged HDF5: {type(e).__name__}: {first}); write it "
                        "again with nir.write(path, graph)") from None


def _walk_hdf5(path: Path, f) -> None:
    """The walk :func:`inspect_hdf5` makes over an open file (any h5py error is the caller's to turn into a line)."""
    import h5py

    total = n_objects = 0
    stack = [(f, "/", 0)]
    while stack:
        group, prefix, depth = stack.pop()
        if depth > MAX_HDF5_DEPTH:
            raise SnncError(f"{path}: groups nest deeper than {MAX_HDF5_DEPTH} levels at {prefix!r}; not a "
                            "NIR file snnc reads")
        for key in group.keys():
            where = prefix + key
            n_objects += 1
            if n_objects > MAX_HDF5_OBJECTS:
                raise SnncError(f"{path}: holds more than {MAX_HDF5_OBJECTS} groups and datasets; not a NIR "
                                "file snnc reads")
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise SnncError(f"{path}: {where!r} is an external link to {link.filename!r}; snnc reads no "
                                "other file through a .nir file: write the data into the file itself")
            if isinstance(link, h5py.SoftLink):
                raise SnncError(f"{path}: {where!r} is a soft link to {link.path!r}; NIR files hold no "
                                "links: write the data itself")
            obj = group.get(key)
            if isinstance(obj, h5py.Group):
                stack.append((obj, where + "/", depth + 1))
                continue
            if not isinstance(obj, h5py.Dataset):
                continue
            if obj.external:
                raise SnncError(f"{path}: dataset {where!r} keeps its data in another file (HDF5 external "
                                f"storage: {obj.external[0][0]!r}); snnc refuses it: write the data into the "
                                "file itself")
            if obj.is_virtual:
                raise SnncError(f"{path}: dataset {where!r} is a virtual dataset (its data lives in other "
                                "files); snnc refuses it: write the data into the file itself")
            shape = obj.shape or ()
            n = 1
            for d in shape:
                n *= int(d)
            total += n * obj.dtype.itemsize
            if total > MAX_HDF5_BYTES:
                raise SnncError(f"{path}: dataset {where!r} (shape {list(shape)}) brings the file's data to "
                                f"more than {MAX_HDF5_BYTES >> 20} MiB; a model for the chip is far smaller: "
                                "is this the right file?")


def _a(x, what: str = "a parameter") -> np.ndarray:
    return real_array(x, what)


def _bias(b, n: int, nid: str) -> np.ndarray:
    a = _a(b, f"{nid}.bias")
    try:
        return np.broadcast_to(a, (n,)).copy()
    except ValueError:
        raise SnncError(f"{nid}.bias has shape {list(a.shape)} for {n} output channels; the NIR file is "
                        "inconsistent") from None


def _ints(x) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(x).reshape(-1))


def _declared_shape(node, key: str, which: str = "output_type"):
    t = getattr(node, which, None) or {}
    v = t.get(key) if isinstance(t, dict) else None
    if v is None:
        return None
    try:
        s = _ints(v)
    except (TypeError, ValueError):
        return None
    return s if s and all(d > 0 for d in s) else None


def _neuron_array(x, shape, what: str, name: str) -> np.ndarray:
    """A NIR neuron parameter as a 0-d array (one value) or an array of the layer's shape (per neuron)."""
    a = _a(x, f"{name}.{what}")
    if a.size == 1:
        return a.reshape(())
    if a.size != int(np.prod(shape)):
        raise SnncError(f"{name}: {what} has {a.size} values for a layer of shape {list(shape)}; the NIR file is "
                        "inconsistent")
    return a.reshape(shape)


def _conv_padding(node, name):
    pad = node.padding
    if isinstance(pad, str):
        if pad == "valid":
            return (0, 0), None
        kh, kw = node.weight.shape[2:]
        dy, dx = _pair(node.dilation)
        ty, tx = dy * (kh - 1), dx * (kw - 1)
        if ty % 2 or tx % 2:
            return None, f"padding='same' with kernel {kh}x{kw} pads unevenly; use an odd kernel"
        return (ty // 2, tx // 2), None
    return _pair(pad), None


def _pair(v) -> tuple[int, int]:
    t = _ints(v)
    return (t[0], t[0]) if len(t) == 1 else (t[0], t[1])


def from_nir(nir_graph, input_shape=None, name: str | None = None) -> Graph:
    """Lower a ``nir.NIRGraph`` to a validated graph IR.  ``input_shape`` overrides the Input node's shape."""
    import nir

    nodes = dict(nir_graph.nodes)
    if not any(isinstance(n, nir.Input) for n in nodes.values()):
        raise SnncError("the NIR graph has no Input node; add nir.Input(input_type={'input': [C, H, W]}) and an "
                        "edge from it to the first layer")
    order = nx.DiGraph()
    order.add_nodes_from(nodes)
    edges = [(str(a), str(b)) for a, b in nir_graph.edges]
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise SnncError(f"an edge names {end!r}, which is not a node of the NIR graph (nested subgraphs are "
                                "not supported; flatten the graph)")
        order.add_edge(a, b)
    if not nx.is_directed_acyclic_graph(order):
        cycle = nx.find_cycle(order)
        raise SnncError(f"the NIR graph has a loop through {[e[0] for e in cycle]}; recurrent models are not "
                        "supported")
    inputs_of = {n: [a for a, b in edges if b == n] for n in nodes}
    consumers = {n: [b for a, b in edges if a == n] for n in nodes}

    graph = Graph(name or "nir")
    shapes: dict[str, tuple] = {}
    feeds: dict[str, str] = {}  # NIR id -> IR name of the tensor it produces

    def add(node, srcs):
        graph.add(node, srcs)
        shapes[node.name] = tuple(int(d) for d in node.out_shape([shapes[s] for s in srcs]))
        return node.name

    index = {n: i for i, n in enumerate(nodes)}
    for nid in nx.lexicographical_topological_sort(order, key=lambda n: index[n]):
        node = nodes[nid]
        srcs = [feeds[p] for p in inputs_of[nid]]
        if isinstance(node, nir.Input):
            feeds[nid] = add(Input(nid, shape=_input_shape(nid, node, input_shape, nodes, consumers)), [])
            continue
        if not srcs:
            continue  # unreachable from the input: validate() names it if anything consumes it
        if len(srcs) > 1:
            srcs = [add(Add(f"{nid}:sum"), srcs)]
        in_shape = shapes[srcs[0]]
        ir_node = _convert(nid, node, in_shape, graph, inputs_of, consumers, feeds)
        feeds[nid] = add(ir_node, srcs)
    graph.validate()
    return graph


def _input_shape(nid, node, override, nodes, consumers):
    import nir

    if override is not None:
        return parse_shape(override)
    shape = _declared_shape(node, "input", "input_type")
    if shape is None:
        # no shape on the Input node: take it from a Conv2d that reads it and declares its input size
        for c in consumers[nid]:
            n = nodes[c]
            if isinstance(n, nir.Conv2d) and n.input_shape is not None:
                return (int(n.weight.shape[1]),) + _pair(n.input_shape)
            if isinstance(n, (nir.Linear, nir.Affine)):
                return (int(n.weight.shape[1]),)
        raise SnncError(f"the NIR Input node {nid!r} has no shape: pass --input-shape C,H,W")
    if len(shape) == 2:  # (H, W) with the channels implied by the first conv
        for c in consumers[nid]:
            n = nodes[c]
            if isinstance(n, nir.Conv2d):
                return (int(n.weight.shape[1]),) + shape
    if len(shape) > 3:
        raise SnncError(f"the NIR Input node {nid!r} has shape {list(shape)}; snnc takes (C, H, W) or (N,): pass "
                        "--input-shape")
    return shape


def _output(nid, node, ctx):
    return Output(nid)


def _conv2d(nid, node, ctx):
    padding, why = _conv_padding(node, nid)
    if why:
        return Unsupported(nid, op="Conv2d", detail=why, shape=_declared_shape(node, "output"))
    w = _a(node.weight, f"{nid}.weight")
    if w.ndim != 4:
        raise SnncError(f"{nid}.weight has shape {list(w.shape)}; a Conv2d weight is [out, in, kh, kw]")
    bias = None if node.bias is None else _bias(node.bias, w.shape[0], nid)
    return Conv2d(nid, weight=w, bias=bias, stride=_pair(node.stride), padding=padding,
                  dilation=_pair(node.dilation), groups=int(np.asarray(node.groups)))


def _affine(nid, node, ctx):
    return Linear(nid, weight=_a(node.weight, f"{nid}.weight"), bias=_a(node.bias, f"{nid}.bias").reshape(-1))


def _linear(nid, node, ctx):
    return Linear(nid, weight=_a(node.weight, f"{nid}.weight"), bias=None)


def _sumpool(nid, node, ctx):
    return SumPool(nid, kernel=_pair(node.kernel_size), stride=_pair(node.stride), padding=_pair(node.padding))


def _avgpool(nid, node, ctx):
    return AvgPool(nid, kernel=_pair(node.kernel_size), stride=_pair(node.stride), padding=_pair(node.padding))


def _flatten(nid, node, ctx):
    in_shape = ctx["in_shape"]
    k = len(in_shape)
    start, end = int(node.start_dim), int(node.end_dim)
    start, end = start % k if start < 0 else start, end % k if end < 0 else end
    if k == 1 or (start == 0 and end == k - 1):
        return Flatten(nid)
    out = in_shape[:start] + (int(np.prod(in_shape[start:end + 1])),) + in_shape[end + 1:]
    return Unsupported(nid, op="Flatten", detail=f"start_dim={node.start_dim}, end_dim={node.end_dim} "
                            "keeps some axes; only flattening everything is supported", shape=out)


def _if(nid, node, ctx):
    thr = _neuron_array(node.v_threshold, ctx["in_shape"], "v_threshold", nid)
    r = _a(node.r, f"{nid}.r")
    if not np.all(r == 1):
        why = _fold_r(nid, r, ctx["in_shape"], ctx["graph"], ctx["inputs_of"], ctx["consumers"], ctx["feeds"])
        if why:
            return Unsupported(nid, op="IF", detail=why)
    return IAF(nid, threshold=thr, threshold_low=None, reset="subtract", spike_mode="single")


def _lif(nid, node, ctx):
    return LIF(nid, tau_mem=_a(node.tau, f"{nid}.tau"), threshold=_neuron_array(node.v_threshold, ctx["in_shape"], "v_threshold", nid),
               threshold_low=None, reset="subtract", spike_mode="single", dt=None)


#: One handler per NIR node type (by class name; a subclass uses its nearest listed base).  Any other type becomes
#: an ``Unsupported`` node, with the reason from :data:`UNSUPPORTED_DETAILS` when one is known.
NODE_HANDLERS = {
    "Output": _output, "Conv2d": _conv2d, "Affine": _affine, "Linear": _linear, "SumPool2d": _sumpool,
    "AvgPool2d": _avgpool, "Flatten": _flatten, "IF": _if, "LIF": _lif,
}

UNSUPPORTED_DETAILS = {
    "I": "an integrator without a threshold: it never spikes; the chip's neurons are IF",
    "LI": "a leaky integrator without a threshold; the chip's neurons are IF without leak",
    "CubaLIF": "current-based LIF (synaptic current and leak); the chip's neurons are IF",
    "NIRGraph": "a nested subgraph; flatten the graph before export",
}


def _convert(nid, node, in_shape, graph, inputs_of, consumers, feeds):
    ctx = {"in_shape": in_shape, "graph": graph, "inputs_of": inputs_of, "consumers": consumers, "feeds": feeds}
    for cls in type(node).__mro__:
        handler = NODE_HANDLERS.get(cls.__name__)
        if handler is not None and cls.__module__.split(".")[0] == "nir":
            return handler(nid, node, ctx)
    kind = type(node).__name__
    return Unsupported(nid, op=kind, detail=UNSUPPORTED_DETAILS.get(kind, ""), shape=_declared_shape(node, "output"))


def _fold_r(nid, r, shape, graph, inputs_of, consumers, feeds) -> str | None:
    """Multiply the weights feeding IF ``nid`` by its resistance ``r``; return why not, or None when done."""
    if np.any(r <= 0):
        return "r <= 0 flips or kills the input; only positive r can be folded into the weights"
    preds = inputs_of[nid]
    if len(preds) != 1 or len(consumers[preds[0]]) != 1:
        return f"r={_fmt(r)} can only be folded into a single Conv2d/Linear/Affine that feeds only this IF"
    prod = graph[feeds[preds[0]]]
    if not isinstance(prod, (Conv2d, Linear)):
        return f"r={_fmt(r)} can only be folded into a Conv2d/Linear/Affine before the IF, not a {prod.kind}"
    n_out = prod.weight.shape[0]
    if r.size == 1:
        per_out = np.full(n_out, float(r.reshape(-1)[0]))
    elif isinstance(prod, Linear):
        per_out = r.reshape(-1)
    else:
        per_ch = r.reshape(n_out, -1)
        if not np.all(per_ch == per_ch[:, :1]):
            return f"r varies within a channel ({_fmt(r)}); a conv can only be scaled per output channel"
        per_out = per_ch[:, 0]
    if per_out.size != n_out:
        return f"r has {r.size} values for {n_out} outputs of {prod.name}"
    prod.weight = prod.weight * per_out.reshape((-1,) + (1,) * (prod.weight.ndim - 1))
    if prod.bias is not None:
        prod.bias = prod.bias * per_out
    return None


def _fmt(a) -> str:
    a = np.asarray(a)
    return f"{float(a.min()):g}" if a.min() == a.max() else f"{float(a.min()):g}..{float(a.max()):g}"
