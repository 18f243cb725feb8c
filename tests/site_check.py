"""Browser check of the built book: serve ``_build/html`` on 127.0.0.1 and read every page in
headless Chromium through the Chrome DevTools protocol (CDP).

Each page is loaded, MathJax's first typeset and every image are awaited, and the page is checked
for what a reader would see as broken: console errors, images that did not load, MathJax errors,
math left as raw LaTeX, requests to other hosts (the site must work offline), and a missing
``<title>`` or ``<h1>``. ``tests/test_site.py`` runs it under pytest (``make site-check``); run it
by hand with ``.venv/bin/python tests/site_check.py [_build/html]``.

Chromium is Debian's ``chromium`` (``apt-get install chromium``; ``$CHROMIUM`` overrides the
binary). Host names other than 127.0.0.1 resolve to nothing inside the browser, so a page that
needs the internet fails here as it would offline.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import websocket

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("XLSER_SITE_HTML") or ROOT / "_build" / "html")
"""The built site (``$XLSER_SITE_HTML`` for a book built with ``--path-output``)."""
SCREENSHOTS = ROOT / "_build" / "screenshots"

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    # Offline by construction: every host name but 127.0.0.1 fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)

IGNORED_CONSOLE: frozenset[str] = frozenset()
"""Console messages known to be harmless, by exact text (none are needed today)."""

KEY_PAGES = (
    "book/index.html",
    "book/02_data.html",
    "book/05_supcon.html",
    "book/reconstruction_notes.html",
    "book/synthetic_world.html",
)
"""Pages saved as screenshots to ``_build/screenshots/`` (those that exist)."""

SKIP_DIRS = ("_static", "_sources", "_images", "reports")

# Waits for MathJax's first typeset (when the page loads MathJax) and for every image.
_SETTLE_JS = r"""
(async () => {
  const t0 = Date.now();
  const mathjax = !!document.querySelector('script[src*="mathjax"]');
  if (mathjax) {
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)
           && Date.now() - t0 < 20000) {
      await new Promise(r => setTimeout(r, 50));
    }
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      await MathJax.startup.promise;
    }
  }
  const imgs = [...document.images];
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
    i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 15000);
  })));
  return {mathjax, typeset: !!(window.MathJax && MathJax.startup && MathJax.startup.promise)};
})()
"""

# What a reader would see as broken, gathered in one pass over the settled page.
_INSPECT_JS = r"""
(() => {
  const text = e => (e.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 160);
  // the theme puts an empty <h1> in its header: the page's heading is the first non-empty one
  const h1 = [...document.querySelectorAll('h1')].map(text).find(t => t) || '';
  const broken = [...document.images]
    .filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => (i.getAttribute('src') || i.currentSrc || '(no src)').slice(0, 160));
  const merror = [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
    .map(e => e.getAttribute('data-mjx-error') || text(e));
  const red = [...document.querySelectorAll(
      'mjx-container [style*="color: red"], mjx-container [style*="color:red"]')].map(text);
  const mathNodes = [...document.querySelectorAll('.math')];
  const untypeset = mathNodes.filter(e => !e.querySelector('mjx-container')).map(text);
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .cell_input';
  const pattern = /\\\(|\\\[|\$\$|\\begin\{|\$\\[A-Za-z]/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  while (walker.nextNode()) {
    const n = walker.currentNode;
    if (!n.parentElement || n.parentElement.closest(skip)) continue;
    if (pattern.test(n.textContent)) raw.push(text(n));
  }
  return {
    title: document.title.trim(),
    h1,
    broken, merror, red, untypeset, raw,
    math: mathNodes.length,
    typeset: document.querySelectorAll('mjx-container').length,
    height: Math.min(document.documentElement.scrollHeight, 5000),
  };
})()
"""


class CDPError(RuntimeError):
    """The browser answered a DevTools command with an error, or did not answer in time."""


class Browser:
    """One headless Chromium page driven over the DevTools websocket."""

    def __init__(self, binary: str, width: int = 1280, height: int = 900, timeout: float = 180):
        self.timeout = timeout
        self.width, self.height = width, height
        # chromium's helper processes can still write into the profile as it exits: a cleanup
        # error must not fail the check (a "1 error" once after 59 passes, not reproduced)
        self._tmp = tempfile.TemporaryDirectory(
            prefix="xlser-chromium-", ignore_cleanup_errors=True
        )
        profile = Path(self._tmp.name)
        self._log = open(profile.parent / f"{profile.name}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )  # fmt: skip
        try:
            port = self._devtools_port(profile / "DevToolsActivePort")
            page = self._first_page(port)
            self.ws = websocket.create_connection(
                page["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True
            )
        except Exception:
            self.close()
            raise
        self._id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _first_page(self, port: int) -> dict:
        """The browser's first tab, as ``/json/list`` describes it (retried: a busy machine
        can take a while to answer)."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                url = f"http://127.0.0.1:{port}/json/list"
                with urllib.request.urlopen(url, timeout=30) as r:
                    return next(t for t in json.load(r) if t.get("type") == "page")
            except (OSError, StopIteration):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _devtools_port(self, path: Path) -> int:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CDPError(f"chromium exited with code {self.proc.returncode} at start")
            with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
                return int(path.read_text().splitlines()[0])
            time.sleep(0.1)
        raise CDPError(f"chromium wrote no {path.name} within {self.timeout:g} s")

    def call(self, method: str, **params) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = self._recv()
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def _recv(self) -> dict:
        try:
            return json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException as e:
            raise CDPError(f"no answer from chromium within {self.timeout:g} s") from e

    def wait_event(self, name: str) -> dict:
        """Block until the event ``name`` arrives (events already received count)."""
        for ev in self.events:
            if ev["method"] == name:
                return ev
        while True:
            msg = self._recv()
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == name:
                    return msg

    def evaluate(self, expression: str):
        """Run JavaScript in the page (promises awaited) and return its JSON value."""
        res = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in res:
            raise CDPError(f"page script failed: {res['exceptionDetails'].get('text')}")
        return res["result"].get("value")

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def screenshot(self, path: Path, height: int) -> None:
        """Save the top ``height`` pixels of the page as a PNG (the viewport is stretched to
        that height for the shot: ``captureBeyondViewport`` misplaces the theme's sticky
        sidebars)."""
        import base64

        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=max(height, 1),
            deviceScaleFactor=1,
            mobile=False,
        )
        try:
            self.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 200)))")
            shot = self.call("Page.captureScreenshot", format="png")
        finally:
            self.call(
                "Emulation.setDeviceMetricsOverride",
                width=self.width,
                height=self.height,
                deviceScaleFactor=1,
                mobile=False,
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        with contextlib.suppress(OSError):
            os.unlink(self._log.name)
        self._tmp.cleanup()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) in a thread; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def find_chromium() -> str | None:
    """``$CHROMIUM``, else Debian's ``chromium`` on PATH."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    return shutil.which("chromium") or shutil.which("chromium-browser")


def is_redirect(path: Path) -> bool:
    """Jupyter Book's root ``index.html`` is a one-line meta-refresh stub, not a page."""
    head = path.read_text(errors="replace")[:2000].lower()
    return 'http-equiv="refresh"' in head and "<h1" not in head


def list_pages(html: Path = HTML) -> list[str]:
    """Every HTML page of the site (relative POSIX paths), assets folders and stubs left out."""
    pages = []
    for p in sorted(html.rglob("*.html")):
        rel = p.relative_to(html)
        if rel.parts[0] in SKIP_DIRS or is_redirect(p):
            continue
        pages.append(rel.as_posix())
    return pages


@dataclass
class PageReport:
    """What one page showed; ``problems`` is empty for a good page."""

    page: str
    title: str = ""
    math: int = 0
    typeset: int = 0
    problems: list[str] = field(default_factory=list)


def _console_errors(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        m, p = ev["method"], ev.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = p.get("args", [])
            msg = " ".join(str(a.get("value", a.get("description", ""))) for a in args)
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            msg = d.get("exception", {}).get("description") or d.get("text", "")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            msg = f"{e.get('text', '')} ({e.get('url', '')})".replace(" ()", "")
        else:
            continue
        if msg not in IGNORED_CONSOLE:
            out.append(msg.strip()[:300])
    return out


def _foreign_requests(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        if ev["method"] != "Network.requestWillBeSent":
            continue
        url = ev["params"]["request"]["url"]
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1":
            out.append(url[:200])
    return out


def check_page(browser: Browser, base: str, page: str, shot: Path | None = None) -> PageReport:
    """Load one page, let it settle, and list what is wrong with it."""
    browser.open(base + page)
    settle = browser.evaluate(_SETTLE_JS)
    info = browser.evaluate(_INSPECT_JS)
    rep = PageReport(page, info["title"], info["math"], info["typeset"])
    bad = rep.problems
    if not info["title"]:
        bad.append("no <title>")
    if not info["h1"]:
        bad.append("no <h1>")
    if settle["mathjax"] and not settle["typeset"]:
        bad.append("MathJax did not start (script missing or blocked?)")
    for src in info["broken"]:
        bad.append(f"image did not load: {src}")
    for msg in info["merror"]:
        bad.append(f"MathJax error: {msg}")
    for t in info["red"]:
        bad.append(f"red (undefined) math: {t}")
    for t in info["untypeset"]:
        bad.append(f"math not typeset: {t}")
    for t in info["raw"]:
        bad.append(f"raw LaTeX in the text: {t}")
    for msg in _console_errors(browser.events):
        bad.append(f"console error: {msg}")
    for url in _foreign_requests(browser.events):
        bad.append(f"request to another host (fails offline): {url}")
    if shot is not None:
        browser.screenshot(shot, info["height"])
    return rep


def screenshot_path(page: str, out: Path = SCREENSHOTS) -> Path | None:
    """Where a key page's screenshot goes; ``None`` for other pages."""
    if page not in KEY_PAGES:
        return None
    return out / (page.replace("/", "_").removesuffix(".html") + ".png")


def main(argv: list[str] | None = None) -> int:
    """Check every page of a built site; print one line per page; exit 1 on any problem."""
    argv = sys.argv[1:] if argv is None else argv
    html = Path(argv[0]) if argv else HTML
    if not (html / "index.html").is_file():
        print(f"{html}/index.html not found: build the book first (make book)", file=sys.stderr)
        return 2
    binary = find_chromium()
    if binary is None:
        print("chromium not found: apt-get install chromium (or set $CHROMIUM)", file=sys.stderr)
        return 2
    failed = 0
    with serve(html) as base:
        browser = Browser(binary)
        try:
            for page in list_pages(html):
                rep = check_page(browser, base, page, screenshot_path(page))
                status = "ok" if not rep.problems else "FAIL"
                print(f"{status:4} {page}  ({rep.typeset}/{rep.math} math typeset)")
                for p in rep.problems:
                    print(f"     - {p}")
                failed += bool(rep.problems)
        finally:
            browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
