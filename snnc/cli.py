"""The ``snnc`` command line.  Each subcommand lives in ``snnc/commands/<name>.py`` with ``add_parser`` and ``run``.

Exit codes, the same for every subcommand: 0 success / fits, 1 the model does not fit (violations listed),
2 bad usage or unusable input (one line on stderr), 3 an internal error (a bug: one line, traceback with
``SNNC_DEBUG=1``).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__

COMMANDS = ["check", "compile", "inspect", "targets", "simulate", "deploy", "train", "convert", "evaluate", "report"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own usage errors: one line, exit 2
        self.print_usage(sys.stderr)
        print(f"snnc: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="snnc", description="Compile trained spiking neural networks for SynSense Speck, check that "
                "they fit, and simulate the chip bit-accurately.")
    p.add_argument("--version", action="version", version=f"snnc {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod = importlib.import_module(f"snnc.commands.{name}")
        sp = mod.add_parser(sub)
        sp.set_defaults(_run=mod.run)
    return p


def main(argv: list[str] | None = None) -> int:
    from snnc.compiler.errors import SnncError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except SnncError as e:
        print(f"snnc: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("snnc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug in snnc, not in the user's input
        if os.environ.get("SNNC_DEBUG"):
            raise
        print(f"snnc: internal error: {type(e).__name__}: {e} (this is a bug in snnc; rerun with SNNC_DEBUG=1 "
              "for the traceback and report it)", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
