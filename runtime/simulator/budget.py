"""The simulator's own bounds on its work (docs/limits.md), shared by the fast kernel and the reference.

A network whose events fan out to many neurons that all fire multiplies the events at each layer; the chip would
stall on it, and a simulator without bounds would run for hours and exhaust memory.  Both simulators count spikes in
a ``budget`` array (indices ``B_*``) and stop when one input event causes more than ``max_events`` spikes or the run
more than ``max_total_events`` (:class:`RunawayActivity`, exit 1, naming the core where the cascade grows).  Leak
ticks that must run one by one (``leak_can_fire``, or wrapping with a floor above the int16 minimum) count neuron
updates against :data:`LEAK_WORK_LIMIT`.  The defaults are far above what any sound network does.
"""
from __future__ import annotations

import numpy as np

from ...compiler.errors import SnncError

#: Return codes of the kernel: the stack of pending events overflowed; the spike budget was spent; the leak ticks'
#: work budget was spent.
RC_STACK, RC_RUNAWAY, RC_LEAK = -1, -2, -3
#: The ``budget`` array: limits and counters (see :func:`new_budget`).
B_PER_EVENT, B_TOTAL, B_START, B_COUNT, B_EVENT, B_LEAK_LIMIT, B_LEAK = range(7)

#: Defaults: the NIR paper's CNN makes about 9 spikes per input event.
MIN_EVENTS_PER_INPUT = 10_000
MIN_TOTAL_EVENTS = 50_000_000
TOTAL_EVENTS_PER_INPUT = 1_000
LEAK_WORK_LIMIT = 1_000_000_000


class RunawayActivity(SnncError):
    """The network makes more spikes than the simulator's budget: it would stall the chip (exit 1)."""

    exit_code = 1


def check_limit(name: str, value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                              or not 1 <= value < 2 ** 62):
        raise SnncError(f"{name} = {value!r}: give a positive whole number of spikes")


def default_max_events(prog) -> int:
    """Spikes one input event may cause: every neuron of the used cores firing once, and at least 10,000."""
    neurons = sum(int(np.prod(c.out_shape)) for c in prog.cores.values())
    return max(MIN_EVENTS_PER_INPUT, neurons)


def new_budget(prog, n_events: int) -> np.ndarray:
    """The limits (``prog.max_events`` / ``prog.max_total_events``, or the defaults) and zeroed counters."""
    budget = np.zeros(7, np.int64)
    budget[B_PER_EVENT] = prog.max_events if prog.max_events is not None else default_max_events(prog)
    budget[B_TOTAL] = (prog.max_total_events if prog.max_total_events is not None
                       else max(MIN_TOTAL_EVENTS, TOTAL_EVENTS_PER_INPUT * n_events))
    budget[B_LEAK_LIMIT] = LEAK_WORK_LIMIT
    return budget


def runaway_error(prog, budget, in_events: dict, spikes: dict, i: int, t: int) -> RunawayActivity:
    """One line: which limit, the spikes per input event of each core (its growth factor), where it grows most."""
    per_event = int(budget[B_COUNT] - budget[B_START])
    if per_event > budget[B_PER_EVENT]:
        what = f"input event {i} (t = {t} us) caused more than {int(budget[B_PER_EVENT]):,} spikes (--max-events)"
    else:
        what = (f"the spikes reached {int(budget[B_TOTAL]):,} in all (--max-total-events) at input event {i} "
                f"(t = {t} us)")
    growth = {c: spikes[c] / in_events[c] for c in sorted(spikes) if in_events[c]}
    factors = ", ".join([f"core {c} x{g:.3g}" for c, g in growth.items()]
                        + [f"core {c} {spikes[c]} spikes from leak ticks" for c in sorted(spikes)
                           if spikes[c] and not in_events[c]])
    worst = max(growth, key=lambda c: growth[c]) if growth else None
    where = f"; the cascade grows most at core {worst}" if worst is not None else ""
    leak = " (leak ticks can fire: --leak-can-fire)" if prog.leak_can_fire and any(
        c.leak_enable for c in prog.cores.values()) else ""
    return RunawayActivity(
        f"simulation stopped: {what}{leak}; spikes per input event by core: {factors or 'none'}{where}. A sound "
        "network stays far below: keep the weights below the threshold (then one event cannot fire a neuron "
        "alone), check the chip's bandwidth with `snnc check MODEL --events EVENTS.npy`, or raise --max-events / "
        "--max-total-events if this activity is intended")


def leak_work_error(prog, budget) -> SnncError:
    mode = "--leak-can-fire" if prog.leak_can_fire else "--overflow wrap with a floor above -32768"
    return SnncError(f"simulation stopped: with {mode} the leak ticks are simulated one at a time, and they "
                     f"would take more than {int(budget[B_LEAK_LIMIT]):,} neuron updates before the last input "
                     "event; use a slower --slow-clock, shorter recordings, or (for wrap) --overflow saturate")
