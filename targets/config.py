"""The Speck configuration file: build it from a compiled model, write it, read it back and check it.

The format is samna's ``SpeckConfiguration`` as JSON plus an ``snnc`` section (``docs/config-format.md``).  Chip
numbers (ranges, core count, poolings, decimator ratios) come from the target table in ``targets/speck.py``.

* :func:`build_config` -- a quantized :class:`~snnc.compiler.pipeline.CompileResult` -> config dict.
* :func:`dumps_config` -- the dict -> deterministic text (fixed key order, integer arrays on one line each).
* :func:`write_config` -- checks the dict with :func:`load_config`, then writes it atomically (temp file + rename).
* :func:`load_config` -- a path or dict -> the checked dict; every rejection is a SnncError naming the field.
"""
from __future__ import annotations

import copy
import hashlib
import functools
import gc
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..compiler.chip import OUTPUT
from ..compiler.fileio import atomic_write  # noqa: F401  (re-exported: callers import it from here)
from ..compiler.errors import SnncError, _jsonable
from ..compiler.geometry import conv_output_size
from ..compiler.quantize import chip_threshold_low
from .speck import get_target

FORMAT_VERSION = 1
SIMULATOR_DEFAULTS = {"overflow": "saturate", "leak_can_fire": False}


# ------------------------------------------------------------------------------------------------ building
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
    """{layer index: interval} from {layer name: N}; a bad name or ratio is a SnncError listing the valid ones."""
    out = {}
    for name, n in (decimate or {}).items():
        hits = [i for i, layer in enumerate(chip.layers)
                if name == layer.name or name == layer.neuron_name or name in layer.sources]
        if not hits:
            names = ", ".join(layer.name for layer in chip.layers)
            raise SnncError(f"--decimate {name}={n}: no chip layer is called {name!r}; chip layers: {names}")
        if n not in target.decimator_ratios:
            ratios = ", ".join(map(str, target.decimator_ratios))
            raise SnncError(f"--decimate {name}={n}: the output decimator passes 1 spike in N with N one of "
                            f"{ratios} on {target.name}")
        out[hits[0]] = target.decimator_ratios.index(n)
    return out


def _readout_layer(layer, target):
    """Spread the exit layer's channels to 0, 4, 8, ... (readout errata) and return (layer, channel list)."""
    f = layer.out_channels
    N_READOUT_CLASSES, READOUT_CHANNEL_STRIDE = target.readout_classes, target.readout_channel_stride
    if f > N_READOUT_CLASSES:
        raise SnncError(f"--readout: the output layer {layer.name} has {f} channels; the readout layer reads at "
                        f"most {N_READOUT_CLASSES} classes (remove --readout and read the output core's spikes)")
    channels = [READOUT_CHANNEL_STRIDE * k for k in range(f)]
    spread = (f - 1) * READOUT_CHANNEL_STRIDE + 1
    if spread > target.max_channels:
        raise SnncError(f"--readout: spreading {layer.name}'s channels needs {spread} channels")
    out = copy.copy(layer)
    w = np.zeros((spread,) + layer.weight.shape[1:], dtype=np.int64)
    w[channels] = layer.weight
    out.weight = w
    if layer.bias is not None:
        b = np.zeros(spread, dtype=np.int64)
        b[channels] = layer.bias
        out.bias = b
    if layer.v_init is not None:
        v = np.zeros((spread,) + layer.v_init.shape[1:], dtype=np.int64)
        v[channels] = layer.v_init
        out.v_init = v
    out.output_shape = (spread,) + tuple(layer.output_shape[1:])
    core = target.cores[layer.core]
    from ..compiler.memory import memory

    m = memory(out)
    for kind in ("kernel", "neuron", "bias"):
        if m[kind] > getattr(core, f"{kind}_memory"):
            raise SnncError(f"--readout: with its channels spread to 0, 4, 8, ... (readout errata), "
                            f"{layer.name} needs {m[kind]} words of {kind} memory, core {layer.core} has "
                            f"{getattr(core, f'{kind}_memory')}; remove --readout or make the layer smaller")
    return out, channels


def cnn_layer_config(layer, core_of: dict[int, int], readout: bool = False, decimator: int | None = None) -> dict:
    """One used core's entry, from an integer chip layer (``quantized=True``)."""
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
    if readout and exit_pool is not None:
        dests.append({"enable": True, "layer": 12, "pooling": int(exit_pool), "feature_shift": 0})
    if len(dests) > 2:
        raise SnncError(f"{layer.name}: {len(dests)} destinations; a core has 2")
    dests += [_disabled_destination() for _ in range(2 - len(dests))]
    return {
        "dimensions": {"input_shape": _shape(c, ih, iw), "output_shape": _shape(f, oh, ow),
                       "padding": _xy(layer.padding), "stride": _xy(layer.stride), "kernel_size": int(kh)},
        "weights": w.tolist(),
        "biases": bias.tolist(),
        "neurons_initial_value": v0.tolist(),
        "leak_enable": bool(layer.bias is not None and np.any(bias)),
        "leak_internal_slow_clk_enable": False,
        "threshold_high": int(layer.threshold_high),
        "threshold_low": int(layer.threshold_low),
        "return_to_zero": layer.reset == "zero",
        "monitor_enable": exit_pool is not None,
        "destinations": dests,
        "output_decimator_enable": decimator is not None,
        "output_decimator_interval": int(decimator or 0),
        "input_congestion_balancer_enable": False,
    }


def dvs_layer_config(chip, target, core_of: dict[int, int], dvs_input: bool) -> dict:
    """The DVS layer: routes the sensor to the input cores when the input comes from the DVS, else disabled."""
    cfg = {"merge": False, "on_channel": True, "off_channel": True, "pooling": {"x": 1, "y": 1},
           "origin": {"x": 0, "y": 0}, "cut": {"x": target.dvs_size - 1, "y": target.dvs_size - 1},
           "mirror": {"x": False, "y": False}, "mirror_diagonal": False, "monitor_enable": False,
           "raw_monitor_enable": False, "pass_sensor_events": False,
           "destinations": [{"enable": False, "layer": 0}, {"enable": False, "layer": 0}]}
    if not dvs_input:
        return cfg
    shape = tuple(chip.input_shape)
    if len(shape) != 3 or shape[0] not in (1, 2):
        raise SnncError(f"--dvs-input: the DVS gives 1 (merged) or 2 (on/off) polarity channels; the model's input "
                        f"is {list(shape)} (drop --dvs-input to feed the input cores directly)")
    c, h, w = shape
    if h > target.dvs_size or w > target.dvs_size:
        raise SnncError(f"--dvs-input: the model's input {h}x{w} is larger than the {target.dvs_size}x"
                        f"{target.dvs_size} sensor")
    p = int(chip.input_pooling)
    if len(chip.input_targets) > 2:
        raise SnncError(f"--dvs-input: the input feeds {len(chip.input_targets)} layers; the DVS layer has 2 "
                        "destinations")
    cfg.update({"merge": c == 1, "pooling": {"x": p, "y": p},
                "cut": {"x": w // p - 1, "y": h // p - 1}, "pass_sensor_events": True})
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


def _gc_paused(fn):
    """Run ``fn`` with Python's cyclic garbage collector paused.

    A configuration is millions of small ints in nested lists; building or reading one makes the collector walk
    them again and again (measured: a 9-core build took 10 ms without it and up to 170 ms with it).  These lists
    hold no reference cycles, so nothing is lost by pausing; the collector's state is restored afterwards.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()
    return wrapper


@_gc_paused
def build_config(result) -> dict:
    """The configuration dict of a compiled model (``run_pipeline(..., until="quantize")`` that fits)."""
    chip, target, options = result.chip, result.target, result.options
    if chip is None or not chip.layers:
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
        if len(exits) != 1:
            raise SnncError(f"--readout needs exactly one output layer; the model has {len(exits)}")
        layers[exits[0]], channels_of[exits[0]] = _readout_layer(layers[exits[0]], target)

    cnn = [unused_cnn_layer() for _ in range(target.n_cores)]
    for i, layer in enumerate(layers):
        cnn[core_of[i]] = cnn_layer_config(layer, core_of, readout=readout, decimator=decim.get(i))

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
        out = {"core": core_of[i], "name": chip.layers[i].name}
        if i in channels_of:
            out["channels"] = channels_of[i]
        outputs.append(out)
    dvs = bool(getattr(options, "dvs_input", False))
    snnc = {
        "format_version": FORMAT_VERSION,
        "target": target.name,
        "source": _source(result),
        "input": {"source": "dvs" if dvs else "core", "shape": [int(s) for s in chip.input_shape],
                  "cores": [core_of[i] for i in chip.input_targets], "pooling": int(chip.input_pooling)},
        "outputs": outputs,
        "layers": snnc_layers,
        "quantization": {"policy": getattr(options, "quantize", "sinabs")},
        "simulator": dict(SIMULATOR_DEFAULTS),
    }
    return {  # the chip sections are plain Python values already (tolist / int / bool)
        "cnn_layers": cnn,
        "dvs_layer": dvs_layer_config(chip, target, core_of, dvs),
        "readout": readout_config(readout),
        "snnc": _jsonable(snnc),
    }


# ------------------------------------------------------------------------------------------------ text
def _has_dict(x) -> bool:
    """Whether a (homogeneous) list holds objects; looks at first elements only, so big arrays cost nothing."""
    while isinstance(x, list) and x:
        x = x[0]
    return isinstance(x, dict)


def _short(x: dict) -> str | None:
    """A small dict without lists, on one line (e.g. ``{"x": 1, "y": 2}``), or None."""
    if any(isinstance(v, list) for v in x.values()):
        return None
    text = json.dumps(x, separators=(", ", ": "), allow_nan=False)
    return text if len(text) <= 80 else None


def _encode(x, depth: int, out: list) -> None:
    pad = " " * depth
    if isinstance(x, dict):
        short = _short(x)
        if short is not None:
            out.append(short)
            return
        out.append("{\n")
        items = list(x.items())
        for k, (key, value) in enumerate(items):
            out.append(f"{pad} {json.dumps(str(key))}: ")
            _encode(value, depth + 1, out)
            out.append(",\n" if k < len(items) - 1 else "\n")
        out.append(pad + "}")
    elif isinstance(x, list) and _has_dict(x):
        out.append("[\n")
        for k, value in enumerate(x):
            out.append(pad + " ")
            _encode(value, depth + 1, out)
            out.append(",\n" if k < len(x) - 1 else "\n")
        out.append(pad + "]")
    else:  # scalars and arrays of numbers: one line
        out.append(json.dumps(x, separators=(",", ":"), allow_nan=False))


def dumps_config(config: dict) -> str:
    """The text of a configuration: keys in the dict's order, arrays of numbers on one line, ending in a newline.

    The same dict always gives the same text, and ``dumps_config(load_config(text_file))`` gives the file back.
    """
    out: list = []
    try:
        _encode(config, 0, out)
    except (TypeError, ValueError) as e:
        raise SnncError(f"configuration holds a value JSON cannot store: {e}") from None
    return "".join(out) + "\n"


@_gc_paused
def write_config(config: dict, path: str | Path) -> Path:
    """Check ``config`` (as :func:`load_config` does), then write it atomically: nothing half-written on failure."""
    load_config(config)
    text = dumps_config(config)
    return atomic_write(path, text.encode("utf-8"))


# ------------------------------------------------------------------------------------------------ loading
@lru_cache(maxsize=1)
def config_schema() -> dict:
    """The JSON schema of the format (``targets/config_schema.json``)."""
    return json.loads((Path(__file__).with_name("config_schema.json")).read_text(encoding="utf-8"))


def _field(path) -> str:
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else str(p))
    return s or "(top level)"


@_gc_paused
def load_config(source: str | Path | dict) -> dict:
    """Read (from a path) and check a configuration; returns the dict.

    Checks the JSON schema (``targets/config_schema.json``) and the chip's rules (``targets/speck.py``): integer
    ranges, threshold_low != 0, array shapes against ``dimensions``, the output size formula, strides, paddings,
    kernel sizes, poolings, destinations (to used cores whose input shape matches), the DVS layer.  Each
    rejection is a SnncError naming the field, e.g. ``cnn_layers[3].weights[2][0][1][1] = 300 is outside int8``.
    """
    where = "configuration"
    if isinstance(source, dict):
        config = source
    else:
        where = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SnncError(f"{where}: no such file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise SnncError(f"{where}: cannot read it as text ({e})") from None
        try:
            config = json.loads(text)
        except json.JSONDecodeError as e:
            raise SnncError(f"{where}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); expected a "
                            "configuration written by `snnc compile`") from None
    if not isinstance(config, dict):
        raise SnncError(f"{where}: expected a JSON object with cnn_layers, dvs_layer, readout and snnc, got "
                        f"{type(config).__name__}")
    _check_schema(config, where)
    _check_chip(config, where)
    return config


@lru_cache(maxsize=1)
def _validator_class():
    """Draft 2020-12, except that 1.0 is not an integer (the chip's fields are written as plain integers)."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine("integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool))
    return jsonschema.validators.extend(base, type_checker=checker)


def _check_schema(config: dict, where: str) -> None:
    import jsonschema

    validator = _validator_class()(config_schema())
    err = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if err is not None:
        raise SnncError(f"{where}: {_field(err.absolute_path)}: {err.message}")


def _array(value, name: str, where: str, ndim: int) -> np.ndarray:
    try:
        a = np.array(value)
    except (ValueError, OverflowError):
        a = None
    # numpy turns a true/false among integers into 1/0; JSON's own text shows them (and costs a C-speed pass)
    has_bool = a is not None and a.size and a.dtype.kind in "iub" and (
        a.dtype.kind == "b" or "t" in (text := json.dumps(value)) or "f" in text)
    if a is None or a.ndim != ndim or (a.size and a.dtype.kind not in "iu") or has_bool:
        # find out which: ragged, wrong depth, or non-integers
        def walk(v, path, depth):
            if depth == ndim:
                if type(v) is not int:
                    raise SnncError(f"{where}: {name}{path} = {json.dumps(v)} is not an integer")
                if abs(v) >= 2 ** 63:
                    raise SnncError(f"{where}: {name}{path} = {v} is far outside the chip's range")
                return
            if not isinstance(v, list):
                raise SnncError(f"{where}: {name}{path} should be a {ndim - depth}-d list, got {json.dumps(v)[:40]}")
            for k, item in enumerate(v):
                walk(item, f"{path}[{k}]", depth + 1)

        walk(value, "", 0)
        raise SnncError(f"{where}: {name} is ragged (its rows have different lengths)")
    return a.astype(np.int64, copy=False) if a.size else np.zeros(a.shape, dtype=np.int64)


def _check_range(a: np.ndarray, name: str, where: str, rng: tuple[int, int], label: str) -> None:
    bad = np.argwhere((a < rng[0]) | (a > rng[1]))
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        raise SnncError(f"{where}: {name}{''.join(f'[{v}]' for v in idx)} = {int(a[idx])} is outside {label} "
                        f"[{rng[0]}, {rng[1]}]")


def _bits_label(bits: int) -> str:
    return f"int{bits}"


def _check_chip(config: dict, where: str) -> None:
    snnc = config["snnc"]
    if snnc["format_version"] != FORMAT_VERSION:
        raise SnncError(f"{where}: snnc.format_version {snnc['format_version']} is not supported (this snnc reads "
                        f"version {FORMAT_VERSION}); recompile the model with this snnc")
    try:
        target = get_target(snnc["target"])
    except SnncError as e:
        raise SnncError(f"{where}: snnc.target: {e}") from None
    layers = config["cnn_layers"]
    if len(layers) != target.n_cores:
        raise SnncError(f"{where}: cnn_layers has {len(layers)} entries; {target.name} has {target.n_cores} cores")
    used = [bool(layer["weights"]) for layer in layers]
    readout_on = config["readout"]["enable"]
    for i, layer in enumerate(layers):
        name = f"cnn_layers[{i}]"
        if not used[i]:
            for k, d in enumerate(layer["destinations"]):
                if d["enable"]:
                    raise SnncError(f"{where}: {name}.destinations[{k}] is enabled but core {i} is unused (it has "
                                    "no weights)")
            if layer["monitor_enable"]:
                raise SnncError(f"{where}: {name}.monitor_enable is true but core {i} is unused (it has no weights)")
            continue
        _check_used_layer(layer, name, where, target, layers, used, readout_on)
    _check_dvs(config["dvs_layer"], where, target, layers, used)


def _check_used_layer(layer, name, where, target, layers, used, readout_on) -> None:
    dim = layer["dimensions"]
    c = dim["input_shape"]["feature_count"]
    ix, iy = dim["input_shape"]["size"]["x"], dim["input_shape"]["size"]["y"]
    f = dim["output_shape"]["feature_count"]
    ox, oy = dim["output_shape"]["size"]["x"], dim["output_shape"]["size"]["y"]
    k = dim["kernel_size"]
    for axis in ("x", "y"):
        s, p = dim["stride"][axis], dim["padding"][axis]
        if s not in target.strides:
            raise SnncError(f"{where}: {name}.dimensions.stride.{axis} = {s}; {target.name} strides are "
                            f"{', '.join(map(str, target.strides))}")
        if not 0 <= p <= target.max_padding:
            raise SnncError(f"{where}: {name}.dimensions.padding.{axis} = {p} is outside 0..{target.max_padding}")
    if k not in target.kernel_sizes:
        raise SnncError(f"{where}: {name}.dimensions.kernel_size = {k} is outside {min(target.kernel_sizes)}.."
                        f"{max(target.kernel_sizes)}")
    for label, v, lim in (("input_shape.size.x", ix, target.max_input_size),
                          ("input_shape.size.y", iy, target.max_input_size),
                          ("output_shape.size.x", ox, target.max_output_size),
                          ("output_shape.size.y", oy, target.max_output_size),
                          ("input_shape.feature_count", c, target.max_channels),
                          ("output_shape.feature_count", f, target.max_channels)):
        if not 1 <= v <= lim:
            raise SnncError(f"{where}: {name}.dimensions.{label} = {v} is outside 1..{lim}")
    for axis, i_, o_ in (("x", ix, ox), ("y", iy, oy)):
        s, p = dim["stride"][axis], dim["padding"][axis]
        expect = conv_output_size(i_, k, s, p)
        if o_ != expect:
            raise SnncError(f"{where}: {name}.dimensions.output_shape.size.{axis} = {o_}, but input {i_}, kernel {k}, "
                            f"padding {p}, stride {s} give floor(({i_} + 2*{p} - {k}) / {s}) + 1 = {expect}")
    w = _array(layer["weights"], f"{name}.weights", where, 4)
    if w.shape != (f, c, k, k):
        raise SnncError(f"{where}: {name}.weights has shape {list(w.shape)}; dimensions say [{f}][{c}][{k}][{k}] "
                        "([out][in][x][y])")
    _check_range(w, f"{name}.weights", where, target.weight_range, _bits_label(target.weight_bits))
    b = _array(layer["biases"], f"{name}.biases", where, 1)
    if b.shape != (f,):
        raise SnncError(f"{where}: {name}.biases has {b.shape[0]} entries for {f} output features")
    _check_range(b, f"{name}.biases", where, target.bias_range, _bits_label(target.bias_bits))
    v = _array(layer["neurons_initial_value"], f"{name}.neurons_initial_value", where, 3)
    if v.shape != (f, ox, oy):
        raise SnncError(f"{where}: {name}.neurons_initial_value has shape {list(v.shape)}; dimensions say "
                        f"[{f}][{ox}][{oy}] ([feature][x][y])")
    _check_range(v, f"{name}.neurons_initial_value", where, target.state_range, _bits_label(target.state_bits))
    lo, hi = target.threshold_range
    for key in ("threshold_high", "threshold_low"):
        if not lo <= layer[key] <= hi:
            raise SnncError(f"{where}: {name}.{key} = {layer[key]} is outside {_bits_label(target.threshold_bits)} "
                            f"[{lo}, {hi}]")
    if layer["threshold_low"] != chip_threshold_low(layer["threshold_low"]):
        raise SnncError(f"{where}: {name}.threshold_low is {layer['threshold_low']}, which the chip cannot use "
                        f"(hardware bug); use {chip_threshold_low(layer['threshold_low'])}")
    if layer["threshold_low"] >= layer["threshold_high"]:
        raise SnncError(f"{where}: {name}.threshold_low = {layer['threshold_low']} is not below threshold_high = "
                        f"{layer['threshold_high']}")
    if not 0 <= layer["output_decimator_interval"] < len(target.decimator_ratios):
        raise SnncError(f"{where}: {name}.output_decimator_interval = {layer['output_decimator_interval']} is "
                        f"outside 0..{len(target.decimator_ratios) - 1}")
    for j, d in enumerate(layer["destinations"]):
        if not d["enable"]:
            continue
        dn = f"{name}.destinations[{j}]"
        if d["pooling"] not in target.poolings:
            raise SnncError(f"{where}: {dn}.pooling = {d['pooling']}; pooling is one of "
                            f"{', '.join(map(str, target.poolings))}")
        t = d["layer"]
        if t == target.readout_layer:
            if not readout_on:
                raise SnncError(f"{where}: {dn}.layer = {t} (readout) but readout.enable is false")
            continue
        if not 0 <= t < target.n_cores:
            raise SnncError(f"{where}: {dn}.layer = {t} is not a core (0..{target.n_cores - 1}) or the readout "
                            f"({target.readout_layer})")
        if not used[t]:
            raise SnncError(f"{where}: {dn}.layer = {t}, but core {t} is unused (it has no weights)")
        tin = layers[t]["dimensions"]["input_shape"]
        px, py = ox // d["pooling"], oy // d["pooling"]
        if (tin["size"]["x"], tin["size"]["y"]) != (px, py):
            raise SnncError(f"{where}: {dn}: core {t} expects a {tin['size']['x']}x{tin['size']['y']} input, this "
                            f"core sends {ox}x{oy} pooled by {d['pooling']} = {px}x{py}")
        if f + d["feature_shift"] > tin["feature_count"] or d["feature_shift"] < 0:
            raise SnncError(f"{where}: {dn}: features {d['feature_shift']}..{d['feature_shift'] + f - 1} do not "
                            f"fit core {t}'s {tin['feature_count']} input features")


def _check_dvs(dvs: dict, where: str, target, layers, used) -> None:
    for axis in ("x", "y"):
        p = dvs["pooling"][axis]
        if p not in target.poolings:
            raise SnncError(f"{where}: dvs_layer.pooling.{axis} = {p}; pooling is one of "
                            f"{', '.join(map(str, target.poolings))}")
        o, c = dvs["origin"][axis], dvs["cut"][axis]
        if not 0 <= o <= c < target.dvs_size:
            raise SnncError(f"{where}: dvs_layer origin.{axis} = {o}, cut.{axis} = {c}: need 0 <= origin <= cut < "
                            f"{target.dvs_size}")
    for j, d in enumerate(dvs["destinations"]):
        if not d["enable"]:
            continue
        t = d["layer"]
        if not 0 <= t < target.n_cores or not used[t]:
            raise SnncError(f"{where}: dvs_layer.destinations[{j}].layer = {t} is not a used core")
        tin = layers[t]["dimensions"]["input_shape"]
        size = (dvs["cut"]["x"] - dvs["origin"]["x"] + 1, dvs["cut"]["y"] - dvs["origin"]["y"] + 1)
        if (tin["size"]["x"], tin["size"]["y"]) != size:
            raise SnncError(f"{where}: dvs_layer.destinations[{j}]: core {t} expects a {tin['size']['x']}x"
                            f"{tin['size']['y']} input, the DVS region origin..cut is {size[0]}x{size[1]}")
        channels = 1 if dvs["merge"] else 2
        if tin["feature_count"] != channels:
            raise SnncError(f"{where}: dvs_layer.destinations[{j}]: core {t} expects {tin['feature_count']} input "
                            f"features, the DVS sends {channels} (merge = {str(dvs['merge']).lower()})")


__all__ = ["FORMAT_VERSION", "build_config", "dumps_config", "write_config", "atomic_write", "load_config",
           "config_schema", "cnn_layer_config", "dvs_layer_config", "readout_config", "unused_cnn_layer"]
