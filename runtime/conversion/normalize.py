"""Data-based normalization: from a folded ANN graph and its calibration activations to the chip's integers.

The method is Rueckauer et al., "Conversion of continuous-valued deep networks to efficient event-driven networks
for image classification", Frontiers in Neuroscience 11:682 (2017): every ReLU layer ``l`` gets an activation scale
``lam_l``, a high percentile of its positive activations on calibration data, and its weight layer is rescaled so a
neuron at ``lam_l`` fires at the input's full rate:

    W'_l = W_l * lam_(l-1) / lam_l,      b'_l = b_l / lam_l          (lam of the input = 1: 1.0 fires at max-rate)

On the chip the threshold is an integer ``theta_l`` and the weights are int8: ``w = round(W'_l * theta_l)``, with
``theta_l`` as large as keeps the largest |W'_l| within 127 (so no weight is clipped and the int8 range is used in
full), at most 16383 (so the int16 state has room above the threshold).  Neurons start at ``theta_l // 2`` (the
rounding of spike counts is then to nearest, not down; :mod:`.convert` then corrects each neuron's start on the
simulated chip) and are floored at -32768 (``floor=None``) or ``-theta_l * floor``.  ``scale`` (0.5 by default)
multiplies every layer's percentile: a chip neuron may fire faster than the input, and more spikes round finer.

The logits get an integrate-and-fire output layer of their own, scaled like the others by ``gain`` x their
percentile (more output spikes, fewer ties).  Layers meeting at a residual sum share one scale (the larger).

Biases: on the chip a bias is a leak added on every slow-clock tick.  With the slow clock at ``f`` Hz and the
input at ``R`` Hz for a value of 1.0, the leak per tick is ``b'_l * theta_l * R / f``: the drift a value ``b'_l``
causes in units of input spikes, spread over the ticks.  The other option is to drop the biases.  :mod:`.convert`
measures both on the calibration data and keeps the better one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnc.compiler.errors import SnncError
from snnc.compiler.ir import IAF, Add, Conv2d, Flatten, Graph, Input, Linear, Output, ReLU, SumPool

WEIGHT = (Conv2d, Linear)
PASS_THROUGH = (SumPool, Flatten, Add)
MAX_THRESHOLD = 16383
SLOW_CLOCK_RANGE = (10.0, 10_000.0)  # Hz; docs/speck.md §6: "10 Hz - 10 kHz typical"


@dataclass
class Choice:
    """The knobs the calibration search turns."""

    percentile: float = 99.9
    bias: str = "leak"  # "leak", "strip", or "refit" (the graph is refit.refit_biases' student; biases as leak)
    gain: float = 1.0  # output layer's scale = gain x its percentile
    scale: float = 0.5  # every layer's scale = scale x its percentile (below 1: more spikes)
    floor: float | None = None  # threshold_low = -floor x threshold; None: the lowest the chip holds
    half_init: bool = True

    def label(self) -> str:
        return (f"p{self.percentile:g} bias={self.bias} out-gain={self.gain:g} floor={self.floor}"
                + ("" if self.half_init else " init=0"))


@dataclass
class Structure:
    """Which node is which in a folded ANN graph."""

    weights: list  # weight node names, in order
    neuron_of: dict  # weight node -> its ReLU node, or None for the logits layer
    sources: dict  # weight node -> the spike sources (ReLU names or the Input name) it reads
    groups: dict  # ReLU name -> group id (ReLUs meeting at an Add share a scale)
    logits: str  # the weight node producing the logits
    has_bias: bool = False


def analyse(graph: Graph) -> Structure:
    """Find each weight layer's neuron and spike sources; refuse structures the chip cannot sum."""
    names = graph.node_names()
    weights = [n for n in names if isinstance(graph[n], WEIGHT)]
    if not weights:
        raise SnncError("the ANN has no Conv2d or Linear layer: nothing to convert")
    neuron_of, sources = {}, {}
    for w in weights:
        succ = graph.successors(w)
        if len(succ) == 1 and isinstance(graph[succ[0]], ReLU):
            neuron_of[w] = succ[0]
        elif len(succ) == 1 and isinstance(graph[succ[0]], Output):
            neuron_of[w] = None
        else:
            what = ", ".join(f"{s} ({graph[s].kind})" for s in succ) or "nothing"
            raise SnncError(f"{w}: a weight layer must be followed by a ReLU (or be the last layer, giving the "
                            f"logits), but it feeds {what}; on the chip each core's neurons fire on their own sum, "
                            "so residual sums must add ReLU outputs, not pre-activations")
        srcs, stack, seen = [], list(graph.predecessors(w)), set()
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            node = graph[s]
            if isinstance(node, (ReLU, Input)):
                srcs.append(s)
            elif isinstance(node, PASS_THROUGH):
                stack.extend(graph.predecessors(s))
            else:
                raise SnncError(f"{w}: its input comes from {s} ({node.kind}) without a ReLU in between; two weight "
                                "layers in a row cannot be separate chip cores; put a ReLU between them or merge them")
        sources[w] = sorted(srcs)
    logits = [w for w in weights if neuron_of[w] is None]
    if len(logits) > 1:
        raise SnncError(f"{', '.join(logits)}: only the last weight layer may lack a ReLU")
    if not logits:  # the last layer already has a ReLU: its neurons are the output layer
        last = weights[-1]
        logits = [last]
    # residual sums: the ReLUs whose spikes meet share a scale
    parent: dict = {}

    def find(a):
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for name in names:
        if isinstance(graph[name], Add):
            srcs, stack = [], list(graph.predecessors(name))
            while stack:
                s = stack.pop()
                if isinstance(graph[s], (ReLU, Input)):
                    srcs.append(s)
                else:
                    stack.extend(graph.predecessors(s))
            if any(isinstance(graph[s], Input) for s in srcs):
                raise SnncError(f"{name}: a residual sum that adds the network's input is not supported; add the "
                                "outputs of ReLU layers")
            for s in srcs[1:]:
                parent[find(s)] = find(srcs[0])
    groups = {graph.successors(w)[0] if neuron_of[w] else w: None for w in weights}
    groups = {r: find(r) for r in groups}
    has_bias = any(graph[w].bias is not None and np.any(graph[w].bias) for w in weights)
    return Structure(weights, neuron_of, sources, groups, logits[0], has_bias)


def act_node(st: Structure, w: str) -> str:
    """The node whose ANN output a weight layer's neurons stand for: its ReLU, or itself for the logits."""
    return st.neuron_of[w] or w


def percentiles(acts: dict, qs) -> dict:
    """``{node: {q: value}}``: the q-th percentile of each node's positive activations (when none is positive:
    the largest |activation|, or 1)."""
    out = {}
    for name, a in acts.items():
        pos = a[a > 0]
        if pos.size:
            out[name] = {q: float(np.percentile(pos, q)) for q in qs}
        else:
            top = float(np.max(np.abs(a))) if a.size else 0.0
            out[name] = {q: top if top > 0 else 1.0 for q in qs}
    return out


@dataclass
class LayerInt:
    """One weight layer's chip numbers and the figures the report shows."""

    name: str
    scale: float  # lam of the layer's output (the activation that fires at the full rate)
    input_scale: float
    threshold: int
    threshold_low: int
    weight: np.ndarray
    bias: np.ndarray | None
    v_init: object  # the initial state: one integer, or per channel / per neuron
    report: dict = field(default_factory=dict)


def integer_layers(graph: Graph, st: Structure, pct: dict, choice: Choice, encoding: dict) -> tuple[dict, float]:
    """``({weight node: LayerInt}, slow_clock_hz)`` for one choice of knobs."""
    lam: dict = {}
    for w in st.weights:
        a = act_node(st, w)
        lam[a] = pct[a][choice.percentile] * choice.scale * (choice.gain if w == st.logits else 1.0)
    # shared scales at residual sums
    for g in set(st.groups.values()):
        members = [r for r, gg in st.groups.items() if gg == g and r in lam]
        if len(members) > 1:
            top = max(lam[r] for r in members)
            for r in members:
                lam[r] = top
    rate = float(encoding["max_rate_hz"])
    slow = float(np.clip(rate, *SLOW_CLOCK_RANGE))
    out = {}
    for w in st.weights:
        node = graph[w]
        srcs = st.sources[w]
        lam_in = max(lam.get(s, 1.0) if not isinstance(graph[s], Input) else 1.0 for s in srcs)
        lam_out = lam[act_node(st, w)]
        wn = np.asarray(node.weight, dtype=np.float64) * (lam_in / lam_out)
        top = float(np.max(np.abs(wn))) if wn.size else 0.0
        theta = int(np.clip(np.floor(127.0 / top) if top > 0 else MAX_THRESHOLD, 1, MAX_THRESHOLD))
        wq_raw = np.round(wn * theta)
        wq = np.clip(wq_raw, -128, 127).astype(np.int64)
        nz = np.count_nonzero(wn)
        bias = None
        bias_clipped = 0
        if node.bias is not None and np.any(node.bias) and choice.bias in ("leak", "refit"):
            braw = np.round(np.asarray(node.bias, dtype=np.float64) / lam_out * theta * rate / slow)
            bias = np.clip(braw, -32768, 32767).astype(np.int64)
            bias_clipped = int(np.count_nonzero(bias != braw))
            if not np.any(bias):
                bias = None
        low = -32768 if choice.floor is None else int(max(-32768, -round(choice.floor * theta)))
        if low == 0:
            low = -1
        li = LayerInt(w, lam_out, lam_in, theta, low, wq, bias, theta // 2 if choice.half_init else 0)
        li.report = {
            "layer": w, "activation_scale": lam_out, "input_scale": lam_in, "percentile": choice.percentile,
            "threshold": theta, "threshold_low": low, "weight_scale": theta * lam_in / lam_out,
            "clipped_weights": float(np.count_nonzero(wq != wq_raw) / wq.size) if wq.size else 0.0,
            "zeroed_weights": float(np.count_nonzero((wn != 0) & (wq == 0)) / nz) if nz else 0.0,
            "bias": ("leak" if bias is not None else ("stripped" if node.bias is not None and np.any(node.bias)
                                                       else "none")),
            "clipped_biases": bias_clipped,
        }
        out[w] = li
    return out, slow


def _state(li: LayerInt, shape) -> np.ndarray | None:
    """The layer's initial state, one integer per neuron (``li.v_init``: a number, per channel or per neuron)."""
    v = np.asarray(li.v_init, dtype=np.float64)
    if v.size == int(np.prod(shape)):
        v = v.reshape(shape)
    elif v.ndim == 1 and len(shape) > 1:
        v = v.reshape((-1,) + (1,) * (len(shape) - 1))
    v = np.clip(np.round(np.broadcast_to(v, shape)), max(li.threshold_low, -32768), 32767)
    return v if np.any(v) else None


def spiking_graph(graph: Graph, st: Structure, ints: dict) -> Graph:
    """The folded ANN graph with integer weights and IAF neurons (plus an IAF after the logits)."""
    g = graph.copy()
    shapes = graph.infer_shapes()
    for w, li in ints.items():
        node = g[w].copy()
        node.weight = li.weight.astype(np.float64)
        node.bias = None if li.bias is None else li.bias.astype(np.float64)
        g.replace(w, node)
        iaf = IAF(st.neuron_of[w] or f"{w}.spk", threshold=float(li.threshold), threshold_low=float(li.threshold_low),
                  reset="subtract", spike_mode="single",
                  v_init=_state(li, shapes[w]))
        if st.neuron_of[w]:
            g.replace(st.neuron_of[w], iaf)
        else:
            (out,) = g.successors(w)
            g.remove(out, rewire=True)
            g.add(iaf, [w])
            g.add(Output(out), [iaf.name])
    return g
