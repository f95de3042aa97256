"""The two energy models: a hand-computed ICONIP 2022 example, and properties users rely on."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from snnc.compiler.chip import OUTPUT, ChipLayer, ChipModel, Destination
from snnc.compiler.energy import (LayerActivity, estimate, lemaire2022_layer, op_energy_pj, speck_layer,
                                  sram_access_pj)
from snnc.targets.speck import get_target


def conv(name="c", cin=2, cout=3, hw=4, k=3, stride=1, pad=1, bias=False, core=0):
    out = (hw + 2 * pad - k) // stride + 1
    return ChipLayer(name=name, weight=np.ones((cout, cin, k, k)), bias=np.zeros(cout) if bias else None,
                     stride=(stride, stride), padding=(pad, pad), input_shape=(cin, hw, hw),
                     output_shape=(cout, out, out), threshold_high=1.0, threshold_low=-1.0,
                     destinations=[Destination(OUTPUT)], core=core)


def test_sram_and_op_constants_are_the_papers():
    # ICONIP 2022 SRAM fit: 1.09e-5 pJ per bit stored + 13.2 pJ; an empty FIFO costs the offset only
    assert sram_access_pj(0, 8) == pytest.approx(13.2)
    assert sram_access_pj(1024, 16) == pytest.approx(13.2 + 1.09e-5 * 1024 * 16)
    assert op_energy_pj(8) == (0.03, 0.2)  # Horowitz 45 nm, 8-bit add / mul
    assert op_energy_pj(32) == (0.1, 3.1)
    assert op_energy_pj(16) == (0.1, 3.1)  # no 16-bit entry: Qualia-SNN falls back to the 32-bit values


def test_iconip_hand_computed_example():
    """A 2->3 channel 3x3 conv, 4x4 input, stride 1, pad 1, no bias; 10 input events, 5 output spikes, T = 0,
    one 8-bit memory width (Qualia-SNN's mem_width=8), FIFO size 0.  By hand:
      E_ram(n) = 1.09e-5 * 8 n + 13.2 pJ
      mem_io      = (10 + 5) * E_ram(0)                = 15 * 13.2                 = 198 pJ
      mem_weights = 10 * 3 * 9 reads * E_ram(54)       = 270 * 13.2047088          = 3565.271376 pJ
      mem_pot     = 2 * 270 accesses * E_ram(3*4*4=48) = 540 * 13.2041856          = 7130.260224 pJ
      ops         = (10 * 3*3 * 3 + 5) adds * 0.03     = 275 * 0.03                = 8.25 pJ
      addr        = 10 * 2 MACs * 0.23 + 10 * 9 adds * 0.03 = 4.6 + 2.7            = 7.3 pJ
      total                                                                         = 10909.0816 pJ
    """
    e = lemaire2022_layer(conv(), in_events=10, out_spikes=5, timesteps=0, mem_width=8)
    pj = {k: v / 1e-12 for k, v in e.items()}
    assert pj["mem_io"] == pytest.approx(198.0)
    assert pj["mem_weights"] == pytest.approx(3565.271376)
    assert pj["mem_pot"] == pytest.approx(7130.260224)
    assert pj["mem_bias"] == 0
    assert pj["ops"] == pytest.approx(8.25)
    assert pj["addr"] == pytest.approx(7.3)
    assert pj["total"] == pytest.approx(10909.0816)


def test_iconip_timesteps_and_bias_terms():
    """With a bias (leak) and T = 2: bias reads Cout*H*W*T, potentials gain 2*Cout*H*W*T accesses, leak MACs."""
    layer = conv(bias=True)
    e0 = lemaire2022_layer(layer, 10, 5, timesteps=0, mem_width=8)
    e2 = lemaire2022_layer(layer, 10, 5, timesteps=2, mem_width=8)
    n_out = 48
    assert e2["mem_bias"] / 1e-12 == pytest.approx(n_out * 2 * sram_access_pj(3, 8))
    assert (e2["mem_pot"] - e0["mem_pot"]) / 1e-12 == pytest.approx(2 * n_out * 2 * sram_access_pj(n_out, 8))
    assert (e2["ops"] - e0["ops"]) / 1e-12 == pytest.approx(n_out * 2 * (0.2 + 0.03) + n_out * 2 * 0.03)


def test_per_memory_bit_widths_follow_the_compiled_model():
    layer = conv()
    wide = lemaire2022_layer(layer, 10, 5, mem_width=32)
    compiled = lemaire2022_layer(layer, 10, 5)  # int8 weights, int16 potentials
    assert compiled["mem_weights"] / 1e-12 == pytest.approx(270 * sram_access_pj(54, 8))
    assert compiled["mem_pot"] / 1e-12 == pytest.approx(540 * sram_access_pj(48, 16))
    assert wide["mem_weights"] > compiled["mem_weights"]


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0, 1e6), b=st.floats(0, 1e6), s=st.floats(0, 1e5))
def test_energy_is_additive_in_events(a, b, s):
    """Without timesteps the ICONIP model is linear in the counts: two halves cost the whole."""
    layer = conv()
    whole = lemaire2022_layer(layer, a + b, 2 * s)["total"]
    parts = lemaire2022_layer(layer, a, s)["total"] + lemaire2022_layer(layer, b, s)["total"]
    assert whole == pytest.approx(parts, rel=1e-9, abs=1e-30)


def test_speck_model_and_estimate_totals():
    t = get_target("speck2f")
    s = speck_layer(1e6, 1e3, t)
    assert s["total"] == pytest.approx(1e6 * t.energy_per_synop_j + 1e3 * t.energy_per_spike_j)
    chip = ChipModel(layers=[conv("a", core=0), conv("b", core=1)], input_shape=(2, 4, 4), input_targets=[0])
    acts = [LayerActivity("a", 100, 50, 2000), LayerActivity("b", 50, 10, 1000)]
    e = estimate(chip, acts, t, duration_s=0.5)
    assert e["estimate"] is True
    assert e["total_joules"] == pytest.approx(sum(p["joules"] for p in e["per_layer"]) + t.static_power_w * 0.5)
    assert [p["layer"] for p in e["per_layer"]] == ["a", "b"]
    lem = e["lemaire2022"]
    assert lem["total_joules"] == pytest.approx(sum(p["joules"] for p in lem["per_layer"]))
    assert all(math.isfinite(p["joules"]) and p["joules"] > 0 for p in lem["per_layer"])
