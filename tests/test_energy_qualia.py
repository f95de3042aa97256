"""Qualia-SNN's EnergyEstimationMetric in snnc (compiler/energy_qualia.py) against qualia-plugin-snn 2.6.0 itself.

Reference figures: tests/data/qualia_energy_oracle.json, written by tests/oracle/qualia_energy_oracle.py run in a
separate virtual environment holding qualia-plugin-snn 2.6.0, qualia-core 2.6.0, qualia-codegen-core/-plugin-snn
2.6.0, spikingjelly 2.0.0 and torch 2.13.0+cpu (AGPL code used as an oracle only, never imported by snnc).  The
script builds Qualia's own SCNN models (the issue's 16/32-filter MNIST network without conv biases, as on Speck, and
a strided network with biases and a hidden Linear), converts them with Qualia-CodeGen, sets per-layer spike counts
and calls ``EnergyEstimationMetric._compute_model_energy_snn`` for every op_estimation_type (ICONIP, saturation,
linear, quadratic) x sram_estimation_type (old, new), mem_width 8 and 16 (first network) and 12 (second),
fifo_size 64.  snnc must reproduce every per-layer term within 0.1 %.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from snnc.compiler.chip import ChipLayer, ChipModel, Destination
from snnc.compiler.energy import LayerActivity
from snnc.compiler.energy_qualia import (TERMS, QualiaEnergySettings, estimate, op_energy_pj, sram_access_pj,
                                          settings_from_postprocessing)
from snnc.compiler.errors import SnncError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ORACLE = json.loads((Path(__file__).parent / "data" / "qualia_energy_oracle.json").read_text())


def chip_from_oracle(layers: list[dict]) -> tuple[ChipModel, list[LayerActivity]]:
    """The oracle's layers as snnc chip layers.  A Linear becomes what Speck runs: a conv whose kernel covers its
    input map -- the previous conv's channels over the (pooled) square map that in_features implies, or 1 x 1."""
    out, acts = [], []
    for i, la in enumerate(layers):
        if la["kind"] == "conv":
            ins, outs, stride = tuple(la["input_shape"]), tuple(la["output_shape"]), tuple(la["stride"])
            kh, kw = la["kernel_size"]
            pad = ((kh - 1) // 2, (kw - 1) // 2)
        else:
            n = la["in_features"]
            c = layers[i - 1]["output_shape"][0] if i and layers[i - 1]["kind"] == "conv" else n
            side = int(round((n // c) ** 0.5))
            assert c * side * side == n
            ins, outs, stride, pad, kh, kw = (c, side, side), (la["out_features"], 1, 1), (1, 1), (0, 0), side, side
        weight = np.zeros((outs[0], ins[0], kh, kw), dtype=np.float32)
        bias = np.zeros(outs[0], dtype=np.float32) if la["bias"] else None
        out.append(ChipLayer(la["name"], weight, bias, stride, pad, ins, outs, 1.0, -1.0))
        acts.append(LayerActivity(la["name"], la["theta_in"], la["theta_out"], 0.0))
    for k in range(len(out) - 1):
        out[k].destinations = [Destination(k + 1)]
    return ChipModel(out, out[0].input_shape, [0]), acts


CASES = [(net, key) for net, d in ORACLE["networks"].items() for key in d["results"]]


@pytest.mark.parametrize("net,key", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_matches_qualia_plugin_snn_2_6_0(net, key):
    d = ORACLE["networks"][net]
    mem_width, op, sram = key.split("/")
    s = QualiaEnergySettings(timesteps=d["timesteps"], mem_width=int(mem_width), fifo_size=ORACLE["fifo_size"],
                             op_add=op, op_mul=op, sram=sram)
    chip, acts = chip_from_oracle(d["layers"])
    got = estimate(chip, acts, s)
    ref = d["results"][key]
    assert len(got["per_layer"]) == len(d["layers"])
    for row, la in zip(got["per_layer"], d["layers"]):
        assert row["kind"] == la["kind"]
        for term in (*TERMS, "total"):
            want = ref[la["name"]][term]
            assert row[term] / 1e-12 == pytest.approx(want, rel=1e-3, abs=1e-9), (la["name"], term)
    for term in (*TERMS, "total"):
        assert got["total"][term] / 1e-12 == pytest.approx(ref["Total"][term], rel=1e-3)


def test_the_settings_change_the_figures():
    """Each setting moves the figure it should: guards against a test that compares a constant with itself."""
    assert op_energy_pj(16, "add", "ICONIP") == 0.1 and op_energy_pj(16, "add", None) == 0.1
    assert op_energy_pj(8, "mul", None) == 0.2 and op_energy_pj(8, "mul", "ICONIP") == 3.1
    assert op_energy_pj(12, "add", "saturation") == 0.1 and op_energy_pj(4, "add", "saturation") == 0.03
    assert op_energy_pj(20, "add", "linear") == pytest.approx(0.065)  # halfway between 8 and 32 bits
    assert op_energy_pj(8, "mul", "quadratic") == pytest.approx(0.2) and op_energy_pj(32, "mul", "quadratic") \
        == pytest.approx(3.1)
    assert sram_access_pj(1000, 16, "new") == 2.5 and sram_access_pj(1000, 12, "new") == 2.0
    assert sram_access_pj(1000, 16, "old") == pytest.approx(1.09e-5 * 16000 + 13.2)


def test_postprocessing_entry_and_bad_settings():
    s = settings_from_postprocessing({"kind": "EnergyEstimationMetric", "params": {
        "mem_width": 8, "fifo_size": 64, "op_estimation_type": {"add": "linear", "mul": "quadratic"},
        "sram_estimation_type": "new"}}, timesteps=4)
    assert (s.mem_width, s.fifo_size, s.op_add, s.op_mul, s.sram, s.timesteps) == (8, 64, "linear", "quadratic",
                                                                                   "new", 4)
    with pytest.raises(SnncError, match="fifo_size"):
        settings_from_postprocessing({"params": {"mem_width": 8}}, timesteps=4)
    with pytest.raises(SnncError, match="op_estimation_type.add = 'cubic'"):
        settings_from_postprocessing({"params": {"mem_width": 8, "fifo_size": 8,
                                                 "op_estimation_type": {"add": "cubic", "mul": "linear"}}}, 4)
    with pytest.raises(SnncError, match="unknown key .*params.mem_widht"):
        settings_from_postprocessing({"params": {"mem_widht": 8}}, timesteps=4)
    with pytest.raises(SnncError, match="saturation"):
        QualiaEnergySettings(timesteps=1, mem_width=48, op_add="saturation", op_mul="saturation")
    with pytest.raises(SnncError, match="sram_estimation_type"):
        QualiaEnergySettings(timesteps=1, sram="newest")


def _cli(capsys, *argv):
    from snnc.cli import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_json_energy_section_with_qualia_settings(tmp_path, capsys):
    """`snnc check --events ... --timesteps T` adds energy.qualia: per chip layer, the simulator's event and spike
    counts and Qualia's terms for them; the options reach the figures."""
    from test_bandwidth import overload_events, overload_model
    from snnc.runtime.events import save_events

    model = overload_model(tmp_path)
    events = tmp_path / "ev.npy"
    save_events(events, overload_events(n=80))
    base = ["check", str(model), "--input-shape", "2,34,34", "--events", str(events), "--json"]
    code, out, err = _cli(capsys, *base, "--timesteps", "4", "--mem-width", "8", "--op-estimation", "linear",
                          "--sram-estimation", "new", "--fifo-size", "32")
    assert code in (0, 1), err
    rep = json.loads(out)
    q = rep["energy"]["qualia"]
    assert q["params"]["op_estimation_type"] == {"add": "linear", "mul": "linear"}
    assert (q["params"]["timesteps"], q["params"]["mem_width"], q["params"]["fifo_size"]) == (4, 8, 32)
    assert q["params"]["sram_estimation_type"] == "new"
    # the counts are the simulator's (the per-core report, computed apart from the energy estimate); the terms'
    # values for given counts are checked against qualia-plugin-snn itself in test_matches_qualia_plugin_snn_2_6_0
    cores = {r["core"]: r for r in rep["cores"]}
    for row in q["per_layer"]:
        assert row["input_count"] == cores[row["core"]]["in_events"] > 0
        assert row["output_count"] == cores[row["core"]]["out_spikes"]
        assert row["total"] == pytest.approx(sum(row[t] for t in TERMS)) and all(row[t] >= 0 for t in TERMS)
    assert q["total_joules"] == pytest.approx(sum(r["total"] for r in q["per_layer"]))

    def rerun(*settings):
        _, text, _ = _cli(capsys, *base, *settings)
        return json.loads(text)["energy"]["qualia"]["per_layer"]

    # each option moves the terms it should and no other: another SRAM model (old) changes the memory terms only
    old = rerun("--timesteps", "4", "--mem-width", "8", "--op-estimation", "linear", "--fifo-size", "32")
    for a, b in zip(old, q["per_layer"]):
        assert a["ops"] == pytest.approx(b["ops"]) and a["addr"] == pytest.approx(b["addr"])
        assert a["mem_pot"] > 2 * b["mem_pot"]
    # another operation model (quadratic instead of linear; at 16 bits, as both meet at 8) changes the operations only
    lin16, quad = (rerun("--timesteps", "4", "--mem-width", "16", "--op-estimation", op, "--sram-estimation", "new",
                         "--fifo-size", "32") for op in ("linear", "quadratic"))
    for a, b in zip(quad, lin16):
        assert a["ops"] != pytest.approx(b["ops"]) and a["mem_pot"] == pytest.approx(b["mem_pot"])
    # more time steps: more potential reads and writes (Qualia counts the membrane once per step)
    t8 = rerun("--timesteps", "8", "--mem-width", "8", "--op-estimation", "linear", "--sram-estimation", "new",
               "--fifo-size", "32")
    assert sum(a["mem_pot"] for a in t8) > sum(b["mem_pot"] for b in q["per_layer"])
    # the text report of `snnc check` prints the table (format_cores takes the same analysis as the JSON)
    from snnc.compiler.bandwidth import format_cores

    text = format_cores(rep)
    assert "Qualia-SNN EnergyEstimationMetric (T = 4, mem_width 8, fifo_size 32, op linear/linear, sram new" in text
    assert re.search(r"\n  total +(\S+ +){6}\S+", text)


def test_energy_options_from_a_qualia_toml_and_bad_options(tmp_path, capsys):
    from snnc.commands._energy import qualia_settings_from_args

    class A:
        qualia_config = str(EXAMPLES / "qualia_scnn.toml")
        timesteps = None
        mem_width = None
        fifo_size = None
        op_estimation = "quadratic,saturation"
        sram_estimation = None

    s = qualia_settings_from_args(A())
    assert (s.timesteps, s.mem_width, s.fifo_size, s.op_add, s.op_mul, s.sram) == (4, 8, 64, "quadratic",
                                                                                   "saturation", "old")
    # snnc evaluate --config: a Qualia-SNN file stands for --qualia-config; snnc's own format gives T
    A.qualia_config, A.op_estimation = None, "linear"
    s = qualia_settings_from_args(A(), training_toml=str(EXAMPLES / "qualia_scnn.toml"))
    assert (s.timesteps, s.mem_width, s.op_add, s.op_mul) == (4, 8, "linear", "linear")
    A.qualia_config = None
    s = qualia_settings_from_args(A(), training_toml=str(EXAMPLES / "mnist_speck.toml"))
    assert (s.timesteps, s.mem_width, s.op_add) == (12, 16, "linear")
    code, _, err = _cli(capsys, "check", "x.pt", "--mem-width", "8")
    assert code == 2 and "give --timesteps" in err
    code, _, err = _cli(capsys, "check", "x.pt", "--timesteps", "4", "--op-estimation", "cubic", "--input-rate",
                        "1000")
    assert code == 2 and "op_estimation_type.add = 'cubic'" in err
