"""The chip's integer neuron arithmetic, one scalar rule per function (docs/speck.md §4 and §5).

Shared by the reference simulator (plain Python calls), the fast simulator (``numba.njit`` compiles these same
functions) and the training frontend.  The names below are a stable interface:

* ``INT16_MIN``, ``INT16_MAX`` -- the membrane state range (from the chip table in ``snnc.targets.speck``);
* ``integrate(v, w, threshold_low, saturate=True) -> v`` -- add one weight (or one leak/bias step) to the state:
  ``v + w``, then saturated to the int16 range (or wrapped modulo 2**16 when ``saturate`` is false), then floored at
  ``threshold_low``;
* ``leak_ticks(v, b, threshold_low, n, saturate=True) -> v`` -- ``n`` leak updates that cannot fire, as ``n``
  calls of ``integrate`` but in constant time where a closed form exists;
* ``fire(v, threshold_high, return_to_zero) -> (v, spiked)`` -- at most one spike: if ``v >= threshold_high`` the
  neuron spikes and the state becomes ``0`` (return to zero) or ``v - threshold_high`` (subtract, the default);
* ``decimator_ratio(interval) -> N`` -- the output decimator passes one spike in N for its 3-bit interval.

All arguments and results are Python / numpy integers; each function is self-contained (no calls to other helpers)
and allocates nothing, so ``numba.njit`` compiles it as it stands.
"""
from __future__ import annotations

from ..targets.speck import SPECK_NEURON

#: Membrane state range (int16 on Speck; numba compiles these module constants into the kernel).
INT16_MIN, INT16_MAX = SPECK_NEURON.state_range
#: Weight range (int8 on Speck).
WEIGHT_MIN, WEIGHT_MAX = SPECK_NEURON.weight_range
_SPAN = INT16_MAX - INT16_MIN + 1


def integrate(v, w, threshold_low, saturate=True):
    """One synaptic (or leak) update: ``max(clamp16(v + w), threshold_low)``.

    ``saturate=True`` (the default; unknown on the chip, docs/speck.md §5) clips ``v + w`` to ``INT16_MIN..INT16_MAX``; ``False`` wraps
    it around like a 16-bit adder.  The floor at ``threshold_low`` is applied after, on every update [C].
    """
    v = v + w
    if saturate:
        if v > INT16_MAX:
            v = INT16_MAX
        elif v < INT16_MIN:
            v = INT16_MIN
    else:
        v = (v - INT16_MIN) % _SPAN + INT16_MIN
    if v < threshold_low:
        v = threshold_low
    return v


def leak_ticks(v, b, threshold_low, n, saturate=True):
    """``n`` leak updates of one neuron that cannot fire: exactly ``n`` calls of ``integrate(v, b, ...)``, in
    constant time where a closed form exists (saturating state, or wrapping without a floor above the int16
    minimum); otherwise one update at a time.

    Saturating: after the first update ``v >= threshold_low``; then each update is ``min(v + b, INT16_MAX)`` for
    ``b >= 0`` and ``max(v + b, threshold_low)`` for ``b < 0``, so ``k`` of them add ``k * b`` and clip once; after
    65536 updates every state has reached its end, so ``k`` is capped there (no overflow for any ``n``).
    Wrapping with ``threshold_low <= INT16_MIN``: addition modulo 2**16, so ``n * b`` only matters modulo 2**16.
    (Self-contained, like the others, so that numba compiles it: the update rule is written out.)
    """
    if n <= 0:
        return v
    steps = n
    if saturate or threshold_low <= INT16_MIN:
        steps = 1  # the first update as ``integrate``; the rest in closed form below
    for _ in range(steps):
        v = v + b
        if saturate:
            if v > INT16_MAX:
                v = INT16_MAX
            elif v < INT16_MIN:
                v = INT16_MIN
        else:
            v = (v - INT16_MIN) % _SPAN + INT16_MIN
        if v < threshold_low:
            v = threshold_low
    rest = n - steps
    if rest <= 0:
        return v
    if saturate:
        k = rest if rest < _SPAN else _SPAN
        v = v + k * b
        if b >= 0:
            if v > INT16_MAX:
                v = INT16_MAX
        else:
            low = threshold_low if threshold_low > INT16_MIN else INT16_MIN
            if v < low:
                v = low
        return v
    return (v - INT16_MIN + (rest % _SPAN) * b) % _SPAN + INT16_MIN


def fire(v, threshold_high, return_to_zero):
    """Spike test after an update: returns ``(v, spiked)``.

    ``v >= threshold_high`` gives one spike, however far above the threshold ``v`` is; the state is then reset to 0
    (``return_to_zero``) or reduced by ``threshold_high`` (subtract reset, saturated to the int16 range).
    """
    if v >= threshold_high:
        if return_to_zero:
            return v - v, True
        v = v - threshold_high
        if v > INT16_MAX:
            v = INT16_MAX
        elif v < INT16_MIN:
            v = INT16_MIN
        return v, True
    return v, False


def decimator_ratio(interval, ratios=None):
    """The output decimator's N (one spike passed in N) for a 3-bit ``output_decimator_interval`` 0..7
    (``ratios``: the target's ``decimator_ratios``, by default the Speck family's)."""
    ratios = SPECK_NEURON.decimator_ratios if ratios is None else ratios
    if not 0 <= int(interval) < len(ratios):
        raise ValueError(f"output_decimator_interval must be 0..{len(ratios) - 1}, got {interval}")
    return ratios[int(interval)]
