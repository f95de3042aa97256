import numpy as np
import pytest

from snnc.compiler.errors import SnncError
from snnc.compiler.ir import IAF, Conv2d, Flatten, Input, Linear, Output, SumPool, sequential


def small():
    return sequential([
        Input("input", shape=(2, 34, 34)),
        Conv2d("conv0", weight=np.ones((4, 2, 3, 3)), stride=2, padding=1),
        IAF("spk0", threshold=1.0),
        SumPool("pool0", kernel=2),
        Flatten("flat"),
        Linear("fc", weight=np.ones((10, 4 * 8 * 8))),
        IAF("spk1"),
        Output("out"),
    ])


def test_shape_inference_follows_torch_formulas():
    shapes = small().validate()
    assert shapes["conv0"] == (4, 17, 17)
    assert shapes["pool0"] == (4, 8, 8)
    assert shapes["fc"] == (10,)


def test_wrong_channel_count_names_the_layer():
    g = sequential([Input("input", shape=(3, 8, 8)), Conv2d("c", weight=np.ones((4, 2, 3, 3)))])
    with pytest.raises(SnncError, match="c: Conv2d expects 2 input channels"):
        g.validate()


def test_dump_lists_every_node_with_shapes():
    text = small().dump()
    for name in ("conv0", "spk0", "pool0", "fc", "out"):
        assert name in text
    assert "[4, 17, 17]" in text


def test_unreachable_node_is_reported():
    g = small()
    g.add(Conv2d("orphan", weight=np.ones((1, 1, 1, 1))))
    with pytest.raises(SnncError, match="orphan"):
        g.validate()
