"""load_model on bad and hostile files: one clear SnncError, nothing executed, and `snnc inspect` exits 2."""
import hashlib
import os
import pickle
import sys
import types

import pytest
import torch
import torch.nn as nn
from hypothesis import given
from hypothesis import strategies as st

import models  # noqa: E402

from snnc.compiler.errors import SnncError  # noqa: E402
from snnc.compiler.frontends.loader import load_model, parse_shape
from snnc.compiler.frontends.safe_pickle import scan_pickle_globals  # noqa: E402

pytest.importorskip("sinabs")


class _Evil:
    """Unpickling this runs a shell command that creates ``self.target``."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.fixture
def cli(monkeypatch):
    """snnc.cli.main, with the subcommand list cut to the commands present in this checkout."""
    import importlib.util

    from snnc import cli as cli_mod

    present = [c for c in cli_mod.COMMANDS if importlib.util.find_spec(f"snnc.commands.{c}") is not None]
    monkeypatch.setattr(cli_mod, "COMMANDS", present)
    return cli_mod.main


@pytest.fixture
def saved(tmp_path):
    def save(obj, name="model.pt"):
        path = tmp_path / name
        torch.save(obj, path)
        return path
    return save


def test_whole_model_loads_with_meta(saved):
    path = saved(models.scnn())
    g = load_model(path, input_shape="2,32,32")
    assert g.meta == {"format": "torch", "path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert g.validate()["output"] == (10,)


def test_dict_with_model_and_input_shape_needs_no_shape(saved):
    m = models.ann()
    del m.input_shape
    g = load_model(saved({"model": m, "input_shape": [1, 16, 16]}))
    assert g["input"].shape == (1, 16, 16)


def test_objects_load_without_files():
    import nir
    import numpy as np

    g = load_model(models.mlp())
    assert g.meta == {"format": "torch", "path": None, "sha256": None}
    ng = nir.NIRGraph.from_list(nir.Input(np.array([3])), nir.Affine(np.ones((2, 3)), np.zeros(2)),
                                nir.Output(np.array([2])))
    assert load_model(ng).meta["format"] == "nir"
    with pytest.raises(SnncError, match="cannot load a int"):
        load_model(3)


def test_state_dict_is_refused_with_the_fix(saved):
    with pytest.raises(SnncError, match=r"holds only weights \(a state_dict\); save the whole model"):
        load_model(saved(models.ann().state_dict()))


def _file(name, data):
    def make(tmp_path):
        (tmp_path / name).write_bytes(data)
        return tmp_path / name
    return make


@pytest.mark.parametrize("make, words", [
    (lambda p: p / "missing.pt", "no such file"),
    (lambda p: p, "is a directory"),
    (_file("model.h5", b"x"), "unknown model format '.h5'"),
    (_file("empty.pt", b""), "the file is empty"),
    (_file("junk.pt", bytes(range(256)) * 3), "not a readable torch model file"),
    (_file("junk.nir", b"not hdf5"), "not a readable NIR file"),
    (_file("m.onnx", b"x"), "not a readable ONNX model"),
])
def test_bad_files_give_one_line_naming_the_file(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(SnncError) as e:
        load_model(path)
    msg = str(e.value)
    assert words in msg and str(path) in msg and "\n" not in msg


def test_truncated_file(saved):
    path = saved(models.scnn())
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 40):
        path.write_bytes(data[:cut])
        with pytest.raises(SnncError, match="not a readable torch model file"):
            load_model(path, input_shape=(2, 32, 32))


def test_unknown_class_is_named_and_trust_loads_it(saved):
    mod = types.ModuleType("userpkg_blocks")
    sys.modules["userpkg_blocks"] = mod
    try:
        class Double(nn.Module):
            def forward(self, x):
                return x * 2

        Double.__module__, Double.__qualname__ = "userpkg_blocks", "Double"
        mod.Double = Double
        path = saved(nn.Sequential(nn.Linear(3, 3), Double()))
        with pytest.raises(SnncError, match=r"names userpkg_blocks\.Double, which is not on snnc's allow-list.*"
                                            r"--trust"):
            load_model(path)
        g = load_model(path, trust=True)  # the file is ours: with trust it loads; the op is reported, not run
        assert g["mul"].kind == "Unsupported"
    finally:
        del sys.modules["userpkg_blocks"]


def test_harmless_but_unlisted_global_is_refused(saved):
    import argparse

    with pytest.raises(SnncError, match=r"argparse\.Namespace"):
        load_model(saved({"model": models.mlp(), "extra": argparse.Namespace(a=1)}))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_malicious_pickle_does_not_run(tmp_path, writer):
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save(_Evil(target), path)
    else:
        path.write_bytes(pickle.dumps(_Evil(target), protocol=4))
    assert "posix.system" in scan_pickle_globals(path) or "nt.system" in scan_pickle_globals(path)
    with pytest.raises(SnncError, match=r"system, which is not on snnc's allow-list.*--trust"):
        load_model(path)
    assert not target.exists()
    # the file is really hostile: unpickling it for real would have created the file
    pickle.loads(pickle.dumps(_Evil(target)))
    assert target.exists()


def test_cli_inspect_prints_graph_and_exits_0(saved, capsys, cli):
    main = cli
    path = saved({"model": models.scnn(), "input_shape": [2, 32, 32]})
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Conv2d 2->8" in out and "[10]" in out and "sha256" in out


@pytest.mark.parametrize("content, extra", [
    (b"\x80\x04garbage", []),
    (None, []),
    (b"ok", ["--input-shape", "2,x"]),
])
def test_cli_inspect_bad_input_exits_2_with_one_line(tmp_path, capsys, content, extra, cli):
    main = cli
    path = tmp_path / "m.pt"
    if content is not None:
        path.write_bytes(content)
    assert main(["inspect", str(path), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("snnc: error: ") and "\n" not in err and "Traceback" not in err


def test_cli_inspect_malicious_pickle_exits_2(tmp_path, capsys, cli):
    main = cli
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save(_Evil(target), path)
    assert main(["inspect", str(path)]) == 2
    assert "--trust" in capsys.readouterr().err
    assert not target.exists()


@given(st.lists(st.integers(1, 4096), min_size=1, max_size=3), st.sampled_from([",", "x", ", "]))
def test_parse_shape_round_trips(dims, sep):
    assert parse_shape(sep.join(map(str, dims))) == tuple(dims)
    assert parse_shape(f"[{', '.join(map(str, dims))}]") == tuple(dims)


@pytest.mark.parametrize("text", ["", "a,b", "2,0,3", "1,2,3,4", "-1", "2.5,3", "2,,3x"])
def test_parse_shape_rejects_bad_text(text):
    with pytest.raises(SnncError, match="input shape"):
        parse_shape(text)
