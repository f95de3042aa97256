"""Qualia-SNN configuration files: translate one into snnc's training configuration, or refuse it before training.

A Qualia-SNN TOML (``[bench]``, ``[learningframework]``, ``[dataset]``, ``[model_template]``, ``[[model]]``,
``[[preprocessing]]``, ``[[postprocessing]]``) describes a SpikingJelly network.  What maps onto Speck becomes a
:class:`~.config.TrainConfig`; what does not (leaky or adaptive neurons, global max pooling, BatchNorm, layers that
do not fit a core ...) is refused with the same report as ``snnc check``, each line naming the TOML key.  Every key
is validated (Qualia itself does not); keys that change nothing on Speck are accepted and listed in the notes, and so
is every change snnc makes (int8 weights, sum instead of max pooling, Poisson events instead of direct coding).
docs/training.md ("Qualia-SNN configurations") lists the mapping key by key.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path

from snnc.compiler.errors import Diagnostic, SnncError
from snnc.targets.speck import SPECK_NEURON as CHIP  # Speck's strides and poolings (one place per fact)

SECTIONS = ("bench", "learningframework", "dataset", "model_template", "model", "preprocessing", "postprocessing")
FRAMEWORKS = ("SpikingJelly", "SpikingJellyMultiStep", "SpikingJellyTimeStepsInData",
              "SpikingJellyMultiStepTimeStepsInData")
TEMPLATES = {"SCNN": "scnn", "QuantizedSCNN": "scnn", "SResNet": "resnet", "QuantizedSResNet": "resnet"}
IF_NEURONS = ("IFNode", "QuantizedIFNode")
REFUSED_NEURONS = {"LIFNode": "a leaky neuron", "QuantizedLIFNode": "a leaky neuron", "ParametricLIFNode":
                   "a leaky neuron", "ATIF": "an adaptive-threshold neuron", "QuantizedATIF":
                   "an adaptive-threshold neuron"}
#: Qualia dataset kinds snnc can read, and the input shape (C, H, W) of the ones it can only check.
DATASET_SHAPES = {"MNIST": (1, 28, 28), "CIFAR10": (3, 32, 32), "DVSGesture": (2, 128, 128),
                  "DVSGestureWithPreprocessing": (2, 128, 128)}
EVENT_DATASETS = ("DVSGesture", "DVSGestureWithPreprocessing")
PREPROCESSING = {"IntegrateEventsByFixedDuration": {"duration": int}, "Split2TimeSteps": {"chunks": int},
                 "Group2TimeStepsBySample": {"timesteps": int}}
OPTIMIZERS = {"Adam": "adam", "AdamW": "adamw", "SGD": "sgd"}

NUM = (int, float)
LIST = list
NEURON_PARAMS = {"v_threshold": NUM, "v_reset": (bool, int, float), "detach_reset": bool, "step_mode": str,
                 "backend": str, "tau": NUM, "decay_input": bool, "vth_init_l": NUM, "vth_init_h": NUM,
                 "alpha": NUM}
MODEL_PARAMS = {
    "timesteps": int, "dims": int, "filters": LIST, "kernel_sizes": LIST, "paddings": LIST, "strides": LIST,
    "pool_sizes": LIST, "dropouts": (int, float, list), "fc_units": LIST, "batch_norm": bool, "num_blocks": LIST,
    "prepool": (int, list), "postpool": (str, int, list), "force_projection_with_stride": bool,
    "neuron": {"kind": str, "params": NEURON_PARAMS},
    "quant_params": {"bits": int, "force_q": int, "LSQ": bool, "roundtype": str},
}
TEMPLATE = {"kind": str, "epochs": int, "batch_size": int, "params": MODEL_PARAMS,
            "optimizer": {"kind": str, "params": {"lr": NUM, "weight_decay": NUM}}}
SCHEMA = {
    "bench": {"name": str, "seed": int, "first_run": int, "last_run": int, "plugins": LIST},
    "learningframework": {"kind": str},
    "dataset": {"kind": str, "params": {"path": str}},
    "model_template": TEMPLATE,
    "model": [{**TEMPLATE, "name": str, "disabled": bool}],
    "preprocessing": [{"kind": str, "params": dict}],
    "postprocessing": [{"kind": str, "params": dict}],
}


def is_qualia(data: dict) -> bool:
    """A TOML table in Qualia-SNN's format (rather than snnc's own, docs/training.md)."""
    return isinstance(data, dict) and (any(k in data for k in ("bench", "learningframework", "model_template",
                                                                "preprocessing", "postprocessing"))
                                       or isinstance(data.get("model"), list))


def _type_name(t) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list",
             dict: "a table"}
    if isinstance(t, tuple):
        return " or ".join(dict.fromkeys(names[x] for x in t if x is not float or int not in t))
    return names[t]


def _is(value, t) -> bool:
    ts = t if isinstance(t, tuple) else (t,)
    for x in ts:
        if x in (int, float) and isinstance(value, bool):
            continue
        if isinstance(value, x):
            return True
    return False


def _validate(value, spec, where: str) -> None:
    """Every key known, every value of the right type; raises SnncError naming the key."""
    if isinstance(spec, list):
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise SnncError(f"{where} must be an array of tables ([[{where}]])")
        for i, v in enumerate(value):
            _validate(v, spec[0], f"{where}[{i}]")
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise SnncError(f"{where} must be a table of keys ({', '.join(sorted(spec))}), got {value!r}")
        for k, v in value.items():
            if k not in spec:
                raise SnncError(f"unknown key {where}.{k}; valid keys here: {', '.join(sorted(spec))} "
                                "(snnc checks every key of a Qualia-SNN configuration)")
            _validate(v, spec[k], f"{where}.{k}")
        return
    if not _is(value, spec):
        raise SnncError(f"{where} must be {_type_name(spec)}, got {value!r}")


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


@dataclass
class QualiaTranslation:
    """What a Qualia-SNN configuration becomes: snnc's configuration sections, and everything said about it."""

    sections: dict  # snnc's TOML sections (dataset, encoding, model, neuron, train, quantization, output)
    notes: list[str] = field(default_factory=list)  # accepted with no effect, or changed on the way to Speck
    refusals: list[Diagnostic] = field(default_factory=list)  # cannot run on Speck / cannot be trained here
    layer_keys: list[str] = field(default_factory=list)  # TOML key of each weight layer, in order
    input_shape: tuple = (1, 28, 28)
    timesteps: int = 4
    energy: object = None  # QualiaEnergySettings from [[postprocessing]] EnergyEstimationMetric, or None
    model_name: str = "model"
    chip_check: list | None = None  # the convs in a row, checked instead of snnc's model (None: a mapped ResNet)


class _Tr:
    """The translation's working state: the merged model entry and where each of its keys came from."""

    def __init__(self, data: dict):
        self.data = data
        self.notes: list[str] = []
        self.refusals: list[Diagnostic] = []

    def refuse(self, rule: str, key: str, message: str, hint: str = "") -> None:
        self.refusals.append(Diagnostic(rule, key, message, hint))

    def note(self, text: str) -> None:
        self.notes.append(text)


def translate(data: dict) -> QualiaTranslation:
    """Validate a Qualia-SNN TOML table and translate it (paths stay as written; see :func:`to_train_config`)."""
    bad = sorted(set(data) - set(SECTIONS))
    if bad:
        raise SnncError(f"unknown section [{bad[0]}] in a Qualia-SNN configuration; snnc reads: "
                        f"{', '.join(SECTIONS)}")
    for sec in SECTIONS:
        if sec in data:
            _validate(data[sec], SCHEMA[sec], sec)
    tr = _Tr(data)
    for sec in ("learningframework", "dataset", "model_template", "model"):
        if sec not in data:
            raise SnncError(f"missing [{sec}]" + ("]" if sec == "model" else "") + " in the Qualia-SNN configuration")
    bench = data.get("bench", {})
    lf = data["learningframework"].get("kind")
    if lf not in FRAMEWORKS:
        raise SnncError(f"learningframework.kind = {lf!r} is not one of: {', '.join(FRAMEWORKS)}")
    tr.note(f"learningframework.kind = {lf!r}: snnc trains with its own loop and the chip's integer neurons; the "
            "single-/multi-step mode has no effect")
    if bench.get("plugins") is not None:
        tr.note("bench.plugins: no effect")
    if bench.get("last_run", 1) != bench.get("first_run", 1):
        tr.note(f"bench.first_run/last_run: snnc trains one run (seed bench.seed = {bench.get('seed', 0)})")

    # the model: the one enabled [[model]] entry over [model_template]
    entries = [(i, m) for i, m in enumerate(data["model"]) if not m.get("disabled", False)]
    if len(entries) != 1:
        names = ", ".join(repr(m.get("name")) for _, m in entries) or "none"
        raise SnncError(f"snnc trains one model at a time; the enabled [[model]] entries are: {names} -- set "
                        "disabled = true on the others")
    mi, entry = entries[0]
    template = data["model_template"]
    merged = _merge(template, {k: v for k, v in entry.items() if k not in ("name", "disabled")})
    params = merged.get("params", {})

    def key(name: str) -> str:  # where a model parameter was written
        if name in entry.get("params", {}):
            return f"model[{mi}].params.{name}"
        return f"model_template.params.{name}"

    kind = merged.get("kind")
    if kind not in TEMPLATES:
        raise SnncError(f"model_template.kind = {kind!r}: snnc trains {', '.join(TEMPLATES)} (Speck runs "
                        "convolutional spiking networks)")
    if "epochs" not in merged:
        raise SnncError("model_template.epochs is required (the number of training epochs)")
    dims = params.get("dims", 2)
    if dims != 2:
        tr.refuse("qualia_dims", key("dims"), f"dims = {dims}: Speck runs 2-D convolutions", "set dims = 2")

    # dataset
    ds = data["dataset"]
    ds_kind = ds.get("kind")
    if ds_kind not in DATASET_SHAPES:
        raise SnncError(f"dataset.kind = {ds_kind!r}: snnc reads MNIST from a Qualia-SNN configuration "
                        f"(known for checking only: {', '.join(k for k in DATASET_SHAPES if k != 'MNIST')})")
    shape = DATASET_SHAPES[ds_kind]
    if ds_kind != "MNIST":
        why = ("event data sets are not read from Qualia-SNN configurations yet (snnc's own [dataset] kind = "
               "'events' reads a folder of .npy event files, docs/training.md)" if ds_kind in EVENT_DATASETS
               else "snnc cannot read this data set; Speck takes events")
        tr.refuse("qualia_dataset", "dataset.kind", f"{ds_kind}: {why}", "use dataset.kind = 'MNIST' or snnc's "
                  "own configuration format")
    path = ds.get("params", {}).get("path")
    if path is None and ds_kind == "MNIST":
        raise SnncError("dataset.params.path is required: the folder holding t10k-images-idx3-ubyte(.gz) and "
                        "t10k-labels-idx1-ubyte(.gz)")

    # preprocessing: the event-data steps
    for i, pp in enumerate(data.get("preprocessing", [])):
        k = pp.get("kind")
        if k not in PREPROCESSING:
            raise SnncError(f"preprocessing[{i}].kind = {k!r}: snnc knows {', '.join(PREPROCESSING)}")
        _validate(pp.get("params", {}), PREPROCESSING[k], f"preprocessing[{i}].params")
        for pk, pv in pp.get("params", {}).items():
            if pv < 1:
                raise SnncError(f"preprocessing[{i}].params.{pk} must be >= 1, got {pv}")
        tr.refuse("qualia_preprocessing", f"preprocessing[{i}].kind",
                  f"{k} works on event data; {ds_kind} images are encoded as Poisson events by snnc itself",
                  "remove it (event data sets from Qualia-SNN configurations are not supported yet)")

    # neuron
    neuron = params.get("neuron")
    if not neuron or "kind" not in neuron:
        raise SnncError(f"{key('neuron')}.kind is required (e.g. 'IFNode')")
    nkind = neuron["kind"]
    nkey = key("neuron")
    np_ = neuron.get("params", {})
    if nkind in REFUSED_NEURONS:
        tr.refuse("neuron_model", f"{nkey}.kind", f"{nkind} is {REFUSED_NEURONS[nkind]}; Speck's neurons "
                  "integrate and fire without leak and with a fixed threshold", "use kind = 'IFNode'")
    elif nkind not in IF_NEURONS:
        raise SnncError(f"{nkey}.kind = {nkind!r} is not one of: {', '.join([*IF_NEURONS, *REFUSED_NEURONS])}")
    else:
        for p in ("tau", "decay_input", "vth_init_l", "vth_init_h", "alpha"):
            if p in np_:
                raise SnncError(f"{nkey}.params.{p} belongs to LIFNode/ATIF; {nkind} takes no {p} (remove it)")
    threshold = float(np_.get("v_threshold", 1.0))
    if threshold <= 0:
        raise SnncError(f"{nkey}.params.v_threshold must be > 0, got {threshold}")
    v_reset = np_.get("v_reset", 0.0)  # SpikingJelly's default: hard reset to 0
    if v_reset is False:
        reset = "subtract"
    elif v_reset is True:
        raise SnncError(f"{nkey}.params.v_reset: false (subtract the threshold) or a number (reset to it)")
    elif float(v_reset) == 0.0:
        reset = "zero"
    else:
        reset = "zero"
        tr.refuse("reset", f"{nkey}.params.v_reset", f"v_reset = {v_reset}: Speck resets to 0 or subtracts the "
                  "threshold", "use v_reset = false (subtract) or 0.0")
    if "v_reset" not in np_:
        tr.note(f"{nkey}.params.v_reset not given: SpikingJelly's default, reset to 0.0 (Speck's reset to zero)")
    if np_.get("detach_reset") is False:
        tr.note(f"{nkey}.params.detach_reset = false: snnc always detaches the reset from the gradient")
    for p in ("step_mode", "backend"):
        if p in np_:
            tr.note(f"{nkey}.params.{p} = {np_[p]!r}: no effect (snnc's training loop and the chip decide)")

    # quantization
    qp = params.get("quant_params")
    quantized_template = kind.startswith("Quantized")
    if qp is not None:
        bits = qp.get("bits", 8)
        if bits != 8:
            tr.note(f"{key('quant_params')}.bits = {bits}: Speck holds int8 weights and 16-bit membrane states; "
                    "trained with int8 weights")
        for p in ("force_q", "LSQ", "roundtype"):
            if p in qp:
                tr.note(f"{key('quant_params')}.{p}: no effect; snnc quantizes each layer with one scale from its "
                        "weights and threshold, rounding to nearest (docs/training.md)")
        if not quantized_template:
            tr.note(f"{key('quant_params')}: {kind} is not a Quantized* template; Speck needs integers anyway")
    epochs = merged["epochs"]
    start = 0 if quantized_template else epochs // 2
    if not quantized_template:
        tr.note(f"model_template.kind = {kind!r}: Speck runs integers, so snnc trains float for the first half of "
                "the epochs, then with int8 weights and integer thresholds (a Quantized* template: integer "
                "throughout)")

    # layers
    timesteps = params.get("timesteps", 4 if TEMPLATES[kind] == "scnn" else 2)
    if not isinstance(timesteps, int) or timesteps < 1:
        raise SnncError(f"{key('timesteps')} must be an integer >= 1")
    filters = params.get("filters")
    kernels = params.get("kernel_sizes")
    for name, val in (("filters", filters), ("kernel_sizes", kernels)):
        if not val:
            raise SnncError(f"{key(name)} is required: one entry per conv layer")
    n = len(filters)
    lists = {}
    for name, default in (("paddings", None), ("strides", None), ("pool_sizes", [0] * n), ("dropouts", 0)):
        v = params.get(name, default)
        if v is None:
            raise SnncError(f"{key(name)} is required by Qualia-SNN's {kind} template: one entry per conv layer")
        if name == "dropouts" and not isinstance(v, list):
            v = [v] * (n + len(params.get("fc_units", [])))
        lists[name] = v
    for name, val in (("filters", filters), ("kernel_sizes", kernels), ("paddings", lists["paddings"]),
                      ("strides", lists["strides"]), ("pool_sizes", lists["pool_sizes"])):
        if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in val):
            raise SnncError(f"{key(name)} must be a list of non-negative integers, got {val!r}")
    fc_units = params.get("fc_units", [] if TEMPLATES[kind] == "resnet" else None)
    if fc_units is None:
        raise SnncError(f"{key('fc_units')} is required by Qualia-SNN's {kind} template ([] for none)")
    if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in fc_units):
        raise SnncError(f"{key('fc_units')} must be a list of positive integers, got {fc_units!r}")
    if any(float(d) != 0 for d in lists["dropouts"]):
        tr.refuse("qualia_dropout", key("dropouts"), "snnc trains without dropout", "set dropouts = 0")
    if params.get("batch_norm", False):
        tr.refuse("batch_norm", key("batch_norm"), "folding BatchNorm gives every channel a bias, which Speck runs "
                  "as a leak on its slow clock; snnc trains without biases", "set batch_norm = false")
    prepool = params.get("prepool", 1)
    if (math.prod(prepool) if isinstance(prepool, list) else prepool) > 1:
        tr.refuse("qualia_prepool", key("prepool"), f"prepool = {prepool}: snnc trains no input pooling",
                  "set prepool = 1 (or pool the events before training)")

    model = {"kind": TEMPLATES[kind], "hidden": list(fc_units)}
    layer_keys: list[str] = []
    chain = None
    if TEMPLATES[kind] == "scnn":
        if len(params.get("num_blocks", [])) or "force_projection_with_stride" in params:
            raise SnncError(f"{key('num_blocks')} / force_projection_with_stride belong to SResNet, not {kind}")
        postpool = params.get("postpool", 1)
        if postpool not in (0, 1):
            tr.refuse("qualia_postpool", key("postpool"), f"postpool = {postpool!r}: snnc's SCNN has no pooling "
                      "after the last conv layer", "set postpool = 1 and use pool_sizes")
        for name in ("kernel_sizes", "paddings", "strides", "pool_sizes"):
            if len(lists.get(name, kernels if name == "kernel_sizes" else [])) != n:
                raise SnncError(f"{key(name)} must have one entry per conv layer ({n}, as filters)")
        pools = []
        for i, p in enumerate(lists["pool_sizes"]):
            if p in (0, 1):
                pools.append(1)
            elif p in CHIP.poolings:
                pools.append(p)
            else:
                pools.append(1)
                tr.refuse("pooling", f"{key('pool_sizes')}[{i}]", f"pooling {p}: Speck pools by "
                          f"{', '.join(map(str, CHIP.poolings))}",
                          "use 2 or 4")
        if any(p > 1 for p in pools):
            tr.note(f"{key('pool_sizes')}: Qualia's SCNN max-pools; Speck sum-pools spikes (2x2 or 4x4), so snnc "
                    "trains with sum pooling")
        model.update(channels=list(filters), kernels=list(kernels), strides=list(lists["strides"]),
                     paddings=list(lists["paddings"]), pools=pools)
        layer_keys = [f"{key('filters')}[{i}]" for i in range(n)]
        chain = [(layer_keys[i], filters[i], kernels[i], lists["strides"][i], lists["paddings"][i], pools[i])
                 for i in range(n)]
    else:
        chain = _resnet(tr, params, key, filters, kernels, lists, model)
        layer_keys = [f"{key('filters')}[0]", f"{key('filters')}[1] block conv1", f"{key('filters')}[1] block conv2"]
    for i in range(len(fc_units)):
        layer_keys.append(f"{key('fc_units')}[{i}]")
    layer_keys.append("the output layer (10 classes)")
    for i, s in enumerate(model.get("strides", [])):
        if s not in CHIP.strides:
            tr.refuse("stride", f"{key('strides')}[{i}]", f"stride {s}: Speck's strides are "
                      f"{', '.join(map(str, CHIP.strides))}")

    # training
    optimizer = merged.get("optimizer", {})
    train = {"epochs": epochs, "seed": bench.get("seed", 0)}
    if "batch_size" in merged:
        train["batch_size"] = merged["batch_size"]
    if optimizer:
        ok = optimizer.get("kind")
        if ok not in OPTIMIZERS:
            raise SnncError(f"model_template.optimizer.kind = {ok!r} is not one of: {', '.join(OPTIMIZERS)}")
        train["optimizer"] = OPTIMIZERS[ok]
        train.update({k: float(v) for k, v in optimizer.get("params", {}).items()})

    # energy
    energy = None
    for i, pp in enumerate(data.get("postprocessing", [])):
        if pp.get("kind") != "EnergyEstimationMetric":
            raise SnncError(f"postprocessing[{i}].kind = {pp.get('kind')!r}: snnc knows EnergyEstimationMetric")
        from snnc.compiler.energy_qualia import settings_from_postprocessing

        energy = settings_from_postprocessing(pp, timesteps, where=f"postprocessing[{i}]")

    sections = {
        "dataset": {"kind": "mnist", "path": path or "."},
        "encoding": {"kind": "poisson", "timesteps": timesteps},
        "model": model,
        "neuron": {"model": "iaf", "threshold": threshold, "reset": reset},
        "train": train,
        "quantization": {"enabled": True, "start_epoch": start},
        "output": {},
    }
    tr.note("MNIST images: Qualia-SNN feeds pixel values at every time step (direct coding); Speck takes events, so "
            f"snnc encodes each image as Poisson events over the {timesteps} time steps (encoding.max_rate 0.5)")
    return QualiaTranslation(sections=sections, notes=tr.notes, refusals=tr.refusals, layer_keys=layer_keys,
                             input_shape=shape, timesteps=timesteps, energy=energy,
                             model_name=str(entry.get("name", "model")), chip_check=chain)


def _resnet(tr: _Tr, params: dict, key, filters, kernels, lists, model) -> list | None:
    """SResNet onto snnc's ResNet (a conv, then one residual block of two 3x3 convs keeping the shape).

    Returns None when it maps; otherwise the refusals are recorded and the plain chain of the network's main-branch
    convs is returned, so that the chip rules can still be checked layer by layer."""
    nb = params.get("num_blocks")
    if not nb:
        raise SnncError(f"{key('num_blocks')} is required by SResNet: blocks per group")
    n = len(filters)
    for name in ("kernel_sizes", "paddings", "strides"):
        if len(lists[name] if name != "kernel_sizes" else kernels) != n:
            raise SnncError(f"{key(name)} must have one entry per filters entry ({n})")
    if len(nb) != n - 1:
        raise SnncError(f"{key('num_blocks')} must have one entry per block group ({n - 1}: filters[1:])")
    ok = True
    if nb != [1]:
        ok = False
        tr.refuse("qualia_resnet", key("num_blocks"), f"num_blocks = {nb}: snnc's ResNet has one residual block "
                  "after its first conv", "use num_blocks = [1] with filters = [F, F]")
    for i in range(1, n):
        if filters[i] != filters[i - 1]:
            ok = False
            tr.refuse("qualia_resnet", f"{key('filters')}[{i}]", f"{filters[i - 1]} -> {filters[i]} channels needs "
                      "a projection shortcut (a 1x1 conv); snnc's residual blocks keep the channel count",
                      "use the same number of filters")
        if lists["strides"][i] != 1:
            ok = False
            tr.refuse("pooling", f"{key('strides')}[{i}]", f"stride {lists['strides'][i]}: SResNet max-pools "
                      "inside the block and on the shortcut; Speck has no max pooling", "use strides[1:] = 1")
        if kernels[i] != 3 or lists["paddings"][i] != 1:
            ok = False
            tr.refuse("qualia_resnet", f"{key('kernel_sizes')}[{i}]", "snnc's residual blocks are 3x3 convs with "
                      "padding 1", "use kernel_sizes[i] = 3 and paddings[i] = 1 in the blocks")
    if "force_projection_with_stride" in params:
        tr.note(f"{key('force_projection_with_stride')}: no effect (snnc's blocks have no projection shortcut and "
                "no stride)")
    postpool = params.get("postpool", "max")
    if postpool == "max":
        tr.refuse("pooling", key("postpool"), "postpool = 'max': global max pooling has no Speck equivalent",
                  "use postpool = 'avg' (trained as a readout over the whole map)")
    elif postpool == "avg":
        tr.note(f"{key('postpool')} = 'avg': snnc's output layer reads the whole last map (a Linear over C x H x W "
                "instead of after a global average)")
    else:
        raise SnncError(f"{key('postpool')} must be 'max' or 'avg', got {postpool!r}")
    model.update(channels=[filters[0]], kernels=[kernels[0]], strides=[lists["strides"][0]],
                 paddings=[lists["paddings"][0]], pools=[1])
    if ok and not any(d.rule == "qualia_dataset" for d in tr.refusals):
        return None  # snnc's own ResNet is checked
    # the main-branch convs in a row, for the per-layer chip rules
    chain = [(f"{key('filters')}[0]", filters[0], kernels[0], lists["strides"][0], lists["paddings"][0], 1)]
    for g in range(1, n):
        for b in range(nb[g - 1]):
            pool = lists["strides"][g] if b == 0 and lists["strides"][g] in CHIP.poolings else 1
            chain.append((f"{key('filters')}[{g}] block {b + 1} conv1", filters[g], kernels[g], 1,
                          lists["paddings"][g], 1))
            chain.append((f"{key('filters')}[{g}] block {b + 1} conv2", filters[g], kernels[g], 1,
                          lists["paddings"][g], pool))
    return chain


def chip_report(tr: QualiaTranslation, cfg, source: str) -> tuple[str, bool]:
    """Check the described network against the chip rules; return (``snnc check``'s report with every layer named
    by its TOML key and the translation's refusals first, fits)."""
    import copy as _copy

    import torch.nn as nn

    from snnc.compiler.errors import Diagnostics
    from snnc.compiler.pipeline import CompileOptions
    from snnc.compiler.report import format_report
    from snnc.targets.compile import run_pipeline

    from .models import build_model, export_sinabs

    keys = list(tr.layer_keys)
    if tr.chip_check is not None:  # the convs in a row: an SCNN, or a network whose structure is refused
        c, h, w = tr.input_shape
        mods: list[nn.Module] = []
        keys = []
        for name, f, k, s, p, pool in tr.chip_check:
            if (h + 2 * p - k) // s + 1 < 1 or (w + 2 * p - k) // s + 1 < 1:
                raise SnncError(f"{name}: a {k}x{k} kernel (stride {s}, padding {p}) does not fit the {h}x{w} map "
                                "it receives; use fewer layers, a smaller kernel or less pooling")
            mods += [_zeros(nn.Conv2d, c, f, k, s, p), _iaf()]
            keys.append(name)
            h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            if pool > 1:
                mods.append(_sumpool(pool))
                h, w = h // pool, w // pool
            c = f
        mods.append(nn.Flatten())
        feat = c * h * w
        for j, u in enumerate(cfg.model["hidden"]):
            if h < 1 or w < 1:
                raise SnncError(f"{keys[-1]}: pooling leaves an empty map before the linear layers; pool less")
            mods += [_zeros(nn.Linear, feat, u), _iaf()]
            feat = u
            keys.append(tr.layer_keys[-1 - len(cfg.model["hidden"]) + j])
        mods += [_zeros(nn.Linear, feat, cfg.dataset["classes"]), _iaf()]
        keys.append(tr.layer_keys[-1])
        model = nn.Sequential(*mods)
    else:
        model = export_sinabs(build_model(cfg), quantized=False)
    names = _weight_layer_names(model)
    rename = {}
    for i, (mod_name, key) in enumerate(zip(names, keys)):
        rename[mod_name] = key
    result = run_pipeline(model, CompileOptions(target=cfg.quantization["target"], input_shape=tr.input_shape),
                          until="assign")
    res = _copy.copy(result)
    diags = Diagnostics(list(tr.refusals))
    for d in result.diagnostics:
        d = _copy.copy(d)
        if d.layer:
            d.layer = ", ".join(_rename(n.strip(), rename) for n in d.layer.split(","))
        diags.items.append(d)
    res.diagnostics = diags
    if result.chip is not None:
        res.chip = _copy.copy(result.chip)
        res.chip.layers = []
        for layer in result.chip.layers:
            layer = _copy.copy(layer)
            layer.name = _short(_rename(layer.name, rename))
            res.chip.layers.append(layer)
    res.notes = [*tr.notes, *(getattr(result, "notes", []) or [])]
    fits = not diags.errors
    return format_report(res, source=source), fits


def _short(key: str) -> str:
    """A TOML key without its section, for the report's table (``model[0].params.filters[1]`` -> ``filters[1]``)."""
    for prefix in ("model_template.params.",):
        if key.startswith(prefix):
            return key[len(prefix):]
    if key.startswith("model[") and ".params." in key:
        return key.split(".params.", 1)[1]
    return key.replace("the output layer", "output")


def _rename(name: str, rename: dict) -> str:
    if name in rename:
        return rename[name]
    head = name.split(".")[0]
    for k, v in rename.items():
        if k.split(".")[0] == head:
            return v
    return name


def _weight_layer_names(model) -> list[str]:
    """Module names of the Conv2d / Linear layers, in order (a residual block: its first conv's name twice)."""
    import torch.nn as nn

    return [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _zeros(cls, *args):
    """A layer with zero weights, without the cost of a random initialisation (only its shape is checked)."""
    import torch

    mod = cls(*args, bias=False, device="meta")
    mod.weight = torch.nn.Parameter(torch.zeros(mod.weight.shape), requires_grad=False)
    return mod


def _iaf():
    import sinabs.layers as sl

    return sl.IAFSqueeze(num_timesteps=1, spike_threshold=1.0, min_v_mem=-1.0)


def _sumpool(k: int):
    import sinabs.layers as sl

    return sl.SumPool2d(k)


def refuse_unless_trainable(tr: QualiaTranslation, cfg, source: Path | None) -> None:
    """Raise SnncError with the full report when the translated configuration cannot be trained for the chip
    (exit 1 when only chip rules are broken, else 2).  ``cfg`` is the TrainConfig of ``tr.sections``."""
    report, fits = chip_report(tr, cfg, str(source or "the configuration"))
    if not fits:
        only_chip = not tr.refusals
        err = SnncError(f"{source.name if source else 'the Qualia-SNN configuration'} cannot be trained for "
                        f"{cfg.quantization['target']} (every reason below names its TOML key):\n{report}")
        err.exit_code = 1 if only_chip else 2
        err.report = True  # a report of every reason, one per line
        raise err


def energy_settings(data: dict, where: str = "the configuration"):
    """Qualia's energy settings from a Qualia-SNN TOML table: its [[postprocessing]] EnergyEstimationMetric and T
    (the defaults of ``QualiaEnergySettings`` when it has none)."""
    from snnc.compiler.energy_qualia import QualiaEnergySettings

    if not is_qualia(data):
        raise SnncError(f"{where}: not a Qualia-SNN configuration (no [bench], [model_template] or [[model]])")
    tr = translate(data)
    return tr.energy or QualiaEnergySettings(timesteps=tr.timesteps)
