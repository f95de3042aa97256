"""The fast kernel's two ways of handling an event (issue 14) against the reference simulator: cores of a feed-forward
network update all targets of an event before handing out its spikes (wide feature runs, many spikes per event,
strides, deep chains with merges); cores on a loop follow the rules step by step.  Both must give the reference's
output events in its order, its final states and counts."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import configs as C  # noqa: E402
from snnc.compiler.errors import SnncError  # noqa: E402
from snnc.runtime.events import make_events  # noqa: E402
from snnc.runtime.simulator import Simulator, program_from_config  # noqa: E402
from snnc.runtime.simulator.driver import on_a_loop  # noqa: E402
from snnc.runtime.simulator.reference import ReferenceSimulator  # noqa: E402

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _deep_reference(prog, ev):
    """The reference simulator (recursive, depth-first cascades) on a thread with a large stack and recursion limit,
    so that a long cascade is compared instead of lost to a RecursionError.  Returns (result, SnncError or None)."""
    out: dict = {}

    def work():
        try:
            out["ref"] = ReferenceSimulator(prog).run(ev)
        except SnncError as e:
            out["err"] = e
        except BaseException as e:  # RecursionError included: the test must see it
            out["bad"] = e

    old_limit, old_stack = sys.getrecursionlimit(), threading.stack_size()
    sys.setrecursionlimit(200_000)
    threading.stack_size(512 << 20)
    try:
        t = threading.Thread(target=work)
        t.start()
        t.join()
    finally:
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)
    if "bad" in out:
        raise out["bad"]
    return out.get("ref"), out.get("err")


def _same(cfg, ev, overflow="saturate"):
    prog = program_from_config(cfg, overflow=overflow)
    ref, err = _deep_reference(prog, ev)
    if err is not None:  # a loop that keeps firing: the fast simulator refuses it too
        with pytest.raises(SnncError):
            Simulator(prog).run(ev)
        return None
    fast = Simulator(prog).run(ev)
    np.testing.assert_array_equal(fast.output_events, ref.output_events)
    np.testing.assert_array_equal(fast.readout_events, ref.readout_events)
    for c in ref.final_state:
        np.testing.assert_array_equal(fast.final_state[c], ref.final_state[c])
        np.testing.assert_array_equal(fast.spike_counts[c], ref.spike_counts[c])
        np.testing.assert_array_equal(fast.event_synops[c], ref.event_synops[c])
    assert fast.spikes_per_core == ref.spikes_per_core and fast.dropped_events == ref.dropped_events
    return ref


def _events(draw, shape, n_max):
    n = draw(st.integers(1, n_max))
    c, h, w = shape
    ints = lambda lim: np.asarray(draw(st.lists(st.integers(0, lim - 1), min_size=n, max_size=n)), np.int64)  # noqa
    return make_events(ints(w), ints(h), np.sort(ints(5000)), ints(c))


def _w(draw, shape, lo=-20, hi=40):
    seed = draw(st.integers(0, 2 ** 31))
    return np.random.default_rng(seed).integers(lo, hi + 1, shape)


@st.composite
def wide_deep(draw):
    """A chain of 2-4 cores with wide feature counts (up to 40: many spikes per event, the sort of more than 32),
    kernels up to 5 with stride 1 or 2, and a merge of core 0 into the last core."""
    depth = draw(st.integers(2, 4))
    c, h = draw(st.integers(1, 3)), draw(st.integers(4, 7))
    cores, shape0 = {}, (c, h, h)
    specs = []
    for i in range(depth):
        k = draw(st.integers(1, min(5, h)))
        s = draw(st.sampled_from([1, 1, 2]))
        p = draw(st.integers(0, k - 1))
        f = draw(st.sampled_from([1, 5, 16, 40]))
        oh = C.out_size(h, k, s, p)
        if oh < 1:
            k, s, p, oh = 1, 1, 0, h
        specs.append((c, h, k, s, p, f, oh))
        c, h = f, oh
    merge = depth >= 3 and draw(st.booleans())
    for i, (ci, hi, k, s, p, f, oh) in enumerate(specs):
        dests = [(i + 1, 1, 0)] if i + 1 < depth else []
        if merge and i == 0:
            last = specs[-1]
            if last[1] == oh and f <= last[0]:  # core 0 can feed the last core too (same map, features fit)
                dests.append((depth - 1, 1, 0))
        th = draw(st.sampled_from([5, 30, 100]))
        cores[i] = C.layer(_w(draw, (f, ci, k, k)), (hi, hi), stride=s, padding=p, threshold_high=th,
                           threshold_low=draw(st.sampled_from([-1, -50, -32768])),
                           return_to_zero=draw(st.booleans()), monitor=draw(st.booleans()) or i == depth - 1,
                           destinations=dests, decimator=draw(st.sampled_from([None, None, 1])))
    return C.config(cores), _events(draw, shape0, 10)


@settings(max_examples=20, **SETTINGS)
@given(wide_deep())
def test_wide_and_deep_feed_forward_networks(case):
    cfg, ev = case
    _same(cfg, ev)


@st.composite
def loops(draw):
    """Core 0 sends its spikes back to itself (a 1x1 or same-size map), possibly through core 1."""
    c, h = draw(st.integers(1, 3)), draw(st.integers(2, 5))
    k = draw(st.sampled_from([1, 3]))
    p = k // 2
    f = draw(st.integers(1, 3))
    cin = max(c, f)
    two = draw(st.booleans())
    th = draw(st.sampled_from([20, 60]))
    w0 = _w(draw, (f, cin, k, k), -30, 25)
    if two:
        cores = {0: C.layer(w0, (h, h), padding=p, threshold_high=th, return_to_zero=True, monitor=True,
                            destinations=[(1, 1, 0)]),
                 1: C.layer(_w(draw, (cin, f, 1, 1), -30, 25), (h, h), threshold_high=th, return_to_zero=True,
                            monitor=True, destinations=[(0, 1, 0)])}
    else:
        cores = {0: C.layer(w0, (h, h), padding=p, threshold_high=th, return_to_zero=True, monitor=True,
                            destinations=[(0, 1, 0)])}
    return C.config(cores, input_shape=[c, h, h]), _events(draw, (c, h, h), 12)


@settings(max_examples=40, **SETTINGS)
@given(loops())
def test_cores_on_a_loop_follow_the_rules_step_by_step(case):
    cfg, ev = case
    _same(cfg, ev)


def test_loops_are_compared_not_only_refused():
    """The loop strategy must give cascades that end (so the step-by-step path is really compared)."""
    compared = []

    @settings(max_examples=40, database=None, derandomize=True, **SETTINGS)
    @given(loops())
    def collect(case):
        ref = _same(*case)
        compared.append(ref is not None and sum(ref.spikes_per_core.values()) > 0)

    collect()
    assert sum(compared) >= 5, compared


def test_loop_detection():
    assert on_a_loop({0: [0]}) == {0} and on_a_loop({0: [1], 1: [0], 2: [0]}) == {0, 1}
    assert on_a_loop({0: [1], 1: [2, 12], 2: []}) == set()
    assert on_a_loop({0: [1], 1: [2], 2: [1]}) == {1, 2}


def test_many_spikes_from_one_event_come_in_feature_y_x_order():
    """One event fires hundreds of neurons at nine positions (the sorted hand-out of more than 32 spikes)."""
    w = np.full((40, 1, 3, 3), 10)
    w[::3] = 3  # every third feature stays below threshold
    cfg = C.config({0: C.layer(w, (6, 6), padding=1, threshold_high=5, monitor=True, destinations=[(1, 2, 0)]),
                    1: C.layer(np.ones((2, 40, 1, 1), np.int64), (3, 3), threshold_high=30, monitor=True)})
    ev = make_events(np.array([2, 3]), np.array([2, 2]), np.array([0, 10]), np.array([0, 0]))
    ref = _same(cfg, ev)
    out0 = ref.output_events[ref.output_events["layer"] == 0]
    assert len(out0) > 300
    keys = [(int(e["t"]), int(e["feature"]), int(e["y"]), int(e["x"])) for e in out0]
    assert keys == sorted(keys)
