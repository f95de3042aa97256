"""MkDocs hook (mkdocs.yml ``hooks``): before the build, assemble snnc's installed package layout under
``build/api-src`` so that mkdocstrings reads ``snnc.compiler``, ``snnc.targets`` and ``snnc.runtime`` from their
top-level folders (``pyproject.toml`` maps them with ``package-dir``, which static analysis cannot follow).  The same
assembly as ``scripts/lint_imports.py``; nothing is imported, so the docstrings are read without running code."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parent.parent
API_SRC = ROOT / "build" / "api-src"


# before mkdocstrings' own on_config, which keeps only search paths that exist (a fresh clone has no build/)
@event_priority(100)
def on_config(config, **kwargs):
    spec = importlib.util.spec_from_file_location("_snnc_lint_imports", ROOT / "scripts" / "lint_imports.py")
    lint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lint)
    shutil.rmtree(API_SRC, ignore_errors=True)
    lint.assemble(ROOT, API_SRC)
    return config
