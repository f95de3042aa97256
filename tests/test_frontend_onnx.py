"""ONNX frontend: ANN graphs built with onnx.helper (independent of torch's exporter) -> graph IR -> chip layers."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from snnc.cli import main
from snnc.compiler.frontends.loader import load_model
from snnc.compiler.frontends.float_forward import forward_ann
from snnc.targets.compile import CompileOptions, run_pipeline

rng = np.random.default_rng(3)


def _t(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


def cnn_onnx(path, maxpool=False):
    w1, b1 = rng.normal(size=(8, 2, 3, 3)) * 0.3, rng.normal(size=8) * 0.1
    scale, bias, mean, var = rng.uniform(0.5, 1.5, 8), rng.normal(size=8) * 0.1, rng.normal(size=8) * 0.1, \
        rng.uniform(0.5, 2, 8)
    wf = rng.normal(size=(10, 8 * 4 * 4)) * 0.1
    pool = (helper.make_node("MaxPool", ["r1"], ["p1"], name="pool", kernel_shape=[2, 2], strides=[2, 2])
            if maxpool else
            helper.make_node("AveragePool", ["r1"], ["p1"], name="pool", kernel_shape=[2, 2], strides=[2, 2]))
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         strides=[1, 1]),
        helper.make_node("BatchNormalization", ["c1", "s", "bb", "m", "v"], ["n1"], name="bn1", epsilon=1e-3),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        pool,
        helper.make_node("Flatten", ["p1"], ["f"], name="flat", axis=1),
        helper.make_node("Gemm", ["f", "wf"], ["g"], name="fc", transB=1),
        helper.make_node("Relu", ["g"], ["y"], name="relu2"),
    ]
    graph = helper.make_graph(
        nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [_t("w1", w1), _t("b1", b1), _t("s", scale), _t("bb", bias), _t("m", mean), _t("v", var), _t("wf", wf)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, path)
    return dict(w1=w1, b1=b1, scale=scale, bias=bias, mean=mean, var=var, wf=wf)


def _numpy_forward(p, x):
    """The ANN in plain numpy (cross-correlation, BN with eps 1e-3, ReLU, 2x2 average pool, linear, ReLU)."""
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    c = np.zeros((8, 8, 8))
    for o in range(8):
        for i in range(2):
            for ky in range(3):
                for kx in range(3):
                    c[o] += p["w1"][o, i, ky, kx] * xp[i, ky:ky + 8, kx:kx + 8]
        c[o] += p["b1"][o]
    n = (c - p["mean"][:, None, None]) / np.sqrt(p["var"][:, None, None] + 1e-3) * p["scale"][:, None, None] \
        + p["bias"][:, None, None]
    r = np.maximum(n, 0)
    pooled = r.reshape(8, 4, 2, 4, 2).mean(axis=(2, 4))
    return np.maximum(p["wf"] @ pooled.reshape(-1), 0)


def test_onnx_cnn_loads_with_the_same_function(tmp_path):
    params = cnn_onnx(tmp_path / "cnn.onnx")
    g = load_model(tmp_path / "cnn.onnx")
    assert g.meta["format"] == "onnx" and [g[n].kind for n in g.node_names()] == [
        "Input", "Conv2d", "BatchNorm", "ReLU", "AvgPool", "Flatten", "Linear", "ReLU", "Output"]
    x = rng.uniform(size=(2, 8, 8))
    (y,) = forward_ann(g, x[None]).values()
    assert np.allclose(np.asarray(y).reshape(-1), _numpy_forward(params, x), atol=1e-5)


def test_onnx_ann_needs_convert_ann_then_fits(tmp_path):
    cnn_onnx(tmp_path / "cnn.onnx")
    r = run_pipeline(str(tmp_path / "cnn.onnx"), CompileOptions())
    assert {d.rule for d in r.diagnostics.errors} == {"neuron_model"}
    r = run_pipeline(str(tmp_path / "cnn.onnx"), CompileOptions(convert_ann=True))
    assert r.fits, [str(d) for d in r.diagnostics.errors]
    assert [layer.name for layer in r.chip.layers] == ["conv1", "fc"]
    assert r.chip.layers[0].destinations[0].pooling == 2 and "bn1" in r.chip.layers[0].sources


def test_onnx_unsupported_op_is_a_violation_not_a_crash(tmp_path, capsys):
    cnn_onnx(tmp_path / "mp.onnx", maxpool=True)
    code = main(["check", str(tmp_path / "mp.onnx"), "--convert-ann", "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(v["rule"], v["layer"]) for v in rep["violations"]] == [("unsupported_layer", "pool")]
    assert "MaxPool" in rep["violations"][0]["message"]


@pytest.mark.parametrize("content", [b"", b"\x08\x01garbage"])
def test_bad_onnx_file_exits_2(tmp_path, capsys, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "bad.onnx" in err and len(err.strip().splitlines()) == 1
