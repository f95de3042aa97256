"""Run import-linter (``lint-imports``) on snnc with the contracts in pyproject.toml, and check that no module
below the facade imports the ``snnc`` package itself.

snnc's packages live in top-level folders (``compiler/``, ``targets/``, ``runtime/``) that setuptools maps onto
``snnc.compiler`` etc. (``[tool.setuptools] package-dir``); import-linter finds a package's modules by walking its
folder, so this script first assembles the installed layout (a temporary tree of copies) and runs the linter there.
Exit status 0 when every contract is kept.  Usage: ``python scripts/lint_imports.py [PROJECT_ROOT]``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent

_CHECK_ROOT = """
import sys
import grimp
graph = grimp.build_graph("snnc")
bad = sorted(m for m in graph.find_modules_that_directly_import("snnc")
             if not m.startswith(("snnc.api", "snnc.cli", "snnc.commands", "snnc.__main__")))
for m in bad:
    print(f"{m} imports the snnc facade; import the module it needs directly")
sys.exit(1 if bad else 0)
"""


def assemble(root: Path, dest: Path) -> None:
    """Copy every mapped package folder's Python files (``root``'s pyproject.toml) to ``dest/<package path>``."""
    setup = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package, folder in sorted(setup["package-dir"].items()):
        src = root / folder
        target = dest.joinpath(*package.split("."))
        for path in src.rglob("*.py"):
            rel = path.relative_to(src)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            # a sub-folder that is itself mapped (snnc.compiler inside snnc) is copied from its own folder
            out = target / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)


def main(argv: list[str] | None = None) -> int:
    """``lint_imports.py [PROJECT_ROOT]`` (default: the checkout this script is in)."""
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]).resolve() if argv else ROOT
    with tempfile.TemporaryDirectory(prefix="snnc-lint-") as tmp:
        assemble(root, Path(tmp))
        env = dict(os.environ, PYTHONPATH=tmp + os.pathsep + os.environ.get("PYTHONPATH", ""))
        lint = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command;"
                               " sys.argv = ['lint-imports'] + sys.argv[1:]; lint_imports_command()",
                               str(root / "pyproject.toml"), "--no-cache"], cwd=tmp, env=env)
        root = subprocess.run([sys.executable, "-c", _CHECK_ROOT], cwd=tmp, env=env)
        return lint.returncode or root.returncode


if __name__ == "__main__":
    sys.exit(main())
