"""Training on an event data-set folder (class folders of N-MNIST .bin files): binning into time steps as
Qualia-SNN's IntegrateEventsByFixedDuration + Split2TimeSteps, the same events for the models and the chip."""
from __future__ import annotations

import numpy as np

from snnc.runtime.events import make_events, save_events
from snnc.runtime.training.config import train_config_from_dict
from snnc.runtime.training.data import Dataset
from snnc.runtime.training.evaluate import evaluate
from snnc.runtime.training.train import train_from_config


def _folder(tmp_path, n=12):
    rng = np.random.default_rng(0)
    for i in range(n):
        label = i % 2
        x = rng.integers(0, 4, 60) + 4 * label  # class 0 on the left half, class 1 on the right half
        t = np.sort(np.concatenate([rng.integers(0, 4000, 55), rng.integers(4000, 9000, 5)]))  # 5 after the steps
        (tmp_path / str(label)).mkdir(exist_ok=True)
        save_events(tmp_path / str(label) / f"{i:03d}.bin", make_events(x, rng.integers(0, 8, 60), t,
                                                                         rng.integers(0, 2, 60)))
    return tmp_path


def test_binning_is_integrate_by_fixed_duration_then_split_to_time_steps(tmp_path):
    _folder(tmp_path)
    cfg = train_config_from_dict({"dataset": {"kind": "events", "path": str(tmp_path), "shape": [2, 8, 8], "classes": 2,
                                    "train": [0, 7], "eval": [8, 11]},
                        "encoding": {"kind": "events", "timesteps": 4, "step_us": 1000},
                        "model": {"channels": [2], "kernels": [3]}})
    ds = Dataset(cfg, "train")
    assert ds.labels.tolist() == [0, 1] * 4  # classes in turn
    ev = ds.events(0)
    assert len(ev) == 55 and ev["t"].max() < 4000  # events after timesteps * step_us are left out, for the chip too
    fr = ds.frames([0]).numpy()[0]
    assert fr.shape == (4, 2, 8, 8)
    for k in range(4):  # frame k counts the events with t // step_us == k, per polarity and pixel
        sel = ev[(ev["t"] // 1000) == k]
        exp = np.zeros((2, 8, 8))
        np.add.at(exp, (sel["p"].astype(int), sel["y"].astype(int), sel["x"].astype(int)), 1)
        np.testing.assert_array_equal(fr[k], exp)


def test_training_on_a_bin_class_folder_gives_the_three_figures(tmp_path):
    data = _folder(tmp_path / "data") if (tmp_path / "data").mkdir() is None else None
    toml = tmp_path / "ev.toml"
    toml.write_text(f"""
[dataset]
kind = "events"
path = "{data}"
shape = [2, 8, 8]
classes = 2
train = [0, 7]
eval = [8, 11]
[encoding]
kind = "events"
timesteps = 4
step_us = 1000
[model]
channels = [2]
kernels = [3]
[train]
epochs = 3
batch_size = 4
threads = 1
""")
    pt = train_from_config(toml, progress=False)
    res = evaluate(pt, toml)
    assert res["samples"] == 4
    for k in ("float_accuracy", "quantized_accuracy", "chip_accuracy", "agreement"):
        assert res[k] is not None
