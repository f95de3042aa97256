"""The chip's scalar neuron rules (runtime/neuron.py), in Python and compiled by numba."""
from __future__ import annotations

import numba
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.runtime.neuron import INT16_MAX, INT16_MIN, decimator_ratio, fire, integrate, leak_ticks

states = st.integers(INT16_MIN, INT16_MAX)
weights = st.integers(-128, 127)
floors = st.integers(INT16_MIN, -1)
thresholds = st.integers(1, INT16_MAX)

jit_integrate = numba.njit(integrate)
jit_fire = numba.njit(fire)


def test_int16_range():
    assert (INT16_MIN, INT16_MAX) == (-32768, 32767)


def test_integrate_adds_then_floors():
    assert integrate(10, 5, -1) == 15
    assert integrate(10, -20, -1) == -1  # floored at threshold_low
    assert integrate(-5, -128, -100) == -100


def test_integrate_saturates_or_wraps():
    assert integrate(32700, 100, -1) == INT16_MAX
    assert integrate(32700, 100, INT16_MIN, saturate=False) == 32800 - 65536
    # after wrapping below the floor, the floor still applies
    assert integrate(32700, 100, -1, saturate=False) == -1
    assert integrate(INT16_MIN, -1, INT16_MIN) == INT16_MIN
    assert integrate(INT16_MIN, -1, INT16_MIN, saturate=False) == INT16_MAX  # a 16-bit adder wraps downwards too


def test_fire_is_at_threshold_and_one_spike():
    assert fire(127, 127, False) == (0, True)  # '>=' (hardware: weight 127, threshold 127 -> one spike)
    assert fire(126, 127, False) == (126, False)
    assert fire(300, 100, False) == (200, True)  # one spike even at 3x threshold; subtract reset
    assert fire(300, 100, True) == (0, True)  # return to zero


@given(states, weights, floors, st.booleans())
def test_integrate_stays_in_range_and_above_floor(v, w, low, sat):
    out = integrate(v, w, low, sat)
    assert INT16_MIN <= out <= INT16_MAX
    assert out >= low
    if sat and INT16_MIN <= v + w <= INT16_MAX:
        assert out == max(v + w, low)
    if not sat:  # a 16-bit two's-complement adder, then the floor
        assert out == max((v + w + 32768) % 65536 - 32768, low)


@given(states, thresholds, st.booleans())
def test_fire_resets(v, th, rtz):
    out, spiked = fire(v, th, rtz)
    assert spiked == (v >= th)
    if not spiked:
        assert out == v
    elif rtz:
        assert out == 0
    else:
        assert out == v - th


@settings(deadline=None)
@given(states, weights, floors, thresholds, st.booleans(), st.booleans())
def test_numba_compiles_the_same_rules(v, w, low, th, sat, rtz):
    assert jit_integrate(v, w, low, sat) == integrate(v, w, low, sat)
    assert tuple(jit_fire(v, th, rtz)) == fire(v, th, rtz)


def test_decimator_ratio():
    assert [decimator_ratio(i) for i in range(8)] == [2, 4, 8, 16, 32, 128, 256, 512]
    with pytest.raises(ValueError):
        decimator_ratio(8)


jit_leak_ticks = numba.njit(leak_ticks)


@settings(max_examples=400)
@given(v=states, b=st.integers(-1024, 1023) | st.integers(INT16_MIN, INT16_MAX),
       low=floors | st.just(INT16_MIN), n=st.integers(0, 300) | st.integers(65530, 70000),
       saturate=st.booleans())
def test_leak_ticks_is_n_integrates(v, b, low, n, saturate):
    """The closed form (and its numba build) equals n leak updates one at a time."""
    want = v
    for _ in range(n):
        want = integrate(want, b, low, saturate)
    assert leak_ticks(v, b, low, n, saturate) == want
    assert jit_leak_ticks(v, b, low, n, saturate) == want


def test_leak_ticks_of_a_huge_gap_is_instant():
    assert leak_ticks(0, 3, -100, 10 ** 15) == INT16_MAX
    assert leak_ticks(0, -3, -100, 10 ** 15) == -100
    assert leak_ticks(5, 7, INT16_MIN, 10 ** 15, saturate=False) == (5 + 10 ** 15 * 7 - INT16_MIN) % 65536 + INT16_MIN
