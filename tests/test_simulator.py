"""The simulator's behaviour on small hand-worked cases (each rule of docs/speck.md §5–§8), and `snnc simulate`."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

import configs as C  # noqa: E402
from snnc.cli import main  # noqa: E402
from snnc.compiler.errors import SnncError  # noqa: E402
from snnc.runtime.events import make_events  # noqa: E402
from snnc.runtime.simulator import Simulator  # noqa: E402

BOTH = [False, True]  # fast, reference


def one_neuron(weight, th_high=127, th_low=-1, rtz=False, v0=None, **kw):
    """A 1x1-input core with one neuron, monitored."""
    v_init = None if v0 is None else [[[v0]]]
    return C.config({0: C.layer([[[[weight]]]], (1, 1), threshold_high=th_high, threshold_low=th_low,
                                return_to_zero=rtz, v_init=v_init, monitor=True, **kw)})


def run(cfg, ev, reference=False, **kw):
    return Simulator.from_config(cfg, reference=reference, **kw).run(ev)


def events_at(*ts, x=0, y=0, p=0):
    n = len(ts)
    return make_events([x] * n, [y] * n, list(ts), [p] * n)


@pytest.mark.parametrize("ref", BOTH)
def test_fires_at_threshold_once_per_event(ref):
    r = run(one_neuron(127), events_at(5, 9), ref)
    assert r.output_events["t"].tolist() == [5, 9]  # '>=': weight 127, threshold 127 spikes every event
    r = run(one_neuron(100, th_high=30), events_at(1, 2, 3), ref)
    # at most one spike per event although V reaches several thresholds; subtract reset keeps the rest
    assert r.spike_counts[0].sum() == 3
    assert r.final_state[0][0, 0, 0] == 100 - 30 + 100 - 30 + 100 - 30
    r = run(one_neuron(100, th_high=30, rtz=True), events_at(1, 2, 3), ref)
    assert r.final_state[0][0, 0, 0] == 0


@pytest.mark.parametrize("ref", BOTH)
def test_floor_and_overflow(ref):
    r = run(one_neuron(-100, th_low=-250), events_at(1, 2, 3), ref)
    assert r.final_state[0][0, 0, 0] == -250 and len(r.output_events) == 0
    sat = run(one_neuron(100, th_high=32767, th_low=-32768, v0=32700), events_at(1), ref)
    assert sat.spike_counts[0].sum() == 1 and sat.final_state[0][0, 0, 0] == 0  # saturated at 32767, fired
    wrap = run(one_neuron(100, th_high=32767, th_low=-32768, v0=32700), events_at(1), ref, overflow="wrap")
    assert wrap.spike_counts[0].sum() == 0 and wrap.final_state[0][0, 0, 0] == 32800 - 65536


@pytest.mark.parametrize("ref", BOTH)
def test_initial_state_at_threshold_waits_for_an_input(ref):
    r = run(one_neuron(0, th_high=50, v0=50), make_events([], [], [], []), ref)
    assert r.spike_counts[0].sum() == 0
    r = run(one_neuron(0, th_high=50, v0=50), events_at(7), ref)
    assert r.output_events["t"].tolist() == [7]


def test_cross_correlation_matches_torch():
    """Weights in the config are [out][in][x][y]; the chip correlates like torch's conv2d (no flip)."""
    rng = np.random.default_rng(3)
    w = rng.integers(0, 6, size=(3, 2, 3, 3))
    cfg = C.config({0: C.layer(w, (6, 7), stride=2, padding=1, threshold_high=10_000)})
    ev = make_events([4, 0, 6, 3], [2, 5, 0, 3], [0, 1, 2, 3], [1, 0, 1, 0])
    r = run(cfg, ev)
    x = torch.zeros(1, 2, 6, 7, dtype=torch.float64)
    for e in ev:
        x[0, e["p"], e["y"], e["x"]] += 1
    ref = torch.nn.functional.conv2d(x, torch.tensor(w, dtype=torch.float64), stride=2, padding=1)[0]
    np.testing.assert_array_equal(r.final_state[0], ref.numpy().astype(np.int64))
    # synops: one per input event and target neuron (an output whose 3x3 window covers the event), times 3 features
    expected = 0
    for e in ev:
        one = torch.zeros(1, 1, 6, 7, dtype=torch.float64)
        one[0, 0, e["y"], e["x"]] = 1
        reach = torch.nn.functional.conv2d(one, torch.ones(1, 1, 3, 3, dtype=torch.float64), stride=2, padding=1)
        expected += 3 * int(torch.count_nonzero(reach))
    assert r.synops_per_core[0] == expected


@pytest.mark.parametrize("ref", BOTH)
def test_pooling_shift_monitor_and_depth_first_order(ref):
    # core 0: 1x1 conv, one feature, fires on every event; -> core 1 with pooling 2 and feature shift 1
    l0 = C.layer([[[[5]]]], (4, 4), threshold_high=5, monitor=True, destinations=[(1, 2, 1)])
    w1 = np.zeros((3, 2, 1, 1), np.int64)
    w1[2, 1] = 9  # input feature 1 (= 0 + shift) -> output feature 2
    l1 = C.layer(w1, (2, 2), threshold_high=9, monitor=True)
    l0["destinations"][0]["feature_shift"] = 1
    cfg = C.config({0: l0, 1: l1})
    r = run(cfg, make_events([3, 0], [2, 1], [10, 20], [0, 0]), ref)
    out = [tuple(int(v) for v in e) for e in r.output_events]
    # depth-first: event 1's whole cascade, then event 2's; un-pooled coordinates for core 0, pooled into core 1
    assert out == [(10, 0, 0, 3, 2), (10, 1, 2, 1, 1), (20, 0, 0, 0, 1), (20, 1, 2, 0, 0)]
    assert r.input_events_per_core == {0: 2, 1: 2}
    assert r.spike_counts[1][2, 1, 1] == 1 and r.spike_counts[1].sum() == 2
    # monitor_enable decides what leaves the chip: core 1 unmonitored still spikes, but only core 0's events come out
    l1_quiet = C.layer(w1, (2, 2), threshold_high=9, monitor=False)
    r = run(C.config({0: l0, 1: l1_quiet}), make_events([3, 0], [2, 1], [10, 20], [0, 0]), ref)
    assert [tuple(int(v) for v in e) for e in r.output_events] == [(10, 0, 0, 3, 2), (20, 0, 0, 0, 1)]
    assert r.spike_counts[1].sum() == 2


@pytest.mark.parametrize("ref", BOTH)
def test_decimator_passes_every_nth(ref):
    cfg = one_neuron(127, decimator=0)  # interval 0 -> 1 in 2
    r = run(cfg, events_at(1, 2, 3, 4, 5), ref)
    assert r.spike_counts[0].sum() == 5  # every spike is counted
    assert r.output_events["t"].tolist() == [2, 4]  # the 2nd spike is the first passed
    cfg = one_neuron(127, decimator=1)  # 1 in 4
    assert run(cfg, events_at(*range(9)), ref).output_events["t"].tolist() == [3, 7]


@pytest.mark.parametrize("ref", BOTH)
def test_leak_ticks(ref):
    # HW trace: -13 per slow-clock tick, floored at threshold_low; a tick does not fire by default
    cfg = C.config({0: C.layer([[[[0]]]], (1, 1), threshold_high=1000, threshold_low=-30, biases=[-13], leak=True,
                                v_init=[[[127]]], monitor=True)})
    r = run(cfg, events_at(3000), ref, slow_clock_hz=1000)  # ticks at 1, 2, 3 ms (the one at 3 ms comes first)
    assert r.final_state[0][0, 0, 0] == 127 - 3 * 13
    r = run(cfg, events_at(20_000), ref, slow_clock_hz=1000)
    assert r.final_state[0][0, 0, 0] == -30
    up = C.config({0: C.layer([[[[0]]]], (1, 1), threshold_high=120, biases=[50], leak=True, v_init=[[[100]]],
                               monitor=True)})
    r = run(up, events_at(1500, 1600), ref, slow_clock_hz=1000)
    assert r.output_events["t"].tolist() == [1500]  # above threshold after the tick, fires at the next input
    r = run(up, events_at(1500, 1600), ref, slow_clock_hz=1000, leak_can_fire=True)
    assert r.output_events["t"].tolist() == [1000]  # fired by the tick itself, at the tick's time
    with pytest.raises(SnncError, match="slow-clock"):
        Simulator.from_config(up)


@pytest.mark.parametrize("ref", BOTH)
def test_dvs_layer(ref):
    # polarity OFF dropped; pooling 2; crop origin (1,1) .. cut (4,3); mirror x; monitored as layer 13
    dvs = C.dvs_layer(destinations=[0], on=True, off=False, pooling=(2, 2), origin=(1, 1), cut=(4, 3),
                      mirror=(True, False), monitor=True)
    cfg = C.config({0: C.layer(np.ones((1, 2, 1, 1), np.int64), (3, 4), threshold_high=100)}, source="dvs",
                   dvs=dvs)
    ev = make_events([2, 2, 8, 9, 0], [2, 2, 6, 7, 0], [0, 1, 2, 3, 4], [1, 0, 1, 1, 1])
    r = run(cfg, ev, ref)
    mon = r.output_events[r.output_events["layer"] == 13]
    # (2,2)->pool (1,1)->crop (0,0)->mirror x (3,0); OFF dropped; (8,6)&(9,7)->(4,3)->(3,2)->(0,2); (0,0) cropped
    assert [(int(e["x"]), int(e["y"]), int(e["feature"])) for e in mon] == [(3, 0, 1), (0, 2, 1), (0, 2, 1)]
    assert r.input_events_per_core[0] == 3


@pytest.mark.parametrize("ref", BOTH)
def test_synops_per_event_and_peak_rate(ref):
    cfg = C.config({0: C.layer(np.ones((2, 1, 3, 3), np.int64), (5, 5), padding=1, threshold_high=1000)})
    ev = make_events([2, 0, 2], [2, 0, 2], [0, 500, 5000], [0, 0, 0])
    r = run(cfg, ev, ref)
    t, s = r.synop_times(0)
    assert t.tolist() == [0, 500, 5000] and s.tolist() == [18, 8, 18]  # interior: 3x3x2; corner: 2x2x2
    assert r.synops_per_core[0] == 44
    assert r.peak_synops_rate(0, 1000) == pytest.approx(26 * 1000)  # 26 synops within one 1 ms window
    assert r.peak_synops_rate(0, 10_000) == pytest.approx(44 * 100)


@pytest.mark.parametrize("ref", BOTH)
def test_readout(ref):
    # exit core with 5 channels; readout class 2 listens to channel 4
    w = np.zeros((5, 1, 1, 1), np.int64)
    w[4, 0] = 127
    cfg = C.config({0: C.layer(w, (1, 1), threshold_high=127, destinations=[(12, 1, 0)])},
                   readout_cfg=C.readout(True, threshold=1, filter_disable=True))
    r = run(cfg, events_at(0, 10, 20, 1500), ref, slow_clock_hz=1000)
    assert len(r.readout_events) == 4
    assert r.readout["class"].tolist() == [2, 0]  # period 0: 3 events > 1 -> class 2; period 1: 1 event, idle


def test_bad_input_is_one_clear_error(tmp_path):
    with pytest.raises(SnncError, match="no such"):
        Simulator.from_config(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SnncError, match="JSON"):
        Simulator.from_config(tmp_path / "bad.json")
    sim = Simulator.from_config(one_neuron(1))
    with pytest.raises(SnncError, match="outside the input width 1"):
        sim.run(make_events([1], [0], [0], [0]))
    with pytest.raises(SnncError, match="overflow"):
        Simulator.from_config(one_neuron(1), overflow="clip")


# ------------------------------------------------------------------------------------------------ the command
@pytest.fixture
def files(tmp_path, monkeypatch):
    import snnc.cli

    monkeypatch.setattr(snnc.cli, "COMMANDS", ["simulate"])  # the real dispatcher, without others' commands
    l0 = C.layer(np.full((2, 1, 3, 3), 3, np.int64), (6, 6), padding=1, threshold_high=7, monitor=True,
                 destinations=[(1, 2, 0)])
    l1 = C.layer(np.full((1, 2, 1, 1), 4, np.int64), (3, 3), threshold_high=8, monitor=True)
    cfg = C.config({0: l0, 1: l1})
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    rng = np.random.default_rng(0)
    ev = make_events(rng.integers(0, 6, 200), rng.integers(0, 6, 200), np.arange(200) * 10, np.zeros(200))
    np.save(tmp_path / "ev.npy", ev)
    return tmp_path, cfg, ev


def test_cli_writes_npz_and_json(files, capsys):
    tmp, cfg, ev = files
    assert main(["simulate", str(tmp / "cfg.json"), "--events", str(tmp / "ev.npy"), "-o", str(tmp / "out.npz"),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    r = Simulator.from_config(cfg).run(ev)
    assert summary["input_events"] == 200 and summary["output_events"] == len(r.output_events) > 0
    assert [c["core"] for c in summary["cores"]] == [0, 1]
    assert summary["cores"][0]["synops"] == r.synops_per_core[0] and summary["sim_seconds"] >= 0
    with np.load(tmp / "out.npz") as z:
        assert sorted(z.files) == ["output_events", "spike_counts_core0", "spike_counts_core1"]
        np.testing.assert_array_equal(z["output_events"], r.output_events)
        assert z["output_events"].dtype.names == ("t", "layer", "feature", "x", "y")
        np.testing.assert_array_equal(z["spike_counts_core1"], r.spike_counts[1])
        assert z["spike_counts_core0"].shape == (2, 6, 6) and z["spike_counts_core0"].dtype == np.int64
    assert sorted(p.name for p in tmp.iterdir()) == ["cfg.json", "ev.npy", "out.npz"]  # no temp file left


def test_cli_reference_and_summary(files, capsys):
    tmp, _, _ = files
    assert main(["simulate", str(tmp / "cfg.json"), "--events", str(tmp / "ev.npy"), "--reference"]) == 0
    out = capsys.readouterr().out
    assert "200 input events" in out and "reference" in out


def test_cli_bad_input_exits_2_with_one_line(files, capsys):
    tmp, _, _ = files
    bad = make_events([99], [0], [0], [0])
    np.save(tmp / "bad.npy", bad)
    assert main(["simulate", str(tmp / "cfg.json"), "--events", str(tmp / "bad.npy"), "-o",
                 str(tmp / "o.npz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "x=99" in err[0]
    assert not (tmp / "o.npz").exists()
    assert main(["simulate", str(tmp / "missing.json"), "--events", str(tmp / "ev.npy")]) == 2


def test_congestion_balancer_is_said_not_ignored(tmp_path, capsys):
    """A configuration (written by another tool) that turns the input congestion balancer on: the chip then drops
    events while a core is busy (timing the simulator does not model), so simulate says so in one warning line
    naming the core, and still runs (as with the balancer off)."""
    import warnings

    from snnc.runtime.simulator import program_from_config

    cfg = one_neuron(127)
    cfg["cnn_layers"][0]["input_congestion_balancer_enable"] = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prog = program_from_config(cfg)
    assert prog.congestion_balanced == (0,)
    assert [str(w.message) for w in caught if "congestion" in str(w.message)][0].startswith(
        "configuration: input_congestion_balancer_enable is on for core 0")
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    events = tmp_path / "ev.npy"
    from snnc.runtime.events import save_events

    save_events(events, make_events([0], [0], [10], [0]))
    capsys.readouterr()
    assert main(["simulate", str(path), "--events", str(events)]) == 0
    err = capsys.readouterr().err
    assert [ln for ln in err.splitlines() if "congestion" in ln] and "does not model" in err
    cfg["cnn_layers"][0]["input_congestion_balancer_enable"] = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert program_from_config(cfg).congestion_balanced == ()
    assert not [w for w in caught if "congestion" in str(w.message)]
