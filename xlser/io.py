"""Small file helpers shared by every writer in xlser: atomic, durable, strict.

* :func:`atomic_write_text` / :func:`atomic_save_tensors`: write a temp file in the target's folder,
  ``fsync`` it, ``os.replace`` it over the target and ``fsync`` the folder, so a reader (or a run
  killed at any moment) sees the old file or the new one, never half of one. Permissions follow the
  umask (``mkstemp``'s 0600 is not kept). A full disk (or quota) raises :class:`DiskFullError`, a
  folder that cannot be written :class:`PermissionError`, each naming the file and the fix; the old
  file stays as it was and no temp file is left behind.
* :func:`write_json` writes strict JSON (NaN and infinities are refused, not written as
  ``NaN``/``Infinity``, which JSON does not have); :func:`read_json` and :func:`read_tensors` name the
  file and the fix when it is unreadable.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "m.json"
>>> write_json(p, {"uar": 61.25})
>>> read_json(p)
{'uar': 61.25}
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xlser.errors import XlserError

__all__ = [
    "CorruptFileError",
    "DiskFullError",
    "atomic_save_tensors",
    "atomic_write",
    "atomic_write_text",
    "read_json",
    "read_tensors",
    "write_json",
]


class CorruptFileError(XlserError, ValueError):
    """A file xlser reads is truncated or malformed; the message names it and the fix."""


class DiskFullError(XlserError, OSError):
    """No space left (or the quota is used up) while writing; names the file and the fix."""


_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


def _explained(e: OSError, path: Path) -> OSError:
    """A disk-full or permission error while writing ``path``, reworded to name it and the fix."""
    if e.errno in _FULL:
        err = DiskFullError(
            f"{path}: no space left on the device ({e.strerror}) while writing it; the previous "
            f"file, if any, is unchanged. Free disk space (or raise the quota) under {path.parent} "
            "and run the command again"
        )
        err.errno = e.errno
        return err
    if e.errno in _DENIED:
        err = PermissionError(
            f"{path}: cannot write ({e.strerror}); make {path.parent} writable or write somewhere "
            "else (e.g. another --out)"
        )
        err.errno = e.errno
        return err
    return e


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, then fsync and move the temp file over ``path`` atomically."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        new = _explained(e, path)
        if new is e:
            raise
        raise new from e
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
        with contextlib.suppress(OSError):  # make the rename durable (not on every OS)
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        new = _explained(e, path) if isinstance(e, OSError) else e
        if new is e:
            raise
        raise new from e


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    atomic_write(path, write)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Strict JSON (``allow_nan=False``), indented, atomically."""
    try:
        text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    except ValueError as e:
        raise ValueError(f"{path}: refusing to write NaN or infinity as JSON ({e})") from e
    atomic_write_text(path, text)


def read_json(path: str | os.PathLike, fix: str = "") -> Any:
    """Parse a JSON file; a truncated or malformed one raises :class:`CorruptFileError`."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CorruptFileError(
            f"{path}: not valid JSON ({e.msg} at line {e.lineno}); the file is truncated or "
            f"was edited{'; ' + fix if fix else ''}"
        ) from e


def atomic_save_tensors(
    path: str | os.PathLike, tensors: dict, metadata: dict | None = None
) -> None:
    """Save a ``{name: tensor}`` dict as safetensors, atomically (no pickle anywhere)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def read_tensors(path: str | os.PathLike, fix: str = "") -> dict:
    """Load a safetensors file; a truncated or malformed one raises :class:`CorruptFileError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise CorruptFileError(
            f"{path}: not a readable safetensors file ({e}){'; ' + fix if fix else ''}"
        ) from e
