"""Event I/O (load_events checks) and the encoders."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from snnc.compiler.errors import SnncError
from snnc.runtime.events import (EVENT_DTYPE, events_to_frames, load_events, make_events, poisson_events,
                                 saccade_events)


def test_make_and_load_roundtrip(tmp_path):
    ev = make_events([1, 2], [3, 4], [10, 20], [0, 1])
    assert ev.dtype == EVENT_DTYPE and ev.dtype.names == ("x", "y", "t", "p")
    np.save(tmp_path / "e.npy", ev)
    back = load_events(tmp_path / "e.npy", shape=(2, 5, 5))
    np.testing.assert_array_equal(back, ev)


def test_tonic_layout_is_accepted():
    tonic = np.zeros(3, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    tonic["t"] = [0, 5, 9]
    tonic["p"] = [1, 0, 1]
    out = load_events(tonic)
    assert out.dtype == EVENT_DTYPE and list(out["t"]) == [0, 5, 9]
    old = np.zeros(2, dtype=[("ts", "<u8"), ("x", "<u2"), ("y", "<u2"), ("p", "?")])  # older tonic: ts, bool p
    assert load_events(old).dtype == EVENT_DTYPE


@pytest.mark.parametrize("arr, msg", [
    (np.zeros(3, dtype=[("x", "<i2"), ("y", "<i2"), ("p", "<i1")]), "lacks field(s) t"),
    (np.zeros((3, 4), np.int64), "no field names"),
    (np.array([(0.5, 0, 0.0, 0)] * 3, dtype=[("x", "<f4"), ("y", "<i2"), ("t", "<f8"), ("p", "<i1")]),
     "integers"),
])
def test_bad_layouts_are_refused(arr, msg):
    with pytest.raises(SnncError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        load_events(arr)


def test_negative_time_and_out_of_range_coordinates():
    with pytest.raises(SnncError, match="negative time -4"):
        load_events(make_events([0, 0], [0, 0], [3, -4], [0, 0]))
    with pytest.raises(SnncError, match="x=9, outside the input width 8"):
        load_events(make_events([9], [0], [0], [0]), shape=(2, 8, 8))
    with pytest.raises(SnncError, match="p=2, outside the input channels 2"):
        load_events(make_events([0], [0], [0], [2]), shape=(2, 8, 8))


def test_unsorted_times_are_sorted_stably_with_a_warning():
    ev = make_events([1, 2, 3, 4], [0, 0, 0, 0], [5, 1, 5, 1], [0, 0, 0, 0])
    with pytest.warns(UserWarning, match="not sorted"):
        out = load_events(ev)
    assert list(out["t"]) == [1, 1, 5, 5]
    assert list(out["x"]) == [2, 4, 1, 3]  # ties keep their order


def test_bad_files(tmp_path):
    with pytest.raises(SnncError, match="no such events file"):
        load_events(tmp_path / "missing.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(SnncError, match="not a readable .npy"):
        load_events(tmp_path / "junk.npy")
    obj = np.array([{"x": 1}], dtype=object)
    np.save(tmp_path / "obj.npy", obj, allow_pickle=True)
    with pytest.raises(SnncError):
        load_events(tmp_path / "obj.npy")


def test_poisson_rates_and_channels():
    img = np.zeros((4, 4))
    img[1, 2] = 1.0
    img[3, 0] = 0.5
    ev = poisson_events(img, duration_us=1_000_000, max_rate_hz=1000, rng=0)
    assert set(zip(ev["x"].tolist(), ev["y"].tolist())) == {(2, 1), (0, 3)}
    n_full = np.sum((ev["x"] == 2) & (ev["y"] == 1))
    n_half = np.sum((ev["x"] == 0) & (ev["y"] == 3))
    assert 900 < n_full < 1100 and 420 < n_half < 580  # Poisson(1000), Poisson(500)
    assert np.all(np.diff(ev["t"]) >= 0) and ev["t"].min() >= 0 and ev["t"].max() < 1_000_000
    two = poisson_events(img, duration_us=10_000, channels=2, rng=1)
    assert set(two["p"].tolist()) == {0, 1}
    with pytest.raises(SnncError, match="0..1"):
        poisson_events(img * 255)


def test_saccade_events_look_like_nmnist():
    img = np.zeros((28, 28))
    img[8:20, 12:16] = 1.0  # a bar
    ev = saccade_events(img, rng=0)
    assert ev["x"].max() < 34 and ev["y"].max() < 34
    assert np.all(np.diff(ev["t"]) >= 0) and ev["t"].max() < 300_000
    on, off = np.sum(ev["p"] == 1), np.sum(ev["p"] == 0)
    assert on > 100 and off > 100 and 0.5 < on / off < 2  # moving edges give both polarities
    # every saccade produces events
    for k in range(3):
        assert np.sum((ev["t"] >= k * 100_000) & (ev["t"] < (k + 1) * 100_000)) > 50
    assert len(saccade_events(np.zeros((28, 28)), rng=0)) == 0  # nothing moves in a black image


def test_events_to_frames():
    ev = make_events([0, 1, 1, 2], [0, 0, 0, 1], [0, 10, 25, 40], [0, 1, 1, 0])
    fr = events_to_frames(ev, (2, 2, 3), n_bins=2, duration_us=40)
    assert fr.shape == (2, 2, 2, 3) and fr.dtype == np.int64
    assert fr[0, 0, 0, 0] == 1 and fr[0, 1, 0, 1] == 1 and fr[1, 1, 0, 1] == 1  # bins [0, 20) and [20, 40)
    assert fr.sum() == 3  # the event at t = 40 is past the duration
    assert events_to_frames(ev, (2, 2, 3), n_bins=1).sum() == 4
