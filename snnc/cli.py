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
        print(f"snnc: error: {one_line(message)} (see `{self.prog} --help`)", file=sys.stderr)
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


def one_line(text) -> str:
    """A message as one printable line: newlines and other control characters (e.g. from a file name) escaped."""
    text = str(text).strip()
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append(" ")
        elif ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(ascii(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Python warnings (ours and libraries') as one line each, without the source line."""
    name = "warning" if category is UserWarning else f"warning ({category.__name__})"
    print(f"snnc: {name}: {one_line(message)}", file=sys.stderr if file is None else file)


def _safe_streams() -> None:
    """Printing a file name that is not valid UTF-8 must not crash the report."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass


def main(argv: list[str] | None = None) -> int:
    import warnings

    from snnc.compiler.errors import SnncError

    _safe_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    saved = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return int(args._run(args) or 0)
    except SnncError as e:
        print(f"snnc: error: {e if getattr(e, 'report', False) else one_line(e)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("snnc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except RecursionError:
        if os.environ.get("SNNC_DEBUG"):
            raise
        print("snnc: error: the input is nested too deeply to read; check that it is the file you meant",
              file=sys.stderr)
        return 2
    except MemoryError:
        if os.environ.get("SNNC_DEBUG"):
            raise
        print("snnc: error: out of memory; the input asks for more than this machine holds (check the sizes it "
              "declares)", file=sys.stderr)
        return 2
    except Exception as e:  # a bug in snnc, not in the user's input
        if os.environ.get("SNNC_DEBUG"):
            raise
        print(f"snnc: internal error: {type(e).__name__}: {one_line(e)[:300]} (this is a bug in snnc; rerun with "
              "SNNC_DEBUG=1 for the traceback and report it)", file=sys.stderr)
        return 3
    finally:
        warnings.showwarning = saved


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
