"""Build the configuration dict of a compiled, quantized model (``build_config``) and its sections."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ...compiler.chip import OUTPUT, resolve_decimate
from ...compiler.options import readout_spread
from ...compiler.errors import SnncError, _jsonable
from ..speck import SPECK_NEURON
from .gcpause import gc_paused

FORMAT_VERSION = 1
SIMULATOR_DEFAULTS = {"overflow": "saturate", "leak_can_fire": False}


def _xy(pair_yx) -> dict:
    """(y, x) as torch orders it -> samna's {"x", "y"}."""
    return {"x": int(pair_yx[1]), "y": int(pair_yx[0])}


def _shape(c, h, w) -> dict:
    return {"size": {"x": int(w), "y": int(h)}, "feature_count": int(c)}


def _disabled_destination() -> dict:
    return {"enable": False, "layer": 0, "pooling": 1, "feature_shift": 0}


def unused_cnn_layer() -> dict:
    """The entry of a core the model does not use: zero dimensions, empty arrays, nothing enabled."""
    return {
        "dimensions": {"input_shape": _shape(0, 0, 0), "output_shape": _shape(0, 0, 0), "padding": {"x": 0, "y": 0},
                       "stride": {"x": 1, "y": 1}, "kernel_size": 1},
        "weights": [], "biases": [], "neurons_initial_value": [],
        "leak_enable": False, "leak_internal_slow_clk_enable": False,
        "threshold_high": 0, "threshold_low": -1, "return_to_zero": False, "monitor_enable": False,
        "destinations": [_disabled_destination(), _disabled_destination()],
        "output_decimator_enable": False, "output_decimator_interval": 0,
        "input_congestion_balancer_enable": False,
    }


def _decimators(chip, target, decimate: dict) -> dict[int, int]:
    """{layer index: output_decimator_interval}: as the pipeline resolved ``--decimate`` (``compiler/options.py``),
    or resolved here for a chip model that did not come through it."""
    resolved = (chip.meta["decimators"] if chip.meta.get("options_checked")
                else resolve_decimate(chip, decimate, target))
    return {i: target.decimator_ratios.index(n) for i, n in resolved.items()}


def cnn_layer_config(layer, core_of: dict[int, int], readout_layer: int | None = None,
                     decimator: int | None = None, destinations: int = SPECK_NEURON.destinations_per_core,
                     monitor: bool | None = None, arrays: bool = False) -> dict:
    """One used core's entry, from an integer chip layer (``quantized=True``).  ``readout_layer``: the target's
    readout layer id when ``--readout`` sends the exit layer's spikes there, else None; ``destinations``: the
    target's destinations per core (the entry lists them all, disabled ones included); ``monitor``: None =
    monitored when it is an output layer; ``arrays``: weights, biases and initial states as int64 numpy arrays
    instead of nested lists (for :func:`~snnc.targets.config.write_config`, which writes either)."""
    if not layer.quantized:
        raise ValueError(f"{layer.name}: quantize the chip layers before building a configuration")
    f, oh, ow = layer.output_shape
    c, ih, iw = layer.input_shape
    kh, kw = layer.kernel_size
    w = np.asarray(layer.weight, dtype=np.int64).transpose(0, 1, 3, 2)  # [out][in][y][x] -> [out][in][x][y]
    bias = np.zeros(f, dtype=np.int64) if layer.bias is None else np.asarray(layer.bias, dtype=np.int64)
    v0 = (np.zeros((f, ow, oh), dtype=np.int64) if layer.v_init is None
          else np.asarray(layer.v_init, dtype=np.int64).reshape(f, oh, ow).transpose(0, 2, 1))
    dests = []
    exit_pool = None
    for d in layer.destinations:
        if d.layer == OUTPUT:
            exit_pool = d.pooling
            continue
        dests.append({"enable": True, "layer": int(core_of[d.layer]), "pooling": int(d.pooling),
                      "feature_shift": int(d.feature_shift)})
    if readout_layer is not None and exit_pool is not None:
        dests.append({"enable": True, "layer": int(readout_layer), "pooling": int(exit_pool), "feature_shift": 0})
    if len(dests) > destinations:
        raise SnncError(f"{layer.name}: {len(dests)} destinations; a core has {destinations}")
    dests += [_disabled_destination() for _ in range(destinations - len(dests))]
    big = {key: np.ascontiguousarray(a) if arrays else a.tolist()
           for key, a in (("weights", w), ("biases", bias), ("neurons_initial_value", v0))}
    return {
        "dimensions": {"input_shape": _shape(c, ih, iw), "output_shape": _shape(f, oh, ow),
                       "padding": _xy(layer.padding), "stride": _xy(layer.stride), "kernel_size": int(kh)},
        **big,
        "leak_enable": bool(layer.bias is not None and np.any(bias)),
        "leak_internal_slow_clk_enable": False,
        "threshold_high": int(layer.threshold_high),
        "threshold_low": int(layer.threshold_low),
        "return_to_zero": layer.reset == "zero",
        "monitor_enable": bool(exit_pool is not None if monitor is None else monitor),
        "destinations": dests,
        "output_decimator_enable": decimator is not None,
        "output_decimator_interval": int(decimator or 0),
        "input_congestion_balancer_enable": False,
    }


def dvs_layer_config(chip, target, core_of: dict[int, int], monitor: bool = False) -> dict:
    """The DVS layer (samna's ``dvs_layer``) from ``chip.dvs``; disabled (no destinations) when the input goes to
    the cores directly.  Pairs in the chip model are (y, x); samna's fields are {x, y}; ``cut`` is inclusive."""
    cfg = {"merge": False, "on_channel": True, "off_channel": True, "pooling": {"x": 1, "y": 1},
           "origin": {"x": 0, "y": 0}, "cut": {"x": target.dvs_size - 1, "y": target.dvs_size - 1},
           "mirror": {"x": False, "y": False}, "mirror_diagonal": False, "monitor_enable": False,
           "raw_monitor_enable": False, "pass_sensor_events": False,
           "destinations": [{"enable": False, "layer": 0}, {"enable": False, "layer": 0}]}
    dvs = chip.dvs
    if dvs is None:
        return cfg
    if len(chip.input_targets) > 2:
        raise SnncError(f"the DVS layer feeds {len(chip.input_targets)} layers; it has 2 destinations")
    cfg.update({"merge": bool(dvs.merge), "on_channel": bool(dvs.on_channel), "off_channel": bool(dvs.off_channel),
                "pooling": _xy(dvs.pooling), "origin": _xy(dvs.origin), "cut": _xy(dvs.cut),
                "mirror": {"x": bool(dvs.mirror_x), "y": bool(dvs.mirror_y)},
                "mirror_diagonal": bool(dvs.mirror_diagonal), "monitor_enable": bool(monitor),
                "pass_sensor_events": bool(dvs.pass_sensor_events)})
    for k, i in enumerate(chip.input_targets):
        cfg["destinations"][k] = {"enable": True, "layer": int(core_of[i])}
    return cfg


def readout_config(enabled: bool) -> dict:
    return {"enable": bool(enabled), "threshold": 0, "low_pass_filter_disable": False,
            "low_pass_filter32_not16": False, "output_mode_sel": 0, "readout_configuration_sel": 0,
            "override_threshold_max": False, "monitor_enable": bool(enabled), "readout_pin_monitor_enable": False}


def _source(result) -> dict:
    src = dict(getattr(result, "source", None) or {})
    if not src and getattr(result, "graph", None) is not None:
        src = dict(result.graph.meta)
    path = src.get("path")
    sha = src.get("sha256")
    if sha is None and path and Path(path).is_file():
        sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {"path": None if path is None else str(path), "sha256": sha, "format": src.get("format")}


def _slow_clock(result) -> dict:
    """``{"slow_clock_hz": f}`` for a model converted by ``snnc convert`` whose biases are leak at that clock."""
    rec = ((result.source or {}).get("conversion") or {}).get("compile") or {}
    hz = rec.get("slow_clock_hz")
    return {"slow_clock_hz": float(hz)} if hz and rec.get("keep_biases") else {}


@gc_paused
def build_config(result, arrays: bool = False) -> dict:
    """The configuration dict of a compiled model (``run_pipeline(..., until="quantize")`` that fits).

    Plain Python values throughout; with ``arrays`` the cores' weights, biases and initial states stay int64 numpy
    arrays (``write_config`` checks and writes them without turning ~10^5 numbers into Python ints).
    """
    chip, target, options = result.chip, result.target, result.options
    if chip is None or (not chip.layers and chip.dvs is None):
        raise SnncError("nothing to configure: the model has no chip layers")
    if any(layer.core is None for layer in chip.layers):
        raise SnncError("the chip layers have no cores assigned (the model does not fit)")
    core_of = {i: int(layer.core) for i, layer in enumerate(chip.layers)}
    decim = _decimators(chip, target, getattr(options, "decimate", {}) or {})
    readout = bool(getattr(options, "readout", False))
    exits = chip.exits()
    channels_of: dict[int, list[int]] = {}
    layers = list(chip.layers)
    if readout:
        i, layers[i], channels_of[i] = readout_spread(chip, target)
    monitored = set(chip.monitor) if chip.meta.get("options_checked") else set(exits)

    cnn = [unused_cnn_layer() for _ in range(target.n_cores)]
    for i, layer in enumerate(layers):
        cnn[core_of[i]] = cnn_layer_config(layer, core_of, readout_layer=target.readout_layer if readout else None,
                                           decimator=decim.get(i), destinations=target.destinations_per_core,
                                           monitor=i in monitored, arrays=arrays)

    report_layers = result.report_json()["layers"]
    snnc_layers = []
    for i, (layer, rep) in enumerate(zip(chip.layers, report_layers)):
        entry = dict(rep)
        entry["sources"] = list(layer.sources)
        entry["scale"] = layer.scale
        entry["quantization"] = dict(layer.quant_report)
        snnc_layers.append(entry)
    outputs = []
    for i in exits:
        layer = chip.layers[i]
        out = {"core": core_of[i], "name": layer.split_of or layer.name}
        shift = next(int(d.feature_shift) for d in layer.destinations if d.layer == OUTPUT)
        if shift:  # a slice of a split output layer, or a branch of a concatenation that is the output
            out["channel_offset"] = shift
        if i in channels_of:
            out["channels"] = channels_of[i]
        outputs.append(out)
    dvs = chip.dvs is not None
    snnc = {
        "format_version": FORMAT_VERSION,
        "target": target.name,
        "source": _source(result),
        "input": {"source": "dvs" if dvs else "core", "shape": [int(s) for s in chip.input_shape],
                  "cores": [core_of[i] for i in chip.input_targets], "pooling": int(chip.input_pooling)},
        "outputs": outputs,
        "layers": snnc_layers,
        **({"split": result.split_json()} if chip.meta.get("split") and hasattr(result, "split_json") else {}),
        "quantization": {"policy": getattr(options, "quantize", "sinabs")},
        "simulator": dict(SIMULATOR_DEFAULTS, **_slow_clock(result)),
    }
    config = {  # the chip sections are plain Python values already (tolist / int / bool), or int64 arrays
        "cnn_layers": cnn,
        "dvs_layer": dvs_layer_config(chip, target, core_of, chip.monitor_dvs),
        "readout": readout_config(readout),
        "snnc": _jsonable(snnc),
    }
    if not target.has_readout:  # a chip without a readout layer has no readout section (Target.has_readout)
        del config["readout"]
    return config
