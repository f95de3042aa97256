"""The bit-accurate, event-driven Speck simulator, built only from a configuration (docs/config-format.md).

What is simulated is exactly what would be deployed: the simulator reads the configuration that ``snnc compile``
writes (integer weights, thresholds, routing), never the float model.  ``reference.py`` is a plain-Python version of
the same rules that reads like docs/speck.md §5; the fast one is ``kernel.py`` (numba) run by ``driver.py``.  Both give the
same output events, in the same order, and the same final states; the property tests check it.

Processing order -- what "bit-accurate" means here (see docs/simulator.md for the chip facts behind each rule):

1. Input events are taken in timestamp order (ties keep their order in the file).
2. Depth-first: one input event and every event it causes are processed before the next input event [C: the chip
   works depth-first].  With several entry cores (``snnc.input.cores``, or the two DVS destinations), the event
   goes to them in list order, each one's cascade finished before the next.
3. An event (c, x, y) arriving at a core updates its target neurons in ascending (output feature, y, x) order [U,
   chosen].  Each neuron: ``V = integrate(V, W[o][c][ky][kx], threshold_low)``, then ``fire(V, threshold_high)``
   (``runtime/neuron.py``).  A spike is handled completely -- counted, decimated, monitored, sent to destination 0
   and its cascade finished, then to destination 1 -- before the next target neuron is updated.  (The kernel updates all
   targets first when the core cannot reach itself: the same result, see ``kernel.py``.)
4. A spike of core N at (o, y, x): the spike count of core N is incremented (every spike, before the decimator);
   if the output decimator is enabled, a per-core counter passes only every N-th spike (the N-th is the first
   passed) [I]; a passed spike is recorded as an output event with un-pooled coordinates when ``monitor_enable``
   [C], then for each enabled destination in order 0, 1 becomes ``(o + feature_shift, x // pooling, y // pooling)``
   at that core [C pooling, I shift] (or is recorded as a readout input when the destination is the target's
   readout layer, 12 on Speck).
   Events whose shifted/pooled coordinates fall outside the destination's input are dropped and counted.
5. Output events carry the timestamp of the input event that caused them.
6. Leak: with ``leak_enable`` and a slow clock of ``slow_clock_hz``, tick k happens at ``k * 1e6 / hz`` us
   (k = 1, 2, ...).  Every tick at or before an input event's time is processed before that event: each leaking core
   (ascending) adds its channel bias to every neuron in ascending (o, y, x) order with the same integrate rule.  A
   leak tick does not fire (default, [U]); with ``leak_can_fire=True`` a neuron at or above threshold after the
   leak spikes at the tick's time (rounded up to a whole us) and its cascade runs at once.  Ticks after the last
   input event are not processed.
7. The membrane state is int16, saturating by default (``overflow="wrap"`` makes the adder wrap) [U].

The result (:class:`SimResult`) exposes the output events, per-core spike counts, input-event counts, synaptic
operations (one per input event and target neuron) and, per input event, the synops it caused on each core
(``event_t``, ``event_synops[core]``) so peak rates over sliding windows can be computed
(:meth:`SimResult.peak_synops_rate`).
"""
from __future__ import annotations

from .budget import RunawayActivity
from .driver import Simulator, dvs_transform, simulate
from .kernel import STACK_LIMIT
from .program import SimProgram, SimCore, SimDvs, program_from_config, read_config
from .reference import ReferenceSimulator
from .result import OUTPUT_DTYPE, SimResult, readout_model, split_outputs

# The package's modules, one job each: program.py (configuration -> SimProgram), kernel.py (the numba event loop),
# driver.py (Simulator: packs a program, runs the kernel), result.py (SimResult, the readout model), reference.py
# (the slow plain-Python simulator the property tests compare with), budget.py (the bounds on the simulators' own
# work: spikes per input event and in all, leak ticks).

__all__ = ["Simulator", "SimResult", "simulate", "ReferenceSimulator", "SimProgram", "SimCore", "SimDvs",
           "program_from_config", "read_config", "readout_model", "split_outputs", "dvs_transform", "OUTPUT_DTYPE",
           "STACK_LIMIT", "RunawayActivity"]
