"""The training neuron is the chip's integer neuron: same rules as runtime/neuron.py and the simulator."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.runtime import neuron as chip
from snnc.runtime.training.neurons import iaf_step, run_neuron, spike_count
from snnc.runtime.training.quant import chip_ranges, layer_quant, quantize_weight


@settings(max_examples=150, deadline=None)
@given(threshold=st.integers(2, 3000), low_frac=st.floats(0.01, 1.0), zero=st.booleans(),
       weights=st.lists(st.floats(-0.999, 0.999), min_size=1, max_size=40))
def test_one_event_per_step_equals_scalar_rules(threshold, low_frac, zero, weights):
    """With one input event per step (any sign, |w| < threshold), the tensor step is integrate() then fire()."""
    low = min(-1, -int(low_frac * threshold))
    ws = [int(w * (threshold - 1)) for w in weights]
    v_chip, spikes_chip = 0, []
    v = torch.zeros(1)
    for w in ws:
        v_chip = chip.integrate(v_chip, w, low)
        v_chip, s = chip.fire(v_chip, threshold, zero)
        spikes_chip.append(int(s))
        s_t, v = iaf_step(v, torch.tensor([float(w)]), float(threshold), float(low),
                          "zero" if zero else "subtract", state_max=float(chip.INT16_MAX))
        assert int(s_t) == int(s)
        assert int(v) == v_chip


@settings(max_examples=100, deadline=None)
@given(threshold=st.integers(2, 500),
       steps=st.lists(st.lists(st.integers(0, 499), min_size=0, max_size=12), min_size=1, max_size=10))
def test_several_nonnegative_events_per_step_count_like_the_chip(threshold, steps):
    """Non-negative weights below threshold, subtract reset: floor(V/threshold) per step = the chip's count."""
    low = -threshold
    v_chip, n_chip = 0, 0
    v = torch.zeros(1)
    n = 0
    for events in steps:
        ws = [w % threshold for w in events]
        for w in ws:
            v_chip = chip.integrate(v_chip, w, low)
            v_chip, s = chip.fire(v_chip, threshold, False)
            n_chip += int(s)
        s_t, v = iaf_step(v, torch.tensor([float(sum(ws))]), float(threshold), float(low), "subtract",
                          state_max=float(chip.INT16_MAX))
        n += int(s_t)
        assert n == n_chip and int(v) == v_chip


@settings(max_examples=60, deadline=None)
@given(threshold=st.integers(200, chip.INT16_MAX - chip.WEIGHT_MAX), n_events=st.integers(0, 2000),
       w=st.integers(0, chip.WEIGHT_MAX))
def test_a_step_summing_past_int16_still_counts_like_the_chip(threshold, n_events, w):
    """Hundreds of events in one step may sum past the int16 range; the chip fires on the way, so must we."""
    v_chip, n_chip = 0, 0
    for _ in range(n_events):
        v_chip = chip.integrate(v_chip, w, -1)
        v_chip, s = chip.fire(v_chip, threshold, False)
        n_chip += int(s)
    s_t, v = iaf_step(torch.zeros(1), torch.tensor([float(w * n_events)]), float(threshold), -1.0, "subtract",
                      state_max=float(chip.INT16_MAX))
    assert int(s_t) == n_chip and int(v) == v_chip


def test_floor_and_ranges_come_from_the_target_table():
    assert chip_ranges()["state"] == (chip.INT16_MIN, chip.INT16_MAX)
    assert chip_ranges()["weight"] == (chip.WEIGHT_MIN, chip.WEIGHT_MAX)
    _, v = iaf_step(torch.zeros(1), torch.tensor([-50.0]), 10.0, -3.0)
    assert float(v) == -3.0


def test_surrogate_gradient_flows_to_silent_neurons():
    v = torch.tensor([0.5, 1.5, 3.2], requires_grad=True)
    n = spike_count(v, 1.0)
    assert n.tolist() == [0.0, 1.0, 3.0]
    n.sum().backward()
    g = v.grad.tolist()
    assert 0 < g[0] < g[1] and g[1] == pytest.approx(1.0) and g[2] == pytest.approx(1.0)


def test_single_spike_surrogate_falls_off_above_the_threshold_too():
    """Reset to zero fires at most once per step: more input above the threshold gives no more spikes, so the
    surrogate slope falls off there as it does below (issue 21: a flat 1/threshold above it drove every layer to
    fire at every step, 32 % on MNIST).  Symmetric around the threshold; subtract reset keeps 1/threshold above."""
    v = torch.tensor([0.5, 1.0, 1.5, 3.0, 6.0], requires_grad=True)
    n = spike_count(v, 1.0, multi=False)
    assert n.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    n.sum().backward()
    g = v.grad.tolist()
    assert g[1] == pytest.approx(1.0) and g[0] == pytest.approx(g[2]) and g[1] > g[2] > g[3] > g[4] > 0
    v = torch.tensor([1.5, 3.0], requires_grad=True)
    spike_count(v, 1.0, multi=True).sum().backward()
    assert v.grad.tolist() == pytest.approx([1.0, 1.0])


def test_run_neuron_shape_and_reset_zero_single_spike():
    cur = torch.full((2, 5, 3), 2.5)
    s = run_neuron(cur, 1.0, -1.0, reset="zero")
    assert s.shape == cur.shape and s.max() == 1.0  # at most one spike per step with reset to zero
    s = run_neuron(cur, 1.0, -1.0, reset="subtract")
    assert s[0, :, 0].tolist() == [2.0, 3.0, 2.0, 3.0, 2.0]  # 2.5 per step: floor((carry + 2.5) / 1)


@settings(max_examples=60, deadline=None)
@given(w=st.lists(st.floats(-3.0, 3.0), min_size=2, max_size=30), th=st.floats(0.05, 5.0),
       low=st.floats(-5.0, -0.01))
def test_quantized_weights_are_int8_below_threshold(w, th, low):
    wt = torch.tensor(w)
    wt = wt.clamp(-0.99 * th, 0.99 * th)
    q = layer_quant(wt, th, low)
    qi = quantize_weight(wt, q)
    assert torch.equal(qi, torch.round(qi))
    assert qi.abs().max() <= 127 and qi.abs().max() < q.threshold
    assert q.threshold_low != 0 and chip.INT16_MIN <= q.threshold_low < 0 < q.threshold
    assert q.threshold <= chip.INT16_MAX - chip.WEIGHT_MAX


def test_quantization_passes_gradients_straight_through():
    w = torch.tensor([0.1, -0.2, 0.3], requires_grad=True)
    q = layer_quant(w, 1.0, -1.0)
    quantize_weight(w, q).sum().backward()
    assert np.allclose(w.grad.numpy(), q.scale)
