"""Cross-check against sinabs where time-stepped and event-driven simulation must agree (docs/speck.md §10):
non-negative integer weights each below threshold_high, subtract reset, no bias.  Then every neuron's spike count
over one time bin equals that of a one-step integer forward through torch convolutions, sinabs IAF (MultiSpike)
and sinabs SumPool2d."""
from __future__ import annotations


import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import configs as C  # noqa: E402
from snnc.runtime.events import events_to_frames, make_events  # noqa: E402
from snnc.runtime.simulator import Simulator  # noqa: E402

sl = pytest.importorskip("sinabs.layers")


def iaf_step(x: torch.Tensor, threshold: int) -> torch.Tensor:
    """One time step of sinabs' IAF (MultiSpike, subtract reset) on [1, C, H, W] input currents."""
    layer = sl.IAF(spike_threshold=torch.tensor(float(threshold)))
    return layer(x.unsqueeze(1)).squeeze(1)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([1, 2]), st.sampled_from([1, 2]), st.integers(50, 400))
def test_spike_counts_equal_sinabs_one_bin(seed, pool, stride1, n_events):
    rng = np.random.default_rng(seed)
    th0, th1, th2 = (int(v) for v in rng.integers(5, 60, 3))
    w0 = rng.integers(0, th0, size=(4, 2, 3, 3))
    w1 = rng.integers(0, th1, size=(3, 4, 3, 3))
    w2 = rng.integers(0, th2, size=(2, 4, 1, 1))
    h = w = 12
    p1 = 1
    oh1 = C.out_size(h // pool, 3, stride1, p1)
    cores = {
        # core 0 -> core 1 (pooled) and core 2 (un-pooled, second destination)
        0: C.layer(w0, (h, w), padding=1, threshold_high=th0, destinations=[(1, pool, 0), (2, 1, 0)]),
        1: C.layer(w1, (h // pool, w // pool), stride=stride1, padding=p1, threshold_high=th1, monitor=True),
        2: C.layer(w2, (h, w), threshold_high=th2, monitor=True),
    }
    cfg = C.config(cores)
    ev = make_events(rng.integers(0, w, n_events), rng.integers(0, h, n_events),
                     np.sort(rng.integers(0, 100_000, n_events)), rng.integers(0, 2, n_events))
    r = Simulator.from_config(cfg).run(ev)

    x = torch.tensor(events_to_frames(ev, (2, h, w), n_bins=1)[0], dtype=torch.float32).unsqueeze(0)
    conv = torch.nn.functional.conv2d
    s0 = iaf_step(conv(x, torch.tensor(w0, dtype=torch.float32), padding=1), th0)
    s1 = iaf_step(conv(sl.SumPool2d(pool)(s0), torch.tensor(w1, dtype=torch.float32), stride=stride1, padding=p1),
                  th1)
    s2 = iaf_step(conv(s0, torch.tensor(w2, dtype=torch.float32)), th2)
    assert s1.shape[-1] == oh1
    for core, ref in ((0, s0), (1, s1), (2, s2)):
        np.testing.assert_array_equal(r.spike_counts[core], ref[0].numpy().astype(np.int64), err_msg=f"core {core}")
    assert r.spikes_per_core[1] == int(s1.sum())
    assert int(s0.sum()) > 0  # the case is not vacuous
