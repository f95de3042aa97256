"""Qualia-SNN configuration files (runtime/training/qualia_config.py): what maps onto Speck is translated into
snnc's training configuration; what does not is refused before training with `snnc check`'s report, each line
naming the TOML key."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from snnc.compiler.errors import SnncError
from snnc.runtime.training.config import load_train_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MNIST = EXAMPLES / "data" / "mnist"

HEAD = f"""
[bench]
name = "t"
seed = 3
first_run = 1
last_run = 1
plugins = ["qualia_plugin_snn"]
[learningframework]
kind = "SpikingJelly"
[dataset]
kind = "MNIST"
params.path = "{MNIST}"
"""

SMALL = HEAD + """
[model_template]
kind = "QuantizedSCNN"
epochs = 2
params.timesteps = 3
params.dims = 2
params.paddings = [1]
params.strides = [2]
params.dropouts = 0
params.fc_units = []
[[model]]
name = "small"
params.filters = [4]
params.kernel_sizes = [3]
params.pool_sizes = [2]
[model.params.neuron]
kind = "IFNode"
params.v_threshold = 2.0
params.v_reset = false
"""

# The big SCNN of the Qualia-SNN guide style: 64-128-256 filters and fc_units = [4096, 4096], multi-step, cupy.
BIG_SCNN = HEAD + """
[model_template]
kind = "SCNN"
epochs = 10
batch_size = 32
params.timesteps = 4
params.dims = 2
[model_template.optimizer]
kind = "Adam"
params.lr = 0.001
[[model]]
name = "big_scnn"
params.filters = [64, 128, 256]
params.kernel_sizes = [3, 3, 3]
params.paddings = [1, 1, 1]
params.strides = [1, 1, 1]
params.pool_sizes = [2, 2, 2]
params.dropouts = 0
params.fc_units = [4096, 4096]
params.batch_norm = false
[model.params.neuron]
kind = "IFNode"
params.v_threshold = 1.0
params.v_reset = false
params.detach_reset = true
params.step_mode = "m"
params.backend = "cupy"
"""

# Qualia-SNN's SResNetv1-18 example (the SResNet template's own documentation).
SRESNET18 = HEAD.replace('"SpikingJelly"', '"SpikingJellyMultiStep"') + """
[model_template]
kind = "SResNet"
epochs = 10
[model_template.params]
filters      = [64, 64, 128, 256, 512]
kernel_sizes = [ 7,  3,   3,   3,   3]
paddings     = [ 3,  1,   1,   1,   1]
strides      = [ 2,  1,   1,   1,   1]
num_blocks   = [     2,   2,   2,   2]
prepool      = 1
postpool     = 'max'
batch_norm   = true
dims         = 2
timesteps    = 4
[[model]]
name = "SResNetv1-18"
[model.params.neuron]
kind = 'IFNode'
params.v_reset = false
params.v_threshold = 1.0
params.detach_reset = true
params.step_mode = 'm'
params.backend = 'torch'
"""


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "qualia.toml"
    p.write_text(textwrap.dedent(text))
    return p


def refusal(tmp_path, text) -> SnncError:
    with pytest.raises(SnncError) as e:
        load_train_config(write(tmp_path, text))
    return e.value


def test_issue_example_translates():
    cfg = load_train_config(EXAMPLES / "qualia_scnn.toml")
    assert cfg.model == {"kind": "scnn", "channels": [16, 32], "kernels": [3, 3], "strides": [1, 1],
                         "paddings": [1, 1], "pools": [2, 2], "hidden": []}
    assert (cfg.neuron["model"], cfg.neuron["threshold"], cfg.neuron["reset"]) == ("iaf", 1.0, "subtract")
    assert cfg.encoding["timesteps"] == 4 and cfg.train["epochs"] == 10 and cfg.train["seed"] == 42
    assert cfg.quantization == {"enabled": True, "start_epoch": 5, "target": "speck2f"}
    assert cfg.dataset["path"] == MNIST
    assert any("max-pools" in n and "sum pooling" in n for n in cfg.notes)
    e = cfg.qualia.energy
    assert (e.timesteps, e.mem_width, e.fifo_size, e.op_add, e.sram) == (4, 8, 64, "ICONIP", "old")


def test_no_effect_keys_are_accepted_and_said(tmp_path):
    text = SMALL.replace('params.v_reset = false', 'params.v_reset = false\nparams.step_mode = "m"\n'
                         'params.backend = "cupy"\nparams.detach_reset = false')
    text = text.replace("params.fc_units = []", "params.fc_units = []\nparams.quant_params.bits = 4\n"
                        "params.quant_params.LSQ = true")
    cfg = load_train_config(write(tmp_path, text))
    notes = "\n".join(cfg.notes)
    assert "backend = 'cupy': no effect" in notes and "step_mode = 'm': no effect" in notes
    assert "detach_reset = false" in notes and "bits = 4" in notes and "int8" in notes and "LSQ: no effect" in notes
    assert cfg.model["strides"] == [2] and cfg.neuron["threshold"] == 2.0 and cfg.quantization["start_epoch"] == 0


@pytest.mark.parametrize("old,new,key", [
    ("params.filters = [4]", "params.filtres = [4]", "model[0].params.filtres"),
    ('kind = "IFNode"', 'kind = "IFNode"\nparams.v_thresold = 1.0', "model[0].params.neuron.params.v_thresold"),
    ("[bench]", "[bench]\nlast_rnu = 1", "bench.last_rnu"),
    ("epochs = 2", "epochs = 2\nlearning_rate = 0.1", "model_template.learning_rate"),
])
def test_unknown_keys_are_errors(tmp_path, old, new, key):
    err = refusal(tmp_path, SMALL.replace(old, new))
    assert f"unknown key {key};" in str(err) and "\n" not in str(err) and err.exit_code == 2


def test_lif_is_refused_naming_the_key(tmp_path):
    err = refusal(tmp_path, SMALL.replace('kind = "IFNode"', 'kind = "LIFNode"'))
    assert "error[neuron_model]: model[0].params.neuron.kind: LIFNode is a leaky neuron" in str(err)
    assert err.exit_code == 2
    err = refusal(tmp_path, SMALL.replace('kind = "IFNode"', 'kind = "ATIF"'))
    assert "error[neuron_model]: model[0].params.neuron.kind: ATIF is an adaptive-threshold neuron" in str(err)


def test_reset_values(tmp_path):
    cfg = load_train_config(write(tmp_path, SMALL.replace("params.v_reset = false", "params.v_reset = 0.0")))
    assert cfg.neuron["reset"] == "zero"
    cfg = load_train_config(write(tmp_path, SMALL.replace("params.v_reset = false\n", "")))
    assert cfg.neuron["reset"] == "zero" and any("SpikingJelly's default" in n for n in cfg.notes)
    err = refusal(tmp_path, SMALL.replace("params.v_reset = false", "params.v_reset = 0.5"))
    assert "error[reset]: model[0].params.neuron.params.v_reset" in str(err)


def test_fc_4096_is_refused_by_the_chip_rules(tmp_path):
    err = refusal(tmp_path, SMALL.replace("params.fc_units = []", "params.fc_units = [4096, 4096]"))
    text = str(err)
    assert "error[channels]: model_template.params.fc_units[0], model_template.params.fc_units[1]: 4096 output " \
           "channels exceed 1024" in text
    assert "error[kernel_memory]: model_template.params.fc_units[0]" in text
    assert err.exit_code == 1  # only chip rules: the model does not fit


def test_guide_big_scnn_refused_per_layer(tmp_path):
    err = refusal(tmp_path, BIG_SCNN)
    text = str(err)
    # the report of `snnc check`: the per-layer table under TOML names, then every violation with its key
    assert re.search(r"filters\[1\] .* 64x14x14 -> 128x14x14 +131072/65536", text)
    assert "error[kernel_memory]: model[0].params.filters[1]: needs 131072 words of kernel memory" in text
    assert "error[kernel_memory]: model[0].params.filters[2]: needs 524288 words of kernel memory" in text
    assert "error[channels]: model[0].params.fc_units[0], model[0].params.fc_units[1]" in text
    assert "filters[0]:" not in text  # the first conv fits
    assert "note: model[0].params.neuron.params.backend = 'cupy': no effect" in text
    assert err.exit_code == 1


def test_guide_sresnet18_refused_per_layer(tmp_path):
    text = str(refusal(tmp_path, SRESNET18))
    for line in ("error[batch_norm]: model_template.params.batch_norm",
                 "error[qualia_resnet]: model_template.params.num_blocks",
                 "error[qualia_resnet]: model_template.params.filters[2]: 64 -> 128 channels needs a projection",
                 "error[pooling]: model_template.params.postpool: postpool = 'max'",
                 "error[kernel_memory]: model_template.params.filters[2] block 1 conv1: needs 131072 words",
                 "error[neuron_memory]: model_template.params.filters[4] block 1 conv1",
                 "error[layer_count]"):
        assert line in text, line


def test_small_sresnet_maps_onto_snnc_resnet(tmp_path):
    text = HEAD + """
    [model_template]
    kind = "QuantizedSResNet"
    epochs = 1
    params.filters = [8, 8]
    params.kernel_sizes = [3, 3]
    params.paddings = [1, 1]
    params.strides = [2, 1]
    params.num_blocks = [1]
    params.postpool = "avg"
    params.timesteps = 2
    params.dims = 2
    [[model]]
    name = "r"
    params.neuron.kind = "QuantizedIFNode"
    params.neuron.params.v_reset = false
    """
    cfg = load_train_config(write(tmp_path, text))
    assert cfg.model["kind"] == "resnet" and cfg.model["channels"] == [8] and cfg.model["strides"] == [2]
    assert any("postpool" in n for n in cfg.notes)


def test_event_dataset_and_preprocessing_refused(tmp_path):
    text = SMALL.replace('kind = "MNIST"', 'kind = "DVSGesture"')
    err = refusal(tmp_path, text)
    assert "error[qualia_dataset]: dataset.kind: DVSGesture: event data sets are not read" in str(err)
    text = SMALL + '[[preprocessing]]\nkind = "Split2TimeSteps"\nparams.chunks = 4\n'
    err = refusal(tmp_path, text)
    assert "error[qualia_preprocessing]: preprocessing[0].kind" in str(err)
    err = refusal(tmp_path, SMALL + '[[preprocessing]]\nkind = "Split2TimeSteps"\nparams.chuncks = 4\n')
    assert "unknown key preprocessing[0].params.chuncks" in str(err)


def test_cli_refuses_before_training_and_writes_nothing(tmp_path, capsys):
    from snnc.cli import main

    p = write(tmp_path, SMALL.replace('kind = "IFNode"', 'kind = "LIFNode"'))
    assert main(["train", str(p), "-o", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert "error[neuron_model]: model[0].params.neuron.kind" in err and "Traceback" not in err
    assert not (tmp_path / "m.pt").exists()


def test_translated_config_trains(tmp_path):
    """A few batches of the small configuration train and save a model that compiles (the full example runs in
    the README)."""
    from snnc.runtime.training.train import save_model, train_model

    energy = ('[[postprocessing]]\nkind = "EnergyEstimationMetric"\nparams.mem_width = 16\nparams.fifo_size = 8\n'
              'params.sram_estimation_type = "new"\n')
    cfg = load_train_config(write(tmp_path, SMALL + energy))
    cfg.dataset["train"], cfg.dataset["eval"] = [0, 63], [64, 95]
    cfg.train["epochs"], cfg.train["batch_size"] = 1, 32
    cfg.output["metrics"] = tmp_path / "m.csv"
    net, rows = train_model(cfg, progress=False)
    assert rows[0]["quantized"] == 1  # QuantizedSCNN: integer from the first epoch
    path = save_model(tmp_path / "m.pt", cfg, net)
    from snnc.targets.compile import CompileOptions, compile_model

    conf = compile_model(path, CompileOptions())
    assert conf
    # snnc evaluate with the TOML's EnergyEstimationMetric: Qualia's estimate from the simulated chip's counts
    from snnc.runtime.training.data import Dataset
    from snnc.runtime.training.evaluate import evaluate

    res = evaluate(path, cfg, limit=3)
    q = res["energy"]["qualia"]
    assert q["params"]["timesteps"] == 3 and q["params"]["sram_estimation_type"] == "new"
    assert [r["kind"] for r in q["per_layer"]] == ["conv", "linear"]
    ds = Dataset(cfg, "eval")
    mean_in = sum(len(ds.events(i)) for i in range(3)) / 3  # what the first core receives: the input events
    assert q["per_layer"][0]["input_count"] == pytest.approx(mean_in)
    assert q["per_layer"][0]["mem_weights"] > 0 and q["total_joules"] == pytest.approx(q["total"]["total"])


def test_train_epochs_and_limit_options_shorten_the_run(monkeypatch, tmp_path):
    """`snnc train --epochs N --limit N`: the run the README uses for the issue's 10-epoch configuration."""
    import snnc.runtime.training.train as tr

    seen = {}

    class Stop(Exception):
        pass

    def fake_train(cfg, progress=True, log=None):
        seen["cfg"] = cfg
        raise Stop

    monkeypatch.setattr(tr, "train_model", fake_train)
    with pytest.raises(Stop):
        tr.train_from_config(EXAMPLES / "qualia_scnn.toml", epochs=4, limit=3000, log=lambda m: None)
    cfg = seen["cfg"]
    assert cfg.train["epochs"] == 4 and cfg.dataset["train"] == [0, 2999]
    assert cfg.quantization["start_epoch"] == 2  # 5 of 10 epochs float -> 2 of 4
    with pytest.raises(SnncError, match="--epochs must be >= 1"):
        tr.train_from_config(EXAMPLES / "qualia_scnn.toml", epochs=0)
