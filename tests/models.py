"""Small torch / sinabs model builders for tests.

Each builder returns an ``nn.Module`` with deterministic weights (``seed``) and an ``input_shape`` attribute that
the torch frontend reads, so ``snnc.load(model)`` needs no shape argument.  sinabs is imported only by the builders
that use it.

Import from a test with ``from models import scnn`` (pyproject's pytest ``pythonpath`` holds tests/).
"""
from __future__ import annotations

import torch
import torch.nn as nn


def _seeded(seed: int):
    g = torch.Generator().manual_seed(seed)

    def init(module: nn.Module) -> nn.Module:
        with torch.no_grad():
            for p in module.parameters():
                if p.requires_grad:  # weights and biases; sinabs keeps thresholds as frozen parameters
                    p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        return module

    return init


def _shaped(module: nn.Module, shape) -> nn.Module:
    module.input_shape = tuple(shape)
    return module


def scnn(seed: int = 0, spike: str = "multi") -> nn.Module:
    """A sinabs spiking CNN on 2x32x32: conv(2->8, k3 s2 p1) IAF sumpool2 conv(8->16, k3 p1) IAF sumpool2 flatten
    linear(256->10) IAF.  ``spike``: "multi" (MultiSpike) or "single" (SingleSpike)."""
    import sinabs.activation as sa
    import sinabs.layers as sl

    fn = sa.MultiSpike if spike == "multi" else sa.SingleSpike
    m = nn.Sequential(
        nn.Conv2d(2, 8, 3, stride=2, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, spike_fn=fn, min_v_mem=-1.0),
        sl.SumPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, spike_fn=fn, min_v_mem=-1.0),
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10, bias=False),
        sl.IAFSqueeze(batch_size=1, spike_fn=fn, min_v_mem=-1.0),
    )
    return _shaped(_seeded(seed)(m), (2, 32, 32))


def nmnist_like(seed: int = 0) -> nn.Module:
    """The NIR paper's N-MNIST CNN as a sinabs model on 2x34x34, with nested ``features`` / ``classifier``."""
    import sinabs.layers as sl

    features = nn.Sequential(
        nn.Conv2d(2, 16, 5, stride=2, padding=1), sl.IAFSqueeze(batch_size=1),
        nn.Conv2d(16, 16, 3, padding=1), sl.IAFSqueeze(batch_size=1), sl.SumPool2d(2),
        nn.Conv2d(16, 8, 3, padding=1), sl.IAFSqueeze(batch_size=1), sl.SumPool2d(2),
    )
    classifier = nn.Sequential(
        nn.Flatten(), nn.Linear(128, 256), sl.IAFSqueeze(batch_size=1), nn.Linear(256, 10), sl.IAFSqueeze(batch_size=1),
    )
    m = nn.Sequential()
    m.add_module("features", features)
    m.add_module("classifier", classifier)
    return _shaped(_seeded(seed)(m), (2, 34, 34))


class Residual(nn.Module):
    """conv -> IAF -> conv (+ skip from the first IAF) -> IAF -> flatten -> linear -> IAF, on 2x16x16."""

    def __init__(self):
        import sinabs.layers as sl

        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.spk1 = sl.IAFSqueeze(batch_size=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.spk2 = sl.IAFSqueeze(batch_size=1)
        self.pool = sl.SumPool2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 10, bias=False)
        self.spk3 = sl.IAFSqueeze(batch_size=1)

    def forward(self, x):
        a = self.spk1(self.conv1(x))
        b = self.spk2(self.conv2(a) + a)
        y = self.pool(b)
        return self.spk3(self.fc(y.view(y.size(0), -1)))


def residual(seed: int = 0) -> nn.Module:
    return _shaped(_seeded(seed)(Residual()), (2, 16, 16))


def ann(seed: int = 0) -> nn.Module:
    """A plain torch ANN (no sinabs) on 1x16x16: conv BN ReLU avgpool dropout flatten linear ReLU."""
    m = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2), nn.Dropout(0.1),
        nn.Flatten(), nn.Linear(4 * 8 * 8, 10), nn.ReLU(),
    )
    _seeded(seed)(m)
    bn = m[1]
    with torch.no_grad():
        bn.running_mean.copy_(torch.linspace(-0.5, 0.5, 4))
        bn.running_var.copy_(torch.linspace(0.5, 2.0, 4))
    return _shaped(m.eval(), (1, 16, 16))


def mlp(seed: int = 0) -> nn.Module:
    """Linear(64->32) ReLU Linear(32->10): the input shape (64,) is inferred from the first layer."""
    return _seeded(seed)(nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)))
