"""xlser.io: a failed write (disk full, no permission) keeps the old file and leaves no temp file,
and says which file and what to do; truncated JSON and safetensors name the file; JSON is strict."""

from __future__ import annotations

import errno
import json
import os
import tempfile

import pytest
import torch

import xlser.io
from xlser.errors import XlserError
from xlser.io import (
    CorruptFileError,
    DiskFullError,
    atomic_save_tensors,
    atomic_write,
    atomic_write_text,
    read_json,
    read_tensors,
    write_json,
)


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _only(folder):
    return sorted(p.name for p in folder.iterdir())


def test_disk_full_while_writing_keeps_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"uar": 61.25})

    def half_then_full(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write('{"uar": 7')  # part of the new content reached the disk, then it was full
        _enospc()

    with pytest.raises(DiskFullError) as e:
        atomic_write(target, half_then_full)
    msg = str(e.value)
    assert msg.startswith(f"{target}: no space left on the device")
    assert f"Free disk space (or raise the quota) under {tmp_path}" in msg
    assert isinstance(e.value, OSError) and e.value.errno == errno.ENOSPC
    assert isinstance(e.value, XlserError)  # the CLI prints it as one line, exit status 2
    assert read_json(target) == {"uar": 61.25} and _only(tmp_path) == ["metrics.json"]


WRITERS = {  # name: (file, first write, second write)
    "text": (
        "notes.txt",
        lambda p: atomic_write_text(p, "old"),
        lambda p: atomic_write_text(p, "x" * 9999),
    ),
    "json": (
        "state.json",
        lambda p: write_json(p, {"step": 6}),
        lambda p: write_json(p, {"step": 7}),
    ),
    "tensors": (
        "model.safetensors",
        lambda p: atomic_save_tensors(p, {"w": torch.ones(3)}),
        lambda p: atomic_save_tensors(p, {"w": torch.zeros(1000)}),
    ),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_disk_full_at_fsync_keeps_the_old_file(tmp_path, monkeypatch, writer):
    """Delayed allocation reports a full disk at fsync, after every write() succeeded."""
    name, first, second = WRITERS[writer]
    target = tmp_path / name
    first(target)
    before = target.read_bytes()
    monkeypatch.setattr(xlser.io.os, "fsync", _enospc)
    with pytest.raises(DiskFullError, match=f"^{target}: no space left.*Free disk space"):
        second(target)
    monkeypatch.undo()
    assert target.read_bytes() == before and _only(tmp_path) == [name]


def test_quota_exceeded_is_disk_full_too(tmp_path):
    def over_quota(tmp: str) -> None:
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    with pytest.raises(DiskFullError, match="raise the quota"):
        atomic_write(tmp_path / "a.txt", over_quota)
    assert _only(tmp_path) == []


def test_unwritable_folder_names_the_file_and_the_fix(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / ".x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)  # as root, chmod would not stop the write
    with pytest.raises(PermissionError) as e:
        atomic_write_text(tmp_path / "config.yaml", "a: 1\n")
    assert str(e.value) == (
        f"{tmp_path / 'config.yaml'}: cannot write (Permission denied); make {tmp_path} "
        "writable or write somewhere else (e.g. another --out)"
    )


def test_other_errors_pass_through_unchanged(tmp_path):
    def boom(tmp: str) -> None:
        raise ValueError("not a write error")

    with pytest.raises(ValueError, match="^not a write error$"):
        atomic_write(tmp_path / "a.txt", boom)
    assert _only(tmp_path) == []


def test_truncated_json_names_the_file_and_the_fix(tmp_path):
    p = tmp_path / "trainer_state.json"
    write_json(p, {"step": 6, "history": [1, 2, 3]})
    p.write_text(p.read_text()[:20])
    with pytest.raises(CorruptFileError) as e:
        read_json(p, "pass --overwrite to start the run afresh")
    assert str(e.value).startswith(f"{p}: not valid JSON (")
    assert str(e.value).endswith(
        "truncated or was edited; pass --overwrite to start the run afresh"
    )


def test_truncated_safetensors_names_the_file_and_the_fix(tmp_path):
    p = tmp_path / "trainable.safetensors"
    atomic_save_tensors(p, {"w": torch.arange(100.0)})
    assert torch.equal(read_tensors(p)["w"], torch.arange(100.0))
    p.write_bytes(p.read_bytes()[:-50])
    with pytest.raises(
        CorruptFileError, match=f"^{p}: not a readable safetensors file.*--overwrite"
    ):
        read_tensors(p, "pass --overwrite")
    with pytest.raises(FileNotFoundError):
        read_tensors(tmp_path / "missing.safetensors")


def test_json_is_strict(tmp_path):
    p = tmp_path / "m.json"
    for bad in (float("nan"), float("-inf")):
        with pytest.raises(ValueError, match=f"{p}: refusing to write NaN or infinity"):
            write_json(p, {"best_metric": bad})
    assert not p.exists()
    write_json(p, {"best_metric": None})
    assert json.loads(p.read_text()) == {"best_metric": None}
