"""Event-file readers: N-MNIST/ATIS .bin, AEDAT 4 (two independent decoders), .npy/.npz, detection by content,
truncated and corrupt files, `snnc inspect` on event files, and `snnc simulate` giving the same output from every
format."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc.cli import main
from snnc.compiler.errors import SnncError
from snnc.runtime.eventio import detect_format, read_recording, write_events
from snnc.runtime.eventio.aedat4 import encode_aedat4, read_aedat4_flatbuffers
from snnc.runtime.eventio.atis_bin import decode_atis_bin, encode_atis_bin
from snnc.runtime.events import load_events, make_events, saccade_events

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NMNIST_BIN = EXAMPLES / "nmnist_sample.bin"
SHARED_AEDAT = Path(__file__).resolve().parents[2] / "shared" / "data" / "events" / "sample.aedat4"


def _record(x, y, p, ts):
    return bytes([x, y, (p << 7) | ((ts >> 16) & 0x7F), (ts >> 8) & 0xFF, ts & 0xFF])


def test_atis_bin_decodes_the_documented_bit_layout():
    raw = _record(3, 7, 1, 0x012345) + _record(33, 0, 0, 0x7FFFFF)
    ev = decode_atis_bin(raw, "t")
    assert ev.tolist() == [(3, 7, 0x012345, 1), (33, 0, 0x7FFFFF, 0)]


def test_atis_overflow_marker_adds_2_to_the_13_and_is_not_an_event():
    raw = _record(1, 1, 0, 100) + _record(0, 240, 0, 0) + _record(2, 2, 1, 50) + _record(0, 240, 0, 0) \
        + _record(3, 3, 1, 7)
    ev = decode_atis_bin(raw, "t")
    assert ev["t"].tolist() == [100, 8192 + 50, 2 * 8192 + 7]
    assert ev["x"].tolist() == [1, 2, 3]


def test_atis_writer_round_trips_long_recordings_through_overflow_markers(tmp_path):
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(0, 30_000_000, 500))  # 30 s: beyond the 23-bit field (8.4 s)
    ev = make_events(rng.integers(0, 34, 500), rng.integers(0, 34, 500), t, rng.integers(0, 2, 500))
    write_events(tmp_path / "e.bin", ev)
    assert (tmp_path / "e.bin").stat().st_size > 5 * 500  # markers were needed
    np.testing.assert_array_equal(load_events(tmp_path / "e.bin"), ev)


def test_real_nmnist_recording():
    rec = snnc.load_events(NMNIST_BIN)
    assert rec.format == "atis-bin" and len(rec) == 4325
    ev = rec.events
    assert (int(ev["t"].min()), int(ev["t"].max())) == (654, 311_175)
    assert int(ev["p"].sum()) == 2145 and rec.span == (34, 34)


def test_format_is_found_by_content_not_extension(tmp_path):
    data = NMNIST_BIN.read_bytes()
    (tmp_path / "recording.dat").write_bytes(data)
    assert detect_format(tmp_path / "recording.dat") == "atis-bin"
    ev = make_events([1], [2], [3], [1])
    with open(tmp_path / "events.bin", "wb") as f:  # a .npy under a .bin name
        np.save(f, ev)
    assert detect_format(tmp_path / "events.bin") == "npy"
    np.testing.assert_array_equal(load_events(tmp_path / "events.bin"), ev)
    (tmp_path / "a.aedat4").write_bytes(encode_aedat4(ev, (8, 8)))
    (tmp_path / "a.raw").write_bytes(encode_aedat4(ev, (8, 8)))
    assert detect_format(tmp_path / "a.raw") == "aedat4"
    np.savez(tmp_path / "z.npz", events=ev)
    np.testing.assert_array_equal(load_events(tmp_path / "z.npz"), ev)


@pytest.mark.parametrize("compression", ["none", "lz4", "zstd"])
def test_aedat4_written_here_reads_the_same_with_both_decoders(tmp_path, compression):
    pytest.importorskip("aedat", reason="the aedat package (snnc[aedat]) is the reference decoder")
    from snnc.runtime.eventio.aedat4 import read_aedat4_package

    ev = saccade_events(np.random.default_rng(1).random((28, 28)), rng=1)
    path = tmp_path / "s.aedat4"
    path.write_bytes(encode_aedat4(ev, (34, 34), compression, packet_events=1000))
    a, size_a = read_aedat4_package(path)
    b, size_b = read_aedat4_flatbuffers(path)
    assert size_a == size_b == (34, 34)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a["t"], ev["t"] - ev["t"].min())
    np.testing.assert_array_equal(a[["x", "y", "p"]], ev[["x", "y", "p"]])


@pytest.mark.skipif(not SHARED_AEDAT.is_file(), reason="the real AEDAT 4 recording lives in ../shared (not shipped)")
def test_real_aedat4_recording_two_decoders_agree():
    pytest.importorskip("aedat", reason="the aedat package (snnc[aedat]) is the reference decoder")
    from snnc.runtime.eventio.aedat4 import read_aedat4_package

    rec = snnc.load_events(SHARED_AEDAT)
    assert len(rec) == 111_954 and int(rec.events["p"].sum()) == 55_023 and rec.sensor_size == (320, 240)
    a, _ = read_aedat4_package(SHARED_AEDAT)
    b, size = read_aedat4_flatbuffers(SHARED_AEDAT)
    assert size == (320, 240)
    np.testing.assert_array_equal(a, b)


def _corrupt_files(tmp_path) -> dict[str, Path]:
    ev = make_events([1, 2, 3], [1, 2, 3], [10, 20, 30], [0, 1, 1])
    out = {}
    data = encode_atis_bin(ev)
    out["bin-truncated"] = tmp_path / "t.bin"
    out["bin-truncated"].write_bytes(data[:-2])
    full = encode_aedat4(ev, (8, 8), "lz4")
    out["aedat4-truncated"] = tmp_path / "t.aedat4"
    out["aedat4-truncated"].write_bytes(full[:-10])
    out["aedat4-header-cut"] = tmp_path / "h.aedat4"
    out["aedat4-header-cut"].write_bytes(full[:40])
    bad = bytearray(full)
    bad[-20:-10] = b"\xff" * 10  # inside the compressed packet
    out["aedat4-corrupt"] = tmp_path / "c.aedat4"
    out["aedat4-corrupt"].write_bytes(bytes(bad))
    out["aedat4-not"] = tmp_path / "n.aedat4"
    out["aedat4-not"].write_bytes(b"hello world, no header")
    np.save(tmp_path / "e.npy", ev)
    out["npy-truncated"] = tmp_path / "t.npy"
    out["npy-truncated"].write_bytes((tmp_path / "e.npy").read_bytes()[:-7])
    np.savez(tmp_path / "e.npz", events=ev)
    out["npz-truncated"] = tmp_path / "t.npz"
    out["npz-truncated"].write_bytes((tmp_path / "e.npz").read_bytes()[:-30])
    out["aedat3"] = tmp_path / "old.aedat"
    out["aedat3"].write_bytes(b"#!AER-DAT3.1\r\n#junk")
    out["unknown"] = tmp_path / "x.dat"
    out["unknown"].write_bytes(b"\x01\x02\x03")
    return out


@pytest.mark.parametrize("kind", ["bin-truncated", "aedat4-truncated", "aedat4-header-cut", "aedat4-corrupt",
                                  "aedat4-not", "npy-truncated", "npz-truncated", "aedat3", "unknown"])
def test_truncated_or_corrupt_file_is_one_clear_error_exit_2(tmp_path, capsys, kind):
    path = _corrupt_files(tmp_path)[kind]
    with pytest.raises(SnncError) as e:
        snnc.load_events(path)
    assert str(path) in str(e.value)
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("snnc: error:") and "Traceback" not in err[0]


def test_own_aedat4_reader_reports_truncation(tmp_path):
    path = _corrupt_files(tmp_path)["aedat4-truncated"]
    with pytest.raises(SnncError, match="truncated AEDAT 4"):
        read_aedat4_flatbuffers(path)


def test_inspect_event_file(capsys):
    assert main(["inspect", str(NMNIST_BIN)]) == 0
    out = capsys.readouterr().out
    assert "4,325" in out and "310.5 ms" in out and "ON 2,145" in out and "34x34" in out
    assert main(["inspect", str(NMNIST_BIN), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["events"] == 4325 and s["polarities"] == {"0": 2180, "1": 2145}
    assert s["peak_rate_hz"]["10 ms"] == pytest.approx(337 / 0.01)


def test_simulate_gives_identical_output_from_bin_npy_and_aedat4(tmp_path, nir_cnn_config):
    ev = load_events(NMNIST_BIN)
    np.save(tmp_path / "s.npy", ev)
    shifted = ev.copy()
    shifted["t"] -= ev["t"].min()  # AEDAT 4 times are read relative to the first event
    (tmp_path / "s.aedat4").write_bytes(encode_aedat4(ev, (34, 34)))
    outs = {}
    for name in ("bin", "npy", "aedat4"):
        src = NMNIST_BIN if name == "bin" else tmp_path / f"s.{name}"
        assert main(["simulate", str(nir_cnn_config), "--events", str(src), "-o", str(tmp_path / f"{name}.npz")]) == 0
        outs[name] = np.load(tmp_path / f"{name}.npz")
    a, b, c = outs["bin"], outs["npy"], outs["aedat4"]
    assert len(a["output_events"]) > 0
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k])
    t_shift = int(ev["t"].min())
    np.testing.assert_array_equal(a["output_events"]["t"] - t_shift, c["output_events"]["t"])
    np.testing.assert_array_equal(a["output_events"][["layer", "feature", "x", "y"]],
                                  c["output_events"][["layer", "feature", "x", "y"]])
