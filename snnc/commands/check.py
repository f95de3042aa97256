"""snnc check: does the model fit the chip, and if not, exactly why and how to fix it."""
from __future__ import annotations

import argparse
import json

from ._common import add_model_options, check_estimate_options, options_from_args
from ._energy import add_energy_options, qualia_settings_from_args


class _ListRules(argparse.Action):
    """``--list-rules``: print every rule id (errors and warnings) with its severity, where it is checked and what
    it means, then exit 0 (no model needed)."""

    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        from snnc.compiler.rules import render_rule_table

        print(render_rule_table(), end="")
        parser.exit(0)


def add_parser(sub):
    p = sub.add_parser(
        "check", help="check that a model fits the chip; list every violation with a fix",
        description="Run the compile pipeline up to core assignment and report every hardware-rule violation at "
                    "once. Exit 0: fits; 1: does not fit; 2: bad usage or unreadable input.")
    add_model_options(p)
    p.add_argument("--list-rules", action=_ListRules, help="print every rule id (errors and warnings) with its "
                   "severity, where it is checked and what it means, and exit")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")
    p.add_argument("--events", metavar="EVENTS.npy", help="input events: simulate them, run each core "
                   "as a queue and check how late the output events come (docs/bandwidth.md)")
    p.add_argument("--input-rate", type=float, metavar="EVENTS_PER_S", help="estimate synaptic-operation rates "
                   "and queueing delays from this input event rate (static estimate, Poisson input)")
    p.add_argument("--synops-limit", action="append", default=[], metavar="[CORE=]RATE",
                   help="override the per-core SynOps/s limit (an estimate by default); repeatable; needs --events "
                        "or --input-rate")
    p.add_argument("--max-latency-ms", type=float, metavar="MS", help="the largest delay the cores' queues may add "
                   "to an output event (default 10; see docs/bandwidth.md); needs --events or --input-rate")
    p.add_argument("--activity", type=float, metavar="SPIKES_PER_EVENT", help="static estimate only: output "
                   "spikes per input event assumed for every layer (default: see docs/bandwidth.md)")
    add_energy_options(p)
    return p


def run(args) -> int:
    from snnc.compiler.report import format_report
    from snnc.targets.compile import run_pipeline

    check_estimate_options(args)
    options = options_from_args(args)
    qualia = qualia_settings_from_args(args)
    if qualia is not None and not (args.events or args.input_rate is not None):
        from snnc.compiler.errors import SnncError

        raise SnncError("the energy estimate needs activity: give --events EVENTS.npy (simulated) or --input-rate "
                        "EVENTS_PER_S (static estimate)")
    result = run_pipeline(args.model, options, until="assign")
    extra = {}
    bandwidth_options = args.synops_limit or args.activity is not None or args.max_latency_ms is not None
    if bandwidth_options and not (args.events or args.input_rate is not None):
        from snnc.compiler.errors import SnncError

        raise SnncError("--synops-limit, --activity and --max-latency-ms need --events EVENTS.npy or --input-rate "
                        "EVENTS_PER_S")
    if args.events or args.input_rate is not None:
        from snnc.compiler.bandwidth import parse_synops_limits
        from snnc.runtime.measure import analyze

        extra = analyze(result, events=args.events, input_rate=args.input_rate,
                        synops_limits=parse_synops_limits(args.synops_limit), activity=args.activity,
                        max_latency_ms=args.max_latency_ms, qualia=qualia)
        result.diagnostics.extend(extra.pop("diagnostics", []))
        extra.pop("queue_series", None)  # the report's curves; too long for the terminal
    if args.json:
        out = result.report_json()
        out.update(extra)
        print(json.dumps(out, indent=1))
    else:
        print(format_report(result, source=args.model))
        if extra.get("cores"):
            from snnc.compiler.bandwidth import format_cores

            print(format_cores(extra))
    return 0 if result.fits else 1
