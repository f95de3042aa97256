"""snnc simulate: run a configuration on input events with the bit-accurate event-driven simulator."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def add_parser(sub):
    p = sub.add_parser(
        "simulate", help="run a compiled configuration on input events, bit-accurately",
        description="Simulate the chip event by event from a configuration written by `snnc compile` (never from "
                    "the float model). Input events: a .npy structured array with fields x, y, t (microseconds), p "
                    "(tonic's layout), an N-MNIST/ATIS .bin or an AEDAT 4 file. Writes output events and per-core spike counts to an .npz; see "
                    "docs/simulator.md for the processing order and its assumptions.")
    p.add_argument("config", metavar="CONFIG.json", help="configuration written by `snnc compile`")
    p.add_argument("--events", required=True, metavar="EVENTS", help="input events: .npy/.npz structured x, y, t, p; "
                   "N-MNIST/ATIS .bin; AEDAT 4 .aedat4 (told apart by content)")
    p.add_argument("--crop", metavar="X0,Y0,W,H", help="keep the events in this sensor window (shifted to 0,0)")
    p.add_argument("--downsample", type=int, metavar="N", help="divide event coordinates by N (after --crop)")
    p.add_argument("-o", "--output", metavar="OUT.npz",
                   help="write output_events (t, layer, feature, x, y) and spike_counts_core<N> [feature, y, x] here")
    p.add_argument("--slow-clock", type=float, metavar="HZ", default=None,
                   help="slow-clock frequency driving leak ticks and the readout (needed when a core leaks)")
    p.add_argument("--overflow", choices=["saturate", "wrap"], default="saturate",
                   help="int16 membrane overflow: saturate at the ends (default) or wrap around (then a warning "
                   "says when wrapping changed the output events)")
    p.add_argument("--leak-can-fire", action="store_true",
                   help="let a leak tick make a neuron spike (default: it cannot; the chip's behaviour is unknown)")
    p.add_argument("--reference", action="store_true",
                   help="use the slow plain-Python reference simulator instead of the fast one")
    p.add_argument("--max-events", type=int, metavar="N", default=None,
                   help="stop (exit 1) when one input event causes more than N spikes (default: the number of "
                   "neurons in the configuration, at least 10000)")
    p.add_argument("--max-total-events", type=int, metavar="N", default=None,
                   help="stop (exit 1) when the run's spikes exceed N (default: 50 million, or 1000 per input "
                   "event when more)")
    p.add_argument("--json", action="store_true", help="print the run's figures as JSON")
    return p


def write_npz(path, result) -> None:
    """Write the result atomically: a temporary file in the same folder, then rename."""
    from snnc.compiler.fileio import atomic_open

    path = Path(path)
    arrays = {"output_events": result.output_events}
    for core, counts in result.spike_counts.items():
        arrays[f"spike_counts_core{core}"] = counts.astype(np.int64)
    with atomic_open(path) as f:
        np.savez(f, **arrays)


def warn_if_wrapped(args, options, result, events) -> None:
    """``--overflow wrap``: run again saturating; one warning line when wrapping changed the output events."""
    import sys

    from snnc.runtime.simulator import Simulator

    sat = Simulator.from_config(args.config, overflow="saturate", **options).run(events)
    a, b = result.output_events, sat.output_events
    if len(a) != len(b) or not np.array_equal(a, b):
        print(f"snnc: warning: --overflow wrap changed the result: {len(a)} output events, {len(b)} with the "
              "saturating state (the int16 membrane state wrapped around); the chip's behaviour on overflow is "
              "unknown, see docs/simulator.md", file=sys.stderr)


def run(args) -> int:
    from snnc.compiler.errors import SnncError
    from snnc.runtime.simulator import Simulator

    from snnc.compiler.fileio import check_output

    from ._common import check_number, require_config

    require_config(args.config, "simulate")
    check_number(args.slow_clock, "--slow-clock", "frequency in Hz (e.g. 1000)", positive=True)
    if args.output:
        check_output(args.output, "-o", {"CONFIG": args.config, "--events": args.events}, probe=True)
    for flag, value in (("--max-events", args.max_events), ("--max-total-events", args.max_total_events)):
        if value is not None and value < 1:
            raise SnncError(f"{flag} {value}: give a positive number of spikes")
    options = dict(slow_clock_hz=args.slow_clock, leak_can_fire=True if args.leak_can_fire else None,
                   reference=args.reference, max_events=args.max_events, max_total_events=args.max_total_events)
    sim = Simulator.from_config(args.config, overflow=args.overflow, **options)
    from snnc.runtime.eventfit import check_downsample, events_for_simulator, parse_crop

    events, note = events_for_simulator(sim, args.events, parse_crop(args.crop), check_downsample(args.downsample),
                                        what=args.events)
    result = sim.run(events)
    if args.overflow == "wrap":
        warn_if_wrapped(args, options, result, events)
    if args.output:
        write_npz(args.output, result)
    if args.json:
        print(json.dumps(result.summary()))
        return 0
    s = result.summary()
    if note:
        print(note)
    kind = "reference" if args.reference else "fast"
    print(f"{s['input_events']} input events -> {s['output_events']} output events "
          f"({kind} simulator, {s['sim_seconds']:.3f} s)")
    print(f"  {'core':>4}  {'in events':>10}  {'spikes':>10}  {'synops':>12}")
    for c in s["cores"]:
        print(f"  {c['core']:>4}  {c['input_events']:>10}  {c['spikes']:>10}  {c['synops']:>12}")
    oe = result.output_events
    for layer in sorted(set(oe["layer"].tolist())):
        n_features = result.spike_counts[layer].shape[0] if layer in result.spike_counts else 0
        per_feature = np.bincount(oe["feature"][oe["layer"] == layer].astype(np.int64), minlength=n_features)
        what = "DVS layer" if layer == sim.program.target.dvs_layer else "core"
        print(f"  output {what} {layer}: spikes per feature {per_feature.tolist()}; most active feature "
              f"{int(per_feature.argmax())}")
    if result.dropped_events:
        print(f"  warning: {result.dropped_events} routed events fell outside their destination's input")
    if args.output:
        print(f"wrote {args.output}")
    return 0
