"""Fitting recorded events to the model's input: the one-line error with the fix, --crop / --downsample in
software (input straight to a core) and by the chip's DVS layer (--dvs-input), which must give the same output."""
from __future__ import annotations

import numpy as np
import pytest

import snnc
from snnc.cli import main
from snnc.compiler.errors import SnncError
from snnc.runtime.eventfit import events_for_simulator, parse_crop, software_fit
from snnc.runtime.events import make_events, saccade_events
from snnc.runtime.simulator import Simulator


def _big_recording(seed=0, w=320, h=240, n=3000):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 200_000, n))
    return make_events(rng.integers(0, w, n), rng.integers(0, h, n), t, rng.integers(0, 2, n))


def test_too_large_recording_is_one_error_naming_sizes_and_fix(tmp_path, nir_cnn_config, capsys):
    np.save(tmp_path / "big.npy", _big_recording())
    assert main(["simulate", str(nir_cnn_config), "--events", str(tmp_path / "big.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "320x240" in err[0] and "2x34x34" in err[0] and "--crop" in err[0] and "--downsample" in err[0]


def test_software_crop_and_downsample(tmp_path, nir_cnn_config, capsys):
    ev = _big_recording()
    np.save(tmp_path / "big.npy", ev)
    assert main(["simulate", str(nir_cnn_config), "--events", str(tmp_path / "big.npy"), "--crop", "100,50,68,68",
                 "--downsample", "2", "-o", str(tmp_path / "o.npz")]) == 0
    out = capsys.readouterr().out
    assert "done in software" in out
    keep = (ev["x"] >= 100) & (ev["x"] < 168) & (ev["y"] >= 50) & (ev["y"] < 118)
    exp = ev[keep].copy()
    exp["x"] = (exp["x"] - 100) // 2
    exp["y"] = (exp["y"] - 50) // 2
    np.testing.assert_array_equal(software_fit(ev, (100, 50, 68, 68), 2), exp)
    direct = snnc.simulate(nir_cnn_config, exp)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npz")["output_events"], direct.output_events)


@pytest.mark.parametrize("bad", ["1,2,3", "a,b,c,d", "0,0,0,5", "-1,0,4,4"])
def test_bad_crop(bad):
    with pytest.raises(SnncError, match="--crop"):
        parse_crop(bad)


def test_dvs_layer_does_the_crop_and_pooling_and_agrees_with_software(tmp_path, nir_paper_cnn):
    cfg = tmp_path / "dvs.json"
    snnc.compile(snnc.load(nir_paper_cnn), target="speck2f", output=cfg, dvs_input=True)
    ev = saccade_events(np.random.default_rng(3).random((62, 62)), out_shape=(100, 100), rng=3)  # 100x100 sensor
    chip_sim = Simulator.from_config(cfg)
    ev_chip, note = events_for_simulator(chip_sim, ev, crop=(20, 16, 68, 68), downsample=2)
    assert "by the chip's DVS layer" in note and chip_sim.program.dvs.pooling == (2, 2)
    assert chip_sim.program.dvs.origin == (10, 8)
    chip = chip_sim.run(ev_chip)
    soft = Simulator.from_config(cfg).run(software_fit(ev, (20, 16, 68, 68), 2))
    assert len(chip.output_events) > 0
    np.testing.assert_array_equal(chip.output_events, soft.output_events)
    # an odd origin cannot be cropped by a pooling-2 DVS layer: software, and said so
    sim = Simulator.from_config(cfg)
    _, note = events_for_simulator(sim, ev, crop=(21, 16, 68, 68), downsample=2)
    assert "done in software" in note
