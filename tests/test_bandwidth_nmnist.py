"""The bandwidth queue check on the NIR paper's N-MNIST CNN, which ran on a real Speck at the recordings' own rate
(docs/speck.md §7): `snnc check --events` passes on a real N-MNIST recording and on saccade-encoded MNIST digits,
and fails with `synops_bandwidth` on the same events 10x faster, with a decimator hint that, applied, passes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED  # noqa: E402
from test_bandwidth import _check  # noqa: E402

from snnc.compiler.queue_model import DEFAULT_MAX_LATENCY_MS  # noqa: E402
from snnc.runtime.events import make_events, saccade_events, save_events  # noqa: E402

MNIST = Path(__file__).resolve().parents[1] / "examples" / "data" / "mnist"
NMNIST_BIN = SHARED / "data" / "events" / "sample_nmnist.bin"


def read_nmnist_bin(path) -> np.ndarray:
    """N-MNIST's .bin: 40-bit big-endian records, byte 0 x, byte 1 y, byte 2 bit 7 polarity, 23-bit time (us)."""
    b = np.fromfile(path, np.uint8).reshape(-1, 5).astype(np.int64)
    t = ((b[:, 2] & 0x7F) << 16) | (b[:, 3] << 8) | b[:, 4]
    return make_events(b[:, 0], b[:, 1], t, b[:, 2] >> 7)


def saccade_digit(index: int) -> np.ndarray:
    """examples/encode_mnist.py's encoding of MNIST test digit ``index``."""
    from snnc.runtime.training.data import load_mnist

    images, _ = load_mnist(MNIST)
    return saccade_events(images[index] / 255.0, out_shape=(34, 34), rng=np.random.default_rng(index))


def check_json(capsys, model, events, tmp_path, *extra):
    path = tmp_path / "ev.npy"
    save_events(path, events)
    code, out, err = _check(capsys, str(model), "--events", str(path), "--json", *extra)
    assert code in (0, 1), err
    return code, json.loads(out)


def faster(events, k=10):
    ev = events.copy()
    ev["t"] = ev["t"] // k
    return ev


def assert_passes_then_fails_10x_and_the_hint_fixes_it(capsys, model, events, tmp_path):
    code, rep = check_json(capsys, model, events, tmp_path)
    assert code == 0, [v["message"] for v in rep["violations"]]
    assert 0 < rep["max_added_latency_us"] <= DEFAULT_MAX_LATENCY_MS * 1e3
    assert rep["p99_added_latency_us"] <= rep["max_added_latency_us"]
    for row in rep["cores"]:
        assert {"utilisation", "max_backlog_synops", "max_added_delay_us"} <= set(row)
    code, rep = check_json(capsys, model, faster(events), tmp_path)
    assert code == 1
    (v,) = [v for v in rep["violations"] if v["rule"] == "synops_bandwidth"]
    assert v["measured"] > DEFAULT_MAX_LATENCY_MS * 1e3 and "core 3" in v["message"]  # the 128 -> 256 layer
    flags = v["hint"].split("`--decimate ")[1].split("`")[0].split(" --decimate ")
    assert flags and all(int(f.split("=")[1]) in (2, 4, 8, 16, 32, 128, 256, 512) for f in flags)
    extra = [a for f in flags for a in ("--decimate", f)]
    code, fixed = check_json(capsys, model, faster(events), tmp_path, *extra)
    assert code == 0, [v["message"] for v in fixed["violations"]]
    assert fixed["max_added_latency_us"] < rep["max_added_latency_us"]
    return rep, fixed


def test_nir_cnn_on_saccade_digit(capsys, tmp_path, nir_paper_cnn):
    if not MNIST.exists():
        pytest.skip("examples/data/mnist is not here")
    assert_passes_then_fails_10x_and_the_hint_fixes_it(capsys, nir_paper_cnn, saccade_digit(0), tmp_path)


@pytest.mark.skipif(not NMNIST_BIN.exists(), reason="../shared/data/events/sample_nmnist.bin is not here")
def test_nir_cnn_on_real_nmnist_recording(capsys, tmp_path, nir_paper_cnn):
    ev = read_nmnist_bin(NMNIST_BIN)
    assert len(ev) == 4325 and ev["t"].min() == 654 and ev["t"].max() == 311_175  # as its README says
    assert_passes_then_fails_10x_and_the_hint_fixes_it(capsys, nir_paper_cnn, ev, tmp_path)
