"""Name -> entry tables for the three ways xlser is extended: PEFT methods, corpora, systems.

A :class:`Registry` is a plain ``dict`` (ordered, iterable, ``.get`` works as usual) whose missing
names raise :class:`UnknownNameError`, a message that lists the registered names and says where a
new one is added, instead of a bare ``KeyError``.

>>> colours = Registry("colour", {"red": 1, "blue": 2}, where="colours.py")
>>> colours["red"]
1
>>> colours["green"]
Traceback (most recent call last):
...
xlser.registry.UnknownNameError: unknown colour 'green'; registered: red, blue (to add one, see colours.py)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from xlser.errors import XlserError

__all__ = ["Registry", "UnknownNameError"]

T = TypeVar("T")


class UnknownNameError(XlserError, KeyError, ValueError):
    """A name that no registry entry has; the message lists the registered names.

    A ``KeyError`` (a registry is a mapping) and a ``ValueError`` (the name is a bad value).
    """

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0])


class Registry(dict, Generic[T]):
    """An ordered ``name -> entry`` table whose unknown names are reported helpfully.

    Args:
        kind: What an entry is, for messages (``"corpus"``).
        entries: The initial ``name -> entry`` pairs, in display order.
        where: Where a new entry is added (a module or its docstring), for messages.
    """

    def __init__(self, kind: str, entries: Mapping[str, T], where: str) -> None:
        super().__init__(entries)
        self.kind, self.where = kind, where

    def __missing__(self, name: str) -> T:
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}; registered: {', '.join(self)} "
            f"(to add one, see {self.where})"
        )
