"""The book's own build pieces, without a browser: bibliography labels and keys, the inline-script
de-duplication, and the browser check's page list and local server."""

from __future__ import annotations

import re
import sys
import urllib.request
from pathlib import Path

import pytest
from pybtex.database import Entry, Person, parse_file
from site_check import is_redirect, list_pages, screenshot_path, serve

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

from xlser_bibstyle import author_year_label  # noqa: E402
from xlser_site import dedupe_scripts  # noqa: E402

BIB = parse_file(ROOT / "references.bib")
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


@pytest.mark.parametrize(
    ("authors", "label"),
    [
        (["Schuller, Björn"], "Schuller, 2018"),
        (["Ganin, Yaroslav", "Lempitsky, Victor"], "Ganin and Lempitsky, 2018"),
        (["Mi, Jinyi", "Ma, Ding", "Toda, Tomoki"], "Mi et al., 2018"),
        (["van der Maaten, Laurens", "Hinton, Geoffrey"], "van der Maaten and Hinton, 2018"),
        (['Traunm{\\"u}ller, Hartmut'], "Traunmüller, 2018"),
    ],
)
def test_author_year_label_matches_the_in_text_form(authors, label):
    entry = Entry("article", fields={"title": "T", "year": "2018"})
    entry.persons["author"] = [Person(a) for a in authors]
    assert author_year_label(entry) == label


def test_bibliography_labels_of_the_main_paper():
    assert author_year_label(BIB.entries["mi2026learning"]) == "Mi et al., 2026"
    names = [str(p) for p in BIB.entries["mi2026learning"].persons["author"]]
    assert names == ["Mi, Jinyi", "Ma, Ding", "Toda, Tomoki"]


def test_every_citation_in_the_book_has_an_entry():
    cited = set()
    for page in sorted((ROOT / "book").glob("*.md")):
        for keys in CITE.findall(page.read_text(encoding="utf-8")):
            cited.update(k.strip() for k in keys.split(","))
    assert cited, "no {cite} role found in book/"
    missing = sorted(cited - set(BIB.entries))
    assert not missing, f"cited in book/ but not in references.bib: {missing}"


def test_every_entry_has_author_title_and_year():
    for key, entry in BIB.entries.items():
        assert entry.persons.get("author"), f"{key}: no author"
        assert entry.fields.get("title") and entry.fields.get("year"), f"{key}: title/year"


def test_labels_are_unique_so_citations_are_unambiguous():
    labels = [author_year_label(e) for e in BIB.entries.values()]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    assert not dupes, f"two entries share a label: {dupes}"


def test_dedupe_scripts_keeps_the_first_of_each_script_in_order():
    from sphinx.builders.html._assets import _JavaScript

    body = "const THEBE_JS_URL = 1"
    scripts = [
        _JavaScript("_static/a.js"),
        _JavaScript(None, body=body),
        _JavaScript("_static/b.js", priority=200),
        _JavaScript("", body=body),  # the same inline script, registered a second time
        _JavaScript("_static/a.js"),
        _JavaScript("", body="other"),
    ]
    context = {"script_files": list(scripts)}
    dedupe_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] == [scripts[0], scripts[1], scripts[2], scripts[5]]


def test_list_pages_skips_assets_and_the_redirect_stub(tmp_path):
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/a.html">')
    for name in (
        "book/a.html",
        "book/b.html",
        "_static/x.html",
        "_sources/y.html",
        "genindex.html",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("<title>t</title><h1>h</h1>")
    assert is_redirect(tmp_path / "index.html")
    assert not is_redirect(tmp_path / "book/a.html")
    assert list_pages(tmp_path) == ["book/a.html", "book/b.html", "genindex.html"]
    assert screenshot_path("book/index.html", tmp_path) == tmp_path / "book_index.png"
    assert screenshot_path("book/b.html", tmp_path) is None


def test_serve_answers_on_loopback_only(tmp_path):
    (tmp_path / "page.html").write_text("hello")
    with serve(tmp_path) as base:
        assert base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(base + "page.html", timeout=10) as r:
            assert r.read() == b"hello"
