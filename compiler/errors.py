"""Errors and diagnostics.

Two kinds of trouble, kept apart on purpose:

* :class:`SnncError` -- the input cannot be used at all (missing file, garbage, unknown class in a pickle, bad
  option).  The CLI prints its one-line message and exits 2.
* :class:`Diagnostic` -- the model was understood but breaks a hardware rule (a *violation*, exit 1) or does
  something the user should know about (a *warning*).  Passes and rule checks collect them; nothing stops at the
  first one.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class SnncError(Exception):
    """Unusable input or usage.  ``str(err)`` is one readable line naming the thing and the fix."""

    exit_code = 2
    #: True for an error that carries a whole report on purpose (its lines are printed as they are); any other
    #: message is printed as one line, with newlines and control characters (e.g. from a file name) escaped.
    report = False


@dataclass
class Diagnostic:
    """One rule broken (``severity='error'``) or one thing worth saying (``severity='warning'``)."""

    rule: str
    layer: str | None
    message: str
    hint: str = ""
    measured: Any = None
    limit: Any = None
    severity: str = "error"

    def __post_init__(self) -> None:  # every id is in the one table of rules (compiler/rules.py), with its severity
        from .rules import rule

        if self.severity not in rule(self.rule).severity:
            raise ValueError(f"rule {self.rule!r} is registered as {rule(self.rule).severity}, not {self.severity}")

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("severity")
        return _jsonable(d)

    def __str__(self) -> str:  # one line, rustc style: "error[stride]: features.3: ..."
        kind = "error" if self.severity == "error" else "warning"
        where = f"{self.layer}: " if self.layer else ""
        return f"{kind}[{self.rule}]: {where}{self.message}"


@dataclass
class Diagnostics:
    """An ordered bag of diagnostics that passes append to."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, rule: str, layer: str | None, message: str, hint: str = "", measured=None, limit=None) -> None:
        self.items.append(Diagnostic(rule, layer, message, hint, measured, limit, "error"))

    def warning(self, rule: str, layer: str | None, message: str, hint: str = "", measured=None, limit=None) -> None:
        self.items.append(Diagnostic(rule, layer, message, hint, measured, limit, "warning"))

    def extend(self, other: "Diagnostics | list[Diagnostic]") -> None:
        self.items.extend(other.items if isinstance(other, Diagnostics) else other)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _jsonable(x):
    """Turn numpy scalars / tuples into plain JSON values."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if np is not None and isinstance(x, np.generic):
        return x.item()
    if np is not None and isinstance(x, np.ndarray):
        return x.tolist()
    return x
