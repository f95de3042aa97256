"""The human-readable report of ``snnc check`` / ``snnc compile``: a per-core table, then violations and warnings,
each with its hint, like a compiler's error list."""
from __future__ import annotations

import copy

from .memory import memory


def _shape(s) -> str:
    return "x".join(str(int(v)) for v in s)


def _dvs_text(dvs) -> str:
    """One line of what the DVS layer does, in its order."""
    parts = []
    if dvs.merge:
        parts.append("merge")
    if not (dvs.on_channel and dvs.off_channel):
        parts.append("on only" if dvs.on_channel else "off only")
    if dvs.pooling != (1, 1):
        parts.append(f"pool y {dvs.pooling[0]} x {dvs.pooling[1]}")
    parts.append(f"region x {dvs.origin[1]}..{dvs.cut[1]}, y {dvs.origin[0]}..{dvs.cut[0]}")
    mirror = [a for a, on in (("x", dvs.mirror_x), ("y", dvs.mirror_y), ("diagonal", dvs.mirror_diagonal)) if on]
    if mirror:
        parts.append("mirror " + ", ".join(mirror))
    parts.append("sensor on" if dvs.pass_sensor_events else "host events")
    return "; ".join(parts)


def format_report(result, source: str | None = None) -> str:
    t = result.target
    lines = []
    src = source or result.source.get("path") or "model"
    lines.append(f"snnc: {src} -> {t.name}")
    chip = result.chip
    if chip is not None and chip.layers:
        head = (f"  {'#':>2}  {'layer':<18} {'core':>4}  {'input':>10} -> {'output':<10} "
                f"{'kernel mem':>17}  {'neuron mem':>17}  {'bias':>9}  destinations")
        lines.append(head)
        for i, layer in enumerate(chip.layers):
            m = memory(layer)
            core = t.cores[layer.core] if layer.core is not None else None

            def used(kind):
                cap = getattr(core, f"{kind}_memory") if core else max(getattr(c, f"{kind}_memory") for c in t.cores)
                return f"{m[kind]}/{cap}"

            dests = ", ".join(
                ("output" if d.layer == "output" else f"#{d.layer}") + (f" pool {d.pooling}" if d.pooling != 1 else "")
                + (f" shift {d.feature_shift}" if d.feature_shift else "")
                for d in layer.destinations) or "-"
            core_s = "-" if layer.core is None else str(layer.core)
            lines.append(f"  {i:>2}  {layer.name[:18]:<18} {core_s:>4}  {_shape(layer.input_shape):>10} -> "
                         f"{_shape(layer.output_shape):<10} {used('kernel'):>17}  {used('neuron'):>17}  "
                         f"{used('bias'):>9}  {dests}")
        if chip.input_targets:
            lines.append(f"  input {_shape(chip.input_shape)} -> "
                         + ", ".join(f"#{i}" for i in chip.input_targets)
                         + (f" (pool {chip.input_pooling})" if chip.input_pooling != 1 else "")
                         + (f" through the DVS layer ({_dvs_text(chip.dvs)})" if chip.dvs is not None else ""))
        if any(layer.core is None for layer in chip.layers):
            lines.append("  (memory limits shown are the largest core's where no core is assigned)")
    for note in getattr(result, "notes", []) or []:
        lines.append(f"note: {note}")
    for d in _grouped(result.diagnostics.errors) + _grouped(result.diagnostics.warnings):
        lines.append(str(d))
        if d.measured is not None or d.limit is not None:
            lines.append(f"  = measured: {d.measured}; limit: {d.limit}")
        if d.hint:
            lines.append(f"  = hint: {d.hint}")
    n_err, n_warn = len(result.diagnostics.errors), len(result.diagnostics.warnings)
    if result.fits and not chip.layers:
        lines.append(f"fits: the DVS layer only ({_dvs_text(chip.dvs)}), no core used"
                     + (f" ({n_warn} warning{'s' * (n_warn != 1)})" if n_warn else ""))
    elif result.fits:
        cores = sorted(layer.core for layer in chip.layers)
        lines.append(f"fits: {len(chip.layers)} layers on cores {', '.join(map(str, cores))}"
                     + (f" ({n_warn} warning{'s' * (n_warn != 1)})" if n_warn else ""))
    else:
        lines.append(f"does not fit: {n_err} violation{'s' * (n_err != 1)}"
                     + (f", {n_warn} warning{'s' * (n_warn != 1)}" if n_warn else ""))
    return "\n".join(lines)


def _grouped(diags: list) -> list:
    """One entry for a diagnostic that says the same thing about several layers (names joined)."""
    out, seen = [], {}
    for d in diags:
        key = (d.rule, d.message, d.hint, str(d.measured), str(d.limit), d.severity)
        if key in seen and d.layer:
            first = seen[key]
            first.layer = f"{first.layer}, {d.layer}"
            continue
        d = copy.copy(d)
        seen[key] = d
        out.append(d)
    return out
