"""Kernel and neuron memory per chip layer equal sinabs' DynapcnnLayer.memory_summary() (an independent reference)."""
import numpy as np
import pytest
import torch.nn as nn

from snnc.targets.compile import CompileOptions, run_pipeline


def _iaf():
    import sinabs.layers as sl

    return sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)


def _models():
    import sinabs.layers as sl

    return {
        "scnn": (nn.Sequential(nn.Conv2d(2, 8, 3, padding=1, bias=False), _iaf(), sl.SumPool2d(2),
                               nn.Conv2d(8, 16, 3, padding=1, bias=False), _iaf(), sl.SumPool2d(2),
                               nn.Flatten(), nn.Linear(16 * 8 * 8, 10, bias=False), _iaf()), (2, 32, 32)),
        "strided_odd": (nn.Sequential(nn.Conv2d(2, 12, 5, stride=2, padding=2, bias=False), _iaf(),
                                      nn.Conv2d(12, 20, 3, stride=2, bias=False), _iaf(),
                                      nn.Conv2d(20, 7, 1, bias=False), _iaf()), (2, 33, 47)),
        "wide": (nn.Sequential(nn.Conv2d(1, 64, 3, bias=False), _iaf(), sl.SumPool2d(4),
                               nn.Conv2d(64, 100, 2, bias=False), _iaf(), nn.Flatten(),
                               nn.Linear(100 * 5 * 5, 33, bias=False), _iaf()), (1, 28, 28)),
    }


def _sinabs_memory(dynapcnn, model, shape):
    net = dynapcnn.DynapcnnNetwork(model, input_shape=shape, discretize=False)
    summ = net.memory_summary()
    order = sorted(summ["kernel"])
    return [int(summ["kernel"][i]) for i in order], [int(summ["neuron"][i]) for i in order]


@pytest.mark.parametrize("name", ["scnn", "strided_odd", "wide"])
def test_memory_equals_sinabs(name, sinabs_dynapcnn):
    model, shape = _models()[name]
    kernel, neuron = _sinabs_memory(sinabs_dynapcnn, model, shape)
    ours = run_pipeline(model, CompileOptions(input_shape=shape)).report_json()["layers"]
    assert [layer["kernel_memory"] for layer in ours] == kernel
    assert [layer["neuron_memory"] for layer in ours] == neuron


def test_nir_paper_cnn_memory(nir_paper_cnn, sinabs_dynapcnn):
    import nir
    import sinabs

    result = run_pipeline(str(nir_paper_cnn), CompileOptions())
    layers = result.report_json()["layers"]
    assert [layer["kernel_memory"] for layer in layers] == [1024, 4096, 2048, 32768, 4096]
    assert [layer["neuron_memory"] for layer in layers] == [4096, 4096, 512, 256, 10]
    assert [layer["core"] for layer in layers] == [0, 1, 2, 3, 4]
    reference = sinabs.from_nir(nir.read(str(nir_paper_cnn)), batch_size=1)
    kernel, neuron = _sinabs_memory(sinabs_dynapcnn, reference, (2, 34, 34))
    assert [layer["kernel_memory"] for layer in layers] == kernel
    assert [layer["neuron_memory"] for layer in layers] == neuron
