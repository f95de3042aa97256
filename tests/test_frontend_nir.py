"""NIR -> graph IR: the NIR paper's N-MNIST CNN, neuron semantics, r folding, sums, unsupported nodes."""
from pathlib import Path

import nir
import numpy as np
import pytest

from snnc.compiler.errors import SnncError
from snnc.compiler.frontends.loader import load_model
from snnc.compiler.frontends.nir_frontend import from_nir
from snnc.compiler.ir import IAF, LIF, Add, Conv2d, Flatten, Linear, SumPool, Unsupported

SHARED_CNN = Path(__file__).resolve().parents[2] / "shared" / "models" / "nir_paper_nmnist_cnn.nir"  # optional


def nir_graph(nodes, edges):
    """nir.NIRGraph without nir's own type check (nir >= 1.0.5 checks on construction; snnc infers shapes)."""
    import inspect

    import nir

    if "type_check" in inspect.signature(nir.NIRGraph).parameters:
        return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    return nir.NIRGraph(nodes=nodes, edges=edges)


def chain(*nodes, input_shape):
    named = {"input": nir.Input(input_type={"input": np.array(input_shape)})}
    order = ["input"]
    for i, n in enumerate(nodes):
        named[str(i)] = n
        order.append(str(i))
    named["output"] = nir.Output(output_type={"output": np.array([1])})
    order.append("output")
    return nir_graph(named, list(zip(order[:-1], order[1:])))


def _check_paper_cnn(g):
    assert g.meta["format"] == "nir" and len(g.meta["sha256"]) == 64
    expected = [("input", "Input", (2, 34, 34)), ("0", "Conv2d", (16, 16, 16)), ("1", "IAF", (16, 16, 16)),
                ("2", "Conv2d", (16, 16, 16)), ("3", "IAF", (16, 16, 16)), ("4", "SumPool", (16, 8, 8)),
                ("5", "Conv2d", (8, 8, 8)), ("6", "IAF", (8, 8, 8)), ("7", "SumPool", (8, 4, 4)),
                ("8", "Flatten", (128,)), ("9", "Linear", (256,)), ("10", "IAF", (256,)),
                ("11", "Linear", (10,)), ("12", "IAF", (10,)), ("output", "Output", (10,))]
    shapes = g.validate()
    assert [(n, g[n].kind, shapes[n]) for n in g.node_names()] == expected
    c0 = g["0"]
    assert c0.weight.shape == (16, 2, 5, 5) and c0.stride == (2, 2) and c0.padding == (1, 1)
    assert g["2"].kernel_size == (3, 3) and g["2"].padding == (1, 1)
    assert g["4"].kernel == (2, 2) and g["4"].stride == (2, 2)
    iaf = g["1"]
    assert iaf.reset == "subtract" and iaf.spike_mode == "single" and iaf.threshold_low is None
    assert iaf.threshold.shape == (16, 16, 16) and np.all(iaf.threshold == 1.0)  # per neuron, as stored


def test_paper_cnn_from_examples(nir_paper_cnn):
    _check_paper_cnn(load_model(nir_paper_cnn))


@pytest.mark.skipif(not SHARED_CNN.exists(), reason="../shared is not beside the repository")
def test_paper_cnn_from_shared():
    g = load_model(SHARED_CNN)
    _check_paper_cnn(g)
    raw = nir.read(str(SHARED_CNN))
    np.testing.assert_allclose(g["9"].weight, raw.nodes["9"].weight)


def test_written_and_read_back(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "m.nir"
    nir.write(str(path), chain(nir.Affine(w, np.array([0.5, -0.5], dtype=np.float32)),
                               nir.IF(np.ones(2, dtype=np.float32), np.array([1.0, 2.0], dtype=np.float32)),
                               input_shape=[3]))
    g = load_model(path)
    assert isinstance(g["0"], Linear) and np.allclose(g["0"].weight, w) and np.allclose(g["0"].bias, [0.5, -0.5])
    assert isinstance(g["1"], IAF) and list(g["1"].threshold) == [1.0, 2.0]


def test_r_is_folded_into_the_weights_before_the_if():
    w = np.ones((3, 4), dtype=np.float32)
    r = np.array([2.0, 0.5, 1.0], dtype=np.float32)
    ng = chain(nir.Affine(w, np.ones(3, dtype=np.float32)), nir.IF(r, np.ones(3, dtype=np.float32)), input_shape=[4])
    g = from_nir(ng, dt=0.5)  # an input event adds w * r * dt
    np.testing.assert_allclose(g["0"].weight, w * r[:, None] * 0.5)
    np.testing.assert_allclose(g["0"].bias, r * 0.5)
    assert isinstance(g["1"], IAF)
    assert any("r * dt = 0.25..1" in n for n in g.meta["notes"])
    g = from_nir(ng)  # no time step: refused by rule neuron_model, naming r and --nir-dt
    assert isinstance(g["1"], Unsupported) and g["1"].rule == "neuron_model"
    assert "r = 0.5..2" in g["1"].detail and "--nir-dt" in g["1"].hint


def test_conv_r_per_channel_folds_and_per_pixel_is_refused():
    conv = nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 1, 3, 3), dtype=np.float32), stride=1, padding=1,
                      dilation=1, groups=1, bias=np.zeros(2, dtype=np.float32))
    r = np.stack([np.full((4, 4), 2.0), np.full((4, 4), 3.0)]).astype(np.float32)
    g = from_nir(chain(conv, nir.IF(r, np.ones((2, 4, 4), dtype=np.float32)), input_shape=[1, 4, 4]), dt=1.0)
    assert g["0"].weight[0].max() == 2.0 and g["0"].weight[1].max() == 3.0
    r[0, 0, 0] = 5.0
    g = from_nir(chain(conv, nir.IF(r, np.ones((2, 4, 4), dtype=np.float32)), input_shape=[1, 4, 4]), dt=1.0)
    assert isinstance(g["1"], Unsupported) and "varies within a channel" in g["1"].detail


def test_r_without_weight_layer_is_refused_clearly():
    g = from_nir(chain(nir.IF(np.full(3, 2.0, dtype=np.float32), np.ones(3, dtype=np.float32)), input_shape=[3]),
                 dt=1.0)
    assert isinstance(g["0"], Unsupported) and g["0"].op == "IF" and "Conv2d/Linear/Affine" in g["0"].detail


def test_several_edges_into_a_node_are_summed():
    a = nir.Affine(np.ones((2, 3), dtype=np.float32), np.zeros(2, dtype=np.float32))
    b = nir.Affine(np.ones((2, 3), dtype=np.float32), np.zeros(2, dtype=np.float32))
    ng = nir_graph(nodes={"input": nir.Input(input_type={"input": np.array([3])}), "a": a, "b": b,
                             "if": nir.IF(np.ones(2, dtype=np.float32), np.ones(2, dtype=np.float32)),
                             "output": nir.Output(output_type={"output": np.array([2])})},
                   edges=[("input", "a"), ("input", "b"), ("a", "if"), ("b", "if"), ("if", "output")])
    g = from_nir(ng)
    assert isinstance(g["if:sum"], Add) and sorted(g.predecessors("if:sum")) == ["a", "b"]
    assert g.predecessors("if") == ["if:sum"]


def test_neuron_models_without_chip_support():
    n = 3
    ones = np.ones(n, dtype=np.float32)
    g = from_nir(chain(nir.LIF(tau=ones * 10, r=ones, v_leak=ones * 0, v_threshold=ones), input_shape=[n]))
    assert isinstance(g["0"], LIF) and np.allclose(g["0"].tau_mem, 10)
    g = from_nir(chain(nir.CubaLIF(tau_syn=ones, tau_mem=ones, r=ones, v_leak=ones * 0, v_threshold=ones),
                       input_shape=[n]))
    assert isinstance(g["0"], Unsupported) and g["0"].op == "CubaLIF" and g["0"].rule == "neuron_model"
    g = from_nir(chain(nir.I(r=ones), input_shape=[n]))
    assert isinstance(g["0"], Unsupported) and g["0"].op == "I" and g["0"].rule == "neuron_model"


def test_flatten_and_sumpool_and_same_padding():
    conv = nir.Conv2d(input_shape=np.array([6, 6]), weight=np.ones((2, 1, 3, 3), dtype=np.float32),
                      stride=np.array([1, 1]), padding="same", dilation=np.array([1, 1]), groups=1,
                      bias=np.zeros(2, dtype=np.float32))
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    flat = nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0, end_dim=-1)
    g = from_nir(chain(conv, pool, flat, input_shape=[1, 6, 6]))
    assert isinstance(g["0"], Conv2d) and g["0"].padding == (1, 1)
    assert isinstance(g["1"], SumPool) and isinstance(g["2"], Flatten)
    assert g.validate()["2"] == (18,)
    partial = nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=1, end_dim=-1)
    g = from_nir(chain(conv, pool, partial, input_shape=[1, 6, 6]))
    assert isinstance(g["2"], Unsupported) and g.validate()["2"] == (2, 9)


def test_input_shape_override_and_missing_shape():
    ng = chain(nir.Affine(np.ones((2, 5), dtype=np.float32), np.zeros(2, dtype=np.float32)), input_shape=[5])
    assert from_nir(ng, input_shape="5")["input"].shape == (5,)
    with pytest.raises(SnncError, match="Linear expects 5 inputs"):
        from_nir(ng, input_shape=(4,))


def test_edge_to_unknown_node_and_loops_are_errors():
    ng = chain(nir.Affine(np.ones((2, 2), dtype=np.float32), np.zeros(2, dtype=np.float32)), input_shape=[2])
    ng.edges.append(("0", "nowhere"))
    with pytest.raises(SnncError, match="'nowhere'"):
        from_nir(ng)
    ng.edges.pop()
    ng.edges.append(("0", "0"))
    assert from_nir(ng).cycles() == [["0"]]  # the pipeline reports it (rule recurrence)
