"""The sinabs comparison (tests/sinabs_ref.py: assert_same_config) checks every field sinabs writes: changing any
one of them in snnc's configuration, or one of the fields sinabs leaves at samna's default to something its network
does not mean, makes it fail (issue 21: bias 5, leak on, initial state 3, decimator on and the ON channel off used to
pass)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn as nn

import snnc
from sinabs_ref import NEEDED_DEFAULTS, assert_same_config, sinabs_config, written_fields


def _model(dynapcnn):
    import sinabs.layers as sl

    g = torch.Generator().manual_seed(3)
    dvs = dynapcnn.DVSLayer(input_shape=(32, 32), pool=(2, 1), crop=((2, 14), (1, 31)), flip_x=True)
    m = nn.Sequential(dvs, nn.Conv2d(2, 4, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
                      sl.SumPool2d(2), nn.Conv2d(4, 3, 3, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0))
    with torch.no_grad():
        for p in m.parameters():
            if p.requires_grad:
                p.copy_(torch.rand(p.shape, generator=g) * 0.6)
    return m


@pytest.fixture(scope="module")
def pair(sinabs_dynapcnn):
    model = _model(sinabs_dynapcnn)
    theirs, _, _ = sinabs_config(sinabs_dynapcnn, model, (2, 32, 32))
    ours = snnc.compile(model, input_shape=(2, 32, 32))
    cores = assert_same_config(ours, theirs)
    return ours, theirs, cores


def _changed(v):
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v - 1 if v > 0 else v + 1
    a = np.array(v)
    flat = a.reshape(-1)
    flat[0] = flat[0] - 1 if flat[0] > 0 else flat[0] + 1
    return a.tolist()


def _ours_path(path, ours, cores):
    """The same field in snnc's configuration: sinabs' core -> snnc's core, its destination -> the one that goes
    to the same (mapped) core."""
    if path[0] == "cnn_layers":
        s = path[1]
        out = ["cnn_layers", cores[s]]
        rest = path[2:]
        ref_layer = ("cnn_layers", s)
    else:
        out, rest, ref_layer = ["dvs_layer"], path[1:], ("dvs_layer",)
    if rest and rest[0] == "destinations":
        return out, rest, ref_layer
    return out + list(rest), None, ref_layer


def _get(d, path):
    for k in path:
        d = d[k]
    return d


def test_every_field_sinabs_writes_is_compared(pair):
    ours, theirs, cores = pair
    paths = written_fields(theirs, cores)
    fields = {p[-1] if not isinstance(p[-1], int) else p[-2] for p in paths}
    # sinabs 3.1.3 writes these (biases, leak_enable and neurons_initial_value included)
    assert {"weights", "biases", "leak_enable", "neurons_initial_value", "threshold_high", "threshold_low",
            "return_to_zero", "monitor_enable", "kernel_size", "feature_count", "merge", "mirror_diagonal",
            "pass_sensor_events", "layer", "enable", "pooling"} <= fields, fields
    tried = 0
    for path in paths:
        mine, dest_rest, ref_layer = _ours_path(path, ours, cores)
        bad = copy.deepcopy(ours)
        if dest_rest is None:
            parent = _get(bad, mine[:-1])
            parent[mine[-1]] = _changed(parent[mine[-1]])
        else:  # a destination field: change the matching enabled destination in snnc's layer
            ref_dest = _get(theirs, list(ref_layer) + ["destinations", dest_rest[1]])
            target = cores[ref_dest["layer"]]
            mine_dest = next(d for d in _get(bad, mine)["destinations"] if d["enable"] and d["layer"] == target)
            field = dest_rest[2]
            if field == "layer":
                mine_dest["layer"] = next(c for c in range(9) if c != target)
            else:
                mine_dest[field] = _changed(mine_dest[field]) if field != "pooling" else (1 if mine_dest[field] != 1 else 2)
        with pytest.raises(AssertionError):
            assert_same_config(bad, theirs, validate=False)
        tried += 1
    assert tried == len(paths) > 20


@pytest.mark.parametrize("kind,field", [(k, f) for k in NEEDED_DEFAULTS for f in NEEDED_DEFAULTS[k]])
def test_fields_sinabs_leaves_at_samna_defaults_are_compared(pair, kind, field):
    ours, theirs, cores = pair
    bad = copy.deepcopy(ours)
    layer = bad["dvs_layer"] if kind == "dvs" else bad["cnn_layers"][next(iter(cores.values()))]
    layer[field] = not NEEDED_DEFAULTS[kind][field]
    with pytest.raises(AssertionError, match=field):
        assert_same_config(bad, theirs, validate=False)


def test_the_issue_example_fails(pair):
    """Bias 5, leak on, initial state 3, decimator on and the ON channel off: each alone fails the comparison."""
    ours, theirs, cores = pair
    core = next(iter(cores.values()))
    edits = [("biases", lambda layer: [5] * len(layer["biases"])), ("leak_enable", lambda layer: True),
             ("neurons_initial_value", lambda layer: (np.array(layer["neurons_initial_value"]) + 3).tolist()),
             ("output_decimator_enable", lambda layer: True)]
    for field, edit in edits:
        bad = copy.deepcopy(ours)
        bad["cnn_layers"][core][field] = edit(bad["cnn_layers"][core])
        with pytest.raises(AssertionError, match=field):
            assert_same_config(bad, theirs, validate=False)
    bad = copy.deepcopy(ours)
    bad["dvs_layer"]["on_channel"] = False
    with pytest.raises(AssertionError, match="on_channel"):
        assert_same_config(bad, theirs, validate=False)
