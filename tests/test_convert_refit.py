"""Re-fitting biases for the chip (runtime/conversion/refit.py): no conv neuron may need to fire on a blank input."""
import numpy as np
import torch
import torch.nn as nn

from snnc.compiler.ir import Conv2d, Linear


def sparse_digits(n=60, shape=(1, 16, 16), seed=0):
    """Blank images with a random bright stroke: most receptive fields see no input, like MNIST."""
    r = np.random.default_rng(seed)
    x = np.zeros((n,) + shape, np.float32)
    for i in range(n):
        y0, x0 = r.integers(2, shape[1] - 8, 2)
        x[i, 0, y0:y0 + 6, x0 + r.integers(0, 3)] = 1.0
        x[i, 0, y0 + r.integers(0, 6), x0:x0 + 5] = 0.8
    return x


def bn_cnn(seed=0):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.AvgPool2d(2),
                      nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                      nn.Linear(8 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, 4))
    with torch.no_grad():  # a BatchNorm whose shift leaves most channels active on a blank input
        for bn in (m[1], m[5]):
            bn.bias.uniform_(0.1, 0.6)
            bn.running_mean.uniform_(-0.1, 0.1)
    return m.eval()


def folded(model, shape=(1, 16, 16)):
    from snnc.runtime.conversion.ann import load_ann

    return load_ann(model, input_shape=shape)


def test_run_graph_with_params_is_the_graph_and_differentiable():
    from snnc.runtime.conversion.ann import run_graph

    g = folded(bn_cnn())
    x = sparse_digits(5)
    ref = run_graph(g, x)["10"]
    params = {n: (torch.tensor(g[n].weight, dtype=torch.float32, requires_grad=True),
                  torch.tensor(g[n].bias, dtype=torch.float32, requires_grad=True))
              for n in g.node_names() if isinstance(g[n], (Conv2d, Linear))}
    out = run_graph(g, x, {"10"}, params=params)["10"]
    assert torch.allclose(out, ref, atol=1e-5)
    out.sum().backward()
    assert params["0"][0].grad is not None and float(params["0"][0].grad.abs().sum()) > 0


def test_blank_activity_finds_conv_neurons_active_without_input():
    from snnc.runtime.conversion.normalize import analyse
    from snnc.runtime.conversion.refit import blank_activity

    g = folded(bn_cnn())
    st = analyse(g)
    act = blank_activity(g, st.weights, st.neuron_of, (1, 16, 16))
    assert set(act) == {"0", "4"}  # conv layers only: Linear neurons hear every spike of the layer before
    assert act["0"] > 0.5  # every channel's folded bias is positive
    g2 = folded(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(),
                              nn.Linear(4 * 16 * 16, 3)).eval())
    st2 = analyse(g2)
    assert blank_activity(g2, st2.weights, st2.neuron_of, (1, 16, 16)) == {"0": 0.0}


def test_refit_keeps_conv_biases_non_positive_and_follows_the_ann():
    from snnc.runtime.conversion.ann import run_graph
    from snnc.runtime.conversion.normalize import analyse
    from snnc.runtime.conversion.refit import blank_activity, refit_biases

    g = folded(bn_cnn())
    st = analyse(g)
    before = {n: np.array(g[n].bias) for n in st.weights}
    x = sparse_digits(80)
    student, figs = refit_biases(g, st.weights, st.logits, x, seed=0, steps=80)
    for n in st.weights:
        np.testing.assert_array_equal(g[n].bias, before[n])  # the ANN itself is untouched
        if isinstance(student[n], Conv2d):
            assert np.all(student[n].bias <= 0)
    assert any(np.any(before[n] > 0) for n in ("0", "4"))
    assert all(v == 0 for v in blank_activity(student, st.weights, st.neuron_of, (1, 16, 16)).values())
    # the student reproduces the teacher's decisions on the data it was fitted to, and generalises to new samples
    assert figs["steps"] == 80 and figs["samples"] == 80 and figs["agreement"] >= 0.85
    xn = sparse_digits(80, seed=1)
    t = run_graph(g, xn, {st.logits})[st.logits].numpy().argmax(1)
    s = run_graph(student, xn, {st.logits})[st.logits].numpy().argmax(1)
    assert np.mean(t == s) >= 0.75
    # deterministic for a seed
    a, _ = refit_biases(g, st.weights, st.logits, x, seed=3, steps=5)
    b, _ = refit_biases(g, st.weights, st.logits, x, seed=3, steps=5)
    np.testing.assert_array_equal(a["0"].weight, b["0"].weight)


def test_convert_measures_refit_beside_leak_and_dropped():
    from snnc.runtime.conversion.convert import convert_ann

    conv = convert_ann(bn_cnn(), sparse_digits(24), input_shape=(1, 16, 16), tune_samples=12, refit_steps=60)
    tried = {t["biases"]: t for t in conv.report["tried"]}
    assert set(tried) == {"leak", "refit", "strip"}
    assert tried["refit"]["refit"]["blank_active"]["0"] > 0.5
    best = max(t["agreement"] for t in tried.values())
    chosen = conv.record["choice"]["bias"]
    assert tried[chosen]["agreement"] >= best - 1 / 12 - 1e-9  # chosen by measurement
    assert conv.report["biases"] == {"leak": "leak", "refit": "refit", "strip": "stripped"}[chosen]
    if chosen == "refit":
        for layer in conv.graph.node_names():
            node = conv.graph[layer]
            if isinstance(node, Conv2d) and node.bias is not None:
                assert np.all(node.bias <= 0)  # leak on conv cores is never positive


def test_pick_prefers_agreement_unless_the_lead_is_noise():
    from snnc.runtime.conversion.convert import _pick

    def cand(name, hits, r):
        h = np.asarray(hits, bool)
        return {"name": name, "hits": h, "agreement": float(h.mean()), "output_correlation": r}

    base = [1] * 90 + [0] * 10
    a = cand("a", base, 0.80)
    b = cand("b", [1] * 89 + [0] * 11, 0.95)  # one sample behind: noise, the better-correlated one wins
    assert _pick([a, b])["name"] == "b"
    c = cand("c", [1] * 60 + [0] * 40, 0.99)  # 30 samples behind: a real difference
    assert _pick([a, c])["name"] == "a"
    failed = {"name": "f", "agreement": -1.0}  # a candidate that did not compile is never picked
    assert _pick([failed, a])["name"] == "a"


def test_biases_flag_takes_one_way(capsys, tmp_path):
    from snnc.cli import main

    ann = tmp_path / "ann.pt"
    torch.save(bn_cnn(), ann)
    cal = tmp_path / "cal.npz"
    np.savez(cal, x=sparse_digits(16))
    for way, expect in (("refit", "refit"), ("drop", "stripped")):
        out = tmp_path / f"{way}.pt"
        code = main(["convert", str(ann), "--input-shape", "1,16,16", "--calibration", str(cal), "--tune-samples",
                     "8", "--biases", way, "--json", "-o", str(out)])
        res = capsys.readouterr()
        assert code == 0, res.err
        import json

        rep = json.loads(res.out)
        assert rep["biases"] == expect and len(rep["tried"]) == 1
        assert (rep["refit"] is not None) == (way == "refit")
    import pytest

    with pytest.raises(SystemExit) as e:  # argparse's usage error
        main(["convert", str(ann), "--input-shape", "1,16,16", "--calibration", str(cal), "--biases", "some",
              "-o", str(tmp_path / "x.pt")])
    assert e.value.code == 2 and "--biases" in capsys.readouterr().err
