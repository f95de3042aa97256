"""Integer quantization: float chip layers -> the integers a Speck core holds.

Each chip layer gets one scale ``s`` shared by its weights, biases, both thresholds and its initial state (the chip
compares the membrane state, a sum of weights, with the thresholds, so they must share a unit).  The integers are
``round(x * s)`` with round-half-to-even, as ``torch.round`` does.

Policies (``CompileOptions.quantize`` / ``--quantize``):

* ``"sinabs"`` (default): the scale sinabs' ``discretize_conv_spike`` computes, so a model moved from sinabs deploys
  to the same integers.  Each tensor gets the largest scale keeping it in range -- int8 for weights *and* biases,
  the 16-bit threshold range for the pair (threshold_low, threshold_high), the 16-bit state range for the initial
  state -- and the layer takes the smallest.  The arithmetic is done in float32 as sinabs does it.
  Two of sinabs' pitfalls are fixed, each with a warning: a missing ``threshold_low`` does not take part in the
  scale (sinabs uses -2^15 for it, which forces the scale to at most 1 and rounds typical weights to 0); it becomes
  the lowest value the chip's threshold register holds.  A ``threshold_low`` that rounds to 0 becomes -1 (a chip
  bug makes 0 unusable).
* ``"percentile"``: the weights' scale comes from the 99.9th percentile of the non-zero ``|w|`` instead of the
  maximum, so a few outliers (clipped to the int8 range, and counted) do not cost every other weight its
  resolution; biases may use their full 16-bit range.  Thresholds and state still have to fit.

Layers that are already integer and in range (weights, thresholds, biases and state all integers, as the training
frontend saves them) keep scale 1 under every policy; their report says ``"policy": "integer"``.

Every layer gets a ``quant_report`` with its scale and the error figures; a warning (rule ``quantization``) names a
layer where rounding zeroes more than 1 % of the non-zero weights or moves the threshold by more than 1 %.
"""
from __future__ import annotations

import copy

import numpy as np

from .chip import ChipLayer, ChipModel
from .errors import Diagnostics, SnncError

POLICIES = ("sinabs", "percentile")
PERCENTILE = 99.9  # of the non-zero |w|, for the "percentile" policy
WARN_FRACTION = 0.01  # zeroed weights / threshold change that deserves a warning


def quantize_chip(chip: ChipModel, target, options, diags: Diagnostics | None = None) -> ChipModel:
    """Return a copy of ``chip`` whose layers hold integers (``quantized=True``, ``scale``, ``quant_report``).

    ``options.quantize`` names the policy (see the module docstring).  Warnings go to ``diags``.
    """
    policy = getattr(options, "quantize", "sinabs") or "sinabs"
    check_policy(policy)
    diags = diags if diags is not None else Diagnostics()
    out = copy.copy(chip)
    out.layers = [quantize_layer(layer, target, policy, diags) if layer.split_of is None else None
                  for layer in chip.layers]
    # the slices of a split layer (passes/split.py) are quantized as the one layer they are, then sliced again:
    # the same scale and integers as the whole layer, so the split runs exactly like it
    from .passes.split import groups, join_slices, slice_layer

    for idx in groups(chip).values():
        whole = quantize_layer(join_slices([chip.layers[i] for i in idx]), target, policy, diags)
        for i in idx:
            part = slice_layer(whole, *chip.layers[i].channels)
            part.name, part.destinations, part.core = chip.layers[i].name, chip.layers[i].destinations, \
                chip.layers[i].core
            out.layers[i] = part
    return out


#: ``threshold_low`` 0 is unusable on the chip (a hardware bug, SPECK.md); this value replaces it.
THRESHOLD_LOW_INSTEAD_OF_ZERO = -1


def chip_threshold_low(value: int) -> int:
    """An integer ``threshold_low`` the chip can use: 0 becomes -1 (the hardware bug), anything else stays."""
    return THRESHOLD_LOW_INSTEAD_OF_ZERO if int(value) == 0 else int(value)


def check_policy(policy: str) -> None:
    """Raise SnncError naming the valid policies when ``policy`` is not one of them."""
    if policy not in POLICIES:
        raise SnncError(f"unknown quantization policy {policy!r}; use one of: {', '.join(POLICIES)}")


# ---------------------------------------------------------------------------------------------------- scales
def sinabs_scale(values: np.ndarray, bits: int) -> np.float32:
    """The largest scale keeping ``values`` in a signed ``bits``-bit range, computed as sinabs does (float32).

    The negative side of the range is one larger than the positive side; the side that limits decides.  An
    all-zero tensor gives ``inf`` (it does not limit the scale).
    """
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    v = np.asarray(values, dtype=np.float32)
    if v.size == 0:
        return np.float32(np.inf)
    mn, mx = v.min(), v.max()
    ratio = abs(lo / hi)
    # torch evaluates ``number / tensor`` as ``reciprocal(tensor) * number`` in float32; do the same, bit for bit
    with np.errstate(divide="ignore", over="ignore"):  # tiny values: inf, as torch gives
        if abs(mn) <= abs(mx) * np.float32(ratio):
            return np.float32(abs((np.float32(1) / mx) * np.float32(hi)))
        return np.float32(abs((np.float32(1) / mn) * np.float32(lo)))


def _round(x, scale) -> np.ndarray:
    """round(x * scale) in float32, half to even (torch.round), as int64."""
    return np.round(np.asarray(x, dtype=np.float32) * np.float32(scale)).astype(np.int64)


def _is_int(x, rng) -> bool:
    a = np.asarray(x, dtype=np.float64)
    head = a.reshape(-1)[:256]  # a float layer shows it in its first values: no need to look at them all
    if head.size < a.size and not _is_int(head, rng):
        return False
    return bool(np.all(np.isfinite(a)) and np.all(a == np.round(a)) and np.all((a >= rng[0]) & (a <= rng[1])))


def is_integer_layer(layer: ChipLayer, target) -> bool:
    """True when every number of the layer is already an integer in the chip's range (it keeps scale 1)."""
    return (_is_int(layer.weight, target.weight_range)
            and _is_int(layer.threshold_high, target.threshold_range)
            and (layer.threshold_low is None or _is_int(layer.threshold_low, target.threshold_range))
            and (layer.bias is None or _is_int(layer.bias, target.bias_range))
            and (layer.v_init is None or _is_int(layer.v_init, target.state_range)))


def layer_scale(layer: ChipLayer, target, policy: str) -> tuple[float, str]:
    """The layer's scale under ``policy`` and the name of the tensor that limits it."""
    if is_integer_layer(layer, target):
        return 1.0, "integer"
    w = np.asarray(layer.weight, dtype=np.float32)
    cands: dict[str, np.float32] = {}
    if policy == "percentile":
        nz = np.abs(w[w != 0])
        p = np.float32(np.percentile(nz, PERCENTILE)) if nz.size else np.float32(0)
        full = sinabs_scale(w, target.weight_bits)
        cands["weights"] = max(np.float32(target.weight_range[1] / p), full) if p > 0 else full
        bias_bits = target.bias_bits
    else:
        cands["weights"] = sinabs_scale(w, target.weight_bits)
        bias_bits = target.weight_bits  # sinabs scales biases into int8 as well
    if layer.bias is not None:
        cands["biases"] = sinabs_scale(layer.bias, bias_bits)
    thr = [layer.threshold_high] + ([layer.threshold_low] if layer.threshold_low is not None else [])
    cands["thresholds"] = sinabs_scale(np.array(thr), target.threshold_bits)
    if layer.v_init is not None:
        cands["state"] = sinabs_scale(layer.v_init, target.state_bits)
    name = min(cands, key=lambda k: cands[k])
    scale = cands[name]
    if not np.isfinite(scale) or scale <= 0:
        return 1.0, "none"
    return float(scale), name


# ---------------------------------------------------------------------------------------------------- layers
def _fig(x: float) -> float:
    """A figure for the report: 6 significant digits, so reports stay short and stable."""
    return float(f"{float(x):.6g}")


def quantize_layer(layer: ChipLayer, target, policy: str = "sinabs", diags: Diagnostics | None = None) -> ChipLayer:
    """Return an integer copy of one chip layer with its ``scale`` and ``quant_report``."""
    check_policy(policy)
    diags = diags if diags is not None else Diagnostics()
    scale, limited_by = layer_scale(layer, target, policy)
    s32 = np.float32(scale)
    wlo, whi = target.weight_range
    tlo, thi = target.threshold_range

    w = np.asarray(layer.weight, dtype=np.float64)
    exact = np.asarray(w, dtype=np.float32) * s32
    wq_raw = np.round(exact).astype(np.int64)  # _round(w, s32), from the product already made
    wq = np.clip(wq_raw, wlo, whi)
    clipped = int(np.count_nonzero(wq != wq_raw))
    err = np.abs(exact - wq)  # in float64 (numpy widens float32 and int64 to it)
    nonzero = np.count_nonzero(w)
    zeroed = int(np.count_nonzero((w != 0) & (wq == 0)))

    bias = None
    if layer.bias is not None:
        blo, bhi = target.bias_range
        bias = np.clip(_round(layer.bias, s32), blo, bhi)

    th = int(np.clip(_round(layer.threshold_high, s32), tlo, thi))
    if th <= 0 < layer.threshold_high:
        diags.warning("quantization", layer.name, f"the threshold {layer.threshold_high:g} rounds to {th} at scale "
                      f"{scale:.4g}; using 1", "the weights are much larger than the threshold: clip them (drop "
                      "--no-clip) or raise the threshold", measured=th, limit=1)
        th = 1
    rel_thr = abs(th / scale - layer.threshold_high) / abs(layer.threshold_high) if layer.threshold_high else 0.0

    if layer.threshold_low is None:
        tl = tlo
        low_source = "chosen"
        diags.warning("quantization", layer.name, f"the model gives no lower threshold (floor of the membrane "
                      f"state); using {tl}, the lowest the chip holds, instead of letting it limit the scale as "
                      "sinabs does", "set min_v_mem / threshold_low in the model to choose the floor yourself",
                      measured=None, limit=tl)
    else:
        tl = int(np.clip(_round(layer.threshold_low, s32), tlo, thi))
        low_source = "model"
        if tl != chip_threshold_low(tl):
            tl = chip_threshold_low(tl)
            low_source = "adjusted"
            diags.warning("quantization", layer.name, "threshold_low rounds to 0, which the chip cannot use "
                          f"(hardware bug); using {tl}", "", measured=0, limit=tl)

    v_init = None
    if layer.v_init is not None:
        slo, shi = target.state_range
        v_init = np.clip(_round(layer.v_init, s32), slo, shi)

    used = "integer" if limited_by == "integer" else policy
    report = {
        "policy": used,
        "scale": _fig(scale),
        "limited_by": limited_by,
        "weight_max_abs_error": _fig(err.max() if err.size else 0.0),
        "weight_mean_abs_error": _fig(err.mean() if err.size else 0.0),
        "zeroed_weights": _fig(zeroed / nonzero if nonzero else 0.0),
        "clipped_weights": _fig(clipped / w.size if w.size else 0.0),
        "threshold_high": th,
        "threshold_relative_change": _fig(rel_thr),
        "threshold_low": tl,
        "threshold_low_source": low_source,
    }
    if used == "integer":
        report["note"] = "already integer and in range: kept as is (scale 1)"
    problems = []
    if nonzero and zeroed == nonzero:
        diags.error("quantization", layer.name, f"all {nonzero} non-zero weights round to 0 at scale {scale:.4g} "
                    f"(limited by {limited_by}): the layer would never pass a spike",
                    "the weights are tiny next to the threshold (or the floor): scale the weights up or the "
                    "threshold down" + ("; or try --quantize percentile" if policy == "sinabs" else ""),
                    measured=zeroed, limit=nonzero - 1)
    elif nonzero and zeroed / nonzero > WARN_FRACTION:
        problems.append(f"{zeroed} of {nonzero} non-zero weights ({100 * zeroed / nonzero:.2f} %) round to 0")
    if rel_thr > WARN_FRACTION:
        problems.append(f"the threshold moves by {100 * rel_thr:.2f} % ({layer.threshold_high:g} x {scale:.4g} "
                        f"-> {th})")
    if problems:
        hint = ("try --quantize percentile" if policy == "sinabs" else
                "retrain with integer-aware (quantized) training, or raise the threshold relative to the weights")
        diags.warning("quantization", layer.name, f"quantization at scale {scale:.4g} (limited by {limited_by}): "
                      + "; ".join(problems), hint, measured=report["zeroed_weights"], limit=WARN_FRACTION)

    out = copy.copy(layer)
    out.destinations = list(layer.destinations)
    out.weight = wq
    out.bias = bias
    out.threshold_high = th
    out.threshold_low = tl
    out.v_init = v_init
    out.scale = scale
    out.quantized = True
    out.quant_report = report
    return out


__all__ = ["POLICIES", "quantize_chip", "quantize_layer", "layer_scale", "sinabs_scale", "is_integer_layer",
           "check_policy"]
