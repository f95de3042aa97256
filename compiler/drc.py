"""Design-rule checks: one small function per hardware rule, each naming the rule, the user's layer, the measured
value and the limit, with a hint that would fix it.  All rules run; every violation is reported at once.

Rule ids are stable; all of them, with their severity and where each is checked, are in ``compiler/rules.py``.
The numbers come from the target table (``snnc.targets.speck``).  The graph rules tell nodes apart by their
``role`` (``compiler.ir.Role``), never by their class.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .chip import OUTPUT, ChipLayer, ChipModel
from .errors import Diagnostics
from .ir import Graph, Role
from .memory import bias_memory, kernel_memory, neuron_memory
from .rules import RULE_IDS  # noqa: F401  (the one list; re-exported for scripts that import it here)


# ---------------------------------------------------------------------------------------------------------------
# graph rules: what cannot even become a chip layer
# ---------------------------------------------------------------------------------------------------------------
def rule_recurrence(graph: Graph, target, d: Diagnostics) -> None:
    for cycle in graph.cycles():
        d.error("recurrence", cycle[0], f"recurrent loop {' -> '.join(cycle + [cycle[0]])}",
                "Speck can deadlock on recurrent connections; unroll the recurrence or remove the feedback edge",
                measured=len(cycle), limit=0)


def rule_unsupported_layer(graph: Graph, target, d: Diagnostics) -> None:
    for name in graph.node_names():
        node = graph[name]
        if node.role == Role.UNSUPPORTED and node.rule == "neuron_model":
            continue  # reported by rule_neuron_model
        if node.role == Role.UNSUPPORTED:
            d.error("unsupported_layer", name, f"{node.op} cannot run on {target.name}"
                    + (f" ({node.detail})" if node.detail else ""),
                    "Speck cores compute Conv2d/Linear -> IAF -> sum pooling; replace it (e.g. MaxPool2d by "
                    "SumPool2d or AvgPool2d) or remove it", measured=node.op,
                    limit=["Conv2d", "Linear", "BatchNorm", "AvgPool2d", "SumPool2d", "Flatten", "IAF", "Add",
                           "DVSLayer"])
        elif node.role == Role.FOLD:
            d.error("unsupported_layer", name, "BatchNorm does not follow a Conv2d/Linear that feeds only it, so it "
                    "cannot be folded into weights", "put the BatchNorm directly after a conv or linear layer",
                    measured="BatchNorm", limit="after Conv2d/Linear")


#: what may follow a weight layer without ``rule_neuron_model`` reporting the weight layer itself (anything but the
#: chip's neuron is reported at the node that follows)
_AFTER_WEIGHT = frozenset((Role.NEURON, Role.LEAKY_NEURON, Role.ACTIVATION, Role.UNSUPPORTED, Role.FOLD))


def rule_neuron_model(graph: Graph, target, d: Diagnostics) -> None:
    for name in graph.node_names():
        node = graph[name]
        if node.role == Role.UNSUPPORTED and node.rule == "neuron_model":
            d.error("neuron_model", name, f"{node.op} neurons cannot run on {target.name}: {node.detail}",
                    node.hint or "use integrate-and-fire neurons (IAF / NIR IF)", measured=node.measured or node.op,
                    limit="IAF (no leak; reset to zero or subtract; fires at v >= threshold)")
        elif node.role == Role.LEAKY_NEURON:
            d.error("neuron_model", name, f"LIF neurons (tau_mem {float(np.max(node.tau_mem)):g}) do not exist on "
                    f"{target.name}: its neurons are integrate-and-fire", "replace LIF by sinabs IAF/IAFSqueeze and "
                    "fine-tune, or train with `snnc train`", measured="LIF", limit="IAF")
        elif node.role == Role.ACTIVATION:
            d.error("neuron_model", name, "ReLU: this is an ANN layer, not a spiking neuron",
                    "pass --convert-ann to turn each ReLU into an IAF neuron (threshold 1, subtract reset)",
                    measured="ReLU", limit="IAF")
        elif node.role == Role.WEIGHT:
            succ = graph.successors(name)
            kinds = [graph[s] for s in succ]
            if len(succ) == 1 and kinds[0].role in _AFTER_WEIGHT:
                continue
            what = ", ".join(f"{s} ({graph[s].kind})" for s in succ) or "nothing"
            d.error("neuron_model", name, f"weight layer is followed by {what}, not by one spiking layer",
                    "each Conv2d/Linear must feed exactly one IAF layer (a core computes conv -> neurons)",
                    measured=len(succ), limit=1)
        elif node.role == Role.NEURON:
            (pred,) = graph.predecessors(name) or [None]
            if pred is None or graph[pred].role != Role.WEIGHT:
                pk = graph[pred].kind if pred else "nothing"
                d.error("neuron_model", name, f"spiking layer follows {pk}, not a weight layer",
                        "put a Conv2d or Linear before every spiking layer", measured=pk, limit="Conv2d/Linear")


def rule_threshold_shared(graph: Graph, target, d: Diagnostics) -> None:
    for name in graph.node_names():
        node = graph[name]
        if node.role != Role.NEURON:
            continue
        for attr in ("threshold", "threshold_low"):
            a = getattr(node, attr)
            if a is not None and a.ndim > 0 and a.size > 1 and not np.all(a == a.reshape(-1)[0]):
                d.error("threshold_shared", name, f"{attr} differs between neurons ({float(a.min()):g} .. "
                        f"{float(a.max()):g}); {target.name} has one {attr} per layer",
                        f"use one {attr} for the whole layer (e.g. fold per-channel scales into the weights)",
                        measured=[float(a.min()), float(a.max())], limit="one value per layer")


def rule_spike_mode(chip: ChipModel, target, d: Diagnostics) -> None:
    """MultiSpike layers (sinabs' default) emit floor(V / threshold) spikes per step in software; the chip emits at
    most one per input event.  The two agree while no single weight exceeds the threshold (then V stays below twice
    the threshold after any one event), so warn only about layers where a weight does."""
    bad = [layer.name for layer in chip.layers
           if layer.spike_mode == "multi" and layer.threshold_high > 0 and layer.weight.max() > layer.threshold_high]
    if bad:
        d.warning("spike_mode", ", ".join(bad), "these layers emit several spikes per step in simulation "
                  "(MultiSpike) and have weights above the threshold; the chip emits at most one spike per input "
                  "event, so it will fire less", "keep weights below the threshold (the default clipping does) or "
                  "train with SingleSpike", measured="multi", limit="single")


def rule_input_pooling(graph: Graph, target, d: Diagnostics, chip: ChipModel, dvs_input: bool = False) -> None:
    """Pooling between the input and the first cores: the DVS layer does it (absorbed into its per-axis pooling by
    ``absorb_dvs_pooling``); what is left here could not be absorbed."""
    pools = chip.meta.get("input_pool_names") or []
    if not pools:
        return
    p = chip.input_pooling
    if chip.dvs is None:
        d.error("pooling", pools[0], f"pooling of the input ({p}x{p}) before the first layer needs the DVS layer",
                "pass --dvs-input to pool in the DVS layer, or pool the events before sending them", measured=p,
                limit="with --dvs-input only")
    else:
        d.error("pooling", pools[0], f"pooling after the DVS layer cannot run in it: the DVS layer pools before its "
                "region of interest and mirroring, and pools with stride = kernel, no padding",
                "give the pooling to the DVS layer itself (--dvs-pool PY,PX, or sinabs DVSLayer(pool=...))",
                measured=p, limit="absorbed into the DVS layer")


def rule_dvs(chip: ChipModel, target, d: Diagnostics) -> None:
    """The DVS layer: per-axis pooling 1, 2 or 4, the events it reads inside the sensor, at most 2 destinations."""
    dvs = chip.dvs
    if dvs is None:
        return
    py, px = dvs.pooling
    bad = [p for p in (py, px) if p not in target.poolings]
    if bad:
        one_of = _one_of(target.poolings)
        d.error("pooling", dvs.name, f"DVS pooling y {py}, x {px}: each axis pools {one_of} on {target.name}",
                f"use input pooling {one_of} on each axis (the axes may differ in the DVS layer)", measured=bad[0],
                limit=list(target.poolings))
    _, h, w = chip.input_shape
    n = target.dvs_size
    if h > n or w > n:
        d.error("input_size", dvs.name, f"the DVS layer reads a {w}x{h} region of events; the sensor is {n}x{n}",
                f"pool or crop the input so that the DVS layer reads at most {n}x{n}", measured=[h, w], limit=n)
    if len(chip.input_targets) > target.destinations_per_core:
        names = ", ".join(chip.layers[i].name for i in chip.input_targets)
        d.error("destinations", dvs.name, f"the DVS layer feeds {len(chip.input_targets)} layers ({names}); it has "
                f"{target.destinations_per_core} destinations",
                f"feed at most {target.destinations_per_core} layers from the input",
                measured=len(chip.input_targets), limit=target.destinations_per_core)


def _one_of(values) -> str:
    """``(1, 2, 4)`` -> ``"1, 2 or 4"``: a target's allowed values in a hint."""
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def rule_average_pooling(graph: Graph, target, d: Diagnostics) -> None:
    """An AvgPool left after the passes: it could not become sum pooling (avgpool_to_sumpool)."""
    for name in graph.node_names():
        if graph[name].role == Role.AVG_POOL:
            d.error("pooling", name, "average pooling whose output does not feed a weight layer cannot become sum "
                    "pooling", "use SumPool2d, or put a Conv2d/Linear after the pooling", measured="AvgPool",
                    limit="SumPool")


#: what ``rule_concat`` looks through (one input each) to find where a concatenated input comes from
_SHIFT_TRANSPARENT = frozenset((Role.SUM_POOL, Role.FLATTEN, Role.AVG_POOL))


def rule_concat(graph: Graph, target, d: Diagnostics) -> None:
    """A channel concatenation is the destinations of its sources with a ``feature_shift`` each; only spiking layers
    can be shifted (the input events go to the cores as they are).  (One that feeds the model output is read with
    each output core's ``channel_offset``, ``snnc.outputs`` in the config.)"""
    for name in graph.node_names():
        if graph[name].role != Role.CONCAT:
            continue
        preds = graph.predecessors(name)
        for k, p in enumerate(preds[1:], 1):
            q = p
            while graph[q].role in _SHIFT_TRANSPARENT and len(graph.predecessors(q)) == 1:
                q = graph.predecessors(q)[0]
            if graph[q].role == Role.INPUT:
                d.error("unsupported_layer", name, f"input {k} of the concatenation is the model input; its channels "
                        "would have to be shifted, and the input events reach the cores unshifted",
                        "put the input first in torch.cat, or pass it through a layer first",
                        measured=f"input at position {k}", limit="position 0")


GRAPH_RULES: list[Callable] = [rule_recurrence, rule_unsupported_layer, rule_neuron_model, rule_threshold_shared,
                               rule_average_pooling, rule_concat]


def check_graph(graph: Graph, target) -> Diagnostics:
    d = Diagnostics()
    for rule in GRAPH_RULES:
        rule(graph, target, d)
    return d


# ---------------------------------------------------------------------------------------------------------------
# chip-layer rules: one core's limits
# ---------------------------------------------------------------------------------------------------------------
def rule_kernel_size(layer: ChipLayer, t, d: Diagnostics) -> None:
    kh, kw = layer.kernel_size
    bad = [k for k in (kh, kw) if k not in t.kernel_sizes]
    kmax = max(t.kernel_sizes)
    if bad:
        d.error("kernel_size", layer.name, f"kernel {kh}x{kw} is outside {t.kernel_sizes[0]}..{t.kernel_sizes[-1]}",
                f"use a kernel of at most {kmax}x{kmax}" + ("; a Linear layer's kernel is its whole input map: pool or "
                                                         "stride more before it" if kh * kw > kmax * kmax else ""),
                measured=max(bad), limit=[t.kernel_sizes[0], t.kernel_sizes[-1]])


def rule_kernel_shape(layer: ChipLayer, t, d: Diagnostics) -> None:
    kh, kw = layer.kernel_size
    if kh != kw:
        d.error("kernel_shape", layer.name, f"kernel {kh}x{kw} is not square", "use a square kernel (pad the "
                "weights with zeros to the larger side)", measured=[kh, kw], limit="square")


def rule_stride(layer: ChipLayer, t, d: Diagnostics) -> None:
    bad = [s for s in layer.stride if s not in t.strides]
    if bad:
        d.error("stride", layer.name, f"stride {layer.stride[0]}x{layer.stride[1]} is not one of {list(t.strides)}",
                f"use stride {_one_of(t.strides)} on each axis", measured=bad[0], limit=list(t.strides))


def rule_padding(layer: ChipLayer, t, d: Diagnostics) -> None:
    bad = [p for p in layer.padding if not 0 <= p <= t.max_padding]
    if bad:
        d.error("padding", layer.name, f"padding {layer.padding[0]}x{layer.padding[1]} exceeds {t.max_padding}",
                f"use padding 0..{t.max_padding} (or crop the input instead)", measured=max(bad),
                limit=[0, t.max_padding])


def rule_dilation(layer: ChipLayer, t, d: Diagnostics) -> None:
    if layer.dilation != (1, 1):
        d.error("dilation", layer.name, f"dilation {layer.dilation[0]}x{layer.dilation[1]} is not supported",
                "use dilation 1 (spread the kernel with zero weights instead)", measured=list(layer.dilation),
                limit=1)


def rule_groups(layer: ChipLayer, t, d: Diagnostics) -> None:
    if layer.groups != 1:
        d.error("groups", layer.name, f"grouped convolution (groups={layer.groups}) is not supported",
                "use groups=1 (expand the weights to a full, block-diagonal kernel)", measured=layer.groups, limit=1)


def rule_pooling(layer: ChipLayer, t, d: Diagnostics) -> None:
    for dest in layer.destinations:
        ky, kx = dest.pooling_shape or (dest.pooling, dest.pooling)
        sy, sx = dest.pooling_stride or (ky, kx)
        where = dest.pool_name or layer.name
        if ky != kx:
            d.error("pooling", where, f"pooling {ky}x{kx} is not square: between cores {t.name} pools both axes "
                    "alike (only the DVS layer, at the input, pools each axis separately)",
                    f"use square pooling {_one_of(t.poolings)} between cores",
                    measured=[ky, kx], limit=list(t.poolings))
        elif (sy, sx) != (ky, kx) or dest.pooling_padded:
            d.error("pooling", where, f"pooling stride {sy}x{sx} differs from its kernel {ky}x{kx}"
                    + (" or it is padded" if dest.pooling_padded else ""), "use pooling with stride = kernel and no "
                    "padding", measured=[sy, sx], limit=[ky, kx])
        elif ky not in t.poolings:
            d.error("pooling", where, f"pooling {ky}x{kx} is not one of {list(t.poolings)}",
                    f"use pooling {_one_of(t.poolings)} (two poolings in a row multiply: 2 then 2 is 4)", measured=ky,
                    limit=list(t.poolings))


def rule_input_size(layer: ChipLayer, t, d: Diagnostics) -> None:
    c, h, w = layer.input_shape
    if h > t.max_input_size or w > t.max_input_size:
        d.error("input_size", layer.name, f"input map {h}x{w} exceeds {t.max_input_size}x{t.max_input_size}",
                f"pool or crop the input to at most {t.max_input_size}x{t.max_input_size}", measured=[h, w],
                limit=t.max_input_size)


def rule_output_size(layer: ChipLayer, t, d: Diagnostics) -> None:
    f, h, w = layer.output_shape
    if h > t.max_output_size or w > t.max_output_size:
        d.error("output_size", layer.name, f"conv output map {h}x{w} exceeds {t.max_output_size}x"
                f"{t.max_output_size}", "use stride 2 (or more) or pool the input of this layer",
                measured=[h, w], limit=t.max_output_size)


def rule_channels(layer: ChipLayer, t, d: Diagnostics) -> None:
    for what, n in (("input", layer.in_channels), ("output", layer.out_channels)):
        if n > t.max_channels:
            d.error("channels", layer.name, f"{n} {what} channels exceed {t.max_channels}",
                    f"reduce {'in' if what == 'input' else 'out'}_channels to <= {t.max_channels}", measured=n,
                    limit=t.max_channels)


def rule_destinations(layer: ChipLayer, t, d: Diagnostics) -> None:
    n = len(layer.destinations)
    if n > t.destinations_per_core:
        names = ", ".join(str(x.layer) for x in layer.destinations)
        d.error("destinations", layer.name, f"its spikes go to {n} places ({names}); a core has "
                f"{t.destinations_per_core} destinations", f"feed at most {t.destinations_per_core} layers from one "
                "spiking layer (insert an identity layer to fan out further)", measured=n,
                limit=t.destinations_per_core)


def _memory_rule(kind: str, fn):
    def rule(layer: ChipLayer, t, d: Diagnostics) -> None:
        need = fn(layer)
        cap = max(getattr(c, f"{kind}_memory") for c in t.cores)
        if need > cap:
            hint = {"kernel": "reduce input or output channels or the kernel size (the memory rounds channels "
                              "and kernel area up to powers of two)",
                    "neuron": "reduce output channels or the output map (stride or pool before this layer); the "
                              "map's height and width are rounded up to powers of two",
                    "bias": "strip the biases (default) or reduce output channels"}[kind]
            d.error(f"{kind}_memory", layer.name, f"needs {need} words of {kind} memory; the largest core has "
                    f"{cap}", hint, measured=need, limit=cap)
    rule.__name__ = f"rule_{kind}_memory"
    return rule


rule_kernel_memory = _memory_rule("kernel", kernel_memory)
rule_neuron_memory = _memory_rule("neuron", neuron_memory)
rule_bias_memory = _memory_rule("bias", bias_memory)

LAYER_RULES: list[Callable] = [rule_kernel_size, rule_kernel_shape, rule_stride, rule_padding, rule_dilation,
                               rule_groups, rule_pooling, rule_input_size, rule_output_size, rule_channels,
                               rule_destinations, rule_kernel_memory, rule_neuron_memory, rule_bias_memory]


def rule_feature_shift(chip: ChipModel, t, d: Diagnostics) -> None:
    """Shifted channels stay inside the receiving core's input channels (a channel concatenation or a split)."""
    for layer in chip.layers:
        for dest in layer.destinations:
            if dest.layer == OUTPUT or not dest.feature_shift:
                continue
            into = chip.layers[int(dest.layer)]
            top = dest.feature_shift + layer.out_channels
            if dest.feature_shift < 0 or top > into.in_channels or dest.feature_shift >= t.max_channels:
                d.error("feature_shift", layer.name, f"its channels shifted by {dest.feature_shift} reach channel "
                        f"{top - 1} of {into.name}, which has {into.in_channels} input channels",
                        "concatenate layers whose channels add up to the next layer's input channels",
                        measured=top, limit=into.in_channels)


def rule_layer_count(chip: ChipModel, t, d: Diagnostics) -> None:
    n = len(chip.layers)
    if n > t.n_cores:
        d.error("layer_count", chip.layers[t.n_cores].name, f"the model needs {n} chip layers; {t.name} has "
                f"{t.n_cores} cores", f"reduce the model to at most {t.n_cores} weight layers", measured=n,
                limit=t.n_cores)


def check_chip(chip: ChipModel, target, graph_reported: bool = False) -> Diagnostics:
    d = Diagnostics()
    rule_layer_count(chip, target, d)
    rule_spike_mode(chip, target, d)
    rule_dvs(chip, target, d)
    rule_feature_shift(chip, target, d)
    for layer in chip.layers:
        for rule in LAYER_RULES:
            rule(layer, target, d)
    if not chip.layers and chip.dvs is not None:
        pass  # the DVS layer alone (sinabs maps it): its output is monitored, no core is used
    elif not chip.layers:
        if not graph_reported:  # else the graph rules have said why already
            d.error("neuron_model", None, "the model has no layer that can run on a core",
                    "a Speck model is a chain of Conv2d/Linear layers each followed by an IAF layer", measured=0,
                    limit=">= 1")
    elif not any(dest.layer == OUTPUT for layer in chip.layers for dest in layer.destinations):
        d.warning("destinations", chip.layers[-1].name, "no chip layer reaches the model output")
    return d


def layer_fits_core(layer: ChipLayer, core) -> bool:
    return (kernel_memory(layer) <= core.kernel_memory and neuron_memory(layer) <= core.neuron_memory
            and bias_memory(layer) <= core.bias_memory)


