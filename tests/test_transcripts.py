"""Every shell transcript of README.md, docs/commands.md and docs/tutorials/*.md, run for real: what the commands
print must be what the document shows (tests/transcripts.py says how they are compared: equal lines, `...` for left
out lines, wall-clock figures within a factor of 20).  After a change in behaviour: `python
scripts/update_transcripts.py`, review the diff, commit."""
import difflib
import re

import pytest

import transcripts as T


def test_matcher_compares_every_figure_but_wall_clock_times():
    doc = ["3891 input events -> 836 output events (fast simulator, 0.005 s)", "..."]
    assert T.matches(doc, ["3891 input events -> 836 output events (fast simulator, 0.031 s)", "a", "b"])
    assert T.matches(doc, ["3891 input events -> 836 output events (fast simulator, 0.005 s)"])
    assert not T.matches(doc, ["3891 input events -> 837 output events (fast simulator, 0.005 s)"])  # a count
    assert not T.matches(["time: 6.15 s (32.5 samples/s, workers: 2)"], ["time: 200 s (1.0 samples/s, workers: 2)"])
    assert T.matches(["time: 6.15 s (32.5 samples/s, workers: 2)"], ["time: 12 s (16.1 samples/s, workers: 2)"])
    assert not T.matches(["time: 6.15 s (32.5 samples/s, workers: 2)"], ["time: 6.15 s (32.5 samples/s, workers: 1)"])
    assert not T.matches(["peak 3.65 ms late"], ["peak 3.66 ms late"])  # simulated times are exact
    assert not T.matches(["a", "b"], ["a"]) and not T.matches(["a"], ["a", "b"])
    assert T.matches(["a", "...", "z"], ["a", "z"]) and T.matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert not T.matches(["a", "...", "z"], ["a", "b", "y"])


def test_refresh_keeps_matching_text_and_the_shape_of_left_out_output():
    assert T.refreshed(["x (0.005 s)"], ["x (0.006 s)"]) == ["x (0.005 s)"]
    assert T.refreshed(["a", "...", "z"], ["A", "b", "c", "Z"]) == ["A", "...", "Z"]
    assert T.refreshed(["old"], ["new", "lines"]) == ["new", "lines"]


def test_every_transcript_is_a_console_block():
    """A `$ ` line outside a `console` block would not be run: every shell transcript must be one."""
    stray = []
    for path in [T.ROOT / "README.md", *sorted((T.ROOT / "docs").rglob("*.md"))]:
        doc = str(path.relative_to(T.ROOT))
        lines = path.read_text(encoding="utf-8").splitlines()
        inside = set()
        for b in T.parse(path):
            if b.kind == "console":
                inside.update(range(b.start, b.end))
        fence, lang = False, ""
        for i, line in enumerate(lines):
            m = re.match(r"^```(\w*)", line)
            if m:
                fence, lang = (not fence), m.group(1)
                continue
            if fence and line.startswith("$ ") and i not in inside:
                stray.append(f"{doc}:{i + 1}: {line}")
    assert stray == []
    assert sum(len(b.commands) for d in T.DOCUMENTS for b in T.parse(T.ROOT / d)) >= 30
    assert {"README.md", "docs/commands.md", "docs/tutorials/sinabs.md", "docs/tutorials/nir.md",
            "docs/tutorials/convert.md", "docs/tutorials/nmnist.md", "docs/tutorials/qualia.md"} <= set(T.DOCUMENTS)


@pytest.mark.parametrize("doc", T.DOCUMENTS)
def test_transcripts_print_what_the_document_shows(doc, tmp_path):
    stale = []
    for cmd, actual in T.run_document(doc, tmp_path):
        if not T.matches(cmd.expected, actual):
            diff = "\n".join(difflib.unified_diff(cmd.expected, actual, "documented", "printed", lineterm=""))
            stale.append(f"{doc}:{cmd.line}: $ {cmd.text}\n{diff}")
    assert not stale, ("stale transcript(s); run `python scripts/update_transcripts.py` after checking the change:\n"
                       + "\n\n".join(stale))
