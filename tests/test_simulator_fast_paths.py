"""The fast kernel's own arithmetic and layouts (issue 14) against the rules they stand for: the 16-bit ``lane`` against
runtime/neuron.py, the stored order of kernel columns (``kx_position``) that makes one output row one contiguous run,
wide kernels and strides up to 4 against the reference simulator, and output events beyond the first buffer."""
from __future__ import annotations


import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import configs as C  # noqa: E402
from snnc.runtime import neuron  # noqa: E402
from snnc.runtime.events import make_events  # noqa: E402
from snnc.runtime.simulator import Simulator, program_from_config  # noqa: E402
from snnc.runtime.simulator.driver import kx_order  # noqa: E402
from snnc.runtime.simulator.kernel import kx_position, lane  # noqa: E402
from snnc.runtime.simulator.reference import ReferenceSimulator  # noqa: E402

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@numba.njit(cache=False)
def _lanes(v, w, thl, thh, sat, rtz):
    out = np.empty((v.shape[0], w.shape[0], 2), np.int64)
    for i in range(v.shape[0]):
        for j in range(w.shape[0]):
            r, s = lane(np.int16(v[i]), np.int8(w[j]), np.int16(thl), np.int16(thh), sat, rtz)
            out[i, j, 0] = r
            out[i, j, 1] = s
    return out


@pytest.mark.parametrize("sat", [True, False])
@pytest.mark.parametrize("rtz", [True, False])
def test_lane_gives_the_neuron_rules(sat, rtz):
    """Every int8 weight on states across the int16 range (the ends included), floors and thresholds from one end
    of the range to the other: ``lane`` equals ``neuron.integrate`` then ``neuron.fire``."""
    v = np.unique(np.r_[np.linspace(-32768, 32767, 17).astype(np.int64), -32768, -32767, -32640, -129, -1, 0, 1,
                        127, 128, 32639, 32640, 32766, 32767])
    w = np.arange(-128, 128)
    for thl in (-32768, -300, -1, 0, 200, 32767):
        for thh in (-32768, -7, 1, 100, 32767):
            got = _lanes(v, w, thl, thh, sat, rtz)
            for i, vi in enumerate(v):
                for j, wj in enumerate(w):
                    r = neuron.integrate(int(vi), int(wj), thl, sat)
                    r, s = neuron.fire(r, thh, rtz)
                    assert (got[i, j, 0], bool(got[i, j, 1])) == (r, s), (vi, wj, thl, thh)


@pytest.mark.parametrize("k", range(1, 17))
@pytest.mark.parametrize("s", [1, 2, 3, 4, 8])
def test_kernel_columns_of_one_row_are_stored_one_after_the_other(k, s):
    pos = [kx_position(kx, k, s) for kx in range(k)]
    assert sorted(pos) == list(range(k))
    # the targets ox, ox + 1, ... of one event use columns kx, kx - s, ...: stored at p, p + 1, ...
    for kx in range(s, k):
        assert pos[kx - s] == pos[kx] + 1
    assert [pos[kx] for kx in kx_order(k, s)] == list(range(k))


def _same(cfg, ev):
    prog = program_from_config(cfg)
    ref = ReferenceSimulator(prog).run(ev)
    fast = Simulator(prog).run(ev)
    np.testing.assert_array_equal(fast.output_events, ref.output_events)
    for c in ref.final_state:
        np.testing.assert_array_equal(fast.final_state[c], ref.final_state[c])
        np.testing.assert_array_equal(fast.spike_counts[c], ref.spike_counts[c])
        np.testing.assert_array_equal(fast.event_synops[c], ref.event_synops[c])
    assert fast.dropped_events == ref.dropped_events
    return ref, fast


@st.composite
def wide_kernels(draw):
    """Kernels up to 7 with strides 1, 2, 4 and any padding, feeding a second core (pooling 1 or 2)."""
    c, h = draw(st.integers(1, 2)), draw(st.integers(7, 12))
    k = draw(st.integers(1, 7))
    s = draw(st.sampled_from([1, 2, 4]))
    p = draw(st.integers(0, k - 1))
    f = draw(st.sampled_from([1, 3, 16, 20]))
    oh = C.out_size(h, k, s, p)
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    pool = draw(st.sampled_from([1, 2])) if oh >= 2 else 1
    h1 = oh // pool
    k1 = draw(st.integers(1, min(5, h1)))
    f1 = draw(st.sampled_from([2, 9]))
    cores = {0: C.layer(rng.integers(-20, 60, (f, c, k, k)), (h, h), stride=s, padding=p,
                        threshold_high=draw(st.sampled_from([30, 100])), return_to_zero=draw(st.booleans()),
                        monitor=True, destinations=[(1, pool, 0)]),
             1: C.layer(rng.integers(-20, 60, (f1, f, k1, k1)), (h1, h1), stride=draw(st.integers(1, 2)),
                        padding=draw(st.integers(0, k1 - 1)), threshold_high=60, monitor=True)}
    n = draw(st.integers(1, 40))
    ev = make_events(rng.integers(0, h, n), rng.integers(0, h, n), np.sort(rng.integers(0, 5000, n)),
                     rng.integers(0, c, n))
    return C.config(cores), ev


@settings(max_examples=40, **SETTINGS)
@given(wide_kernels())
def test_wide_kernels_and_strides_match_the_reference(case):
    _same(*case)


def test_more_output_events_than_the_first_buffer_holds():
    """40 monitored spikes per input event: far more rows than the first guess; the run counts them and runs again
    with room for all, and the next run on the same simulator starts with room enough."""
    w = np.full((40, 1, 1, 1), 50)
    cfg = C.config({0: C.layer(w, (4, 4), threshold_high=50, monitor=True)})
    n = 200
    rng = np.random.default_rng(0)
    ev = make_events(rng.integers(0, 4, n), rng.integers(0, 4, n), np.arange(n), np.zeros(n, np.int64))
    ref, fast = _same(cfg, ev)
    assert len(ref.output_events) == 40 * n
    sim = Simulator(program_from_config(cfg))
    first = sim.run(ev)
    assert sim._out_per_event == 40
    np.testing.assert_array_equal(sim.run(ev).output_events, first.output_events)
