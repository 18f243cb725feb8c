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
    "xlser.config_cli",  # config
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


def _task_name(value: str) -> str:
    """``--task``: any ``source-target`` pair (the paper's nine, or another), checked at parsing."""
    from xlser.tasks import TaskError, parse_task

    try:
        return parse_task(value).name
    except TaskError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _seed(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"--seed takes an integer >= 0, got {value!r}")
    return int(value)


RUN_OPTIONS: tuple[str, ...] = ("task", "system", "seed")
"""The options of one run that :func:`add_config_arguments` can add beside the config's."""


def add_config_arguments(p: argparse.ArgumentParser, run: bool | tuple[str, ...] = True) -> None:
    """The one policy for every command that builds an experiment config.

    ``--profile`` (default: ``XLSER_PROFILE``, else smoke), ``--config FILE`` and repeated
    ``--set KEY=VALUE``, resolved by :func:`config_from_args`; with ``run``, also ``--task``,
    ``--system`` and ``--seed`` (or only the :data:`RUN_OPTIONS` named in ``run``). Closed values
    have ``choices``; a ``--set`` key or value that is not allowed is an error naming the key.
    """
    from xlser.config import PROFILES, SYSTEMS

    g = p.add_argument_group(
        "experiment config",
        "every key, its default and its source: python -m xlser config [--profile P] [--all]",
    )
    g.add_argument("--profile", choices=PROFILES, default=None,
                   help="smoke or full (default: XLSER_PROFILE, else smoke)")  # fmt: skip
    g.add_argument("--config", metavar="FILE",
                   help="YAML/JSON config file (its profile wins over --profile)")  # fmt: skip
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, YAML value, repeatable; e.g. "
                   "--set loss.cross_lingual_pos_weight=2.5")  # fmt: skip
    keys = RUN_OPTIONS if run is True else tuple(run or ())
    if "task" in keys:
        from xlser.tasks import TASKS

        g.add_argument("--task", type=_task_name,
                       help=f"source-target, e.g. en-de; the paper's: {', '.join(TASKS)}")  # fmt: skip
    if "system" in keys:
        g.add_argument("--system", choices=SYSTEMS)
    if "seed" in keys:
        g.add_argument("--seed", type=_seed)


def config_parent(run: bool | tuple[str, ...] = True) -> argparse.ArgumentParser:
    """:func:`add_config_arguments` as a parent parser: ``add_parser(..., parents=[...])``."""
    p = argparse.ArgumentParser(add_help=False)
    add_config_arguments(p, run)
    return p


def config_from_args(args: argparse.Namespace):
    """The experiment config the shared options describe.

    With ``--config``: the file (missing keys take its profile's defaults), then the overrides.
    Otherwise the profile's defaults (``--profile``, else ``XLSER_PROFILE``, else smoke) with run
    folders under ``<repo>/runs/<profile>``, then the overrides. Overrides: ``--set`` in order, then
    ``--task``, ``--system``, ``--seed``.
    """
    from xlser.config import ExperimentConfig, load_config, profile, repo_root

    over = parse_overrides(getattr(args, "set", None) or [])
    for key in RUN_OPTIONS:
        if getattr(args, key, None) is not None:
            over[key] = getattr(args, key)
    if getattr(args, "config", None):
        return load_config(args.config, **over)
    prof = getattr(args, "profile", None) or profile()
    over.setdefault("output_dir", str(repo_root() / "runs" / prof))
    return ExperimentConfig.from_profile(prof, **over)


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
