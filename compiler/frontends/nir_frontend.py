"""NIR graph -> graph IR, by the NIR specification of every version (1.0.0 - 1.0.8).

A ``.nir`` file is read with h5py by snnc itself (:func:`read_nir`), not through ``nir.read``: keys that newer nir
versions write (``v_reset``, ``metadata``) and batch axes that nir's type check rejects (Rockpool, Norse) read the same
whatever nir is installed.  In-memory ``nir.NIRGraph`` objects are read through the same code.

Node names are the NIR node ids; edges come from the graph's edges.  Several edges into one node mean their sum
(NIR's rule), so snnc inserts an ``Add`` named ``<id>:sum`` in front of it.  Every interpretation is recorded as a
note (``graph.meta["notes"]``) that ``check``/``compile``/``inspect`` print.  The rules (docs/frontends.md):

* ``IF``: ``v_reset`` absent (files of nir < 1.0.6, whose IF subtracted the threshold) -> subtract reset;
  ``v_reset = 0`` -> reset to zero; any other ``v_reset`` -> rule ``neuron_model``.
* ``r``: on the chip an input event adds ``w * r * dt``.  ``r = 1`` needs nothing; another ``r`` needs the time step
  (``--nir-dt`` or a ``dt`` in the file's metadata) and the factor ``r * dt`` is folded into the Conv2d / Linear /
  Affine feeding the neuron; without a time step the layer is refused (``neuron_model``) naming ``r`` and the option.
* ``LIF`` with ``tau = inf`` everywhere is an IF whose input gain is ``dt * r / tau`` when that is defined; finite
  ``tau`` -> ``LIF`` (rule ``neuron_model``).  ``CubaLIF``, ``CubaLI``, ``LI``, ``I``, ``Threshold`` -> rule
  ``neuron_model``; other node types (``Scale``, ``Delay``, ``Conv1d``, unknown names, a ``None`` left by an
  exporter) -> rule ``unsupported_layer``.
* NIR fires when ``v > v_threshold``; the chip fires at ``v >= threshold``: said in a note.
"""
from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np

from ..errors import SnncError
from ..ir import real_array
from ..ir import IAF, LIF, Add, AvgPool, Conv2d, Flatten, Graph, Input, Linear, Output, SumPool, Unsupported
from .shape import parse_shape

#: The NIR versions whose files snnc reads (their node types and keys are below).
NIR_VERSIONS = "1.0.0-1.0.8"
#: Node types of NIR 1.0.x; any other type name is refused by name.
KNOWN_TYPES = {"Input", "Output", "Affine", "Linear", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten",
               "Delay", "Scale", "Threshold", "I", "IF", "LI", "LIF", "CubaLI", "CubaLIF", "NIRGraph"}


class NirNode:
    """One NIR node as snnc reads it: its type name (``kind``) and its fields, whatever nir version wrote it."""

    def __init__(self, kind: str, fields: dict):
        self.kind = kind
        self.fields = dict(fields)

    def get(self, key, default=None):
        v = self.fields.get(key, default)
        return default if v is None else v

    def has(self, key) -> bool:
        return self.fields.get(key) is not None

    def __repr__(self):
        return f"NirNode({self.kind}, {sorted(self.fields)})"


class NirModel:
    """A NIR graph as read from a file: nodes by id, edges, graph metadata, the nir version the file records."""

    def __init__(self, nodes: dict, edges: list, metadata: dict | None = None, version: str | None = None,
                 path: str | None = None):
        self.nodes, self.edges, self.metadata, self.version, self.path = nodes, edges, metadata or {}, version, path


def installed_nir_version() -> str:
    try:
        import nir

        return str(getattr(nir, "version", None) or getattr(nir, "__version__", "?"))
    except ImportError:  # pragma: no cover - nir is a dependency
        return "none"


def _text(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf8", "replace")
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return _text(v[()])
    return str(v)


def _hdf_to_dict(group) -> dict:
    import h5py

    out = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _hdf_to_dict(item)
        elif isinstance(item, h5py.Dataset):
            v = item[()]
            out[key] = v.decode("utf8", "replace") if isinstance(v, bytes) else v
    return out


def read_nir(path) -> NirModel:
    """Read a ``.nir`` file written by any nir 1.0.x with h5py: every failure is one SnncError line naming the file
    (and, where the structure is not NIR's, the nir version the file records and the one installed)."""
    import h5py

    path = Path(path)
    inspect_hdf5(path)
    version = None
    try:
        with h5py.File(path, "r") as f:
            if "version" in f and isinstance(f["version"], h5py.Dataset):
                version = _text(f["version"][()])
            if "node" not in f or not isinstance(f["node"], h5py.Group):
                raise _NotNir("it has no 'node' group")
            data = _hdf_to_dict(f["node"])
    except _NotNir as e:
        raise SnncError(f"{path}: is not a readable NIR file ({e}; {_versions(version)}); write it with "
                        "nir.write(path, graph)") from None
    except Exception as e:  # h5py raises OSError, KeyError, ValueError ... on damaged files
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:150]
        raise SnncError(f"{path}: is not a readable NIR file ({type(e).__name__}: {first}); write it with "
                        "nir.write(path, graph)") from None
    try:
        model = _model_from_dict(data, version)
    except SnncError as e:
        raise SnncError(f"{path}: {e}") from None
    except _NotNir as e:
        raise SnncError(f"{path}: is not a readable NIR file ({e}; {_versions(version)}); write it with "
                        "nir.write(path, graph)") from None
    model.path = str(path)
    return model


class _NotNir(Exception):
    pass


def _versions(version) -> str:
    return (f"the file records nir {version}" if version else "the file records no nir version") + \
        f", installed nir {installed_nir_version()}, snnc reads NIR {NIR_VERSIONS}"


def _model_from_dict(d: dict, version) -> NirModel:
    kind = _text(d.get("type", "?"))
    if kind != "NIRGraph":
        raise SnncError(f"holds a single NIR {kind} node, not a graph; wrap it in nir.NIRGraph with Input and "
                        "Output nodes")
    if not isinstance(d.get("nodes"), dict):
        raise _NotNir("its graph has no 'nodes' group")
    nodes = {str(k): _node_from_dict(v) for k, v in d["nodes"].items()}
    raw_edges = d.get("edges")
    edges = []
    if raw_edges is not None:
        arr = np.asarray(raw_edges)
        if arr.size and (arr.ndim != 2 or arr.shape[1] != 2):
            raise _NotNir(f"its edges have shape {list(arr.shape)}, not [N, 2]")
        edges = [(_text(a), _text(b)) for a, b in arr.reshape(-1, 2)] if arr.size else []
    meta = d.get("metadata") if isinstance(d.get("metadata"), dict) else {}
    return NirModel(nodes, edges, meta, version)


def _node_from_dict(d) -> NirNode:
    if not isinstance(d, dict):
        raise _NotNir("a node is a dataset, not a group")
    kind = _text(d.get("type", "?"))
    fields = {k: v for k, v in d.items() if k != "type"}
    if kind == "NIRGraph":
        return NirNode(kind, fields)
    if kind == "Input" and "shape" in fields:
        fields["input_type"] = {"input": fields.pop("shape")}
    if kind == "Output" and "shape" in fields:
        fields["output_type"] = {"output": fields.pop("shape")}
    if kind == "Flatten" and not isinstance(fields.get("input_type"), dict) and fields.get("input_type") is not None:
        fields["input_type"] = {"input": fields["input_type"]}
    return NirNode(kind, fields)


def _from_object(node) -> NirNode:
    """A node of an in-memory ``nir.NIRGraph`` (any nir version) as a :class:`NirNode`."""
    if node is None:
        return NirNode("None", {})
    if isinstance(node, NirNode):
        return node
    kind = type(node).__name__
    for cls in type(node).__mro__:  # a subclass of a nir type reads as that type
        if cls.__module__.split(".")[0] == "nir" and cls.__name__ in KNOWN_TYPES:
            kind = cls.__name__
            break
    try:
        fields = dict(vars(node))
    except TypeError:
        fields = {}
    return NirNode(kind, fields)


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
    t = node.get(which) or {}
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
    pad = node.get("padding", 0)
    if isinstance(pad, bytes):
        pad = pad.decode()
    if isinstance(pad, np.ndarray) and pad.dtype.kind in "SUO":
        pad = _text(pad.reshape(-1)[0])
    if isinstance(pad, str):
        if pad == "valid":
            return (0, 0), None
        kh, kw = np.asarray(node.get("weight")).shape[2:]
        dy, dx = _pair(node.get("dilation", 1))
        ty, tx = dy * (kh - 1), dx * (kw - 1)
        if ty % 2 or tx % 2:
            return None, f"padding='same' with kernel {kh}x{kw} pads unevenly; use an odd kernel"
        return (ty // 2, tx // 2), None
    return _pair(pad), None


def _pair(v) -> tuple[int, int]:
    t = _ints(v)
    return (t[0], t[0]) if len(t) == 1 else (t[0], t[1])


def from_nir(nir_graph, input_shape=None, name: str | None = None, dt: float | None = None) -> Graph:
    """Lower a NIR graph (a :class:`NirModel` from :func:`read_nir` or an in-memory ``nir.NIRGraph``) to a
    validated graph IR.  ``input_shape`` overrides the Input node's shape; ``dt`` (seconds, ``--nir-dt``) is the time
    step the graph was exported with, needed where ``r != 1``.  ``graph.meta["notes"]`` lists how snnc read it."""
    if isinstance(nir_graph, NirModel):
        model = nir_graph
    else:
        raw_nodes = getattr(nir_graph, "nodes", None)
        if not isinstance(raw_nodes, dict):
            raise SnncError(f"cannot read a {type(nir_graph).__name__} as a NIR graph")
        model = NirModel({str(k): _from_object(v) for k, v in raw_nodes.items()},
                         [(str(a), str(b)) for a, b in (getattr(nir_graph, "edges", None) or [])],
                         dict(getattr(nir_graph, "metadata", None) or {}), installed_nir_version())
        model.from_api = True
    nodes = model.nodes
    if not any(n.kind == "Input" for n in nodes.values()):
        raise SnncError("the NIR graph has no Input node; add nir.Input(input_type={'input': [C, H, W]}) and an "
                        "edge from it to the first layer")
    order = nx.DiGraph()
    order.add_nodes_from(nodes)
    edges = model.edges
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise SnncError(f"an edge names {end!r}, which is not a node of the NIR graph (nested subgraphs are "
                                "not supported; flatten the graph)")
        order.add_edge(a, b)
    inputs_of = {n: [a for a, b in edges if b == n] for n in nodes}
    consumers = {n: [b for a, b in edges if a == n] for n in nodes}
    ctx = _Ctx(model, dt, input_shape, inputs_of, consumers)
    graph = ctx.graph = Graph(name or "nir")
    if not nx.is_directed_acyclic_graph(order):
        _cyclic(ctx, order)
        graph.meta["notes"] = ctx.note_lines()
        return graph  # the pipeline reports rule ``recurrence``

    index = {n: i for i, n in enumerate(nodes)}
    for nid in nx.lexicographical_topological_sort(order, key=lambda n: index[n]):
        node = nodes[nid]
        srcs = [ctx.feeds[p] for p in inputs_of[nid] if p in ctx.feeds]
        if node.kind == "Input":
            ctx.feeds[nid] = ctx.add(Input(nid, shape=_input_shape(nid, node, ctx)), [])
            continue
        if not srcs:
            continue  # unreachable from the input: validate() names it if anything consumes it
        if len(srcs) > 1:
            srcs = [ctx.add(Add(f"{nid}:sum"), srcs)]
        ctx.in_shape = ctx.shapes[srcs[0]]
        ir_node = _convert(nid, node, ctx)
        try:
            ctx.feeds[nid] = ctx.add(ir_node, srcs)
        except SnncError as e:
            _blame_guess(ctx, nid, e)
            raise
        if isinstance(ir_node, Unsupported) and ir_node.shape is None and ir_node.rule != "neuron_model":
            ctx.guessed[nid] = f"{node.kind}: {ir_node.detail}" if ir_node.detail else node.kind
    try:
        graph.validate()
    except SnncError as e:
        _blame_guess(ctx, None, e)
        raise
    graph.meta["notes"] = ctx.note_lines()
    return graph


class _Ctx:
    def __init__(self, model, dt, input_shape, inputs_of, consumers):
        self.model, self.inputs_of, self.consumers, self.input_override = model, inputs_of, consumers, input_shape
        self.shapes: dict[str, tuple] = {}
        self.feeds: dict[str, str] = {}  # NIR id -> IR name of the tensor it produces
        self.in_shape: tuple = ()
        self.graph: Graph | None = None
        self._notes: dict[str, list[str]] = {}
        self.dt, self.dt_source = None, None
        if dt is not None:
            dt = float(dt)
            if not (math.isfinite(dt) and dt > 0):
                raise SnncError(f"--nir-dt must be a positive number of seconds, got {dt:g}")
            self.dt, self.dt_source = dt, "--nir-dt"
        else:
            found = _metadata_dt(model.metadata)
            if found is not None:
                self.dt, self.dt_source = found, "the file's metadata"

        self.guessed: dict[str, str] = {}  # nodes whose output shape snnc could only guess (unknown types)

    def add(self, node, srcs):
        self.graph.add(node, srcs)
        self.shapes[node.name] = tuple(int(d) for d in node.out_shape([self.shapes[s] for s in srcs]))
        return node.name

    def note(self, layer: str | None, text: str) -> None:
        self._notes.setdefault(text, [])
        if layer is not None and layer not in self._notes[text]:
            self._notes[text].append(layer)

    def note_lines(self) -> list[str]:
        return [(f"{', '.join(layers)}: " if layers else "") + text for text, layers in self._notes.items()]


def _blame_guess(ctx, nid, err) -> None:
    """A shape error downstream of a node whose output shape snnc had to guess: name that node instead."""
    if not ctx.guessed:
        return
    g = ctx.graph.g
    cands = list(ctx.guessed) if nid is None else [u for u in ctx.guessed if u in g and (
        u in ctx.inputs_of.get(nid, []) or any(nx.has_path(g, u, ctx.feeds[p]) for p in ctx.inputs_of.get(nid, [])
                                               if p in ctx.feeds))]
    if cands:
        u = cands[0]
        raise SnncError(f"{u!r} is a NIR {ctx.guessed[u]}; snnc cannot run it and cannot tell its output shape "
                        f"({err}); replace it by a layer the chip has") from None


def _metadata_dt(meta) -> float | None:
    """A time step recorded in a graph's metadata (``dt``, seconds), or None."""
    if not isinstance(meta, dict):
        return None
    for key in ("dt", "time_step", "timestep"):
        if key in meta:
            try:
                v = float(np.asarray(meta[key]).reshape(-1)[0])
            except (TypeError, ValueError, IndexError):
                continue
            if math.isfinite(v) and v > 0:
                return v
    return None


def _cyclic(ctx, order) -> None:
    """A graph with a loop: every node is placed (best effort, without shapes) so that the rule check can name the
    loop (rule ``recurrence``)."""
    g = ctx.graph
    for nid, node in ctx.model.nodes.items():
        if node.kind == "Input":
            g.add(Input(nid, shape=_input_shape(nid, node, ctx)))
            continue
        ctx.in_shape = (_declared_shape(node, "input", "input_type")
                        or tuple(np.shape(node.get("v_threshold", node.get("r", ())))))
        try:
            ir_node = _convert(nid, node, ctx, fold=False)
        except (SnncError, ValueError, TypeError, IndexError, KeyError, AttributeError):
            ir_node = Unsupported(nid, op=node.kind, detail="in a loop")
        g.add(ir_node)
    for a, b in order.edges:
        g.connect(a, b)


def _input_shape(nid, node, ctx):
    if ctx.input_override is not None:
        return parse_shape(ctx.input_override)
    nodes, consumers = ctx.model.nodes, ctx.consumers
    shape = _declared_shape(node, "input", "input_type")
    if shape is None:
        # no shape on the Input node: take it from a Conv2d that reads it and declares its input size
        for c in consumers.get(nid, []):
            n = nodes[c]
            if n.kind == "Conv2d" and n.has("input_shape"):
                return (int(np.asarray(n.get("weight")).shape[1]),) + _pair(n.get("input_shape"))
            if n.kind in ("Linear", "Affine"):
                return (int(np.asarray(n.get("weight")).shape[1]),)
        raise SnncError(f"the NIR Input node {nid!r} has no shape: pass --input-shape C,H,W")
    if len(shape) > 1 and shape[0] == 1 and len(shape) in (2, 4):  # a batch axis (Rockpool, Norse)
        ctx.note(nid, f"Input shape {list(shape)} has a leading batch axis of 1; read as {list(shape[1:])}")
        shape = shape[1:]
    if len(shape) == 2:  # (H, W) with the channels implied by the first conv
        for c in consumers.get(nid, []):
            n = nodes[c]
            if n.kind == "Conv2d":
                return (int(np.asarray(n.get("weight")).shape[1]),) + shape
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
    w = _a(node.get("weight"), f"{nid}.weight")
    if w.ndim != 4:
        raise SnncError(f"{nid}.weight has shape {list(w.shape)}; a Conv2d weight is [out, in, kh, kw]")
    bias = None if not node.has("bias") else _bias(node.get("bias"), w.shape[0], nid)
    return Conv2d(nid, weight=w, bias=bias, stride=_pair(node.get("stride", 1)), padding=padding,
                  dilation=_pair(node.get("dilation", 1)), groups=int(np.asarray(node.get("groups", 1))))


def _affine(nid, node, ctx):
    return Linear(nid, weight=_a(node.get("weight"), f"{nid}.weight"),
                  bias=_a(node.get("bias"), f"{nid}.bias").reshape(-1))


def _linear(nid, node, ctx):
    return Linear(nid, weight=_a(node.get("weight"), f"{nid}.weight"), bias=None)


def _sumpool(nid, node, ctx):
    return SumPool(nid, kernel=_pair(node.get("kernel_size")), stride=_pair(node.get("stride")),
                   padding=_pair(node.get("padding", 0)))


def _avgpool(nid, node, ctx):
    return AvgPool(nid, kernel=_pair(node.get("kernel_size")), stride=_pair(node.get("stride")),
                   padding=_pair(node.get("padding", 0)))


def _flatten(nid, node, ctx):
    in_shape = ctx.in_shape
    k = len(in_shape)
    start, end = int(np.asarray(node.get("start_dim", 1))), int(np.asarray(node.get("end_dim", -1)))
    declared = _declared_shape(node, "input", "input_type")
    if declared is not None and len(declared) == k + 1 and declared[0] == 1:  # a batch axis in the declaration
        start, end = start - 1 if start > 0 else start, end - 1 if end > 0 else end
    if k == 0:
        return Flatten(nid)
    start, end = start % k if start < 0 else start, end % k if end < 0 else end
    if k == 1 or (start == 0 and end == k - 1):
        return Flatten(nid)
    out = in_shape[:start] + (int(np.prod(in_shape[start:end + 1])),) + in_shape[end + 1:]
    return Unsupported(nid, op="Flatten", detail=f"start_dim={start}, end_dim={end} keeps some axes; only "
                       "flattening everything is supported", shape=out)


def _refuse(nid, op, detail, hint, measured=None):
    """A neuron the chip cannot run as the file says: rule ``neuron_model`` on this layer, shape passing through."""
    return Unsupported(nid, op=op, detail=detail, rule="neuron_model", hint=hint, measured=measured)


_IF_HINT = ("the chip's neuron integrates w per input event, fires at v >= threshold and resets to 0 or subtracts "
            "the threshold")


def _reset(nid, node, ctx, kind):
    """'subtract' / 'zero', or an Unsupported refusing the layer."""
    if not node.has("v_reset"):
        ctx.note(nid, f"{kind} without v_reset (NIR before 1.0.6, whose {kind} subtracts the threshold): subtract "
                 "reset, v <- v - v_threshold")
        return "subtract"
    vr = _a(node.get("v_reset"), f"{nid}.v_reset")
    if np.all(vr == 0):
        ctx.note(nid, f"{kind} v_reset = 0 (NIR 1.0.6 and later: v <- v_reset on a spike): reset to zero")
        return "zero"
    return _refuse(nid, kind, f"v_reset = {_fmt(vr)}: the chip resets to 0 or subtracts the threshold, it cannot "
                   f"reset to {_fmt(vr)}", "export with v_reset = 0 (reset to zero), or shift v_reset and the "
                   "threshold together by -v_reset if your model allows it", measured=f"v_reset={_fmt(vr)}")


def _gain(nid, node, ctx, kind, gain, what):
    """Fold the input gain ``gain * dt`` (``gain`` = r, or r / tau) into the weight layer before neuron ``nid``.
    Returns None when done, else the Unsupported refusing the layer."""
    if gain.size and np.all(gain == 1) and what == "r":
        return None
    if not np.all(np.isfinite(gain)) or np.any(gain <= 0):
        return _refuse(nid, kind, f"{what} = {_fmt(gain)}: only a finite, positive input gain can be folded into "
                       "the weights", _IF_HINT, measured=f"{what}={_fmt(gain)}")
    if ctx.dt is None:
        return _refuse(nid, kind, f"{what} = {_fmt(gain)}: an input event adds w * {what} * dt to v, and the file "
                       "records no time step dt", "pass --nir-dt SECONDS, the time step the model was exported with "
                       "(e.g. --nir-dt 1e-4 for r = 1e4 = 1/dt)", measured=f"{what}={_fmt(gain)}")
    factor = gain * ctx.dt
    if getattr(ctx, "fold", True):
        why = _fold(nid, factor, ctx)
        if why:
            return Unsupported(nid, op=kind, detail=why)
    ctx.note(nid, f"{what} = {_fmt(gain)}, dt = {ctx.dt:g} s (from {ctx.dt_source}): the weights into the layer are "
             f"multiplied by {what} * dt = {_fmt(factor)}")
    return None


def _threshold(nid, node, ctx):
    thr = _neuron_array(node.get("v_threshold"), ctx.in_shape, "v_threshold", nid)
    ctx.note(None, "NIR neurons fire when v > v_threshold, the chip's when v >= threshold: the two differ only "
             "when v lands exactly on the threshold")
    return thr


def _if(nid, node, ctx):
    reset = _reset(nid, node, ctx, "IF")
    if not isinstance(reset, str):
        return reset
    thr = _threshold(nid, node, ctx)
    refused = _gain(nid, node, ctx, "IF", _a(node.get("r", 1.0), f"{nid}.r"), "r")
    if refused is not None:
        return refused
    return IAF(nid, threshold=_exact_gt(nid, thr, reset, ctx), threshold_low=None, reset=reset, spike_mode="single")


def _exact_gt(nid, thr, reset, ctx):
    """NIR fires when v > v_threshold, the chip when v >= threshold.  Where v can only take integer values (integer
    weights and bias into the layer, integer thresholds) and the reset is to zero, ``v > t`` is ``v >= t + 1``
    exactly; with a subtract reset the chip would then subtract t + 1, so there it stays a note."""
    preds = ctx.inputs_of.get(nid, [])
    if reset != "zero" or len(preds) != 1 or preds[0] not in ctx.feeds or not getattr(ctx, "fold", True):
        return thr
    prod = ctx.graph[ctx.feeds[preds[0]]]
    if not isinstance(prod, (Conv2d, Linear)) or not _integers(thr) or not _integers(prod.weight) or (
            prod.bias is not None and not _integers(prod.bias)):
        return thr
    ctx.note(nid, "integer weights and thresholds with reset to zero: NIR's v > v_threshold is v >= v_threshold + 1 "
             "exactly, so the chip's threshold is v_threshold + 1")
    return thr + 1


def _integers(a) -> bool:
    a = np.asarray(a)
    return bool(a.size) and bool(np.all(np.isfinite(a))) and bool(np.all(a == np.round(a)))


def _lif(nid, node, ctx):
    tau = _a(node.get("tau"), f"{nid}.tau")
    r = _a(node.get("r", 1.0), f"{nid}.r")
    if tau.size and np.all(np.isinf(tau)) and np.all(tau > 0):
        with np.errstate(invalid="ignore", divide="ignore"):
            gain = np.asarray(r / tau, dtype=np.float64)
        if not np.all(np.isfinite(gain)) or np.any(gain <= 0):
            return _refuse(nid, "LIF", f"tau = inf (no leak) with r = {_fmt(r)}: its input gain r / tau is "
                           f"{'undefined (inf / inf)' if np.any(np.isinf(r)) else _fmt(gain)}, so snnc cannot "
                           "tell what one input adds to v", "export the neuron as NIR IF (r = 1, v_threshold, "
                           "v_reset) instead of LIF with tau = inf; snnTorch writes LIF(tau=inf, r=inf) for "
                           "Leaky(beta=1)", measured=f"tau=inf, r={_fmt(r)}")
        reset = _reset(nid, node, ctx, "LIF")
        if not isinstance(reset, str):
            return reset
        thr = _threshold(nid, node, ctx)
        refused = _gain(nid, node, ctx, "LIF", gain, "r/tau")
        if refused is not None:
            return refused
        ctx.note(nid, "LIF with tau = inf has no leak: read as IF")
        return IAF(nid, threshold=_exact_gt(nid, thr, reset, ctx), threshold_low=None, reset=reset,
                   spike_mode="single")
    return LIF(nid, tau_mem=tau, threshold=_neuron_array(node.get("v_threshold"), ctx.in_shape, "v_threshold", nid),
               threshold_low=None, reset="subtract", spike_mode="single", dt=ctx.dt)


_NEURON_REFUSALS = {
    "I": ("an integrator without a threshold: it never spikes", "the chip's neurons fire: use NIR IF"),
    "LI": ("a leaky integrator without a threshold: it never spikes, and the chip has no leak time constant",
           "use NIR IF (integrate-and-fire without leak); read a non-spiking output from the last IF layer's "
           "spike counts"),
    "CubaLIF": ("current-based LIF: the chip has neither a synaptic current nor a leak time constant",
                "use NIR IF (integrate-and-fire) and fine-tune"),
    "CubaLI": ("current-based leaky integrator: no threshold, synaptic current and leak the chip lacks",
               "use NIR IF"),
    "Threshold": ("a bare threshold without membrane state", "use NIR IF"),
}
_OTHER_DETAILS = {
    "NIRGraph": "a nested subgraph; flatten the graph before export",
    "Scale": "an element-wise scale; fold it into the weights of the next Conv2d/Linear",
    "Delay": "synaptic delays do not exist on the chip",
    "Conv1d": "a 1-d convolution; the chip convolves 2-d maps (use Conv2d with a 1-pixel axis)",
}

#: One handler per NIR node type (by class name).  Any other type becomes an ``Unsupported`` node.
NODE_HANDLERS = {
    "Output": _output, "Conv2d": _conv2d, "Affine": _affine, "Linear": _linear, "SumPool2d": _sumpool,
    "AvgPool2d": _avgpool, "Flatten": _flatten, "IF": _if, "LIF": _lif,
}


def _convert(nid, node, ctx, fold: bool = True):
    ctx.fold = fold
    kind = node.kind
    handler = NODE_HANDLERS.get(kind)
    if handler is not None:
        return handler(nid, node, ctx)
    if kind in _NEURON_REFUSALS:
        detail, hint = _NEURON_REFUSALS[kind]
        return _refuse(nid, kind, detail, hint, measured=kind)
    if kind == "None":
        return Unsupported(nid, op="None", detail="the exporter left None for this node: it could not translate "
                           "the layer, and snnc will not pass data through it unchanged")
    if kind not in KNOWN_TYPES:
        return Unsupported(nid, op=kind, detail=f"unknown NIR node type {kind!r} (snnc reads NIR {NIR_VERSIONS}; "
                           f"{_versions(ctx.model.version)})", shape=_declared_shape(node, "output"))
    return Unsupported(nid, op=kind, detail=_OTHER_DETAILS.get(kind, ""), shape=_declared_shape(node, "output"))


def _fold(nid, factor, ctx) -> str | None:
    """Multiply the weights feeding neuron ``nid`` by ``factor`` (per output); return why not, or None when done."""
    graph, inputs_of, consumers, feeds = ctx.graph, ctx.inputs_of, ctx.consumers, ctx.feeds
    preds = inputs_of[nid]
    if len(preds) != 1 or len(consumers[preds[0]]) != 1:
        return f"the input gain {_fmt(factor)} can only be folded into a single Conv2d/Linear/Affine that feeds " \
            "only this neuron"
    prod = graph[feeds[preds[0]]]
    if not isinstance(prod, (Conv2d, Linear)):
        return f"the input gain {_fmt(factor)} can only be folded into a Conv2d/Linear/Affine before the neuron, " \
            f"not a {prod.kind}"
    n_out = prod.weight.shape[0]
    if factor.size == 1:
        per_out = np.full(n_out, float(factor.reshape(-1)[0]))
    elif isinstance(prod, Linear):
        per_out = factor.reshape(-1)
    else:
        per_ch = factor.reshape(n_out, -1)
        if not np.all(per_ch == per_ch[:, :1]):
            return f"the input gain varies within a channel ({_fmt(factor)}); a conv can only be scaled per " \
                "output channel"
        per_out = per_ch[:, 0]
    if per_out.size != n_out:
        return f"the input gain has {factor.size} values for {n_out} outputs of {prod.name}"
    prod.weight = prod.weight * per_out.reshape((-1,) + (1,) * (prod.weight.ndim - 1))
    if prod.bias is not None:
        prod.bias = prod.bias * per_out
    return None


def _fmt(a) -> str:
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return "[]"
    return f"{float(a.min()):g}" if a.min() == a.max() else f"{float(a.min()):g}..{float(a.max()):g}"
