"""The chip's integrate-and-fire neuron as a differentiable tensor operation, one time step at a time.

Per time step and neuron (docs/speck.md §5, applied to the sum of the step's input instead of event by event)::

    V = V + I                      # I: the step's summed synaptic input
    V = max(V, threshold_low)      # the floor
    n = floor(V / threshold) if V >= threshold else 0     # reset "subtract"
    n = 1 if V >= threshold else 0                        # reset "zero"
    V = V - n * threshold          # or V = 0 where n > 0
    V = min(V, state_max)          # integer mode only: the int16 state saturates

The step's sum is not saturated before the spikes are counted: on the chip each event fires as soon as it lifts the
state to the threshold, so the state never climbs far above it; a per-step sum can, and saturating it would lose
spikes the chip emits.  The integer thresholds are kept at most ``INT16_MAX - max weight`` (:mod:`.quant`), so the
chip's own saturation never triggers in the regime above.

Why ``floor(V / threshold)`` spikes per step: the chip emits at most one spike per *input event*, and a step can hold
several input events.  With subtract reset, no bias and every weight below the threshold (training clips them so),
a neuron that starts a step below threshold and receives k events ends above it by less than (k + 1) thresholds, so
``floor(V / threshold) <= k`` and it equals the chip's count whenever the step's weights are non-negative (docs/speck.md
§10).  With mixed-sign weights the chip may fire on an intermediate peak or clamp at the floor mid-step; the
per-step sum does not see that order.  docs/training.md discusses this approximation.

The integer rules are the simulator's: :func:`iaf_step` in integer mode is tested against
``snnc.runtime.neuron.integrate`` / ``fire`` event by event.
"""
from __future__ import annotations

import math

import torch


class _SpikeCount(torch.autograd.Function):
    """Spikes per step in the forward pass; a surrogate slope in the backward pass.

    Several spikes per step (``multi``, subtract reset): the surrogate is ``1/threshold`` at and above the threshold
    (the slope of ``floor(V/threshold)`` on average) and falls off below it as
    ``1/threshold / (1 + alpha * (1 - V/threshold))^2``.

    One spike per step (reset to zero): the step function is flat above the threshold as well as below it, so the
    surrogate falls off on both sides, ``1/threshold / (1 + alpha * |1 - V/threshold|)^2`` (as SpikingJelly's
    surrogates do around ``V - threshold``).  A slope that stayed ``1/threshold`` above the threshold told every
    layer that more input gives more spikes where it gives none: training drove the layers into firing at every
    step, where the counts carry no information (issue 21: 32 % on MNIST against 95 % with subtract reset).
    """

    @staticmethod
    def forward(ctx, v, threshold, multi, alpha):
        ctx.save_for_backward(v)
        ctx.threshold, ctx.alpha, ctx.multi = threshold, alpha, multi
        if multi:
            return torch.floor(torch.clamp(v, min=0) / threshold) * (v >= threshold)
        return (v >= threshold).to(v.dtype)

    @staticmethod
    def backward(ctx, g):
        (v,) = ctx.saved_tensors
        th = ctx.threshold
        dist = torch.clamp(1.0 - v / th, min=0.0) if ctx.multi else torch.abs(1.0 - v / th)
        slope = 1.0 / (th * (1.0 + ctx.alpha * dist) ** 2)
        return g * slope, None, None, None


def spike_count(v: torch.Tensor, threshold: float, multi: bool = True, alpha: float = 0.5) -> torch.Tensor:
    """Number of spikes a neuron at state ``v`` emits this step (see the module docstring)."""
    return _SpikeCount.apply(v, float(threshold), bool(multi), float(alpha))


def iaf_step(v: torch.Tensor, current: torch.Tensor, threshold: float, threshold_low: float | None,
             reset: str = "subtract", state_max: float | None = None, decay: float | None = None,
             alpha: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """One time step of the neuron.  Returns ``(spikes, new_v)``.

    ``state_max`` saturates the state (integer mode: the int16 maximum); ``threshold_low`` floors it (None: no floor);
    ``decay`` turns it into a leaky neuron (software only, not a chip neuron); ``reset`` is ``"subtract"`` (several
    spikes per step possible, see the module docstring) or ``"zero"`` (at most one spike per step, V = 0 after it).
    """
    if decay is not None:
        v = v * decay
    v = v + current
    if threshold_low is not None:
        v = torch.clamp(v, min=threshold_low)
    if reset == "subtract":
        s = spike_count(v, threshold, True, alpha)
        v = v - s.detach() * threshold
    elif reset == "zero":
        s = spike_count(v, threshold, False, alpha)
        v = v * (1.0 - s.detach())
    else:
        raise ValueError(f"reset must be 'subtract' or 'zero', got {reset!r}")
    if state_max is not None:
        v = torch.clamp(v, max=state_max)
    return s, v


def run_neuron(current: torch.Tensor, threshold: float, threshold_low: float | None, reset: str = "subtract",
               state_max: float | None = None, tau_mem: float | None = None, alpha: float = 0.5) -> torch.Tensor:
    """Run ``current`` of shape ``[B, T, ...]`` through the neuron from V = 0; return spikes of the same shape."""
    decay = None if tau_mem is None else math.exp(-1.0 / tau_mem)
    v = torch.zeros_like(current[:, 0])
    out = []
    for t in range(current.shape[1]):
        s, v = iaf_step(v, current[:, t], threshold, threshold_low, reset, state_max, decay, alpha)
        out.append(s)
    return torch.stack(out, 1)
