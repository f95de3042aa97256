"""NIR files of every nir version read the same whichever nir is installed, each node as its version's spec says;
what snnc refuses in a NIR file, it refuses by rule, layer and value.

The files in tests/data/nir_versions were written by nir 1.0.4 and 1.0.8 (make_files.py there).  The README's
environment has nir 1.0.4 (sinabs 3.1.3 pins it); ``test_newest_nir_reads_the_same`` runs this module and
test_frontend_nir.py again under nir 1.0.8, installed from PyPI into a folder put first on PYTHONPATH."""
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

from snnc.compiler.errors import SnncError
from snnc.compiler.frontends.loader import load_model
from snnc.compiler.ir import IAF, Unsupported
from snnc.targets.compile import CompileOptions, run_pipeline

DATA = Path(__file__).parent / "data" / "nir_versions"
FILES = {"1.0.4": DATA / "small_nir_1.0.4.nir", "1.0.8": DATA / "small_nir_1.0.8.nir"}
NEWEST = "1.0.8"


def nir_graph(nodes, edges):
    """nir.NIRGraph without nir's own type check (nir >= 1.0.5 checks on construction; snnc infers shapes)."""
    import inspect

    import nir

    if "type_check" in inspect.signature(nir.NIRGraph).parameters:
        return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    return nir.NIRGraph(nodes=nodes, edges=edges)


def test_the_installed_nir_is_the_expected_one():
    import nir

    expected = os.environ.get("SNNC_EXPECT_NIR")
    if expected:  # set by test_newest_nir_reads_the_same for its run
        assert nir.version == expected


@pytest.mark.parametrize("version", sorted(FILES))
def test_each_version_reads_by_its_own_spec(version):
    g = load_model(FILES[version])
    kinds = [(n, g[n].kind) for n in g.node_names()]
    assert kinds == [("input", "Input"), ("conv", "Conv2d"), ("if1", "IAF"), ("pool", "SumPool"),
                     ("flat", "Flatten"), ("fc", "Linear"), ("if2", "IAF"), ("output", "Output")]
    assert g.validate()["fc"] == (3,)
    reset = "subtract" if version < "1.0.6" else "zero"  # nir 1.0.6 gave IF a v_reset (v <- v_reset)
    assert g["if1"].reset == g["if2"].reset == reset
    notes = "\n".join(g.meta["notes"])
    assert ("without v_reset" if reset == "subtract" else "v_reset = 0") in notes and "v > v_threshold" in notes


def test_versions_agree_on_everything_but_the_reset():
    a, b = (load_model(FILES[v]) for v in sorted(FILES))
    for name in ("conv", "fc"):
        np.testing.assert_array_equal(a[name].weight, b[name].weight)
    np.testing.assert_array_equal(a["if1"].threshold, b["if1"].threshold)


def edited(tmp_path, fn, name="edited.nir", version=NEWEST):
    path = tmp_path / name
    shutil.copy(FILES[version], path)
    with h5py.File(path, "a") as f:
        fn(f)
    return path


def test_v_reset_other_than_zero_is_refused_naming_layer_and_value(tmp_path):
    def half(f):
        del f["node/nodes/if2/v_reset"]
        f["node/nodes/if2/v_reset"] = np.full(3, 0.5, np.float32)

    result = run_pipeline(str(edited(tmp_path, half)), CompileOptions(), until="assign")
    (err,) = result.diagnostics.errors
    assert err.rule == "neuron_model" and err.layer == "if2" and "v_reset = 0.5" in err.message


def test_r_with_a_time_step_in_the_metadata(tmp_path):
    def r1000(f):
        for n in ("if1", "if2"):
            r = f[f"node/nodes/{n}/r"][()]
            del f[f"node/nodes/{n}/r"]
            f[f"node/nodes/{n}/r"] = r * 1000
        f.create_group("node/metadata")["dt"] = 1e-3

    path = edited(tmp_path, r1000)
    plain = run_pipeline(str(FILES[NEWEST]), CompileOptions(), until="assign")
    result = run_pipeline(str(path), CompileOptions(), until="assign")
    assert result.fits and any("r * dt = 1" in n and "metadata" in n for n in result.notes)
    np.testing.assert_allclose(result.chip.layers[0].weight, plain.chip.layers[0].weight)
    # --nir-dt overrides the file: twice the step, twice the weights
    result = run_pipeline(str(path), CompileOptions(nir_dt=2e-3), until="assign")
    assert any("r * dt = 2" in n and "--nir-dt" in n for n in result.notes)
    np.testing.assert_allclose(result.graph["conv"].weight, 2 * plain.graph["conv"].weight)


def retype(node, kind):
    def fn(f):
        del f[f"node/nodes/{node}/type"]
        f[f"node/nodes/{node}/type"] = kind
    return fn


def test_unknown_node_type_is_named(tmp_path):
    # where the shape passes through: the rule check names it with the rest
    result = run_pipeline(str(edited(tmp_path, retype("if2", "Spiky"))), CompileOptions(), until="assign")
    errs = result.diagnostics.errors
    assert [(d.rule, d.layer) for d in errs] == [("unsupported_layer", "if2")]
    assert "unknown NIR node type 'Spiky'" in errs[0].message and "installed nir" in errs[0].message
    # where it changes the shape: one line naming it, not the layer after it
    p = subprocess.run([sys.executable, "-m", "snnc", "check", str(edited(tmp_path, retype("pool", "MaxPool2d")))],
                       capture_output=True, text=True)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "'pool' is a NIR MaxPool2d: unknown NIR node type 'MaxPool2d'" in p.stderr


def test_a_file_that_is_not_nir_names_both_versions(tmp_path, capsys):
    path = tmp_path / "other.nir"
    with h5py.File(path, "w") as f:
        f["version"] = "1.0.9"
        f["something"] = np.ones(3)
    with pytest.raises(SnncError) as e:
        load_model(path)
    assert "nir 1.0.9" in str(e.value) and "installed nir" in str(e.value)


def small(nodes_between, input_shape=(4,)):
    import nir

    nodes = {"input": nir.Input(input_type={"input": np.array(input_shape)})}
    order = ["input"]
    for i, n in enumerate(nodes_between):
        nodes[f"n{i}"] = n
        order.append(f"n{i}")
    nodes["output"] = nir.Output(output_type={"output": np.array([2])})
    order.append("output")
    return nir_graph(nodes, list(zip(order[:-1], order[1:])))


def _aff(o, i):
    import nir

    return nir.Affine(weight=np.full((o, i), 0.5, np.float32), bias=np.zeros(o, np.float32))


def _if(n):
    import nir

    return nir.IF(r=np.ones(n, np.float32), v_threshold=np.ones(n, np.float32))


@pytest.mark.parametrize("where", ["first", "between", "last", "all"])
def test_neurons_the_chip_lacks_are_one_neuron_model_violation_each(where):
    import nir

    def cuba(n):
        o = np.ones(n, np.float32)
        return nir.CubaLIF(tau_syn=o * 2e-3, tau_mem=o * 1e-2, r=o, v_leak=o * 0, v_threshold=o)

    def li(n):
        o = np.ones(n, np.float32)
        return nir.LI(tau=o * 1e-2, r=o, v_leak=o * 0)

    def lif(n):
        o = np.ones(n, np.float32)
        return nir.LIF(tau=o * 1e-2, r=o, v_leak=o * 0, v_threshold=o)

    chain = {"first": [lif(4), _aff(3, 4), _if(3), _aff(2, 3), _if(2)],
             "between": [_aff(3, 4), _if(3), _aff(64, 3), cuba(64), _aff(2, 64), _if(2)],
             "last": [_aff(3, 4), _if(3), _aff(2, 3), li(2)],
             "all": [_aff(3, 4), lif(3), _aff(2, 3), cuba(2)]}[where]
    result = run_pipeline(small(chain), CompileOptions(), until="assign")
    errs = result.diagnostics.errors
    bad = [f"n{i}" for i, n in enumerate(chain) if type(n).__name__ in ("LIF", "CubaLIF", "LI")]
    assert [(d.rule, d.layer) for d in errs] == [("neuron_model", b) for b in bad], [str(d) for d in errs]


def test_lif_with_infinite_tau(tmp_path):
    import nir

    o = np.ones(3, np.float32)
    for r, why in ((o * np.inf, "undefined (inf / inf)"), (o, "r / tau is 0")):
        g = load_model(small([_aff(3, 4), nir.LIF(tau=o * np.inf, r=r, v_leak=o * 0, v_threshold=o), _aff(2, 3),
                              _if(2)]), nir_dt=1e-3)
        assert isinstance(g["n1"], Unsupported) and g["n1"].rule == "neuron_model"
        assert why in g["n1"].detail and "NIR IF" in g["n1"].hint


def test_recurrent_graph_is_the_recurrence_rule_in_the_report(tmp_path):
    import nir

    path = tmp_path / "loop.nir"
    g = small([_aff(3, 4), _if(3), _aff(3, 3), _if(3)])
    g.edges.append(("n3", "n2"))  # the second layer's spikes feed back into itself
    nir.write(str(path), g)
    for argv in (["check", str(path)], ["check", str(path), "--json"], ["compile", str(path), "-o",
                                                                         str(tmp_path / "c.json")]):
        p = subprocess.run([sys.executable, "-m", "snnc", *argv], capture_output=True, text=True)
        assert p.returncode == 1, p.stderr
        assert "Traceback" not in p.stderr
        if "--json" in argv:
            report = json.loads(p.stdout)
            assert [v["rule"] for v in report["violations"]] == ["recurrence"]
        else:
            assert "error[recurrence]" in p.stdout
    assert not (tmp_path / "c.json").exists()


def test_inspect_prints_the_notes():
    p = subprocess.run([sys.executable, "-m", "snnc", "inspect", str(FILES["1.0.4"])], capture_output=True,
                       text=True)
    assert p.returncode == 0 and "note: if1, if2: IF without v_reset" in p.stdout


def test_newest_nir_reads_the_same(tmp_path_factory):
    """Install nir NEWEST (no dependencies: numpy and h5py come from this environment) into a folder, put it first
    on PYTHONPATH and run this module and test_frontend_nir.py again."""
    import nir

    if nir.version == NEWEST:
        pytest.fail(f"nir {NEWEST} is installed here already: this test proves the README's nir and {NEWEST}")
    target = tmp_path_factory.mktemp("nir_newest")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                          f"nir=={NEWEST}"], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-2000:]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]),
               SNNC_EXPECT_NIR=NEWEST)
    here = Path(__file__).parent
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not newest_nir",
                          str(here / "test_nir_versions.py"), str(here / "test_frontend_nir.py")],
                         capture_output=True, text=True, env=env, cwd=here.parent)
    tail = run.stdout[-3000:]
    assert run.returncode == 0, tail
    assert " passed" in tail and " failed" not in tail


def test_threshold_test_v_greater_than_is_exact_for_integer_models(tmp_path):
    """NIR: z = 1 when v > v_threshold.  Integer weights, threshold 2, reset to zero: two input events of weight 1
    reach v = 2 (no spike in NIR), the third fires.  The chip fires at v >= threshold, so snnc uses 3."""
    import nir

    from snnc.runtime.eventio.layout import make_events
    from snnc.runtime.simulator import Simulator
    from snnc.targets.compile import compile_model

    o = np.ones(1, np.float32)
    conv = nir.Conv2d(input_shape=(1, 1), weight=np.ones((1, 1, 1, 1), np.float32), stride=1, padding=0, dilation=1,
                      groups=1, bias=np.zeros(1, np.float32))
    nodes = {"input": nir.Input(input_type={"input": np.array([1, 1, 1])}), "c": conv,
             "n": nir.IF(r=o.reshape(1, 1, 1), v_threshold=2 * o.reshape(1, 1, 1)),
             "output": nir.Output(output_type={"output": np.array([1, 1, 1])})}
    g = nir_graph(nodes, [("input", "c"), ("c", "n"), ("n", "output")])
    g.nodes["n"].v_reset = np.zeros((1, 1, 1), np.float32)  # reset to zero, whichever nir is installed
    ir = load_model(g)
    assert float(ir["n"].threshold.max()) == 3.0 and any("v_threshold + 1" in n for n in ir.meta["notes"])
    cfg = compile_model(g, CompileOptions())
    counts = Simulator.from_config(cfg).run(make_events([0] * 6, [0] * 6, np.arange(1, 7) * 1000, [0] * 6))
    core = next(iter(counts.spike_counts))
    assert int(counts.spike_counts[core].sum()) == 2  # events 3 and 6, as NIR's v > 2 with reset to 0
    # float weights: the threshold is kept, and the difference stated
    g.nodes["c"].weight = np.full((1, 1, 1, 1), 0.7, np.float32)
    ir = load_model(g)
    assert float(ir["n"].threshold.max()) == 2.0 and any("v >= threshold" in n for n in ir.meta["notes"])
