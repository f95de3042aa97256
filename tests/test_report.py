"""`snnc report`: one self-contained HTML file with the plots; written atomically; the screenshot script."""
import argparse
import os
import base64
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from snnc.compiler.errors import SnncError
from snnc.compiler.html_report import render_html, write_html

ROOT = Path(__file__).resolve().parents[1]


def report(*argv):
    from snnc.commands import report as cmd

    p = argparse.ArgumentParser()
    cmd.add_parser(p.add_subparsers())
    return cmd.run(p.parse_args(["report", *argv]))


def images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def assert_self_contained(page: str):
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page, re.I)  # no URL anywhere
    assert "<link" not in page and "<script" not in page and "@import" not in page
    for src in re.findall(r'src="([^"]*)"', page):
        assert src.startswith("data:image/png;base64,")


def test_static_report_has_memory_synops_energy_plots(tmp_path, nir_paper_cnn):
    out = tmp_path / "r.html"
    assert report(str(nir_paper_cnn), "--input-rate", "1e5", "-o", str(out), "--timesteps", "5",
                  "--sram-estimation", "new") == 0
    page = out.read_text()
    # Qualia-SNN's estimate with the options' settings, per layer under Qualia's names
    assert "Qualia-SNN EnergyEstimationMetric (nJ)" in page and "T = 5, mem_width 16" in page
    assert "sram_estimation_type new" in page and "<th>mem_pot</th>" in page and "<td class='l'>total</td>" in page
    assert_self_contained(page)
    pngs = images(page)
    assert len(pngs) == 4 and all(p.startswith(b"\x89PNG") and len(p) > 2000 for p in pngs)
    for title in ("Memory per core", "Synaptic operations per core", "Queues per core: backlog and delay",
                  "Energy (estimate)"):
        assert title in page
    assert "static estimate" in page and "estimates, not measurements" in page
    assert "Spike raster" not in page  # no events, no raster


def test_measured_report_has_raster_and_flags_overload(tmp_path):
    from snnc.runtime.events import save_events
    from tests.test_bandwidth import overload_events, overload_model

    model = overload_model(tmp_path)
    ev = tmp_path / "ev.npy"
    save_events(ev, overload_events())
    out = tmp_path / "r.html"
    code = report(str(model), "--input-shape", "2,34,34", "--cores", "1,0", "--events", str(ev), "-o", str(out))
    assert code == 1  # written, but core 0 is over its SynOps/s limit
    page = out.read_text()
    assert_self_contained(page)
    assert len(images(page)) == 5  # memory, SynOps/s, queues, raster, energy
    assert "<h2>Spikes</h2>" in page and "peak 10 ms" in page
    assert "Queues per core: backlog and delay" in page and 'alt="backlog and delay per core"' in page
    assert "error[synops_bandwidth]" in page and "--decimate 0=" in page


def test_render_from_plain_data_escapes_names():
    data = {"source": "<m>.pt", "target": "speck2f", "fits": True, "mode": None, "cores": [], "energy": None,
            "limit_source": "x", "note": None,
            "layers": [{"name": "a<b", "core": 0, "input_shape": [1, 4, 4], "output_shape": [2, 2, 2],
                        "kernel_memory": 16, "neuron_memory": 8, "bias_memory": 0, "kernel_capacity": 16384,
                        "neuron_capacity": 65536, "bias_capacity": 1024}],
            "diagnostics": [{"severity": "warning", "rule": "clip", "layer": "a<b", "message": "m & n", "hint": ""}]}
    page = render_html(data)
    assert "a&lt;b" in page and "a<b" not in page and "m &amp; n" in page
    assert len(images(page)) == 1


def test_write_is_atomic_and_bad_paths_are_one_line_errors(tmp_path):
    target = tmp_path / "r.html"
    target.write_text("old")
    write_html(target, "<html>new</html>")
    assert target.read_text() == "<html>new</html>"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left
    with pytest.raises(SnncError, match="does not exist"):
        write_html(tmp_path / "missing" / "r.html", "x")
    with pytest.raises(SnncError, match="is a folder"):
        write_html(tmp_path, "x")


def _browser():
    import browser_check

    exe = browser_check.find_browser()
    assert exe is not None, ("chromium is not installed: the report must be checked in a real browser (Debian: "
                             "apt-get install chromium; .ci/run installs it)")
    return browser_check


def test_report_renders_in_chromium_without_errors_and_draws_every_plot(tmp_path, nir_paper_cnn):
    """The page the user opens, opened by headless Chromium through the DevTools protocol: no script error, no
    console error, every plot decoded and laid out with its size; the screenshot is the page.  With
    SNNC_UPDATE_DOCS=1 the screenshot becomes docs/report.png."""
    from snnc.runtime.events import saccade_events, save_events

    bc = _browser()
    from snnc.runtime.training.data import load_mnist

    images, _ = load_mnist(ROOT / "examples" / "data" / "mnist")
    ev = tmp_path / "digit.npy"
    save_events(ev, saccade_events(images[0] / 255.0, out_shape=(34, 34), rng=np.random.default_rng(0)))  # digit0.npy
    page = tmp_path / "report.html"
    assert report(str(nir_paper_cnn), "--events", str(ev), "-o", str(page)) == 0
    shot = tmp_path / "report.png"
    probe = bc.check_page(page, shot, width=1200, height=1600)
    assert bc.problems(probe) == []
    assert probe["title"].startswith("snnc report:") and probe["text_length"] > 500
    alts = [img["alt"] for img in probe["images"]]
    assert len(alts) == 5 and "backlog and delay per core" in alts  # memory, SynOps/s, queues, raster, energy
    for img in probe["images"]:
        assert min(img["natural"]) > 100 and min(img["drawn"]) > 100, img
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and int.from_bytes(data[16:20], "big") == 1200
    assert int.from_bytes(data[20:24], "big") > 800  # the page, not an empty strip
    if os.environ.get("SNNC_UPDATE_DOCS"):
        shutil.copyfile(shot, ROOT / "docs" / "report.png")


def test_browser_check_sees_script_errors_and_broken_plots(tmp_path):
    """The check above can fail: a page whose script throws and whose image does not decode is reported."""
    bc = _browser()
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><head><title>bad</title></head><body><p>x</p>"
                    '<img alt="plot" src="data:image/png;base64,iVBORw0KGgoAAAA=">'
                    "<script>undefinedFunction()</script></body></html>")
    found = bc.problems(bc.check_page(page))
    assert any("undefinedFunction" in p for p in found), found
    assert any("'plot' did not decode" in p for p in found), found


def test_screenshot_script_renders_the_page(tmp_path, nir_paper_cnn):
    _browser()
    page = tmp_path / "r.html"
    assert report(str(nir_paper_cnn), "--input-rate", "1e5", "-o", str(page)) == 0
    png = tmp_path / "shot.png"
    r = subprocess.run(["sh", str(ROOT / "scripts" / "screenshot_report.sh"), str(page), str(png), "800x600"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG") and int.from_bytes(data[16:20], "big") == 800
