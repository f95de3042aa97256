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
from pathlib import Path

import numpy as np
import pytest

from snnc.compiler.chip import ChipLayer, ChipModel, Destination
from snnc.compiler.energy import LayerActivity
from snnc.compiler.energy_qualia import (TERMS, QualiaEnergySettings, estimate, op_energy_pj, sram_access_pj,
                                          settings_from_postprocessing)
from snnc.compiler.errors import SnncError

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
