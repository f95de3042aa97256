"""snnc deploy: put a compiled configuration onto a connected Speck board through samna."""
from __future__ import annotations

from snnc.targets.speck import DEFAULT_BOARD, device_help


def add_parser(sub):
    p = sub.add_parser(
        "deploy", help="apply a compiled configuration to a connected board (needs samna)",
        description="Check CONFIG.json (as `snnc compile` writes it), copy it onto samna's configuration objects, "
                    "let samna validate it, and apply it to the board. Needs SynSense's samna and a connected "
                    "board; exit 2 with a message when either is missing or the file is bad.")
    p.add_argument("config", metavar="CONFIG.json", help="configuration written by `snnc compile`")
    p.add_argument("--device", default=f"{DEFAULT_BOARD}:0", metavar="NAME[:INDEX]", help=device_help())
    return p


def run(args) -> int:
    from snnc.targets.config import load_config
    from snnc.targets.samna_adapter import deploy

    config = load_config(args.config)
    print(deploy(config, args.device))
    return 0
