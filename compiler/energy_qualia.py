"""Qualia-SNN's energy estimate (``EnergyEstimationMetric`` of qualia-plugin-snn 2.6.0) with every one of its settings.

The model is Lemaire et al., "An Analytical Estimation of Spiking Neural Networks Energy Efficiency", ICONIP 2022
(doi:10.1007/978-3-031-30105-6_48), as Qualia-SNN 2.6.0 computes it for a spiking network (binary spikes): per
layer, memory accesses (potentials, weights, biases, input/output FIFOs) times an SRAM access energy, plus
accumulate / multiply-accumulate operations times 45 nm integer operation energies.  Qualia's settings:

* ``mem_width``: one bit width for every memory access and every operation;
* ``fifo_size``: the size of the per-layer event FIFOs (the memory the event reads and writes go to);
* ``op_estimation_type`` (``add`` and ``mul``): how the operation energy follows ``mem_width`` -- ``ICONIP`` (the
  32-bit values always), ``saturation`` (the next tabulated width: 8 or 32 bits), ``linear`` / ``quadratic``
  (through the 8- and 32-bit values; quadratic also through 0); absent: the tabulated value when ``mem_width`` is
  8 or 32, else the 32-bit one;
* ``sram_estimation_type``: ``old`` (ICONIP 2022: one access per datum, ``1.09e-5 * words * bits + 13.2`` pJ) or
  ``new`` (T. Louis: data packed into 64-bit accesses of 10 pJ, ``10 / (64 // bits)`` pJ per datum);
* T, the number of time steps: membrane-potential reads/writes, bias reads and the threshold accumulate of every
  neuron are paid every step.

Inputs per chip layer: theta_in (events received in one inference) and theta_out (spikes emitted).  docs/energy.md
gives the equations; ``tests/test_energy_qualia.py`` compares with figures computed by qualia-plugin-snn 2.6.0 itself.
Every figure is an estimate from a model, not a measurement.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .errors import SnncError

PJ = 1e-12

#: Qualia-SNN's operation energies in pJ (M. Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm integers).
OP_TABLE_PJ: dict[int, dict[str, float]] = {8: {"add": 0.03, "mul": 0.2}, 32: {"add": 0.1, "mul": 3.1}}
OP_METHODS = ("ICONIP", "saturation", "linear", "quadratic")
SRAM_METHODS = ("old", "new")
#: The terms of one layer, under Qualia's names.
TERMS = ("mem_pot", "mem_weights", "mem_bias", "mem_io", "ops", "addr")


@dataclass(frozen=True)
class QualiaEnergySettings:
    """``EnergyEstimationMetric``'s parameters plus T.  ``op_add`` / ``op_mul`` None: Qualia's default (no
    ``op_estimation_type``); ``sram`` None: Qualia's default, ``old``."""

    timesteps: int
    mem_width: int = 16
    fifo_size: int = 64
    op_add: str | None = None
    op_mul: str | None = None
    sram: str | None = None
    total_spikerate_exclude_nonbinary: bool = True

    def __post_init__(self):
        if not isinstance(self.timesteps, int) or isinstance(self.timesteps, bool) or self.timesteps < 0:
            raise SnncError(f"timesteps must be an integer >= 0, got {self.timesteps!r}")
        if not isinstance(self.mem_width, int) or isinstance(self.mem_width, bool) or not 1 <= self.mem_width <= 64:
            raise SnncError(f"mem_width must be an integer bit width from 1 to 64, got {self.mem_width!r}")
        if not isinstance(self.fifo_size, int) or isinstance(self.fifo_size, bool) or self.fifo_size < 1:
            raise SnncError(f"fifo_size must be an integer >= 1 (Qualia-SNN requires it for spiking models), got "
                            f"{self.fifo_size!r}")
        for what, v in (("op_estimation_type.add", self.op_add), ("op_estimation_type.mul", self.op_mul)):
            if v is not None and v not in OP_METHODS:
                raise SnncError(f"{what} = {v!r} is not one of: {', '.join(OP_METHODS)}")
        if (self.op_add is None) != (self.op_mul is None):
            raise SnncError("op_estimation_type needs both add and mul (e.g. {add = 'linear', mul = 'linear'})")
        if self.sram is not None and self.sram not in SRAM_METHODS:
            raise SnncError(f"sram_estimation_type = {self.sram!r} is not one of: {', '.join(SRAM_METHODS)}")
        if self.op_add == "saturation" or self.op_mul == "saturation":
            if self.mem_width > 32:
                raise SnncError(f"op_estimation_type 'saturation' covers widths up to 32 bits; mem_width is "
                                f"{self.mem_width}")
        self.e_add_pj  # noqa: B018 - fail early on impossible combinations
        self.e_ram_pj(1)

    @property
    def e_add_pj(self) -> float:
        return op_energy_pj(self.mem_width, "add", self.op_add)

    @property
    def e_mul_pj(self) -> float:
        return op_energy_pj(self.mem_width, "mul", self.op_mul)

    def e_ram_pj(self, words: int) -> float:
        return sram_access_pj(words, self.mem_width, self.sram)

    def params(self) -> dict:
        d = asdict(self)
        return {"timesteps": d["timesteps"], "mem_width": d["mem_width"], "fifo_size": d["fifo_size"],
                "op_estimation_type": (None if self.op_add is None else {"add": self.op_add, "mul": self.op_mul}),
                "sram_estimation_type": self.sram or "old",
                "total_spikerate_exclude_nonbinary": self.total_spikerate_exclude_nonbinary,
                "e_add_pj": self.e_add_pj, "e_mul_pj": self.e_mul_pj}


def op_energy_pj(bits: int, op: str, method: str | None) -> float:
    """Energy of one ``op`` ('add' or 'mul') on ``bits``-wide integers in pJ under Qualia's ``method``."""
    e8, e32 = OP_TABLE_PJ[8][op], OP_TABLE_PJ[32][op]
    if method is None:
        return OP_TABLE_PJ.get(bits, OP_TABLE_PJ[32])[op]
    if method == "ICONIP":
        return e32
    if method == "saturation":
        if bits <= 8:
            return e8
        if bits <= 32:
            return e32
        raise SnncError(f"op_estimation_type 'saturation' covers widths up to 32 bits, got {bits}")
    if method == "linear":  # the line through (8, e8) and (32, e32)
        m = (e32 - e8) / 24
        return m * bits + (e8 - 8 * m)
    if method == "quadratic":  # a b^2 + b' b through (0, 0), (8, e8) and (32, e32)
        a = (e32 / 32 - e8 / 8) / 24
        b = e8 / 8 - 8 * a
        return a * bits * bits + b * bits
    raise SnncError(f"op_estimation_type {method!r} is not one of: {', '.join(OP_METHODS)}")


def sram_access_pj(words: int, bits: int, method: str | None) -> float:
    """Energy of one SRAM read or write in pJ: ``old`` (ICONIP 2022, grows with the memory's size in bits) or
    ``new`` (T. Louis: 64-bit accesses of 10 pJ shared by ``64 // bits`` data, whatever the memory's size)."""
    if method == "new":
        per_access = 64 // int(bits)
        if per_access < 1:
            raise SnncError(f"sram_estimation_type 'new' packs data into 64-bit accesses; mem_width {bits} is wider")
        return 10.0 / per_access
    return 1.09e-5 * words * bits + 13.2


def is_dense(layer) -> bool:
    """A chip layer that is a fully-connected layer run as a convolution: the kernel covers its whole input map."""
    _, h, w = (int(v) for v in layer.input_shape)
    kh, kw = layer.kernel_size
    return (kh, kw) == (h, w) and tuple(int(v) for v in layer.output_shape[1:]) == (1, 1) \
        and tuple(int(p) for p in layer.padding) == (0, 0)


def conv_terms(*, in_shape, out_shape, kernel, stride, n_weights: int, has_bias: bool, theta_in: float,
               theta_out: float, s: QualiaEnergySettings, leak: bool = False) -> dict:
    """One convolutional layer: the six terms in pJ and the counts behind them (Qualia's SNN equations)."""
    cout = int(out_shape[0])
    n_out = math.prod(int(v) for v in out_shape)
    kh, kw = (int(v) for v in kernel)
    sy, sx = (int(v) for v in stride)
    T = s.timesteps
    e_add, e_mul = s.e_add_pj, s.e_mul_pj
    fifo = s.e_ram_pj(s.fifo_size)
    pot_accesses = theta_in * cout * kh * kw + n_out * T  # Eq. 9 (reads) = Eq. 14 (writes)
    weight_reads = theta_in * cout * kh * kw  # Eq. 7f
    bias_reads = n_out * T if has_bias else 0  # Eq. 7s, every step
    acc = theta_in * math.ceil(kh / sy) * math.ceil(kw / sx) * cout + T * n_out + theta_out  # Eq. 1.4
    mac = T * n_out if leak else 0  # Eq. 1.3
    addr_mac, addr_acc = 2 * theta_in, theta_in * kh * kw  # Eq. 16.2, 16.3
    terms = {
        "mem_pot": 2 * pot_accesses * s.e_ram_pj(n_out),
        "mem_weights": weight_reads * s.e_ram_pj(n_weights),
        "mem_bias": bias_reads * s.e_ram_pj(cout) if has_bias else 0.0,
        "mem_io": theta_in * fifo + theta_out * fifo,  # Eq. 5 + Eq. 13
        "ops": mac * (e_mul + e_add) + acc * e_add,
        "addr": addr_mac * (e_mul + e_add) + addr_acc * e_add,
    }
    counts = {"pot_reads": pot_accesses, "pot_writes": pot_accesses, "weight_reads": weight_reads,
              "bias_reads": bias_reads, "fifo_reads": theta_in, "fifo_writes": theta_out, "acc_ops": acc,
              "mac_ops": mac, "addr_mac": addr_mac, "addr_acc": addr_acc}
    return {"terms": terms, "counts": counts}


def dense_terms(*, n_in: int, n_out: int, n_weights: int, has_bias: bool, theta_in: float, theta_out: float,
                s: QualiaEnergySettings, leak: bool = False) -> dict:
    """One fully-connected layer: the six terms in pJ and the counts behind them (Qualia's SNN equations).

    As Qualia-SNN 2.6.0 computes it, the address term counts ``theta_in / n_in * n_out`` accumulates (the input's
    spike rate per neuron, not its count, times ``n_out``; the paper's Eq. 17.2 reads theta_in * n_out)."""
    T = s.timesteps
    e_add, e_mul = s.e_add_pj, s.e_mul_pj
    fifo = s.e_ram_pj(s.fifo_size)
    pot_accesses = theta_in * n_out + n_out * T  # Eq. 10 = Eq. 15
    weight_reads = theta_in * n_out  # Eq. 8f
    bias_reads = n_out * T if has_bias else 0
    acc = theta_in * n_out + T * n_out + theta_out  # Eq. 2.4 as Qualia corrects it
    mac = T * n_out if leak else 0  # Eq. 2.3
    addr_acc = theta_in / n_in * n_out if n_in else 0.0
    terms = {
        "mem_pot": 2 * pot_accesses * s.e_ram_pj(n_out),
        "mem_weights": weight_reads * s.e_ram_pj(n_weights),
        "mem_bias": bias_reads * s.e_ram_pj(n_out) if has_bias else 0.0,
        "mem_io": theta_in * fifo + theta_out * fifo,
        "ops": mac * (e_mul + e_add) + acc * e_add,
        "addr": addr_acc * e_add,
    }
    counts = {"pot_reads": pot_accesses, "pot_writes": pot_accesses, "weight_reads": weight_reads,
              "bias_reads": bias_reads, "fifo_reads": theta_in, "fifo_writes": theta_out, "acc_ops": acc,
              "mac_ops": mac, "addr_mac": 0, "addr_acc": addr_acc}
    return {"terms": terms, "counts": counts}


def layer_terms(layer, theta_in: float, theta_out: float, s: QualiaEnergySettings) -> dict:
    """A chip layer under Qualia's equations: the dense form when its kernel covers its input, else the conv form.
    Speck's IAF neurons do not leak, so no multiply-accumulates for leak."""
    has_bias = layer.bias is not None
    n_weights = int(layer.weight.size)
    if is_dense(layer):
        r = dense_terms(n_in=math.prod(int(v) for v in layer.input_shape), n_out=int(layer.output_shape[0]),
                        n_weights=n_weights, has_bias=has_bias, theta_in=theta_in, theta_out=theta_out, s=s)
        r["kind"] = "linear"
    else:
        r = conv_terms(in_shape=layer.input_shape, out_shape=layer.output_shape, kernel=layer.kernel_size,
                       stride=layer.stride, n_weights=n_weights, has_bias=has_bias, theta_in=theta_in,
                       theta_out=theta_out, s=s)
        r["kind"] = "conv"
    return r


def estimate(chip, activity, s: QualiaEnergySettings) -> dict:
    """The ``energy.qualia`` section: per chip layer and in total, every term under Qualia's name, in joules."""
    rows = []
    for layer, act in zip(chip.layers, activity):
        r = layer_terms(layer, float(act.in_events), float(act.out_spikes), s)
        t = {k: v * PJ for k, v in r["terms"].items()}
        row = {"layer": layer.name, "core": layer.core, "kind": r["kind"],
               "input_count": float(act.in_events), "output_count": float(act.out_spikes), **t,
               "mem_total": t["mem_pot"] + t["mem_weights"] + t["mem_bias"] + t["mem_io"],
               "opsaddr": t["ops"] + t["addr"], "counts": r["counts"]}
        row["total"] = row["mem_total"] + row["opsaddr"]
        rows.append(row)
    total = {k: sum(r[k] for r in rows) for k in (*TERMS, "mem_total", "opsaddr", "total")}
    return {
        "model": "qualia",
        "reference": "Lemaire et al., ICONIP 2022, as qualia-plugin-snn 2.6.0 EnergyEstimationMetric computes it "
                     "(45 nm; binary spikes)",
        "estimate": True,
        "unit": "J",
        "total_joules": total["total"],
        "total": total,
        "per_layer": rows,
        "params": s.params(),
    }


def format_qualia(section: dict, per: str | None = None) -> str:
    """The per-layer table of the ``qualia`` section, in nJ as Qualia-SNN prints it (``per``: what one figure
    covers, e.g. "inference of 0.004 s of input")."""
    p = section["params"]
    op = p["op_estimation_type"]
    lines = [f"energy estimate, Qualia-SNN EnergyEstimationMetric (T = {p['timesteps']}, mem_width {p['mem_width']}, "
             f"fifo_size {p['fifo_size']}, op {'default' if op is None else op['add'] + '/' + op['mul']}, "
             f"sram {p['sram_estimation_type']}; nJ per {per or section.get('per', 'inference')}):",
             f"  {'layer':<18} {'theta_in':>10} {'theta_out':>10} " + " ".join(f"{t:>11}" for t in TERMS)
             + f" {'total':>11}"]
    for r in [*section["per_layer"], {"layer": "total", **section["total"]}]:
        counts = (f"{r['input_count']:>10.6g} {r['output_count']:>10.6g}" if "input_count" in r
                  else f"{'':>10} {'':>10}")
        lines.append(f"  {str(r['layer'])[:18]:<18} {counts} "
                     + " ".join(f"{r[t] * 1e9:>11.5g}" for t in TERMS) + f" {r['total'] * 1e9:>11.5g}")
    return "\n".join(lines)


def settings_from_postprocessing(entry: dict, timesteps: int, where: str = "[[postprocessing]]"
                                 ) -> QualiaEnergySettings:
    """``QualiaEnergySettings`` from a Qualia TOML ``[[postprocessing]]`` entry of kind ``EnergyEstimationMetric``."""
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise SnncError(f"{where}.params must be a table")
    known = {"mem_width", "fifo_size", "total_spikerate_exclude_nonbinary", "op_estimation_type",
             "sram_estimation_type"}
    bad = sorted(set(params) - known)
    if bad:
        raise SnncError(f"unknown key {where}.params.{bad[0]}; EnergyEstimationMetric takes: {', '.join(sorted(known))}")
    if "mem_width" not in params:
        raise SnncError(f"{where}.params.mem_width is required (the memory access width in bits, e.g. 8)")
    op = params.get("op_estimation_type")
    if op is not None and (not isinstance(op, dict) or set(op) - {"add", "mul"}):
        raise SnncError(f"{where}.params.op_estimation_type must be a table {{add = ..., mul = ...}} with values "
                        f"among {', '.join(OP_METHODS)}")
    flag = params.get("total_spikerate_exclude_nonbinary", True)
    if not isinstance(flag, bool):
        raise SnncError(f"{where}.params.total_spikerate_exclude_nonbinary must be true or false")
    try:
        return QualiaEnergySettings(timesteps=timesteps, mem_width=params["mem_width"],
                                    fifo_size=params.get("fifo_size", 0), op_add=(op or {}).get("add"),
                                    op_mul=(op or {}).get("mul"), sram=params.get("sram_estimation_type"),
                                    total_spikerate_exclude_nonbinary=flag)
    except SnncError as e:
        raise SnncError(f"{where}.params: {e}") from None


__all__ = ["QualiaEnergySettings", "OP_METHODS", "SRAM_METHODS", "TERMS", "op_energy_pj", "sram_access_pj",
           "conv_terms", "dense_terms", "layer_terms", "estimate", "format_qualia", "settings_from_postprocessing", "is_dense"]
