"""The bandwidth queue model on hand-worked queues (every figure below is worked out in the comments), against an
independent event-by-event simulation of the same model, and against the M/D/1 formula for Poisson input."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.compiler.queue_model import (culprit, poisson_trace, run_queues, run_queues_events, service_us,
                                       summary)


def both(t, core, synops, parent, service, outputs=None):
    """The vectorised schedule, checked against the event-by-event one."""
    a = run_queues(t, core, synops, parent, service, outputs)
    b = run_queues_events(t, core, synops, parent, service, outputs)
    np.testing.assert_allclose(a.arrival, b.arrival)
    np.testing.assert_allclose(a.start, b.start)
    np.testing.assert_allclose(a.completion, b.completion)
    return a


def test_service_time_is_t0_plus_synops_times_t_syn():
    # core 0 at 100 M SynOps/s (10 ns each), core 3 at 30 M/s; t0 = 120 ns
    s = service_us(np.array([0, 3, 3]), np.array([100, 0, 300]), 120e-9, {0: 1 / 100e6, 3: 1 / 30e6})
    np.testing.assert_allclose(s, [0.12 + 1.0, 0.12, 0.12 + 10.0])


def test_single_burst():
    """5 events at t = 0 on one core, 100 synops each at 10 ns plus t0 = 0.5 us: 1.5 us each, served one after the
    other: completions 1.5, 3, 4.5, 6, 7.5 us; right after the burst all 500 synops are queued."""
    n = 5
    service = service_us(np.zeros(n, int), np.full(n, 100), 0.5e-6, {0: 1e-8})
    run = both(np.zeros(n), np.zeros(n, int), np.full(n, 100), np.full(n, -1), service, np.ones(n, int))
    np.testing.assert_allclose(run.completion, [1.5, 3, 4.5, 6, 7.5])
    st_ = run.core_stats(0)
    assert st_["max_backlog_synops"] == 500 and st_["max_backlog_events"] == 5
    assert st_["max_added_delay_us"] == pytest.approx(7.5)
    assert st_["longest_busy_period_us"] == pytest.approx(7.5)
    assert st_["utilisation"] == pytest.approx(1.0)  # busy from the burst until it drains
    s = summary(run, input_end_us=0.0, max_latency_us=10.0)
    assert s["max_added_latency_us"] == pytest.approx(7.5)
    assert s["p99_added_latency_us"] == pytest.approx(np.percentile([1.5, 3, 4.5, 6, 7.5], 99))
    assert s["ok"] and s["drain_us"] == pytest.approx(7.5)
    assert not summary(run, 0.0, 7.0)["ok"]  # 7.5 us > 7 us: over the accepted latency, and drains too late
    np.testing.assert_allclose(run.backlog_at(0, [-1, 0, 1.5, 3.1, 7.5]), [0, 500, 400, 300, 0])


def test_periodic_overload_grows_without_bound():
    """An event every 10 us needing 12 us: event k waits 2k us, so its delay is 12 + 2k and the core never idles;
    after arrival k the deliveries j with 12 (j + 1) > 10 k are in the system (18 at most for 100 events)."""
    n = 100
    t = 10.0 * np.arange(n)
    run = both(t, np.zeros(n, int), np.full(n, 7), np.full(n, -1), np.full(n, 12.0), np.ones(n, int))
    np.testing.assert_allclose(run.completion - run.arrival, 12 + 2 * np.arange(n))
    st_ = run.core_stats(0)
    assert st_["max_added_delay_us"] == pytest.approx(12 + 2 * (n - 1))
    assert st_["longest_busy_period_us"] == pytest.approx(12 * n)  # one busy period
    assert st_["max_backlog_events"] == 18 and st_["max_backlog_synops"] == 18 * 7
    s = summary(run, input_end_us=t[-1], max_latency_us=100.0)
    assert not s["ok"] and set(s["reasons"]) == {"latency", "drain"}
    assert s["drain_us"] == pytest.approx(12 * n)
    # the same stream at 8 us per event: every event is served at once, utilisation 8/10 of the input's span
    under = both(t, np.zeros(n, int), np.full(n, 7), np.full(n, -1), np.full(n, 8.0), np.ones(n, int))
    st_ = under.core_stats(0)
    assert st_["max_added_delay_us"] == pytest.approx(8) and st_["max_backlog_events"] == 1
    assert st_["utilisation"] == pytest.approx(8 * n / (10 * (n - 1) + 8))
    assert summary(under, t[-1], 100.0)["ok"]


def test_tandem_of_two_cores():
    """Core 0 (2 us per event) feeds core 1 (3 us).  Inputs at 0, 1, 2 us.  Core 0 completes at 2, 4, 6; core 1
    receives them then and completes at 5, max(5, 4) + 3 = 8, max(8, 6) + 3 = 11: output latencies 5, 7, 9 us."""
    t = np.array([0, 0, 1, 1, 2, 2], float)
    core = np.array([0, 1, 0, 1, 0, 1])
    parent = np.array([-1, 0, -1, 2, -1, 4])
    service = np.array([2, 3, 2, 3, 2, 3], float)
    outputs = np.array([0, 1, 0, 1, 0, 1])
    run = both(t, core, np.ones(6), parent, service, outputs)
    np.testing.assert_allclose(run.completion, [2, 5, 4, 8, 6, 11])
    np.testing.assert_allclose(np.sort(run.output_latency_us()), [5, 7, 9])
    assert run.core_stats(0)["max_added_delay_us"] == pytest.approx(4)  # third event: waits 2, served 2
    assert run.core_stats(1)["max_added_delay_us"] == pytest.approx(5)  # third: arrives 6, done 11
    assert culprit(run) == 1
    assert run.cores == [0, 1]


def test_merge_of_two_cores():
    """Cores 0 (1 us) and 1 (2 us) both take the input and both feed core 2 (4 us).  Input at 0: core 2 receives
    at 1 and 2, completes 5 and 9.  Input at 3: core 0 done at 4, core 1 at 5; core 2 completes 13 and 17.
    Output latencies 5, 9, 10, 14 us; right after the arrival at 5 (its delivery completing exactly then is gone),
    three deliveries wait on core 2."""
    t = np.array([0, 0, 0, 0, 3, 3, 3, 3], float)
    core = np.array([0, 2, 1, 2, 0, 2, 1, 2])
    parent = np.array([-1, 0, -1, 2, -1, 4, -1, 6])
    service = np.array([1, 4, 2, 4, 1, 4, 2, 4], float)
    outputs = (core == 2).astype(int)
    run = both(t, core, np.full(8, 10), parent, service, outputs)
    np.testing.assert_allclose(run.arrival[core == 2], [1, 2, 4, 5])
    np.testing.assert_allclose(run.completion[core == 2], [5, 9, 13, 17])
    np.testing.assert_allclose(np.sort(run.output_latency_us()), [5, 9, 10, 14])
    assert run.core_stats(2)["max_backlog_events"] == 3 and run.core_stats(2)["max_backlog_synops"] == 30
    assert summary(run, 3.0, 14.0)["ok"] and not summary(run, 3.0, 13.9)["ok"]


def test_ties_are_served_in_processing_order_and_cycles_fall_back():
    # three deliveries reach core 1 at 5 us (two input events, and the spike of a delivery completing on core 0
    # then): served in trace order, 5 + 5, then + 7, then + 1
    run = both([0, 5, 5, 0], [0, 1, 1, 1], [1, 1, 1, 1], [-1, -1, -1, 0], [5.0, 5.0, 7.0, 1.0])
    np.testing.assert_allclose(run.completion, [5, 10, 17, 18])
    # a core feeding itself (recurrence): the event-by-event simulation answers
    loop = run_queues([0, 0, 0], [0, 0, 0], [1, 1, 1], [-1, 0, 1], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(loop.completion, [1, 2, 3])
    with pytest.raises(ValueError, match="before"):
        run_queues([0, 0], [0, 1], [1, 1], [1, -1], [1.0, 1.0])


@st.composite
def traces(draw):
    n = draw(st.integers(1, 60))
    core, parent, t = [], [], []
    for i in range(n):
        c = draw(st.integers(0, 3))
        earlier = [j for j in range(i) if core[j] < c]
        p = draw(st.sampled_from([-1] + earlier)) if earlier and draw(st.booleans()) else -1
        core.append(c)
        parent.append(p)
        t.append(float(draw(st.integers(0, 30))) if p < 0 else t[p])
    service = [float(draw(st.integers(1, 6))) for _ in range(n)]
    return np.array(t), np.array(core), np.ones(n), np.array(parent), np.array(service)


@settings(max_examples=100)
@given(traces())
def test_vectorised_schedule_equals_event_by_event(case):
    run = both(*case)
    assert np.all(run.start >= run.arrival) and np.all(run.completion == run.start + run.service)
    kids = run.parent >= 0
    np.testing.assert_allclose(run.arrival[kids], run.completion[run.parent[kids]])
    for c in np.unique(run.core):  # one at a time per core
        idx = np.flatnonzero(run.core == c)
        o = np.argsort(run.start[idx], kind="stable")
        assert np.all(run.start[idx][o][1:] >= run.completion[idx][o][:-1] - 1e-9)


def test_poisson_single_core_matches_md1():
    """Poisson arrivals at 100 k/s, 5 us each (utilisation 0.5): M/D/1 mean wait rho S / (2 (1 - rho)) = 2.5 us."""
    layers = [{"core": 0, "fanout": 50, "activity": 0.0, "decimate": 1, "input": True, "destinations": []}]
    tr = poisson_trace(1e5, 2e6, layers, seed=0)
    service = service_us(tr["core"], tr["synops"], 0.0, {0: 1e-7})
    run = run_queues(tr["t"], tr["core"], tr["synops"], tr["parent"], service, tr["outputs"])
    wait = run.start - run.arrival
    assert wait.mean() == pytest.approx(2.5, rel=0.1)
    assert run.core_stats(0)["utilisation"] == pytest.approx(0.5, rel=0.05)


def test_poisson_trace_decimates_and_routes():
    layers = [{"core": 1, "fanout": 9, "activity": 2.0, "decimate": 4, "input": True, "destinations": [1]},
              {"core": 0, "fanout": 3, "activity": 1.0, "decimate": 1, "input": False, "destinations": ["output"]}]
    tr = poisson_trace(1e4, 1e6, layers, seed=1)
    first = tr["core"] == 1
    assert first.sum() == pytest.approx(1e4, rel=0.05)
    assert (~first).sum() == pytest.approx(1e4 * 2 / 4, rel=0.05)  # 2 spikes per event, 1 in 4 passed
    assert np.all(tr["parent"][~first] >= 0) and np.all(tr["core"][tr["parent"][~first]] == 1)
    assert tr["outputs"].sum() == pytest.approx((~first).sum(), rel=0.05)
    assert np.all(tr["synops"][first] == 9)
