"""Measuring a compiled model's synaptic-operation bandwidth by running the bit-accurate simulator on events.

The maths (static estimate, peak rates, limits, advice) is in ``snnc.compiler.bandwidth``; this module quantizes
the model, builds its configuration in memory, simulates the events and hands the counts to that analysis.
"""
from __future__ import annotations

import copy

import numpy as np

from ..compiler import bandwidth as _bandwidth
from ..compiler.bandwidth import Measurement, parse_synops_limits, with_decimate
from ..compiler.errors import Diagnostics, SnncError
from ..compiler.quantize import quantize_chip
from ..targets.config import build_config
from .simulator import Simulator


def simulate_compiled(result, events, trace: bool = False):
    """Quantize a copy of the compiled model, write its configuration in memory and run the simulator on ``events``.

    Returns ``(config, SimResult)``.  The decimators of ``--decimate`` are in the configuration, so the simulator
    honours them.  ``result`` is left as it was.
    """
    if not getattr(result, "fits", True):
        raise SnncError("the model does not fit the chip, so it cannot be simulated; fix the violations of "
                        "`snnc check` first")
    q = copy.copy(result)
    q.diagnostics = Diagnostics()
    q.chip = quantize_chip(copy.deepcopy(result.chip), result.target, result.options, q.diagnostics)
    config = build_config(q)
    sim = Simulator.from_config(config)
    return config, sim.run(sim.prepare_events(events), trace=trace)


def measure(result, events) -> Measurement:
    """Run ``events`` (path or event array) through the bit-accurate simulator of the compiled model and count every
    core's synaptic operations, input events and spikes; keep the simulator's delivery trace for the queue model."""
    chip = result.chip
    config, run = simulate_compiled(result, events, trace=True)
    times = np.asarray(run.event_t, dtype=np.int64)
    duration_s = float(times[-1] - times[0]) * 1e-6 if times.size > 1 else 0.0
    synops, in_events, out_spikes = [], [], []
    for layer in chip.layers:
        core = layer.core
        synops.append(np.asarray(run.event_synops.get(core, np.zeros(times.size)), dtype=np.int64))
        in_events.append(int(run.input_events_per_core.get(core, 0)))
        out_spikes.append(int(run.spikes_per_core.get(core, 0)))
    return Measurement(duration_s=duration_s, times_us=times, synops=synops, in_events=in_events,
                       out_spikes=out_spikes, sim=run, config=config, trace=run.trace, events=events)


def analyze(result, events=None, input_rate=None, synops_limits=None, activity=None,
            measurement: Measurement | None = None, max_latency_ms: float | None = None, qualia=None) -> dict:
    """Synaptic-operation bandwidth, queueing delay and energy of a compiled model (``snnc check
    --events/--input-rate``).

    With ``events`` (path or event array) the model is simulated bit-accurately, with its delivery trace, and the
    figures are counted (``measurement`` passes a :func:`measure` already done on them); otherwise ``input_rate``
    (events/s) is propagated statically with ``activity``.  ``max_latency_ms``: the delay the check accepts
    (docs/bandwidth.md).  The decimator advice re-simulates the events with the ratios it tries.  The returned dict
    is described in :func:`snnc.compiler.bandwidth.analyze`; a model that does not fit is not simulated (a note says
    so).
    ``qualia`` (``energy_qualia.QualiaEnergySettings``) adds Qualia-SNN's estimate to ``energy``.
    """
    if events is None and input_rate is None and measurement is None:
        raise SnncError("the bandwidth check needs --events FILE or --input-rate EVENTS_PER_S")
    if not isinstance(synops_limits, dict):
        synops_limits = parse_synops_limits(synops_limits)  # bad limits are reported before simulating
    if measurement is None and events is not None and result.fits and result.chip is not None and result.chip.layers:
        measurement = measure(result, events)
    remeasure = None
    if measurement is not None and measurement.events is not None:
        events_ = measurement.events

        def remeasure(dec: dict[int, int]) -> Measurement:  # the decimator advice re-simulates with other ratios
            return measure(with_decimate(result, result.chip, dec), events_)

    return _bandwidth.analyze(result, input_rate=input_rate, synops_limits=synops_limits, activity=activity,
                              measurement=measurement, events_given=events is not None,
                              max_latency_ms=max_latency_ms, remeasure=remeasure, qualia=qualia)


__all__ = ["simulate_compiled", "measure", "analyze", "Measurement"]
