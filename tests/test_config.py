"""The configuration file: building, writing, loading/checking, and the samna adapter (targets/)."""
from __future__ import annotations

import copy
import json
import os
import sys
import types

import numpy as np
import pytest

import snnc
from snnc.compiler.errors import SnncError
from snnc.compiler.ir import IAF, Conv2d, Flatten, Input, Linear, Output, SumPool, sequential
from snnc.targets import samna_adapter
from snnc.targets.config import dumps_config, load_config, write_config

from samna_double import fake_samna


def graph(in_ch=2, seed=0, size=16):
    rng = np.random.default_rng(seed)
    return sequential([
        Input("input", shape=(in_ch, size, size)),
        Conv2d("conv1", weight=rng.normal(0, 0.2, (4, in_ch, 3, 3)), padding=1),
        IAF("spk1", threshold=1.0, threshold_low=-1.0),
        SumPool("pool1", kernel=2),
        Conv2d("conv2", weight=rng.normal(0, 0.2, (8, 4, 3, 3)), stride=2, padding=1),
        IAF("spk2", threshold=1.0, threshold_low=-1.0, reset="zero"),
        Flatten("flat"),
        Linear("fc", weight=rng.normal(0, 0.1, (5, 8 * (size // 4) ** 2))),
        IAF("spk3", threshold=1.0, threshold_low=-1.0),
        Output("out"),
    ])


@pytest.fixture(scope="module")
def config():
    return snnc.compile(graph(), target="speck2f")


def test_layout_follows_the_format(config):
    assert list(config) == ["cnn_layers", "dvs_layer", "readout", "snnc"]
    assert len(config["cnn_layers"]) == 9
    names = [layer["name"] for layer in config["snnc"]["layers"]]
    assert names == ["conv1", "conv2", "fc"]
    cores = [layer["core"] for layer in config["snnc"]["layers"]]
    c1, c2, fc = (config["cnn_layers"][c] for c in cores)
    assert c1["dimensions"]["input_shape"] == {"size": {"x": 16, "y": 16}, "feature_count": 2}
    assert c1["destinations"][0] == {"enable": True, "layer": cores[1], "pooling": 2, "feature_shift": 0}
    assert c2["dimensions"]["stride"] == {"x": 2, "y": 2} and c2["return_to_zero"] is True
    assert c2["dimensions"]["output_shape"]["size"] == {"x": 4, "y": 4}
    assert fc["monitor_enable"] and not any(d["enable"] for d in fc["destinations"])
    assert not c1["monitor_enable"]
    assert config["snnc"]["outputs"] == [{"core": cores[2], "name": "fc"}]
    assert config["snnc"]["input"] == {"source": "core", "shape": [2, 16, 16], "cores": [cores[0]], "pooling": 1}
    for core in set(range(9)) - set(cores):
        unused = config["cnn_layers"][core]
        assert unused["weights"] == [] and not any(d["enable"] for d in unused["destinations"])
    assert not any(d["enable"] for d in config["dvs_layer"]["destinations"])
    assert config["readout"]["enable"] is False
    q = config["snnc"]["layers"][0]["quantization"]
    assert q["policy"] == "sinabs" and q["scale"] > 1 and "zeroed_weights" in q


def test_weights_are_written_x_before_y():
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0, 2] = 1.0  # torch [y=0][x=2]
    g = sequential([Input("input", shape=(1, 5, 5)), Conv2d("c", weight=w), IAF("s", threshold=2.0,
                    threshold_low=-2.0, v_init=np.arange(9.0).reshape(1, 3, 3) / 10), Output("out")])
    cfg = snnc.compile(g, target="speck2f")
    layer = cfg["cnn_layers"][cfg["snnc"]["layers"][0]["core"]]
    assert layer["weights"][0][0][2][0] == 127 and np.count_nonzero(layer["weights"]) == 1  # [x=2][y=0]
    v = np.array(layer["neurons_initial_value"])
    scale = cfg["snnc"]["layers"][0]["scale"]
    assert v.shape == (1, 3, 3) and v[0, 2, 0] == round(0.2 * scale)  # [x=2][y=0] holds torch's [y=0][x=2]


def test_round_trip_is_identity(config, tmp_path):
    path = write_config(config, tmp_path / "out.json")
    loaded = load_config(path)
    assert loaded == config
    assert dumps_config(loaded).encode() == path.read_bytes()
    assert snnc.load_config(str(path)) == config


def test_same_model_gives_the_same_bytes(tmp_path):
    a = snnc.compile(graph(seed=3), target="speck2f", output=tmp_path / "a.json")
    snnc.compile(graph(seed=3), target="speck2f", output=tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert dumps_config(a) == (tmp_path / "a.json").read_text()


def _core(cfg, i=0):
    return cfg["cnn_layers"][cfg["snnc"]["layers"][i]["core"]]


def _unused(cfg):
    used = {layer["core"] for layer in cfg["snnc"]["layers"]}
    return min(set(range(9)) - used)


EDITS = {
    "weight out of int8": (lambda c: _core(c)["weights"][2][0][1].__setitem__(1, 300),
                           r"cnn_layers\[\d\]\.weights\[2\]\[0\]\[1\]\[1\] = 300 is outside int8 \[-128, 127\]"),
    "huge weight": (lambda c: _core(c)["weights"][0][0][0].__setitem__(0, 2 ** 70), r"= \d+ is far outside"),
    "boolean weight": (lambda c: _core(c)["weights"][0][0][0].__setitem__(0, True), r"weights"),
    "fractional weight": (lambda c: _core(c)["weights"][0][0][0].__setitem__(0, 1.5), r"= 1.5 is not an integer"),
    "threshold_low 0": (lambda c: _core(c).__setitem__("threshold_low", 0), r"threshold_low is 0.*use -1"),
    "threshold_high out of int16": (lambda c: _core(c).__setitem__("threshold_high", 40000),
                                    r"threshold_high = 40000 is outside int16"),
    "float threshold": (lambda c: _core(c).__setitem__("threshold_high", 3.0), r"threshold_high: 3.0 is not of type"),
    "state out of int16": (lambda c: _core(c)["neurons_initial_value"][1][2].__setitem__(3, -40000),
                           r"neurons_initial_value\[1\]\[2\]\[3\] = -40000 is outside int16"),
    "state shape": (lambda c: _core(c)["neurons_initial_value"].pop(), r"neurons_initial_value has shape \[3,"),
    "bias count": (lambda c: _core(c)["biases"].append(0), r"biases has 5 entries for 4 output features"),
    "bias range": (lambda c: _core(c)["biases"].__setitem__(0, 70000), r"biases\[0\] = 70000 is outside int16"),
    "ragged weights": (lambda c: _core(c)["weights"][0][0].pop(), r"weights"),
    "output size": (lambda c: _core(c)["dimensions"]["output_shape"]["size"].__setitem__("x", 15),
                    r"output_shape.size.x = 15, but input 16, kernel 3, padding 1, stride 1 give .* = 16"),
    "stride": (lambda c: _core(c)["dimensions"]["stride"].__setitem__("y", 3), r"stride.y = 3; speck2f strides"),
    "padding": (lambda c: _core(c)["dimensions"]["padding"].__setitem__("x", 9), r"padding.x = 9 is outside 0..7"),
    "pooling": (lambda c: _core(c)["destinations"][0].__setitem__("pooling", 3),
                r"destinations\[0\].pooling = 3; pooling is one of 1, 2, 4"),
    "destination to unused core": (lambda c: _core(c)["destinations"][1].update(enable=True, layer=_unused(c)),
                                   r"destinations\[1\].layer = \d, but core \d is unused"),
    "destination shape": (lambda c: _core(c)["destinations"][0].__setitem__("pooling", 1),
                          r"core \d expects a 8x8 input, this core sends 16x16 pooled by 1"),
    "feature shift": (lambda c: _core(c)["destinations"][0].__setitem__("feature_shift", 2),
                      r"features 2..5 do not fit core \d's 4 input features"),
    "readout off": (lambda c: _core(c, 2)["destinations"][0].update(enable=True, layer=12),
                    r"layer = 12 \(readout\) but readout.enable is false"),
    "unused core routing": (lambda c: c["cnn_layers"][_unused(c)]["destinations"][0].update(enable=True, layer=0),
                            r"is enabled but core \d is unused"),
    "missing field": (lambda c: _core(c).pop("return_to_zero"), r"cnn_layers\[\d\]: 'return_to_zero' is a required"),
    "typo field": (lambda c: _core(c).__setitem__("treshold_high", 1), r"'treshold_high' was unexpected"),
    "two many destinations": (lambda c: _core(c)["destinations"].append(dict(_core(c)["destinations"][1])),
                              r"destinations"),
    "decimator interval": (lambda c: _core(c).__setitem__("output_decimator_interval", 8), r"output_decimator_interval"),
    "dvs pooling": (lambda c: c["dvs_layer"]["pooling"].__setitem__("x", 3), r"dvs_layer.pooling.x = 3"),
    "dvs cut": (lambda c: c["dvs_layer"]["cut"].__setitem__("y", 128), r"cut.y = 128"),
    "format version": (lambda c: c["snnc"].__setitem__("format_version", 2), r"format_version 2 is not supported"),
    "target": (lambda c: c["snnc"].__setitem__("target", "speck9"), r"unknown target 'speck9'"),
    "nine cores": (lambda c: c["cnn_layers"].pop(), r"cnn_layers has 8 entries; speck2f has 9 cores"),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_hand_edits_are_rejected_by_name(config, name, tmp_path):
    edit, pattern = EDITS[name]
    bad = copy.deepcopy(config)
    edit(bad)
    with pytest.raises(SnncError, match=pattern):
        load_config(bad)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(SnncError, match=str(path).replace(".", r"\.")):
        load_config(path)


@pytest.mark.parametrize("text, pattern", [
    ("", r"not valid JSON"), ("{\"cnn_layers\": [", r"not valid JSON \(line 1"), ("[1, 2]", r"expected a JSON object"),
    ("{}", r"'cnn_layers' is a required property"), ("\x00\xff garbage", r"not valid JSON|cannot read it as text"),
])
def test_garbage_files_give_one_line(tmp_path, text, pattern):
    path = tmp_path / "x.json"
    path.write_text(text, encoding="latin-1")
    with pytest.raises(SnncError, match=pattern) as e:
        load_config(path)
    assert "\n" not in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(SnncError, match="no such file"):
        load_config(tmp_path / "nope.json")


def test_atomic_write_leaves_nothing_half_written(config, tmp_path, monkeypatch):
    path = tmp_path / "cfg.json"
    path.write_text("old")
    bad = copy.deepcopy(config)
    _core(bad)["threshold_low"] = 0
    with pytest.raises(SnncError):
        write_config(bad, path)
    assert path.read_text() == "old"

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(SnncError, match="No space left"):
        write_config(config, path)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.json"]  # no temp file left behind
    with pytest.raises(SnncError, match="does not exist"):
        write_config(config, tmp_path / "no" / "such" / "x.json")


def test_decimator_from_options():
    cfg = snnc.compile(graph(), target="speck2f", decimate={"conv2": 8})
    layer = _core(cfg, 1)
    assert layer["output_decimator_enable"] and layer["output_decimator_interval"] == 2
    assert not _core(cfg, 0)["output_decimator_enable"]
    cfg = snnc.compile(graph(), target="speck2f", decimate={"spk2": 512})  # the neuron's name works too
    assert _core(cfg, 1)["output_decimator_interval"] == 7
    with pytest.raises(SnncError, match="chip layers: conv1, conv2, fc"):
        snnc.compile(graph(), target="speck2f", decimate={"conv9": 8})
    with pytest.raises(SnncError, match="2, 4, 8, 16, 32, 128, 256, 512"):
        snnc.compile(graph(), target="speck2f", decimate={"conv2": 64})


def test_readout_spreads_output_channels():
    cfg = snnc.compile(graph(), target="speck2f", readout=True)
    out = _core(cfg, 2)
    assert cfg["readout"]["enable"] is True
    assert {"enable": True, "layer": 12, "pooling": 1, "feature_shift": 0} in out["destinations"]
    assert out["dimensions"]["output_shape"]["feature_count"] == 17  # channels 0, 4, 8, 12, 16
    w = np.array(out["weights"])
    assert np.any(w[[0, 4, 8, 12, 16]]) and not np.any(np.delete(w, [0, 4, 8, 12, 16], axis=0))
    assert cfg["snnc"]["outputs"][0]["channels"] == [0, 4, 8, 12, 16]
    load_config(cfg)


@pytest.mark.parametrize("channels", [1, 2])
def test_dvs_input_routes_the_sensor(channels):
    cfg = snnc.compile(graph(in_ch=channels), target="speck2f", dvs_input=True)
    dvs = cfg["dvs_layer"]
    first = cfg["snnc"]["layers"][0]["core"]
    assert dvs["destinations"][0] == {"enable": True, "layer": first}
    assert dvs["merge"] is (channels == 1) and dvs["pass_sensor_events"] is True
    assert dvs["cut"] == {"x": 15, "y": 15} and dvs["origin"] == {"x": 0, "y": 0}
    assert cfg["snnc"]["input"]["source"] == "dvs"
    bad = copy.deepcopy(cfg)
    bad["dvs_layer"]["cut"]["x"] = 20
    with pytest.raises(SnncError, match="DVS region origin..cut is 21x16"):
        load_config(bad)


def test_dvs_input_needs_polarity_channels():
    with pytest.raises(SnncError, match="1 \\(merged\\) or 2"):
        snnc.compile(graph(in_ch=3), target="speck2f", dvs_input=True)


# ------------------------------------------------------------------------------------- samna adapter
def _package(tmp_path, init_text, files=()):
    pkg = tmp_path / "site" / "samna"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(init_text)
    for f in files:
        (pkg / f).parent.mkdir(parents=True, exist_ok=True)
        (pkg / f).write_bytes(b"\x7fELF")
    return pkg.parent


@pytest.mark.parametrize("init, files, expected", [
    ("# PYPI_SAMNA installer shim\nimport subprocess\n", (), False),
    ("# PYPI_SAMNA\n", ("samna.cpython-311-x86_64-linux-gnu.so",), False),  # the shim marker wins
    ("from .samna import *\n", ("samna.cpython-311-x86_64-linux-gnu.so",), True),
    ("from .samna import *\n", ("lib/samna.pyd",), True),
    ("", (), False),
])
def test_real_samna_detection_reads_files_only(tmp_path, monkeypatch, init, files, expected):
    site = _package(tmp_path, init + "raise RuntimeError('imported!')\n", files)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "samna", raising=False)
    assert samna_adapter.real_samna_available() is expected
    assert "samna" not in sys.modules  # nothing was imported


def test_no_samna_at_all(monkeypatch):
    monkeypatch.setattr(samna_adapter.importlib.util, "find_spec", lambda name: None)
    assert samna_adapter.real_samna_available() is False
    with pytest.raises(SnncError, match="samna is not installed"):
        samna_adapter.apply_to_samna({})


def test_apply_to_samna_sets_every_field(config):
    fake = fake_samna()
    cfg = samna_adapter.apply_to_samna(config, samna=fake)
    assert fake.seen == [cfg]  # samna's validation ran on it
    got = cfg.as_dict()
    assert got["cnn_layers"] == config["cnn_layers"]
    assert got["dvs_layer"] == config["dvs_layer"]
    assert got["readout"] == config["readout"]
    assert samna_adapter.flash_binary(config, samna=fake) == b"FLASH\x09"


def test_samna_rejection_is_one_line(config):
    with pytest.raises(SnncError, match="samna rejected the configuration: shape mismatch"):
        samna_adapter.apply_to_samna(config, samna=fake_samna((False, "shape mismatch")))


def test_deploy_checks_board_and_chip(config):
    fake = fake_samna()
    applied = []
    board = types.SimpleNamespace(get_model=lambda: types.SimpleNamespace(apply_configuration=applied.append))
    info = types.SimpleNamespace(device_type_name="Speck2fModuleDevKit")
    fake.device = types.SimpleNamespace(get_all_devices=lambda: [info], open_device=lambda i: board)
    assert samna_adapter.deploy(config, "speck2fmodule:0", samna=fake) == "configuration applied to speck2fmodule:0"
    assert len(applied) == 1 and applied[0].cnn_layers[0].weights == config["cnn_layers"][0]["weights"]
    with pytest.raises(SnncError, match="no speck2fmodule board number 1"):
        samna_adapter.deploy(config, "speck2fmodule:1", samna=fake)
    with pytest.raises(SnncError, match="compiled for speck2f, the board speck2edevkit carries a speck2e"):
        samna_adapter.deploy(config, "speck2edevkit", samna=fake)
    with pytest.raises(SnncError, match="unknown board"):
        samna_adapter.deploy(config, "davis346:0", samna=fake)
