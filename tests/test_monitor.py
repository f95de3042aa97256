"""``--monitor``: which layers' spikes are read out, written as sinabs writes it and honoured by the simulator."""
from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.nn as nn

from sinabs_ref import assert_same_config, sinabs_config  # noqa: E402

import snnc  # noqa: E402
from snnc.compiler.errors import SnncError  # noqa: E402
from snnc.runtime.events import make_events  # noqa: E402


def _model(seed=0):
    import sinabs.layers as sl

    g = torch.Generator().manual_seed(seed)
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
                      sl.SumPool2d(2), nn.Conv2d(4, 4, 3, padding=1, bias=False),
                      sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0), nn.Flatten(), nn.Linear(4 * 4 * 4, 3, bias=False),
                      sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0))
    with torch.no_grad():
        for p in m.parameters():
            if p.requires_grad:
                p.copy_(torch.rand(p.shape, generator=g) * 0.6)
    return m


@pytest.mark.parametrize("monitor", [None, "all", [], ["dvs", -1], ["dvs", 0, 2], [1]], ids=str)
def test_monitor_flags_match_sinabs(sinabs_dynapcnn, monitor):
    model = _model()
    theirs, _, warned = sinabs_config(sinabs_dynapcnn, model, (2, 8, 8), dvs_input=True,
                                      monitor_layers=list(monitor) if isinstance(monitor, list) else monitor)
    ours_monitor = None if monitor is None else (monitor,) if isinstance(monitor, str) else tuple(map(str, monitor))
    result = snnc.check(model, input_shape=(2, 8, 8), dvs_input=True, monitor=ours_monitor)
    ours = snnc.compile(model, input_shape=(2, 8, 8), dvs_input=True, monitor=ours_monitor)
    assert_same_config(ours, theirs)
    # sinabs warns about a monitored layer that pools; so does snnc (same layers)
    pooled_warnings = [w for w in warned if "has pooling and is being monitored" in w]
    ours_warn = [d for d in result.diagnostics.warnings if d.rule == "monitor"]
    assert len(ours_warn) == len(pooled_warnings)


def test_monitor_names_and_errors():
    model = _model()
    config = snnc.compile(model, input_shape=(2, 8, 8), monitor=("name:4", "0"))  # 3's neuron, an index
    names = {layer["name"]: layer["core"] for layer in config["snnc"]["layers"]}
    flags = {name: config["cnn_layers"][core]["monitor_enable"] for name, core in names.items()}
    assert flags == {"0": True, "3": True, "6": False}
    for bad in (("nosuch",), ("7",), ("dvs",)):
        for fn in (snnc.check, snnc.compile):
            with pytest.raises(SnncError, match="--monitor"):
                fn(model, input_shape=(2, 8, 8), monitor=bad)


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
def test_simulator_reports_monitored_layers_only(reference):
    model = _model(1)
    rng = np.random.default_rng(0)
    n = 300
    events = make_events(rng.integers(0, 8, n), rng.integers(0, 8, n), np.arange(n) * 10, rng.integers(0, 2, n))
    runs = {}
    for monitor in (None, ("all", "dvs")):
        config = snnc.compile(model, input_shape=(2, 8, 8), dvs_input=True, monitor=monitor)
        runs[monitor] = snnc.simulate(config, events, reference=reference)
    default, everything = runs[None], runs[("all", "dvs")]
    out_core = config["snnc"]["outputs"][0]["core"]
    assert set(default.output_events["layer"]) <= {out_core}
    layers = set(everything.output_events["layer"].tolist())
    assert 13 in layers and len(layers - {13}) >= 2  # the DVS layer (13) and the cores that spiked
    for core, counts in everything.spike_counts.items():  # every spike of a monitored core is reported
        assert (everything.output_events["layer"] == core).sum() == counts.sum()
    assert (everything.output_events["layer"] == 13).sum() == n  # every event passes the DVS layer
    same = everything.output_events[everything.output_events["layer"] == out_core]
    assert np.array_equal(same, default.output_events)
