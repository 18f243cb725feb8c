"""xlser's own error types: every one names the file or config key and the fix.

The command line reports these (and missing/existing/unreadable files) as one line with exit
status 2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class XlserError(Exception):
    """Base of the errors xlser raises for bad input (config, data, run folders, files)."""


class DataError(XlserError, ValueError):
    """The data a run needs is missing or unusable (no rows for a language, empty split ...)."""


class UsageError(XlserError, ValueError):
    """An argument out of its allowed values (a split name, a duration, a layer count ...)."""
