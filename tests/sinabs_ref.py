"""sinabs' own configuration of a network, as plain dicts, for comparison with ``snnc compile``.

sinabs writes its configuration into samna objects (``DynapcnnNetwork.make_config``).  samna is not installable
here, so its configuration object is replaced by a tiny attribute bag (``_Obj``) that records what sinabs' config
builder sets, and samna's validation by "valid".  Everything else -- the layer extraction, discretization, core
mapping, destinations, the DVS layer and the monitor selection -- is sinabs' own code, run unchanged.  Needs
``conftest.install_samna_stub()`` first (the ``sinabs_dynapcnn`` fixture does it).
"""
from __future__ import annotations

import numpy as np


class _Obj:
    """An attribute bag; dicts assigned to it become bags too (as samna converts them to its structs)."""

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)

    def __setattr__(self, key, value):
        if isinstance(value, dict):
            value = _Obj(**value)
        object.__setattr__(self, key, value)

    def to_dict(self):
        def conv(v):
            if isinstance(v, _Obj):
                return v.to_dict()
            if isinstance(v, list):
                return [conv(x) for x in v]
            if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
                return v.item()
            return v
        return {k: conv(v) for k, v in self.__dict__.items()}


class _Unset:
    """A field sinabs did not write: samna's default stays there on the chip."""

    def __repr__(self):
        return "UNSET"


UNSET = _Unset()


def _default_config():
    """samna's ``SpeckConfiguration()`` as far as sinabs touches it, every field UNSET: what sinabs writes is then
    exactly what is not UNSET (no guessed defaults)."""
    def dest():  # pooling 1: sinabs reads it (its monitor warning) for destinations it did not write
        return _Obj(layer=UNSET, enable=UNSET, pooling=1)

    cnn = [_Obj(destinations=[dest(), dest()], **{k: UNSET for k in CNN_FIELDS if k != "destinations"})
           for _ in range(9)]
    dvs = _Obj(destinations=[_Obj(layer=UNSET, enable=UNSET), _Obj(layer=UNSET, enable=UNSET)],
               pooling=_Obj(x=UNSET, y=UNSET), origin=_Obj(x=UNSET, y=UNSET), cut=_Obj(x=UNSET, y=UNSET),
               mirror=_Obj(x=UNSET, y=UNSET), **{k: UNSET for k in DVS_FIELDS if k not in
                                                 ("destinations", "pooling", "origin", "cut", "mirror")})
    return _Obj(cnn_layers=cnn, dvs_layer=dvs)


#: Every field of a samna CNN layer and DVS layer configuration (docs/speck.md §9).
CNN_FIELDS = ("dimensions", "weights", "biases", "neurons_initial_value", "leak_enable",
              "leak_internal_slow_clk_enable", "threshold_high", "threshold_low", "return_to_zero", "monitor_enable",
              "destinations", "output_decimator_enable", "output_decimator_interval",
              "input_congestion_balancer_enable")
DVS_FIELDS = ("merge", "on_channel", "off_channel", "pooling", "origin", "cut", "mirror", "mirror_diagonal",
              "monitor_enable", "raw_monitor_enable", "pass_sensor_events", "destinations")

#: Fields sinabs 3.1.3 never writes, so the chip keeps samna's default, and the value sinabs' network needs there
#: to mean what sinabs simulates: no decimator (sinabs passes every spike), the congestion balancer off (docs/speck.md §7:
#: off by default; sinabs drops no event), no slow-clock leak (sinabs' leak is per time step), both
#: polarity channels on (sinabs' DVSLayer feeds both polarities, summed only with merge_polarities) and no raw
#: monitor.  ``output_decimator_interval`` means nothing with the decimator off and is not compared.
NEEDED_DEFAULTS = {
    "cnn": {"output_decimator_enable": False, "input_congestion_balancer_enable": False,
            "leak_internal_slow_clk_enable": False},
    "dvs": {"on_channel": True, "off_channel": True, "raw_monitor_enable": False},
}
NOT_COMPARED = {"cnn": {"output_decimator_interval"}, "dvs": set()}


def sinabs_config(dynapcnn, model, input_shape, monitor_layers=None, dvs_input=None):
    """(config dict with ``cnn_layers`` and ``dvs_layer``, the DynapcnnNetwork, warnings sinabs gave).

    Integers >= 0 in ``monitor_layers`` are positions in sinabs' layer order (sinabs numbers its layers from 1
    when it adds a DVS layer); ``"dvs"``, ``-1`` and ``"all"`` are passed as they are."""
    import warnings

    from sinabs.backend.dynapcnn.chips.speck2f import Speck2FConfigBuilder

    net = dynapcnn.DynapcnnNetwork(model, input_shape=input_shape, discretize=True, dvs_input=dvs_input)
    if isinstance(monitor_layers, list):
        order = sorted(net.dynapcnn_layers)
        monitor_layers = [order[m] if isinstance(m, int) and m >= 0 else m for m in monitor_layers]
    saved = Speck2FConfigBuilder.__dict__["get_default_config"], Speck2FConfigBuilder.__dict__.get(
        "validate_configuration")
    Speck2FConfigBuilder.get_default_config = classmethod(lambda cls: _default_config())
    Speck2FConfigBuilder.validate_configuration = classmethod(lambda cls, config: True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            config = net.make_config(device="speck2fdevkit:0", monitor_layers=monitor_layers)
    finally:
        Speck2FConfigBuilder.get_default_config = saved[0]
        if saved[1] is None:
            del Speck2FConfigBuilder.validate_configuration
        else:
            Speck2FConfigBuilder.validate_configuration = saved[1]
    return config.to_dict(), net, [str(w.message) for w in caught]


def _used(cnn):
    return [i for i, layer in enumerate(cnn) if layer.get("weights") is not UNSET and layer.get("weights")]


def match_cores(ours: list, theirs: list) -> dict[int, int]:
    """{sinabs core: snnc core}, pairing used cores by equal dimensions and integer weights."""
    out = {}
    for s in _used(theirs):
        ws = np.asarray(theirs[s]["weights"])
        hits = [o for o in _used(ours) if o not in out.values()
                and ours[o]["dimensions"] == theirs[s]["dimensions"]
                and np.array_equal(np.asarray(ours[o]["weights"]), ws)]
        assert hits, f"sinabs core {s} ({theirs[s]['dimensions']}) has no snnc core with the same weights"
        out[s] = hits[0]
    assert len(_used(ours)) == len(out), "snnc uses more cores than sinabs"
    return out


def _written(value) -> bool:
    if isinstance(value, dict):
        return any(_written(v) for v in value.values())
    if isinstance(value, list):
        return any(_written(v) for v in value)
    return value is not UNSET


def _same(mine, ref, where: str) -> None:
    """``mine`` equals ``ref`` in every part sinabs wrote (parts left UNSET are skipped here)."""
    if ref is UNSET:
        return
    if isinstance(ref, dict):
        assert isinstance(mine, dict), f"{where}: {mine!r} is not a table"
        for k, v in ref.items():
            assert k in mine, f"{where}.{k}: missing in snnc's configuration"
            _same(mine[k], v, f"{where}.{k}")
        return
    if isinstance(ref, list):  # weights, biases, neuron states: same shape, same integers
        assert np.array_equal(np.asarray(mine), np.asarray(ref)) and np.shape(mine) == np.shape(ref), \
            f"{where}: snnc {np.asarray(mine).ravel()[:6]}... (shape {np.shape(mine)}) != sinabs " \
            f"{np.asarray(ref).ravel()[:6]}... (shape {np.shape(ref)})"
        return
    assert mine == ref and isinstance(mine, bool) == isinstance(ref, bool), f"{where}: snnc {mine!r} != sinabs {ref!r}"


def _defaults(mine: dict, ref: dict, kind: str, where: str) -> None:
    for k, want in NEEDED_DEFAULTS[kind].items():
        if ref.get(k, UNSET) is UNSET:
            assert mine[k] == want, f"{where}.{k}: snnc {mine[k]!r}; sinabs leaves samna's default, and its " \
                                    f"network needs {want!r} there"


def _destinations(mine: list, ref: list, cores: dict, where: str, pooling: bool) -> None:
    """Enabled destinations equal up to the core numbering; every other field sinabs wrote compared."""
    def key(d, mapped):
        return (mapped(d["layer"]), d.get("pooling", 1) if pooling else 1)
    ours = sorted(key(d, lambda c: c) for d in mine if d["enable"])
    theirs = sorted(key(d, lambda c: cores[c]) for d in ref if d["enable"] is True)
    assert ours == theirs, f"{where}.destinations: snnc {ours} != sinabs {theirs}"
    assert all(d["enable"] is UNSET or isinstance(d["enable"], bool) for d in ref)


def assert_same_config(ours: dict, theirs: dict, check_low: bool = True, dvs: bool = True,
                       monitor: bool = True, validate: bool = True) -> dict[int, int]:
    """snnc's config equals sinabs' in every field sinabs writes (up to the core numbering) and in the fields it
    leaves at samna's default (:data:`NEEDED_DEFAULTS`), and it passes snnc's own configuration check.  Returns the
    core map {sinabs core: snnc core}.  ``check_low=False`` skips ``threshold_low``; ``monitor=False`` the monitor
    flags; ``dvs=False`` the DVS layer; ``validate=False`` snnc's own check (for the mutation test, so that only
    the comparison can fail)."""
    from snnc.targets.config import load_config

    if validate:
        load_config(ours)
    cores = match_cores(ours["cnn_layers"], theirs["cnn_layers"])
    skip = {"destinations"} | (set() if check_low else {"threshold_low"}) | (set() if monitor else {"monitor_enable"})
    for s, o in cores.items():
        a, b = ours["cnn_layers"][o], theirs["cnn_layers"][s]
        where = f"cnn_layers[{s}] (snnc core {o})"
        unknown = set(b) - set(CNN_FIELDS)
        assert not unknown, f"sinabs wrote fields this comparison does not know: {sorted(unknown)}"
        for k in CNN_FIELDS:
            if k in skip or k in NOT_COMPARED["cnn"]:
                continue
            _same(a[k], b.get(k, UNSET), f"{where}.{k}")
        _defaults(a, b, "cnn", where)
        _destinations(a["destinations"], b["destinations"], cores, where, pooling=True)
    for c, layer in enumerate(ours["cnn_layers"]):  # a core sinabs leaves unused is unused here too
        if c not in cores.values():
            assert not layer["weights"] and not any(d["enable"] for d in layer["destinations"]), f"core {c} is used"
    if dvs:
        a, b = ours["dvs_layer"], theirs["dvs_layer"]
        unknown = set(b) - set(DVS_FIELDS)
        assert not unknown, f"sinabs wrote DVS fields this comparison does not know: {sorted(unknown)}"
        for k in DVS_FIELDS:
            if k == "destinations" or (k == "monitor_enable" and not monitor):
                continue
            if k == "monitor_enable" and b.get(k, UNSET) is UNSET:  # sinabs sets it only for a monitored DVS layer
                assert a[k] is False, "dvs_layer.monitor_enable: snnc monitors a DVS layer sinabs does not"
                continue
            _same(a[k], b.get(k, UNSET), f"dvs_layer.{k}")
        _defaults(a, b, "dvs", "dvs_layer")
        _destinations(a["destinations"], b["destinations"], cores, "dvs_layer", pooling=False)
    return cores


def written_fields(theirs: dict, cores: dict[int, int]) -> list[tuple]:
    """Paths (``("cnn_layers", s, field, ...)`` / ``("dvs_layer", field, ...)``) of every leaf sinabs wrote in a used
    core and in the DVS layer: what a mutation test changes one at a time."""
    out = []

    def walk(v, path):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, path + (k,))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for i, x in enumerate(v):
                if x.get("enable") is not UNSET:  # a destination sinabs did not write stays disabled
                    walk(x, path + (i,))
        elif v is not UNSET:
            out.append(path)
    for s in cores:
        walk(theirs["cnn_layers"][s], ("cnn_layers", s))
    walk(theirs["dvs_layer"], ("dvs_layer",))
    return out
