"""The DVS layer as part of the model: sinabs' ``DVSLayer`` and the ``--dvs-*`` options, compiled to the
configuration sinabs writes, and simulated spike for spike as sinabs' ``DVSLayer.forward`` computes it."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch
import torch.nn as nn

from sinabs_ref import assert_same_config, sinabs_config  # noqa: E402

import snnc  # noqa: E402
from snnc.compiler.errors import SnncError  # noqa: E402
from snnc.runtime.events import make_events  # noqa: E402
from snnc.runtime.simulator import Simulator  # noqa: E402


def _iaf():
    import sinabs.layers as sl

    return sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)


def _init(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * 0.3)
    return model


DVS_CASES = {  # id: (DVSLayer kwargs, input shape)
    "crop-flipx-swap-pool": (dict(input_shape=(128, 128), pool=(2, 2), crop=((4, 60), (10, 60)), flip_x=True,
                                  swap_xy=True), (2, 128, 128)),
    "merge-flipy": (dict(input_shape=(64, 64), merge_polarities=True, flip_y=True), (1, 64, 64)),
    "pool-2x4-crop": (dict(input_shape=(64, 64), pool=(2, 4), crop=((3, 27), (1, 15))), (2, 64, 64)),
    "sensor-on": (dict(input_shape=(32, 32), disable_pixel_array=False), (2, 32, 32)),
}


@pytest.mark.parametrize("case", sorted(DVS_CASES))
def test_dvslayer_matches_sinabs(sinabs_dynapcnn, case):
    kwargs, shape = DVS_CASES[case]
    dvs = sinabs_dynapcnn.DVSLayer(**kwargs)
    model = _init(nn.Sequential(dvs, nn.Conv2d(dvs.get_output_shape()[0], 4, 3, bias=False), _iaf()))
    theirs, _, _ = sinabs_config(sinabs_dynapcnn, model, shape)
    ours = snnc.compile(model, input_shape=shape)
    assert_same_config(ours, theirs)
    assert ours["snnc"]["input"]["source"] == "dvs"


@pytest.mark.parametrize("pool", ["avg-2x4", "avg-2x1", "sum-2x1", "sum-4x2"])
def test_non_square_input_pooling_with_dvs_input_matches_sinabs(sinabs_dynapcnn, pool):
    import sinabs.layers as sl

    kind, k = pool.split("-")
    ky, kx = (int(v) for v in k.split("x"))
    layer = nn.AvgPool2d((ky, kx)) if kind == "avg" else sl.SumPool2d((ky, kx))
    model = _init(nn.Sequential(layer, nn.Conv2d(2, 4, 3, bias=False), _iaf()))
    shape = (2, 16, 32)
    check = snnc.check(model, input_shape=shape, dvs_input=True)
    assert check.fits, check.diagnostics.errors
    theirs, _, _ = sinabs_config(sinabs_dynapcnn, model, shape, dvs_input=True)
    ours = snnc.compile(model, input_shape=shape, dvs_input=True)
    assert_same_config(ours, theirs)
    assert ours["dvs_layer"]["pooling"] == {"x": kx, "y": ky}


def test_non_square_pooling_between_cores_is_refused_saying_why():
    import sinabs.layers as sl

    model = _init(nn.Sequential(nn.Conv2d(2, 4, 3, bias=False), _iaf(), sl.SumPool2d((2, 1)),
                                nn.Conv2d(4, 4, 3, bias=False), _iaf()))
    result = snnc.check(model, input_shape=(2, 16, 16), dvs_input=True)
    (err,) = result.diagnostics.errors
    assert err.rule == "pooling" and "between cores" in err.message and "DVS" in err.message


def _identity_model(dvs_layer, channels):
    """DVS layer -> 1x1 conv with weight = threshold on the diagonal: every event the DVS layer passes makes
    exactly one spike at the same (channel, y, x)."""
    conv = nn.Conv2d(channels, channels, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(channels).reshape(channels, channels, 1, 1))
    return nn.Sequential(dvs_layer, conv, _iaf())


@pytest.mark.parametrize("case", sorted(DVS_CASES))
@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
def test_simulator_applies_the_dvs_layer_as_sinabs_forward(sinabs_dynapcnn, case, reference):
    kwargs, shape = DVS_CASES[case]
    dvs = sinabs_dynapcnn.DVSLayer(**kwargs)
    model = _identity_model(dvs, dvs.get_output_shape()[0])
    config = snnc.compile(model, input_shape=shape)
    rng = np.random.default_rng(len(case))
    n = 400
    h, w = shape[1:]
    x, y, p = rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n)
    events = make_events(x, y, np.arange(n) * 10, p)
    sim = Simulator.from_config(config, reference=reference)
    result = sim.run(events)
    frame = torch.zeros((1, 2) + tuple(shape[1:]))
    np.add.at(frame.numpy()[0], (p, y, x), 1)
    expected = dvs(frame if shape[0] == 2 else frame)[0].numpy()
    (core,) = result.spike_counts
    assert result.spike_counts[core].shape == expected.shape
    assert np.array_equal(result.spike_counts[core], expected)


@pytest.mark.parametrize("channels", ["on", "off"])
def test_channel_selection_passes_one_polarity(channels):
    model = _identity_model(nn.Identity(), 2)
    config = snnc.compile(model, input_shape=(2, 8, 8), dvs_channels=channels)
    assert config["dvs_layer"]["on_channel"] is (channels == "on")
    assert config["dvs_layer"]["off_channel"] is (channels == "off")
    events = make_events([1, 2, 3], [1, 2, 3], [0, 10, 20], [0, 1, 1])
    counts = next(iter(snnc.simulate(config, events).spike_counts.values()))
    assert counts.sum() == (2 if channels == "on" else 1)
    assert counts[1 if channels == "on" else 0].sum() == counts.sum()


def test_cli_options_set_the_dvs_layer():
    model = _identity_model(nn.Identity(), 1)
    config = snnc.compile(model, input_shape=(1, 20, 30), dvs_crop=(5, 6, 24, 35), dvs_mirror=("x", "diagonal"),
                          dvs_pool=(2, 1))
    d = config["dvs_layer"]
    assert (d["origin"], d["cut"]) == ({"x": 5, "y": 6}, {"x": 24, "y": 35})  # 20 wide, 30 high, then swapped
    assert d["pooling"] == {"x": 1, "y": 2} and d["mirror"] == {"x": True, "y": False} and d["mirror_diagonal"]
    assert d["merge"] is True and d["pass_sensor_events"] is False
    with pytest.raises(SnncError, match="--dvs-crop"):
        snnc.check(model, input_shape=(1, 20, 30), dvs_crop=(0, 0, 19, 19))


def test_dvs_input_with_three_channels_fails_in_check_too():
    model = _identity_model(nn.Identity(), 3)
    for fn in (snnc.check, snnc.compile):
        with pytest.raises(SnncError, match="polarity"):
            fn(model, input_shape=(3, 8, 8), dvs_input=True)


def test_a_saved_dvslayer_loads_without_trust_and_without_samna(sinabs_dynapcnn, tmp_path):
    dvs = sinabs_dynapcnn.DVSLayer(input_shape=(64, 64), pool=(2, 2), crop=((2, 30), (0, 32)), flip_y=True)
    model = _init(nn.Sequential(dvs, nn.Conv2d(2, 4, 3, bias=False), _iaf()))
    path = tmp_path / "dvs.pt"
    torch.save({"model": model, "input_shape": [2, 64, 64]}, path)
    ours = snnc.compile(model, input_shape=(2, 64, 64))
    code = ("import sys, json, snnc; c = snnc.compile(sys.argv[1]); "
            "assert 'samna' not in sys.modules and 'sinabs.backend.dynapcnn' not in sys.modules; "
            "print(json.dumps(c['dvs_layer']))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    assert json.loads(out.stdout.strip().splitlines()[-1]) == ours["dvs_layer"]


@pytest.mark.parametrize("argv, code", [
    (["--dvs-pool", "2,1", "--dvs-crop", "0,0,33,33", "--dvs-mirror", "y"], 0),
    (["--dvs-crop", "0,0,33,34"], 2),  # 34x35: not the model's 34x34
    (["--dvs-crop", "0,0,33"], 2),
    (["--dvs-mirror", "z"], 2),
    (["--dvs-pool", "2,3"], 1),  # pooling 3 on x: a rule violation
    (["--dvs-pool", "3"], 1),
    (["--dvs-channels", "merge"], 2),  # the model takes 2 channels
    (["--monitor", "dvs,all", "--dvs-input"], 0),
    (["--monitor", "dvs"], 2),
])
def test_cli_dvs_and_monitor_options_exit_alike_in_check_and_compile(capsys, tmp_path, nir_paper_cnn, argv, code):
    from snnc.cli import main

    codes = []
    for cmd in (["check"], ["compile", "-o", str(tmp_path / "c.json")]):
        codes.append(main(cmd + [str(nir_paper_cnn)] + argv))
        err = capsys.readouterr().err
        if codes[-1] == 2:
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert codes == [code, code]
    assert (tmp_path / "c.json").exists() == (code == 0)


@st.composite
def _dvs_settings(draw):
    h, w = draw(st.sampled_from([16, 32])), draw(st.sampled_from([16, 32]))
    py, px = draw(st.sampled_from([1, 2, 4])), draw(st.sampled_from([1, 2, 4]))
    ph, pw = h // py, w // px
    top = draw(st.integers(0, ph - 2))
    left = draw(st.integers(0, pw - 2))
    bottom = draw(st.integers(top + 2, ph))
    right = draw(st.integers(left + 2, pw))
    return dict(input_shape=(h, w), pool=(py, px), crop=((top, bottom), (left, right)), flip_x=draw(st.booleans()),
                flip_y=draw(st.booleans()), swap_xy=draw(st.booleans()), merge_polarities=draw(st.booleans()))


@settings(max_examples=15)
@given(kwargs=_dvs_settings(), seed=st.integers(0, 1000))
def test_simulated_dvs_layer_equals_sinabs_forward_for_any_setting(sinabs_dynapcnn, kwargs, seed):
    dvs = sinabs_dynapcnn.DVSLayer(**kwargs)
    c = 1 if kwargs["merge_polarities"] else 2
    model = _identity_model(dvs, c)
    h, w = kwargs["input_shape"]
    config = snnc.compile(model, input_shape=(c, h, w))
    rng = np.random.default_rng(seed)
    n = 200
    x, y, p = rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n)
    result = snnc.simulate(config, make_events(x, y, np.arange(n), p))
    frame = torch.zeros((1, 2, h, w))
    np.add.at(frame.numpy()[0], (p, y, x), 1)
    (counts,) = result.spike_counts.values()
    assert np.array_equal(counts, dvs(frame)[0].numpy())


def test_the_dvs_layer_alone_compiles_and_is_the_output(sinabs_dynapcnn):
    """sinabs builds a network of only a DVSLayer (its test_no_conv_layers); snnc compiles it: no core used, the
    DVS layer monitored as the output (sinabs' own make_config fails on it)."""
    model = nn.Sequential(sinabs_dynapcnn.DVSLayer(input_shape=(10, 10), flip_x=True))
    assert snnc.check(model, input_shape=(2, 10, 10)).fits
    config = snnc.compile(model, input_shape=(2, 10, 10))
    assert all(not layer["weights"] for layer in config["cnn_layers"])
    snnc.load_config(config)
    d = config["dvs_layer"]
    assert d["monitor_enable"] and d["mirror"] == {"x": True, "y": False} and d["cut"] == {"x": 9, "y": 9}
    with pytest.raises(SnncError, match="--readout"):
        snnc.check(model, input_shape=(2, 10, 10), readout=True)


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
def test_the_dvs_layer_alone_is_simulated(sinabs_dynapcnn, reference):
    dvs = sinabs_dynapcnn.DVSLayer(input_shape=(10, 10), pool=(1, 2), flip_x=True)
    config = snnc.compile(nn.Sequential(dvs), input_shape=(2, 10, 10))
    events = make_events([0, 3, 9], [1, 4, 9], [0, 5, 7], [1, 0, 1])
    out = snnc.simulate(config, events, reference=reference).output_events
    assert out["layer"].tolist() == [13, 13, 13]
    frame = torch.zeros((1, 2, 10, 10))
    frame[0, [1, 0, 1], [1, 4, 9], [0, 3, 9]] = 1
    expected = dvs(frame)[0].numpy()
    got = np.zeros_like(expected)
    np.add.at(got, (out["feature"], out["y"], out["x"]), 1)
    assert np.array_equal(got, expected)
