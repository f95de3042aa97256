"""The optional delivery trace (``run(events, trace=True)``) that the bandwidth queue model runs on: the fast and the
reference simulator record the same deliveries in the same order, tracing changes no other result, and the trace
agrees with the per-core counts."""
from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings

import configs as C  # noqa: E402
from test_simulator_equivalence import SETTINGS, networks  # noqa: E402
from snnc.runtime.events import make_events  # noqa: E402
from snnc.runtime.simulator import Simulator  # noqa: E402


def _check(cfg, ev, overflow):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast_sim = Simulator.from_config(cfg, overflow=overflow)
        ref = Simulator.from_config(cfg, overflow=overflow, reference=True).run(ev, trace=True)
        fast = fast_sim.run(ev, trace=True)
        plain = fast_sim.run(ev)
    np.testing.assert_array_equal(fast.trace, ref.trace)
    assert plain.trace is None
    np.testing.assert_array_equal(fast.output_events, plain.output_events)
    for c in plain.spike_counts:
        np.testing.assert_array_equal(fast.final_state[c], plain.final_state[c])
        np.testing.assert_array_equal(fast.event_synops[c], plain.event_synops[c])
    tr = fast.trace
    for c in plain.spike_counts:  # every delivery is traced, with its synops
        on = tr["core"] == c
        assert on.sum() == plain.input_events_per_core[c]
        assert tr["synops"][on].sum() == plain.synops_per_core[c]
    assert np.all(tr["parent"] < np.arange(len(tr)))  # parents come first
    kids = tr["parent"] >= 0
    assert np.all(tr["t"][kids] == tr["t"][tr["parent"][kids]])  # a cascade keeps its input event's time
    core_out = plain.output_events[plain.output_events["layer"] < 12]
    assert tr["outputs"].sum() <= len(core_out)  # leak-tick spikes have no delivery to count them in
    return tr


@settings(max_examples=150, **SETTINGS)
@given(networks())
def test_trace_fast_equals_reference(case):
    _check(*case)


def test_trace_of_a_two_core_chain_by_hand():
    """Core 0 (1x1 conv, weight 1, threshold 1: every event spikes) feeds core 1 (2 output channels, 1x1) whose
    spikes are monitored: every input event is one delivery on core 0 (1 synop) and one on core 1 (2 synops)."""
    w0 = np.ones((1, 1, 1, 1), np.int64)
    w1 = np.ones((2, 1, 1, 1), np.int64)
    cores = {0: C.layer(w0, (2, 2), destinations=[(1, 1, 0)], threshold_high=1, threshold_low=-1),
             1: C.layer(w1, (2, 2), threshold_high=5, threshold_low=-1, monitor=True)}
    ev = make_events(np.array([0, 1, 0]), np.array([0, 0, 1]), np.array([10, 20, 30]), np.array([0, 0, 0]))
    tr = _check(C.config(cores), ev, "saturate")
    assert tr["core"].tolist() == [0, 1, 0, 1, 0, 1]
    assert tr["synops"].tolist() == [1, 2, 1, 2, 1, 2]
    assert tr["parent"].tolist() == [-1, 0, -1, 2, -1, 4]
    assert tr["t"].tolist() == [10, 10, 20, 20, 30, 30]
    assert tr["outputs"].sum() == 0  # core 1 never reaches 5
