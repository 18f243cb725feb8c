"""The student edition of the book: every chapter as a notebook, its solutions removed.

``make student`` runs ``python book/_ext/student.py --out _build/student book/[0-9]*.md``. Each
chapter (a MyST-Markdown notebook) loses its solution blocks, is converted to ``.ipynb`` with
jupytext (as ``make notebooks`` does, without outputs) and written to the output folder beside a
``README.md`` that lists, per chapter, every block that was removed.

A solution block is a MyST directive ``admonition`` (or ``dropdown``) whose title starts with
"Solution", fenced with three or more colons (``:::{admonition} Solution to 1``, ``::::{admonition}
Solutions``) or backticks/tildes; it ends at the first line made only of at least as many of the
same fence character, which is where MyST ends it too. Everything else (other admonitions, code
cells, the exercise lists) is kept byte for byte. Text inside code blocks (a ``{code-cell}``, a
```` ```python ```` listing) is never taken for a directive.

The same module parses the ``## Exercises`` section of a chapter (:func:`exercises`), for the
teaching guide's exercise index.

>>> text = "1. Add.\\n\\n:::{admonition} Solution to 1\\n:class: dropdown\\n2\\n:::\\n\\nEnd.\\n"
>>> kept, removed = strip_solutions(text)
>>> kept
'1. Add.\\n\\nEnd.\\n'
>>> [(r.title, r.line, r.n_lines) for r in removed]
[('Solution to 1', 3, 4)]
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

# An opening fence of a solution block: ``:::{admonition} Solution to 2 (sketch)``.
SOLUTION_OPEN = re.compile(
    r"^\s*(?P<fence>:{3,}|`{3,}|~{3,})\{(?:admonition|dropdown)\}[ \t]+(?P<title>Solutions?\b.*)$"
)
# Any opening fence: backtick/tilde code blocks and colon directives.
FENCE_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
HEADING = re.compile(r"^(?P<level>#{1,6})\s+(?P<text>.+?)\s*$")
ITEM = re.compile(r"^(?P<num>\d+)[.)]\s+(?P<text>.*)$")
EXERCISE_HEADING = re.compile(r"^###\s+(?:Exercise\s+)?(?P<num>\d+)\b[.:]?\s*(?P<text>.*)$")


@dataclass(frozen=True)
class Removed:
    """One solution block taken out of a chapter: its title and where it was (1-based lines)."""

    title: str
    line: int
    n_lines: int


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter's ``## Exercises`` section."""

    number: int
    text: str
    """The exercise's text on one line (markup kept)."""

    @property
    def title(self) -> str:
        """The bold lead-in (``**Order.**`` -> ``Order``) or, without one, the first sentence."""
        bold = re.match(r"\*\*(.+?)\*\*", self.text)
        if bold:
            return bold.group(1).strip().rstrip(".")
        first = re.split(r"(?<=[.?!:])\s+(?=[A-Z(])", self.text, maxsplit=1)[0]
        return first.rstrip(".")


def _closes(line: str, fence: str) -> bool:
    """A line made only of ``fence[0]``, at least ``len(fence)`` of them (CommonMark / MyST)."""
    s = line.strip()
    return len(s) >= len(fence) and set(s) == {fence[0]}


def strip_solutions(text: str) -> tuple[str, list[Removed]]:
    """``text`` without its solution blocks, and what was removed.

    A blank line left doubled by a removal is dropped, so the page keeps its paragraph spacing.
    Raises ``ValueError`` naming the line when a solution block is never closed.
    """
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    removed: list[Removed] = []
    code: str | None = None  # the fence of an open code block (its text is never parsed)
    i = 0
    while i < len(lines):
        line = lines[i]
        if code is not None:
            if _closes(line, code):
                code = None
            out.append(line)
            i += 1
            continue
        m = SOLUTION_OPEN.match(line.rstrip("\r\n"))
        if m:
            fence = m["fence"]
            end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], fence)), None)
            if end is None:
                raise ValueError(
                    f"line {i + 1}: the block '{m['title'].strip()}' is never closed; end it with a"
                    f" line of {len(fence)} or more '{fence[0]}'"
                )
            removed.append(Removed(m["title"].strip(), i + 1, end - i + 1))
            i = end + 1
            blank_before = not out or not out[-1].strip()
            while blank_before and i < len(lines) and not lines[i].strip():
                i += 1  # the blank line(s) after the block: one blank line is enough
            continue
        f = FENCE_OPEN.match(line.rstrip("\r\n"))
        if f:
            code = f["fence"]
        out.append(line)
        i += 1
    return "".join(out), removed


def _outside_code(lines: list[str]) -> list[bool]:
    """For each line: True when it is not inside (or a fence of) a backtick/tilde block."""
    flags, code = [], None
    for line in lines:
        if code is not None:
            flags.append(False)
            if _closes(line, code):
                code = None
            continue
        f = FENCE_OPEN.match(line)
        if f:
            code = f["fence"]
            flags.append(False)
        else:
            flags.append(True)
    return flags


def exercises(text: str) -> list[Exercise]:
    """The exercises of a chapter: the numbered items (``1. ...``, continued by indented lines) or
    the ``### Exercise N`` headings of its ``## Exercises`` section; solutions are skipped."""
    body, _ = strip_solutions(text)
    lines = body.splitlines()
    outside = _outside_code(lines)
    start = next(
        (i for i, s in enumerate(lines) if outside[i] and s.strip() == "## Exercises"), None
    )
    if start is None:
        return []
    found: list[tuple[int, list[str]]] = []
    open_item = False  # whether indented lines continue the last exercise
    for i in range(start + 1, len(lines)):
        s = lines[i]
        if not outside[i]:
            continue
        h = HEADING.match(s)
        if h and len(h["level"]) <= 2:
            break  # the next section
        m = ITEM.match(s) or EXERCISE_HEADING.match(s)
        if m:
            found.append((int(m["num"]), [m["text"].strip()]))
            open_item = True
        elif open_item and s.strip() and s[0] in " \t":
            found[-1][1].append(s.strip())
        elif s.strip():
            open_item = False  # text at column 0 (a paragraph, a directive) ends the item
    return [Exercise(n, " ".join(parts)) for n, parts in found]


def chapter_title(text: str) -> str:
    """The first ``# `` heading of a chapter (outside code blocks)."""
    lines = text.splitlines()
    for line, ok in zip(lines, _outside_code(lines)):
        h = HEADING.match(line)
        if ok and h and len(h["level"]) == 1:
            return h["text"]
    return ""


Chapter = tuple[Path, str, list[Removed], list[Exercise]]
"""One chapter of the edition: its file, title, removed solution blocks and exercises."""


def readme(report: list[Chapter]) -> str:
    """The student edition's README: what it is and, per chapter, what was removed."""
    n_removed = sum(len(r) for _, _, r, _ in report)
    n_ex = sum(len(e) for _, _, _, e in report)
    out = [
        "# xlser: the student edition",
        "",
        "Every chapter of the book as a Jupyter notebook (no outputs), with the solutions of its",
        "exercises removed. Made by `make student` (`python book/_ext/student.py`) from the chapter",
        "files in `book/`; everything else in each chapter is unchanged. Run the notebooks from a",
        "checkout of the repository with its `.venv` (`make setup`), so that `import xlser` works.",
        "",
        f"{len(report)} chapters, {n_ex} exercises, {n_removed} solution blocks removed.",
        "",
        "| Notebook | Chapter | Exercises | Removed (line in the chapter file: title) |",
        "|---|---|---|---|",
    ]
    for path, title, removed, exs in report:
        what = "; ".join(f"{r.line}: {r.title}" for r in removed) or "nothing"
        out.append(f"| `{path.stem}.ipynb` | {title} | {len(exs)} | {what} |")
    return "\n".join(out) + "\n"


def build(chapters: list[Path], out_dir: Path) -> list[Chapter]:
    """Write ``out_dir/<chapter>.ipynb`` for every chapter and ``out_dir/README.md``."""
    import jupytext

    from xlser.io import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    report = []
    for path in chapters:
        text = path.read_text(encoding="utf-8")
        kept, removed = strip_solutions(text)
        lines = kept.splitlines()
        left = [
            i + 1
            for i, ok in enumerate(_outside_code(lines))
            if ok and SOLUTION_OPEN.match(lines[i])
        ]
        if left:  # cannot happen: strip_solutions removes every one outside code blocks
            raise ValueError(f"{path}: solution blocks left at lines {left} of the stripped text")
        nb = jupytext.reads(kept, fmt="md:myst")
        atomic_write_text(out_dir / f"{path.stem}.ipynb", jupytext.writes(nb, fmt="ipynb"))
        report.append((path, chapter_title(text), removed, exercises(text)))
    atomic_write_text(out_dir / "README.md", readme(report))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", type=Path, help="default: book/[0-9]*.md")
    parser.add_argument("--out", type=Path, default=Path("_build/student"))
    args = parser.parse_args(argv)
    chapters = args.chapters or sorted(Path("book").glob("[0-9]*.md"))
    missing = [str(p) for p in chapters if not p.is_file()]
    if not chapters or missing:
        print(
            f"no chapter file {missing or 'book/[0-9]*.md'}: run from the repository root",
            file=sys.stderr,
        )
        return 2
    report = build(chapters, args.out)
    n = sum(len(r) for _, _, r, _ in report)
    print(f"{len(report)} notebooks, {n} solution blocks removed -> {args.out}/ (see README.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
