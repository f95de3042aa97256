"""Trainable spiking models made of chip layers, and their export to a plain torch/sinabs model.

A :class:`SpikingLayer` is one core's work: a bias-free ``Conv2d`` or ``Linear``, the chip's integrate-and-fire
neuron (:mod:`.neurons`), then optional sum pooling.  In ``quantized`` mode its weights and thresholds are the
integers the chip will hold (:mod:`.quant`); otherwise they are floats.  Tensors are ``[B, T, C, H, W]`` (or
``[B, T, N]`` after the flatten).

:func:`export_sinabs` turns a trained model into ``nn.Sequential`` of ``Conv2d(bias=False)`` / ``Linear(bias=False)``
/ ``Flatten`` / ``sinabs.layers.IAFSqueeze`` / ``sinabs.layers.SumPool2d`` whose weights and thresholds are the
trained integers, so that the compiler keeps them at scale 1.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from snnc.compiler.errors import SnncError
from snnc.compiler.geometry import conv_output_size

from .neurons import run_neuron
from .quant import chip_ranges, layer_quant, quantize_weight
from snnc.targets.speck import DEFAULT_TARGET


class SpikingLayer(nn.Module):
    """Conv2d or Linear (no bias) -> integrate-and-fire -> sum pooling."""

    def __init__(self, kind: str, in_features: int, out_features: int, kernel: int = 1, stride: int = 1,
                 padding: int = 0, pool: int = 1, threshold: float = 1.0, threshold_low: float = -1.0,
                 reset: str = "subtract", tau_mem: float | None = None, alpha: float = 0.5, target: str = DEFAULT_TARGET,
                 init_gain: float = 2.0):
        super().__init__()
        self.kind = kind
        if kind == "conv":
            shape = (out_features, in_features, kernel, kernel)
            fan_in = in_features * kernel * kernel
        elif kind == "linear":
            shape = (out_features, in_features)
            fan_in = in_features
        else:
            raise ValueError(kind)
        self.weight = nn.Parameter(torch.empty(shape))
        # zero-mean start; weights in units of the threshold
        nn.init.uniform_(self.weight, -init_gain * threshold / math.sqrt(fan_in), init_gain * threshold / math.sqrt(fan_in))
        self.kernel, self.stride, self.padding, self.pool = kernel, stride, padding, pool
        self.threshold, self.threshold_low, self.reset = float(threshold), float(threshold_low), reset
        self.tau_mem, self.alpha, self.target = tau_mem, alpha, target
        self.out_features = out_features
        self.last_stats: dict = {}
        self.last_spikes: torch.Tensor | None = None

    def quant(self):
        """The layer's integer form now: scale and integer thresholds."""
        return layer_quant(self.weight, self.threshold, self.threshold_low, self.target)

    def integer_weight(self) -> torch.Tensor:
        return quantize_weight(self.weight, self.quant(), self.target).detach()

    def fan_out(self) -> float:
        """Synaptic operations one input event causes (docs/speck.md §7)."""
        if self.kind == "conv":
            return self.out_features * self.kernel * self.kernel / (self.stride * self.stride)
        return float(self.out_features)

    @torch.no_grad()
    def clip_weights(self, fraction: float) -> None:
        """Keep every weight below the threshold (chip rule), at ``fraction`` of it."""
        lim = self.threshold * fraction
        self.weight.clamp_(-lim, lim)

    def forward(self, x: torch.Tensor, quantized: bool = False) -> torch.Tensor:
        b, t = x.shape[:2]
        if quantized:
            q = self.quant()
            w = quantize_weight(self.weight, q, self.target)
            th, tl = float(q.threshold), float(q.threshold_low)
            state_max = float(chip_ranges(self.target)["state"][1])
        else:
            w, th, tl, state_max = self.weight, self.threshold, self.threshold_low, None
        flat = x.reshape(b * t, *x.shape[2:])
        if self.kind == "conv":
            cur = F.conv2d(flat, w, stride=self.stride, padding=self.padding)
        else:
            cur = F.linear(flat, w)
        cur = cur.reshape(b, t, *cur.shape[1:])
        s = run_neuron(cur, th, tl, self.reset, state_max, self.tau_mem, self.alpha)
        self.last_spikes = s.detach()  # [B, T, ...] before pooling, for inspection and tests
        self.last_stats = {"in_events": x.sum() / b, "synops": x.sum() / b * self.fan_out(),
                           "rate": s.mean(), "out_events": s.sum() / b}
        if self.pool > 1:
            st = s.reshape(b * t, *s.shape[2:])
            st = F.avg_pool2d(st, self.pool) * (self.pool * self.pool)  # sum pooling (exact for counts)
            s = st.reshape(b, t, *st.shape[1:])
        return s


class SpikingNet(nn.Module):
    """A sequence of :class:`SpikingLayer`; a flatten sits before the first linear layer.

    ``roles`` marks residual blocks (model.kind = "resnet"): a ``"res_a"`` layer takes the output ``x`` of the layer
    before it, the ``"res_b"`` layer after it takes res_a's spikes, and the block's output is ``res_b + x`` -- on the
    chip, two cores sending their spikes to the same destination core.
    """

    def __init__(self, layers: list[SpikingLayer], input_shape: tuple[int, int, int], n_conv: int,
                 timesteps: int, roles: list[str] | None = None):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.input_shape = tuple(input_shape)
        self.n_conv = n_conv
        self.timesteps = timesteps
        self.roles = list(roles) if roles is not None else ["plain"] * len(layers)

    def forward(self, x: torch.Tensor, quantized: bool = False) -> torch.Tensor:
        """``x``: input spikes ``[B, T, C, H, W]``; returns output spikes ``[B, T, classes]``."""
        skip = None
        for i, (layer, role) in enumerate(zip(self.layers, self.roles)):
            if i == self.n_conv:
                x = x.reshape(x.shape[0], x.shape[1], -1)
            if role == "res_a":
                skip = x
                x = layer(x, quantized)
            elif role == "res_b":
                x = layer(x, quantized) + skip
            else:
                x = layer(x, quantized)
        return x

    def stats(self) -> list[dict]:
        return [layer.last_stats for layer in self.layers]


class SpikingResidual(nn.Module):
    """The exported form of a residual block: ``merge(iaf_b(conv_b(iaf_a(conv_a(x)))), x)``.

    Plain torch and sinabs layers inside; ``torch.fx`` traces ``forward`` and the compiler turns ``merge`` into an
    addition (two cores feeding one).
    """

    def __init__(self, conv_a: nn.Module, iaf_a: nn.Module, conv_b: nn.Module, iaf_b: nn.Module):
        super().__init__()
        import sinabs.layers as sl

        self.conv_a, self.iaf_a, self.conv_b, self.iaf_b = conv_a, iaf_a, conv_b, iaf_b
        self.merge = sl.Merge()

    def forward(self, x):
        return self.merge(self.iaf_b(self.conv_b(self.iaf_a(self.conv_a(x)))), x)


#: Most values one batch may hold in one layer (float32: 1 GiB), checked before training allocates anything.
MAX_BATCH_VALUES = 1 << 28


def input_shape(cfg) -> tuple[int, int, int]:
    """``(C, H, W)`` of the encoded input: MNIST 1x28x28 (Poisson) or 2x34x34 (saccades), else dataset.shape."""
    d = cfg.dataset
    if d["kind"] == "mnist":
        return (2, 34, 34) if cfg.encoding["kind"] == "saccade" else (1, 28, 28)
    return tuple(d["shape"])


def build_model(cfg) -> SpikingNet:
    """Build the model a validated :class:`~.config.TrainConfig` describes."""
    m, n, d = cfg.model, cfg.neuron, cfg.dataset
    shape = input_shape(cfg)
    common = dict(threshold=n["threshold"], threshold_low=n["threshold_low"], reset=n["reset"],
                  tau_mem=n["tau_mem"] if n["model"] == "lif" else None, alpha=n["surrogate_alpha"],
                  target=cfg.quantization["target"])
    layers, roles = [], []
    c, h, w = shape
    from snnc.targets.speck import get_target

    max_weights = max(core.kernel_memory for core in get_target(cfg.quantization["target"]).cores)

    def check_size(n_weights: int, what: str) -> None:  # before allocating: the chip bounds every layer
        if n_weights > max_weights:
            raise SnncError(f"the model in [model] does not fit {cfg.quantization['target']}: [kernel_memory] "
                            f"{what} needs {n_weights:,} weights; the largest core holds {max_weights:,}: use "
                            "fewer channels or neurons")

    batch = cfg.train["batch_size"] * cfg.encoding["timesteps"]

    def check_activity(n_values: int, what: str) -> None:  # one batch's activations must fit in memory
        if batch * n_values > MAX_BATCH_VALUES:
            raise SnncError(f"{what}: one batch holds {batch * n_values:,} values (train.batch_size x "
                            f"encoding.timesteps x the layer's outputs), more than {MAX_BATCH_VALUES:,}; reduce "
                            "train.batch_size or encoding.timesteps")

    check_activity(c * h * w, f"the input ({c}x{h}x{w})")
    for i, (f, k, s, p, pool) in enumerate(zip(m["channels"], m["kernels"], m["strides"], m["paddings"],
                                                m["pools"])):
        oh, ow = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
        if oh < 1 or ow < 1:
            raise SnncError(f"model: conv layer {i} (kernel {k}, stride {s}, padding {p}) does not fit its "
                            f"{h}x{w} input; use a smaller kernel or fewer layers")
        check_size(c * f * k * k, f"model.channels[{i}] = {f} (conv layer {i + 1}, kernel {k}, {c} input channels)")
        if pool > 1 and (oh < pool or ow < pool):
            raise SnncError(f"model.pools[{i}] = {pool} is larger than the {oh}x{ow} map it pools")
        layers.append(SpikingLayer("conv", c, f, k, s, p, pool, **common))
        roles.append("plain")
        c, h, w = f, oh // pool, ow // pool
        check_activity(f * oh * ow, f"conv layer {i + 1} (model.channels[{i}] = {f}, {oh}x{ow} map)")
        if m["kind"] == "resnet":  # a residual block of two 3x3 convs (padding 1) keeping the shape
            check_size(c * c * 9, f"the residual block after conv layer {i + 1} ({c} channels, 3x3)")
            layers += [SpikingLayer("conv", c, c, 3, 1, 1, 1, **common), SpikingLayer("conv", c, c, 3, 1, 1, 1,
                                                                                          **common)]
            roles += ["res_a", "res_b"]
    feat = c * h * w
    for j, hsize in enumerate(list(m["hidden"]) + [d["classes"]]):
        check_size(feat * hsize, f"model.hidden[{j}] = {hsize} ({feat} inputs)" if j < len(m["hidden"])
                   else f"the output layer (dataset.classes = {hsize}, {feat} inputs)")
        layers.append(SpikingLayer("linear", feat, hsize, **common))
        roles.append("plain")
        feat = hsize
    n_conv = sum(1 for layer in layers if layer.kind == "conv")
    return SpikingNet(layers, shape, n_conv, cfg.encoding["timesteps"], roles)


def export_sinabs(net: SpikingNet, quantized: bool = True) -> nn.Sequential:
    """The trained model as plain torch + sinabs layers (integer weights and thresholds when ``quantized``).

    Leaky layers become ``sinabs.layers.LIFSqueeze`` (software only: the chip has no leaky neuron).
    """
    import sinabs.layers as sl
    from sinabs.activation import MembraneReset, MembraneSubtract, MultiSpike, SingleSpike

    mods: list[nn.Module] = []
    pending: list[nn.Module] = []  # conv_a, iaf_a of an open residual block
    for i, (layer, role) in enumerate(zip(net.layers, net.roles)):
        if i == net.n_conv:
            mods.append(nn.Flatten())
        if quantized:
            q = layer.quant()
            w = layer.integer_weight().clone()
            th, tl = float(q.threshold), float(q.threshold_low)
        else:
            w = layer.weight.detach().clone()
            th, tl = layer.threshold, layer.threshold_low
        if layer.kind == "conv":
            mod = nn.Conv2d(w.shape[1], w.shape[0], layer.kernel, layer.stride, layer.padding, bias=False)
        else:
            mod = nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            mod.weight.copy_(w)
        # per step: floor(V/threshold) spikes with subtract reset (MultiSpike), one with reset to zero (SingleSpike)
        if layer.reset == "subtract":
            reset, spike_fn = MembraneSubtract(), MultiSpike
        else:
            reset, spike_fn = MembraneReset(), SingleSpike
        kw = dict(spike_threshold=torch.tensor(th), min_v_mem=tl, reset_fn=reset, spike_fn=spike_fn,
                  num_timesteps=net.timesteps)
        if layer.tau_mem is None:
            neuron = sl.IAFSqueeze(**kw)
        else:
            neuron = sl.LIFSqueeze(tau_mem=torch.tensor(float(layer.tau_mem)), **kw)
        if role == "res_a":
            pending = [mod, neuron]
            continue
        if role == "res_b":
            mods.append(SpikingResidual(pending[0], pending[1], mod, neuron))
            continue
        mods += [mod, neuron]
        if layer.pool > 1:
            mods.append(sl.SumPool2d(layer.pool))
    return nn.Sequential(*mods)
