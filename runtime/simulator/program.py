"""A configuration (docs/config-format.md) turned into what the simulators run: a :class:`SimProgram` of
:class:`SimCore` s (plus the DVS layer's :class:`SimDvs`), checked for everything the simulators rely on."""
from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from ...compiler.errors import SnncError
from ...compiler.geometry import conv_output_size
from ...targets.config import load_config
from ...targets.speck import Target, get_target
from .. import neuron

#: Highest slow clock the simulator takes: one leak tick per microsecond (event times are whole microseconds).
MAX_SLOW_CLOCK_HZ = 1e6


def read_config(path_or_dict) -> dict:
    """Read a configuration (path or dict) with ``snnc.targets.config.load_config`` (schema and range checks)."""
    return load_config(path_or_dict)


@dataclass
class SimCore:
    """One used core, as the simulators need it.  Arrays are in torch order: weights [F, C, ky, kx], states
    [F, y, x] (the config's [out][in][x][y] and [f][x][y] transposed)."""

    core: int
    in_shape: tuple[int, int, int]  # C, H, W
    out_shape: tuple[int, int, int]  # F, H, W (before pooling)
    kernel: int
    stride: tuple[int, int]  # (y, x)
    padding: tuple[int, int]  # (y, x)
    weights: np.ndarray
    biases: np.ndarray
    v_init: np.ndarray
    threshold_high: int
    threshold_low: int
    return_to_zero: bool
    leak_enable: bool
    monitor: bool
    decimator: int  # 0 = off, else N
    destinations: list[tuple[int, int, int]]  # enabled ones, in order: (layer, pooling, feature_shift)


@dataclass
class SimDvs:
    merge: bool
    on_channel: bool
    off_channel: bool
    pooling: tuple[int, int]  # (x, y)
    origin: tuple[int, int]
    cut: tuple[int, int]
    mirror: tuple[bool, bool]
    mirror_diagonal: bool
    monitor: bool
    destinations: list[int]


@dataclass
class SimProgram:
    """A parsed configuration: the chip, the used cores, where input events go, and the readout settings."""

    target: Target  # the chip named by snnc.target (its event-layer ids, ranges, decimator ratios)
    cores: dict[int, SimCore]
    input_source: str  # "core" or "dvs"
    input_shape: tuple[int, int, int]
    input_cores: list[int]
    dvs: SimDvs | None
    readout: dict | None
    slow_clock_hz: float | None
    leak_can_fire: bool
    saturate: bool
    input_pooling: int = 1  # snnc.input.pooling: core input only, (x, y) -> (x // p, y // p) before delivery
    max_events: int | None = None  # spikes one input event may cause (None: budget.default_max_events)
    max_total_events: int | None = None  # spikes in all (None: max(5e7, 1000 per input event))
    #: cores whose input congestion balancer is on: the chip drops events while they are busy (not simulated)
    congestion_balanced: tuple[int, ...] = ()
    #: {core: first channel} of cores whose monitored events are renumbered to the model's channels (a slice of a
    #: split layer: snnc.layers[].channels; an output core: snnc.outputs[].channel_offset); see split_outputs
    channel_offset: dict = dataclasses.field(default_factory=dict)



def congestion_warning(cores) -> str:
    """One line for a configuration that turns the input congestion balancer on (docs/speck.md §7: it drops
    input events while a core is busy, which depends on timing the simulators do not model)."""
    which = ", ".join(map(str, cores))
    return (f"configuration: input_congestion_balancer_enable is on for core{'s' * (len(cores) != 1)} {which}: the "
            "chip then drops input events while a core is busy, which depends on timing the simulator does not model; "
            "it delivers every event, so its results are those of the chip with the balancer off (turn it off for "
            "results the chip reproduces)")


def _get(d, *keys, where="", default=KeyError):
    cur = d
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            if default is not KeyError:
                return default
            raise SnncError(f"configuration: {where}{'.'.join(keys)} is missing; write the file with `snnc compile` "
                            "(format in docs/config-format.md)")
        cur = cur[k]
    return cur


def _int_array(value, shape, what, lo, hi) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.int64)
    except (ValueError, TypeError):
        raise SnncError(f"configuration: {what} is not a regular integer array") from None
    if arr.shape != tuple(shape):
        raise SnncError(f"configuration: {what} has shape {list(arr.shape)}, expected {list(shape)} from dimensions")
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise SnncError(f"configuration: {what} holds {int(arr.min())}..{int(arr.max())}, outside {lo}..{hi}")
    return arr


def program_from_config(config, overflow: str = "saturate", slow_clock_hz: float | None = None,
                        leak_can_fire: bool | None = None) -> SimProgram:
    """Turn a configuration (path or dict) into a :class:`SimProgram`; raise :class:`SnncError` on anything the
    simulator cannot run."""
    if overflow not in ("saturate", "wrap"):
        raise SnncError(f"overflow must be 'saturate' or 'wrap', not {overflow!r}")
    cfg = read_config(config)
    if not isinstance(cfg, dict) or not isinstance(cfg.get("cnn_layers"), list):
        raise SnncError("configuration: no 'cnn_layers' list; this is not an snnc configuration file")
    chip = get_target(_get(cfg, "snnc", "target"))
    layers = cfg["cnn_layers"]
    if len(layers) > chip.n_cores:
        raise SnncError(f"configuration: {len(layers)} cnn_layers, the chip has {chip.n_cores} cores")
    wlo, whi = chip.weight_range
    slo, shi = chip.state_range
    cores: dict[int, SimCore] = {}
    for i, L in enumerate(layers):
        where = f"cnn_layers[{i}]."
        dims = _get(L, "dimensions", where=where)
        F = int(_get(dims, "output_shape", "feature_count", where=where + "dimensions."))
        weights = L.get("weights") or []
        if F == 0 or len(weights) == 0:
            continue  # unused core
        C = int(_get(dims, "input_shape", "feature_count", where=where + "dimensions."))
        ih = int(_get(dims, "input_shape", "size", "y", where=where + "dimensions."))
        iw = int(_get(dims, "input_shape", "size", "x", where=where + "dimensions."))
        oh = int(_get(dims, "output_shape", "size", "y", where=where + "dimensions."))
        ow = int(_get(dims, "output_shape", "size", "x", where=where + "dimensions."))
        K = int(_get(dims, "kernel_size", where=where + "dimensions."))
        sy, sx = int(_get(dims, "stride", "y", where=where + "dimensions.")), int(_get(dims, "stride", "x", where=where + "dimensions."))
        py, px = int(_get(dims, "padding", "y", where=where + "dimensions.")), int(_get(dims, "padding", "x", where=where + "dimensions."))
        if min(C, ih, iw, oh, ow, K, sy, sx) < 1 or min(py, px) < 0:
            raise SnncError(f"configuration: core {i} has a zero or negative dimension")
        for axis, n_in, n_out, s, p in (("y", ih, oh, sy, py), ("x", iw, ow, sx, px)):
            expect = conv_output_size(n_in, K, s, p)
            if n_out != expect:
                raise SnncError(f"configuration: core {i} output size {axis}={n_out} does not match "
                                f"(in {n_in} + 2*pad {p} - kernel {K}) // stride {s} + 1 = {expect}")
        w = _int_array(weights, (F, C, K, K), f"cnn_layers[{i}].weights [out][in][x][y]", wlo, whi)
        w = np.ascontiguousarray(w.transpose(0, 1, 3, 2))  # -> [out][in][y][x]
        b = L.get("biases") or [0] * F
        b = _int_array(b, (F,), f"cnn_layers[{i}].biases", *chip.bias_range)
        v0 = L.get("neurons_initial_value")
        v0 = (np.zeros((F, oh, ow), np.int64) if not v0 else
              np.ascontiguousarray(_int_array(v0, (F, ow, oh), f"cnn_layers[{i}].neurons_initial_value [f][x][y]",
                                              slo, shi).transpose(0, 2, 1)))
        th_high = int(_get(L, "threshold_high", where=where))
        th_low = int(_get(L, "threshold_low", where=where))
        dec = 0
        if L.get("output_decimator_enable"):
            try:
                dec = neuron.decimator_ratio(int(L.get("output_decimator_interval", 0)), chip.decimator_ratios)
            except ValueError as e:
                raise SnncError(f"configuration: core {i}: {e}") from None
        dests = []
        for d in L.get("destinations", []):
            if d.get("enable"):
                pool = int(d.get("pooling", 1))
                if pool < 1:
                    raise SnncError(f"configuration: core {i} destination pooling {pool} must be >= 1")
                dests.append((int(d["layer"]), pool, int(d.get("feature_shift", 0))))
        cores[i] = SimCore(i, (C, ih, iw), (F, oh, ow), K, (sy, sx), (py, px), w, b, v0, th_high, th_low,
                               bool(L.get("return_to_zero")), bool(L.get("leak_enable")),
                               bool(L.get("monitor_enable")), dec, dests)
    dvs_only = (not cores and ((cfg.get("snnc") or {}).get("input") or {}).get("source") == "dvs"
                and bool((cfg.get("dvs_layer") or {}).get("monitor_enable")))  # the DVS layer alone, monitored
    if not cores and not dvs_only:
        raise SnncError("configuration: no core is used (every cnn_layers entry is empty)")
    for c in cores.values():
        for layer, _, _ in c.destinations:
            if layer != chip.readout_layer and layer not in cores:
                raise SnncError(f"configuration: core {c.core} sends spikes to layer {layer}, which is not a used "
                                f"core (used: {sorted(cores)}; the readout is {chip.readout_layer})")

    balanced = tuple(i for i, L in enumerate(cfg.get("cnn_layers") or []) if i in cores
                     and L.get("input_congestion_balancer_enable"))
    if balanced:
        warnings.warn(congestion_warning(balanced), UserWarning, stacklevel=2)

    meta = cfg.get("snnc") or {}
    inp = meta.get("input") or {}
    dvs_cfg = cfg.get("dvs_layer") or {}
    dvs_dests = [int(d["layer"]) for d in dvs_cfg.get("destinations", []) if d.get("enable")]
    source = inp.get("source") or ("dvs" if dvs_dests else None)
    if source not in ("core", "dvs"):
        raise SnncError("configuration: snnc.input.source is missing or not 'core'/'dvs'; cannot tell where the "
                        "input events go")
    dvs = None
    if source == "core":
        input_cores = [int(c) for c in inp.get("cores") or []]
        if not input_cores:
            raise SnncError("configuration: snnc.input.cores is empty; no core receives the input events")
        if input_cores[0] not in cores:
            raise SnncError(f"configuration: input events go to core {input_cores[0]}, which is not a used core "
                            f"(used: {sorted(cores)})")
        shape = inp.get("shape") or list(cores[input_cores[0]].in_shape)
    else:
        input_cores = dvs_dests
        if not dvs_dests and not dvs_only:
            raise SnncError("configuration: input goes to the DVS layer but both dvs_layer destinations are disabled")
        g = lambda k, a: int((dvs_cfg.get(k) or {}).get(a, 0))  # noqa: E731
        n = chip.dvs_size
        dvs = SimDvs(bool(dvs_cfg.get("merge")), bool(dvs_cfg.get("on_channel", True)),
                         bool(dvs_cfg.get("off_channel", True)),
                         (max(g("pooling", "x"), 1), max(g("pooling", "y"), 1)), (g("origin", "x"), g("origin", "y")),
                         (int((dvs_cfg.get("cut") or {}).get("x", n - 1)), int((dvs_cfg.get("cut") or {}).get("y", n - 1))),
                         (bool((dvs_cfg.get("mirror") or {}).get("x")), bool((dvs_cfg.get("mirror") or {}).get("y"))),
                         bool(dvs_cfg.get("mirror_diagonal")), bool(dvs_cfg.get("monitor_enable")), dvs_dests)
        shape = [2, n, n]
    for c in input_cores:
        if c not in cores:
            raise SnncError(f"configuration: input events go to core {c}, which is not a used core (used: "
                            f"{sorted(cores)})")
    if shape is None or len(shape) != 3:
        raise SnncError("configuration: snnc.input.shape must be [C, H, W]")
    simcfg = meta.get("simulator") or {}
    if slow_clock_hz is None:
        slow_clock_hz = simcfg.get("slow_clock_hz")
    if slow_clock_hz is not None:
        try:
            ok = isinstance(slow_clock_hz, numbers.Real) and not isinstance(slow_clock_hz, bool) and math.isfinite(
                float(slow_clock_hz)) and float(slow_clock_hz) > 0
        except OverflowError:
            ok = False
        if not ok:
            raise SnncError(f"slow clock must be a finite frequency > 0 Hz, got {slow_clock_hz!r}")
        if float(slow_clock_hz) > MAX_SLOW_CLOCK_HZ:
            raise SnncError(f"slow clock {slow_clock_hz} Hz is above {MAX_SLOW_CLOCK_HZ:.0f} Hz (one tick per "
                            "microsecond, the event time resolution); give the chip's slow-clock frequency")
    if leak_can_fire is None:
        leak_can_fire = bool(simcfg.get("leak_can_fire", False))
    leaky = [c.core for c in cores.values() if c.leak_enable]
    if leaky and slow_clock_hz is None:
        raise SnncError(f"configuration enables leak on core(s) {leaky}; give the slow-clock frequency "
                        "(--slow-clock HZ, or slow_clock_hz=...)")
    ro = cfg.get("readout") or {}
    readout = ro if ro.get("enable") else None
    pool = int(inp.get("pooling", 1) or 1) if source == "core" else 1
    return SimProgram(chip, cores, source, tuple(int(s) for s in shape), input_cores, dvs, readout,
                       None if slow_clock_hz is None else float(slow_clock_hz), bool(leak_can_fire),
                       overflow == "saturate", max(pool, 1), channel_offset=_channel_offsets(meta, cores),
                      congestion_balanced=balanced)


def _channel_offsets(meta: dict, cores: dict) -> dict[int, int]:
    """{core: first model channel} from the snnc section: a split layer's slices (``layers[].channels``), then the
    outputs (``outputs[].channel_offset``, which also covers a channel concatenation feeding the output)."""
    out: dict[int, int] = {}
    rows = [(r, (r.get("channels") or [0])[0]) for r in meta.get("layers") or [] if isinstance(r, dict)]
    rows += [(r, r.get("channel_offset", 0)) for r in meta.get("outputs") or [] if isinstance(r, dict)]
    for row, offset in rows:
        core = row.get("core")
        if isinstance(core, int) and core in cores and isinstance(offset, int) and 0 <= offset < 1 << 15:
            out[core] = offset
    return {c: o for c, o in out.items() if o}
