"""The graph IR: typed nodes, a graph of them, shape inference, validation and a text dump.

Every node is a small dataclass holding numpy arrays (as NIR does); shapes of parameters are checked when a node is
built.  Activation shapes are ``(C, H, W)`` for maps and ``(N,)`` for vectors, never with a batch axis.

Semantics that frameworks disagree on are explicit fields, never guessed:

* ``IAF.reset``: ``"subtract"`` (V -= threshold) or ``"zero"`` (V = 0).
* ``IAF.spike_mode``: ``"single"`` (at most one spike per step / event) or ``"multi"`` (floor(V / threshold) spikes,
  sinabs' default).  The chip is single-spike per input event.
* ``IAF.threshold`` / ``threshold_low`` / ``v_init``: a 0-d array means one value for the whole layer; an array of the
  layer's output shape means per neuron.  ``threshold_low=None`` means "no floor given" (sinabs' ``min_v_mem=None``).
* ``LIF.dt`` and time constants: kept as given; the chip has no LIF (rule ``neuron_model``).

Node names are the user's own: the torch module path (``features.3``) or the NIR node id.  Diagnostics use them.
"""
from __future__ import annotations

import copy
import heapq
from dataclasses import dataclass
from typing import Iterable

import networkx as nx
import numpy as np

from .errors import SnncError
from .geometry import conv_output_size

Shape = tuple


def real_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array; SnncError naming ``name`` when it holds complex numbers, text or other objects
    (numpy would drop an imaginary part with only a warning, or fail with an error that names nothing)."""
    try:
        a = np.asarray(x)
    except (ValueError, TypeError, OverflowError) as e:
        raise SnncError(f"{name}: is not a numeric array ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                        "give real numbers") from None
    if a.dtype.kind == "c":
        raise SnncError(f"{name}: holds complex numbers; the chip takes real parameters: give real values (e.g. "
                        "the real part, if the imaginary part is 0 by intent)")
    if a.dtype.kind not in "biuf":
        raise SnncError(f"{name}: holds {a.dtype} values ({type(x).__name__}), not numbers; give real numbers")
    try:
        return a.astype(np.float64, copy=False)
    except (ValueError, TypeError, OverflowError) as e:  # pragma: no cover - numeric kinds convert
        raise SnncError(f"{name}: cannot be read as numbers ({e})") from None


def _not_empty(a: np.ndarray, name: str) -> None:
    if a.size == 0:
        raise SnncError(f"{name}: is empty (shape {list(a.shape)}); a layer needs at least one input and one output")


def _arr(x, name: str, ndim: int | None = None, dtype=np.float64) -> np.ndarray:
    a = real_array(x, name) if dtype is np.float64 else np.asarray(x, dtype=dtype)
    if ndim is not None and a.ndim != ndim:
        raise SnncError(f"{name}: expected a {ndim}-d array, got shape {a.shape}")
    return a


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    t = tuple(int(i) for i in np.asarray(v).reshape(-1))
    if len(t) == 1:
        return (t[0], t[0])
    if len(t) != 2:
        raise SnncError(f"{name}: expected one or two integers, got {v!r}")
    return t  # type: ignore[return-value]


class Role:
    """What a node is to the chip, read by grouping (``compiler/passes/group.py``) and the graph rules
    (``compiler/drc.py``) instead of checking node classes: a new node type that behaves like an existing one only
    sets ``role``.  (Float meaning is ``FLOAT_OPS`` in ``compiler/frontends/float_forward.py``.)"""

    INPUT = "input"              # the model input: events reach the cores unshifted
    OUTPUT = "output"            # the model output: a destination of the cores that feed it
    WEIGHT = "weight"            # a core's weights (Conv2d); with the one neuron after it, a chip layer
    NEURON = "neuron"            # the chip's integrate-and-fire neurons (IAF), right after a weight layer
    SUM_POOL = "sum_pool"        # pooling on the way to a destination (SumPool)
    AVG_POOL = "avg_pool"        # average pooling the passes could not turn into sum pooling: refused
    FLATTEN = "flatten"          # a reshape; spikes keep their coordinates
    PASS_THROUGH = "pass_through"  # spikes pass on unchanged (Add: several sources onto one destination)
    CONCAT = "concat"            # channel concatenation: a feature shift per source
    DVS = "dvs"                  # the DVS layer between the input and the first cores
    FOLD = "fold"                # must be folded into the weight layer before it (BatchNorm); left over: refused
    LEAKY_NEURON = "leaky_neuron"  # a neuron model the chip lacks (LIF): refused
    ACTIVATION = "activation"    # an ANN activation (ReLU): refused unless converted to IAF
    UNSUPPORTED = "unsupported"  # a layer snnc read but the chip cannot run (``Unsupported.rule`` says which rule)
    LOWERED = "lowered"          # rewritten into other nodes by the passes before grouping (Linear -> Conv2d)

    ALL = frozenset((INPUT, OUTPUT, WEIGHT, NEURON, SUM_POOL, AVG_POOL, FLATTEN, PASS_THROUGH, CONCAT, DVS, FOLD,
                     LEAKY_NEURON, ACTIVATION, UNSUPPORTED, LOWERED))


@dataclass
class Node:
    """Base of every node.  ``name`` is the user's layer name."""

    name: str

    kind = "node"
    #: what the node is to grouping and the rules (one of ``Role.ALL``); every node type sets its own
    role = None

    def out_shape(self, in_shapes: list[Shape]) -> Shape:  # pragma: no cover - overridden
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind

    def copy(self):
        """An independent copy (as ``copy.deepcopy``): numpy arrays copied, anything mutable deep-copied; the
        immutable fields (str, int, float, bool, None, tuples of those) shared."""
        new = copy.copy(self)
        for key, value in vars(new).items():
            if isinstance(value, np.ndarray):
                setattr(new, key, value.copy())
            elif not (value is None or isinstance(value, (str, int, float)) or (
                    type(value) is tuple and all(v is None or isinstance(v, (str, int, float)) for v in value))):
                setattr(new, key, copy.deepcopy(value))
        return new

    def _one_input(self, in_shapes: list[Shape]) -> Shape:
        if len(in_shapes) != 1:
            raise SnncError(f"{self.name}: {self.kind} takes one input, got {len(in_shapes)}")
        return tuple(in_shapes[0])


@dataclass
class Input(Node):
    shape: Shape = ()
    kind = "Input"
    role = Role.INPUT

    def __post_init__(self):
        self.shape = tuple(int(s) for s in self.shape)

    def out_shape(self, in_shapes):
        return self.shape

    def describe(self):
        return f"Input shape={list(self.shape)}"


@dataclass
class Output(Node):
    kind = "Output"
    role = Role.OUTPUT

    def out_shape(self, in_shapes):
        return self._one_input(in_shapes)


@dataclass
class Conv2d(Node):
    """Cross-correlation as torch does it. ``weight`` is ``[out, in/groups, kh, kw]``."""

    weight: np.ndarray = None
    bias: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    kind = "Conv2d"
    role = Role.WEIGHT

    def __post_init__(self):
        self.weight = _arr(self.weight, f"{self.name}.weight", 4)
        _not_empty(self.weight, f"{self.name}.weight")
        if self.bias is not None:
            self.bias = _arr(self.bias, f"{self.name}.bias", 1)
            if self.bias.shape[0] != self.weight.shape[0]:
                raise SnncError(f"{self.name}: bias has {self.bias.shape[0]} entries for {self.weight.shape[0]} outputs")
        self.stride = _pair(self.stride, f"{self.name}.stride")
        self.padding = _pair(self.padding, f"{self.name}.padding")
        self.dilation = _pair(self.dilation, f"{self.name}.dilation")
        self.groups = int(self.groups)

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1]) * self.groups

    @property
    def kernel_size(self) -> tuple[int, int]:
        return (int(self.weight.shape[2]), int(self.weight.shape[3]))

    def out_shape(self, in_shapes):
        s = self._one_input(in_shapes)
        if len(s) != 3:
            raise SnncError(f"{self.name}: Conv2d needs a (C, H, W) input, got {list(s)}")
        c, h, w = s
        if c != self.in_channels:
            raise SnncError(f"{self.name}: Conv2d expects {self.in_channels} input channels, the input has {c}")
        (kh, kw), (sy, sx), (py, px), (dy, dx) = self.kernel_size, self.stride, self.padding, self.dilation
        oh, ow = conv_output_size(h, kh, sy, py, dy), conv_output_size(w, kw, sx, px, dx)
        if oh < 1 or ow < 1:
            raise SnncError(f"{self.name}: Conv2d kernel {kh}x{kw} does not fit the {h}x{w} input")
        return (self.out_channels, oh, ow)

    def describe(self):
        o, i, kh, kw = self.weight.shape
        return (f"Conv2d {i * self.groups}->{o} k={kh}x{kw} s={self.stride} p={self.padding}"
                + (f" d={self.dilation}" if self.dilation != (1, 1) else "")
                + (f" groups={self.groups}" if self.groups != 1 else "")
                + (" +bias" if self.bias is not None else ""))


@dataclass
class Linear(Node):
    """``y = W x + b`` with ``weight`` ``[out, in]``; a (C, H, W) input is flattened in C, H, W order."""

    weight: np.ndarray = None
    bias: np.ndarray | None = None
    kind = "Linear"
    role = Role.LOWERED

    def __post_init__(self):
        self.weight = _arr(self.weight, f"{self.name}.weight", 2)
        _not_empty(self.weight, f"{self.name}.weight")
        if self.bias is not None:
            self.bias = _arr(self.bias, f"{self.name}.bias", 1)
            if self.bias.shape[0] != self.weight.shape[0]:
                raise SnncError(f"{self.name}: bias has {self.bias.shape[0]} entries for {self.weight.shape[0]} outputs")

    def out_shape(self, in_shapes):
        s = self._one_input(in_shapes)
        n = int(np.prod(s))
        if n != self.weight.shape[1]:
            raise SnncError(f"{self.name}: Linear expects {self.weight.shape[1]} inputs, the input {list(s)} has {n}")
        return (int(self.weight.shape[0]),)

    def describe(self):
        return f"Linear {self.weight.shape[1]}->{self.weight.shape[0]}" + (" +bias" if self.bias is not None else "")


@dataclass
class BatchNorm(Node):
    """Inference-mode batch norm over the channel axis: ``(x - mean) / sqrt(var + eps) * weight + bias``."""

    mean: np.ndarray = None
    var: np.ndarray = None
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    eps: float = 1e-5
    kind = "BatchNorm"
    role = Role.FOLD

    def __post_init__(self):
        self.mean = _arr(self.mean, f"{self.name}.mean", 1)
        self.var = _arr(self.var, f"{self.name}.var", 1)
        n = self.mean.shape[0]
        self.weight = np.ones(n) if self.weight is None else _arr(self.weight, f"{self.name}.weight", 1)
        self.bias = np.zeros(n) if self.bias is None else _arr(self.bias, f"{self.name}.bias", 1)
        for a in (self.var, self.weight, self.bias):
            if a.shape[0] != n:
                raise SnncError(f"{self.name}: BatchNorm parameters disagree in length")
        self.eps = float(self.eps)

    def out_shape(self, in_shapes):
        s = self._one_input(in_shapes)
        if s[0] != self.mean.shape[0]:
            raise SnncError(f"{self.name}: BatchNorm has {self.mean.shape[0]} channels, the input has {s[0]}")
        return s

    def describe(self):
        return f"BatchNorm {self.mean.shape[0]} eps={self.eps:g}"


@dataclass
class _Pool(Node):
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] | None = None
    padding: tuple[int, int] = (0, 0)

    def __post_init__(self):
        self.kernel = _pair(self.kernel, f"{self.name}.kernel")
        self.stride = self.kernel if self.stride is None else _pair(self.stride, f"{self.name}.stride")
        self.padding = _pair(self.padding, f"{self.name}.padding")

    def out_shape(self, in_shapes):
        s = self._one_input(in_shapes)
        if len(s) != 3:
            raise SnncError(f"{self.name}: {self.kind} needs a (C, H, W) input, got {list(s)}")
        c, h, w = s
        (kh, kw), (sy, sx), (py, px) = self.kernel, self.stride, self.padding
        return (c, conv_output_size(h, kh, sy, py), conv_output_size(w, kw, sx, px))

    def describe(self):
        return f"{self.kind} k={self.kernel} s={self.stride}" + (f" p={self.padding}" if self.padding != (0, 0) else "")


@dataclass
class SumPool(_Pool):
    kind = "SumPool"
    role = Role.SUM_POOL


@dataclass
class AvgPool(_Pool):
    kind = "AvgPool"
    role = Role.AVG_POOL


@dataclass
class Flatten(Node):
    kind = "Flatten"
    role = Role.FLATTEN

    def out_shape(self, in_shapes):
        return (int(np.prod(self._one_input(in_shapes))),)


@dataclass
class IAF(Node):
    """Integrate-and-fire neuron (the chip's neuron).

    ``bias``: none here -- biases belong to the conv/linear before the neuron (on the chip they become leak).
    """

    threshold: np.ndarray = 1.0
    threshold_low: np.ndarray | None = None
    reset: str = "subtract"
    spike_mode: str = "single"
    v_init: np.ndarray | None = None
    kind = "IAF"
    role = Role.NEURON

    def __post_init__(self):
        self.threshold = real_array(self.threshold, f"{self.name}.threshold")
        if self.threshold_low is not None:
            self.threshold_low = real_array(self.threshold_low, f"{self.name}.threshold_low")
        if self.v_init is not None:
            self.v_init = real_array(self.v_init, f"{self.name}.v_init")
        if self.reset not in ("subtract", "zero"):
            raise SnncError(f"{self.name}: reset must be 'subtract' or 'zero', got {self.reset!r}")
        if self.spike_mode not in ("single", "multi"):
            raise SnncError(f"{self.name}: spike_mode must be 'single' or 'multi', got {self.spike_mode!r}")

    @property
    def per_neuron(self) -> bool:
        """True when any neuron parameter is given per neuron rather than once for the layer."""
        return self.threshold.ndim > 0 or (self.threshold_low is not None and self.threshold_low.ndim > 0)

    def out_shape(self, in_shapes):
        return self._one_input(in_shapes)

    def describe(self):
        def fmt(a):
            if a is None:
                return "None"
            a = np.asarray(a)
            if a.ndim == 0:
                return f"{float(a):g}"
            lo, hi = float(a.min()), float(a.max())
            return f"per-neuron[{lo:g}..{hi:g}]" if lo != hi else f"per-neuron[{lo:g}]"
        return (f"IAF threshold={fmt(self.threshold)} threshold_low={fmt(self.threshold_low)} "
                f"reset={self.reset} spikes={self.spike_mode}")


@dataclass
class LIF(Node):
    """Leaky integrate-and-fire; kept so that it can be named in an error (Speck has no LIF)."""

    tau_mem: np.ndarray = 1.0
    threshold: np.ndarray = 1.0
    threshold_low: np.ndarray | None = None
    reset: str = "subtract"
    spike_mode: str = "single"
    dt: float | None = None
    kind = "LIF"
    role = Role.LEAKY_NEURON

    def __post_init__(self):
        self.tau_mem = real_array(self.tau_mem, f"{self.name}.tau_mem")
        self.threshold = real_array(self.threshold, f"{self.name}.threshold")

    def out_shape(self, in_shapes):
        return self._one_input(in_shapes)

    def describe(self):
        return f"LIF tau_mem={np.asarray(self.tau_mem).reshape(-1)[:1]} dt={self.dt}"


@dataclass
class ReLU(Node):
    """An ANN activation; ``--convert-ann`` turns it into IAF(threshold 1, subtract)."""

    kind = "ReLU"
    role = Role.ACTIVATION

    def out_shape(self, in_shapes):
        return self._one_input(in_shapes)


@dataclass
class Add(Node):
    """Element-wise sum of its inputs (residual merge).  On the chip: several cores target one destination."""

    kind = "Add"
    role = Role.PASS_THROUGH

    def out_shape(self, in_shapes):
        if len(in_shapes) < 2:
            raise SnncError(f"{self.name}: Add needs at least two inputs")
        shapes = {tuple(s) for s in in_shapes}
        if len(shapes) != 1:
            raise SnncError(f"{self.name}: Add inputs have different shapes {sorted(shapes)}")
        return tuple(in_shapes[0])


@dataclass
class Concat(Node):
    """Concatenation of its inputs along the channel axis (``torch.cat(..., dim=1)``): (C_i, H, W) maps with equal
    H, W give (sum C_i, H, W); vectors (N_i,) give (sum N_i,).  On the chip: each input's destination carries a
    ``feature_shift`` of the channels before it (``passes/group.py``)."""

    kind = "Concat"
    role = Role.CONCAT

    def out_shape(self, in_shapes):
        if len(in_shapes) < 2:
            raise SnncError(f"{self.name}: Concat needs at least two inputs")
        rest = {tuple(s[1:]) for s in in_shapes}
        if len(rest) != 1 or any(len(s) not in (1, 3) for s in in_shapes):
            raise SnncError(f"{self.name}: concatenated inputs must agree in all but the channel axis, got "
                            f"{[list(s) for s in in_shapes]}")
        return (sum(int(s[0]) for s in in_shapes),) + tuple(in_shapes[0][1:])

    def offsets(self, in_shapes) -> list[int]:
        """The first channel of each input in the output."""
        out, k = [], 0
        for s in in_shapes:
            out.append(k)
            k += int(s[0])
        return out


@dataclass
class DVS(Node):
    """The chip's DVS pre-processing layer, between the events (sensor or host) and the first cores.

    Order (docs/speck.md §8): polarity select (``on_channel`` / ``off_channel``) and ``merge`` -> sum pooling per
    axis (``pooling`` = (y, x), each 1, 2 or 4 on Speck) -> region of interest ``origin`` .. ``cut`` (both (y, x),
    in pooled coordinates, ``cut`` inclusive; None = the whole pooled map), shifted back to 0, 0 -> ``mirror_x`` /
    ``mirror_y`` within the region -> ``mirror_diagonal`` (swap x and y).  ``pass_sensor_events``: the sensor's
    own events enter (sinabs' ``not disable_pixel_array``); host events always do.  The input is (C, H, W) events
    with C = 1 or 2 polarities; the output has 1 channel when merged, else C.
    """

    pooling: tuple[int, int] = (1, 1)
    origin: tuple[int, int] | None = None
    cut: tuple[int, int] | None = None
    mirror_x: bool = False
    mirror_y: bool = False
    mirror_diagonal: bool = False
    merge: bool = False
    on_channel: bool = True
    off_channel: bool = True
    pass_sensor_events: bool = True
    kind = "DVS"
    role = Role.DVS

    def __post_init__(self):
        self.pooling = _pair(self.pooling, f"{self.name}.pooling")
        if self.origin is not None:
            self.origin = _pair(self.origin, f"{self.name}.origin")
        if self.cut is not None:
            self.cut = _pair(self.cut, f"{self.name}.cut")

    def pooled_size(self, in_shape) -> tuple[int, int]:
        return (int(in_shape[1]) // self.pooling[0], int(in_shape[2]) // self.pooling[1])

    def region(self, in_shape) -> tuple[tuple[int, int], tuple[int, int]]:
        """(origin, cut), each (y, x), in pooled coordinates; cut inclusive."""
        h, w = self.pooled_size(in_shape)
        origin = self.origin or (0, 0)
        cut = self.cut or (h - 1, w - 1)
        return origin, cut

    def out_shape(self, in_shapes):
        s = self._one_input(in_shapes)
        if len(s) != 3 or s[0] not in (1, 2):
            raise SnncError(f"{self.name}: the DVS layer takes events with 1 or 2 polarity channels, (C, H, W); "
                            f"got {list(s)}")
        if min(self.pooling) < 1:
            raise SnncError(f"{self.name}: DVS pooling {self.pooling} must be positive")
        (oy, ox), (cy, cx) = self.region(s)
        h, w = self.pooled_size(s)
        if not (0 <= oy <= cy and 0 <= ox <= cx):
            raise SnncError(f"{self.name}: DVS region origin (x {ox}, y {oy}) .. cut (x {cx}, y {cy}) is empty or "
                            "negative; the cut is the inclusive bottom-right corner")
        if cy >= h or cx >= w:
            raise SnncError(f"{self.name}: DVS region cut (x {cx}, y {cy}) lies outside the {w}x{h} (pooled) input")
        c = 1 if self.merge else s[0]
        rh, rw = cy - oy + 1, cx - ox + 1
        return (c, rw, rh) if self.mirror_diagonal else (c, rh, rw)

    def describe(self):
        parts = [f"DVS pool={self.pooling}"]
        if self.origin is not None or self.cut is not None:
            parts.append(f"roi={self.origin}..{self.cut}")
        for flag in ("mirror_x", "mirror_y", "mirror_diagonal", "merge"):
            if getattr(self, flag):
                parts.append(flag)
        if not (self.on_channel and self.off_channel):
            parts.append("on" if self.on_channel else "off")
        return " ".join(parts)


@dataclass
class Unsupported(Node):
    """A layer the frontend understood the name of but the chip cannot run (rule ``unsupported_layer``).

    ``shape``: its output shape when the frontend could find it out; without it the input shape passes through (so
    that a MaxPool2d, which changes the shape, does not make the *next* layer fail with a misleading message).
    """

    op: str = ""
    detail: str = ""
    shape: tuple | None = None
    #: the rule that reports it: ``unsupported_layer`` (a layer kind the chip lacks) or ``neuron_model`` (a neuron
    #: whose dynamics the chip's cannot reproduce; then ``hint`` and ``measured`` say what to change)
    rule: str = "unsupported_layer"
    hint: str = ""
    measured: object = None
    kind = "Unsupported"
    role = Role.UNSUPPORTED

    def __post_init__(self):
        if self.shape is not None:
            self.shape = tuple(int(s) for s in self.shape)

    def out_shape(self, in_shapes):
        if self.shape is not None:
            return self.shape
        return tuple(in_shapes[0]) if len(in_shapes) == 1 else ()

    def describe(self):
        return f"Unsupported {self.op}" + (f" ({self.detail})" if self.detail else "")


class Graph:
    """A directed graph of nodes on networkx.  Node keys are the nodes' names.

    Edges carry an ``index`` attribute: the position of the source among the destination's inputs.
    """

    def __init__(self, name: str = "model"):
        self.name = name
        self.g = nx.DiGraph()
        self.meta: dict = {}  # source file, format, hash ...

    # -- building ---------------------------------------------------------------------------------------------
    def add(self, node: Node, inputs: Iterable[str] = ()) -> Node:
        if node.name in self.g:
            raise SnncError(f"two layers are named {node.name!r}")
        self.g.add_node(node.name, op=node)
        for i, src in enumerate(inputs):
            self.connect(src, node.name, i)
        return node

    def connect(self, src: str, dst: str, index: int | None = None) -> None:
        if src not in self.g or dst not in self.g:
            missing = src if src not in self.g else dst
            raise SnncError(f"edge names an unknown layer {missing!r}")
        if index is None:
            index = self.g.in_degree(dst)
        self.g.add_edge(src, dst, index=index)

    def remove(self, name: str, rewire: bool = True) -> None:
        """Remove a single-input node; its consumers take its input instead (when ``rewire``)."""
        preds = self.predecessors(name)
        succs = [(s, self.g.edges[name, s]["index"]) for s in self.g.successors(name)]
        self.g.remove_node(name)
        if rewire:
            if len(preds) != 1 and succs:
                raise SnncError(f"cannot bypass {name!r}: it has {len(preds)} inputs")
            for s, idx in succs:
                self.g.add_edge(preds[0], s, index=idx)

    def replace(self, name: str, node: Node) -> None:
        """Put ``node`` in place of the node called ``name`` (same name or a new one), keeping its edges."""
        if node.name == name:
            self.g.nodes[name]["op"] = node
            return
        preds = [(p, self.g.edges[p, name]["index"]) for p in self.g.predecessors(name)]
        succs = [(s, self.g.edges[name, s]["index"]) for s in self.g.successors(name)]
        self.g.remove_node(name)
        self.g.add_node(node.name, op=node)
        for p, i in preds:
            self.g.add_edge(p, node.name, index=i)
        for s, i in succs:
            self.g.add_edge(node.name, s, index=i)

    def copy(self) -> "Graph":
        new = Graph(self.name)
        new.meta = copy.deepcopy(self.meta)
        new.g.add_nodes_from((n, {"op": data["op"].copy()}) for n, data in self.g.nodes(data=True))
        new.g.add_edges_from((a, b, dict(d)) for a, b, d in self.g.edges(data=True))
        return new

    # -- reading ----------------------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Node:
        return self.g.nodes[name]["op"]

    def __contains__(self, name: str) -> bool:
        return name in self.g

    def __len__(self) -> int:
        return self.g.number_of_nodes()

    def node_names(self) -> list[str]:
        """Names in a deterministic topological order (ties broken by insertion order); insertion order when the
        graph has a loop."""
        order = self._topological_order()
        return order if order is not None else list(self.g.nodes)

    def _topological_order(self) -> list[str] | None:
        """Kahn's algorithm taking, among the nodes whose inputs are all placed, the one inserted first (what
        ``nx.lexicographical_topological_sort`` with the insertion index as key gives); None when there is a loop.
        Remembered for the graph's structure as it was (nodes in order, each one's edges), so that the many calls
        between two edits cost one look at the structure."""
        g = self.g
        succ = g.succ
        key = tuple((n, tuple(succ[n])) for n in g)  # the whole structure: nodes in order, their edges
        cached = getattr(self, "_order_cache", None)
        if cached is not None and cached[0] == key:
            return None if cached[1] is None else list(cached[1])
        rank = {n: i for i, n in enumerate(g)}
        waiting = dict(g.in_degree())
        ready = [(rank[n], n) for n, k in waiting.items() if k == 0]
        heapq.heapify(ready)
        out = []
        while ready:
            _, n = heapq.heappop(ready)
            out.append(n)
            for s in succ[n]:
                waiting[s] -= 1
                if not waiting[s]:
                    heapq.heappush(ready, (rank[s], s))
        order = out if len(out) == len(rank) else None
        self._order_cache = (key, None if order is None else tuple(order))
        return order

    def nodes(self) -> list[Node]:
        return [self[n] for n in self.node_names()]

    def predecessors(self, name: str) -> list[str]:
        preds = list(self.g.predecessors(name))
        return sorted(preds, key=lambda p: self.g.edges[p, name]["index"])

    def successors(self, name: str) -> list[str]:
        return list(self.g.successors(name))

    def inputs(self) -> list[str]:
        return [n for n in self.node_names() if isinstance(self[n], Input)]

    def outputs(self) -> list[str]:
        return [n for n in self.node_names() if isinstance(self[n], Output)]

    def cycles(self) -> list[list[str]]:
        if self._topological_order() is not None:  # no loop (and much faster to find out)
            return []
        return [c for c in nx.simple_cycles(self.g)]

    # -- analysis ---------------------------------------------------------------------------------------------
    def infer_shapes(self) -> dict[str, Shape]:
        """Output shape of every node, in topological order.  Raises SnncError naming the first bad layer."""
        order = self._topological_order()
        if order is None:
            raise SnncError(f"the graph has a loop through {self.cycles()[0]}; recurrent models are not supported")
        shapes: dict[str, Shape] = {}
        for n in order:
            ins = [shapes[p] for p in self.predecessors(n)]
            shapes[n] = tuple(int(s) for s in self[n].out_shape(ins))
        return shapes

    def validate(self) -> dict[str, Shape]:
        """Check structure (one Input at least, every node reachable, arities) and shapes; return the shapes."""
        if not self.inputs():
            raise SnncError("the graph has no Input node")
        for n in self.g.nodes:
            op = self[n]
            k = self.g.in_degree(n)
            if isinstance(op, Input) and k:
                raise SnncError(f"{n}: an Input node cannot have inputs")
            if not isinstance(op, (Input, Add, Concat)) and k != 1 and not isinstance(op, Unsupported):
                raise SnncError(f"{n}: {op.kind} needs exactly one input, it has {k}")
        reach = set()
        for i in self.inputs():
            reach |= nx.descendants(self.g, i) | {i}
        dangling = [n for n in self.g.nodes if n not in reach]
        if dangling:
            raise SnncError(f"layers not reachable from the input: {', '.join(dangling)}")
        return self.infer_shapes()

    def dump(self) -> str:
        """A readable listing: one line per node with its inputs and output shape."""
        try:
            shapes = self.infer_shapes()
        except SnncError:
            shapes = {}
        lines = [f"graph {self.name}: {len(self)} nodes"]
        width = max((len(n) for n in self.g.nodes), default=4)
        for n in self.node_names():
            ins = ", ".join(self.predecessors(n)) or "-"
            shp = list(shapes[n]) if n in shapes else "?"
            lines.append(f"  {n:<{width}}  {self[n].describe():<52} <- {ins:<16} -> {shp}")
        return "\n".join(lines)


def sequential(nodes: list[Node], name: str = "model") -> Graph:
    """Build a chain graph from a list of nodes (the first should be an Input).  Handy in tests and frontends."""
    g = Graph(name)
    prev = None
    for node in nodes:
        g.add(node, [prev] if prev is not None else [])
        prev = node.name
    return g
