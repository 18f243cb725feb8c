"""``python -m xlser config``: every resolved config key with its value, its documentation and its source.

::

    python -m xlser config [--profile P] [--config FILE] [--set KEY=VALUE ...] [--all]

One line per key: ``key  value  [tag]  first sentence of the field's docstring``. The tags come from
:data:`xlser.config.SOURCES` (``paper``, ``secondary``, ``reproduction``; ``smoke`` for what the
smoke profile changes, :func:`xlser.config.source_tags`), and ``set`` marks a value that differs
from the profile's default because of ``--config`` or ``--set``. The documentation is read once
from the docstrings under the dataclass fields (:func:`field_docs`), so it cannot drift from the
code. The synthetic world of the smoke profile (``data.world``) is summarised, one line per knob
or table; ``--all`` lists every knob of every table.

>>> lines = format_config(ExperimentConfig.from_profile("full"))
>>> [line for line in lines if "cross_lingual_pos_weight" in line][0].split()[:3]
['loss.cross_lingual_pos_weight', '2.5', '[secondary]']
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import re
import textwrap
from typing import Any

from xlser.config import SOURCE_TAGS, ExperimentConfig, source_tags

__all__ = ["field_docs", "format_config", "register_cli"]

SET_TAG = "set"
"""Tag of a value that differs from the profile's default (``--config`` or ``--set``)."""


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """``{field: docstring}`` of a dataclass, from the string literal under each field (via ``ast``).

    >>> field_docs(ExperimentConfig)["seed"]
    'Seed of initialisation, sampling and dropout.'
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # the class statement's body
    docs: dict[str, str] = {}
    for stmt, nxt in zip(body, body[1:]):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[stmt.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


_NOT_AN_END = ("al", "e.g", "i.e", "cf", "vs", "approx", "Fig", "eq", "Eq")


def one_line(doc: str, width: int = 110) -> str:
    """The first sentence of ``doc`` as plain text (reST roles and literals unwrapped), cut to
    ``width`` characters.

    >>> one_line("Use :func:`~xlser.io.x` (Han et al. 2025). More text.")
    'Use x (Han et al. 2025).'
    """
    text = re.sub(r":mod:`~?([^`]*?)`", r"\1", doc)  # modules by their full name
    text = re.sub(r":\w+:`~?([^`]*?)`", lambda m: m.group(1).rsplit(".", 1)[-1], text)
    text = " ".join(text.replace("``", "").split())
    for m in re.finditer(r"\.(\s|$)", text):
        before = text[: m.start()]
        if not before.endswith(_NOT_AN_END):
            text = before + "."
            break
    return text if len(text) <= width else text[: width - 1].rsplit(" ", 1)[0] + " …"


def _show(v: Any) -> str:
    """A value as it would be written after ``--set KEY=`` (YAML flow style)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_show(x)}" for k, x in v.items()) + "}"
    return str(v)


def _rows(obj: Any, default: Any, prefix: str, expand: bool) -> list[tuple[str, Any, bool, str]]:
    """``(key, value, changed, doc)`` of every field of dataclass ``obj``; dataclasses and
    mappings of dataclasses are walked into when ``expand``, else shown as one row."""
    rows = []
    docs = field_docs(type(obj))
    for f in dataclasses.fields(obj):
        value, key = getattr(obj, f.name), f"{prefix}{f.name}"
        base = getattr(default, f.name, None) if default is not None else None
        doc = docs.get(f.name, "")
        if dataclasses.is_dataclass(value) and expand:
            rows += _rows(value, base, f"{key}.", expand)
        elif (
            isinstance(value, dict)
            and expand
            and any(map(dataclasses.is_dataclass, value.values()))
        ):
            for name, entry in value.items():
                other = base.get(name) if isinstance(base, dict) else None
                rows += _rows(entry, other, f"{key}.{name}.", expand)
        elif dataclasses.is_dataclass(value) or (
            isinstance(value, dict) and any(map(dataclasses.is_dataclass, value.values()))
        ):
            n = len(value) if isinstance(value, dict) else len(dataclasses.fields(value))
            shown = f"<{n} {'entries' if isinstance(value, dict) else 'knobs'}>"
            rows.append((key, shown, value != base, doc))
        else:
            rows.append((key, value, value != base, doc))
    return rows


def format_config(
    cfg: ExperimentConfig, default: ExperimentConfig | None = None, all_knobs: bool = False
) -> list[str]:
    """The lines ``python -m xlser config`` prints for ``cfg``.

    Args:
        cfg: The resolved config.
        default: The profile's defaults, to tag what ``cfg`` changes ``set``; ``None``: the
            profile's :meth:`~xlser.config.ExperimentConfig.from_profile` defaults.
        all_knobs: List every knob of the synthetic world (``data.world``), not one line per table.
    """
    default = default or ExperimentConfig.from_profile(cfg.profile)
    tags = source_tags(cfg.profile)
    run_docs = field_docs(ExperimentConfig)
    sections: dict[str, list[tuple[str, Any, bool, str]]] = {"run": []}
    heads = {"run": ExperimentConfig.__doc__ or ""}
    for f in dataclasses.fields(cfg):
        value, base = getattr(cfg, f.name), getattr(default, f.name)
        if not dataclasses.is_dataclass(value):
            sections["run"].append((f.name, value, value != base, run_docs.get(f.name, "")))
            continue
        heads[f.name], rows = type(value).__doc__ or "", []
        for row in _rows(value, base, f"{f.name}.", expand=False):
            if row[0] == "data.world" and cfg.data.world is not None:  # the world, knob by knob
                rows += _rows(cfg.data.world, default.data.world, "data.world.", all_knobs)
            else:
                rows.append(row)
        sections[f.name] = rows
    flat = [row for rows in sections.values() for row in rows]
    kw = max(len(k) for k, *_ in flat)
    vw = min(max(len(_show(v)) for _, v, *_ in flat), 28)
    lines = [
        f"# python -m xlser config: profile {cfg.profile}, {len(flat)} keys "
        "(set any with --set KEY=VALUE)",
        *(f"# [{t}] {d}" for t, d in SOURCE_TAGS.items()),
        f"# [{SET_TAG}] differs from the profile's default (--config or --set)",
    ]
    for name, rows in sections.items():
        lines += ["", f"[{name}] {one_line(heads[name])}"]
        for key, v, changed, doc in rows:
            tag = SET_TAG if changed else tags.get(key, "smoke")  # data.world.*: smoke's world
            lines.append(f"{key:<{kw}}  {_show(v):<{vw}}  [{tag}]  {one_line(doc)}".rstrip())
    if cfg.data.world is not None and not all_knobs:
        lines += ["", "# data.world: one line per table of knobs; --all lists every knob"]
    return lines


def _run(args: argparse.Namespace) -> int:
    from xlser.cli import config_from_args

    cfg = config_from_args(args)
    cfg.validate()
    bare = argparse.Namespace(profile=cfg.profile, config=None, set=[])
    print("\n".join(format_config(cfg, config_from_args(bare), args.all)))
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``config [--profile P] [--config FILE] [--set KEY=VALUE ...] [--all]``."""
    from xlser.cli import config_parent

    p = sub.add_parser(
        "config",
        help="every config key: value, documentation, source (paper / secondary / reproduction)",
        description="Print the resolved experiment config, one key a line: its value, the "
        "first sentence of its documentation and where its default comes from.",
        parents=[config_parent(run=True)],
    )
    p.add_argument("--all", action="store_true", help="list every knob of the synthetic world")
    p.set_defaults(func=_run)
