"""snnc compile: model -> integer chip configuration (JSON in samna's layout), written atomically."""
from __future__ import annotations

import json
import sys

from ._common import add_model_options, options_from_args


def add_parser(sub):
    p = sub.add_parser(
        "compile", help="compile a model to a Speck configuration file (JSON)",
        description="Run the whole pipeline (load, passes, rule checks, core assignment, integer quantization) and "
                    "write the chip configuration as JSON (docs/config-format.md). Exit 0: written; 1: the model "
                    "does not fit (the report is printed, nothing is written); 2: bad usage or unreadable input. "
                    "Compiling the same model with the same options twice gives byte-identical files.")
    add_model_options(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT.json", help="where to write the configuration")
    p.add_argument("--flash-binary", metavar="FILE", help="also write samna's flash image of the configuration "
                   "(needs SynSense's samna installed)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing when the model fits")
    p.add_argument("--json", action="store_true", help="print the report (as `snnc check --json` does, plus "
                   "\"output\") as one JSON object on stdout")
    return p


def run(args) -> int:
    from snnc.compiler.errors import SnncError
    from snnc.targets.compile import run_pipeline
    from snnc.compiler.quantize import check_policy
    from snnc.compiler.report import format_report
    from snnc.targets.config import atomic_write, build_and_write_config

    from snnc.compiler.fileio import check_output

    check_policy(args.quantize)
    out = check_output(args.output, "-o", {"MODEL": args.model}, probe=True)
    if args.flash_binary:
        check_output(args.flash_binary, "--flash-binary", {"MODEL": args.model, "-o": args.output})
    if args.flash_binary:
        from snnc.targets.samna_adapter import MISSING, real_samna_available

        if not real_samna_available():
            raise SnncError(f"--flash-binary: {MISSING}")

    options = options_from_args(args)
    result = run_pipeline(args.model, options, until="quantize")
    if not result.fits:
        if args.json:
            print(json.dumps(dict(result.report_json(), output=None), indent=1))
        else:
            print(format_report(result, source=args.model))
            n = len(result.diagnostics.errors)
            print(f"snnc: error: the model does not fit {result.target.name}: {n} violation{'s' * (n != 1)} "
                  f"(listed above); nothing written to {out}", file=sys.stderr)
        return 1
    config = build_and_write_config(result, out, lists=bool(args.flash_binary))  # the dict: for the flash image
    if args.flash_binary:
        from snnc.targets.samna_adapter import flash_binary

        atomic_write(args.flash_binary, flash_binary(config))
    if args.json:
        print(json.dumps(dict(result.report_json(), output=str(out)), indent=1))
    elif not args.quiet:
        print(format_report(result, source=args.model))
        cores = sorted(layer.core for layer in result.chip.layers)
        policies = sorted({layer.quant_report.get("policy", options.quantize) for layer in result.chip.layers})
        how = ("already integer, kept at scale 1" if policies == ["integer"]
               else f"quantization {', '.join(policies)}")
        print(f"wrote {out} ({len(cores)} cores: {', '.join(map(str, cores))}; {how})")
        if args.flash_binary:
            print(f"wrote {args.flash_binary} (flash image)")
    return 0
