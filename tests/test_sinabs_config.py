"""Cross-check against sinabs: a model moved from sinabs deploys to the same integers.

For bias-free models whose neurons set ``min_v_mem``, every used core's weights, thresholds, dimensions and
destination pooling that ``snnc compile`` writes must equal what sinabs' own config builder
(``get_dynapcnn_layer_config_dict``) produces after sinabs' discretization (``DynapcnnNetwork(discretize=True)``).
sinabs is imported behind the samna stand-in of ``conftest.py``; it serves only as the reference.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from models import scnn  # noqa: E402

import snnc  # noqa: E402

NIR_MODEL = Path(__file__).resolve().parents[1] / "examples" / "nmnist_cnn.nir"  # the NIR paper's CNN, shipped


def _sinabs_layers(dynapcnn, model, input_shape):
    """sinabs' per-layer config dicts (in sinabs' topological layer order) and its layer -> core map."""
    from sinabs.backend.dynapcnn.chips.speck2f import Speck2FConfigBuilder

    net = dynapcnn.DynapcnnNetwork(model, input_shape=input_shape, discretize=True)
    l2c = Speck2FConfigBuilder.map_layers_to_cores(net.dynapcnn_layers)
    dicts = {idx: Speck2FConfigBuilder.get_dynapcnn_layer_config_dict(layer, l2c, net.layer_destination_map[idx])
             for idx, layer in net.dynapcnn_layers.items()}
    return [dicts[i] for i in sorted(dicts)], [l2c[i] for i in sorted(dicts)]


def _compare(dynapcnn, model, input_shape, check_low=True, source=None, **options):
    """Compile ``source`` (default: ``model`` itself) with snnc and compare with sinabs' config of ``model``."""
    ref, ref_cores = _sinabs_layers(dynapcnn, model, input_shape)
    config = snnc.compile(model if source is None else source, target="speck2f", input_shape=input_shape, **options)
    ours_cores = [layer["core"] for layer in config["snnc"]["layers"]]
    assert len(ours_cores) == len(ref), "different number of chip layers"
    ref_index = {c: i for i, c in enumerate(ref_cores)}
    our_index = {c: i for i, c in enumerate(ours_cores)}
    used = {c for c in ours_cores}
    for core, layer in enumerate(config["cnn_layers"]):
        if core not in used:
            assert layer["weights"] == [] and not any(d["enable"] for d in layer["destinations"])
    for i, (s, core) in enumerate(zip(ref, ours_cores)):
        o = config["cnn_layers"][core]
        name = config["snnc"]["layers"][i]["name"]
        assert o["dimensions"] == s["dimensions"], name
        assert np.array_equal(np.array(o["weights"]), np.array(s["weights"])), f"{name}: weights differ"
        assert o["threshold_high"] == s["threshold_high"], name
        assert o["return_to_zero"] == s["return_to_zero"], name
        if check_low:
            assert o["threshold_low"] == s["threshold_low"], name
        ours = sorted((our_index[d["layer"]], d["pooling"]) for d in o["destinations"] if d["enable"])
        theirs = sorted((ref_index[d["layer"]], d["pooling"]) for d in s["destinations"])
        assert ours == theirs, f"{name}: destinations differ"
        assert o["monitor_enable"] == (not theirs), name
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


def _sinabs_from_nir(path: Path) -> nn.Module:
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
            layers.append(sl.IAFSqueeze(batch_size=1, spike_threshold=thr, min_v_mem=-thr))
        elif kind == "SumPool2d":
            layers.append(sl.SumPool2d(tuple(int(k) for k in node.kernel_size)))
        elif kind == "Flatten":
            layers.append(nn.Flatten())
        else:
            raise AssertionError(f"unexpected node {key}: {kind}")
    return nn.Sequential(*layers)


@pytest.mark.skipif(not NIR_MODEL.is_file(), reason="examples/nmnist_cnn.nir is missing from this checkout")
def test_nir_paper_cnn_matches_sinabs(sinabs_dynapcnn):
    """The NIR model gives no floor: snnc uses -32768 there (sinabs' -2^15 would force scale 1); the rest matches."""
    config = _compare(sinabs_dynapcnn, _sinabs_from_nir(NIR_MODEL), (2, 34, 34), check_low=False,
                      source=str(NIR_MODEL), clip=False)
    for core in (layer["core"] for layer in config["snnc"]["layers"]):
        assert config["cnn_layers"][core]["threshold_low"] == -32768
    assert config["snnc"]["source"]["format"] == "nir"
