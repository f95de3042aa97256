"""NeuroBench metrics from the simulated chip (issue 24): the spike log they are counted on, the counts by hand,
agreement with NeuroBench 2.3.0 itself on networks where its hooks are exact, the measured difference where they are
not, `snnc evaluate --neurobench` and the NeuroBench `Benchmark` run through `snnc.neurobench`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

import snnc
from snnc.cli import main
from snnc.compiler.errors import SnncError
from snnc.runtime import neurobench_metrics as nm
from snnc.runtime.events import make_events, save_events
from snnc.runtime.simulator import Simulator, program_from_config

from neurobench_ref import stepped_model, neurobench_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "nmnist_sample.bin"


def _sample(n=None):
    ev = snnc.load_events(SAMPLE)
    ev = getattr(ev, "events", ev)
    return ev if n is None else ev[:n]


def _run(cfg, ev, dt=1000, window=None):
    sim = Simulator.from_config(cfg)
    ev = sim.prepare_events(ev)
    res = sim.run(ev, spikes=True)
    return res, nm.sample_counts(sim.program, ev, res, dt, window_us=window)


# --- the spike log ------------------------------------------------------------------------------------------------

def test_spike_log_is_every_spike_and_the_same_in_both_simulators(nir_cnn_config):
    ev = _sample(1200)
    fast = Simulator.from_config(nir_cnn_config)
    log = fast.run(ev, spikes=True)
    plain = fast.run(ev)
    ref = Simulator.from_config(nir_cnn_config, reference=True).run(ev, spikes=True)
    assert np.array_equal(log.output_events, plain.output_events) and plain.spike_log is None
    assert np.array_equal(log.spike_log, ref.spike_log) and len(log.spike_log) == sum(log.spikes_per_core.values())
    for c, counts in log.spike_counts.items():
        s = log.spike_log[log.spike_log["layer"] == c]
        F, H, W = counts.shape
        per = np.zeros(F * H * W, np.int64)
        np.add.at(per, (s["feature"].astype(np.int64) * H + s["y"]) * W + s["x"], 1)
        assert np.array_equal(per.reshape(F, H, W), counts)


def test_arrivals_rebuilt_from_the_log_cause_exactly_the_simulators_synops(nir_paper_cnn):
    """With a decimator on a hidden layer (its passed spikes only reach the next core): every core's arrivals,
    rebuilt from the input events and the spike log, are its input events and cause its synaptic updates."""
    cfg = snnc.compile(snnc.load(nir_paper_cnn), target="speck2f", decimate={"1": 4})
    prog = program_from_config(cfg)
    assert any(core.decimator for core in prog.cores.values())
    res, _ = _run(cfg, _sample())
    ev = Simulator.from_config(cfg).prepare_events(_sample())
    arr = nm.arrivals(prog, ev, res.spike_log)
    for c, core in prog.cores.items():
        C, H, W = core.in_shape
        F, OH, OW = core.out_shape
        _, iy = nm._taps(H, OH, core.kernel, core.stride[0], core.padding[0])
        _, ix = nm._taps(W, OW, core.kernel, core.stride[1], core.padding[1])
        t, f, x, y = arr[c]
        assert len(t) == res.input_events_per_core[c]
        assert int((F * iy[y] * ix[x]).sum()) == res.synops_per_core[c]


# --- the counts by hand -------------------------------------------------------------------------------------------

def _one_core(kernel=3, padding=1):
    m = nn.Sequential(nn.Conv2d(1, 2, kernel, padding=padding, bias=False))
    import sinabs.layers as sl

    with torch.no_grad():
        m[0].weight.fill_(0.1)
    m.append(sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0))
    m.input_shape = (1, 4, 4)
    return snnc.compile(m, target="speck2f")


def test_binned_counts_by_hand():
    """One core, 1 -> 2 features, 3x3 kernel, padding 1, on 4x4: an event at a corner reaches 2 x 2 positions, one
    in the middle 3 x 3.  Bins of 1000 us from t = 0."""
    cfg = _one_core()
    thr = program_from_config(cfg).cores[0].threshold_high
    assert thr >= 3  # no event below makes a spike (each adds 0.1 of the threshold)
    ev = make_events([0, 0, 1, 2], [0, 0, 1, 1], [10, 20, 2500, 2600], [0, 0, 0, 0])
    res, s = _run(cfg, ev)
    c = s["cores"][0]
    assert s["bins"] == 3 and c["synops"] == 2 * (4 + 4 + 9 + 9) and c["active"] == 0
    # bin 0: the corner twice -> {0,1}^2 = 4 positions; bin 2: (1,1) and (2,1) -> x 0..3, y 0..2 = 12 positions
    assert c["updated"] == 2 * (4 + 12)
    _, s5 = _run(cfg, ev, window=5000)
    assert s5["bins"] == 5
    nb = nm.summarize(nm.static_metrics(program_from_config(cfg)), [s5], 1000)
    layer = nb["layers"][0]
    assert layer["SynapticOperations"]["Dense"] == 5 * 2 * 1 * (2 + 3 + 3 + 2) ** 2  # bins x F x C x taps per axis
    assert nb["ActivationSparsity"] == 1.0 and nb["MembraneUpdates"] == 32
    assert nb["ParameterCount"] == 18 and nb["Footprint"] == 18 + 4 and nb["ConnectionSparsity"] == 0.0


def test_spikes_count_once_per_neuron_and_bin():
    m = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False))
    import sinabs.layers as sl

    with torch.no_grad():
        m[0].weight.fill_(1.0)
    m.append(sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0))
    m.input_shape = (1, 2, 2)
    cfg = snnc.compile(m, target="speck2f")
    ev = make_events([0, 0, 0, 0, 1], [0, 0, 0, 0, 0], [0, 5, 999, 1000, 1000], [0, 0, 0, 0, 0])
    res, s = _run(cfg, ev)
    c = s["cores"][0]  # neuron (0, 0) active in bins 0 and 1, neuron (0, 1) in bin 1
    assert c["spikes"] == 5 and c["active"] == 3 and c["updated"] == 3 and s["bins"] == 2
    nb = nm.summarize(nm.static_metrics(program_from_config(cfg)), [s], 1000)
    assert nb["ActivationSparsity"] == pytest.approx(1 - 3 / 8)


def test_bad_dt_is_one_clear_error():
    for bad in (0, -5, 1.5, "x"):
        with pytest.raises(SnncError, match="--neurobench-dt-us"):
            nm.check_dt(bad)


# --- against NeuroBench itself ------------------------------------------------------------------------------------

def _exact_net(seed=0):
    """Exact for NeuroBench's hooks when fed one event per step: stride = kernel (no overlap), and for each input
    channel and tap exactly one feature has a positive weight, so at most one neuron spikes per step in each hidden
    layer and no neuron receives two inputs in a step; no weight is zero."""
    import sinabs.activation as sa
    import sinabs.layers as sl

    g = torch.Generator().manual_seed(seed)
    c0, c1, c2 = nn.Conv2d(2, 2, 2, stride=2, bias=False), nn.Conv2d(2, 4, 2, stride=2, bias=False), \
        nn.Conv2d(4, 10, 4, bias=False)
    with torch.no_grad():
        w0 = torch.full((2, 2, 2, 2), -0.5)
        w0[0, 0] = w0[1, 1] = 1.0
        c0.weight.copy_(w0)
        w1 = torch.full((4, 2, 2, 2), -0.5)
        for c in range(2):
            for ky in range(2):
                for kx in range(2):
                    w1[(c * 4 + ky * 2 + kx) % 4, c, ky, kx] = 1.0
        c1.weight.copy_(w1)
        sign = torch.where(torch.rand((10, 4, 4, 4), generator=g) < 0.7, 1.0, -1.0)
        c2.weight.copy_(sign * (0.3 + 0.7 * torch.rand((10, 4, 4, 4), generator=g)))

    def iaf():
        return sl.IAFSqueeze(batch_size=1, spike_fn=sa.SingleSpike, spike_threshold=1.0, min_v_mem=-1.0)

    m = nn.Sequential(c0, iaf(), c1, iaf(), c2, iaf())
    m.input_shape = (2, 16, 16)
    return m


def _one_event_per_step(batch, steps, shape, seed, fill=0.9):
    rng = np.random.default_rng(seed)
    C, H, W = shape
    x = np.zeros((batch, steps) + tuple(shape), np.float32)
    for b in range(batch):
        for s in range(steps):
            if rng.random() < fill:
                x[b, s, rng.integers(C), rng.integers(H), rng.integers(W)] = 1
    return x


def _ours(cfg, frames, dt=1000):
    prog = program_from_config(cfg)
    counts = [_run(cfg, nm.frames_to_events(f, dt), dt, window=f.shape[0] * dt)[1] for f in frames]
    return nm.summarize(nm.static_metrics(prog), counts, dt)


def test_agrees_with_neurobench_where_its_hooks_are_exact():
    cfg = snnc.compile(_exact_net(), target="speck2f")
    prog = program_from_config(cfg)
    assert all(np.count_nonzero(c.weights == 0) == 0 for c in prog.cores.values())
    frames = _one_event_per_step(2, 60, (2, 16, 16), seed=1)
    ours = _ours(cfg, frames)
    ref = neurobench_results(stepped_model(prog), torch.from_numpy(frames), torch.zeros(2, dtype=torch.int64))
    assert [layer["spikes"] > 0 for layer in ours["layers"]] == [True, True, True]  # every layer is active
    assert ref["SynapticOperations"]["Effective_MACs"] == 0
    acs, ref_acs = ours["SynapticOperations"]["Effective_ACs"], ref["SynapticOperations"]["Effective_ACs"]
    assert acs == pytest.approx(ref_acs, rel=0.02)
    assert ours["ActivationSparsity"] == pytest.approx(ref["ActivationSparsity"], abs=1e-3)
    assert ours["SynapticOperations"]["Dense"] == ref["SynapticOperations"]["Dense"]
    assert ours["ParameterCount"] == ref["ParameterCount"]
    assert ours["ConnectionSparsity"] == ref["ConnectionSparsity"] == 0.0
    print(f"\nexact-hook network: Effective_ACs snnc {acs:.1f} / NeuroBench {ref_acs:.1f}; ActivationSparsity "
          f"{ours['ActivationSparsity']:.6f} / {ref['ActivationSparsity']:.6f}")


def test_multi_spike_steps_measured_against_neurobench(nir_cnn_config):
    """The NIR paper CNN (overlapping kernels, sum pooling) fed the N-MNIST sample one event per step: the first
    layer agrees exactly; deeper layers get several spikes per step, which NeuroBench counts as MACs on binarized
    inputs, so its figure is far below the chip's synaptic updates.  (Zero integer weights become 1e-6 in the
    torch model: no spike changes, and NeuroBench counts every tap as the chip does.)"""
    cfg = snnc.load_config(nir_cnn_config)
    prog = program_from_config(cfg)
    ev = _sample(100)
    frames = np.zeros((1, len(ev), 2, 34, 34), np.float32)
    frames[0, np.arange(len(ev)), ev["p"].astype(int), ev["y"].astype(int), ev["x"].astype(int)] = 1
    ours = _ours(cfg, frames)
    labels = torch.zeros(1, dtype=torch.int64)
    ref = neurobench_results(stepped_model(prog, multi=True, zero_as_epsilon=True), torch.from_numpy(frames), labels)
    first = neurobench_results(stepped_model(prog, multi=True, zero_as_epsilon=True, upto=1),
                               torch.from_numpy(frames), labels)
    assert first["SynapticOperations"]["Effective_ACs"] == ours["layers"][0]["SynapticOperations"]["Effective_ACs"]
    assert first["SynapticOperations"]["Effective_MACs"] == 0
    chip = ours["SynapticOperations"]["Effective_ACs"]
    res, _ = _run(cfg, nm.frames_to_events(frames[0]))
    assert chip == sum(res.synops_per_core.values())
    so = ref["SynapticOperations"]
    assert so["Effective_MACs"] > 0 and so["Effective_ACs"] < 0.8 * chip
    print(f"\nmulti-spike steps (NIR CNN, {len(ev)} events, one per step): chip {chip:.0f} synaptic updates; "
          f"NeuroBench Effective_ACs {so['Effective_ACs']:.0f} + Effective_MACs {so['Effective_MACs']:.0f} "
          f"(ACs {so['Effective_ACs'] / chip:.1%} of the chip's); ActivationSparsity snnc "
          f"{ours['ActivationSparsity']:.5f} / NeuroBench {ref['ActivationSparsity']:.5f}")


# --- snnc evaluate --neurobench -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def event_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("nbds")
    ev = _sample()
    for k, (lab, cut) in enumerate([(0, 1500), (1, 3000), (1, 4325)]):
        (root / str(lab)).mkdir(exist_ok=True)
        save_events(root / str(lab) / f"{k}.npy", ev[:cut])
    return root


def test_evaluate_dataset_neurobench_json(event_folder, nir_cnn_config, capsys):
    assert main(["evaluate", str(nir_cnn_config), "--dataset", str(event_folder), "--neurobench", "--json",
                 "--workers", "1"]) == 0
    res = json.loads(capsys.readouterr().out)
    nb = res["neurobench"]
    assert nb["ClassificationAccuracy"] == res["chip_accuracy"]
    for key in ("ActivationSparsity", "MembraneUpdates", "Footprint", "ConnectionSparsity", "ParameterCount"):
        assert key in nb and all(key in layer for layer in nb["layers"])
    assert set(nb["SynapticOperations"]) == {"Effective_MACs", "Effective_ACs", "Dense"}
    assert nb["SynapticOperations"]["Effective_MACs"] == 0 and nb["dt_us"] == 1000 and nb["samples"] == 3
    assert len(nb["layers"]) == 5
    for what in ("Effective_ACs", "Dense"):
        assert sum(layer["SynapticOperations"][what] for layer in nb["layers"]) == \
            pytest.approx(nb["SynapticOperations"][what])
    assert sum(layer["ParameterCount"] for layer in nb["layers"]) == nb["ParameterCount"]
    # Effective_ACs: the chip's synaptic updates per sample, as `snnc simulate` counts them
    sim = Simulator.from_config(nir_cnn_config)
    total = sum(sum(sim.run(_sample()[:cut]).synops_per_core.values()) for cut in (1500, 3000, 4325))
    assert nb["SynapticOperations"]["Effective_ACs"] == pytest.approx(total / 3)
    # a bin of 10 ms: fewer bins, the same synaptic updates, a lower activation sparsity
    assert main(["evaluate", str(nir_cnn_config), "--dataset", str(event_folder), "--neurobench", "--json",
                 "--workers", "2", "--neurobench-dt-us", "10000"]) == 0
    nb10 = json.loads(capsys.readouterr().out)["neurobench"]
    assert nb10["SynapticOperations"]["Effective_ACs"] == nb["SynapticOperations"]["Effective_ACs"]
    assert nb10["bins_per_sample"] < nb["bins_per_sample"] / 9
    assert nb10["ActivationSparsity"] < nb["ActivationSparsity"]


def test_evaluate_neurobench_text_table_and_errors(event_folder, nir_cnn_config, capsys):
    assert main(["evaluate", str(nir_cnn_config), "--dataset", str(event_folder), "--neurobench", "--workers",
                 "1"]) == 0
    out = capsys.readouterr().out
    assert "NeuroBench" in out and "Effective_ACs" in out and "ActivationSparsity" in out and "total" in out
    for args, msg in ((["--neurobench", "--neurobench-dt-us", "0"], "--neurobench-dt-us"),
                      (["--neurobench-dt-us", "500"], "needs --neurobench")):
        assert main(["evaluate", str(nir_cnn_config), "--dataset", str(event_folder), "--workers", "1"] + args) != 0
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err


def test_evaluate_data_neurobench(nir_cnn_config, tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "t.npz", x=rng.random((2, 2, 34, 34)).astype(np.float32), y=np.array([0, 1]))
    assert main(["evaluate", str(nir_cnn_config), "--data", str(tmp_path / "t.npz"), "--neurobench", "--json",
                 "--duration-ms", "20"]) == 0
    res = json.loads(capsys.readouterr().out)
    nb = res["neurobench"]
    assert nb["ClassificationAccuracy"] == res["chip_accuracy"] and nb["bins_per_sample"] == 20
    assert nb["SynapticOperations"]["Effective_ACs"] > 0


# --- a NeuroBench Benchmark on the simulated chip -----------------------------------------------------------------

def test_example_benchmark_runs_and_matches_evaluate(tmp_path, nir_cnn_config):
    """examples/neurobench_speck.py: NeuroBench's Benchmark over SpeckModel; the same frames written as event files
    and run by `snnc evaluate --neurobench` give the same figures."""
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "neurobench_speck.py"), "--config",
                          str(nir_cnn_config), "--count", "3", "--batch-size", "2", "--steps", "300"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    bench = json.loads(out.stdout.strip().splitlines()[-1])
    import importlib.util

    spec = importlib.util.spec_from_file_location("nb_example", ROOT / "examples" / "neurobench_speck.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    x, y = mod.frames(0, 3, 1000, 300)
    for i in range(3):
        (tmp_path / str(int(y[i]))).mkdir(exist_ok=True)
        save_events(tmp_path / str(int(y[i])) / f"{i}.npy", nm.frames_to_events(x[i].numpy(), 1000))
    from snnc.runtime.evaluation import evaluate_dataset

    res = evaluate_dataset(snnc.load_config(nir_cnn_config), tmp_path, workers=1, neurobench_dt_us=1000)
    nb = res["neurobench"]
    assert bench["ClassificationAccuracy"] == pytest.approx(res["chip_accuracy"])
    assert bench["SynapticOperations"]["Effective_ACs"] == pytest.approx(nb["SynapticOperations"]["Effective_ACs"])
    assert bench["MembraneUpdates"] == pytest.approx(nb["MembraneUpdates"])
    for key in ("Footprint", "ConnectionSparsity", "ParameterCount"):
        assert bench[key] == nb[key]
    dense_step = sum(r["dense_per_step"] for r in nm.static_metrics(program_from_config(nir_cnn_config))["layers"])
    assert bench["SynapticOperations"]["Dense"] == dense_step * 300


def test_neurobench_hook_metrics_are_refused_on_the_chip(nir_cnn_config):
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.workload import SynapticOperations

    from snnc.neurobench import SpeckModel

    with pytest.raises(SnncError, match="snnc.neurobench"):
        Benchmark(SpeckModel(nir_cnn_config), None, [], [], [[], [SynapticOperations]])


def test_evaluate_training_config_neurobench(tmp_path, nir_cnn_config, capsys):
    """--config CONFIG.toml: the bins cover the encoding window (10 steps of 30 ms: 300 bins of 1 ms)."""
    import importlib.util

    from snnc.runtime.training.data import load_mnist

    spec = importlib.util.spec_from_file_location("encode_mnist", ROOT / "examples" / "encode_mnist.py")
    enc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(enc)
    images, labels = load_mnist(ROOT / "examples" / "data" / "mnist")
    enc.write_dataset(tmp_path / "d", images, labels, 0, 4, "saccade", "npy")
    toml = (ROOT / "examples" / "nmnist_like_speck.toml").read_text()
    toml = toml.replace('path = "nmnist_like"', f'path = "{(tmp_path / "d").as_posix()}"')
    toml = toml.replace("train = [0, 999]", "train = [0, 1]").replace("eval = [1000, 1199]", "eval = [2, 3]")
    (tmp_path / "t.toml").write_text(toml)
    capsys.readouterr()
    assert main(["evaluate", str(nir_cnn_config), "--config", str(tmp_path / "t.toml"), "--neurobench",
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    nb = res["neurobench"]
    assert nb["ClassificationAccuracy"] == res["chip_accuracy"] and nb["samples"] == 2
    assert nb["bins_per_sample"] == 300 and nb["SynapticOperations"]["Effective_ACs"] > 0


def test_leak_ticks_update_every_neuron_of_their_bins():
    """A leaking core at a 1 kHz slow clock: ticks at 1000, 2000, 3000 us (none after the last event, at 3500 us)
    write every neuron of the core in bins 1, 2 and 3; bin 0 counts the neurons its events reached."""
    from snnc.runtime.simulator import Simulator as Sim

    prog = program_from_config(_one_core())
    prog.cores[0].leak_enable = True
    prog.slow_clock_hz = 1000.0
    sim = Sim(prog)
    ev = sim.prepare_events(make_events([0, 3], [0, 3], [10, 3500], [0, 0]))
    res = sim.run(ev, spikes=True)
    s = nm.sample_counts(prog, ev, res, 1000)
    F, H, W = prog.cores[0].out_shape
    assert s["bins"] == 4 and s["cores"][0]["updated"] == F * 4 + 3 * F * H * W


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=25)
@given(k=st.integers(1, 4), stride=st.sampled_from([1, 2, 4]), pad=st.integers(0, 2), size=st.integers(4, 9),
       n=st.integers(0, 40), dt=st.sampled_from([1, 7, 100, 1000]), seed=st.integers(0, 2 ** 16))
def test_binned_counts_equal_a_plain_count(k, stride, pad, size, n, dt, seed):
    """The membrane updates and activations of random events on one core, counted neuron by neuron in plain
    Python from the events and the spike log, equal the vectorized counts."""
    from hypothesis import assume

    import sinabs.layers as sl

    pad = min(pad, k - 1)
    assume((size + 2 * pad - k) // stride + 1 >= 1)
    m = nn.Sequential(nn.Conv2d(2, 3, k, stride=stride, padding=pad, bias=False))
    with torch.no_grad():
        m[0].weight.copy_(torch.linspace(-0.5, 1.0, m[0].weight.numel()).reshape(m[0].weight.shape))
    m.append(sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0))
    m.input_shape = (2, size, size)
    cfg = snnc.compile(m, target="speck2f")
    prog = program_from_config(cfg)
    rng = np.random.default_rng(seed)
    ev = make_events(rng.integers(0, size, n), rng.integers(0, size, n), np.sort(rng.integers(0, 3000, n)),
                     rng.integers(0, 2, n))
    res, s = _run(cfg, ev, dt)
    core = prog.cores[0]
    F, OH, OW = core.out_shape
    touched = set()
    for e in Simulator.from_config(cfg).prepare_events(ev):
        for oy in range(OH):
            for ox in range(OW):
                if 0 <= int(e["y"]) + pad - oy * stride < k and 0 <= int(e["x"]) + pad - ox * stride < k:
                    touched |= {(int(e["t"]) // dt, f, oy, ox) for f in range(F)}
    active = {(int(r["t"]) // dt, int(r["feature"]), int(r["y"]), int(r["x"])) for r in res.spike_log}
    c = s["cores"][0]
    assert c["updated"] == len(touched) and c["active"] == len(active) and c["synops"] == res.synops_per_core[0]
    assert s["bins"] == (int(ev["t"].max()) // dt + 1 if n else 1)


def test_evaluate_a_model_file_with_neurobench(event_folder, nir_paper_cnn, nir_cnn_config, capsys):
    """A model file is compiled with default options (the same configuration as `snnc compile`): the same figures."""
    args = ["--dataset", str(event_folder), "--neurobench", "--json", "--workers", "1"]
    assert main(["evaluate", str(nir_paper_cnn)] + args) == 0
    from_model = json.loads(capsys.readouterr().out)["neurobench"]
    assert main(["evaluate", str(nir_cnn_config)] + args) == 0
    from_config = json.loads(capsys.readouterr().out)["neurobench"]
    assert from_model["SynapticOperations"] == from_config["SynapticOperations"]
    assert from_model["Footprint"] == from_config["Footprint"]


def test_neurobench_own_static_metrics_see_the_deployed_integers(nir_cnn_config):
    """SpeckModel.__net__() holds the deployed layers: NeuroBench's own ParameterCount and ConnectionSparsity (4
    decimals) equal snnc's, and its Footprint is their float count (4 bytes each)."""
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount
    from torch.utils.data import DataLoader, TensorDataset

    from snnc.neurobench import SpeckModel

    model = SpeckModel(nir_cnn_config)
    loader = DataLoader(TensorDataset(torch.zeros(1, 2, 2, 34, 34), torch.zeros(1, dtype=torch.int64)))
    res = Benchmark(model, loader, [], [], [[Footprint, ConnectionSparsity, ParameterCount], []]).run(quiet=True)
    assert res["ParameterCount"] == model.static["ParameterCount"]
    assert res["ConnectionSparsity"] == round(model.static["ConnectionSparsity"], 4)
    assert res["Footprint"] == 4 * model.static["ParameterCount"]
