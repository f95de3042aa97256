"""What a new user meets in the first hour: usage on stderr, one-line refusals that name the fix, the kernel's
first compilation announced, paths echoed as typed, progress bars that do not flood a log file."""
import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snnc.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_bare_snnc_prints_usage_on_stderr_and_fails():
    r = subprocess.run([sys.executable, "-m", "snnc"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("usage: snnc") and "COMMAND" in r.stderr


def test_simulate_given_a_model_says_compile_first(capsys, tmp_path):
    events = tmp_path / "ev.npy"
    events.write_bytes(b"")  # never read: the model is refused first
    code, out, err = run_cli(capsys, "simulate", ROOT / "examples" / "nmnist_cnn.nir", "--events", events)
    assert code == 2 and out == ""
    assert "simulate runs a compiled configuration: snnc compile first" in err
    assert "NIR" in err and "codec" not in err and len(err.strip().splitlines()) == 1


def test_simulate_given_a_torch_model_says_compile_first(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    pt = tmp_path / "m.pt"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3)), pt)
    code, _, err = run_cli(capsys, "simulate", pt, "--events", tmp_path / "ev.npy")
    assert code == 2 and "snnc compile first" in err


def test_inspect_a_folder_asks_for_a_model_or_event_file(capsys, tmp_path):
    code, out, err = run_cli(capsys, "inspect", tmp_path)
    assert code == 2 and out == ""
    assert "is a folder" in err and "model or event file" in err


def test_train_echoes_the_paths_as_typed(tmp_path, monkeypatch):
    from snnc.runtime.training.config import load_train_config

    monkeypatch.chdir(ROOT)
    cfg = load_train_config("examples/mnist_speck.toml")
    assert str(cfg.output["model"]) == "examples/mnist_speck.pt"  # not /work/.../examples/mnist_speck.pt
    assert str(cfg.dataset["path"]) == "examples/data/mnist"
    monkeypatch.chdir(ROOT / "examples")
    assert str(load_train_config("mnist_speck.toml").output["model"]) == "mnist_speck.pt"


def test_progress_bar_writes_start_and_end_only_when_not_a_terminal():
    from snnc.runtime.progress import progress_bar

    stream = io.StringIO()  # not a TTY, like a log file
    bar = progress_bar(range(6), desc="evaluate", file=stream)
    for i in bar:
        time.sleep(0.15)  # slower than tqdm's redraw interval on a terminal (0.1 s)
        bar.set_postfix(n=i, refresh=False)
    text = stream.getvalue()
    assert text.count("evaluate") == 2, text  # the first state and the last one, not one per item
    assert "6/6" in text


class _FakeKernel:
    signatures = []


def test_first_kernel_compilation_is_announced_with_its_time():
    from snnc.runtime.simulator.driver import compile_notice

    err = io.StringIO()
    with compile_notice(_FakeKernel(), stream=err, after_s=0.05):
        time.sleep(0.3)  # numba compiling
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("snnc: compiling the simulator kernel")
    assert lines[1].startswith("snnc: compiled the simulator kernel in ") and lines[1].endswith(" s")
    assert 0.2 <= float(lines[1].split(" in ")[1][:-2]) < 5


def test_a_cached_or_loaded_kernel_is_not_announced():
    from snnc.runtime.simulator.driver import compile_notice

    err = io.StringIO()
    with compile_notice(_FakeKernel(), stream=err, after_s=0.5):
        pass  # loaded from numba's cache: fast
    loaded = _FakeKernel()
    loaded.signatures = ["(int64,)"]
    with compile_notice(loaded, stream=err, after_s=0.0):
        time.sleep(0.05)  # already compiled in this process
    assert err.getvalue() == ""


def test_simulate_warns_when_the_congestion_balancer_is_enabled(capsys, tmp_path, nir_paper_cnn):
    import json

    from snnc.runtime.events import poisson_events, save_events

    cfg = tmp_path / "cnn.json"
    assert run_cli(capsys, "compile", nir_paper_cnn, "-o", cfg)[0] == 0
    data = json.loads(cfg.read_text())
    data["cnn_layers"][1]["input_congestion_balancer_enable"] = True
    cfg.write_text(json.dumps(data))
    import numpy as np

    ev = tmp_path / "ev.npy"
    save_events(ev, poisson_events(np.full((2, 34, 34), 0.5), duration_us=20_000, rng=0))
    code, out, err = run_cli(capsys, "simulate", cfg, "--events", ev)
    assert code == 0 and "output events" in out
    assert "input_congestion_balancer_enable is on for core 1" in err and "with the balancer off" in err
