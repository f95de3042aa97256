"""The TOML training configuration: schema, defaults and strict validation.

Every section and key is listed in :data:`SCHEMA` with its type, default and allowed values.  An unknown section or
key, a value of the wrong type or out of range raises :class:`SnncError` naming the key (``model.channels``) and what
is accepted.  Paths are relative to the TOML file.  docs/training.md shows a full example.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snnc.compiler.errors import SnncError
from snnc.targets.speck import SPECK_NEURON, TARGETS
from snnc.targets.speck import DEFAULT_TARGET

try:
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REQUIRED = object()


@dataclass(frozen=True)
class Key:
    """One configuration key: ``kind`` is int, float, str, bool, or ``"ints"`` / ``"floats"`` (lists)."""

    kind: Any
    default: Any = REQUIRED
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    length: int | None = None  # exact list length
    help: str = ""


SCHEMA: dict[str, dict[str, Key]] = {
    "dataset": {
        "kind": Key(str, "mnist", ("mnist", "events"), help="MNIST idx files, or a folder of event files"),
        "path": Key(str, REQUIRED, help="folder with t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz), "
                    "or (kind = 'events') a folder of event files: DIR/<class>/*.{bin,npy,npz,aedat4} or DIR/labels.csv"),
        "train": Key("ints", [0, 7999], length=2, min=0, max=10**9, help="first and last sample index (inclusive) to train on"),
        "eval": Key("ints", [8000, 9999], length=2, min=0, max=10**9, help="first and last sample index (inclusive) to evaluate"),
        "shape": Key("ints", None, length=3, min=1, max=1024, help="[C, H, W] of the input (events datasets)"),
        "classes": Key(int, 10, min=2, max=1024, help="number of classes"),
    },
    "encoding": {
        "kind": Key(str, "poisson", ("poisson", "saccade", "events"), help="how samples become input events"),
        "timesteps": Key(int, 8, min=1, max=10_000, help="time steps per sample"),
        "max_rate": Key(float, 0.5, min=0.0, max=100.0, help="poisson: mean events per pixel and time step at full "
                        "intensity"),
        "step_us": Key(int, 1000, min=1, max=10**9, help="duration of one time step in microseconds (event timestamps)"),
    },
    "model": {
        "kind": Key(str, "scnn", ("scnn", "resnet"), help="a spiking CNN, or a small spiking ResNet (each conv "
                    "layer followed by a residual block of two 3x3 convs)"),
        "channels": Key("ints", REQUIRED, min=1, max=65536, help="output channels of each conv layer"),
        "kernels": Key("ints", REQUIRED, min=1, max=16, help="square kernel size of each conv layer"),
        "strides": Key("ints", None, min=1, max=8, help="stride of each conv layer (default 1)"),
        "paddings": Key("ints", None, min=0, max=7, help="padding of each conv layer (default kernel // 2)"),
        "pools": Key("ints", None, min=1, max=4, help="sum pooling after each conv layer (default 1: none)"),
        "hidden": Key("ints", [], min=1, max=65536, help="sizes of the hidden linear layers before the output layer"),
    },
    "neuron": {
        "model": Key(str, "iaf", ("iaf", "lif"), help="integrate-and-fire (the chip's), or leaky (software only)"),
        "threshold": Key(float, 1.0, min=1e-6, help="spike threshold in float units"),
        "threshold_low": Key(float, -1.0, max=0.0, help="floor of the membrane state in float units (< 0)"),
        "reset": Key(str, "subtract", ("subtract", "zero"), help="reset by subtraction or to zero"),
        "tau_mem": Key(float, 10.0, min=1e-6, help="lif: membrane time constant in time steps"),
        "surrogate_alpha": Key(float, 0.5, min=0.0, help="steepness of the surrogate gradient below threshold"),
    },
    "train": {
        "epochs": Key(int, 5, min=1, max=100_000, help="passes over the training split"),
        "batch_size": Key(int, 64, min=1, max=100_000),
        "optimizer": Key(str, "adam", ("adam", "adamw", "sgd")),
        "lr": Key(float, 2e-3, min=0.0),
        "lr_schedule": Key(str, "cosine", ("constant", "cosine")),
        "weight_decay": Key(float, 0.0, min=0.0),
        "seed": Key(int, 0, min=0, max=2**32 - 1),
        "threads": Key(int, 2, min=1, max=1024, help="torch CPU threads"),
        "weight_clip": Key(float, 0.99, min=0.01, max=0.999, help="weights are clipped to this fraction of the "
                           "threshold after every step (chip rule: weights below threshold)"),
        "count_scale": Key(float, 1.0, min=1e-6, help="output spike counts are multiplied by this before the "
                           "cross-entropy loss"),
    },
    "quantization": {
        "enabled": Key(bool, True, help="train with the chip's integer weights and thresholds"),
        "start_epoch": Key(int, 0, min=0, max=100_000, help="first epoch (0-based) trained with integer weights"),
        "target": Key(str, DEFAULT_TARGET, help="chip whose number ranges are used"),
    },
    "regularization": {
        "synops_weight": Key(float, 0.0, min=0.0, help="weight of the SynOps-above-budget loss"),
        "synops_budget": Key("floats", [], min=0.0, help="SynOps per sample allowed for each layer (one value: "
                             "every layer); only the excess is penalized"),
        "rate_weight": Key(float, 0.0, min=0.0, help="weight of the firing-rate loss"),
        "target_rate": Key(float, 0.1, min=0.0, help="mean spikes per neuron and step the rate loss pulls toward"),
    },
    "output": {
        "model": Key(str, None, help="where to save the trained model (.pt); default: next to the TOML file"),
        "metrics": Key(str, None, help="CSV of per-epoch metrics; default: the model path with .csv"),
    },
}


def _fmt_choices(keys) -> str:
    return ", ".join(sorted(keys))


def _type_name(kind) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false",
            "ints": "a list of integers", "floats": "a list of numbers"}[kind]


def _num(x) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_value(name: str, key: Key, value):
    kind = key.kind

    def scalar_ok(v, k):
        if k is bool:
            return isinstance(v, bool)
        if k is int:
            return isinstance(v, int) and not isinstance(v, bool)
        if k is float:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        return isinstance(v, k)

    if kind in ("ints", "floats"):
        ek = int if kind == "ints" else float
        if isinstance(value, (int, float)) and not isinstance(value, bool) and kind == "floats":
            value = [value]
        if not isinstance(value, list) or not all(scalar_ok(v, ek) for v in value):
            raise SnncError(f"{name} must be {_type_name(kind)}, got {_short(value)}")
        if key.length is not None and len(value) != key.length:
            raise SnncError(f"{name} must have {key.length} entries, got {len(value)}")
        items = [float(v) if ek is float else v for v in value]
    else:
        if not scalar_ok(value, kind):
            raise SnncError(f"{name} must be {_type_name(kind)}, got {_short(value)}")
        items = [value]
        if kind is float:
            value = float(value)
    if key.choices is not None and value not in key.choices:
        raise SnncError(f"{name} = {_short(value)} is not one of: {', '.join(map(repr, key.choices))}")
    for v in items:
        if key.min is not None and not isinstance(v, str) and v < key.min:
            raise SnncError(f"{name} = {_short(value)}: must be >= {_num(key.min)}")
        if key.max is not None and not isinstance(v, str) and v > key.max:
            raise SnncError(f"{name} = {_short(value)}: must be <= {_num(key.max)}")
    return [float(v) for v in value] if kind == "floats" else value


@dataclass
class TrainConfig:
    """A validated training configuration: one dict per section with every default filled in."""

    dataset: dict
    encoding: dict
    model: dict
    neuron: dict
    train: dict
    quantization: dict
    regularization: dict
    output: dict
    source: Path | None = None  # the TOML file, when read from one
    notes: list = field(default_factory=list)  # what a translated (Qualia-SNN) configuration changed or ignores
    qualia: Any = None  # the Qualia-SNN translation it came from (qualia_config.QualiaTranslation), if any

    def section(self, name: str) -> dict:
        return getattr(self, name)


#: Keys snnc once accepted and no longer reads: refused with what to do instead, never silently ignored.
REMOVED = {
    ("encoding", "saccades"): "it never changed anything: the saccade encoding always makes N-MNIST's three "
                              "saccades (runtime/events.py: saccade_events); remove the key",
}


def train_config_from_dict(data: dict, base_dir: str | Path = ".", source: Path | None = None) -> TrainConfig:
    """Validate a configuration already read from TOML; resolve paths against ``base_dir``."""
    if not isinstance(data, dict):
        raise SnncError("the training configuration must be a TOML table")
    unknown = sorted(set(data) - set(SCHEMA))
    if unknown:
        raise SnncError(f"unknown section [{unknown[0]}]; valid sections: {_fmt_choices(SCHEMA)}")
    base = Path(base_dir)
    out: dict[str, dict] = {}
    for sec, keys in SCHEMA.items():
        given = data.get(sec, {})
        if not isinstance(given, dict):
            raise SnncError(f"[{sec}] must be a table of keys ({_fmt_choices(keys)}), got {_short(given)}")
        bad = sorted(set(given) - set(keys))
        for k in bad:
            if (sec, k) in REMOVED:
                raise SnncError(f"{sec}.{k} is no longer a key: {REMOVED[sec, k]}")
        if bad:
            raise SnncError(f"unknown key {sec}.{bad[0]}; valid keys in [{sec}]: {_fmt_choices(keys)}")
        vals = {}
        for k, key in keys.items():
            if k in given:
                vals[k] = _check_value(f"{sec}.{k}", key, given[k])
            elif key.default is REQUIRED:
                raise SnncError(f"missing {sec}.{k} ({key.help}); add it to the [{sec}] section")
            else:
                vals[k] = list(key.default) if isinstance(key.default, list) else key.default
        out[sec] = vals
    _cross_check(out)
    _resolve_paths(out, base, source)
    return TrainConfig(**out, source=source)


def _cross_check(c: dict) -> None:
    m, d, e = c["model"], c["dataset"], c["encoding"]
    n = len(m["channels"])
    if n == 0:
        raise SnncError("model.channels is empty; give at least one conv layer, e.g. channels = [8, 16]")
    for k in ("kernels", "strides", "paddings", "pools"):
        if m[k] is None:
            m[k] = {"strides": [1] * n, "paddings": [kk // 2 for kk in m["kernels"]] if len(m["kernels"]) == n
                    else None, "pools": [1] * n}.get(k)
        if m[k] is None or len(m[k]) != n:
            got = "missing" if m[k] is None else f"{len(m[k])} entries"
            raise SnncError(f"model.{k} must have one entry per conv layer ({n}, as model.channels), got {got}")
    chip = TARGETS.get(c["quantization"]["target"], SPECK_NEURON)  # an unknown target is reported below
    for s in m["strides"]:
        if s not in chip.strides:
            raise SnncError(f"model.strides: {s} is not a stride the chip has ({', '.join(map(str, chip.strides))})")
    for p in m["pools"]:
        if p not in chip.poolings:
            raise SnncError(f"model.pools: {p} is not a sum pooling the chip has "
                            f"({', '.join(map(str, chip.poolings))})")
    for r in ("train", "eval"):
        a, b = d[r]
        if b < a:
            raise SnncError(f"dataset.{r} = [{a}, {b}]: the last index is before the first")
    if d["kind"] == "events":
        if d["shape"] is None:
            raise SnncError("dataset.shape = [C, H, W] is required when dataset.kind = 'events'")
        if e["kind"] != "events":
            raise SnncError(f"dataset.kind = 'events' needs encoding.kind = 'events', got {e['kind']!r}")
    elif e["kind"] == "events":
        raise SnncError("encoding.kind = 'events' needs dataset.kind = 'events' (MNIST images are not events)")
    if c["neuron"]["threshold_low"] >= 0:
        raise SnncError("neuron.threshold_low must be below 0 (the chip's floor may not be 0), e.g. -1.0")
    q = c["quantization"]
    if q["target"] not in TARGETS:
        raise SnncError(f"quantization.target = {q['target']!r} is not one of: {_fmt_choices(TARGETS)}")


def _resolve_paths(c: dict, base: Path, source: Path | None) -> None:
    ds = c["dataset"]
    p = Path(ds["path"]).expanduser()
    ds["path"] = p if p.is_absolute() else (base / p)
    o = c["output"]
    stem = source.stem if source is not None else "model"
    model = Path(o["model"]).expanduser() if o["model"] else Path(f"{stem}.pt")
    o["model"] = model if model.is_absolute() else base / model
    if o["metrics"]:
        mp = Path(o["metrics"]).expanduser()
        o["metrics"] = mp if mp.is_absolute() else base / mp
    else:
        o["metrics"] = o["model"].with_suffix(".csv")


def read_toml(path: str | Path) -> dict:
    """Read a TOML file; SnncError with one line when it is missing or not TOML."""
    p = Path(path)
    if not p.is_file():
        raise SnncError(f"training configuration {str(p)!r} not found")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SnncError(f"{p}: not valid TOML: {e}") from None
    except RecursionError:
        raise SnncError(f"{p}: not a usable training configuration (nested too deeply)") from None
    except ValueError as e:  # e.g. an integer literal of thousands of digits
        why = "an integer literal has thousands of digits" if "digits" in str(e) else str(e).splitlines()[0][:120]
        raise SnncError(f"{p}: not a usable training configuration ({why})") from None
    except OSError as e:
        raise SnncError(f"{p}: cannot read it ({e.strerror or e})") from None


def load_train_config(path: str | Path) -> TrainConfig:
    """Read and validate a TOML training configuration.  Raises SnncError with one clear line on any problem.

    A file in Qualia-SNN's format (``[bench]``, ``[model_template]``, ``[[model]]`` ...) is translated by
    :mod:`.qualia_config` (and refused there, with ``snnc check``'s report, when it cannot run on the chip)."""
    p = Path(path)
    data = read_toml(p)
    from .qualia_config import is_qualia, refuse_unless_trainable, translate

    if is_qualia(data):
        tr = translate(data)
        cfg = train_config_from_dict(copy.deepcopy(tr.sections), base_dir=p.parent, source=p)
        cfg.notes, cfg.qualia = list(tr.notes), tr
        refuse_unless_trainable(tr, cfg, p)
    else:
        try:
            cfg = train_config_from_dict(data, base_dir=p.parent, source=p)
        except SnncError as e:  # name the file: the user may have several configurations
            raise SnncError(f"{p}: {e}") from None
    if not Path(cfg.dataset["path"]).exists():
        raise SnncError(f"dataset.path {str(cfg.dataset['path'])!r} does not exist (paths are relative to "
                        f"{p.name}); point it at the folder holding the data")
    return cfg
