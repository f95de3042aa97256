"""NIR files as each framework writes them (tests/data/frameworks, made by make_files.py there, provenance.json):
what snnc refuses and why, and, where the chip can run them, spike counts against the framework's own forward on the
same events (one event per time step).  snnTorch and SpikingJelly also run live: their exporters need nir >= 1.0.6
(the README's environment has 1.0.4, pinned by sinabs), so they are installed with nir 1.0.8 into a folder put on
PYTHONPATH for a subprocess that runs make_files.py; its files and counts are tested like the committed ones.  Subtract reset: within 2 % of the per-class output counts; reset to zero:
correlated >= 0.95 (a time step sums all inputs before one threshold test; the chip tests after every event)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from snnc.compiler.chip import OUTPUT
from snnc.runtime.eventio.layout import make_events
from snnc.runtime.simulator import Simulator
from snnc.targets.compile import CompileOptions, run_pipeline
from snnc.targets.config import build_config

DATA = Path(__file__).parent / "data" / "frameworks"
#: what the live exports need beside the README's environment (torch and numpy come from it)
LIVE_PACKAGES = ["nir==1.0.8", "nirtorch==2.6", "snntorch==1.0.0", "spikingjelly==2.0.0", "loguru==0.7.3"]


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Path:
    """snnTorch and SpikingJelly, installed now, build, run and export the CNN (make_files.py --out)."""
    target, out = tmp_path_factory.mktemp("fw_packages"), tmp_path_factory.mktemp("fw_live")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                          *LIVE_PACKAGES], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-2000:]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, str(DATA / "make_files.py"), "snntorch", "spikingjelly", "--out", str(out)],
                         capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return out


@pytest.fixture(params=["committed", "live"])
def files(request) -> Path:
    return DATA if request.param == "committed" else request.getfixturevalue("live")


def test_live_exports_reproduce_the_committed_files(live):
    prov = json.loads((live / "provenance.json").read_text())
    assert prov["snntorch_zero"]["versions"]["snntorch"] == "1.0.0"
    for name in ("snntorch_zero", "snntorch_subtract", "spikingjelly_if"):
        np.testing.assert_array_equal(np.load(live / f"{name}_counts.npy"), np.load(DATA / f"{name}_counts.npy"))


def samples():
    d = np.load(DATA / "events.npz")
    return [d[k] for k in sorted(d.files, key=lambda k: int(k[1:]))]


def simulate_counts(model, **options) -> np.ndarray:
    """Compile ``model`` and simulate each sample's events, one per time step; per-sample output spike counts."""
    result = run_pipeline(str(model), CompileOptions(**options), until="quantize")
    assert result.fits, [str(d) for d in result.diagnostics.errors]
    (out_layer,) = [la for la in result.chip.layers if any(d.layer == OUTPUT for d in la.destinations)]
    sim = Simulator.from_config(build_config(result))
    rows = []
    for ev in samples():
        t = np.arange(len(ev), dtype=np.int64) * 1000 + 1000
        r = sim.run(make_events(ev[:, 0], ev[:, 1], t, ev[:, 2]))
        rows.append(r.spike_counts[out_layer.core].reshape(-1))
    return np.array(rows)


def relative_error(ours, theirs) -> float:
    return float(np.abs(ours - theirs).sum() / theirs.sum())


def as_if(src: Path, dst: Path, reset: str) -> Path:
    """The workaround for snnTorch's export of Leaky(beta=1) (docs/frontends.md): each LIF(tau=inf, r=inf) node
    becomes an NIR IF with r = 1 and its threshold; ``reset="zero"`` keeps v_reset = 0, ``"subtract"`` leaves
    v_reset out (the IF of nir < 1.0.6, which subtracts the threshold)."""
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        for key, node in f["node/nodes"].items():
            if node["type"][()] != b"LIF":
                continue
            thr = node["v_threshold"][()]
            for k in list(node.keys()):
                if k not in ("v_threshold", "input_type", "output_type", "metadata"):
                    del node[k]
            node["type"] = "IF"
            node["r"] = np.ones_like(thr)
            if reset == "zero":
                node["v_reset"] = np.zeros_like(thr)
    return dst


def test_provenance_names_every_file():
    prov = json.loads((DATA / "provenance.json").read_text())
    for f in DATA.glob("*.nir"):
        assert f.stem in prov and prov[f.stem]["versions"]["nir"], f


# ----------------------------------------------------------------------------------------------- SpikingJelly
def test_spikingjelly_if_is_refused_without_its_time_step(files):
    result = run_pipeline(str(files / "spikingjelly_if.nir"), CompileOptions(), until="assign")
    errs = result.diagnostics.errors
    assert {d.rule for d in errs} == {"neuron_model"} and len(errs) == 3  # one per IF layer, nothing else
    assert all("r = 10000" in d.message and "--nir-dt" in d.hint for d in errs)


def test_spikingjelly_if_with_its_time_step_matches_spikingjelly(files):
    theirs = np.load(files / "spikingjelly_if_counts.npy")
    ours = simulate_counts(files / "spikingjelly_if.nir", nir_dt=1e-4)
    corr = np.corrcoef(ours.reshape(-1), theirs.reshape(-1))[0, 1]
    print(f"SpikingJelly IFNode (reset to 0): {ours.sum()} vs {theirs.sum()} spikes, correlation {corr:.3f}, "
          f"relative error {relative_error(ours, theirs):.3f}")
    assert corr >= 0.95


# ------------------------------------------------------------------------------------------------ snnTorch
def test_snntorch_leaky_beta_1_is_refused_pointing_to_nir_if(files):
    result = run_pipeline(str(files / "snntorch_zero.nir"), CompileOptions(), until="assign")
    errs = result.diagnostics.errors
    assert {d.rule for d in errs} == {"neuron_model"} and len(errs) == 3
    assert all("inf / inf" in d.message and "NIR IF" in d.hint for d in errs)


def test_snntorch_repaired_reset_to_zero_matches_snntorch(tmp_path, files):
    theirs = np.load(files / "snntorch_zero_counts.npy")
    ours = simulate_counts(as_if(files / "snntorch_zero.nir", tmp_path / "zero.nir", "zero"))
    corr = np.corrcoef(ours.reshape(-1), theirs.reshape(-1))[0, 1]
    print(f"snnTorch Leaky(beta=1) reset to zero: {ours.sum()} vs {theirs.sum()} spikes, correlation {corr:.3f}")
    assert corr >= 0.95


def test_snntorch_repaired_subtract_reset_within_2_percent(tmp_path, files):
    theirs = np.load(files / "snntorch_subtract_counts.npy")
    ours = simulate_counts(as_if(files / "snntorch_subtract.nir", tmp_path / "sub.nir", "subtract"))
    err = relative_error(ours, theirs)
    print(f"snnTorch Leaky(beta=1) subtract: {ours.sum()} vs {theirs.sum()} spikes, per-class relative error "
          f"{err:.4f}")
    assert err <= 0.02


# ------------------------------------------------------------------------------------------- Rockpool, Norse
def test_rockpool_lif_is_one_neuron_model_violation_per_layer():
    result = run_pipeline(str(DATA / "rockpool_lif.nir"), CompileOptions(), until="assign")
    errs = result.diagnostics.errors
    assert [d.rule for d in errs] == ["neuron_model", "neuron_model"]
    assert all("CubaLIF" in d.message and "synaptic current" in d.message for d in errs)
    assert any("batch axis" in n for n in result.notes)


def test_norse_dropped_pooling_none_node_is_refused_not_passed_through():
    """Norse's to_nir leaves None where the pooling and the flatten were (provenance.json); through the API such a
    graph reaches snnc as it is."""
    import nir

    prov = json.loads((DATA / "provenance.json").read_text())["norse_iaf"]
    assert prov["nodes"]["2"] is None
    w = np.ones((4, 2, 3, 3), dtype=np.float32)
    nodes = {"input": nir.Input(input_type={"input": np.array([2, 8, 8])}),
             "0": nir.Conv2d(input_shape=(8, 8), weight=w, stride=1, padding=1, dilation=1, groups=1,
                             bias=np.zeros(4, dtype=np.float32)),
             "1": nir.IF(r=np.ones((4, 8, 8)), v_threshold=np.ones((4, 8, 8))), "2": None,
             "output": nir.Output(output_type={"output": np.array([4, 4, 4])})}
    graph = nir.NIRGraph.__new__(nir.NIRGraph)  # nir's constructor would reject the None the exporter left
    graph.nodes, graph.edges = nodes, [("input", "0"), ("0", "1"), ("1", "2"), ("2", "output")]
    graph.metadata = {}
    result = run_pipeline(graph, CompileOptions(), until="assign")
    (err,) = result.diagnostics.errors
    assert err.rule == "unsupported_layer" and err.layer == "2" and "None" in err.message


# ------------------------------------------------------------------------------------------------------ Spyx
def spyx_repaired(dst: Path, reset: str = "subtract") -> Path:
    """The workaround for Spyx's export (docs/frontends.md): the Linear after the Flatten gets its weights in NIR's
    (C, H, W) order, from the (H, W, C) order Spyx's channels-last flatten gave them; and since Spyx's IF subtracts
    the threshold but nir >= 1.0.6 writes v_reset = 0, v_reset is left out (the IF of nir < 1.0.6)."""
    shutil.copy(DATA / "spyx_if.nir", dst)
    with h5py.File(dst, "a") as f:
        nodes = f["node/nodes"]
        w = nodes["layer_6/weight"][()]
        del nodes["layer_6/weight"]
        nodes["layer_6/weight"] = w.reshape(10, 9, 9, 16).transpose(0, 3, 1, 2).reshape(10, -1)
        for key, node in nodes.items():
            if node["type"][()] == b"IF" and reset == "subtract":
                del node["v_reset"]
    return dst


def test_spyx_file_as_written_computes_something_else():
    """Spyx writes the Linear's weights in (H, W, C) order under a (C, H, W) Flatten, and v_reset = 0 for its
    subtracting IF: the file compiles (snnc cannot see either), but it is not the network Spyx ran."""
    theirs = np.load(DATA / "spyx_if_counts.npy")
    ours = simulate_counts(DATA / "spyx_if.nir")
    print(f"Spyx as written: {ours.sum()} vs {theirs.sum()} spikes, relative error "
          f"{relative_error(ours, theirs):.3f}")
    assert relative_error(ours, theirs) > 0.1


def test_spyx_repaired_within_2_percent(tmp_path):
    theirs = np.load(DATA / "spyx_if_counts.npy")
    ours = simulate_counts(spyx_repaired(tmp_path / "spyx.nir"))
    err = relative_error(ours, theirs)
    print(f"Spyx IF (subtract), repaired: {ours.sum()} vs {theirs.sum()} spikes, per-class relative error {err:.4f}")
    assert err <= 0.02
