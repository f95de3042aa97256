"""Networks sinabs maps (the shapes of sinabs' own Speck-backend tests), compiled by snnc and compared with the
configuration sinabs writes for them: integers, dimensions, destinations, DVS fields, monitor flags.

The models are built here; sinabs (behind the samna stand-in of ``conftest.py``) is only the reference.
"""
from __future__ import annotations


import pytest
import torch
import torch.nn as nn

from sinabs_ref import assert_same_config, sinabs_config  # noqa: E402

import snnc  # noqa: E402
from snnc.compiler.pipeline import DoesNotFit  # noqa: E402


def _iaf():
    import sinabs.layers as sl

    return sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, spike_threshold=1.0)


def _init(model: nn.Module, seed: int, scale: float = 0.3) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * scale)
    return model


class FlattenMergeLinear(nn.Module):
    """sinabs' model_dummy_2: a split after B, two branches (C -> D and E -> F) flattened, merged, into a Linear."""

    def __init__(self):
        super().__init__()
        import sinabs.layers as sl

        c = lambda i, o: nn.Conv2d(i, o, 2, 1, bias=False)  # noqa: E731
        self.conv_A, self.iaf_A = c(2, 4), _iaf()
        self.conv_B, self.iaf_B, self.pool_B = c(4, 4), _iaf(), sl.SumPool2d(2, 2)
        self.conv_C, self.iaf_C, self.pool_C = c(4, 4), _iaf(), sl.SumPool2d(2, 2)
        self.conv_D, self.iaf_D = c(4, 4), _iaf()
        self.conv_E, self.iaf_E, self.pool_E = c(4, 4), _iaf(), sl.SumPool2d(2, 2)
        self.conv_F, self.iaf_F = c(4, 4), _iaf()
        self.fc, self.iaf_fc = nn.Linear(144, 10, bias=False), _iaf()
        self.merge, self.flat_D, self.flat_F = sl.Merge(), nn.Flatten(), nn.Flatten()

    def forward(self, x):
        a = self.iaf_A(self.conv_A(x))
        b = self.pool_B(self.iaf_B(self.conv_B(a)))
        d = self.iaf_D(self.conv_D(self.pool_C(self.iaf_C(self.conv_C(b)))))
        f = self.iaf_F(self.conv_F(self.pool_E(self.iaf_E(self.conv_E(b)))))
        return self.iaf_fc(self.fc(self.merge(self.flat_D(d), self.flat_F(f))))


class TwoEntriesMerge(nn.Module):
    """sinabs' model_dummy_3: two branches from the input (A -> B -> C and D -> E -> F), each pooled and
    flattened, merged into a chain of three Linear layers: nine cores, two entry points."""

    def __init__(self):
        super().__init__()
        import sinabs.layers as sl

        c = lambda i, o: nn.Conv2d(i, o, 2, 1, bias=False)  # noqa: E731
        self.conv_A, self.iaf_A = c(2, 4), _iaf()
        self.conv_B, self.iaf_B, self.pool_B = c(4, 4), _iaf(), sl.SumPool2d(2, 2)
        self.conv_C, self.iaf_C, self.pool_C = c(4, 4), _iaf(), sl.SumPool2d(2, 2)
        self.conv_D, self.iaf_D = c(2, 4), _iaf()
        self.conv_E, self.iaf_E, self.pool_E = c(4, 4), _iaf(), sl.SumPool2d(2, 2)
        self.conv_F, self.iaf_F, self.pool_F = c(4, 4), _iaf(), sl.SumPool2d(2, 2)
        self.flat1, self.flat2, self.merge = nn.Flatten(), nn.Flatten(), sl.Merge()
        self.fc1, self.iaf1 = nn.Linear(196, 100, bias=False), _iaf()
        self.fc2, self.iaf2 = nn.Linear(100, 100, bias=False), _iaf()
        self.fc3, self.iaf3 = nn.Linear(100, 10, bias=False), _iaf()

    def forward(self, x):
        a = self.pool_C(self.iaf_C(self.conv_C(self.pool_B(self.iaf_B(self.conv_B(self.iaf_A(self.conv_A(x))))))))
        d = self.pool_F(self.iaf_F(self.conv_F(self.pool_E(self.iaf_E(self.conv_E(self.iaf_D(self.conv_D(x))))))))
        y = self.iaf1(self.fc1(self.merge(self.flat1(a), self.flat2(d))))
        return self.iaf3(self.fc3(self.iaf2(self.fc2(y))))


class PooledMerge(nn.Module):
    """Two branches, each pooled (``pool_a``, ``pool_b``), merged into a conv."""

    def __init__(self, pool_a, pool_b):
        super().__init__()
        import sinabs.layers as sl

        self.conv1, self.iaf1 = nn.Conv2d(2, 4, 3, padding=1, bias=False), _iaf()
        self.conv2, self.iaf2 = nn.Conv2d(4, 4, 3, padding=1, bias=False), _iaf()
        self.conv3, self.iaf3 = nn.Conv2d(4, 4, 3, padding=1, bias=False), _iaf()
        self.pool_a, self.pool_b, self.merge = pool_a, pool_b, sl.Merge()
        self.conv4, self.iaf4 = nn.Conv2d(4, 3, 3, bias=False), _iaf()

    def forward(self, x):
        a = self.iaf1(self.conv1(x))
        b = self.iaf2(self.conv2(a))
        c = self.iaf3(self.conv3(a))
        return self.iaf4(self.conv4(self.merge(self.pool_a(b), self.pool_b(c))))


def test_flatten_merge_linear_matches_sinabs(sinabs_dynapcnn):
    model = _init(FlattenMergeLinear(), 0)
    theirs, _, _ = sinabs_config(sinabs_dynapcnn, model, (2, 34, 34))
    ours = snnc.compile(model, input_shape=(2, 34, 34))
    cores = assert_same_config(ours, theirs)
    assert len(cores) == 7
    fc = next(layer for layer in ours["snnc"]["layers"] if layer["name"] == "fc")
    assert ours["cnn_layers"][fc["core"]]["dimensions"]["kernel_size"] == 6  # the whole 6x6 map of each branch
    assert set(fc["sources"]) >= {"fc", "iaf_fc"}


def test_two_entry_points_and_a_flattened_merge_match_sinabs(sinabs_dynapcnn):
    model = _init(TwoEntriesMerge(), 5)
    theirs, _, _ = sinabs_config(sinabs_dynapcnn, model, (2, 34, 34))
    ours = snnc.compile(model, input_shape=(2, 34, 34))
    cores = assert_same_config(ours, theirs)
    assert len(cores) == 9 and len(ours["snnc"]["input"]["cores"]) == 2


def test_avgpool_into_merge_matches_sinabs(sinabs_dynapcnn):
    model = _init(PooledMerge(nn.AvgPool2d(2), nn.AvgPool2d(2)), 1, scale=0.6)
    theirs, _, _ = sinabs_config(sinabs_dynapcnn, model, (2, 16, 16))
    ours = snnc.compile(model, input_shape=(2, 16, 16))
    assert_same_config(ours, theirs)
    pools = sorted(d["pooling"] for layer in ours["cnn_layers"] for d in layer["destinations"] if d["enable"])
    assert pools == [1, 1, 2, 2]


def test_differently_scaled_merge_is_refused_naming_both_branches():
    import sinabs.layers as sl

    # one branch average-pooled (scale 1/4), the other sum-pooled (scale 1): sinabs mis-scales this silently
    model = _init(PooledMerge(nn.AvgPool2d(2), sl.SumPool2d(2)), 2)
    result = snnc.check(model, input_shape=(2, 16, 16))
    assert not result.fits
    bad = [d for d in result.diagnostics.errors if d.rule == "pooling"]
    assert bad and bad[0].layer == "conv4"
    assert "iaf2" in bad[0].message and "iaf3" in bad[0].message and "0.25" in bad[0].message
    with pytest.raises(DoesNotFit):
        snnc.compile(model, input_shape=(2, 16, 16))


def test_identity_pooling_after_the_last_neuron_matches_sinabs(sinabs_dynapcnn):
    """sinabs' single-neuron hardware test: conv -> IAF -> AvgPool2d(1)."""
    model = _init(nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), _iaf(), nn.AvgPool2d(1)), 3)
    theirs, _, _ = sinabs_config(sinabs_dynapcnn, model, (1, 1, 1))
    ours = snnc.compile(model, input_shape=(1, 1, 1))
    assert_same_config(ours, theirs)
    result = snnc.check(nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), _iaf(), nn.AvgPool2d(1), nn.Flatten()),
                        input_shape=(1, 1, 1))
    assert result.fits, result.diagnostics.errors


@pytest.mark.parametrize("k", [3, 6])
def test_pooling_three_and_six_stay_refused(k):
    import sinabs.layers as sl

    model = _init(nn.Sequential(nn.Conv2d(2, 4, 3, bias=False), _iaf(), sl.SumPool2d(k), nn.Conv2d(4, 2, 1, bias=False),
                                _iaf()), 4)
    result = snnc.check(model, input_shape=(2, 20, 20))
    assert [d.rule for d in result.diagnostics.errors] == ["pooling"]
