"""Training end to end: what is trained is what the compiled configuration runs on the simulated chip."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import snnc
from snnc.compiler.errors import SnncError
from snnc.runtime.events import events_to_frames
from snnc.runtime.simulator import Simulator
from snnc.runtime.training.config import train_config_from_dict
from snnc.runtime.training.data import Dataset
from snnc.runtime.training.evaluate import evaluate
from snnc.runtime.training.models import build_model
from snnc.runtime.training.train import save_model, synops_loss, train_from_config, train_model

MNIST = Path(__file__).resolve().parents[1] / "examples" / "data" / "mnist"


def tiny_toml(tmp_path: Path, **extra) -> Path:
    text = f"""
[dataset]
path = "{MNIST}"
train = [0, 199]
eval = [8000, 8099]
[encoding]
timesteps = 4
max_rate = 1.0
[model]
channels = [4]
kernels = [5]
strides = [2]
paddings = [0]
pools = [2]
[train]
epochs = 4
batch_size = 20
lr = 0.01
threads = 1
[output]
model = "tiny.pt"
"""
    for k, v in extra.items():
        text += f"{k}\n{v}\n"
    p = tmp_path / "tiny.toml"
    p.write_text(text)
    return p


def test_integer_model_and_simulator_give_the_same_spike_counts(tmp_path):
    """docs/speck.md §10's regime: non-negative integer weights below threshold, subtract reset, no bias."""
    cfg = train_config_from_dict({"dataset": {"path": str(MNIST), "eval": [8000, 8001]}, "encoding": {"timesteps": 5,
                        "max_rate": 1.0}, "model": {"channels": [3], "kernels": [3], "pools": [2], "hidden": [6]}})
    net = build_model(cfg)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for layer in net.layers:  # integers 0..127 with 127 present and threshold 200: the integer scale is 1
            layer.weight.copy_(torch.randint(0, 128, layer.weight.shape, generator=g).float())
            layer.weight.view(-1)[0] = 127.0
            layer.threshold, layer.threshold_low = 200.0, -200.0
    assert all(layer.quant().scale == 1.0 for layer in net.layers)
    path = save_model(tmp_path / "m.pt", cfg, net)
    config = snnc.compile(snnc.load(path))
    sim = Simulator.from_config(config)
    ds = Dataset(cfg, "eval")
    for i in range(2):
        ev = ds.events(i)
        x = torch.from_numpy(events_to_frames(ev, ds.shape, ds.T, ds.duration_us)[None].astype(np.float32))
        with torch.no_grad():
            net(x, quantized=True)
        res = sim.run(ev)
        for entry, layer in zip(config["snnc"]["layers"], net.layers):
            ours = layer.last_spikes.sum(1)[0].numpy().reshape(res.spike_counts[entry["core"]].shape)
            assert ours.sum() > 0
            np.testing.assert_array_equal(ours.astype(np.int64), res.spike_counts[entry["core"]])


def test_tiny_train_compile_simulate(tmp_path, capsys):
    toml = tiny_toml(tmp_path)
    from snnc.cli import main

    assert main(["train", str(toml), "--no-progress"]) == 0
    out = tmp_path / "tiny.pt"
    assert out.is_file() and (tmp_path / "tiny.csv").is_file()
    rows = list(csv.DictReader(open(tmp_path / "tiny.csv")))
    assert len(rows) == 4 and {"epoch", "loss", "train_accuracy", "eval_accuracy"} <= set(rows[0])

    # the saved model loads without --trust and holds the integers it was trained with
    graph = snnc.load(out)  # the safe loader: weights_only with an allow-list
    assert graph is not None
    from snnc.runtime.training.evaluate import _safe_classes

    with torch.serialization.safe_globals(_safe_classes()):
        saved = torch.load(out, weights_only=True, map_location="cpu")
    assert saved["input_shape"] == [1, 28, 28]
    convs = [m for m in saved["model"] if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    thresholds = [float(m.spike_threshold) for m in saved["model"] if hasattr(m, "spike_threshold")]
    for m, th in zip(convs, thresholds):
        w = m.weight.detach()
        assert m.bias is None
        assert torch.equal(w, torch.round(w)) and w.abs().max() <= 127 and w.abs().max() < th
        assert th == round(th)

    config = snnc.compile(graph)
    assert all(layer["scale"] == 1.0 for layer in config["snnc"]["layers"])

    capsys.readouterr()
    assert main(["evaluate", str(out), "--config", str(toml), "--limit", "100", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["samples"] == 100
    for k in ("float_accuracy", "quantized_accuracy", "chip_accuracy", "agreement"):
        assert 0.0 <= res[k] <= 1.0
    assert res["quantized_accuracy"] > 0.25  # a few epochs on 200 images already beat chance (0.1)
    assert res["agreement"] >= 0.8


def test_evaluate_a_config_json_gives_only_the_chip_figure(tmp_path):
    toml = tiny_toml(tmp_path)
    pt = train_from_config(toml, progress=False)
    cfg_json = tmp_path / "tiny.json"
    snnc.compile(snnc.load(pt), output=cfg_json)
    res = evaluate(cfg_json, toml, limit=10)
    assert res["float_accuracy"] is None and res["quantized_accuracy"] is None and res["agreement"] is None
    # the chip figure is the configuration's, however it is reached: the same as evaluating the model it came from
    whole = evaluate(pt, toml, limit=10)
    assert res["samples"] == whole["samples"] == 10 and res["chip_accuracy"] == whole["chip_accuracy"]
    assert whole["quantized_accuracy"] is not None, whole


def test_evaluate_bad_input_exits_2(tmp_path, capsys):
    from snnc.cli import main

    toml = tiny_toml(tmp_path)
    assert main(["evaluate", str(tmp_path / "absent.pt"), "--config", str(toml)]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    assert main(["evaluate", str(tmp_path / "junk.pt"), "--config", str(toml)]) == 2
    assert main(["evaluate", str(tmp_path / "junk.pt"), "--config", str(toml), "--limit", "0"]) == 2


def test_synops_loss_penalizes_only_above_budget():
    stats = [{"synops": torch.tensor(50.0)}, {"synops": torch.tensor(300.0)}]
    assert float(synops_loss(stats, [100.0, 100.0])) == pytest.approx(2.0)
    assert float(synops_loss(stats, [1000.0])) == 0.0
    with pytest.raises(SnncError, match="synops_budget has 3 values"):
        synops_loss(stats, [1.0, 2.0, 3.0])


def test_regularizers_lower_activity(tmp_path):
    """A strong SynOps budget gives a network that spends fewer SynOps than one trained without it."""
    toml = tiny_toml(tmp_path)
    from snnc.runtime.training.config import load_train_config

    figures = []
    for weight in (0.0, 5.0):
        cfg = load_train_config(toml)
        cfg.regularization.update(synops_weight=weight, synops_budget=[100.0])
        cfg.output["metrics"] = tmp_path / f"m{weight}.csv"
        _, rows = train_model(cfg, progress=False)
        figures.append(rows[-1]["synops_per_sample"])
    assert figures[1] < figures[0]


def test_event_file_dataset_trains_and_evaluates(tmp_path):
    """A folder of .npy event files with labels.csv, binned into time steps, through training and the chip."""
    from snnc.runtime.events import make_events, save_events

    rng = np.random.default_rng(0)
    lines = ["file,label"]
    for i in range(12):
        label = i % 2
        n = 60
        x = rng.integers(0, 4, n) + 4 * label  # class 0 on the left half, class 1 on the right half
        ev = make_events(x, rng.integers(0, 8, n), np.sort(rng.integers(0, 4000, n)), rng.integers(0, 2, n))
        save_events(tmp_path / f"s{i}.npy", ev)
        lines.append(f"s{i}.npy,{label}")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    toml = tmp_path / "ev.toml"
    toml.write_text(f"""
[dataset]
kind = "events"
path = "{tmp_path}"
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
    assert res["samples"] == 4 and res["chip_accuracy"] is not None and res["agreement"] >= 0.5
    ds = Dataset(train_config_from_dict({"dataset": {"kind": "events", "path": str(tmp_path), "shape": [2, 8, 8],
                                           "classes": 2, "train": [0, 7], "eval": [8, 11]},
                               "encoding": {"kind": "events", "timesteps": 4},
                               "model": {"channels": [2], "kernels": [3]}}), "train")
    fr = ds.frames([0, 1])
    assert fr.shape == (2, 4, 2, 8, 8) and float(fr[0].sum()) == 60.0


def test_resnet_block_runs_on_the_chip_as_trained(tmp_path):
    """A residual block (two cores feeding one) in the exact regime: the simulator's spike counts are ours."""
    cfg = train_config_from_dict({"dataset": {"path": str(MNIST), "eval": [8000, 8000]}, "encoding": {"timesteps": 4,
                        "max_rate": 1.0}, "model": {"kind": "resnet", "channels": [2], "kernels": [3], "strides": [2],
                                                    "pools": [2]}})
    net = build_model(cfg)
    assert net.roles == ["plain", "res_a", "res_b", "plain"]
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.copy_(torch.randint(0, 128, layer.weight.shape, generator=g).float())
            layer.weight.view(-1)[0] = 127.0
            layer.threshold, layer.threshold_low = 300.0, -300.0
    path = save_model(tmp_path / "r.pt", cfg, net)
    config = snnc.compile(snnc.load(path))
    assert len(config["snnc"]["layers"]) == 4
    sim = Simulator.from_config(config)
    ds = Dataset(cfg, "eval")
    ev = ds.events(0)
    x = torch.from_numpy(events_to_frames(ev, ds.shape, ds.T, ds.duration_us)[None].astype(np.float32))
    with torch.no_grad():
        out = net(x, quantized=True)
    res = sim.run(ev)
    names = [entry["name"] for entry in config["snnc"]["layers"]]
    assert names == ["0", "3.conv_a", "3.conv_b", "5"]  # conv, the block's two convs, the output layer
    assert {"layer": 3, "pooling": 2} in config["snnc"]["layers"][0]["destinations"]  # the skip: core 0 -> output
    for entry, layer in zip(config["snnc"]["layers"], net.layers):
        ours = layer.last_spikes.sum(1)[0].numpy().reshape(res.spike_counts[entry["core"]].shape)
        assert ours.sum() > 0
        np.testing.assert_array_equal(ours.astype(np.int64), res.spike_counts[entry["core"]])
    assert int(out.sum()) > 0
