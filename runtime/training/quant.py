"""Fake quantization for training: integer weights and thresholds with straight-through gradients.

A layer keeps float weights ``w`` and a float threshold ``t`` (and floor ``t_low``).  Its integer form uses one scale
per layer, derived from the current weights as sinabs does it for deployment: the largest ``s`` that keeps
``round(w * s)`` in int8 and ``round(t * s)``, ``round(t_low * s)`` in the chip's threshold range.  The scale is
treated as a constant by autograd; rounding passes gradients straight through.  The chip's ranges come from the
target table (``snnc.targets.speck``), never from literals here.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from snnc.compiler.quantize import chip_threshold_low
from snnc.targets.speck import get_target
from snnc.targets.speck import DEFAULT_TARGET


def chip_ranges(target: str = DEFAULT_TARGET) -> dict:
    """The integer ranges of ``target``: weights, thresholds and membrane state, as (low, high) pairs."""
    t = get_target(target)
    return {"weight": t.weight_range, "threshold": t.threshold_range, "state": t.state_range}


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return g


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """``torch.round`` (half to even) in the forward pass, identity in the backward pass."""
    return _RoundSTE.apply(x)


@dataclass(frozen=True)
class LayerQuant:
    """The integer form of one layer: its scale and integer thresholds (weights are quantized on the fly)."""

    scale: float
    threshold: int
    threshold_low: int


def derive_scale(weight: torch.Tensor, threshold: float, threshold_low: float, target: str = DEFAULT_TARGET) -> float:
    """The largest scale keeping weights in int8 and both thresholds in the chip's 16-bit range."""
    r = chip_ranges(target)
    wmax = float(weight.detach().abs().max()) if weight.numel() else 0.0
    cands = []
    if wmax > 0:
        cands.append(r["weight"][1] / wmax)
    if threshold > 0:  # the threshold stays a weight below the state maximum: the state never saturates
        cands.append(min(r["threshold"][1], r["state"][1] - r["weight"][1]) / threshold)
    if threshold_low < 0:
        cands.append(-r["threshold"][0] / -threshold_low)
    return min(cands) if cands else 1.0


def layer_quant(weight: torch.Tensor, threshold: float, threshold_low: float, target: str = DEFAULT_TARGET) -> LayerQuant:
    """Scale and integer thresholds of a layer.  ``threshold_low`` never rounds to 0 (a chip bug): it becomes -1."""
    s = derive_scale(weight, threshold, threshold_low, target)
    th = max(1, int(round(threshold * s)))
    tl = chip_threshold_low(int(round(threshold_low * s)))
    return LayerQuant(s, th, tl)


def quantize_weight(weight: torch.Tensor, q: LayerQuant, target: str = DEFAULT_TARGET) -> torch.Tensor:
    """Integer-valued weights ``round(w * scale)``, clipped to int8 and to below the threshold (|w| < threshold),
    with straight-through gradients (d/dw = scale)."""
    lo, hi = chip_ranges(target)["weight"]
    hi = min(hi, q.threshold - 1)
    lo = max(lo, -(q.threshold - 1))
    return torch.clamp(round_ste(weight * q.scale), lo, hi)
