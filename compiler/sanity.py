"""Model sanity: values no chip configuration can mean, found right after loading and before any pass runs.

A model that loads may still hold numbers that make its configuration useless: NaN or infinite weights, a threshold
of 0 or below (every neuron fires on every event, or the layer is dead), a floor of the membrane state at minus
infinity (sinabs' way of saying "no floor", which would otherwise set the layer's scale to 0 and round every weight
to 0), a negative batch-norm variance.  Each is a rule violation (exit 1) naming the user's layer and the field as
the user wrote it (``spike_threshold`` of a sinabs layer, ``v_threshold`` of a NIR node), never an internal field.

Rules: ``parameter_value`` (non-finite values, negative variance) and ``threshold`` (threshold <= 0, floor at -inf).
The pipeline stops after these checks when one fails, so no later pass computes on the bad values (no numpy
warnings, no "value JSON cannot store").
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .errors import Diagnostics
from .ir import IAF, LIF, BatchNorm, Graph

#: The field names the user wrote, per model format: IR field -> the frontend's own name.
USER_FIELDS = {
    "torch": {"threshold": "spike_threshold", "threshold_low": "min_v_mem", "v_init": "v_mem",
              "tau_mem": "tau_mem", "mean": "running_mean", "var": "running_var"},
    "nir": {"threshold": "v_threshold", "tau_mem": "tau"},
    "onnx": {"mean": "mean (BatchNormalization input 3)", "var": "var (BatchNormalization input 4)",
             "weight": "weight initializer", "bias": "bias initializer"},
}

#: What to set instead of a floor at -inf, per format.
_NO_FLOOR = {
    "torch": "set min_v_mem=None (no floor: snnc then uses -32768, the lowest the chip holds) or a finite value "
             "such as -spike_threshold",
    "nir": "NIR IF nodes have no floor; remove the -inf value from the file",
}


def user_field(fmt: str | None, field: str) -> str:
    return USER_FIELDS.get(fmt or "", {}).get(field, field)


def _summary(a: np.ndarray) -> str:
    nan, pinf, ninf = int(np.isnan(a).sum()), int(np.isposinf(a).sum()), int(np.isneginf(a).sum())
    parts = [f"{n} {what}" for n, what in ((nan, "NaN"), (pinf, "+inf"), (ninf, "-inf")) if n]
    return ", ".join(parts) + f" of {a.size} value{'s' * (a.size != 1)}"


def check_values(graph: Graph, fmt: str | None = None) -> Diagnostics:
    """Every value in ``graph`` that no configuration can mean, as rule violations (see the module docstring)."""
    fmt = fmt or graph.meta.get("format")
    diags = Diagnostics()
    for node in graph.nodes():
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.size == 0:
                continue
            name = user_field(fmt, f.name)
            if isinstance(node, (IAF, LIF)) and f.name == "threshold_low" and np.any(np.isneginf(value)) \
                    and not np.any(np.isnan(value)):
                diags.error("threshold", node.name, f"{name} is -inf: a floor at minus infinity makes the layer's "
                            "scale 0 and rounds every weight to 0", _NO_FLOOR.get(fmt or "", "give a finite floor "
                            "or none"), measured="-inf", limit="finite")
                continue
            finite = np.isfinite(value)
            if not finite.all():
                diags.error("parameter_value", node.name, f"{name} holds {_summary(value)}",
                            f"retrain or re-export the model: every {name} must be a finite number",
                            measured=int((~finite).sum()), limit=0)
                continue
            if isinstance(node, (IAF, LIF)) and f.name == "threshold" and np.any(value <= 0):
                lo = float(value.min())
                diags.error("threshold", node.name, f"{name} is {lo:g}; it must be above 0 (at {lo:g} the neurons "
                            "fire on every event or never stop firing)", f"set {name} to a positive value, e.g. 1.0",
                            measured=lo, limit="> 0")
            if isinstance(node, BatchNorm) and f.name == "var" and np.any(value < 0):
                diags.error("parameter_value", node.name, f"{name} holds negative variances "
                            f"(lowest {float(value.min()):g})", "a variance is >= 0: re-export the model",
                            measured=float(value.min()), limit=">= 0")
    return diags


__all__ = ["USER_FIELDS", "check_values", "user_field"]
