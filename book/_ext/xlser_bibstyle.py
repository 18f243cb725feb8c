"""Author-year labels in the bibliography, matching the author-year citations in the text.

``sphinxcontrib-bibtex`` cites as "Mi et al. [2026]" (``bibtex_reference_style: author_year``)
but labels the bibliography with its default ``alpha`` style ("[MMT26]"), so a reader cannot
match the two. This registers a pybtex style, ``authoryear``, whose labels are "Mi et al., 2026"
(one author: "Schuller, 2018"; two: "Ganin and Lempitsky, 2015"; three or more: "et al."),
sorted by author, year and title. Select it with ``bibtex_default_style: authoryear``.
"""

from __future__ import annotations

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    parts = person.prelast_names + person.last_names  # "van der Maaten", as in the text
    return Text.from_latex(" ".join(parts)).render_as("text")


def author_year_label(entry) -> str:
    """'Surname, year' / 'A and B, year' / 'A et al., year' for one pybtex entry."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in persons]
    if not names:
        who = Text.from_latex(entry.fields.get("title", "Anonymous")).render_as("text")
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield author_year_label(entry)


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabelStyle
    default_sorting_style = "author_year_title"


def setup(app):
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
