#!/usr/bin/env python3
"""Open an HTML page (an `snnc report`) in headless Chromium, check that it renders, and screenshot it.

    python scripts/browser_check.py REPORT.html [--screenshot OUT.png] [--width 1200] [--height 1600]

Chromium is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``: JSON messages separated
by NUL bytes on file descriptors 3 and 4), so nothing but the standard library and the browser is needed.  It runs
without network features, sync, GPU or a sandbox (for containers), with a throw-away profile.

Prints one JSON object: ``title``, ``images`` (each ``<img>``: its ``alt``, natural and drawn size, whether it
decoded), ``errors`` (script exceptions and console errors), ``text_length``; exit 0 when the page rendered with
every image decoded and drawn and no error, 1 otherwise, 2 when Chromium is missing.  Debian: ``apt-get install
chromium``.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--remote-debugging-pipe"]

# What the page reports about itself once loaded: every image, decoded and laid out with a non-zero size.
PROBE = """(() => {
  const imgs = Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,
      natural: [i.naturalWidth, i.naturalHeight], drawn: [i.clientWidth, i.clientHeight]}));
  return JSON.stringify({title: document.title, images: imgs, text_length: document.body.innerText.length,
                         ready: document.readyState});
})()"""


def find_browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Browser:
    """A Chromium process and its DevTools pipe; ``call`` sends a command and returns its result."""

    def __init__(self, exe: str, width: int, height: int):
        self.profile = tempfile.mkdtemp(prefix="snnc-chromium-")
        to_child_r, self._w = os.pipe()   # we write commands -> chromium reads fd 3
        self._r, from_child_w = os.pipe()  # chromium writes fd 4 -> we read

        def fds():  # in the child: the pipe ends on 3 and 4 (through high numbers, should either be 3 or 4 now)
            os.dup2(to_child_r, 200)
            os.dup2(from_child_w, 201)
            os.dup2(200, 3)
            os.dup2(201, 4)
            os.close(200)
            os.close(201)

        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={self.profile}",
                                      f"--window-size={width},{height}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=fds, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace")[-500:] if self.proc.stderr else ""
                raise RuntimeError(f"chromium closed the DevTools pipe: {err}")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, session: str | None = None, timeout: float = 60, **params) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        while True:
            e = self._read_message(deadline)
            if e.get("method") == method:
                return e
            self.events.append(e)

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


def check_page(page: str | Path, screenshot: str | Path | None = None, width: int = 1200, height: int = 1600,
               exe: str | None = None) -> dict:
    """Load ``page`` in headless Chromium; return what :data:`PROBE` reports plus ``errors``; write the
    screenshot (PNG, full page) when asked."""
    exe = exe or find_browser()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (Debian: apt-get install chromium)")
    url = Path(page).resolve().as_uri()
    b = Browser(exe, width, height)
    try:
        target = b.call("Target.createTarget", url="about:blank")["targetId"]
        session = b.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            b.call(f"{domain}.enable", session)
        b.call("Emulation.setDeviceMetricsOverride", session, width=width, height=height, deviceScaleFactor=1,
               mobile=False)
        b.call("Page.navigate", session, url=url)
        b.wait_for("Page.loadEventFired")
        probe = json.loads(b.call("Runtime.evaluate", session, expression=PROBE, returnByValue=True)
                           ["result"]["value"])
        errors = []
        for e in b.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}".strip())
        probe["errors"] = errors
        if screenshot is not None:
            metrics = b.call("Page.getLayoutMetrics", session)
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = b.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": width, "height": min(size["height"], height), "scale": 1})
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        return probe
    finally:
        b.close()


def problems(probe: dict) -> list[str]:
    """What is wrong with a loaded page: script errors, images that did not decode or are not drawn."""
    out = list(probe["errors"])
    if not probe["images"]:
        out.append("no image on the page")
    for img in probe["images"]:
        if not img["complete"] or min(img["natural"]) == 0:
            out.append(f"image {img['alt']!r} did not decode")
        elif min(img["drawn"]) == 0:
            out.append(f"image {img['alt']!r} is not drawn (zero size)")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page")
    ap.add_argument("--screenshot", metavar="OUT.png")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=1600)
    a = ap.parse_args(argv)
    try:
        probe = check_page(a.page, a.screenshot, a.width, a.height)
    except FileNotFoundError as e:
        print(f"browser_check: {e}", file=sys.stderr)
        return 2
    print(json.dumps(probe, indent=1))
    bad = problems(probe)
    for p in bad:
        print(f"browser_check: {p}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
