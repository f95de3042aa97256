"""`snnc compile` and `snnc deploy` from the command line: exit codes, files written (or not), messages."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from snnc import cli
from snnc.targets.config import load_config

NIR_MODEL = Path(__file__).resolve().parents[2] / "shared" / "models" / "nir_paper_nmnist_cnn.nir"
EXAMPLE_NIR = Path(__file__).resolve().parents[1] / "examples" / "nmnist_cnn.nir"


@pytest.fixture(autouse=True)
def _only_these_commands(monkeypatch):
    """Build the real dispatcher (snnc.cli.main) with just the commands tested here, so these tests do not depend
    on other subcommands' modules."""
    monkeypatch.setattr(cli, "COMMANDS", ["compile", "deploy"])


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def model_pt(tmp_path_factory):
    """A plain torch CNN saved whole with torch.save (ReLU -> IAF with --convert-ann)."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
                      nn.Conv2d(4, 8, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
                      nn.Flatten(), nn.Linear(8 * 4 * 4, 10, bias=False), nn.ReLU())
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(0.5)
    path = tmp_path_factory.mktemp("m") / "cnn.pt"
    torch.save(m, path)
    return path


@pytest.fixture(scope="module")
def too_big_pt(tmp_path_factory):
    """Ten conv layers: more chip layers than the 9 cores."""
    layers = []
    for _ in range(10):
        layers += [nn.Conv2d(1, 1, 1, bias=False), nn.ReLU()]
    path = tmp_path_factory.mktemp("m") / "big.pt"
    torch.save(nn.Sequential(*layers), path)
    return path


def _nir():
    return NIR_MODEL if NIR_MODEL.is_file() else EXAMPLE_NIR


def test_compile_nir_paper_cnn(tmp_path, capsys):
    out = tmp_path / "cnn.json"
    code, stdout, err = run(["compile", _nir(), "--target", "speck2f", "-o", out], capsys)
    assert code == 0, err
    cfg = load_config(out)
    assert [layer["core"] for layer in cfg["snnc"]["layers"]] == [0, 1, 2, 3, 4]
    assert cfg["snnc"]["source"]["format"] == "nir" and len(cfg["snnc"]["source"]["sha256"]) == 64
    assert f"wrote {out}" in stdout and "warning[quantization]" in stdout
    again = tmp_path / "again.json"
    assert run(["compile", _nir(), "-o", again, "-q"], capsys)[1] == ""
    assert out.read_bytes() == again.read_bytes()


def test_no_clip_and_percentile_change_the_integers(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run(["compile", _nir(), "--no-clip", "-q", "-o", a], capsys)[0] == 0
    assert run(["compile", _nir(), "--no-clip", "-q", "--quantize", "percentile", "-o", b], capsys)[0] == 0
    ca, cb = load_config(a), load_config(b)
    assert cb["snnc"]["quantization"]["policy"] == "percentile"
    sa = [layer["scale"] for layer in ca["snnc"]["layers"]]
    sb = [layer["scale"] for layer in cb["snnc"]["layers"]]
    assert all(y >= x for x, y in zip(sa, sb)) and sb != sa


def test_compile_torch_model_with_options(model_pt, tmp_path, capsys):
    out = tmp_path / "o.json"
    code, stdout, err = run(["compile", model_pt, "--input-shape", "2,16,16", "--convert-ann", "--cores", "3,4,5",
                             "--decimate", "7=4", "--json", "-o", out], capsys)
    assert code == 0, err
    report = json.loads(stdout)
    assert report["fits"] is True and report["output"] == str(out)
    cfg = load_config(out)
    assert [layer["core"] for layer in cfg["snnc"]["layers"]] == [3, 4, 5]
    assert cfg["cnn_layers"][5]["output_decimator_enable"] and cfg["cnn_layers"][5]["output_decimator_interval"] == 1
    assert cfg["cnn_layers"][3]["destinations"][0]["layer"] == 4


def test_does_not_fit_writes_nothing(too_big_pt, tmp_path, capsys):
    out = tmp_path / "o.json"
    code, stdout, err = run(["compile", too_big_pt, "--input-shape", "1,4,4", "--convert-ann", "-o", out], capsys)
    assert code == 1
    assert "does not fit" in stdout and "nothing written" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    code, stdout, _ = run(["compile", too_big_pt, "--input-shape", "1,4,4", "--convert-ann", "--json", "-o", out],
                          capsys)
    assert code == 1 and json.loads(stdout)["fits"] is False and not out.exists()


@pytest.mark.parametrize("extra, message", [
    (["--quantize", "fancy"], "unknown quantization policy 'fancy'; use one of: sinabs, percentile"),
    (["--decimate", "7=3"], "N one of 2, 4, 8, 16, 32, 128, 256, 512"),
    (["--decimate", "nope=4"], "no chip layer is called 'nope'"),
    (["--flash-binary", "x.bin"], "samna is not installed"),
    (["--target", "loihi"], "unknown target 'loihi'"),
])
def test_bad_options_exit_2(model_pt, tmp_path, capsys, extra, message):
    out = tmp_path / "o.json"
    code, _, err = run(["compile", model_pt, "--input-shape", "2,16,16", "--convert-ann", "-o", out] + extra, capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out.exists()


def test_garbage_model_and_missing_folder(tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    code, _, err = run(["compile", junk, "-o", tmp_path / "o.json"], capsys)
    assert code == 2 and err.startswith("snnc: error:") and err.count("\n") == 1
    code, _, err = run(["compile", _nir(), "-o", tmp_path / "missing" / "o.json"], capsys)
    assert code == 2 and "does not exist" in err


def test_deploy_without_samna_or_with_a_bad_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "cnn.json"
    assert run(["compile", _nir(), "-q", "-o", out], capsys)[0] == 0
    from snnc.targets import samna_adapter

    monkeypatch.setattr(samna_adapter, "real_samna_available", lambda: False)
    code, _, err = run(["deploy", out, "--device", "speck2fmodule:0"], capsys)
    assert code == 2 and "samna is not installed" in err
    bad = tmp_path / "bad.json"
    bad.write_text(out.read_text().replace('"threshold_low": -32768', '"threshold_low": 0', 1))
    code, _, err = run(["deploy", bad], capsys)
    assert code == 2 and "threshold_low is 0" in err


def test_readout_and_dvs_input(tmp_path, capsys):
    out = tmp_path / "r.json"
    code, _, err = run(["compile", _nir(), "-q", "--readout", "--dvs-input", "-o", out], capsys)
    assert code == 0, err
    cfg = load_config(out)
    assert cfg["readout"]["enable"] and cfg["dvs_layer"]["destinations"][0] == {"enable": True, "layer": 0}
    exit_core = cfg["snnc"]["outputs"][0]["core"]
    assert np.array(cfg["cnn_layers"][exit_core]["weights"]).shape[0] == 37  # 10 classes at channels 0, 4, .., 36
