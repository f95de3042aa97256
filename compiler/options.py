"""The user's options checked against the model, once, in the pipeline (``run_pipeline``), so that ``snnc check``,
``snnc report`` and ``snnc compile`` accept and refuse exactly the same inputs.

Each check raises SnncError (exit 2) naming the option and the valid choices, or adds a diagnostic.  What they
resolve is stored on the chip model (``chip.meta["decimators"]``, ``chip.monitor``, ``chip.monitor_dvs``) and the
config writer reads it from there: it never interprets an option a second time.
"""
from __future__ import annotations

import copy

import numpy as np

from .chip import OUTPUT, ChipLayer, ChipModel, resolve_decimate
from .errors import Diagnostics, SnncError
from .memory import memory

def check_quantize(options) -> None:
    from .quantize import check_policy

    check_policy(getattr(options, "quantize", "sinabs") or "sinabs")


def find_layer(chip: ChipModel, name: str) -> int | None:
    """The chip layer a user's layer name belongs to (the conv, its neuron or any folded layer), or None."""
    for i, layer in enumerate(chip.layers):
        if name == layer.name or name == layer.neuron_name or name in layer.sources:
            return i
    return None


def resolve_decimators(chip: ChipModel, target, decimate: dict) -> dict[int, int]:
    """{layer index: N} from ``--decimate`` (the one resolver, ``chip.resolve_decimate``)."""
    return resolve_decimate(chip, decimate, target)


def resolve_monitor(chip: ChipModel, monitor, diags: Diagnostics) -> tuple[list[int], bool]:
    """(monitored chip layers, DVS layer monitored) from ``--monitor``: ``None`` = the output layers (as sinabs);
    items ``dvs``, ``all``, ``none``, ``-1`` (the output layers), a chip-layer index (the ``#`` column of the report, as
    sinabs' layer indices), or a layer name (``name:3`` for a name that is a number).  Warns, as sinabs
    does, for a monitored layer that pools: its monitored events carry un-pooled coordinates."""
    layers: list[int] = []
    dvs = False
    items = [str(m).strip() for m in monitor] if monitor is not None else ["-1"]
    for item in items:
        if item in ("none", ""):
            continue
        if item == "dvs":
            if chip.dvs is None:
                raise SnncError("--monitor dvs: the model has no DVS layer (add --dvs-input or a sinabs DVSLayer)")
            dvs = True
        elif item == "all":
            layers.extend(range(len(chip.layers)))
        elif item == "-1":
            layers.extend(chip.exits())
            dvs = dvs or (not chip.layers and chip.dvs is not None)  # the DVS layer alone is the output
        elif item.lstrip("-").isdigit():
            i = int(item)
            if not 0 <= i < len(chip.layers):
                raise SnncError(f"--monitor {item}: chip layers are numbered 0..{len(chip.layers) - 1} (or use -1 "
                                "for the output layers)")
            layers.append(i)
        else:
            item = item[5:] if item.startswith("name:") else item
            i = find_layer(chip, item)
            if i is None:
                names = ", ".join(layer.name for layer in chip.layers)
                raise SnncError(f"--monitor {item}: no chip layer is called {item!r}; use dvs, all, -1, an index "
                                f"or one of: {names}")
            layers.append(i)
            split_of = chip.layers[i].split_of
            if split_of is not None and item != chip.layers[i].name:  # a user's layer split over several cores:
                layers.extend(j for j, other in enumerate(chip.layers) if other.split_of == split_of)  # every slice
    layers = sorted(set(layers))
    for i in layers:
        layer = chip.layers[i]
        pools = sorted({d.pooling for d in layer.destinations if d.pooling != 1})
        if pools:
            diags.warning("monitor", layer.name, f"this layer pools ({', '.join(map(str, pools))}) and is "
                          "monitored: its monitored events carry un-pooled coordinates",
                          "divide the monitored x, y by the pooling yourself", measured=pools[0], limit=1)
    if dvs and chip.dvs.pooling != (1, 1):
        diags.warning("monitor", chip.dvs.name, f"the DVS layer pools (y {chip.dvs.pooling[0]}, x "
                      f"{chip.dvs.pooling[1]}) and is monitored; sinabs notes that pooling is not reflected in the "
                      "monitored events", "check the monitored coordinates against the DVS pooling",
                      measured=list(chip.dvs.pooling), limit=[1, 1])
    return layers, dvs


def readout_spread(chip: ChipModel, target) -> tuple[int, ChipLayer, list[int]]:
    """For ``--readout``: (index of the one output layer, that layer with its channels spread to 0, 4, 8, ...
    (readout errata), the channel list).  SnncError when the readout cannot read the model."""
    if not target.has_readout:
        raise SnncError(f"--readout: {target.name} has no readout layer; remove --readout and read the output "
                        "core's spikes")
    exits = chip.exits()
    if len(exits) != 1:
        raise SnncError(f"--readout needs exactly one output layer; the model has {len(exits)}")
    i = exits[0]
    layer = chip.layers[i]
    f = layer.out_channels
    n_classes, stride = target.readout_classes, target.readout_channel_stride
    if f > n_classes:
        raise SnncError(f"--readout: the output layer {layer.name} has {f} channels; the readout layer reads at "
                        f"most {n_classes} classes (remove --readout and read the output core's spikes)")
    n_dest = sum(d.target != OUTPUT for d in layer.destinations) + 1
    if n_dest > target.destinations_per_core:
        raise SnncError(f"--readout: {layer.name} already sends to {n_dest - 1} layers; with the readout that is "
                        f"{n_dest} destinations and a core has {target.destinations_per_core}")
    channels = [stride * k for k in range(f)]
    spread = (f - 1) * stride + 1
    if spread > target.max_channels:
        raise SnncError(f"--readout: spreading {layer.name}'s channels needs {spread} channels")
    out = copy.copy(layer)

    def widen(a):
        w = np.zeros((spread,) + a.shape[1:], dtype=a.dtype)
        w[channels] = a
        return w

    out.weight = widen(np.asarray(layer.weight))
    out.bias = None if layer.bias is None else widen(np.asarray(layer.bias))
    out.v_init = None if layer.v_init is None else widen(np.asarray(layer.v_init))
    out.output_shape = (spread,) + tuple(layer.output_shape[1:])
    if layer.core is not None:
        core = target.cores[layer.core]
        m = memory(out)
        for kind in ("kernel", "neuron", "bias"):
            if m[kind] > getattr(core, f"{kind}_memory"):
                raise SnncError(f"--readout: with its channels spread to 0, 4, 8, ... (readout errata), "
                                f"{layer.name} needs {m[kind]} words of {kind} memory, core {layer.core} has "
                                f"{getattr(core, f'{kind}_memory')}; remove --readout or make the layer smaller")
    return i, out, channels


def check_options(chip: ChipModel, target, options, diags: Diagnostics) -> None:
    """Every option against the grouped (and, when it fits, assigned) chip model; stores what it resolves."""
    check_quantize(options)
    chip.meta["decimators"] = resolve_decimators(chip, target, getattr(options, "decimate", {}) or {})
    chip.monitor, chip.monitor_dvs = resolve_monitor(chip, getattr(options, "monitor", None), diags)
    if getattr(options, "readout", False):
        readout_spread(chip, target)
    chip.meta["options_checked"] = True


__all__ = ["check_options", "check_quantize", "find_layer", "readout_spread", "resolve_decimators",
           "resolve_monitor"]
