"""torch / sinabs -> graph IR: every layer mapping, residual graphs, input shapes, unsupported layers."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

import models  # noqa: E402

from snnc.compiler.errors import SnncError  # noqa: E402
from snnc.compiler.frontends.torch_frontend import from_torch  # noqa: E402
from snnc.compiler.ir import (IAF, LIF, Add, AvgPool, BatchNorm, Conv2d, Flatten, Input, Linear, Output,  # noqa: E402
                              ReLU, SumPool, Unsupported)

sl = pytest.importorskip("sinabs.layers")
sa = pytest.importorskip("sinabs.activation")


def kinds(g):
    return [type(n).__name__ if not isinstance(n, Unsupported) else "Unsupported" for n in g.nodes()]


def test_sequential_maps_every_layer_with_its_parameters():
    m = models.ann()
    g = from_torch(m)
    assert kinds(g) == ["Input", "Conv2d", "BatchNorm", "ReLU", "AvgPool", "Flatten", "Linear", "ReLU", "Output"]
    conv, bn, lin = g["0"], g["1"], g["6"]
    np.testing.assert_allclose(conv.weight, m[0].weight.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(conv.bias, m[0].bias.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(bn.mean, np.linspace(-0.5, 0.5, 4), rtol=1e-6)
    np.testing.assert_allclose(bn.var, np.linspace(0.5, 2.0, 4), rtol=1e-6)
    np.testing.assert_allclose(bn.weight, m[1].weight.detach().numpy(), rtol=1e-6)
    assert bn.eps == m[1].eps
    np.testing.assert_allclose(lin.weight, m[6].weight.detach().numpy(), rtol=1e-6)
    assert "4" not in g, "Dropout must be removed"
    assert g.predecessors("5") == ["3"]
    assert isinstance(g["input"], Input) and g["input"].shape == (1, 16, 16)
    assert isinstance(g["output"], Output) and g.predecessors("output") == ["7"]


def test_conv_options_are_kept_as_given():
    m = nn.Sequential(nn.Conv2d(4, 8, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2))
    c = from_torch(m, (4, 20, 20))["0"]
    assert (c.stride, c.padding, c.dilation, c.groups) == ((2, 1), (1, 2), (1, 2), 2)
    assert c.weight.shape == (8, 2, 3, 5)
    assert from_torch(m, (4, 20, 20)).validate()["0"] == tuple(m(torch.zeros(1, 4, 20, 20)).shape[1:])


def test_conv_same_padding_becomes_numbers_or_is_refused_clearly():
    g = from_torch(nn.Sequential(nn.Conv2d(1, 2, 5, padding="same")), (1, 9, 9))
    assert g["0"].padding == (2, 2)
    assert from_torch(nn.Sequential(nn.Conv2d(1, 2, 3, padding="valid")), (1, 9, 9))["0"].padding == (0, 0)
    even = from_torch(nn.Sequential(nn.Conv2d(1, 2, 4, padding="same")), (1, 9, 9))["0"]
    assert isinstance(even, Unsupported) and "unevenly" in even.detail
    refl = from_torch(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect")), (1, 9, 9))["0"]
    assert isinstance(refl, Unsupported) and "reflect" in refl.detail


def test_batchnorm_without_running_stats_is_unsupported():
    m = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3, track_running_stats=False))
    node = from_torch(m)["1"]
    assert isinstance(node, Unsupported) and node.op == "BatchNorm1d" and "running" in node.detail


def test_pools_flatten_identity():
    m = nn.Sequential(sl.SumPool2d(2), nn.AvgPool2d(3, stride=1, padding=1), nn.Identity(), nn.Flatten())
    g = from_torch(m, (2, 8, 8))
    assert isinstance(g["0"], SumPool) and g["0"].kernel == (2, 2) and g["0"].stride == (2, 2)
    assert isinstance(g["1"], AvgPool) and g["1"].kernel == (3, 3) and g["1"].stride == (1, 1)
    assert g["1"].padding == (1, 1)
    assert "2" not in g and isinstance(g["3"], Flatten)
    assert g.validate()["3"] == (2 * 4 * 4,)
    odd = from_torch(nn.Sequential(nn.Flatten(start_dim=2)), (2, 8, 8))["0"]
    assert isinstance(odd, Unsupported)


def test_iaf_thresholds_reset_and_spike_mode():
    m = nn.Sequential(
        nn.Linear(3, 3),
        sl.IAF(spike_threshold=2.5, min_v_mem=-0.5, reset_fn=sa.MembraneReset(), spike_fn=sa.SingleSpike),
        nn.Linear(3, 3),
        sl.IAFSqueeze(batch_size=1, spike_threshold=0.75),
    )
    g = from_torch(m)
    a, b = g["1"], g["3"]
    assert isinstance(a, IAF) and float(a.threshold) == 2.5 and float(a.threshold_low) == -0.5
    assert a.reset == "zero" and a.spike_mode == "single" and a.threshold.ndim == 0
    assert float(b.threshold) == 0.75 and b.threshold_low is None
    assert b.reset == "subtract" and b.spike_mode == "multi" and b.v_init is None


def test_per_neuron_threshold_stays_per_neuron():
    thr = torch.arange(1, 4 * 5 * 5 + 1, dtype=torch.float32).reshape(4, 5, 5) / 10
    m = nn.Sequential(nn.Conv2d(1, 4, 3), sl.IAFSqueeze(batch_size=1, spike_threshold=thr))
    node = from_torch(m, (1, 7, 7))["1"]
    assert node.threshold.shape == (4, 5, 5) and node.per_neuron
    np.testing.assert_allclose(node.threshold, thr.numpy(), rtol=1e-6)
    # a per-channel threshold (4, 1, 1) is broadcast to one value per neuron
    per_ch = nn.Sequential(nn.Conv2d(1, 4, 3), sl.IAFSqueeze(batch_size=1, spike_threshold=torch.ones(4, 1, 1)))
    assert from_torch(per_ch, (1, 7, 7))["1"].threshold.shape == (4, 5, 5)


def test_stored_membrane_state_becomes_v_init():
    m = nn.Sequential(nn.Linear(3, 2), sl.IAFSqueeze(batch_size=1))
    m[1].init_state_with_shape((1, 2))
    m[1].v_mem.data = torch.tensor([[0.25, -0.5]])
    np.testing.assert_allclose(from_torch(m)["1"].v_init, [0.25, -0.5])
    m[1].v_mem.data = torch.tensor([[0.25, -0.5], [0.0, 1.0]])
    with pytest.raises(SnncError, match="1: the stored membrane state v_mem differs between batch items"):
        from_torch(m)


@pytest.mark.parametrize("layer, words", [
    (lambda: sl.IAF(tau_syn=5.0), "tau_syn"),
    (lambda: sl.IAF(reset_fn=sa.MembraneReset(reset_value=0.5)), "reset_value=0.5"),
    (lambda: sl.IAF(reset_fn=sa.MembraneSubtract(subtract_value=0.3)), "subtract_value=0.3"),
    (lambda: sl.IAF(spike_fn=sa.MaxSpike(3)), "MaxSpike"),
])
def test_neuron_options_the_chip_lacks_are_unsupported_with_reason(layer, words):
    node = from_torch(nn.Sequential(nn.Linear(2, 2), layer()))["1"]
    assert isinstance(node, Unsupported) and node.op == "IAF" and words in node.detail


def test_maxspike_one_is_single_spike():
    node = from_torch(nn.Sequential(nn.Linear(2, 2), sl.IAF(spike_fn=sa.MaxSpike(1))))["1"]
    assert isinstance(node, IAF) and node.spike_mode == "single"


def test_lif_maps_to_lif_with_tau():
    node = from_torch(nn.Sequential(nn.Linear(2, 2), sl.LIFSqueeze(tau_mem=20.0, batch_size=1)))["1"]
    assert isinstance(node, LIF) and float(node.tau_mem) == pytest.approx(20.0)


def test_unsupported_layers_keep_their_output_shape_and_are_reported():
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3),
                      nn.Tanh())
    g = from_torch(m, (2, 8, 8))
    mp = g["1"]
    assert isinstance(mp, Unsupported) and mp.op == "MaxPool2d" and "SumPool2d" in mp.detail
    assert g.validate()["1"] == (4, 4, 4)  # the Linear after it still fits
    assert isinstance(g["4"], Unsupported) and g["4"].op == "Tanh"
    from snnc.compiler.drc import rule_unsupported_layer
    from snnc.compiler.errors import Diagnostics
    from snnc.targets.speck import TARGETS

    d = Diagnostics()
    rule_unsupported_layer(g, next(iter(TARGETS.values())), d)
    flagged = {x.layer for x in d if x.rule == "unsupported_layer"}
    assert {"1", "4"} <= flagged


def test_nested_sequential_names_are_module_paths():
    g = from_torch(models.nmnist_like())
    assert isinstance(g["features.0"], Conv2d) and isinstance(g["classifier.1"], Linear)
    assert isinstance(g["features.4"], SumPool)
    shapes = g.validate()
    assert shapes["features.0"] == (16, 16, 16) and shapes["features.7"] == (8, 4, 4)
    assert shapes["classifier.3"] == (10,)


def test_residual_addition_becomes_add_with_two_inputs():
    g = from_torch(models.residual())
    adds = [n for n in g.node_names() if isinstance(g[n], Add)]
    assert len(adds) == 1
    assert sorted(g.predecessors(adds[0])) == ["conv2", "spk1"]
    assert g.successors(adds[0]) == ["spk2"]
    assert isinstance(g["view"], Flatten)  # y.view(y.size(0), -1)


def test_sinabs_merge_becomes_add():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.merge = nn.Linear(4, 3), nn.Linear(4, 3), sl.Merge()

        def forward(self, x):
            return self.merge(self.a(x), self.b(x))

    g = from_torch(M(), (4,))
    assert isinstance(g["merge"], Add) and sorted(g.predecessors("merge")) == ["a", "b"]


def test_functional_ops_and_adding_a_constant():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(12, 4)

        def forward(self, x):
            return torch.relu(self.fc(torch.flatten(x, 1))) + 1.0

    g = from_torch(M(), (3, 2, 2))
    assert isinstance(g["flatten"], Flatten) and isinstance(g["relu"], ReLU)
    assert isinstance(g["add"], Unsupported) and "constant" in g["add"].detail


def test_input_shape_sources():
    assert from_torch(models.mlp())["input"].shape == (64,)  # inferred: the first layer is a Linear
    m = models.ann()
    del m.input_shape
    with pytest.raises(SnncError, match="input shape of a torch model is unknown: pass --input-shape"):
        from_torch(m)
    assert from_torch(m, (1, 16, 16))["input"].shape == (1, 16, 16)
    with pytest.raises(SnncError, match="0: Conv2d expects 1 input channels, the input has 3"):
        from_torch(m, (3, 16, 16))


def test_untraceable_model_is_a_clear_error():
    class Dyn(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(SnncError, match="cannot be traced by torch.fx"):
        from_torch(Dyn(), (3,))


def test_custom_submodule_with_data_dependent_forward_becomes_one_unsupported_node():
    class Gate(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    m = nn.Sequential(nn.Linear(4, 4), Gate(), nn.Linear(4, 2))
    g = from_torch(m)
    assert isinstance(g["1"], Unsupported) and g["1"].op == "Gate"
    assert isinstance(g["2"], Linear)


@settings(max_examples=30, deadline=None)
@given(cin=st.integers(1, 3), cout=st.integers(1, 4), k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2),
       d=st.integers(1, 2), hw=st.integers(8, 20), pool=st.integers(1, 3))
def test_ir_shapes_match_torch_forward(cin, cout, k, s, p, d, hw, pool):
    m = nn.Sequential(nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d), nn.ReLU(), nn.AvgPool2d(pool),
                      nn.Flatten())
    try:
        expected = m(torch.zeros(1, cin, hw, hw)).shape
    except RuntimeError:
        return  # torch itself refuses (kernel larger than the input)
    shapes = from_torch(m, (cin, hw, hw)).validate()
    assert shapes["output"] == tuple(expected[1:])


def test_float_forward_of_the_ir_matches_torch():
    from snnc.compiler.frontends.float_forward import forward_ann

    class ResANN(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(2, 4, 3, padding=1)
            self.c2 = nn.Conv2d(4, 4, 3, padding=1, groups=2)
            self.pool = sl.SumPool2d(2)
            self.fc = nn.Linear(4 * 4 * 4, 5)

        def forward(self, x):
            a = torch.relu(self.c1(x))
            return self.fc(torch.flatten(self.pool(self.c2(a) + a), 1))

    x = torch.rand(3, 2, 8, 8)
    for m, shape, inp in ((models.ann(), None, torch.rand(3, 1, 16, 16)), (ResANN(), (2, 8, 8), x)):
        g = from_torch(m, shape)
        with torch.no_grad():
            want = m.eval()(inp).double().numpy()
        np.testing.assert_allclose(forward_ann(g, inp.numpy())["output"], want, rtol=1e-4, atol=1e-5)
    with pytest.raises(SnncError, match="only non-spiking layers"):
        forward_ann(from_torch(models.scnn()), np.zeros((1, 2, 32, 32)))


def _graph_facts(g):
    """Everything a graph says: node order, names, types, parameters, edges, shapes, meta."""
    facts = [g.name, g.meta, g.validate()]
    for name in g.node_names():
        node = g[name]
        fields = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(node).items()}
        facts.append((name, type(node).__name__, fields, g.predecessors(name)))
    return facts


def _chains():
    class Stored(nn.Module):  # a custom layer inside a Sequential: traced, not walked
        def forward(self, x):
            return x * 2

    iaf = sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)
    return [
        (models.scnn(), (2, 32, 32)), (models.nmnist_like(), None), (models.ann(), None), (models.mlp(), None),
        (nn.Sequential(nn.Dropout(), nn.Linear(6, 4), nn.Identity(), sl.IAF(), nn.Dropout2d()), None),
        (nn.Sequential(nn.Conv2d(2, 4, 3), nn.MaxPool2d(2), nn.Tanh(), nn.BatchNorm2d(4), sl.Merge(),
                       nn.Sequential(nn.Sequential(sl.SumPool2d(2), nn.Flatten()), nn.Linear(4, 2)),
                       sl.LIFSqueeze(tau_mem=20.0, batch_size=1)), (2, 6, 6)),
        (nn.Sequential(nn.Conv2d(2, 2, 3, padding="same"), iaf, nn.AvgPool2d(2, ceil_mode=True)), (2, 8, 8)),
        (nn.Sequential(), (3,)), (nn.Conv2d(2, 3, 1), (2, 4, 4)), (sl.IAF(), (3,)),
        (nn.Sequential(nn.Linear(3, 3), Stored()), None),
    ]


@pytest.mark.parametrize("k", range(len(_chains())))
def test_plain_sequentials_lower_without_tracing_as_the_trace_does(k, monkeypatch):
    """A plain nn.Sequential is walked, not traced by torch.fx: the graph must be the one the trace gives."""
    from snnc.compiler.frontends import torch_frontend

    model, shape = _chains()[k]
    walked = from_torch(model, shape, name="m")
    monkeypatch.setattr(torch_frontend, "_plain_chain", lambda root: None)
    traced = from_torch(model, shape, name="m")
    assert _graph_facts(walked) == _graph_facts(traced)


def test_only_plain_chains_are_walked():
    from snnc.compiler.frontends.torch_frontend import _plain_chain

    lin = nn.Linear(2, 2)
    assert [p for p, _ in _plain_chain(nn.Sequential(lin, nn.Sequential(sl.IAF())))] == ["0", "1.0"]
    assert _plain_chain(nn.Sequential(lin, lin)) is None  # one module called twice: fx names it
    assert _plain_chain(type("Seq", (nn.Sequential,), {})(lin)) is None  # a subclass may have its own forward
    assert _plain_chain(nn.Sequential(nn.ModuleList([lin]))) is None
    assert _plain_chain(models.residual()) is None
