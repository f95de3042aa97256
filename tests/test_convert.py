"""`snnc convert` and `snnc evaluate --data`: tiny ANNs and data, run through the compiler and the simulator."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from snnc.cli import main

SHARED_GESTURE = Path(__file__).resolve().parents[2] / "shared" / "models" / "sinabs_dvs_gesture_params.pt"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def tiny_bn_cnn(seed=0):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2),
                      nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 16),
                      nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(), nn.Linear(16, 5))
    with torch.no_grad():
        m[1].running_mean.uniform_(-0.2, 0.2)
        m[1].running_var.uniform_(0.5, 2)
    return m.eval()


def samples(n=24, shape=(1, 16, 16), seed=0):
    return np.random.default_rng(seed).random((n,) + shape).astype(np.float32)


@pytest.fixture
def tiny(tmp_path):
    ann = tmp_path / "ann.pt"
    torch.save(tiny_bn_cnn(), ann)
    cal = tmp_path / "cal.npz"
    x = samples()
    with torch.no_grad():  # labels: the ANN's own answers, so that accuracy measures how well the chip follows it
        y = tiny_bn_cnn()(torch.from_numpy(x)).argmax(1).numpy()
    np.savez(cal, x=x, y=y)
    return ann, cal


def test_convert_writes_a_model_that_check_compile_and_evaluate_load_without_flags(capsys, tiny, tmp_path):
    ann, cal = tiny
    snn = tmp_path / "snn.pt"
    code, out, err = run(capsys, "convert", ann, "--input-shape", "1,16,16", "--calibration", cal,
                         "--tune-samples", "8", "--json", "-o", snn)
    assert code == 0, err
    rep = json.loads(out)
    assert [r["layer"] for r in rep["layers"]] == ["0", "4", "7", "11"]  # BatchNorms folded away
    for r in rep["layers"]:
        assert {"activation_scale", "percentile", "threshold", "clipped_weights", "zeroed_weights",
                "expected_rate_hz", "spike_agreement", "core"} <= set(r)
        assert 1 <= r["threshold"] <= 16383
    # the hidden layers' spike counts follow the ANN's activations (data-based normalization works)
    assert all(r["spike_agreement"] > 0.8 for r in rep["layers"][:3]), rep["layers"]
    assert rep["biases"] in ("leak", "stripped") and rep["tried"]

    # no --trust, no --input-shape
    code, out, err = run(capsys, "check", snn, "--json")
    assert code == 0, err
    assert json.loads(out)["fits"] is True
    cfg = tmp_path / "snn.json"
    code, out, err = run(capsys, "compile", snn, "-o", cfg)
    assert code == 0, err
    config = json.loads(cfg.read_text())
    assert {layer["quantization"]["policy"] for layer in config["snnc"]["layers"]} == {"integer"}
    if rep["biases"] == "leak":
        assert config["snnc"]["simulator"]["slow_clock_hz"] == rep["slow_clock_hz"]
        assert any(c["leak_enable"] for c in config["cnn_layers"])
    code, out, err = run(capsys, "evaluate", snn, "--data", cal, "--ann", ann, "--limit", "6", "--json")
    assert code == 0, err
    res = json.loads(out)
    # the labels are the ANN's answers: the ANN scores 1, and the chip's accuracy is its agreement with the ANN
    # (this random tiny ANN answers 3 everywhere through its output bias, which the chip does not keep: no level of
    # agreement is asserted here)
    assert res["samples"] == 6 and res["ann_accuracy"] == 1.0 and res["chip_accuracy"] == res["agreement"]
    assert res["encoding"] == {"kind": "poisson", "max_rate_hz": 250.0, "duration_us": 100000}
    assert 1000 < res["events_per_sample"] < 5000  # 256 pixels, mean 0.5, 25 spikes at 1.0
    assert "evaluate" in err  # progress on stderr


def test_saved_model_is_snnc_spiking_layers(tiny, tmp_path):
    import sinabs.layers as sl

    from snnc.compiler.frontends.safe_pickle import load_torch_file
    from snnc.runtime.conversion.convert import convert_ann
    from snnc.runtime.conversion.module import save_converted

    ann, _ = tiny
    conv = convert_ann(ann, samples(12), input_shape=(1, 16, 16), percentile=99.9, tune_samples=4, correct=False)
    path = tmp_path / "m.pt"
    save_converted(path, conv.module, conv.input_shape, conv.record)
    module, shape, record = load_torch_file(path, with_record=True)
    kinds = [type(m).__name__ for m in module]
    assert kinds == ["Conv2d", "IAFSqueeze", "SumPool2d", "Conv2d", "IAFSqueeze", "Flatten", "Linear",
                     "IAFSqueeze", "Linear", "IAFSqueeze"]  # spiking output layer added after the logits
    assert shape == (1, 16, 16) and record["encoding"]["max_rate_hz"] == 250.0
    for m in module:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = m.weight.detach().numpy()
            assert np.all(w == np.round(w)) and w.min() >= -128 and w.max() <= 127
        if isinstance(m, sl.IAFSqueeze):
            # without the potential correction, every neuron starts at half its threshold
            assert float(m.min_v_mem) == -32768 and torch.all(m.v_mem == float(m.spike_threshold) // 2)


def test_avgpool_scale_folds_into_next_layer():
    """The SumPool's 1/k^2 lands in the next layer: the float graph equals the ANN exactly."""
    from snnc.runtime.conversion.ann import load_ann, run_graph

    m = tiny_bn_cnn()
    x = samples(4)
    g = load_ann(m, input_shape=(1, 16, 16))
    (out,) = g.outputs()
    (src,) = g.predecessors(out)
    got = run_graph(g, x, {src})[src].numpy()
    with torch.no_grad():
        want = m(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bad,name", [(nn.MaxPool2d(2), "MaxPool2d"), (nn.Sigmoid(), "Sigmoid")])
def test_unconvertible_layers_are_named(capsys, tmp_path, bad, name):
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), bad, nn.Flatten(), nn.LayerNorm(4 * 64 if
                      name == "MaxPool2d" else 4 * 256), nn.Linear(4 * 64 if name == "MaxPool2d" else 4 * 256, 3))
    ann = tmp_path / "bad.pt"
    torch.save(m, ann)
    cal = tmp_path / "cal.npz"
    np.savez(cal, x=samples(4))
    code, out, err = run(capsys, "convert", ann, "--input-shape", "1,16,16", "--calibration", cal, "-o",
                         tmp_path / "o.pt")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "2 layers cannot be converted" in err and name in err and "LayerNorm" in err and "2 (" in err
    assert not (tmp_path / "o.pt").exists()


def test_conv1d_is_refused(capsys, tmp_path):
    m = nn.Sequential(nn.Conv1d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 14, 3))
    ann = tmp_path / "c1.pt"
    torch.save(m, ann)
    cal = tmp_path / "cal.npz"
    np.savez(cal, x=np.random.default_rng(0).random((4, 1, 16)).astype(np.float32))
    code, _, err = run(capsys, "convert", ann, "--input-shape", "1,16", "--calibration", cal, "-o", tmp_path / "o.pt")
    assert code == 2 and "Conv1d" in err and "cannot be converted" in err


@pytest.mark.parametrize("make,msg", [
    (lambda: {"x": samples(4, (1, 8, 8))}, "samples have shape [1, 8, 8], the model takes [1, 16, 16]"),
    (lambda: {"x": (samples(4) * 255).astype(np.uint8)}, "dtype uint8"),
    (lambda: {"x": np.where(samples(4) > 0.5, np.nan, 0.2).astype(np.float32)}, "NaN"),
    (lambda: {"x": np.zeros((0, 1, 16, 16), np.float32)}, "N >= 1"),
    (lambda: {"images": samples(4)}, "no array 'x'"),
    (lambda: {"x": samples(4) * 3}, "needs values in 0..1"),
])
def test_bad_calibration_data_is_one_clear_error(capsys, tiny, tmp_path, make, msg):
    ann, _ = tiny
    cal = tmp_path / "bad.npz"
    np.savez(cal, **make())
    code, out, err = run(capsys, "convert", ann, "--input-shape", "1,16,16", "--calibration", cal, "-o",
                         tmp_path / "o.pt")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and msg in err, err
    assert not (tmp_path / "o.pt").exists()


def test_evaluate_data_needs_labels_and_one_source(capsys, tiny, tmp_path):
    ann, _ = tiny
    nolab = tmp_path / "nolab.npz"
    np.savez(nolab, x=samples(3))
    code, _, err = run(capsys, "evaluate", ann, "--data", nolab)
    assert code == 2 and "no labels" in err
    code, _, err = run(capsys, "evaluate", ann)
    assert code == 2 and "--data" in err and "--config" in err


def test_evaluate_data_on_a_nir_model(capsys, nir_paper_cnn, tmp_path):
    """A model that was not converted: default encoding, ann_accuracy null."""
    data = tmp_path / "d.npz"
    x = np.zeros((3, 2, 34, 34), np.float32)
    x[:, :, 10:24, 10:24] = 0.3
    np.savez(data, x=x, y=np.array([0, 1, 2]))
    code, out, err = run(capsys, "evaluate", nir_paper_cnn, "--data", data, "--max-rate", "100", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["ann_accuracy"] is None and res["samples"] == 3 and res["encoding"]["max_rate_hz"] == 100.0
    assert 0.2 * 2 * 196 * 3 < res["events_per_sample"] < 2 * 2 * 196 * 3  # 2x14x14 px at 30 Hz for 100 ms


def test_residual_sum_of_relu_outputs_converts(capsys, tmp_path):
    from snnc.runtime.conversion.convert import convert_ann
    from snnc.runtime.conversion.module import SpikingGraph, save_converted

    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2, self.c3 = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(
                4, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 8 * 8, 3)
            self.pool = nn.AvgPool2d(2)

        def forward(self, x):
            a = torch.relu(self.c1(x))
            b = torch.relu(self.c3(torch.relu(self.c2(a))))
            return self.fc(torch.flatten(self.pool(a + b), 1))

    torch.manual_seed(1)
    conv = convert_ann(Res().eval(), samples(8), input_shape=(1, 16, 16), percentile=99.9, tune_samples=2)
    assert isinstance(conv.module, SpikingGraph)
    lam = {r["layer"]: r["activation_scale"] for r in conv.report["layers"]}
    assert lam["c1"] == lam["c3"]  # spikes meeting at a sum share one scale
    path = tmp_path / "res.pt"
    save_converted(path, conv.module, conv.input_shape, conv.record)
    code, out, err = run(capsys, "check", path, "--json")
    assert code == 0, err
    assert json.loads(out)["fits"]


def test_onnx_ann_converts(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    t = lambda n, a: numpy_helper.from_array(np.asarray(a, np.float32), n)  # noqa: E731
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Flatten", ["r1"], ["f"], name="flat", axis=1),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "ann", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                              [t("w1", rng.normal(size=(4, 1, 3, 3)) * 0.5), t("b1", rng.normal(size=4) * 0.1),
                               t("wf", rng.normal(size=(3, 256)) * 0.1), t("bf", np.zeros(3))])
    path = tmp_path / "ann.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    from snnc.runtime.conversion.convert import convert_ann

    conv = convert_ann(path, samples(6, (1, 8, 8)), percentile=99.9, tune_samples=2)
    assert [r["layer"] for r in conv.report["layers"]] == ["conv1", "fc"]
    assert conv.report["chip"]["samples"] == 2


def gesture_ann():
    return nn.Sequential(
        nn.Conv2d(2, 16, 2, 2, bias=False), nn.ReLU(), nn.Conv2d(16, 16, 3, 1, 1, bias=False), nn.ReLU(),
        nn.AvgPool2d(2), nn.Conv2d(16, 32, 3, 1, 1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(32, 64, 3, 1, 1, bias=False),
        nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(64, 64, 3, 1, 1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Dropout2d(0.5), nn.Conv2d(64, 256, 2, 1, 0, bias=False), nn.ReLU(), nn.Dropout2d(0.5), nn.Flatten(),
        nn.Linear(256, 128, bias=False), nn.ReLU(), nn.Linear(128, 11, bias=False)).eval()


@pytest.mark.parametrize("weights", ["random", "shared"])
def test_dvs_gesture_ann_converts_and_fits_nine_cores(capsys, tmp_path, weights):
    ann = gesture_ann()
    if weights == "shared":
        if not SHARED_GESTURE.is_file():
            pytest.skip(f"{SHARED_GESTURE} is absent (the random-weight case covers the architecture)")
        ann.load_state_dict(torch.load(SHARED_GESTURE, map_location="cpu", weights_only=True))
    else:
        torch.manual_seed(0)
    path = tmp_path / "gesture.pt"
    torch.save(ann, path)
    x = np.zeros((2, 2, 128, 128), np.float32)  # sparse, event-like frames keep the calibration run short
    r = np.random.default_rng(0)
    x[:, :, 40:88, 40:88] = (r.random((2, 2, 48, 48)) < 0.1) * 1.0
    cal = tmp_path / "cal.npz"
    np.savez(cal, x=x)
    snn = tmp_path / "g.pt"
    code, out, err = run(capsys, "convert", path, "--input-shape", "2,128,128", "--calibration", cal,
                         "--percentile", "99.9", "--tune-samples", "1", "--duration-ms", "20", "-o", snn)
    assert code == 0, err
    code, out, err = run(capsys, "check", snn, "--dvs-input", "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["fits"] and sorted(layer["core"] for layer in rep["layers"]) == list(range(9))
