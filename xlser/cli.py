"""``python -m xlser <command>``: thin wrappers over library functions the book calls directly.

Each command lives next to the code it wraps: a module listed in :data:`COMMANDS` defines
``register_cli(subparsers)``, which adds its subparser and sets ``func`` (``args -> int`` exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: tuple[str, ...] = (
    "xlser.data.synthetic",  # synth
    "xlser.data.prepare",  # prepare
    "xlser.tasks_cli",  # tasks
    "xlser.summary",  # summary
    "xlser.train",  # train
)


class CLIError(Exception):
    """An error the CLI reports as one line (no traceback) with exit code 2."""


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
    except (CLIError, FileNotFoundError, FileExistsError, ValueError) as e:
        # Library errors carry the file / key and the fix in their message; show it without a traceback.
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
