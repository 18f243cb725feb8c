"""``python -m xlser <command>``: thin wrappers over library functions the book calls directly.

Each command lives next to the code it wraps: a module listed in :data:`COMMANDS` defines
``register_cli(subparsers)``, which adds its subparser and sets ``func`` (``args -> int`` exit code).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from typing import Any

from xlser.errors import XlserError

COMMANDS: tuple[str, ...] = (
    "xlser.world.synthesis",  # synth
    "xlser.data.prepare",  # prepare
    "xlser.tasks_cli",  # tasks
    "xlser.summary",  # summary
    "xlser.pretrain",  # pretrain
    "xlser.train",  # train
    "xlser.predict",  # predict
    "xlser.grid",  # grid
    "xlser.report",  # report
    "xlser.tsne",  # tsne
)


class CLIError(XlserError):
    """An error the CLI reports as one line (no traceback) with exit code 2."""


REPORTED = (XlserError, FileNotFoundError, FileExistsError, IsADirectoryError,
            NotADirectoryError, PermissionError)  # fmt: skip
"""What the CLI prints as one line (exit 2): xlser's own errors, which name the file or key and
the fix, and files that are missing, in the way or not allowed. Anything else is a bug and keeps
its traceback."""


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["loss.w_adv=0.5", "train.lr=1e-3", "data.manifests=[a.csv, b.csv]"]`` -> dotted
    overrides. Values are YAML; numbers written like ``1e-3`` are numbers (YAML 1.1 reads them
    as text).

    >>> parse_overrides(["train.lr=1e-3", "loss.pos_norm=count", "data.manifests=[a, b]"])
    {'train.lr': 0.001, 'loss.pos_norm': 'count', 'data.manifests': ['a', 'b']}
    """
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--set expects KEY=VALUE (e.g. loss.w_adv=0.5), got {item!r}")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise CLIError(f"--set {item!r}: the value is not valid YAML ({e})") from None
        if isinstance(parsed, str):
            with contextlib.suppress(ValueError):
                parsed = float(parsed) if any(c in parsed for c in ".eE") else int(parsed)
        out[key.strip()] = parsed
    return out


def add_config_arguments(p: argparse.ArgumentParser, run: bool = True) -> None:
    """The shared options of every command that builds an experiment config."""
    from xlser.config import PROFILES, SYSTEMS

    p.add_argument("--profile", choices=PROFILES, default=None,
                   help="smoke or full (default: XLSER_PROFILE, else smoke)")  # fmt: skip
    p.add_argument("--config", help="YAML/JSON config file (its profile wins over --profile)")
    if run:
        from xlser.tasks import TASKS

        p.add_argument("--task", help=f"source-target, e.g. en-de; the paper's: {', '.join(TASKS)}")
        p.add_argument("--system", choices=SYSTEMS)
        p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. --set loss.cross_lingual_pos_weight=2.5 "
                   "(all keys: python -m xlser config)")  # fmt: skip


def config_from_args(args: argparse.Namespace):
    """The experiment config the shared options describe (profile defaults, file, overrides)."""
    from xlser.book import experiment
    from xlser.config import load_config

    over = parse_overrides(args.set)
    for key in ("task", "system", "seed"):
        if getattr(args, key, None) is not None:
            over[key] = getattr(args, key)
    return load_config(args.config, **over) if args.config else experiment(args.profile, **over)


def build_parser() -> argparse.ArgumentParser:
    from xlser import __version__

    parser = argparse.ArgumentParser(
        prog="python -m xlser",
        description="Zero-shot cross-lingual speech emotion recognition (Mi, Ma & Toda, 2026).",
    )
    parser.add_argument("--version", action="version", version=f"xlser {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for mod in COMMANDS:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as e:  # a command whose module is not there yet
            if e.name != mod:
                raise
            continue
        module.register_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except REPORTED as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
