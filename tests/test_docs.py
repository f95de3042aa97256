"""The documentation: the site builds with warnings as errors, the README stays short and its links resolve, every
citation of the chip's facts points at a section of docs/speck.md that exists, and the figures the docs state
beside the transcripts are the ones snnc computes."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SPECK = ROOT / "docs" / "speck.md"
OUTSIDE_NAME = "SPECK" + ".md"  # the notes in ../shared that the project used to cite

# files whose comments and prose may cite docs/speck.md
CITING = [p for pattern in ("compiler/**/*.py", "targets/**/*.py", "runtime/**/*.py", "snnc/**/*.py", "tests/*.py",
                            "docs/**/*.md", "README.md", "benchmarks/*.py", "scripts/*.py", "examples/*.py")
          for p in ROOT.glob(pattern)]


def test_readme_is_short_and_keeps_the_ci_commands():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move detail into docs/"
    for marker in ("<!-- ci:setup -->", "<!-- ci:test -->"):
        i = lines.index(marker)
        assert lines[i + 1].startswith("```") and lines[i + 2].strip(), marker
    setup = lines[lines.index("<!-- ci:setup -->") + 2]
    assert "torch==2.13.0" in setup and ".[test,docs]" in setup and "cnn.json" in setup


def test_readme_and_docs_links_point_at_files_that_exist():
    docs = [README, *ROOT.glob("docs/**/*.md")]
    missing = []
    for doc in docs:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+://", target):
                continue
            if not (doc.parent / target).exists():
                missing.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert missing == []


def test_readme_states_every_exit_code_the_cli_uses():
    from snnc import cli

    readme = README.read_text(encoding="utf-8")
    codes = sorted(set(re.findall(r"(\d) (?:success|the model does not fit|bad usage|an internal error)",
                                  cli.__doc__)))
    assert codes == ["0", "1", "2", "3"]
    for code, words in (("0", "success"), ("1", "does not fit"), ("2", "bad usage"), ("3", "internal error")):
        assert re.search(rf"\*\*{code}\*\* [^*]*{words}", readme), code


def _speck_sections() -> set[str]:
    return set(re.findall(r"^## (\d+)\. ", SPECK.read_text(encoding="utf-8"), re.M))


def _citations(text: str) -> list[str]:
    """Section numbers cited as ``docs/speck.md §5``, ``docs/speck.md §5–§8`` or ``docs/speck.md §4 and §5``."""
    out = []
    for m in re.finditer(r"docs/speck\.md`?\s*((?:§\d+(?:\s*(?:–|-|and|,)\s*)?)+)", text):
        out += re.findall(r"§(\d+)", m.group(1))
    return out


def test_every_cited_chip_fact_section_exists_and_nothing_cites_a_file_outside_the_project():
    sections = _speck_sections()
    assert sections == {str(i) for i in range(1, 11)}
    cited, outside = {}, []
    for path in CITING:
        if ".venv" in path.parts or path == SPECK:
            continue
        text = path.read_text(encoding="utf-8")
        for n in _citations(text):
            cited.setdefault(n, []).append(str(path.relative_to(ROOT)))
        if OUTSIDE_NAME in text:
            outside.append(str(path.relative_to(ROOT)))
    assert outside == [], f"cite docs/speck.md (inside the project), not {OUTSIDE_NAME} (outside it)"
    assert len(cited) >= 8  # the code relies on most sections
    unknown = {n: files for n, files in cited.items() if n not in sections}
    assert unknown == {}


def test_citation_parser_reads_ranges_and_lists():
    assert _citations("see docs/speck.md §5–§8 and `docs/speck.md` §4 and §10; docs/speck.md\n§2") == \
        ["5", "8", "4", "10", "2"]


def test_speck_page_marks_each_fact_known_inferred_or_unknown():
    text = SPECK.read_text(encoding="utf-8")
    for word in ("known", "inferred", "unknown"):
        assert text.count(word) >= 3, word
    from snnc.targets.speck import TARGETS

    t = TARGETS["speck2f"]
    # the numbers of the page are the numbers of the code
    for core in t.cores:
        assert f"{core.kernel_memory // 1024} Ki" in text and f"{core.neuron_memory // 1024} Ki" in text
    assert "2, 4, 8, 16, 32, 128, 256, 512" in text and t.decimator_ratios == (2, 4, 8, 16, 32, 128, 256, 512)
    assert f"readout {t.readout_layer}" in text and f"output {t.dvs_layer}" in text
    assert "≤ 128×128" in text and t.max_input_size == 128 and "≤ 64×64" in text and t.max_output_size == 64
    assert "1, 2, 4 or 8" in text and t.strides == (1, 2, 4, 8) and "0..7" in text and t.max_padding == 7


def test_quantization_page_figures_are_what_compile_reports(tmp_path, capsys):
    """docs/quantization.md's per-layer table (the figures the README points to) against `snnc compile`."""
    from snnc.cli import main

    rows = re.findall(r"^\| (\d+) \| ([\d,]+) \| ([\d.]+): (\d+) \(([\d.]+) %\) \| ([\d.]+): (\d+) \(([\d.]+) %\) \|$",
                      (ROOT / "docs" / "quantization.md").read_text(encoding="utf-8"), re.M)
    assert len(rows) == 5
    for col, policy in ((2, "sinabs"), (5, "percentile")):
        assert main(["compile", str(ROOT / "examples" / "nmnist_cnn.nir"), "-o", str(tmp_path / "c.json"),
                     "--quantize", policy]) == 0
        err = "".join(capsys.readouterr())
        for r in rows:
            layer, total = r[0], r[1].replace(",", "")
            scale, zeroed, pct = r[col], r[col + 1], r[col + 2]
            line = (f"warning[quantization]: {layer}: quantization at scale {scale} (limited by weights): {zeroed} "
                    f"of {total} non-zero weights ({pct} %) round to 0")
            assert line in err, (policy, line)


def test_docs_state_what_the_code_does():
    """The contradictions of issue 22, pinned."""
    frontends = (ROOT / "docs" / "frontends.md").read_text(encoding="utf-8")
    assert "refused for now" not in frontends and "| `.onnx` | `onnx.load`" in frontends
    simulator = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")
    assert "10^5 neuron updates" not in simulator
    limits = (ROOT / "docs" / "limits.md").read_text(encoding="utf-8")
    from snnc.compiler.frontends.shape import MAX_SHAPE_DIM

    assert MAX_SHAPE_DIM == 32768 and "a 1-D shape (features) ≤ 2^30" in limits
    assert "simulate` warns" in simulator or "simulate warns" in simulator


def test_docs_site_builds_with_warnings_as_errors(tmp_path):
    """`mkdocs build --strict`: a broken link or anchor, a page missing from the navigation, or an API reference
    that does not resolve fails the build.  The docs extra (`.[docs]`, in the README's set-up) provides mkdocs."""
    import os

    mkdocs = Path(sys.executable).parent / "mkdocs"  # the console script: the checkout is not on its sys.path
    assert mkdocs.exists(), "mkdocs is missing: pip install -e '.[docs]'"
    r = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                       capture_output=True, text=True, timeout=600, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert r.returncode == 0, r.stderr[-3000:]
    site = tmp_path / "site"
    assert (site / "index.html").exists() and (site / "speck" / "index.html").exists()
    api = (site / "api" / "snnc" / "index.html").read_text(encoding="utf-8")
    assert "load_config" in api and "Read and validate a configuration" in api  # from the docstring
    for page in ("sinabs", "nir", "convert", "nmnist", "qualia"):
        assert (site / "tutorials" / page / "index.html").exists(), page


def test_readme_rounding_range_is_the_quantization_table_s():
    """The README's "1.4 % to 3.4 %" is the smallest and largest share in docs/quantization.md (pinned above)."""
    table = (ROOT / "docs" / "quantization.md").read_text(encoding="utf-8")
    shares = [float(p) for p in re.findall(r"^\| \d+ \| [\d,]+ \| [\d.]+: \d+ \(([\d.]+) %\)", table, re.M)]
    lo, hi = min(shares), max(shares)
    assert f"zeroes {lo:.1f} % to {hi:.1f} % of each" in " ".join(README.read_text(encoding="utf-8").split())
