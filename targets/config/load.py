"""Read a configuration (path or dict) and check it: the JSON schema, then the chip's rules.  Every problem is
reported, not only the first: the checks run per independent unit (a core's dimensions, its weights, biases,
initial states, thresholds, decimator, each destination; the DVS layer) and one SnncError lists them all."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...compiler.errors import SnncError
from ...compiler.fileio import check_input
from ...compiler.geometry import conv_output_size
from ...compiler.quantize import chip_threshold_low
from ..speck import get_target
from .build import FORMAT_VERSION
from .gcpause import gc_paused


class _Problems:
    """Collects the problems of independent checks; :meth:`raise_any` raises one SnncError listing them all."""

    def __init__(self, where: str):
        self.where = where
        self.messages: list[str] = []

    def run(self, check, *args) -> None:
        try:
            check(*args)
        except SnncError as e:
            self.messages.append(str(e))

    def raise_any(self) -> None:
        if not self.messages:
            return
        if len(self.messages) == 1:
            raise SnncError(self.messages[0])
        prefix = f"{self.where}: "
        parts = [m[len(prefix):] if m.startswith(prefix) else m for m in self.messages]
        raise SnncError(f"{self.where}: {len(parts)} problems: " + "; ".join(parts))


@lru_cache(maxsize=1)
def config_schema() -> dict:
    """The JSON schema of the format (``targets/config_schema.json``)."""
    return json.loads((Path(__file__).parent.parent / "config_schema.json").read_text(encoding="utf-8"))


def _field(path) -> str:
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else str(p))
    return s or "(top level)"


@gc_paused
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
        check_input(source, "configuration")
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
        except RecursionError:
            raise SnncError(f"{where}: JSON nested too deeply; expected a configuration written by `snnc compile`") \
                from None
        except ValueError as e:  # e.g. an integer literal of thousands of digits
            why = ("an integer literal has thousands of digits" if "digits" in str(e)
                   else str(e).splitlines()[0][:120] if str(e) else type(e).__name__)
            raise SnncError(f"{where}: not a usable JSON configuration ({why}); expected one written by `snnc "
                            "compile`") from None
    return check_config(config, where)


def check_config(config, where: str = "configuration", arrays: bool = False) -> dict:
    """The checks of :func:`load_config` on a configuration dict; returns it.  With ``arrays`` the cores' weights,
    biases and initial states may also be integer numpy arrays (``build_config(..., arrays=True)``): they are held
    to the same rules (dimensions, shapes, ranges) as lists."""
    if not isinstance(config, dict):
        raise SnncError(f"{where}: expected a JSON object with cnn_layers, dvs_layer, readout (when the chip has one) and snnc, got "
                        f"{type(config).__name__}")
    try:
        _check_schema(_arrays_as_lists(config) if arrays else config, where)
        _check_chip(config, where)
    except RecursionError:
        raise SnncError(f"{where}: a value is nested too deeply; expected a configuration written by `snnc "
                        "compile`") from None
    _check_input(config, where)
    return config


_ARRAY_FIELDS = ("weights", "biases", "neurons_initial_value")


def _arrays_as_lists(config: dict) -> dict:
    """What the schema sees of a configuration holding numpy arrays: each core's array fields that are integer
    arrays become empty lists (the schema asks only that they be arrays; their elements are checked by _array)."""
    layers = config.get("cnn_layers")
    if not isinstance(layers, list):
        return config
    seen = dict(config)
    seen["cnn_layers"] = [
        {k: [] if k in _ARRAY_FIELDS and isinstance(v, np.ndarray) and v.dtype.kind in "iu" and v.ndim else v
         for k, v in layer.items()} if isinstance(layer, dict) else layer
        for layer in layers]
    return seen


def _check_input(config: dict, where: str) -> None:
    """snnc.input.shape must be [C, H, W] within what the chip can receive (events carry int16 x, y)."""
    target = get_target(config["snnc"]["target"])
    inp = config["snnc"]["input"]
    shape = inp["shape"]
    if len(shape) != 3:
        raise SnncError(f"{where}: snnc.input.shape = {shape} must be [C, H, W]")
    pool = inp.get("pooling", 1)
    if pool > max(target.poolings) ** 2:
        raise SnncError(f"{where}: snnc.input.pooling = {pool} is beyond what {target.name} can pool (at most "
                        f"{max(target.poolings) ** 2}); recompile the model with `snnc compile`")
    c, h, w = shape
    side = min(max(target.max_input_size, target.dvs_size) * pool, 32768)  # event x, y are int16
    if c > target.max_channels or h > side or w > side:
        raise SnncError(f"{where}: snnc.input.shape = {shape} is beyond what {target.name} takes (at most "
                        f"{target.max_channels} channels and {side}x{side} pixels"
                        f"{' with pooling ' + str(pool) if pool > 1 else ''}); recompile the model with `snnc compile`")


@lru_cache(maxsize=1)
def _validator_class():
    """Draft 2020-12, except that 1.0 is not an integer (the chip's fields are written as plain integers)."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine("integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool))
    return jsonschema.validators.extend(base, type_checker=checker)


@lru_cache(maxsize=1)
def _fast_validator():
    """The schema compiled to Python by fastjsonschema: the check every load runs.  Compiled as draft-04, whose
    ``integer`` is strict (1.0 and true are not integers), like :func:`_validator_class`; the schema uses only
    keywords that mean the same in draft-04 and 2020-12 (tests/test_config_fast_check.py holds both to the same
    verdicts).  Only when it rejects does jsonschema run, to name every problem."""
    import fastjsonschema

    return fastjsonschema.compile({**config_schema(), "$schema": "http://json-schema.org/draft-04/schema#"})


def _check_schema(config: dict, where: str) -> None:
    import fastjsonschema
    import jsonschema

    try:
        _fast_validator()(config)
        return
    except fastjsonschema.JsonSchemaException:
        pass
    validator = _validator_class()(config_schema())
    errors = list(validator.iter_errors(config))
    if not errors:
        return
    best = jsonschema.exceptions.best_match(errors)  # the most relevant first, then one line per other error
    rest = [jsonschema.exceptions.best_match([e]) for e in errors if e is not best]
    problems = _Problems(where)
    for err in [best] + sorted(rest, key=lambda e: list(map(str, e.absolute_path))):
        problems.messages.append(f"{where}: {_field(err.absolute_path)}: {err.message}")
    problems.raise_any()


_BRACKETS_TO_SPACES = bytes.maketrans(b"[]", b"  ")
@lru_cache(maxsize=256)
def _skeleton(shape: tuple) -> bytes:
    """The JSON text of a regular array of ``shape`` with its digits and minus signs removed: ``[[,,],[,,]]``."""
    inner = b""
    for n in reversed(shape):
        inner = b"[" + b",".join([inner] * n) + b"]"
    return inner


def _int_array_fast(value, ndim: int) -> np.ndarray | None:
    """A regular nested list of integers as an int64 array, without a Python step per element; None when ``value``
    is anything else (empty, ragged, wrong depth, floats, booleans, strings, integers beyond 2**53): the slow path
    then finds out which.  orjson writes the list as JSON text in C; the text with its digits and minus signs removed
    must be exactly the bracket-and-comma skeleton of the shape read from the first elements, so every element is a
    plain integer (true, 1.5, "1", null would leave letters, dots or quotes), and numpy reads the numbers."""
    import orjson

    if isinstance(value, np.ndarray):  # built by build_config(..., arrays=True)
        ints = value.dtype.kind == "i" or (value.dtype.kind == "u" and value.dtype.itemsize < 8)  # fit int64
        return value.astype(np.int64, copy=False) if ints and value.ndim == ndim and value.size else None
    shape, v = [], value
    for _ in range(ndim):
        if not isinstance(v, list) or not v:
            return None
        shape.append(len(v))
        v = v[0]
    try:
        text = orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER)
    except (TypeError, orjson.JSONEncodeError):
        return None
    if text.translate(None, b"0123456789-") != _skeleton(tuple(shape)):
        return None
    size = int(np.prod(shape))
    if len(text) - len(_skeleton(tuple(shape))) == size and text.count(b"0") == size:
        values = np.zeros(size, np.int64)  # one "0" per element and no other digit: all zeros (initial states)
    else:
        values = np.fromstring(text.translate(_BRACKETS_TO_SPACES), dtype=np.int64, sep=",")
        if values.size != size:
            return None
    return values.reshape(shape)


def _array(value, name: str, where: str, ndim: int) -> np.ndarray:
    fast = _int_array_fast(value, ndim)
    if fast is not None:
        return fast
    if isinstance(value, np.ndarray):  # not integers, or the wrong depth: the list path names the problem
        value = value.tolist()
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
    if not a.size or (rng[0] <= a.min() and a.max() <= rng[1]):
        return
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
    used = [len(layer["weights"]) > 0 for layer in layers]
    if target.has_readout and "readout" not in config:
        raise SnncError(f"{where}: no readout section; {target.name} has a readout layer, so the configuration "
                        "needs one (readout.enable false when unused); recompile the model with this snnc")
    if not target.has_readout and config.get("readout", {}).get("enable"):
        raise SnncError(f"{where}: readout.enable is true, but {target.name} has no readout layer; remove the "
                        "readout section")
    readout_on = target.has_readout and config["readout"]["enable"]
    problems = _Problems(where)
    for i, layer in enumerate(layers):
        name = f"cnn_layers[{i}]"
        if not used[i]:
            problems.run(_check_unused_layer, layer, name, where, i)
            continue
        _check_used_layer(problems, layer, name, where, target, layers, used, readout_on)
    _check_dvs(problems, config["dvs_layer"], where, target, layers, used)
    problems.raise_any()


def _check_unused_layer(layer, name, where, i) -> None:
    for k, d in enumerate(layer["destinations"]):
        if d["enable"]:
            raise SnncError(f"{where}: {name}.destinations[{k}] is enabled but core {i} is unused (it has "
                            "no weights)")
    if layer["monitor_enable"]:
        raise SnncError(f"{where}: {name}.monitor_enable is true but core {i} is unused (it has no weights)")


def _check_used_layer(problems: _Problems, layer, name, where, target, layers, used, readout_on) -> None:
    """One used core, in independent units; each unit stops at its first problem."""
    dim = layer["dimensions"]
    c = dim["input_shape"]["feature_count"]
    ix, iy = dim["input_shape"]["size"]["x"], dim["input_shape"]["size"]["y"]
    f = dim["output_shape"]["feature_count"]
    ox, oy = dim["output_shape"]["size"]["x"], dim["output_shape"]["size"]["y"]
    k = dim["kernel_size"]

    def dimensions():
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
                raise SnncError(f"{where}: {name}.dimensions.output_shape.size.{axis} = {o_}, but input {i_}, "
                                f"kernel {k}, padding {p}, stride {s} give floor(({i_} + 2*{p} - {k}) / {s}) + 1 = {expect}")

    def weights():
        w = _array(layer["weights"], f"{name}.weights", where, 4)
        if w.shape != (f, c, k, k):
            raise SnncError(f"{where}: {name}.weights has shape {list(w.shape)}; dimensions say [{f}][{c}][{k}][{k}] "
                            "([out][in][x][y])")
        _check_range(w, f"{name}.weights", where, target.weight_range, _bits_label(target.weight_bits))

    def biases():
        b = _array(layer["biases"], f"{name}.biases", where, 1)
        if b.shape != (f,):
            raise SnncError(f"{where}: {name}.biases has {b.shape[0]} entries for {f} output features")
        _check_range(b, f"{name}.biases", where, target.bias_range, _bits_label(target.bias_bits))

    def initial_states():
        v = _array(layer["neurons_initial_value"], f"{name}.neurons_initial_value", where, 3)
        if v.shape != (f, ox, oy):
            raise SnncError(f"{where}: {name}.neurons_initial_value has shape {list(v.shape)}; dimensions say "
                            f"[{f}][{ox}][{oy}] ([feature][x][y])")
        _check_range(v, f"{name}.neurons_initial_value", where, target.state_range, _bits_label(target.state_bits))

    def thresholds():
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

    def decimator():
        if not 0 <= layer["output_decimator_interval"] < len(target.decimator_ratios):
            raise SnncError(f"{where}: {name}.output_decimator_interval = {layer['output_decimator_interval']} is "
                            f"outside 0..{len(target.decimator_ratios) - 1}")

    def destination(j, d):
        dn = f"{name}.destinations[{j}]"
        if d["pooling"] not in target.poolings:
            raise SnncError(f"{where}: {dn}.pooling = {d['pooling']}; pooling is one of "
                            f"{', '.join(map(str, target.poolings))}")
        t = d["layer"]
        if target.has_readout and t == target.readout_layer:
            if not readout_on:
                raise SnncError(f"{where}: {dn}.layer = {t} (readout) but readout.enable is false")
            return
        if not 0 <= t < target.n_cores:
            raise SnncError(f"{where}: {dn}.layer = {t} is not a core (0..{target.n_cores - 1})"
                            + (f" or the readout ({target.readout_layer})" if target.has_readout else ""))
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

    for unit in (dimensions, weights, biases, initial_states, thresholds, decimator):
        problems.run(unit)
    for j, d in enumerate(layer["destinations"]):
        if d["enable"]:
            problems.run(destination, j, d)


def _check_dvs(problems: _Problems, dvs: dict, where: str, target, layers, used) -> None:
    """The DVS layer: each axis and each enabled destination is one unit."""
    for axis in ("x", "y"):
        problems.run(_check_dvs_axis, dvs, axis, where, target)
    for j, d in enumerate(dvs["destinations"]):
        if d["enable"]:
            problems.run(_check_dvs_destination, dvs, j, d, where, target, layers, used)


def _check_dvs_axis(dvs: dict, axis: str, where: str, target) -> None:
    p = dvs["pooling"][axis]
    if p not in target.poolings:
        raise SnncError(f"{where}: dvs_layer.pooling.{axis} = {p}; pooling is one of "
                        f"{', '.join(map(str, target.poolings))}")
    o, c = dvs["origin"][axis], dvs["cut"][axis]
    if not 0 <= o <= c < target.dvs_size:
        raise SnncError(f"{where}: dvs_layer origin.{axis} = {o}, cut.{axis} = {c}: need 0 <= origin <= cut < "
                        f"{target.dvs_size}")


def _check_dvs_destination(dvs: dict, j: int, d: dict, where: str, target, layers, used) -> None:
    t = d["layer"]
    if not 0 <= t < target.n_cores or not used[t]:
        raise SnncError(f"{where}: dvs_layer.destinations[{j}].layer = {t} is not a used core")
    tin = layers[t]["dimensions"]["input_shape"]
    size = (dvs["cut"]["x"] - dvs["origin"]["x"] + 1, dvs["cut"]["y"] - dvs["origin"]["y"] + 1)
    if dvs["mirror_diagonal"]:  # x and y swap after the region is cut
        size = size[::-1]
    if (tin["size"]["x"], tin["size"]["y"]) != size:
        raise SnncError(f"{where}: dvs_layer.destinations[{j}]: core {t} expects a {tin['size']['x']}x"
                        f"{tin['size']['y']} input, the DVS region origin..cut is {size[0]}x{size[1]}")
    channels = 1 if dvs["merge"] else 2
    if tin["feature_count"] != channels:
        raise SnncError(f"{where}: dvs_layer.destinations[{j}]: core {t} expects {tin['feature_count']} input "
                        f"features, the DVS sends {channels} (merge = {str(dvs['merge']).lower()})")
