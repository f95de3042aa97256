"""Hostile and careless inputs through the CLI (issue 11).

Every case runs ``snnc.cli.main`` in-process on files made here and checks what a user relies on:

* the exit code (1: does not fit / runaway network, 2: unusable input; 0 where the input is legitimate);
* exactly one line on stderr, ``snnc: error: ...``, naming the thing (and no traceback, no internal error);
* that no file in the folder was changed, created or removed (a snapshot before and after);
* the inputs that used to hang or exhaust memory are made so that they would take minutes or gigabytes without
  the bound (the test itself stays fast; no timing asserts).
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from snnc.runtime.events import make_events

sinabs_layers = pytest.importorskip("sinabs.layers")
nir = pytest.importorskip("nir")
h5py = pytest.importorskip("h5py")


# ------------------------------------------------------------------------------------------------------- helpers
def snapshot(folder: Path) -> dict:
    """Every entry under ``folder`` (not following links) with its type and content hash."""
    out = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for d in dirs:
            out[os.path.relpath(os.path.join(root, d), folder)] = "dir"
        for f in files:
            p = os.path.join(root, f)
            rel = os.path.relpath(p, folder)
            if os.path.islink(p):
                out[rel] = "link:" + os.readlink(p)
            elif not stat.S_ISREG(os.lstat(p).st_mode):
                out[rel] = f"special:{stat.S_IFMT(os.lstat(p).st_mode)}"  # a FIFO: never read it
            else:
                with open(p, "rb") as fh:
                    out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process; assert nothing under the watched folder changed; return (rc, stdout, stderr lines)."""
    from snnc.cli import main

    def run(argv, watch: Path, rc=2, lines: int | None = 1):
        before = snapshot(watch)
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        assert snapshot(watch) == before, f"files changed by {argv}"
        err_lines = [line for line in err.splitlines() if line.strip()]
        assert "Traceback" not in err and "internal error" not in err, err
        assert code == rc, (code, out[-2000:], err)
        if lines is not None:
            assert len(err_lines) == lines, err_lines
        if rc and lines:
            assert err_lines[-1].startswith("snnc: error: "), err_lines
        return code, out, err_lines

    return run


def _iaf(**kw):
    return sinabs_layers.IAFSqueeze(batch_size=1, **kw)


def small_torch(path: Path, min_v_mem=-1.0, spike_threshold=1.0, weight=None, bias=False, shape=(2, 10, 10)):
    torch.manual_seed(0)
    conv = nn.Conv2d(shape[0], 4, 3, bias=bias)
    if weight is not None:
        conv.weight.data = weight(conv.weight.data)
    model = nn.Sequential(conv, _iaf(min_v_mem=min_v_mem, spike_threshold=spike_threshold))
    torch.save({"model": model, "input_shape": list(shape)}, path)
    return path


def small_nir(path: Path, weight=None, threshold=1.0, with_input=True):
    w = np.full((4, 2, 3, 3), 0.3) if weight is None else weight
    nodes = {"c": nir.Conv2d(input_shape=(10, 10), weight=w, stride=1, padding=0, dilation=1, groups=1,
                             bias=np.zeros(4)),
             "n": nir.IF(r=np.ones(1), v_threshold=np.array([threshold])),
             "o": nir.Output(output_type={"output": np.array([4, 8, 8])})}
    edges = [("c", "n"), ("n", "o")]
    if with_input:
        nodes["i"] = nir.Input(input_type={"input": np.array([2, 10, 10])})
        edges.insert(0, ("i", "c"))
    nir.write(str(path), nir.NIRGraph(nodes=nodes, edges=edges))
    return path


def _weight_path(path: Path) -> str:
    names = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: names.append(n))
    return [n for n in names if n.endswith("c/weight")][0]


def events(path: Path, n=20, t=None, shape=(2, 10, 10)):
    rng = np.random.default_rng(0)
    t = np.arange(n) * 100 if t is None else np.asarray(t)
    n = len(t)
    np.save(path, make_events(rng.integers(0, shape[2], n), rng.integers(0, shape[1], n), t,
                              rng.integers(0, shape[0], n)))
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A folder with a good NIR model, its compiled configuration and events."""
    import snnc

    d = tmp_path_factory.mktemp("hostile")
    small_nir(d / "ok.nir")
    snnc.compile(str(d / "ok.nir"), output=str(d / "cfg.json"))
    events(d / "ev.npy")
    return d


@pytest.fixture
def work(tmp_path, base):
    """A fresh copy of the base files for one test (the snapshot covers it)."""
    for name in ("ok.nir", "cfg.json", "ev.npy"):
        (tmp_path / name).write_bytes((base / name).read_bytes())
    return tmp_path


TOML = """
[dataset]
kind = "mnist"
path = "data"
train = [0, 15]
eval = [16, 31]
[encoding]
timesteps = 4
[model]
channels = [4]
kernels = [3]
pools = [2]
[train]
epochs = 1
batch_size = 8
[output]
model = "m.pt"
"""


def toml(folder: Path, text: str = TOML, name="t.toml") -> Path:
    (folder / "data").mkdir(exist_ok=True)
    p = folder / name
    p.write_text(text)
    return p


# ------------------------------------------------------------------------------- outputs never destroy inputs
def test_compile_output_is_the_model(cli, work):
    _, _, err = cli(["compile", work / "ok.nir", "-o", work / "ok.nir"], work)
    assert "same file" in err[0] and "ok.nir" in err[0]


def test_compile_output_is_a_link_to_the_model(cli, work):
    (work / "link.json").symlink_to(work / "ok.nir")
    _, _, err = cli(["compile", work / "ok.nir", "-o", work / "link.json"], work)
    assert "same file" in err[0]


@pytest.mark.parametrize("target", ["ev.npy", "cfg.json"])
def test_simulate_output_is_an_input(cli, work, target):
    _, _, err = cli(["simulate", work / "cfg.json", "--events", work / "ev.npy", "-o", work / target], work)
    assert "same file" in err[0] and target in err[0]


def test_report_output_is_the_model(cli, work):
    _, _, err = cli(["report", work / "ok.nir", "-o", work / "ok.nir"], work)
    assert "same file" in err[0]


def test_train_output_is_the_config(cli, work):
    t = toml(work)
    _, _, err = cli(["train", t, "-o", t, "--no-progress"], work)
    assert "same file" in err[0] and "t.toml" in err[0]


def test_train_metrics_equal_model(cli, work):
    t = toml(work, TOML + 'metrics = "m.pt"\n')
    _, _, err = cli(["train", t, "--no-progress"], work)
    assert "output.metrics" in err[0] and "output.model" in err[0]


def test_train_creates_no_folders(cli, tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    t = toml(deep, TOML.replace('model = "m.pt"', 'model = "../../../x/y/m.pt"'))
    _, _, err = cli(["train", t, "--no-progress"], tmp_path)
    assert "does not exist" in err[0] and not (tmp_path / "x").exists()


@pytest.mark.parametrize("command", ["compile", "simulate", "report"])
def test_missing_output_folder_is_refused_by_every_command(cli, work, command):
    out = work / "nowhere" / "out.file"
    argv = {"compile": ["compile", work / "ok.nir", "-o", out],
            "simulate": ["simulate", work / "cfg.json", "--events", work / "ev.npy", "-o", out],
            "report": ["report", work / "ok.nir", "-o", out]}[command]
    _, _, err = cli(argv, work)
    assert "does not exist" in err[0] and "nowhere" in err[0]


def test_output_is_a_folder(cli, work):
    (work / "dir.json").mkdir()
    _, _, err = cli(["compile", work / "ok.nir", "-o", work / "dir.json"], work)
    assert "folder" in err[0]


def _as_unprivileged_user(fn):
    """Run ``fn()`` (-> (exit code, stderr text)) as the unprivileged user ``nobody`` when the tests run as root (CI
    does): a forked child drops root's privileges (setgroups, setgid, setuid) and runs it; root itself writes into any
    folder.  As any other user, ``fn`` runs here."""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        return fn()
    import pwd
    import pickle

    user = pwd.getpwnam("nobody")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 99
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            assert os.geteuid() == user.pw_uid and os.getegid() == user.pw_gid
            result = fn()
            code = 0
        except BaseException as e:  # report anything to the parent
            result = ("child failed", repr(e))
        with os.fdopen(w, "wb") as f:
            pickle.dump(result, f)
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    result = pickle.loads(data)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, result
    return result


def test_unwritable_output_folder_found_before_training(tmp_path_factory):
    """``snnc train`` whose model goes into a folder the user cannot write: one line, exit 2, before any training.
    Under root (CI) it runs as the user ``nobody`` on a root-owned folder (root could write anywhere)."""
    import contextlib
    import io
    import tempfile

    # imported before the privileges drop: the interpreter's own files may be readable by root only
    import importlib.readers  # noqa: F401
    import importlib.resources  # noqa: F401
    import tomllib  # noqa: F401

    import snnc.commands.train  # noqa: F401
    import snnc.runtime.training.config  # noqa: F401
    import snnc.runtime.training.train  # noqa: F401
    from snnc.cli import main

    base = Path(tempfile.mkdtemp(prefix="snnc-ro-"))  # /tmp: reachable by every user, unlike pytest's tmp folders
    try:
        base.chmod(0o755)
        ro = base / "ro"
        ro.mkdir()
        t = toml(base, TOML.replace('model = "m.pt"', 'model = "ro/m.pt"'))
        for p in (t, base / "data"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        ro.chmod(0o555)  # owner (root, or this user) and everybody else: no writing
        before = snapshot(base)

        def run():
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(["train", str(t), "--no-progress"])
            return code, err.getvalue()

        code, err = _as_unprivileged_user(run)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and "cannot write" in lines[0] and "ro" in lines[0], err
        assert snapshot(base) == before
    finally:
        ro.chmod(0o755)
        import shutil

        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------------- broken models refused
@pytest.mark.parametrize("kw, words", [
    ({"min_v_mem": -float("inf")}, ["min_v_mem is -inf", "min_v_mem=None"]),
    ({"spike_threshold": 0.0}, ["spike_threshold is 0"]),
    ({"spike_threshold": -2.0}, ["spike_threshold is -2"]),
    ({"weight": lambda w: w.fill_(float("inf"))}, ["weight holds", "+inf"]),
    ({"weight": lambda w: w.index_fill_(0, torch.tensor([1]), float("nan"))}, ["weight holds", "NaN"]),
])
def test_broken_torch_model_is_a_violation(cli, work, kw, words):
    model = small_torch(work / "bad.pt", **kw)
    _, out, err = cli(["compile", model, "-o", work / "bad.json"], work, rc=1)
    assert err[0].endswith(f"(listed above); nothing written to {work / 'bad.json'}")
    line = next(x for x in out.splitlines() if x.startswith("error["))
    assert words[0] in line and all(w in out for w in words), out
    assert "threshold_high" not in out and "threshold_low" not in out  # never an internal field
    assert "RuntimeWarning" not in out


def test_nan_weights_give_no_numpy_warning(cli, work):
    model = small_torch(work / "nan.pt", weight=lambda w: w.fill_(float("nan")))
    _, out, err = cli(["check", model], work, rc=1, lines=0)
    assert "error[parameter_value]: 0: weight holds 72 NaN of 72 values" in out


def test_negative_nir_threshold_names_v_threshold(cli, work):
    model = small_nir(work / "neg.nir", threshold=-1.0)
    _, out, _ = cli(["check", model], work, rc=1, lines=0)
    assert "error[threshold]: n: v_threshold is -1" in out


def test_complex_weights_are_refused(cli, work):
    model = small_torch(work / "c.pt", weight=lambda w: w.to(torch.complex64))
    _, _, err = cli(["compile", model, "-o", work / "c.json"], work)
    assert "0.weight" in err[0] and "complex" in err[0]


def test_weights_that_all_round_to_zero_are_an_error(cli, work):
    model = small_torch(work / "tiny.pt", weight=lambda w: w * 1e-9)
    _, out, _ = cli(["compile", model, "-o", work / "tiny.json"], work, rc=1)
    assert "error[quantization]: 0: all" in out and "round to 0" in out


# ------------------------------------------------------------------------------------------------ bounded work
def _zip_pt(path: Path, pkl: bytes, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compress) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/version", "3\n")
    return path


def test_pickle_opcode_bomb_stops_early(cli, work, monkeypatch):
    from snnc.compiler.frontends import safe_pickle as loader

    monkeypatch.setattr(loader, "MAX_PICKLE_OPS", 10_000)
    model = _zip_pt(work / "ops.pt", b"\x80\x02" + b"(0" * 20_000 + b"N.")
    _, _, err = cli(["check", model], work)
    assert "opcodes" in err[0]


def test_pickle_zip_bomb_stops_early(cli, work):
    model = _zip_pt(work / "bomb.pt", b"\x80\x02" + b"(0" * 3_000_000 + b"N.", zipfile.ZIP_DEFLATED)
    _, _, err = cli(["check", model], work)
    assert "inflates" in err[0]


def test_pickle_larger_than_the_bound(cli, work, monkeypatch):
    from snnc.compiler.frontends import safe_pickle as loader

    monkeypatch.setattr(loader, "MAX_PICKLE_BYTES", 1000)
    model = _zip_pt(work / "big.pt", b"\x80\x02" + b"(0" * 1000 + b"N.")
    _, _, err = cli(["check", model], work)
    assert "data.pkl" in err[0]


@pytest.fixture
def leak_cfg(tmp_path):
    import snnc

    model = small_torch(tmp_path / "leak.pt", bias=True)
    torch_model = torch.load(model, weights_only=False)
    torch_model["model"][0].bias.data = torch.tensor([0.5, -0.5, 0.25, 0.0])
    torch.save(torch_model, model)
    snnc.compile(str(model), output=str(tmp_path / "leak.json"), keep_biases=True)
    return tmp_path / "leak.json"


def test_late_event_with_leak_finishes(cli, leak_cfg):
    """10^12 leak ticks: closed form, instant; the output equals the reference simulator's."""
    ev = events(leak_cfg.parent / "late.npy", t=[5, 10 ** 15])
    code, out, _ = cli(["simulate", leak_cfg, "--events", ev, "--slow-clock", 1000, "--json"], leak_cfg.parent,
                       rc=0, lines=0)
    cli(["simulate", leak_cfg, "--events", ev, "--slow-clock", 1000, "--json", "--reference"], leak_cfg.parent,
        rc=0, lines=0)
    assert json.loads(out.splitlines()[-1])["input_events"] == 2


def test_leak_ticks_that_can_fire_are_bounded(cli, leak_cfg):
    ev = events(leak_cfg.parent / "late.npy", t=[5, 10 ** 15])
    _, _, err = cli(["simulate", leak_cfg, "--events", ev, "--slow-clock", 1000, "--leak-can-fire"],
                    leak_cfg.parent, rc=1)
    assert "leak" in err[0] and "--max-events" in err[0]


def test_npy_header_claiming_terabytes(cli, work):
    h = b"{'descr': '<i8', 'fortran_order': False, 'shape': (1620000000000,), }"
    h += b" " * (118 - len(h)) + b"\n"
    (work / "huge.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + b"\0" * 100)
    _, _, err = cli(["simulate", work / "cfg.json", "--events", work / "huge.npy"], work)
    assert "truncated" in err[0] and "huge.npy" in err[0]


def test_npz_member_claiming_terabytes(cli, work):
    h = b"{'descr': '<i8', 'fortran_order': False, 'shape': (1620000000000,), }"
    h += b" " * (118 - len(h)) + b"\n"
    with zipfile.ZipFile(work / "huge.npz", "w") as z:
        z.writestr("events.npy", b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + b"\0" * 100)
    _, _, err = cli(["simulate", work / "cfg.json", "--events", work / "huge.npz"], work)
    assert "truncated" in err[0]


def test_config_input_shape_huge(cli, work):
    cfg = json.loads((work / "cfg.json").read_text())
    cfg["snnc"]["input"]["shape"] = [2, 2_000_000, 1_000_000]
    (work / "big.json").write_text(json.dumps(cfg))
    _, _, err = cli(["simulate", work / "big.json", "--events", work / "ev.npy"], work)
    assert "snnc.input.shape" in err[0]


def test_deeply_nested_json(cli, work):
    (work / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    _, _, err = cli(["simulate", work / "deep.json", "--events", work / "ev.npy"], work)
    assert "nested" in err[0]


def test_huge_integer_literal_in_json(cli, work):
    text = (work / "cfg.json").read_text().replace('"format_version": 1', '"format_version": ' + "9" * 5000)
    (work / "digits.json").write_text(text)
    _, _, err = cli(["simulate", work / "digits.json", "--events", work / "ev.npy"], work)
    assert "digits" in err[0]


@pytest.mark.parametrize("old, new, words", [
    ("epochs = 1", "epochs = 1\nseed = 18446744073709551616", ["train.seed"]),
    ("timesteps = 4", "timesteps = 4\nstep_us = 100000000000000000000", ["encoding.step_us"]),
    ("channels = [4]", "channels = [1000000000000]", ["model.channels"]),
    ("[train]", "[train]\nthreads = " + "9" * 5000, ["digits"]),
    ("[train]", "[x]\ny = " + "[" * 5000 + "]" * 5000 + "\n[train]", ["nested"]),
    ("epochs = 1", "epochs = 1\nbatch_size = 60000", ["batch"]),
    ('kind = "mnist"', 'kind = "mnist"\nclasses = 1024', ["the output layer"]),
])
def test_hostile_toml(cli, work, old, new, words):
    text = TOML.replace("batch_size = 8\n", "") if "batch_size" in new else TOML
    t = toml(work, text.replace(old, new))
    _, _, err = cli(["train", t, "--no-progress"], work)
    assert all(w in err[0] for w in words), err


def test_hidden_layer_of_a_billion_neurons(cli, work):
    t = toml(work, TOML.replace("pools = [2]", "pools = [2]\nhidden = [1000000000]"))
    _, _, err = cli(["train", t, "--no-progress"], work)
    assert "model.hidden" in err[0]


def test_readout_to_the_end_of_time(cli, tmp_path):
    import snnc

    model = small_torch(tmp_path / "r.pt", shape=(2, 10, 10))
    snnc.compile(str(model), output=str(tmp_path / "r.json"), readout=True)
    ev = events(tmp_path / "late.npy", t=[5, 4 * 10 ** 18])
    _, _, err = cli(["simulate", tmp_path / "r.json", "--events", ev, "--slow-clock", 1000], tmp_path)
    assert "readout" in err[0] and "periods" in err[0]


@pytest.mark.parametrize("kind", ["zero", "strings", "no_input"])
def test_malformed_nir(cli, work, kind):
    path = work / f"{kind}.nir"
    if kind == "no_input":
        small_nir(path, with_input=False)
    else:
        small_nir(path)
        p = _weight_path(path)
        with h5py.File(path, "a") as f:
            del f[p]
            f[p] = np.ones((0, 2, 3, 3)) if kind == "zero" else np.array([b"abc"] * 72).reshape(4, 2, 3, 3)
    _, _, err = cli(["check", path], work)
    assert {"zero": "output channels", "strings": "not numbers", "no_input": "no Input node"}[kind] in err[0]


# -------------------------------------------------------------------------------------- HDF5 reaching outside
@pytest.mark.parametrize("kind", ["external_storage", "external_link", "virtual", "soft_link"])
def test_nir_file_reaching_other_files(cli, work, kind):
    path = small_nir(work / f"{kind}.nir")
    p = _weight_path(path)
    raw = work / "raw.bin"
    raw.write_bytes(np.full(72, 0.3).tobytes())
    with h5py.File(path, "a") as f:
        del f[p]
        if kind == "external_storage":
            f.create_dataset(p, shape=(4, 2, 3, 3), dtype="f8", external=[(str(raw), 0, 72 * 8)])
        elif kind == "external_link":
            f[p] = h5py.ExternalLink(str(work / "ok.nir"), p)
        elif kind == "soft_link":
            f["elsewhere"] = np.full((4, 2, 3, 3), 0.3)
            f[p] = h5py.SoftLink("/elsewhere")
        else:
            layout = h5py.VirtualLayout(shape=(4, 2, 3, 3), dtype="f8")
            layout[:] = h5py.VirtualSource(str(work / "ok.nir"), p, shape=(4, 2, 3, 3))
            f.create_virtual_dataset(p, layout)
    _, _, err = cli(["check", path], work)
    assert p in err[0] and {"external_storage": "external storage", "external_link": "external link",
                            "virtual": "virtual dataset", "soft_link": "soft link"}[kind] in err[0]


def test_nir_declaring_huge_datasets(cli, work):
    path = small_nir(work / "big.nir")
    p = _weight_path(path)
    with h5py.File(path, "a") as f:
        del f[p]
        f.create_dataset(p, shape=(4000, 2000, 300, 300), dtype="f8", chunks=(1, 1, 300, 300), compression="gzip")
    _, _, err = cli(["check", path], work)
    assert "MiB" in err[0]


# ------------------------------------------------------------------------------------ the simulator's own bound
@pytest.fixture
def runaway_cfg(tmp_path):
    """Three convs with large positive weights: every event fans out and each layer multiplies the events."""
    import snnc

    torch.manual_seed(0)
    layers, c = [], 2
    for _ in range(3):
        conv = nn.Conv2d(c, 16, 3, padding=1, bias=False)
        conv.weight.data = torch.rand_like(conv.weight) * 0.5 + 1.0
        layers += [conv, _iaf(min_v_mem=-1.0)]
        c = 16
    torch.save({"model": nn.Sequential(*layers), "input_shape": [2, 16, 16]}, tmp_path / "r.pt")
    snnc.compile(str(tmp_path / "r.pt"), output=str(tmp_path / "r.json"), clip=False)
    events(tmp_path / "ev.npy", n=2000, shape=(2, 16, 16))
    return tmp_path / "r.json"


@pytest.mark.parametrize("extra", [[], ["--reference", "--max-events", "2000"], ["--max-total-events", "50000"]])
def test_runaway_network_stops(cli, runaway_cfg, extra):
    _, _, err = cli(["simulate", runaway_cfg, "--events", runaway_cfg.parent / "ev.npy", *extra],
                    runaway_cfg.parent, rc=1)
    assert "simulation stopped" in err[0] and "the cascade grows most at core" in err[0]
    assert "snnc check" in err[0] and ("--max-total-events" if "--max-total-events" in extra else "--max-events") \
        in err[0]


def test_runaway_limit_must_be_positive(cli, work):
    _, _, err = cli(["simulate", work / "cfg.json", "--events", work / "ev.npy", "--max-events", "0"], work)
    assert "--max-events" in err[0]


def test_overflow_wrap_warns_when_it_changes_the_result(cli, tmp_path):
    """Negative integer weights without a floor: saturating, the state stops at -32768; wrapping, it jumps to
    +32668 and fires."""
    import snnc

    conv = nn.Conv2d(1, 1, 1, bias=False)
    conv.weight.data.fill_(-100.0)
    model = nn.Sequential(conv, _iaf(spike_threshold=1000.0, min_v_mem=None))
    torch.save({"model": model, "input_shape": [1, 4, 4]}, tmp_path / "w.pt")
    snnc.compile(str(tmp_path / "w.pt"), output=str(tmp_path / "w.json"))
    ev = tmp_path / "ev.npy"
    np.save(ev, make_events(np.zeros(400, int), np.zeros(400, int), np.arange(400), np.zeros(400, int)))
    _, _, err = cli(["simulate", tmp_path / "w.json", "--events", ev, "--overflow", "wrap"], tmp_path, rc=0)
    assert err[0].startswith("snnc: warning: --overflow wrap changed the result")
    cli(["simulate", tmp_path / "w.json", "--events", ev], tmp_path, rc=0, lines=0)


# ------------------------------------------------------------------------ messages that name what the user wrote
def test_float_timestamp_far_in_the_future(cli, work):
    ev = np.zeros(3, dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<f8"), ("p", "<i1")])
    ev["t"] = [0, 1, 1e30]
    np.save(work / "ft.npy", ev)
    _, _, err = cli(["simulate", work / "cfg.json", "--events", work / "ft.npy"], work)
    assert "event 2" in err[0] and "1e+30" in err[0] and "negative" not in err[0]


@pytest.mark.parametrize("argv", [
    ["check", "{m}", "--input-rate", "1000", "--activity", "-1"],
    ["check", "{m}", "--input-rate", "nan"],
    ["report", "{m}", "-o", "{d}/r.html", "--input-rate", "inf"],
    ["simulate", "{c}", "--events", "{e}", "--slow-clock", "inf"],
    ["simulate", "{c}", "--events", "{e}", "--slow-clock", "1e300"],
    ["simulate", "{c}", "--events", "{e}", "--slow-clock", "-5"],
    ["evaluate", "{m}", "--config", "{d}/none.toml", "--limit", "-1"],
    ["check", "{m}", "--input-rate", "1e308"],
    ["check", "{m}", "--input-rate", "5", "--activity", "1e9"],
])
def test_meaningless_numbers_refused(cli, work, argv):
    """Values argparse accepts but that mean nothing: refused before any work, naming the flag."""
    argv = [a.format(m=work / "ok.nir", c=work / "cfg.json", e=work / "ev.npy", d=work) for a in argv]
    _, _, err = cli(argv, work)
    assert any(a in err[0] for a in ("--activity", "--input-rate", "--slow-clock", "slow clock", "--limit")), err


@pytest.mark.parametrize("argv, words", [
    (["check", "{m}", "--decimate", "zz=4"], ["--decimate zz=4", "no chip layer"]),
    (["check", "{m}", "--decimate", "c=3"], ["--decimate c=3"]),
    (["check", "{m}", "--quantize", "nope"], ["quantization policy 'nope'"]),
])
def test_options_check_ignores_are_still_checked(cli, work, argv, words):
    """`snnc check` compiles nothing, but an option it would pass on to `compile` must still be valid."""
    argv = [a.format(m=work / "ok.nir") for a in argv]
    _, _, err = cli(argv, work)
    assert all(w in err[0] for w in words), err


def test_output_through_a_broken_link(cli, work):
    (work / "dangling.json").symlink_to(work / "gone" / "x.json")
    _, _, err = cli(["compile", work / "ok.nir", "-o", work / "dangling.json"], work)
    assert "leads nowhere" in err[0]


# ---------------------------------------------------------------------- damaged files of every kind, odd paths
def _truncated(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


@pytest.mark.parametrize("name", ["m.pt", "m.nir", "m.onnx", "e.npy", "c.json", "t.toml"])
@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "directory", "symlink_loop"])
def test_damaged_files(cli, work, name, damage):
    path = work / name
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        src = {"m.pt": small_torch(work / "src.pt"), "m.nir": work / "ok.nir", "e.npy": work / "ev.npy",
               "c.json": work / "cfg.json", "m.onnx": work / "ok.nir", "t.toml": toml(work, name="src.toml")}[name]
        _truncated(src, path)
    elif damage == "garbage":
        path.write_bytes(bytes(range(256)) * 7)
    elif damage == "directory":
        path.mkdir()
    else:
        (work / "loop_a").symlink_to(work / "loop_b")
        (work / "loop_b").symlink_to(work / "loop_a")
        path.symlink_to(work / "loop_a")
    argv = {".pt": ["check", path], ".nir": ["check", path], ".onnx": ["check", path],
            ".npy": ["simulate", work / "cfg.json", "--events", path],
            ".json": ["simulate", path, "--events", work / "ev.npy"],
            ".toml": ["train", path, "--no-progress"]}[path.suffix]
    if name == "t.toml":
        (work / "data").mkdir(exist_ok=True)
    _, _, err = cli(argv, work)
    assert name in err[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
@pytest.mark.parametrize("role", ["events", "config", "model"])
def test_inputs_that_never_end(cli, work, kind, role):
    """A FIFO without a writer would block forever, /dev/zero would never end: both refused at once."""
    name = {"events": "e.npy", "config": "c.json", "model": "m.pt"}[role]
    path = work / name
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    argv = {"events": ["simulate", work / "cfg.json", "--events", path],
            "config": ["simulate", path, "--events", work / "ev.npy"], "model": ["check", path]}[role]
    _, _, err = cli(argv, work)
    assert "not a regular file" in err[0] and name in err[0]


def test_output_to_a_device_is_refused(cli, work):
    """`-o /dev/null` would be replaced by a regular file (snnc renames a temporary file onto the output)."""
    _, _, err = cli(["compile", work / "ok.nir", "-o", "/dev/null"], work)
    assert "not a regular file" in err[0]
    assert not os.path.isfile("/dev/null")


def test_odd_file_names(cli, work):
    odd = work / "mo\u0308del\nnew line.nir"
    odd.write_bytes((work / "ok.nir").read_bytes())
    code, out, err = cli(["check", odd], work, rc=0, lines=0)
    _, _, err = cli(["check", work / "missing\nname.nir"], work)
    assert "\\n" in err[0]


def test_non_utf8_file_name(cli, work):
    name = os.fsdecode(b"bad\xff.nir")
    (work / name).write_bytes((work / "ok.nir").read_bytes())
    cli(["check", work / name], work, rc=0, lines=0)


def test_odd_layer_names_in_the_report(cli, work):
    """NIR node ids are the user's layer names; "$" and braces must not break the plots, "<" not the page."""
    nodes = {"in": nir.Input(input_type={"input": np.array([2, 10, 10])}),
             "conv $\\alpha${<b>": nir.Conv2d(input_shape=(10, 10), weight=np.full((4, 2, 3, 3), 0.3), stride=1,
                                           padding=0, dilation=1, groups=1, bias=np.zeros(4)),
             "if $x": nir.IF(r=np.ones(1), v_threshold=np.array([1.0])),
             "out": nir.Output(output_type={"output": np.array([4, 8, 8])})}
    names = list(nodes)
    nir.write(str(work / "odd.nir"), nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:]))))
    (work / "quiet").mkdir()
    cli(["report", work / "odd.nir", "-o", work / "r.html", "--events", work / "ev.npy"], work / "quiet", rc=0,
        lines=None)
    page = (work / "r.html").read_text()
    assert "&lt;b&gt;" in page and "<b>" not in page


def test_npy_holding_objects(cli, work):
    np.save(work / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    _, _, err = cli(["simulate", work / "cfg.json", "--events", work / "obj.npy"], work)
    assert "objects" in err[0]


# ----------------------------------------------------------------- wrong types in every field of a configuration
def _leaves(x, path=()):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(x, list) and x and not isinstance(x[0], (int, float)):
        for i, v in enumerate(x[:2]):
            yield from _leaves(v, path + (i,))
    else:
        yield path


def _set(x, path, value):
    for k in path[:-1]:
        x = x[k]
    x[path[-1]] = value


WRONG = ["text", None, [], {}, True, 1e308, -1, 2 ** 70, [[["x"]]]]


def test_wrong_types_in_every_config_field(cli, work, base):
    """Every leaf of the configuration (first two entries of each list) replaced by wrong values: never an internal
    error or traceback, and only 0 (the value was harmless), 1 or 2."""
    cfg = json.loads((base / "cfg.json").read_text())
    paths = list(_leaves(cfg))
    assert len(paths) > 50
    from snnc.cli import main

    bad = []
    for k, path in enumerate(paths):  # two wrong values per field, rotating through WRONG (a fast test)
        for value in (WRONG[k % len(WRONG)], WRONG[(k + 4) % len(WRONG)]):
            mutated = json.loads(json.dumps(cfg))
            _set(mutated, path, value)
            (work / "m.json").write_text(json.dumps(mutated))
            code = main(["simulate", str(work / "m.json"), "--events", str(work / "ev.npy"), "--json"])
            if code not in (0, 1, 2):
                bad.append((path, value, code))
    assert not bad, bad[:5]


def test_wrong_types_in_every_toml_key(cli, work):
    from snnc.runtime.training.config import SCHEMA, load_train_config
    from snnc.compiler.errors import SnncError

    t = toml(work)
    for sec, keys in SCHEMA.items():
        for key in keys:
            for value in ('"text"', "[1, 2, 3]", "{ a = 1 }", "-1", "1e999", "99999999999999999999", "true"):
                text = TOML + f"\n[{sec}]\n{key} = {value}\n" if f"[{sec}]" not in TOML else \
                    TOML.replace(f"[{sec}]\n", f"[{sec}]\n{key} = {value}\n", 1)
                t.write_text(text)
                try:
                    load_train_config(t)
                except SnncError as e:
                    assert "\n" not in str(e)
