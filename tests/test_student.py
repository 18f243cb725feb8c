"""The student edition (book/_ext/student.py): exactly the solution boxes are removed, on a made-up
chapter and on every real one; exercises are parsed for the teaching guide's index."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

from student import (  # noqa: E402
    SOLUTION_OPEN,
    Exercise,
    build,
    exercises,
    main,
    strip_solutions,
)

CHAPTERS = sorted((ROOT / "book").glob("[0-9]*.md"))

FRONT = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""

# Two solutions (a plain ::: one, and a :::: one holding a nested ::: note and a code block), one
# hint admonition that must stay, and a code cell that *prints* a solution fence (code, not a box).
MADE_UP = """# A chapter

:::{admonition} Audience & objectives
:class: tip
Readers.
:::

```{code-cell} ipython3
print(":::{admonition} Solution to 9")
print(":::")
```

## Exercises

1. **Sum.** Add two numbers,
   then print them.
2. Multiply.

:::{admonition} Solution to 1
:class: dropdown
```python
print(1 + 2)
```
:::

::::{admonition} Solution to 2 (sketch)
:class: dropdown
:::{note}
A nested note.
:::
```python
x = 2 * 3
```
::::

:::{admonition} Hint
:class: dropdown
Use `*`.
:::
"""

EXPECTED = """# A chapter

:::{admonition} Audience & objectives
:class: tip
Readers.
:::

```{code-cell} ipython3
print(":::{admonition} Solution to 9")
print(":::")
```

## Exercises

1. **Sum.** Add two numbers,
   then print them.
2. Multiply.

:::{admonition} Hint
:class: dropdown
Use `*`.
:::
"""


def outside_code(lines: list[str]) -> list[bool]:
    """Independent of the module: True for lines outside ``` / ~~~ blocks (fences included)."""
    flags, fence = [], None
    for line in lines:
        s = line.strip()
        if fence is None:
            m = re.match(r"(`{3,}|~{3,})", s)
            if m:
                fence = m.group(1)
            flags.append(fence is None)
        else:
            flags.append(False)
            if len(s) >= len(fence) and set(s) == {fence[0]}:
                fence = None
    return flags


def headings(text: str) -> list[str]:
    lines = text.splitlines()
    return [s for s, ok in zip(lines, outside_code(lines)) if ok and re.match(r"#{1,6} ", s)]


def solution_lines(text: str) -> list[str]:
    lines = text.splitlines()
    return [
        s
        for s, ok in zip(lines, outside_code(lines))
        if ok and re.match(r"\s*[:`~]{3,}\{admonition\}\s+Solution", s)
    ]


def test_made_up_chapter_loses_exactly_its_two_solutions():
    kept, removed = strip_solutions(MADE_UP)
    assert kept == EXPECTED
    assert [(r.title, r.line, r.n_lines) for r in removed] == [
        ("Solution to 1", 19, 6),
        ("Solution to 2 (sketch)", 26, 9),
    ]


def test_backtick_fenced_and_dropdown_solutions_are_removed_too():
    text = (
        "a\n\n````{admonition} Solutions\n```python\nx = 1\n```\n````\n\n"
        "```{dropdown} Solution\nb\n```\n\nz\n"
    )
    kept, removed = strip_solutions(text)
    assert kept == "a\n\nz\n"
    assert [r.title for r in removed] == ["Solutions", "Solution"]


def test_a_text_without_solutions_is_unchanged_byte_for_byte():
    # "Solutionless" is not the word "Solution"; CRLF line ends are kept as they are
    text = "# T\r\n\r\n:::{admonition} Solutionless hint\r\nx\r\n:::\r\n"
    assert strip_solutions(text) == (text, [])


def test_an_unclosed_solution_names_its_line_and_the_fix():
    with pytest.raises(ValueError, match=r"line 3: .*'Solution to 1'.*4 or more ':'"):
        strip_solutions("x\n\n::::{admonition} Solution to 1\ny\n:::\n")


def test_exercises_are_read_from_the_exercises_section_only():
    text = "## Intro\n\n1. not an exercise\n\n" + MADE_UP.split("# A chapter\n", 1)[1]
    text += "\n## After\n\n3. not one either\n"
    assert exercises(text) == [
        Exercise(1, "**Sum.** Add two numbers, then print them."),
        Exercise(2, "Multiply."),
    ]
    assert [e.title for e in exercises(text)] == ["Sum", "Multiply"]
    assert Exercise(1, "Compute it. Then say why.").title == "Compute it"
    heading_form = "## Exercises\n\n### Exercise 1: Probe\n\nText.\n\n### Exercise 2\n"
    assert [(e.number, e.text) for e in exercises(heading_form)] == [(1, "Probe"), (2, "")]
    assert exercises("# No exercises here\n") == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_real_chapter_keeps_everything_but_its_solutions(path):
    text = path.read_text(encoding="utf-8")
    kept, removed = strip_solutions(text)
    assert solution_lines(text), f"{path.name}: no solution box found; the pattern may be stale"
    assert len(removed) == len(solution_lines(text))
    assert not solution_lines(kept)
    lines = kept.splitlines()
    assert not [s for s, ok in zip(lines, outside_code(lines)) if ok and SOLUTION_OPEN.match(s)]
    assert headings(kept) == headings(text)  # "## Exercises" and every other heading
    assert exercises(kept) == exercises(text) and exercises(text)
    assert len(text.splitlines()) - len(lines) >= sum(r.n_lines for r in removed)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution_box(path):
    text = path.read_text(encoding="utf-8")
    n_ex, n_sol = len(exercises(text)), len(strip_solutions(text)[1])
    assert n_sol >= n_ex, f"{path.name}: {n_ex} exercises but {n_sol} solution boxes"


def test_build_writes_notebooks_without_solutions_and_a_readme(tmp_path):
    chapter = tmp_path / "07_toy.md"
    chapter.write_text(FRONT + "\n" + MADE_UP, encoding="utf-8")
    out = tmp_path / "student"
    report = build([chapter], out)
    nb = json.loads((out / "07_toy.ipynb").read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert code == ['print(":::{admonition} Solution to 9")\nprint(":::")']
    assert "print(1 + 2)" not in md and "nested note" not in md
    assert "{admonition} Hint" in md and "2. Multiply." in md
    readme = (out / "README.md").read_text(encoding="utf-8")
    # lines of the chapter file: 11 of front matter, a blank one, then MADE_UP's 19 and 26
    line = "| `07_toy.ipynb` | A chapter | 2 | 31: Solution to 1; 38: Solution to 2 (sketch) |"
    assert line in readme.splitlines()
    assert [len(r[2]) for r in report] == [2]


def test_module_doctest():
    import doctest

    import student

    assert doctest.testmod(student).failed == 0


def test_main_refuses_a_missing_chapter(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "s"), str(tmp_path / "nope.md")]) == 2
    assert "nope.md" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
