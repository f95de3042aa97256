"""Integer quantization of chip layers (compiler/quantize.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from snnc.compiler.chip import OUTPUT, ChipLayer, ChipModel, Destination
from snnc.compiler.errors import Diagnostics, SnncError
from snnc.compiler.pipeline import CompileOptions
from snnc.compiler.quantize import (is_integer_layer, quantize_chip, quantize_layer, sinabs_scale)
from snnc.targets.speck import get_target

T = get_target("speck2f")


def make_layer(weight, threshold_high=1.0, threshold_low=-1.0, bias=None, v_init=None, name="conv") -> ChipLayer:
    w = np.asarray(weight, dtype=np.float64)
    f, c, kh, kw = w.shape
    return ChipLayer(name=name, weight=w, bias=None if bias is None else np.asarray(bias, dtype=np.float64),
                     stride=(1, 1), padding=(0, 0), input_shape=(c, kh, kw), output_shape=(f, 1, 1),
                     threshold_high=threshold_high, threshold_low=threshold_low,
                     v_init=None if v_init is None else np.asarray(v_init, dtype=np.float64),
                     destinations=[Destination(OUTPUT)], core=0)


floats = st.floats(-4, 4, allow_nan=False, width=32)
weights = arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 3), st.just(3), st.just(3)), elements=floats)


@settings(max_examples=60, deadline=None)
@given(values=arrays(np.float32, st.integers(1, 40), elements=st.floats(-1e3, 1e3, allow_nan=False, width=32)),
       bits=st.sampled_from([8, 16]))
def test_scale_is_sinabs_scale(sinabs_dynapcnn, values, bits):
    from sinabs.backend.dynapcnn.discretize import determine_discretization_scale

    if not np.any(values):
        assert np.isinf(sinabs_scale(values, bits))
        return
    ref = determine_discretization_scale(torch.from_numpy(values), bits)
    assert sinabs_scale(values, bits) == np.float32(ref)


@settings(max_examples=40, deadline=None)
@given(w=weights, thr=st.floats(0.0625, 8, width=32), low=st.floats(-8, -0.0625, width=32))
def test_sinabs_policy_gives_sinabs_integers(sinabs_dynapcnn, w, thr, low):
    """Same integers as sinabs' discretize_conv_spike for a conv + IAF with a floor (min_v_mem)."""
    import sinabs.layers as sl
    from sinabs.backend.dynapcnn.discretize import discretize_conv_spike

    conv = torch.nn.Conv2d(w.shape[1], w.shape[0], 3, bias=False)
    conv.weight.data = torch.from_numpy(w.copy())
    spk = sl.IAFSqueeze(batch_size=1, spike_threshold=float(thr), min_v_mem=float(low))
    layer = make_layer(w, float(np.float32(thr)), float(np.float32(low)))
    # a layer that is already integer keeps scale 1 by design (tested elsewhere); sinabs would rescale it
    assume(not is_integer_layer(layer, T))
    conv_q, spk_q = discretize_conv_spike(conv, spk, to_int=True)
    q = quantize_layer(layer, T, "sinabs")
    assert np.array_equal(q.weight, conv_q.weight.detach().numpy().astype(np.int64))
    assert q.threshold_high == int(spk_q.spike_threshold)
    ref_low = int(spk_q.min_v_mem)
    assert q.threshold_low == (ref_low if ref_low != 0 else -1)


@settings(max_examples=60, deadline=None)
@given(w=weights, thr=st.floats(0.015625, 100, width=32), low=st.one_of(st.none(), st.floats(-100, 0, width=32)),
       policy=st.sampled_from(["sinabs", "percentile"]),
       bias=st.one_of(st.none(), arrays(np.float32, 4, elements=floats)))
def test_every_number_lands_in_the_chip_range(w, thr, low, policy, bias):
    bias = None if bias is None else bias[: w.shape[0]]
    q = quantize_layer(make_layer(w, float(thr), None if low is None else float(low), bias=bias), T, policy)
    assert q.quantized and q.weight.dtype == np.int64
    assert T.weight_range[0] <= q.weight.min() and q.weight.max() <= T.weight_range[1]
    assert T.threshold_range[0] <= q.threshold_low < q.threshold_high <= T.threshold_range[1]
    assert q.threshold_low != 0
    if bias is not None:
        assert T.bias_range[0] <= q.bias.min() and q.bias.max() <= T.bias_range[1]
    assert q.scale > 0 and q.quant_report["scale"] == pytest.approx(q.scale, rel=1e-5)


def test_missing_floor_does_not_crush_the_scale():
    w = np.full((2, 1, 3, 3), 0.01)
    w[0, 0, 0, 0] = 0.02
    d = Diagnostics()
    q = quantize_layer(make_layer(w, threshold_high=0.05, threshold_low=None), T, "sinabs", d)
    assert q.scale == pytest.approx(127 / 0.02, rel=1e-6)  # sinabs would use -2^15 as the floor -> scale 1
    assert q.weight.max() == 127 and q.threshold_high == round(0.05 * q.scale)
    assert q.threshold_low == T.threshold_range[0]
    assert q.quant_report["threshold_low_source"] == "chosen"
    assert any(x.rule == "quantization" and "lower threshold" in x.message for x in d.warnings)


def test_threshold_never_rounds_to_zero():
    d = Diagnostics()
    q = quantize_layer(make_layer(np.full((1, 1, 1, 1), 4.0), threshold_high=0.0156, threshold_low=-1.0), T,
                       "sinabs", d)
    assert q.threshold_high == 1 and any("rounds to 0" in x.message for x in d.warnings)


def test_zero_floor_becomes_minus_one():
    d = Diagnostics()
    q = quantize_layer(make_layer(np.full((1, 1, 1, 1), 0.5), threshold_high=1.0, threshold_low=0.0), T, "sinabs", d)
    assert q.threshold_low == -1
    assert q.quant_report["threshold_low_source"] == "adjusted"
    assert any("rounds to 0" in x.message for x in d.warnings)


@pytest.mark.parametrize("policy", ["sinabs", "percentile"])
def test_integer_layers_keep_scale_one(policy):
    w = np.array([[[[3, -2], [0, 127]]], [[[-128, 5], [1, 1]]]], dtype=np.float64)
    layer = make_layer(w, threshold_high=200.0, threshold_low=-7.0, bias=[3.0, -1000.0])
    assert is_integer_layer(layer, T)
    d = Diagnostics()
    q = quantize_layer(layer, T, policy, d)
    assert q.scale == 1.0 and np.array_equal(q.weight, w.astype(np.int64))
    assert (q.threshold_high, q.threshold_low) == (200, -7) and q.bias.tolist() == [3, -1000]
    assert q.quant_report["policy"] == "integer" and "scale 1" in q.quant_report["note"]
    assert not d.warnings


def test_not_integer_when_out_of_range_or_fractional():
    assert not is_integer_layer(make_layer(np.full((1, 1, 1, 1), 300.0), 400.0, -1.0), T)
    assert not is_integer_layer(make_layer(np.full((1, 1, 1, 1), 0.5), 1.0, -1.0), T)


def test_warns_when_many_weights_round_to_zero():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.01, (8, 4, 3, 3))
    w[0, 0, 0, 0] = 1.0  # one large weight sets the scale
    d = Diagnostics()
    q = quantize_layer(make_layer(w, threshold_high=2.0), T, "sinabs", d)
    zeroed = q.quant_report["zeroed_weights"]
    assert zeroed > 0.2
    assert [x for x in d.warnings if x.rule == "quantization" and "round to 0" in x.message]
    d2 = Diagnostics()
    quantize_layer(make_layer(rng.normal(0, 0.3, (8, 4, 3, 3)), threshold_high=2.0), T, "sinabs", d2)
    assert not [x for x in d2.warnings if "round to 0" in x.message]


def test_warns_when_the_threshold_moves():
    w = np.full((1, 1, 1, 1), 1.0)  # scale 127
    d = Diagnostics()
    quantize_layer(make_layer(w, threshold_high=11 / 127, threshold_low=-1.0), T, "sinabs", d)
    assert not d.warnings
    d = Diagnostics()
    q = quantize_layer(make_layer(w, threshold_high=1.5 / 127, threshold_low=-1.0), T, "sinabs", d)
    assert q.threshold_high == 2 and q.quant_report["threshold_relative_change"] == pytest.approx(1 / 3, rel=1e-4)
    assert any("threshold moves" in x.message for x in d.warnings)


def test_percentile_policy_trades_outliers_for_resolution():
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.05, (16, 8, 3, 3))
    w[0, 0, 0, 0] = 2.0  # one outlier
    layer = make_layer(w, threshold_high=4.0, threshold_low=-4.0)
    s = quantize_layer(layer, T, "sinabs")
    p = quantize_layer(layer, T, "percentile")
    assert p.scale > 5 * s.scale
    assert p.quant_report["clipped_weights"] > 0 and s.quant_report["clipped_weights"] == 0
    assert p.quant_report["zeroed_weights"] < s.quant_report["zeroed_weights"]
    assert p.weight[0, 0, 0, 0] == T.weight_range[1]
    # relative error of the bulk (all but the outlier) is smaller
    mask = np.ones(w.shape, bool)
    mask[0, 0, 0, 0] = False
    rel = lambda q: np.abs(q.weight[mask] / q.scale - w[mask]).mean()  # noqa: E731
    assert rel(p) < rel(s) / 5


def test_state_and_bias_share_the_scale():
    w = np.full((2, 1, 1, 1), 0.1)
    layer = make_layer(w, threshold_high=1.0, threshold_low=-1.0, bias=[0.5, -0.25], v_init=np.full((2, 1, 1), 0.3))
    q = quantize_layer(layer, T, "sinabs")
    # sinabs scales biases into int8: 0.5 limits the scale to 254 (weights alone would allow 1270)
    assert q.scale == pytest.approx(254.0) and q.quant_report["limited_by"] == "biases"
    assert q.bias.tolist() == [127, round(-0.25 * 254)] and q.v_init.tolist() == [[[76]], [[76]]]
    p = quantize_layer(layer, T, "percentile")  # biases may use 16 bits there
    assert p.scale == pytest.approx(1270.0) and p.bias.tolist() == [635, -318]


def test_quantize_chip_copies_and_rejects_unknown_policy():
    chip = ChipModel(layers=[make_layer(np.full((1, 1, 1, 1), 0.5))], input_shape=(1, 1, 1), input_targets=[0])
    out = quantize_chip(chip, T, CompileOptions(quantize="percentile"), Diagnostics())
    assert out.layers[0].quantized and not chip.layers[0].quantized
    assert out.layers[0].quant_report["policy"] == "percentile"
    with pytest.raises(SnncError, match="sinabs, percentile"):
        quantize_chip(chip, T, CompileOptions(quantize="fancy"), Diagnostics())
