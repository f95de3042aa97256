"""The TOML training configuration: strict validation with one clear message per problem."""
from __future__ import annotations

from pathlib import Path

import pytest

from snnc.compiler.errors import SnncError
from snnc.runtime.training.config import SCHEMA, load_train_config, train_config_from_dict

MNIST = Path(__file__).resolve().parents[1] / "examples" / "data" / "mnist"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mnist_speck.toml"


def minimal(**over) -> dict:
    d = {"dataset": {"path": str(MNIST)}, "model": {"channels": [4], "kernels": [3]}}
    for k, v in over.items():
        sec, key = k.split("__")
        d.setdefault(sec, {})[key] = v
    return d


def test_minimal_config_fills_defaults():
    cfg = train_config_from_dict(minimal())
    assert cfg.encoding["timesteps"] == SCHEMA["encoding"]["timesteps"].default
    assert cfg.model["strides"] == [1] and cfg.model["paddings"] == [1] and cfg.model["pools"] == [1]
    assert cfg.dataset["train"] == [0, 7999] and cfg.dataset["eval"] == [8000, 9999]
    assert cfg.output["metrics"].suffix == ".csv"


def test_example_config_is_valid():
    cfg = load_train_config(EXAMPLE)
    assert cfg.dataset["path"] == EXAMPLE.parent / "data" / "mnist"
    assert cfg.output["model"] == EXAMPLE.parent / "mnist_speck.pt"


def test_unknown_key_names_it_and_lists_valid_ones():
    with pytest.raises(SnncError) as e:
        train_config_from_dict(minimal(train__epoch=3))
    msg = str(e.value)
    assert "train.epoch" in msg and "epochs" in msg and "batch_size" in msg and "\n" not in msg


def test_removed_saccades_key_is_refused_with_what_to_do():
    """encoding.saccades was accepted and never read (issue 21): refused, naming the key and the fix."""
    with pytest.raises(SnncError, match=r"encoding\.saccades is no longer a key: .*remove the key"):
        train_config_from_dict(minimal(encoding__kind="saccade", encoding__saccades=5))
    assert "saccades" not in SCHEMA["encoding"]


def test_unknown_section():
    d = minimal()
    d["trainer"] = {}
    with pytest.raises(SnncError, match=r"unknown section \[trainer\].*valid sections:.*train"):
        train_config_from_dict(d)


@pytest.mark.parametrize("key,value,fragment", [
    ("train__epochs", "3", "train.epochs must be an integer"),
    ("train__epochs", 2.5, "train.epochs must be an integer"),
    ("train__lr", "fast", "train.lr must be a number"),
    ("quantization__enabled", 1, "quantization.enabled must be true or false"),
    ("model__channels", [4, "8"], "model.channels must be a list of integers"),
    ("dataset__train", [0, 1, 2], "dataset.train must have 2 entries"),
    ("neuron__reset", "soft", "neuron.reset = 'soft' is not one of"),
])
def test_wrong_types_and_values(key, value, fragment):
    with pytest.raises(SnncError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        train_config_from_dict(minimal(**{key: value}))


def test_timesteps_zero():
    with pytest.raises(SnncError, match="encoding.timesteps = 0: must be >= 1"):
        train_config_from_dict(minimal(encoding__timesteps=0))


def test_missing_dataset_path():
    d = minimal()
    del d["dataset"]["path"]
    with pytest.raises(SnncError, match=r"missing dataset.path"):
        train_config_from_dict(d)


def test_dataset_path_that_does_not_exist(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[dataset]\npath = "nowhere"\n[model]\nchannels = [4]\nkernels = [3]\n')
    with pytest.raises(SnncError, match="dataset.path .*nowhere.* does not exist"):
        load_train_config(f)


def test_bad_toml_and_missing_file(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[dataset\n")
    with pytest.raises(SnncError, match="not valid TOML"):
        load_train_config(f)
    with pytest.raises(SnncError, match="not found"):
        load_train_config(tmp_path / "absent.toml")


def test_per_layer_lists_must_match():
    with pytest.raises(SnncError, match="model.pools must have one entry per conv layer"):
        train_config_from_dict(minimal(model__pools=[2, 2]))
    with pytest.raises(SnncError, match="model.strides: 3 is not a stride"):
        train_config_from_dict(minimal(model__strides=[3]))


def test_cross_checks():
    with pytest.raises(SnncError, match="threshold_low must be below 0"):
        train_config_from_dict(minimal(neuron__threshold_low=0.0))
    with pytest.raises(SnncError, match="dataset.train = \\[5, 1\\]"):
        train_config_from_dict(minimal(dataset__train=[5, 1]))
    with pytest.raises(SnncError, match="needs dataset.kind = 'events'"):
        train_config_from_dict(minimal(encoding__kind="events"))


def test_cli_reports_config_errors_in_one_line(tmp_path, capsys):
    from snnc.cli import main

    f = tmp_path / "c.toml"
    f.write_text(f'[dataset]\npath = "{MNIST}"\n[model]\nchannels = [4]\nkernels = [3]\n[encoding]\ntimesteps = 0\n')
    assert main(["train", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("snnc: error:") and "encoding.timesteps" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "c.pt").exists()


def test_a_model_that_cannot_fit_the_chip_is_refused_before_training(tmp_path, capsys):
    from snnc.cli import main

    f = tmp_path / "c.toml"
    f.write_text(f'[dataset]\npath = "{MNIST}"\n[model]\nchannels = [12, 24]\nkernels = [3, 3]\npools = [2, 2]\n'
                 'hidden = [96]\n')
    assert main(["train", str(f)]) == 2
    err = capsys.readouterr().err
    assert "does not fit speck2f" in err and "kernel_memory" in err and "model.hidden[0]" in err
    assert not (tmp_path / "c.pt").exists() and not (tmp_path / "c.csv").exists()
