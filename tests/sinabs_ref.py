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


def _default_config():
    def dest():
        return _Obj(layer=0, enable=False, pooling=1)

    cnn = [_Obj(destinations=[dest(), dest()], monitor_enable=False, weights=[]) for _ in range(9)]
    dvs = _Obj(merge=False, on_channel=True, off_channel=True, pooling={"x": 1, "y": 1}, origin={"x": 0, "y": 0},
               cut={"x": 127, "y": 127}, mirror={"x": False, "y": False}, mirror_diagonal=False,
               monitor_enable=False, pass_sensor_events=True,
               destinations=[_Obj(layer=0, enable=False), _Obj(layer=0, enable=False)])
    return _Obj(cnn_layers=cnn, dvs_layer=dvs)


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
    return [i for i, layer in enumerate(cnn) if layer.get("weights")]


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


def assert_same_config(ours: dict, theirs: dict, check_low: bool = True, dvs: bool = True,
                       monitor: bool = True) -> dict[int, int]:
    """snnc's config equals sinabs' in every integer, dimension, destination (up to the core numbering), DVS field
    and monitor flag, and it passes snnc's own configuration check.  Returns the core map {sinabs core: snnc
    core}."""
    from snnc.targets.config import load_config

    load_config(ours)
    cores = match_cores(ours["cnn_layers"], theirs["cnn_layers"])
    for s, o in cores.items():
        a, b = ours["cnn_layers"][o], theirs["cnn_layers"][s]
        assert a["dimensions"] == b["dimensions"], s
        assert a["threshold_high"] == b["threshold_high"], s
        if check_low:
            assert a["threshold_low"] == b["threshold_low"], s
        assert a["return_to_zero"] == b["return_to_zero"], s
        mine = sorted((d["layer"], d["pooling"]) for d in a["destinations"] if d["enable"])
        ref = sorted((cores[d["layer"]], d["pooling"]) for d in b["destinations"] if d["enable"])
        assert mine == ref, f"core {s}: destinations {mine} != sinabs {ref}"
        if monitor:
            assert a["monitor_enable"] == b["monitor_enable"], f"core {s}: monitor_enable"
    if dvs:
        a, b = ours["dvs_layer"], theirs["dvs_layer"]
        for key in ("merge", "pooling", "origin", "cut", "mirror", "mirror_diagonal", "pass_sensor_events"):
            assert a[key] == b[key], f"dvs_layer.{key}: {a[key]} != sinabs {b[key]}"
        if monitor:
            assert a["monitor_enable"] == b["monitor_enable"], "dvs_layer.monitor_enable"
        mine = sorted(d["layer"] for d in a["destinations"] if d["enable"])
        ref = sorted(cores[d["layer"]] for d in b["destinations"] if d["enable"])
        assert mine == ref, f"dvs_layer destinations {mine} != sinabs {ref}"
    return cores
