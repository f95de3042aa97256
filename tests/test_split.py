"""Splitting a layer too big for one core over several cores (compiler/passes/split.py, docs/splitting.md), and
channel concatenation (``torch.cat``), which lowers to the same mechanism: destinations with ``feature_shift``.

The property test is the proof of exactness: a random network whose middle (or first) layer is too big for the
cores of a test-only target compiles with that layer split, and simulates -- on both simulators -- to the same
output events as (a) the same network written with the layer as a ``torch.cat`` of its slices, and (b) the unsplit
network on a test-only target whose cores are large enough.  The spike counts of the slices, put side by side, are
the whole layer's.
"""
from __future__ import annotations

import dataclasses
import json
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from snnc.compiler.memory import memory
from snnc.compiler.passes.split import slice_layer
from snnc.compiler.pipeline import CompileOptions, DoesNotFit
from snnc.runtime.events import make_events
from snnc.runtime.simulator import ReferenceSimulator, Simulator, program_from_config
from snnc.targets import speck
from snnc.targets.compile import compile_model, run_pipeline

sl = pytest.importorskip("sinabs.layers")


def _target(name: str, kernel: int, neuron: int) -> speck.Target:
    """speck2f with every core's kernel and neuron memory set (a test-only chip: the simulator finds it by name)."""
    base = speck.TARGETS["speck2f"]
    return dataclasses.replace(base, name=name, cores=tuple(  # no boards carry it: no aliases
        dataclasses.replace(c, kernel_memory=kernel, neuron_memory=neuron) for c in base.cores))


def _iaf(th: float, low: float):
    return sl.IAFSqueeze(batch_size=1, spike_threshold=float(th), min_v_mem=float(low))


def _conv(w, stride=1, padding=0) -> nn.Conv2d:
    w = torch.as_tensor(np.asarray(w), dtype=torch.float32)
    m = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], stride=stride, padding=padding, bias=False)
    with torch.no_grad():
        m.weight.copy_(w)
    return m


class _CatTwin(nn.Module):
    """``head`` (optional) -> torch.cat of the slices (each conv -> IAF) along channels -> pooling -> ``tail``."""

    def __init__(self, head, parts, pool, tail):
        super().__init__()
        self.head, self.parts, self.pool, self.tail = head, nn.ModuleList(parts), pool, tail

    def forward(self, x):
        if self.head is not None:
            x = self.head(x)
        return self.tail(self.pool(torch.cat([p(x) for p in self.parts], dim=1)))


def _outputs(result) -> np.ndarray:
    o = result.output_events
    return np.stack([o["t"], o["feature"], o["x"], o["y"]], 1)


def _run_both(cfg, events):
    """Fast and reference simulator on ``cfg``: they must agree; returns the fast one's result."""
    prog = program_from_config(cfg)
    fast, ref = Simulator(prog).run(events), ReferenceSimulator(prog).run(events)
    np.testing.assert_array_equal(_outputs(fast), _outputs(ref))
    for core in fast.spike_counts:
        np.testing.assert_array_equal(fast.spike_counts[core], ref.spike_counts[core])
    return fast


def _layer_counts(cfg, result, name) -> np.ndarray:
    """The spike counts of the user's layer ``name`` [F, H, W], its slices' put together in channel order."""
    rows = [r for r in cfg["snnc"]["layers"] if r["name"] == name or r.get("split_of") == name]
    rows.sort(key=lambda r: (r.get("channels") or [0])[0])
    return np.concatenate([result.spike_counts[r["core"]] for r in rows])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), first=st.booleans(), integer=st.booleans(),
       hw=st.integers(4, 9), c_mid=st.integers(1, 4), f_split=st.integers(2, 12), k_split=st.sampled_from([1, 2, 3]),
       stride=st.sampled_from([1, 2]), pool=st.sampled_from([1, 2]), n_events=st.integers(20, 120))
def test_split_runs_like_its_cat_twin_and_the_unsplit_layer(seed, first, integer, hw, c_mid, f_split, k_split,
                                                            stride, pool, n_events):
    rng = np.random.default_rng(seed)
    th = [int(v) for v in rng.integers(6, 40, 3)]
    c_in = 2
    c_split_in = c_in if first else c_mid
    w_head = rng.integers(-th[0] // 4, th[0] // 2 + 1, size=(c_mid, c_in, 3, 3))
    w_split = rng.integers(-th[1] // 4, th[1] // 2 + 1, size=(f_split, c_split_in, k_split, k_split))
    pad = k_split // 2
    map_hw = (hw + 2 * pad - k_split) // stride + 1
    k_tail = max(1, min(3, map_hw // pool))
    n_out = int(rng.integers(1, 4))
    w_tail = rng.integers(-th[2] // 4, th[2] // 2 + 1, size=(n_out, f_split, k_tail, k_tail))
    scale = 1.0 if integer else float(rng.uniform(0.01, 0.2))  # float weights: quantized (the slices as one layer)

    def head():
        return None if first else nn.Sequential(_conv(w_head * scale, padding=1), _iaf(th[0] * scale, -4 * th[0] * scale))

    def tail():
        return nn.Sequential(_conv(w_tail * scale), _iaf(th[2] * scale, -4 * th[2] * scale))

    def split_layer(w):
        return nn.Sequential(_conv(w * scale, stride=stride, padding=pad), _iaf(th[1] * scale, -4 * th[1] * scale))

    plain = nn.Sequential(*([] if first else list(head())), *split_layer(w_split),
                          *([sl.SumPool2d(pool)] if pool > 1 else []), *tail())
    shape = (c_in, hw, hw)
    big = _target("test-bigcores", 1 << 22, 1 << 22)
    with mock.patch.dict(speck.TARGETS, {big.name: big}):
        whole = run_pipeline(plain, CompileOptions(input_shape=shape, target=big.name))
    assert whole.fits, [str(d) for d in whole.diagnostics.errors]
    mem = [memory(layer) for layer in whole.chip.layers]
    i_split = 0 if first else 1
    others = [m for i, m in enumerate(mem) if i != i_split]
    # cores that hold every other layer and the larger half of the split layer's output channels
    half = memory(slice_layer(whole.chip.layers[i_split], 0, (f_split + 1) // 2))
    kcap = max([m["kernel"] for m in others] + [half["kernel"]])
    ncap = max([m["neuron"] for m in others] + [half["neuron"]])
    assume(mem[i_split]["kernel"] > kcap or mem[i_split]["neuron"] > ncap)
    small = _target("test-smallcores", kcap, ncap)
    events = make_events(rng.integers(0, hw, n_events), rng.integers(0, hw, n_events),
                         np.sort(rng.integers(0, 50_000, n_events)), rng.integers(0, 2, n_events))
    with mock.patch.dict(speck.TARGETS, {big.name: big, small.name: small}):
        cfg_whole = compile_model(plain, CompileOptions(input_shape=shape, target=big.name))
        cfg_split = compile_model(plain, CompileOptions(input_shape=shape, target=small.name))
        with pytest.raises(DoesNotFit):
            compile_model(plain, CompileOptions(input_shape=shape, target=small.name, split=False))
        name = whole.chip.layers[i_split].name
        split = cfg_split["snnc"]["split"][name]
        assert len(split["cores"]) >= 2 and len(set(split["cores"])) == len(split["cores"])
        assert split["channels"][0][0] == 0 and split["channels"][-1][1] == f_split
        r_whole, r_split = _run_both(cfg_whole, events), _run_both(cfg_split, events)
        np.testing.assert_array_equal(_outputs(r_split), _outputs(r_whole))
        np.testing.assert_array_equal(_layer_counts(cfg_split, r_split, name),
                                      _layer_counts(cfg_whole, r_whole, name))
        if integer:  # the cat twin quantizes each slice on its own: the same integers only when they are integers
            twin = _CatTwin(head(), [split_layer(w_split[lo:hi]) for lo, hi in split["channels"]],
                            sl.SumPool2d(pool) if pool > 1 else nn.Identity(), tail())
            cfg_twin = compile_model(twin, CompileOptions(input_shape=shape, target=small.name))
            assert "split" not in cfg_twin["snnc"]
            r_twin = _run_both(cfg_twin, events)
            np.testing.assert_array_equal(_outputs(r_twin), _outputs(r_split))
    assert r_whole.spikes_per_core  # something ran


# ------------------------------------------------------------------------------------------------------------
# the issue's two examples, on speck2f itself
# ------------------------------------------------------------------------------------------------------------
def _kernel_example(scale=0.02):
    """conv 64->128 3x3: 64 * 2^(4 + 7) = 131,072 kernel words, twice the largest core."""
    g = torch.Generator().manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 64, 3, padding=1, bias=False), _iaf(1, -4),
                        nn.Conv2d(64, 128, 3, padding=1, bias=False), _iaf(1, -4), sl.SumPool2d(2),
                        nn.Conv2d(128, 10, 4, bias=False), _iaf(1, -4))
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * scale * 9 / m.weight[0].numel() ** 0.5)
    return net, (2, 8, 8)


def _neuron_example():
    """conv 2->32 on 34x34 (padding 1): 32 * 64 * 64 = 131,072 neuron words, twice the largest core."""
    g = torch.Generator().manual_seed(2)
    net = nn.Sequential(nn.Conv2d(2, 32, 3, padding=1, bias=False), _iaf(1, -4), sl.SumPool2d(4),
                        nn.Conv2d(32, 10, 8, bias=False), _iaf(1, -4))
    with torch.no_grad():
        net[0].weight.copy_(torch.rand(net[0].weight.shape, generator=g) * 0.3)
        net[3].weight.copy_(torch.rand(net[3].weight.shape, generator=g) * 0.05)
    return net, (2, 34, 34)


@pytest.mark.parametrize("example, kind, layer, cores", [(_kernel_example, "kernel", "2", [5, 6]),
                                                         (_neuron_example, "neuron", "0", [0, 1])])
def test_issue_examples_split_on_speck2f(example, kind, layer, cores):
    net, shape = example()
    refused = run_pipeline(net, CompileOptions(input_shape=shape, split=False))
    (err,) = [d for d in refused.diagnostics.errors if d.rule == f"{kind}_memory"]
    assert err.layer == layer and err.measured == 131072 and "drop --no-split: a split over 2 cores" in err.hint
    result = run_pipeline(net, CompileOptions(input_shape=shape), until="quantize")
    assert result.fits, [str(d) for d in result.diagnostics.errors]
    split = result.split_json()
    assert list(split) == [layer] and split[layer]["cores"] == cores
    (note,) = [n for n in result.notes if "split over" in n]
    assert note.startswith(f"{layer}: split over 2 cores") and f"131072 words of {kind} memory" in note


DENSITY = {"_kernel_example": (1.0, 0.05, 0.05), "_neuron_example": (1.0, 0.3)}  # of non-zero weights, per conv


def test_split_counts_match_sinabs_forward_of_the_unsplit_network():
    """Per-class output spike counts of the split network on speck2f (fast simulator) against sinabs' own
    time-stepped forward of the unsplit float network (10 time bins): within a few percent.  Non-negative weights
    below the thresholds, no bias: the regime where event-driven and time-stepped simulation agree (docs/speck.md
    section 10), so what is left is what the split, quantization and the chip model do."""
    from snnc.runtime.events import events_to_frames

    for example in (_kernel_example, _neuron_example):
        net, shape = example()
        g = torch.Generator().manual_seed(4)
        with torch.no_grad():  # integer weights and thresholds: quantization keeps them (scale 1)
            for m, p in zip([m for m in net if isinstance(m, nn.Conv2d)], DENSITY[example.__name__]):
                m.weight.copy_(torch.randint(1, 13, m.weight.shape, generator=g)
                               * (torch.rand(m.weight.shape, generator=g) < p))
            for m in net:
                if isinstance(m, sl.IAFSqueeze):
                    m.spike_threshold.fill_(40.0)
                    m.min_v_mem.fill_(-160.0)
        cfg = compile_model(net, CompileOptions(input_shape=shape))
        assert cfg["snnc"].get("split"), "the example must be split"
        rng = np.random.default_rng(3)
        n = 400
        ev = make_events(rng.integers(0, shape[2], n), rng.integers(0, shape[1], n),
                         np.sort(rng.integers(0, 100_000, n)), rng.integers(0, 2, n))
        out = Simulator.from_config(cfg).run(ev).output_events
        chip_counts = np.bincount(out["feature"].astype(np.int64), minlength=10)
        frames = torch.tensor(events_to_frames(ev, shape, n_bins=10), dtype=torch.float32)
        for m in net:
            if isinstance(m, sl.IAFSqueeze):
                m.reset_states()  # batch_size=1: IAFSqueeze reads the 10 frames as 10 time steps of one sample
        with torch.no_grad():
            ref = net(frames).sum(dim=(0, 2, 3)).numpy()
        assert ref.sum() > 50, "the comparison is not vacuous"
        np.testing.assert_allclose(chip_counts, ref, rtol=0.03, atol=2)


# ------------------------------------------------------------------------------------------------------------
# when no split can place the layer: the hint says how many cores and why not
# ------------------------------------------------------------------------------------------------------------
def _classifier(seed=5):
    """A classifier whose last layer, Linear 128x8x8 -> 10, needs 128 * 2^(6 + 4) = 131,072 kernel words."""
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(2, 128, 3, padding=1, bias=False), _iaf(40, -160), nn.Flatten(),
                        nn.Linear(128 * 8 * 8, 10, bias=False), _iaf(40, -160))
    with torch.no_grad():
        net[0].weight.copy_(torch.randint(0, 13, net[0].weight.shape, generator=g)
                            * (torch.rand(net[0].weight.shape, generator=g) < 0.5))
        net[3].weight.copy_(torch.randint(-3, 13, net[3].weight.shape, generator=g)
                            * (torch.rand(net[3].weight.shape, generator=g) < 0.05))
    return net, (2, 8, 8)


def test_output_layer_split_reads_as_the_whole_layer():
    """A split output layer: each core's monitored events are renumbered by its channel_offset (snnc.outputs), so
    the output events are the unsplit layer's, event for event."""
    net, shape = _classifier()
    big = _target("test-bigcores", 1 << 22, 1 << 22)
    rng = np.random.default_rng(6)
    n = 300
    ev = make_events(rng.integers(0, 8, n), rng.integers(0, 8, n), np.sort(rng.integers(0, 50_000, n)),
                     rng.integers(0, 2, n))
    with mock.patch.dict(speck.TARGETS, {big.name: big}):
        cfg = compile_model(net, CompileOptions(input_shape=shape))
        whole = compile_model(net, CompileOptions(input_shape=shape, target=big.name))
        assert cfg["snnc"]["split"]["3"]["channels"] == [[0, 5], [5, 10]]
        assert [(o["name"], o.get("channel_offset", 0)) for o in cfg["snnc"]["outputs"]] == [("3", 0), ("3", 5)]
        r, r_whole = _run_both(cfg, ev), _run_both(whole, ev)
    assert len(r.output_events) > 20 and set(r.output_events["feature"].tolist()) > set(range(5))
    np.testing.assert_array_equal(_outputs(r), _outputs(r_whole))
    refused = run_pipeline(net, CompileOptions(input_shape=shape, readout=True))
    (err,) = [d for d in refused.diagnostics.errors if d.rule == "kernel_memory"]
    assert "a split would need 2 cores, but cannot be done: it is the output layer and --readout reads one core" \
        in err.hint


def test_no_split_when_the_source_has_no_destination_to_spare():
    class TwoWays(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(nn.Conv2d(2, 64, 3, padding=1, bias=False), _iaf(1, -1))
            self.big = nn.Sequential(nn.Conv2d(64, 128, 3, padding=1, bias=False), _iaf(1, -1))
            self.side = nn.Sequential(nn.Conv2d(64, 128, 1, bias=False), _iaf(1, -1))
            self.out = nn.Sequential(nn.Conv2d(128, 4, 8, bias=False), _iaf(1, -1))

        def forward(self, x):
            x = self.a(x)
            return self.out(self.big(x) + self.side(x))

    r = run_pipeline(TwoWays(), CompileOptions(input_shape=(2, 8, 8)))
    (err,) = [d for d in r.diagnostics.errors if d.rule == "kernel_memory"]
    assert err.layer == "big.0"
    assert ("a split would need 2 cores, but cannot be done: its source a.0 would need 3 destinations (it sends to "
            "2 already) and a core has 2") in err.hint


def test_no_split_helps_when_one_channel_is_too_big():
    net = nn.Sequential(nn.Conv2d(2, 512, 1, bias=False), _iaf(1, -1),
                        nn.Conv2d(512, 4, 12, bias=False), _iaf(1, -1), nn.Conv2d(4, 2, 1, bias=False), _iaf(1, -1))
    r = run_pipeline(net, CompileOptions(input_shape=(2, 12, 12)))
    (err,) = [d for d in r.diagnostics.errors if d.rule == "kernel_memory"]
    assert "no split helps: even one output channel needs more memory than any core has" in err.hint


def test_too_many_cores_for_a_split():
    layers = [nn.Conv2d(2, 64, 3, padding=1, bias=False), _iaf(1, -1)]
    layers += [nn.Conv2d(64, 128, 3, padding=1, bias=False), _iaf(1, -1), nn.Conv2d(128, 64, 1, bias=False), _iaf(1, -1)]
    for _ in range(6):
        layers += [nn.Conv2d(64, 64, 1, bias=False), _iaf(1, -1)]
    r = run_pipeline(nn.Sequential(*layers), CompileOptions(input_shape=(2, 8, 8)))
    (err,) = [d for d in r.diagnostics.errors if d.rule == "kernel_memory"]
    assert "a split would need 2 cores, but cannot be done: the model would need 10 chip layers" in err.hint


# ------------------------------------------------------------------------------------------------------------
# the CLI: check, compile and report say the same; --no-split refuses as before
# ------------------------------------------------------------------------------------------------------------
def test_cli_check_compile_report_agree(tmp_path, capsys):
    from snnc.cli import main

    net, shape = _neuron_example()
    model = tmp_path / "net.pt"
    torch.save(net, model)
    common = [str(model), "--input-shape", ",".join(map(str, shape))]
    assert main(["check", *common, "--json"]) == 0
    check = json.loads(capsys.readouterr().out)
    assert main(["compile", *common, "-o", str(tmp_path / "c.json")]) == 0
    text = capsys.readouterr().out
    assert text.count("note: 0: split over 2 cores (channels 0-15 on core 0, channels 16-31 on core 1)") == 1
    cfg = json.loads((tmp_path / "c.json").read_text())
    assert cfg["snnc"]["split"] == check["split"]
    assert [r["core"] for r in cfg["snnc"]["layers"] if r.get("split_of") == "0"] == [0, 1]
    dests = [[d for d in cfg["cnn_layers"][c]["destinations"] if d["enable"]] for c in (0, 1)]
    assert [d[0]["feature_shift"] for d in dests] == [0, 16] and dests[0][0]["layer"] == dests[1][0]["layer"]
    assert cfg["snnc"]["input"]["cores"] == [0, 1]
    assert main(["report", *common, "-o", str(tmp_path / "r.html")]) == 0
    capsys.readouterr()
    assert "note: 0: split over 2 cores" in (tmp_path / "r.html").read_text()
    assert main(["check", *common, "--no-split"]) == 1
    assert "or drop --no-split: a split over 2 cores would fit" in capsys.readouterr().out
    assert main(["compile", *common, "--no-split", "-o", str(tmp_path / "n.json")]) == 1
    assert not (tmp_path / "n.json").exists()


def test_monitor_by_name_monitors_every_slice(tmp_path):
    net, shape = _neuron_example()
    cfg = compile_model(net, CompileOptions(input_shape=shape, monitor=("0",)))  # "0" is the chip-layer index
    assert [c for c, layer in enumerate(cfg["cnn_layers"]) if layer["monitor_enable"]] == [0]
    cfg = compile_model(net, CompileOptions(input_shape=shape, monitor=("name:0",)))  # the user's layer "0"
    assert [c for c, layer in enumerate(cfg["cnn_layers"]) if layer["monitor_enable"]] == [0, 1]
    cfg = compile_model(net, CompileOptions(input_shape=shape, decimate={"1": 4}))  # "1": the neuron layer's name
    assert [c for c, layer in enumerate(cfg["cnn_layers"]) if layer["output_decimator_enable"]] == [0, 1]


# ------------------------------------------------------------------------------------------------------------
# torch.cat along channels
# ------------------------------------------------------------------------------------------------------------
class _Branches(nn.Module):
    def __init__(self, dim=1, fn=torch.cat):
        super().__init__()
        self.dim, self.fn = dim, fn
        self.a = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), _iaf(1, -1))
        self.b = nn.Sequential(nn.Conv2d(2, 6, 3, padding=1, bias=False), _iaf(1, -1), sl.SumPool2d(1))
        self.out = nn.Sequential(nn.Flatten(), nn.Linear(10 * 8 * 8, 3, bias=False), _iaf(1, -1))

    def forward(self, x):
        return self.out(self.fn([self.a(x), self.b(x)], self.dim))


@pytest.mark.parametrize("fn", [torch.cat, torch.concat, torch.concatenate])
def test_torch_cat_lowers_to_feature_shift(fn):
    r = run_pipeline(_Branches(fn=fn), CompileOptions(input_shape=(2, 8, 8)))
    assert r.fits, [str(d) for d in r.diagnostics.errors]
    a, b, out = r.chip.layers
    assert [(d.layer, d.feature_shift) for d in a.destinations] == [(2, 0)]
    assert [(d.layer, d.feature_shift) for d in b.destinations] == [(2, 4)]
    assert out.input_shape == (10, 8, 8)


def test_cat_along_another_axis_is_named():
    from snnc.compiler.errors import SnncError

    # 4 and 6 channels cannot even be stacked along the height: no shape, so the layer after it cannot be read
    with pytest.raises(SnncError, match=r"^unsupported_layer: cat: torch\.cat .*dim=2"):
        run_pipeline(_Branches(dim=2), CompileOptions(input_shape=(2, 8, 8)))

    class Tall(_Branches):  # equal channels: a shape torch can compute (4 x 16 x 8), and a rule violation
        def __init__(self):
            super().__init__(dim=2)
            self.b = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), _iaf(1, -1))
            self.out = nn.Sequential(nn.Flatten(), nn.Linear(4 * 16 * 8, 3, bias=False), _iaf(1, -1))

    r = run_pipeline(Tall(), CompileOptions(input_shape=(2, 8, 8)))
    (err,) = [d for d in r.diagnostics.errors if d.rule == "unsupported_layer"]
    assert err.message.startswith("torch.cat cannot run") and "dim=2" in err.message


def test_unknown_torch_function_is_named_not_misread_as_a_shape():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), _iaf(1, -1))
            self.out = nn.Linear(2 * 4 * 8 * 8, 3, bias=False)

        def forward(self, x):
            y = self.a(x)
            return self.out(torch.flatten(torch.stack([y, y + 0], 1), 1))

    r = run_pipeline(Stack(), CompileOptions(input_shape=(2, 8, 8)))
    msgs = [f"{d.rule}: {d.message}" for d in r.diagnostics.errors]
    assert any(m.startswith("unsupported_layer: torch.stack") for m in msgs), msgs
    assert not any("expects" in m for m in msgs), msgs


def test_cat_into_the_output_gives_the_model_channels():
    class CatOut(_Branches):
        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], 1)

    net = CatOut()
    with torch.no_grad():
        net.a[0].weight.fill_(0.3)
        net.b[0].weight.fill_(0.4)
    cfg = compile_model(net, CompileOptions(input_shape=(2, 8, 8)))
    assert [o.get("channel_offset", 0) for o in cfg["snnc"]["outputs"]] == [0, 4]
    rng = np.random.default_rng(7)
    ev = make_events(rng.integers(0, 8, 50), rng.integers(0, 8, 50), np.arange(50) * 10, rng.integers(0, 2, 50))
    out = _run_both(cfg, ev).output_events
    cores = [o["core"] for o in cfg["snnc"]["outputs"]]
    assert set(out["feature"][out["layer"] == cores[0]].tolist()) == set(range(4))
    assert set(out["feature"][out["layer"] == cores[1]].tolist()) == set(range(4, 10))


def test_feature_shift_rule_catches_a_shift_past_the_input():
    from snnc.compiler.drc import check_chip

    r = run_pipeline(_Branches(), CompileOptions(input_shape=(2, 8, 8)))
    r.chip.layers[1].destinations[0].feature_shift = 5  # 6 channels from 5: channel 10 of a 10-channel input
    errs = [d for d in check_chip(r.chip, r.target).errors if d.rule == "feature_shift"]
    assert len(errs) == 1 and errs[0].layer == "b.0" and errs[0].measured == 11


def test_cat_graph_computes_what_torch_computes():
    """The frontend reads torch.cat's order and channels as torch does (float forward of the IR graph)."""
    from snnc.compiler.frontends.float_forward import forward_ann
    from snnc.compiler.frontends.torch_frontend import from_torch

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(2, 4, 1), nn.Conv2d(7, 2, 1)

        def forward(self, x):
            return self.c(torch.relu(torch.cat((self.a(x), self.b(x)), dim=-3)))  # a tuple, dim -3: channels

    m = M()
    x = np.random.default_rng(8).random((3, 2, 5, 5)).astype(np.float32)
    (out,) = forward_ann(from_torch(m, (2, 5, 5)), x).values()
    np.testing.assert_allclose(out, m(torch.tensor(x)).detach().numpy(), atol=1e-5)


def test_average_pooled_branches_of_a_cat_become_sum_pooling():
    """AvgPool2d on every branch of a cat: sum pooling per destination, the next layer's weights scaled by 1/4."""
    class Pooled(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), _iaf(1, -1), nn.AvgPool2d(2))
            self.b = nn.Sequential(nn.Conv2d(2, 6, 3, padding=1, bias=False), _iaf(1, -1), nn.AvgPool2d(2))
            self.out = nn.Sequential(nn.Conv2d(10, 3, 4, bias=False), _iaf(1, -1))

        def forward(self, x):
            return self.out(torch.cat([self.a(x), self.b(x)], 1))

    net = Pooled()
    r = run_pipeline(net, CompileOptions(input_shape=(2, 8, 8)))
    assert r.fits, [str(d) for d in r.diagnostics.errors]
    a, b, out = r.chip.layers
    assert [(d.pooling, d.feature_shift) for d in a.destinations + b.destinations] == [(2, 0), (2, 4)]
    np.testing.assert_allclose(out.weight, net.out[0].weight.detach().numpy() / 4, rtol=1e-6)


def test_cat_of_flattened_branches_before_a_linear():
    """torch.cat of flattened maps (dim=1 of 2-d tensors) before a Linear: the chip sees the maps side by side by
    channel, and the Linear's weights read them in the same order (float forward of the graph against torch)."""
    from snnc.compiler.frontends.float_forward import forward_ann
    from snnc.compiler.frontends.torch_frontend import from_torch

    class Flat(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), _iaf(1, -1))
            self.b = nn.Sequential(nn.Conv2d(2, 6, 3, padding=1, bias=False), _iaf(1, -1))
            self.fc = nn.Sequential(nn.Linear(10 * 8 * 8, 3, bias=False), _iaf(1, -1))

        def forward(self, x):
            return self.fc(torch.cat([self.a(x).flatten(1), self.b(x).flatten(1)], dim=1))

    net = Flat()
    r = run_pipeline(net, CompileOptions(input_shape=(2, 8, 8)))
    assert r.fits, [str(d) for d in r.diagnostics.errors]
    a, b, fc = r.chip.layers
    assert [d.feature_shift for d in a.destinations + b.destinations] == [0, 4] and fc.input_shape == (10, 8, 8)
    np.testing.assert_array_equal(fc.weight, net.fc[0].weight.detach().numpy().reshape(3, 10, 8, 8))

    class Ann(nn.Module):  # the same wiring without neurons: the IR graph computes what torch computes
        def __init__(self):
            super().__init__()
            self.a, self.b, self.fc = nn.Conv2d(2, 4, 3, padding=1), nn.Conv2d(2, 6, 1), nn.Linear(10 * 8 * 8, 3)

        def forward(self, x):
            return self.fc(torch.cat([self.a(x).flatten(1), self.b(x).flatten(1)], dim=1))

    ann = Ann()
    x = np.random.default_rng(9).random((2, 2, 8, 8)).astype(np.float32)
    (out,) = forward_ann(from_torch(ann, (2, 8, 8)), x).values()
    np.testing.assert_allclose(out, ann(torch.tensor(x)).detach().numpy(), atol=1e-5)
