"""Energy estimates for a compiled model: two documented models, never a measurement.

Both models take the same activity figures per chip layer -- input events received (theta_in), output spikes emitted
(theta_out) and synaptic operations (synops) over one inference (one input stream) -- and return joules.

* ``lemaire2022``: the operation / memory-access model of Lemaire et al., "An Analytical Estimation of Spiking Neural
  Networks Energy Efficiency", ICONIP 2022 (doi:10.1007/978-3-031-30105-6_48), with the constants and the SNN
  equations as Qualia-SNN's ``EnergyEstimationMetric`` applies them: 45 nm add/multiply energies from Horowitz
  (ISSCC 2014) and an SRAM access energy that grows linearly with the memory's size in bits
  (``E_ram(n, b) = 1.09e-5 * n * b + 13.2`` pJ).  The layer's memory sizes and bit widths are the compiled model's
  (int8 weights, int16 state and biases on Speck) unless ``mem_width`` forces one width for every memory, as
  Qualia-SNN does.
* ``speck``: ``E = synops * energy_per_synop_j + spikes * energy_per_spike_j + static_power_w * duration``, with the
  chip's figures from ``targets/speck.py`` (see ``docs/energy.md`` for their sources and which of them are published).

The equations are referenced by their numbers in the paper (Eq. 1.4, 5, 7f, 7s, 9, 13, 14, 16.2, 16.3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .chip import ChipLayer

PJ = 1e-12

#: 45 nm integer add / multiply energy in pJ by operand width (Horowitz, ISSCC 2014), as Qualia-SNN tabulates them.
HOROWITZ_45NM_PJ: dict[int, dict[str, float]] = {
    8: {"add": 0.03, "mul": 0.2},
    32: {"add": 0.1, "mul": 3.1},
}

#: SRAM access energy model of ICONIP 2022 (linear fit over Horowitz's 8 KiB, 32 KiB and 1 MiB 45 nm SRAMs), in pJ.
SRAM_SLOPE_PJ_PER_BIT = 1.09e-5
SRAM_OFFSET_PJ = 13.2


def sram_access_pj(n_words: int, bits: int) -> float:
    """Energy of one read or write in an SRAM holding ``n_words`` words of ``bits`` bits (ICONIP 2022 fit), in pJ."""
    return SRAM_SLOPE_PJ_PER_BIT * n_words * bits + SRAM_OFFSET_PJ


def op_energy_pj(bits: int) -> tuple[float, float]:
    """(add, multiply) energy in pJ for ``bits``-wide integers: Horowitz's value for 8 or 32 bits, else the 32-bit
    value (what Qualia-SNN does for widths it has no entry for)."""
    e = HOROWITZ_45NM_PJ.get(int(bits), HOROWITZ_45NM_PJ[32])
    return e["add"], e["mul"]


@dataclass
class LayerActivity:
    """What one chip layer did during one inference (counts, not rates)."""

    name: str
    in_events: float  # theta_{l-1}: events that arrived at the layer
    out_spikes: float  # theta_l: spikes its neurons emitted
    synops: float  # synaptic operations (weight additions into membrane potentials)
    core: int | None = None


def lemaire2022_layer(layer: ChipLayer, in_events: float, out_spikes: float, *, timesteps: int = 0,
                      leak: bool | None = None, mem_width: int | None = None, weight_bits: int = 8,
                      state_bits: int = 16, bias_bits: int = 16, fifo_size: int = 0) -> dict[str, float]:
    """One convolutional chip layer under the ICONIP 2022 SNN model; every term in joules.

    ``timesteps`` is T of the paper: the number of times every neuron is visited regardless of input (bias / leak
    and threshold checks).  Speck is event-driven: a neuron is only visited when an event reaches it, so T = 0
    unless the layer leaks, when T is the number of slow-clock ticks.  ``leak`` defaults to "the layer keeps a
    bias".  ``mem_width`` (Qualia-SNN's single memory width) overrides the per-memory bit widths.
    """
    cin, hin, win = (int(v) for v in layer.input_shape)
    cout, hout, wout = (int(v) for v in layer.output_shape)
    kh, kw = layer.kernel_size
    sy, sx = (int(v) for v in layer.stride)
    n_out = cout * hout * wout
    n_weights = int(layer.weight.size)
    has_bias = layer.bias is not None
    leak = has_bias if leak is None else bool(leak)
    wb = pb = bb = None
    if mem_width is not None:
        wb = pb = bb = int(mem_width)
    wb, pb, bb = wb or weight_bits, pb or state_bits, bb or bias_bits
    e_add, e_mul = op_energy_pj(mem_width if mem_width is not None else state_bits)
    t_in, t_out, T = float(in_events), float(out_spikes), int(timesteps)

    # memory: input FIFO read (Eq. 5) and output FIFO write (Eq. 13)
    mem_io = t_in * sram_access_pj(fifo_size, pb) + t_out * sram_access_pj(fifo_size, pb)
    # weights read per input event: Cout * kh * kw (Eq. 7f); bias read per neuron per timestep (Eq. 7s)
    mem_weights = t_in * cout * kh * kw * sram_access_pj(n_weights, wb)
    mem_bias = (n_out * T * sram_access_pj(cout, bb)) if has_bias else 0.0
    # potentials read (Eq. 9) and written (Eq. 14): theta_in * Cout * kh * kw + Cout * Hout * Wout * T each
    pot = t_in * cout * kh * kw + n_out * T
    mem_pot = 2 * pot * sram_access_pj(n_out, pb)
    # operations: accumulates (Eq. 1.4), multiply-accumulates for the leak (Eq. 1.3)
    acc = t_in * math.ceil(kh / sy) * math.ceil(kw / sx) * cout + T * n_out + t_out
    mac = T * n_out if leak else 0
    ops = mac * (e_mul + e_add) + acc * e_add
    # address computation: 2 MACs per input event (Eq. 16.2) and kh * kw accumulates (Eq. 16.3)
    addr = t_in * 2 * (e_mul + e_add) + t_in * kh * kw * e_add
    out = {"mem_io": mem_io, "mem_weights": mem_weights, "mem_bias": mem_bias, "mem_pot": mem_pot,
           "ops": ops, "addr": addr}
    out = {k: v * PJ for k, v in out.items()}
    out["total"] = sum(out.values())
    return out


def speck_layer(synops: float, out_spikes: float, target) -> dict[str, float]:
    """Dynamic energy of one core under the Speck model, in joules."""
    e_syn = float(synops) * target.energy_per_synop_j
    e_spk = float(out_spikes) * target.energy_per_spike_j
    return {"synops": e_syn, "spikes": e_spk, "total": e_syn + e_spk}


def estimate(chip, activity: list[LayerActivity], target, duration_s: float | None = None, *,
             timesteps: int = 0, mem_width: int | None = None, measured: bool = False, qualia=None) -> dict:
    """Energy of one inference (the whole input stream) under both models.

    ``activity`` holds one entry per chip layer (same order).  ``duration_s`` is the length of the input, for the
    static power term of the Speck model (omitted when None).  Returns the ``energy`` object of ``snnc check
    --json``: the Speck model at the top level and the ICONIP 2022 model under ``"lemaire2022"``; ``"basis"`` says
    whether the activity was simulated or assumed.  With ``qualia`` (``energy_qualia.QualiaEnergySettings``) the
    ``"qualia"`` section adds Qualia-SNN's estimate with those settings (``energy_qualia.estimate``).  Every figure
    is an estimate.
    """
    per_speck, per_lem = [], []
    for layer, act in zip(chip.layers, activity):
        s = speck_layer(act.synops, act.out_spikes, target)
        per_speck.append({"layer": layer.name, "core": layer.core, "synops": act.synops,
                          "spikes": act.out_spikes, "joules": s["total"]})
        lem = lemaire2022_layer(layer, act.in_events, act.out_spikes, timesteps=timesteps, mem_width=mem_width,
                                weight_bits=target.weight_bits, state_bits=target.state_bits,
                                bias_bits=target.bias_bits)
        per_lem.append({"layer": layer.name, "core": layer.core, "joules": lem["total"],
                        **{k: v for k, v in lem.items() if k != "total"}})
    dynamic = sum(p["joules"] for p in per_speck)
    static = target.static_power_w * duration_s if duration_s else 0.0
    extra = {}
    if qualia is not None:
        from .energy_qualia import estimate as qualia_estimate

        extra["qualia"] = qualia_estimate(chip, activity, qualia)
    return {
        "model": "speck",
        "estimate": True,
        "basis": ("activity simulated on the given events" if measured else "activity assumed (static estimate)"),
        "per": "inference" if duration_s is None else f"inference of {duration_s:.6g} s of input",
        "duration_s": duration_s,
        "total_joules": dynamic + static,
        "dynamic_joules": dynamic,
        "static_joules": static,
        "per_layer": per_speck,
        "params": {"energy_per_synop_j": target.energy_per_synop_j, "energy_per_spike_j": target.energy_per_spike_j,
                   "static_power_w": target.static_power_w},
        "lemaire2022": {
            "model": "lemaire2022",
            "reference": "Lemaire et al., ICONIP 2022, as in Qualia-SNN EnergyEstimationMetric (45 nm)",
            "total_joules": sum(p["joules"] for p in per_lem),
            "per_layer": per_lem,
            "params": {"timesteps": timesteps, "mem_width": mem_width, "weight_bits": target.weight_bits,
                       "state_bits": target.state_bits, "bias_bits": target.bias_bits},
        },
        **extra,
    }
