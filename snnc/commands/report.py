"""snnc report: one self-contained HTML page with memory use, synaptic operations per core, spikes and energy."""
from __future__ import annotations

from ._common import add_model_options, check_estimate_options, options_from_args
from ._energy import add_energy_options, qualia_settings_from_args


def add_parser(sub):
    p = sub.add_parser(
        "report", help="write an HTML report: memory and SynOps/s per core against limits, spikes, energy",
        description="Compile the model in memory and write a single self-contained HTML file (plots inline) with "
                    "each core's memory use and synaptic-operation rate against its limits, a spike raster and "
                    "per-layer rates when --events is given, and energy estimates. Exit 0: written and fits; 1: "
                    "written, but the model does not fit (violations listed in the page); 2: bad usage or input.")
    add_model_options(p)
    p.add_argument("-o", "--output", required=True, metavar="REPORT.html", help="the HTML file to write")
    p.add_argument("--events", metavar="EVENTS.npy", help="input events to simulate bit-accurately (counts "
                   "synaptic operations, peaks over 1 ms and 10 ms windows, spikes; each core's backlog and delay)")
    p.add_argument("--input-rate", type=float, metavar="EVENTS_PER_S", help="static estimate from this input "
                   "event rate (used when --events is not given)")
    p.add_argument("--activity", type=float, metavar="A", help="static estimate: output spikes per input event of "
                   "every layer (default 1.0)")
    p.add_argument("--synops-limit", action="append", default=[], metavar="[CORE=]RATE",
                   help="override the per-core SynOps/s limit (an estimate by default); repeatable")
    p.add_argument("--max-latency-ms", type=float, metavar="MS", help="the largest delay the cores' queues may add "
                   "to an output event (default 10; see docs/bandwidth.md)")
    add_energy_options(p)
    return p


def run(args) -> int:
    from tqdm import tqdm

    from snnc.compiler.bandwidth import parse_synops_limits
    from snnc.compiler.fileio import check_output
    from snnc.compiler.html_report import render_html, report_data, write_html
    from snnc.runtime.measure import analyze, measure
    from snnc.targets.compile import run_pipeline

    check_estimate_options(args)
    # say so before minutes of simulation, not after
    check_output(args.output, "-o", {"MODEL": args.model, "--events": args.events}, probe=True)
    limits = parse_synops_limits(args.synops_limit)
    options = options_from_args(args)
    qualia = qualia_settings_from_args(args)
    stages = ["compile"] + (["simulate"] if args.events else []) + ["analyze", "plot", "write"]
    with tqdm(total=len(stages), desc="snnc report", unit="step", leave=False, disable=None) as bar:
        def step(name):
            bar.set_postfix_str(name, refresh=False)

        step("compile")
        result = run_pipeline(args.model, options, until="assign")
        bar.update()
        meas = None
        if args.events and result.fits:
            step("simulate")
            meas = measure(result, args.events)
            bar.update()
        elif args.events:
            bar.update()
        step("analyze")
        analysis = None
        if meas is not None or args.input_rate is not None:
            analysis = analyze(result, input_rate=args.input_rate, synops_limits=limits, activity=args.activity,
                               measurement=meas, max_latency_ms=args.max_latency_ms, qualia=qualia)
        elif args.events:
            analysis = {"cores": [], "energy": None, "diagnostics": [],
                        "note": "not simulated: the model does not fit the chip (see the diagnostics)"}
        bar.update()
        step("plot")
        page = render_html(report_data(result, analysis, source=args.model, measurement=meas))
        bar.update()
        step("write")
        write_html(args.output, page)
        bar.update()
    errors = result.diagnostics.errors + [d for d in (analysis or {}).get("diagnostics", []) if d.severity == "error"]
    print(f"wrote {args.output}" + ("" if not errors else f" (does not fit: {len(errors)} violation"
                                    f"{'s' * (len(errors) != 1)})"))
    return 0 if not errors else 1
