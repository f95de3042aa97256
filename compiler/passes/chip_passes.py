"""Passes on chip layers (after grouping): what a core can hold of the float model.

Each is a pure function ``(chip, ctx) -> chip`` working on a copy (one with nothing to change returns its argument).
"""
from __future__ import annotations

import copy

import numpy as np

from ..chip import ChipModel


def strip_biases(chip: ChipModel, ctx) -> ChipModel:
    """Remove biases (default).  On Speck a bias is a leak added every slow-clock tick, not every time step.

    All-zero biases go silently.  Others: a warning with the largest |bias| relative to the threshold.  With
    ``--keep-biases`` they stay, with a warning that behaviour then depends on the slow clock.
    """
    if all(layer.bias is None for layer in chip.layers):
        return chip
    out = copy.deepcopy(chip)
    for layer in out.layers:
        if layer.bias is None:
            continue
        if not np.any(layer.bias):
            layer.bias = None
            continue
        rel = float(np.max(np.abs(layer.bias)) / abs(layer.threshold_high)) if layer.threshold_high else float("inf")
        if ctx.options.keep_biases:
            ctx.diags.warning("bias", layer.name, f"biases kept as chip leak (largest |bias| = {rel:.3g} x "
                              "threshold): they are added once per slow-clock tick, so behaviour depends on the "
                              "slow-clock frequency", "simulate with --slow-clock at the clock you will run",
                              measured=rel)
        else:
            ctx.diags.warning("bias", layer.name, f"biases stripped (largest |bias| = {rel:.3g} x threshold); "
                              "BatchNorm folding creates biases", "pass --keep-biases to keep them as chip leak",
                              measured=rel, limit=0)
            layer.bias = None
    return out


def clip_weights(chip: ChipModel, ctx) -> ChipModel:
    """Clip weights to at most the layer's threshold (default; ``--no-clip`` disables).

    A weight above the threshold leaves a neuron above threshold after it fires, so it fires again at every later
    input event.  Reports how many weights were clipped and by how much.
    """
    if not ctx.options.clip or not any(layer.threshold_high > 0 and np.any(layer.weight > layer.threshold_high)
                                       for layer in chip.layers):
        return chip
    out = copy.deepcopy(chip)
    for layer in out.layers:
        thr = layer.threshold_high
        if thr <= 0:
            continue
        over = layer.weight > thr
        n = int(over.sum())
        if n:
            worst = float(layer.weight.max())
            layer.weight = np.minimum(layer.weight, thr)
            ctx.diags.warning("clip", layer.name, f"{n} of {layer.weight.size} weights were above the threshold "
                              f"{thr:g} and were clipped to it (largest {worst:g}, {worst / thr:.2f} x threshold)",
                              "pass --no-clip to keep them (such neurons fire at every later input)",
                              measured=n, limit=thr)
    return out
