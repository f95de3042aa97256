"""snnc targets: list the chips snnc compiles for, with their core tables."""
from __future__ import annotations

import json


def add_parser(sub):
    p = sub.add_parser("targets", help="list the supported chips and their cores",
                       description="List the chips snnc compiles for, with each core's memories and limits.")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    return p


def run(args) -> int:
    from snnc.targets.speck import TARGETS

    if args.json:
        out = [{"name": t.name, "aliases": list(t.aliases),
                "cores": [{"core": c.index, "kernel_memory": c.kernel_memory, "neuron_memory": c.neuron_memory,
                           "bias_memory": c.bias_memory, "synops_limit": c.synops_limit} for c in t.cores],
                "event_time_s": t.event_time_s}
               for t in TARGETS.values()]
        print(json.dumps(out, indent=1))
        return 0
    for t in TARGETS.values():
        print(f"{t.name}  (also: {', '.join(t.aliases)})")
        print(f"  {'core':>4}  {'kernel mem':>10}  {'neuron mem':>10}  {'bias mem':>8}  {'SynOps/s limit*':>15}")
        for c in t.cores:
            print(f"  {c.index:>4}  {c.kernel_memory:>10}  {c.neuron_memory:>10}  {c.bias_memory:>8}  "
                  f"{c.synops_limit / 1e6:>13.0f} M")
        print(f"  limits: input <= {t.max_input_size}x{t.max_input_size}, conv output <= {t.max_output_size}x"
              f"{t.max_output_size}, <= {t.max_channels} channels, kernel {t.kernel_sizes[0]}..{t.kernel_sizes[-1]} "
              f"square, stride {list(t.strides)}, padding <= {t.max_padding}, pooling {list(t.poolings)}, "
              f"{t.destinations_per_core} destinations per core")
        print(f"  * {t.synops_limit_source}")
        print(f"  * queue model (snnc check --events): {t.event_time_source}")
    return 0
