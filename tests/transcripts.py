"""The shell transcripts of README.md and the tutorials, run for real and compared with what they document.

A transcript is a fenced block whose info string is ``console``: lines starting with ``$ `` are commands, the lines
after each command are what it prints (stdout and stderr together, as a terminal shows them). A fenced block whose
info string is ``python title="NAME.py"`` is a file the transcripts after it use: it is written into the work folder
before the next transcript runs, so a tutorial's code is the code that runs.

Every document runs in its own fresh work folder, holding a copy of ``examples/`` (and nothing else), its blocks in
order, each command with ``bash`` and the virtual environment's ``snnc`` and ``python`` first on ``PATH``.

How printed text is compared (``matches``):

* every line must be equal, except
* a line that is exactly ``...`` stands for any number of lines (also none), so a transcript can leave out the
  middle of a long output;
* a wall-clock figure (``0.005 s``, ``"seconds": 2.9``, ``"samples_per_second": 70.1``, ``68.2 samples/s``) matches
  when it is within a factor of ``TIME_FACTOR`` (20) of the documented one, or both are below ``TIME_FLOOR_S``
  (0.05 s): machines differ in speed; nothing else is allowed to differ;
* progress bars are switched off (``TQDM_DISABLE=1``), and the one-off notice that numba is compiling the simulator
  kernel is left out (it comes once per installation, not once per command).

``python scripts/update_transcripts.py`` writes what the commands print now into the documents, keeping each output
that still matches (so figures within tolerance and left-out lines stay as they are).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# README.md first, then every page of docs/ that holds a transcript (the tutorials, the commands page, ...)
DOCUMENTS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md")
                                  if "```console" in p.read_text(encoding="utf-8"))]
TIME_FACTOR = 20.0
TIME_FLOOR_S = 0.05
COMMAND_TIMEOUT_S = 600
ELLIPSIS = "..."

_FENCE = re.compile(r"^(`{3,})(.*)$")
_TITLE = re.compile(r'title="([^"]+)"')
# wall-clock figures: the number is group 1
_TIMINGS = [re.compile(p) for p in (r"(?<![\w.])(\d+(?:\.\d+)?) s\b(?!/)", r'"seconds": (\d+(?:\.\d+)?)',
                                    r'"samples_per_second": (\d+(?:\.\d+)?)', r'"sim_seconds": (\d+(?:\.\d+)?(?:e-?\d+)?)',
                                    r"(\d+(?:\.\d+)?) samples/s")]
_HIDDEN = re.compile(r"^snnc: compil(ing|ed) the simulator kernel")


@dataclass
class Command:
    line: int            # 1-based line of the ``$ `` line in the document
    text: str
    expected: list[str]


@dataclass
class Block:
    kind: str            # "console" or "file"
    start: int           # index of the first line inside the fence (0-based)
    end: int             # index of the closing fence
    name: str = ""       # the file name of a "file" block
    body: list[str] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)


def parse(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group(1), m.group(2).strip()
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            j += 1
        body = lines[i + 1:j]
        lang = info.split()[0] if info else ""
        title = _TITLE.search(info)
        if lang == "console":
            b = Block("console", i + 1, j, body=body)
            for k, text in enumerate(body):
                if text.startswith("$ "):
                    b.commands.append(Command(i + 2 + k, text[2:], []))
                elif b.commands:
                    b.commands[-1].expected.append(text)
            blocks.append(b)
        elif lang == "python" and title:
            blocks.append(Block("file", i + 1, j, name=title.group(1), body=body))
        i = j + 1
    return blocks


def _timing_split(line: str) -> tuple[str, list[float]]:
    values = []

    def grab(m):
        values.append(float(m.group(1)))
        return m.group(0).replace(m.group(1), "<T>", 1)

    for pat in _TIMINGS:
        line = pat.sub(grab, line)
    return line, values


def line_matches(expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    e, ev = _timing_split(expected)
    a, av = _timing_split(actual)
    if e != a or len(ev) != len(av):
        return False
    for x, y in zip(ev, av):
        if x < TIME_FLOOR_S and y < TIME_FLOOR_S:
            continue
        lo, hi = sorted((max(x, 1e-9), max(y, 1e-9)))
        if hi / lo > TIME_FACTOR:
            return False
    return True


def matches(expected: list[str], actual: list[str]) -> bool:
    """``expected`` (with ``...`` lines) against ``actual``, line by line (see the module's docstring)."""
    expected = [e.rstrip() for e in expected]
    actual = [a.rstrip() for a in actual]
    memo: dict = {}

    def go(i, j):
        key = (i, j)
        if key in memo:
            return memo[key]
        if i == len(expected):
            r = j == len(actual)
        elif expected[i] == ELLIPSIS:
            r = any(go(i + 1, k) for k in range(j, len(actual) + 1))
        else:
            r = j < len(actual) and line_matches(expected[i], actual[j]) and go(i + 1, j + 1)
        memo[key] = r
        return r

    return go(0, 0)


def environment() -> dict:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update({"TQDM_DISABLE": "1", "COLUMNS": "120", "PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1"})
    env.pop("SNNC_DEBUG", None)
    return env


def workdir(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "examples", tmp / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp


def run_command(cmd: str, cwd: Path, env: dict) -> list[str]:
    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=COMMAND_TIMEOUT_S, errors="backslashreplace")
    return [line for line in r.stdout.splitlines() if not _HIDDEN.match(line)]


def run_document(doc: str, tmp: Path):
    """Yield ``(command, actual_lines)`` for every command of ``doc``, in order, in a fresh work folder."""
    cwd = workdir(tmp)
    env = environment()
    for block in parse(ROOT / doc):
        if block.kind == "file":
            (cwd / block.name).write_text("\n".join(block.body) + "\n", encoding="utf-8")
            continue
        for c in block.commands:
            yield c, run_command(c.text, cwd, env)


def refreshed(expected: list[str], actual: list[str]) -> list[str]:
    """What to write for a command: the documented lines while they still match, else the actual output, leaving
    out the middle where the documented one did (its first lines before the first ``...`` and its last lines after
    the last one)."""
    if matches(expected, actual):
        return expected
    if ELLIPSIS not in expected:
        return actual
    head = expected.index(ELLIPSIS)
    tail = len(expected) - 1 - max(i for i, e in enumerate(expected) if e == ELLIPSIS)
    if head + tail >= len(actual):
        return actual
    return actual[:head] + [ELLIPSIS] + (actual[len(actual) - tail:] if tail else [])
