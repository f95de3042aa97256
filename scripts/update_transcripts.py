#!/usr/bin/env python3
"""Run every shell transcript of README.md and docs/tutorials/*.md and write what the commands print now into the
documents (tests/transcripts.py says how; tests/test_transcripts.py fails while a document is stale).

    python scripts/update_transcripts.py [DOCUMENT ...]      # default: every document with transcripts

Outputs that still match (timings within tolerance, left-out lines) are kept as they are, so only what changed
changes.  Prints one line per command that changed; review them with `git diff` before committing.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import transcripts as T  # noqa: E402


def update(doc: str) -> int:
    path = T.ROOT / doc
    lines = path.read_text(encoding="utf-8").splitlines()
    replacements = []  # (first expected line index, number of lines, new lines)
    changed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for cmd, actual in T.run_document(doc, Path(tmp)):
            new = T.refreshed(cmd.expected, actual)
            if new != cmd.expected:
                changed += 1
                print(f"{doc}:{cmd.line}: $ {cmd.text}", file=sys.stderr)
            replacements.append((cmd.line, len(cmd.expected), new))
    for first, n, new in sorted(replacements, reverse=True):  # cmd.line is 1-based: its output starts there
        lines[first:first + n] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    docs = argv or T.DOCUMENTS
    total = sum(update(d) for d in docs)
    print(f"{total} command output(s) changed in {len(docs)} document(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
