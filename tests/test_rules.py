"""One table of rules (compiler/rules.py): every id a module emits is in it, every id in it is emitted where it says,
``snnc check --list-rules`` prints it and docs/rules.md is it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from snnc.cli import main
from snnc.compiler.errors import Diagnostic, Diagnostics
from snnc.compiler.rules import RULE_IDS, RULES, RULES_BY_ID, render_rule_table

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("compiler", "runtime", "targets", "snnc")


def _emitted() -> dict[str, set[tuple[str, str]]]:
    """{module path: {(severity, rule id)}} for every diagnostic created with a literal id in the source."""
    out: dict[str, set] = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            rel = f.relative_to(ROOT).as_posix()
            for n in ast.walk(ast.parse(f.read_text())):
                if not (isinstance(n, ast.Call) and n.args):
                    continue
                first = n.args[0]
                if isinstance(first, ast.JoinedStr) and isinstance(n.func, ast.Attribute) and n.func.attr == "error":
                    # d.error(f"{kind}_memory", ...): the memory rules
                    tail = "".join(v.value for v in first.values if isinstance(v, ast.Constant))
                    ids = {r for r in RULE_IDS if r.endswith(tail)} if tail else set()
                    out.setdefault(rel, set()).update(("error", r) for r in ids)
                    continue
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    continue
                func = n.func
                if isinstance(func, ast.Attribute) and func.attr in ("error", "warning", "refuse"):
                    sev = "warning" if func.attr == "warning" else "error"
                elif isinstance(func, ast.Name) and func.id == "Diagnostic":
                    sev = "error"
                else:
                    continue
                out.setdefault(rel, set()).add((sev, first.value))
    return out


EMITTED = _emitted()


def test_every_emitted_id_is_registered_with_its_severity_and_module():
    for module, pairs in EMITTED.items():
        for sev, rid in pairs:
            if module in ("compiler/errors.py", "compiler/rules.py"):
                continue
            assert rid in RULES_BY_ID, f"{module} emits {sev}[{rid}], which compiler/rules.py does not list"
            r = RULES_BY_ID[rid]
            assert sev in r.severity, f"{module}: {sev}[{rid}] is registered as {r.severity}"
            assert module in r.where.split(", "), f"{module} emits {rid}; its registry row says {r.where}"


def test_every_registered_rule_is_emitted_where_it_says():
    for r in RULES:
        for module in r.where.split(", "):
            ids = {rid for _, rid in EMITTED.get(module, ())}
            assert r.id in ids, f"{r.id}: the registry says {module} checks it, but it emits no such diagnostic"
        for sev in r.severity.split(", "):
            assert any((sev, r.id) in EMITTED.get(m, ()) for m in r.where.split(", ")), (r.id, sev)


def test_ids_are_unique_and_one_line():
    assert len(set(RULE_IDS)) == len(RULE_IDS)
    for r in RULES:
        assert r.description and "\n" not in r.description and "|" not in r.description


def test_an_unregistered_id_is_refused():
    with pytest.raises(KeyError, match="not registered"):
        Diagnostics().error("no_such_rule", None, "x")
    with pytest.raises(ValueError, match="registered as warning"):
        Diagnostic("clip", None, "x", severity="error")


def test_list_rules_prints_the_table_without_a_model(capsys):
    with pytest.raises(SystemExit) as e:
        main(["check", "--list-rules"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out == render_rule_table()
    for rid in RULE_IDS:
        assert f"| `{rid}` |" in out


def test_docs_rules_page_is_the_table():
    page = (ROOT / "docs" / "rules.md").read_text()
    assert render_rule_table() in page, "docs/rules.md differs from compiler/rules.py: regenerate it with " \
                                        "`snnc check --list-rules`"
