"""`snnc check` as scripts use it: exit codes, the JSON object, and the readable report."""
import json
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from snnc.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_nir_paper_cnn_fits_and_reports_json(capsys, nir_paper_cnn):
    code, out, err = run(capsys, "check", str(nir_paper_cnn), "--target", "speck2f", "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["target"] == "speck2f" and rep["fits"] is True and rep["violations"] == []
    layers = rep["layers"]
    assert [layer["core"] for layer in layers] == [0, 1, 2, 3, 4]
    assert layers[0]["input_shape"] == [2, 34, 34] and layers[0]["output_shape"] == [16, 16, 16]
    assert layers[1]["destinations"] == [{"layer": 2, "pooling": 2}]
    assert layers[-1]["destinations"] == [{"layer": "output", "pooling": 1}]
    assert {"name", "core", "input_shape", "output_shape", "kernel_memory", "neuron_memory", "bias_memory",
            "destinations"} <= set(layers[0])
    # the first conv's largest |w| (1.79) is negative: no positive weight exceeds the threshold, nothing is clipped
    assert not any(w["rule"] == "clip" for w in rep["warnings"])


def test_text_report_has_core_table_and_verdict(capsys, nir_paper_cnn):
    code, out, _ = run(capsys, "check", str(nir_paper_cnn))
    assert code == 0
    assert "kernel mem" in out and "1024/16384" in out and "32768/32768" in out
    assert out.strip().splitlines()[-1].startswith("fits: 5 layers on cores 0, 1, 2, 3, 4")


def _save(tmp_path, model, shape, name="m.pt"):
    path = tmp_path / name
    torch.save({"model": model, "input_shape": list(shape)}, path)
    return str(path)


def test_violations_exit_1_with_every_rule_and_user_names(capsys, tmp_path):
    import sinabs.layers as sl

    model = nn.Sequential(nn.Conv2d(2, 8, 3, stride=3, bias=False), sl.IAFSqueeze(batch_size=1),
                          nn.Conv2d(8, 8, 17, padding=8, bias=False), sl.IAFSqueeze(batch_size=1),
                          sl.SumPool2d(3))
    code, out, _ = run(capsys, "check", _save(tmp_path, model, (2, 64, 64)), "--json")
    assert code == 1
    rep = json.loads(out)
    got = {(v["rule"], v["layer"]) for v in rep["violations"]}
    assert got == {("stride", "0"), ("kernel_size", "2"), ("padding", "2"), ("pooling", "4")}
    stride = next(v for v in rep["violations"] if v["rule"] == "stride")
    assert stride["measured"] == 3 and stride["limit"] == [1, 2, 4, 8] and stride["hint"]
    assert rep["fits"] is False


@pytest.mark.parametrize("content,suffix", [(b"\x00garbage\xff" * 10, ".pt"), (b"not hdf5", ".nir"),
                                            (b"x", ".h5model")])
def test_bad_files_exit_2_with_one_line(capsys, tmp_path, content, suffix):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    code, out, err = run(capsys, "check", str(path))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and str(path.name) in err and "Traceback" not in err


def test_missing_file_and_bad_options_exit_2(capsys, tmp_path, nir_paper_cnn):
    code, _, err = run(capsys, "check", str(tmp_path / "nope.pt"))
    assert code == 2 and "nope.pt" in err
    code, _, err = run(capsys, "check", str(nir_paper_cnn), "--target", "loihi")
    assert code == 2 and "speck2f" in err
    code, _, err = run(capsys, "check", str(nir_paper_cnn), "--input-shape", "2,x,3")
    assert code == 2 and "--input-shape" in err


def test_pinning_cores(capsys, nir_paper_cnn):
    code, out, _ = run(capsys, "check", str(nir_paper_cnn), "--cores", "2,1,0,5,8", "--json")
    assert code == 0 and [layer["core"] for layer in json.loads(out)["layers"]] == [2, 1, 0, 5, 8]
    code, out, _ = run(capsys, "check", str(nir_paper_cnn), "--cores", "0,1,2,7,8", "--json")
    rep = json.loads(out)
    assert code == 1 and [(v["rule"], v["layer"]) for v in rep["violations"]] == [("core_assignment", "9")]


def test_entry_point_runs_as_a_program(nir_paper_cnn):
    proc = subprocess.run([sys.executable, "-m", "snnc", "check", str(nir_paper_cnn), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout)["fits"] is True


def test_targets_lists_the_core_table(capsys):
    code, out, _ = run(capsys, "targets")
    assert code == 0 and "speck2f" in out and "speck2e" in out and "65536" in out
