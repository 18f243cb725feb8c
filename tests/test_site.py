"""Browser check of the built book (``make site-check``): every page of ``_build/html`` opened in
headless Chromium; see ``tests/site_check.py`` for what is checked.

Runs when ``XLSER_SITE_CHECK=1`` (then a missing build or browser is a failure), or by itself
when ``_build/html`` exists and ``chromium`` is installed; skipped otherwise, so ``make test``
before the first book build stays green.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from site_check import (
    HTML,
    ROOT,
    Browser,
    check_page,
    find_chromium,
    list_pages,
    screenshot_path,
    serve,
)

FORCED = os.environ.get("XLSER_SITE_CHECK", "") not in ("", "0")
BUILT = (HTML / "index.html").is_file()
CHROMIUM = find_chromium()

if FORCED:
    if not BUILT:
        raise RuntimeError(
            f"XLSER_SITE_CHECK is set but {HTML}/index.html is missing: run make book"
        )
    if CHROMIUM is None:
        raise RuntimeError(
            "XLSER_SITE_CHECK is set but chromium is missing: apt-get install chromium"
        )

pytestmark = pytest.mark.skipif(
    not (BUILT and CHROMIUM),
    reason="browser check: needs _build/html (make book) and chromium (or XLSER_SITE_CHECK=1)",
)

PAGES = list_pages() if BUILT else []


def _toc_files(node) -> list[str]:
    """Every ``file:`` (and ``root:``) entry of ``_toc.yml``, recursively."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("file", "root") and isinstance(value, str):
                out.append(value)
            else:
                out.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(_toc_files(item))
    return out


@pytest.fixture(scope="module")
def site():
    """(browser, base URL) shared by every page of this module."""
    with serve(HTML) as base:
        browser = Browser(CHROMIUM)
        try:
            yield browser, base
        finally:
            browser.close()


def test_every_toc_chapter_was_built():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = _toc_files(toc)
    assert files, "_toc.yml lists no files"
    missing = [f for f in files if f"{f}.html" not in PAGES]
    assert not missing, f"in _toc.yml but not built to _build/html: {missing}"


def test_mathjax_is_served_by_the_site():
    """Math must render offline: the pages load MathJax from ``_static``, not from a CDN."""
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").is_file()
    pages_with_math = 0
    for page in PAGES:
        src = (HTML / page).read_text(errors="replace")
        for url in re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', src, flags=re.I):
            pages_with_math += 1
            assert "://" not in url, f"{page} loads MathJax from {url}"
    assert pages_with_math > 0, "no page loads MathJax at all"


def test_root_redirects_to_the_book():
    text = (HTML / "index.html").read_text()
    target = re.search(r'url=([^"\s]+)', text)
    assert target and (HTML / target.group(1)).is_file(), text[:200]


@pytest.mark.parametrize("page", PAGES or ["(no build)"])
def test_page_reads_clean(site, page):
    browser, base = site
    rep = check_page(browser, base, page, screenshot_path(page))
    assert not rep.problems, f"{page}:\n  " + "\n  ".join(rep.problems)
    if rep.math:
        assert rep.typeset == rep.math, f"{page}: {rep.typeset} of {rep.math} formulas typeset"


def test_key_pages_have_screenshots(site):
    """Runs after the page tests (file order): the key pages' screenshots exist and are PNGs."""
    shots = [screenshot_path(p) for p in PAGES if screenshot_path(p) is not None]
    assert shots, "no key page was built"
    for path in shots:
        assert isinstance(path, Path) and path.is_file(), f"missing screenshot {path}"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
