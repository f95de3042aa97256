"""The package layers and the absence of import cycles, checked with import-linter (contracts in pyproject.toml).

The facade (``snnc.api``, ``snnc.cli``, ``snnc.commands``) -> ``snnc.runtime`` -> ``snnc.targets`` ->
``snnc.compiler``, each importing only downward, also inside functions; no two sibling modules or packages import
each other; nothing below the facade imports ``snnc`` itself.  See docs/architecture.md.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter is in the test extra: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "lint_imports.py"


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, timeout=120)


def test_import_contracts_are_kept():
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 kept, 0 broken" in run.stdout


def _copy_project(dest: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    for folder in ("snnc", "compiler", "targets", "runtime"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_an_upward_import_inside_a_function_breaks_the_layers(tmp_path):
    root = _copy_project(tmp_path)
    (root / "compiler" / "upward.py").write_text("def f():\n    from snnc.runtime.simulator import Simulator\n"
                                                 "    return Simulator\n")
    run = _lint(root)
    assert run.returncode != 0
    assert "snnc.compiler is not allowed to import snnc.runtime" in run.stdout


def test_a_cycle_between_siblings_and_a_facade_import_are_reported(tmp_path):
    root = _copy_project(tmp_path)
    (root / "compiler" / "a_mod.py").write_text("from . import b_mod  # noqa\n")
    (root / "compiler" / "b_mod.py").write_text("def f():\n    from . import a_mod  # noqa\n")
    (root / "runtime" / "uses_facade.py").write_text("import snnc  # noqa\n")
    run = _lint(root)
    assert run.returncode != 0
    assert "No cycles are allowed in snnc.compiler" in run.stdout
    assert "snnc.runtime.uses_facade imports the snnc facade" in run.stdout


def test_tests_import_their_helpers_through_pyproject_pythonpath():
    """pyproject's pytest ``pythonpath`` puts tests/ on the path: no test edits sys.path itself (issue 21)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    offenders = [p.name for p in here.glob("test_*.py")
                 if "sys.path.insert" in p.read_text() and p.name != Path(__file__).name]
    assert offenders == []
