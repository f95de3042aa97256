"""Split a layer too big for any one core over several cores, exactly (``docs/splitting.md``).

A chip layer whose kernel or neuron memory exceeds every core becomes ``n`` slices of consecutive output channels,
one core each.  Every source of the layer (a chip layer, or the DVS layer) sends each event to all ``n`` slices,
one destination each and in channel order; every slice sends its spikes on where the layer did, with
``feature_shift`` = its first channel, so the layers after it see the channel numbers they were trained with.

Why it is exact (SPECK.md section 5 and 7, the simulators' order): an input event updates a core's neurons in
ascending (channel, y, x) order, each spike routed depth-first before the next neuron is updated; a source routes a
spike to its destinations in order.  Slices of consecutive channels, visited in channel order, therefore update
the same neurons in the same order as the whole layer, and route the same spikes in the same order.  The slices
are quantized as one layer (``quantize.quantize_chip`` joins them), so they hold the same integers.

What it costs: ``n - 1`` more cores, one more destination on each source per extra slice, and the sources' events
delivered once per slice (each delivery reads the input event once more: SynOps stay those of the whole layer).

When it cannot apply (each reason is named in the memory violation's hint, with the slice count it would take):
a single output channel is already too big; the model would need more chip layers than the chip has cores; a
source has no destination to spare; the layer is the output layer and ``--readout`` reads it (one core).  A split
output layer's cores are listed in the config's ``snnc.outputs`` with their ``channel_offset``; the simulators
renumber their monitored events to the model's channels (``runtime/simulator/result.py: split_outputs``).
"""
from __future__ import annotations

import copy

import numpy as np

from ..chip import OUTPUT, ChipLayer, ChipModel, Destination
from ..drc import layer_fits_core
from ..mapping import _max_matching
from ..memory import memory


def slice_sizes(f: int, n: int) -> list[int]:
    """``f`` channels in ``n`` consecutive slices, as equal as can be (the first ones one larger)."""
    q, r = divmod(f, n)
    return [q + (k < r) for k in range(n)]


def slice_layer(layer: ChipLayer, lo: int, hi: int) -> ChipLayer:
    """Output channels ``lo..hi-1`` of ``layer`` as a chip layer of their own."""
    out = copy.copy(layer)
    out.name = f"{layer.name}[{lo}:{hi}]"
    out.weight = np.asarray(layer.weight)[lo:hi].copy()
    out.bias = None if layer.bias is None else np.asarray(layer.bias)[lo:hi].copy()
    out.v_init = None if layer.v_init is None else np.asarray(layer.v_init)[lo:hi].copy()
    out.output_shape = (hi - lo,) + tuple(layer.output_shape[1:])
    out.destinations = [copy.copy(d) for d in layer.destinations]
    for d in out.destinations:
        d.feature_shift = int(d.feature_shift) + lo
    out.sources = list(layer.sources)
    out.split_of, out.channels = layer.name, (lo, hi)
    out.quant_report = dict(layer.quant_report)
    return out


def join_slices(slices: list[ChipLayer]) -> ChipLayer:
    """The whole layer back from its slices (in channel order): what quantization scales as one layer."""
    first = slices[0]
    out = copy.copy(first)
    out.name = first.split_of
    out.weight = np.concatenate([np.asarray(s.weight) for s in slices])
    out.bias = None if first.bias is None else np.concatenate([np.asarray(s.bias) for s in slices])
    out.v_init = None if first.v_init is None else np.concatenate([np.asarray(s.v_init) for s in slices])
    out.output_shape = (sum(s.out_channels for s in slices),) + tuple(first.output_shape[1:])
    out.split_of, out.channels = None, None
    return out


def groups(chip: ChipModel) -> dict[str, list[int]]:
    """{user's layer name: indices of its slices, in channel order} for every split layer."""
    out: dict[str, list[int]] = {}
    for i, layer in enumerate(chip.layers):
        if layer.split_of is not None:
            out.setdefault(layer.split_of, []).append(i)
    return out


def _fits_somewhere(layer: ChipLayer, target) -> bool:
    return any(layer_fits_core(layer, c) for c in target.cores)


def _slices(layer: ChipLayer, n: int) -> list[ChipLayer]:
    out, lo = [], 0
    for size in slice_sizes(layer.out_channels, n):
        out.append(slice_layer(layer, lo, lo + size))
        lo += size
    return out


def _fits_with(layer: ChipLayer, channels: int, target) -> bool:
    """Would ``channels`` of the layer's output channels fit some core?  (Array views only: no weights copied.)"""
    part = copy.copy(layer)
    part.weight = np.asarray(layer.weight)[:channels]
    part.bias = None if layer.bias is None else np.asarray(layer.bias)[:channels]
    part.output_shape = (channels,) + tuple(layer.output_shape[1:])
    return _fits_somewhere(part, target)


def needed_slices(layer: ChipLayer, target) -> int | None:
    """The fewest slices of consecutive output channels that each fit some core; None when even one output
    channel fits no core (the kernel memory grows with the input channels, which a split does not divide).

    The memories grow with the channel count, so the largest slice that fits, ``s``, is found by bisection, and
    ``ceil(F / s)`` near-equal slices (none larger than ``s``) are the fewest."""
    f = layer.out_channels
    if not _fits_with(layer, 1, target):
        return None
    lo, hi = 1, f  # lo fits; find the largest that does
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _fits_with(layer, mid, target):
            lo = mid
        else:
            hi = mid - 1
    return -(-f // lo)


def _why_too_big(layer: ChipLayer, target) -> str:
    m = memory(layer)
    parts = []
    for kind in ("kernel", "neuron", "bias"):
        cap = max(getattr(c, f"{kind}_memory") for c in target.cores)
        if m[kind] > cap:
            parts.append(f"needs {m[kind]} words of {kind} memory, the largest core has {cap}")
    return " and ".join(parts)


def _refusal(chip: ChipModel, i: int, n: int, target, extra_layers: int, readout: bool = False) -> str | None:
    """Why layer ``i`` cannot be split in ``n`` slices, or None when it can."""
    layer = chip.layers[i]
    dpc = target.destinations_per_core
    if readout and any(d.layer == OUTPUT for d in layer.destinations):
        return "it is the output layer and --readout reads one core"
    total = len(chip.layers) + extra_layers + n - 1
    if total > target.n_cores:
        return f"the model would need {total} chip layers and {target.name} has {target.n_cores} cores"
    for j, src in enumerate(chip.layers):
        k = sum(1 for d in src.destinations if d.layer == i)
        if k and len(src.destinations) - k + n * k > dpc:
            return (f"its source {src.name} would need {len(src.destinations) - k + n * k} destinations (it sends "
                    f"to {len(src.destinations)} already) and a core has {dpc}")
    if i in chip.input_targets and chip.dvs is not None and len(chip.input_targets) - 1 + n > 2:
        return (f"the DVS layer would need {len(chip.input_targets) - 1 + n} destinations and it has 2")
    return None


def _apply(chip: ChipModel, plan: dict[int, int]) -> ChipModel:
    """The chip model with layer ``i`` replaced by ``plan[i]`` slices (in place of it), every index renumbered."""
    new_index: dict[int, list[int]] = {}
    layers: list[ChipLayer] = []
    for i, layer in enumerate(chip.layers):
        parts = _slices(layer, plan[i]) if i in plan else [copy.copy(layer)]
        new_index[i] = list(range(len(layers), len(layers) + len(parts)))
        layers.extend(parts)
    for layer in layers:
        dests: list[Destination] = []
        for d in layer.destinations:
            if d.layer == OUTPUT:
                dests.append(d)
                continue
            for j in new_index[int(d.layer)]:
                dd = copy.copy(d)
                dd.layer = j
                dests.append(dd)
        layer.destinations = dests
    out = copy.copy(chip)
    out.layers = layers
    out.input_targets = [j for i in chip.input_targets for j in new_index[i]]
    out.meta = dict(chip.meta)
    return out


def _assignable(chip: ChipModel, target) -> bool:
    cand = {i: [c.index for c in target.cores if layer_fits_core(layer, c)] for i, layer in enumerate(chip.layers)}
    return all(cand.values()) and len(_max_matching(cand)) == len(cand)


def split_layers(chip: ChipModel, ctx) -> ChipModel:
    """Split every chip layer that fits no core into the fewest slices that fit and leave the model assignable
    (``ctx.options.split``, on by default; ``--no-split`` keeps the memory violation).  Layers that cannot be split
    are left whole; ``chip.meta["split_refused"][name]`` says why (read by :func:`explain_refusals`)."""
    target = ctx.target
    big = [i for i, layer in enumerate(chip.layers) if not _fits_somewhere(layer, target)]
    if not big:
        return chip
    refused: dict[str, dict] = {}
    readout = bool(getattr(ctx.options, "readout", False))
    if not getattr(ctx.options, "split", True):
        for i in big:
            n = needed_slices(chip.layers[i], target)
            why = None if n is None else _refusal(chip, i, n, target, 0, readout)
            refused[chip.layers[i].name] = {"slices": n, "reason": why or "splitting is off (--no-split)"}
        out = copy.copy(chip)
        out.meta = dict(chip.meta, split_refused=refused)
        return out
    plan: dict[int, int] = {}
    for i in big:
        layer = chip.layers[i]
        n = needed_slices(layer, target)
        if n is None:
            refused[layer.name] = {"slices": None, "reason": "even one output channel needs more memory than any "
                                   "core has (a split divides the output channels, not the input channels)"}
            continue
        extra = sum(plan.values()) - len(plan)
        why = _refusal(chip, i, n, target, extra, readout)
        if why is not None:
            refused[layer.name] = {"slices": n, "reason": why}
            continue
        # more slices than the fewest when that leaves a core for every layer (smaller slices fit more cores)
        best = n
        for m in range(n, target.n_cores + 1):
            if _refusal(chip, i, m, target, extra, readout) is not None:
                break
            if _assignable(_apply(chip, {**plan, i: m}), target):
                best = m
                break
        plan[i] = best
    if refused and plan:  # the model does not fit whatever is split: split nothing, say what each split would take
        names = ", ".join(refused)
        for i, n in plan.items():
            refused[chip.layers[i].name] = {"slices": n, "reason": f"a split over {n} cores would fit this layer, but "
                                            f"{names} cannot be split (see there)", "alone": True}
        plan = {}
    out = _apply(chip, plan) if plan else copy.copy(chip)
    out.meta = dict(out.meta, split_refused=refused,
                    split={chip.layers[i].name: {"slices": n, "why": _why_too_big(chip.layers[i], target)}
                           for i, n in plan.items()})
    return out


def explain_refusals(chip: ChipModel, diags) -> None:
    """Give each memory violation of a layer that was not split a hint with the slice count a split would take
    and why it cannot be done."""
    refused = (chip.meta or {}).get("split_refused") or {}
    for d in diags.errors:
        info = refused.get(d.layer) if d.rule in ("kernel_memory", "neuron_memory") else None
        if not info:
            continue
        n, why = info["slices"], info["reason"]
        if n is None:
            d.hint = f"{d.hint}; no split helps: {why}"
        elif info.get("alone"):
            d.hint = f"{d.hint}; {why}"
        elif why.startswith("splitting is off"):
            d.hint = f"{d.hint}; or drop --no-split: a split over {n} cores would fit"
        else:
            d.hint = f"{d.hint}; a split would need {n} cores, but cannot be done: {why}"


def split_notes(chip: ChipModel) -> list[str]:
    """One note per split layer: which cores hold which channels, and why (after core assignment)."""
    notes = []
    info = (chip.meta or {}).get("split") or {}
    for name, idx in groups(chip).items():
        parts = []
        for i in idx:
            s = chip.layers[i]
            where = f"core {s.core}" if s.core is not None else "no core yet"
            parts.append(f"channels {s.channels[0]}-{s.channels[1] - 1} on {where}")
        why = info.get(name, {}).get("why", "it fits no single core")
        notes.append(f"{name}: split over {len(idx)} cores ({', '.join(parts)}) because it {why}; its sources "
                     f"send every event to each slice")
    return notes
