"""The configuration loader reports every problem at once, in one line, not only the first."""
import copy

import pytest

import snnc
from snnc.compiler.errors import SnncError
from snnc.compiler.ir import IAF, Conv2d, Graph, Input, Output
from snnc.targets.config import load_config

import numpy as np


def _config() -> dict:
    rng = np.random.default_rng(0)
    g = Graph("two")
    g.add(Input("input", shape=(2, 8, 8)))
    g.add(Conv2d("conv1", weight=rng.normal(0, 0.3, (4, 2, 3, 3)), bias=None, padding=(1, 1)), ["input"])
    g.add(IAF("spk1", threshold=np.array(1.0), threshold_low=np.array(-1.0)), ["conv1"])
    g.add(Conv2d("conv2", weight=rng.normal(0, 0.3, (3, 4, 3, 3)), bias=None, padding=(1, 1)), ["spk1"])
    g.add(IAF("spk2", threshold=np.array(1.0), threshold_low=np.array(-1.0)), ["conv2"])
    g.add(Output("output"), ["spk2"])
    return snnc.compile(g, target="speck2f")


def test_every_problem_is_listed_in_one_error():
    cfg = _config()
    used = [i for i, layer in enumerate(cfg["cnn_layers"]) if layer["weights"]]
    assert len(used) == 2
    bad = copy.deepcopy(cfg)
    bad["cnn_layers"][used[0]]["weights"][0][0][0][0] = 300  # outside int8
    bad["cnn_layers"][used[1]]["threshold_low"] = 0  # the chip cannot use 0
    bad["cnn_layers"][used[1]]["dimensions"]["stride"]["x"] = 3  # not a Speck stride
    with pytest.raises(SnncError) as e:
        load_config(bad)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("configuration: 3 problems: ")
    assert f"cnn_layers[{used[0]}].weights[0][0][0][0] = 300 is outside int8" in msg
    assert f"cnn_layers[{used[1]}].threshold_low is 0" in msg
    assert f"cnn_layers[{used[1]}].dimensions.stride.x = 3" in msg


def test_one_problem_keeps_its_own_message():
    bad = copy.deepcopy(_config())
    i = next(i for i, layer in enumerate(bad["cnn_layers"]) if layer["weights"])
    bad["cnn_layers"][i]["threshold_low"] = 0
    with pytest.raises(SnncError, match=rf"^configuration: cnn_layers\[{i}\]\.threshold_low is 0, which the chip "
                                        "cannot use"):
        load_config(bad)


def test_schema_problems_are_all_listed():
    bad = copy.deepcopy(_config())
    bad["readout"]["enable"] = "yes"
    bad["dvs_layer"]["merge"] = 3
    with pytest.raises(SnncError) as e:
        load_config(bad)
    msg = str(e.value)
    assert "2 problems" in msg and "readout.enable" in msg and "dvs_layer.merge" in msg
