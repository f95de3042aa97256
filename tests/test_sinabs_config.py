"""Cross-check against sinabs: a model moved from sinabs deploys to the same integers.

Every field sinabs' own config builder writes (``DynapcnnNetwork(discretize=True).make_config``: weights, biases,
leak, initial states, thresholds, reset, dimensions, destinations, monitor flags, the DVS layer) must be equal in
what ``snnc compile`` writes, compared by tests/sinabs_ref.py: assert_same_config.
sinabs is imported behind the samna stand-in of ``conftest.py``; it serves only as the reference.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from models import scnn  # noqa: E402
from sinabs_ref import UNSET, assert_same_config, sinabs_config

import snnc  # noqa: E402

NIR_MODEL = Path(__file__).resolve().parents[1] / "examples" / "nmnist_cnn.nir"  # the NIR paper's CNN, shipped


def _compare(dynapcnn, model, input_shape, check_low=True, source=None, **options):
    """Compile ``source`` (default: ``model`` itself) with snnc and compare with sinabs' configuration of ``model``
    field by field (tests/sinabs_ref.py: every field sinabs writes)."""
    theirs, _, _ = sinabs_config(dynapcnn, model, input_shape)
    config = snnc.compile(model if source is None else source, input_shape=input_shape, **options)
    assert_same_config(config, theirs, check_low=check_low)
    return config


def _below_threshold(model: nn.Module, factor: float) -> nn.Module:
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.mul_(factor)
    return model


@pytest.mark.parametrize("seed", [0, 1])
def test_scnn_matches_sinabs(sinabs_dynapcnn, seed):
    model = _below_threshold(scnn(seed, spike="single"), 0.3)
    assert max(float(p.detach().abs().max()) for p in model.parameters() if p.requires_grad) < 1.0
    config = _compare(sinabs_dynapcnn, model, (2, 32, 32))
    assert config["snnc"]["quantization"]["policy"] == "sinabs"


def test_scnn_other_thresholds_match_sinabs(sinabs_dynapcnn):
    """Thresholds other than 1 and a floor other than -threshold: the scale still matches sinabs'."""
    import sinabs.layers as sl

    model = _below_threshold(scnn(3, spike="single"), 0.5)
    for m in model.modules():
        if isinstance(m, sl.IAFSqueeze):
            m.spike_threshold = torch.nn.Parameter(torch.tensor(2.5), requires_grad=False)
            m.min_v_mem = torch.nn.Parameter(torch.tensor(-0.75), requires_grad=False)
    _compare(sinabs_dynapcnn, model, (2, 32, 32))


def _deep(seed: int) -> nn.Module:
    """Four cores, pooling 4 and 2, a stride-2 conv, reset-to-zero neurons on the first core."""
    import sinabs.activation as sa
    import sinabs.layers as sl

    g = torch.Generator().manual_seed(seed)
    m = nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, reset_fn=sa.MembraneReset()),
        sl.SumPool2d(4),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
        nn.Conv2d(16, 16, 3, stride=2, padding=1, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
        sl.SumPool2d(2), nn.Flatten(),
        nn.Linear(16 * 2 * 2, 10, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )
    with torch.no_grad():
        for p in m.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g) * 0.25)
    return m


def test_deeper_model_matches_sinabs(sinabs_dynapcnn):
    config = _compare(sinabs_dynapcnn, _deep(7), (2, 32, 32))
    first = config["cnn_layers"][config["snnc"]["layers"][0]["core"]]
    assert first["return_to_zero"] is True
    assert [d["pooling"] for d in first["destinations"] if d["enable"]] == [4]


def _sinabs_from_nir(path: Path, floor: bool = True) -> nn.Module:
    """The NIR file as a plain sinabs Sequential (the file is a chain 0 -> 12; IF with r = 1, threshold 1)."""
    import nir
    import sinabs.layers as sl

    graph = nir.read(str(path))
    layers = []
    for key in sorted((k for k in graph.nodes if k.isdigit()), key=int):
        node = graph.nodes[key]
        kind = type(node).__name__
        if kind == "Conv2d":
            w = torch.tensor(np.asarray(node.weight), dtype=torch.float32)
            conv = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=tuple(node.stride),
                             padding=tuple(node.padding), bias=False)  # snnc strips the (all-zero) biases
            conv.weight.data = w
            layers.append(conv)
        elif kind == "Affine":
            w = torch.tensor(np.asarray(node.weight), dtype=torch.float32)
            lin = nn.Linear(w.shape[1], w.shape[0], bias=False)
            lin.weight.data = w
            layers.append(lin)
        elif kind == "IF":
            assert np.all(np.asarray(node.r) == 1)
            thr = float(np.unique(node.v_threshold)[0])
            layers.append(sl.IAFSqueeze(batch_size=1, spike_threshold=thr, min_v_mem=-thr if floor else None))
        elif kind == "SumPool2d":
            layers.append(sl.SumPool2d(tuple(int(k) for k in node.kernel_size)))
        elif kind == "Flatten":
            layers.append(nn.Flatten())
        else:
            raise AssertionError(f"unexpected node {key}: {kind}")
    return nn.Sequential(*layers)


@pytest.mark.skipif(not NIR_MODEL.is_file(), reason="examples/nmnist_cnn.nir is missing from this checkout")
def test_nir_paper_cnn_matches_sinabs(sinabs_dynapcnn):
    """The NIR model gives no floor.  sinabs needs one to scale as snnc does (without one its discretization takes
    -2^15 into the scale), so the integers are compared against sinabs given a floor of -threshold, and
    ``threshold_low`` against sinabs given none: both write -32768."""
    config = _compare(sinabs_dynapcnn, _sinabs_from_nir(NIR_MODEL), (2, 34, 34), check_low=False,
                      source=str(NIR_MODEL), clip=False)
    no_floor, _, _ = sinabs_config(sinabs_dynapcnn, _sinabs_from_nir(NIR_MODEL, floor=False), (2, 34, 34))
    theirs = [layer["threshold_low"] for layer in no_floor["cnn_layers"] if layer["weights"] is not UNSET]
    ours = [config["cnn_layers"][layer["core"]]["threshold_low"] for layer in config["snnc"]["layers"]]
    assert ours == theirs == [-32768] * len(ours)
    assert config["snnc"]["source"]["format"] == "nir"
