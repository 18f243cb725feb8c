"""Resample once: a copy at the model's rate of every file recorded at another rate.

CaFE is recorded at 48 kHz (and other corpora may hold 22.05 or 44.1 kHz files) while wav2vec 2.0
takes 16 kHz. Resampling is the costliest part of reading such a file (about 3.5 ms for a 4 s clip
on one CPU thread, several times the read itself), and the hierarchical sampler draws a small
corpus's files many times per epoch. :func:`at_rate` therefore writes, the first time a file is
read, its mono mix resampled to the target rate as a float32 WAV under a cache folder (by default
``<manifests>/.xlser-cache/audio-<rate>/``, beside the front-end cache), and every later read
of that file reads the copy. MELD's ``.mp4`` files are already converted to 16 kHz WAV by
``python -m xlser prepare``; this covers the rest without a second preparation step.

The copy holds exactly the samples that resampling on the fly gives (float32, no requantisation),
so training is unchanged by the cache. A copy is named after the source's absolute path, size and
modification time: an edited source gets a new copy, and the stale one is only ever a file in
xlser's own cache folder. Copies are written atomically, so DataLoader workers that race on the
same file never read half of one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import soundfile as sf

from xlser.data.audio import AudioError, load_audio
from xlser.io import atomic_write

__all__ = ["at_rate", "cache_name"]

_AT_RATE: set[tuple[str, int, int, int]] = set()
"""Per process: unchanged sources (path, size, mtime, rate) found at the rate already."""


def cache_name(path: str | os.PathLike, sample_rate: int, st: os.stat_result | None = None) -> str:
    """The copy's file name: the source's stem and a hash of its absolute path, size, mtime and
    the target rate (``st``: the source's ``os.stat``, if already taken; raises
    ``FileNotFoundError`` if the source is missing).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "03-C-1-1.wav"
    >>> _ = p.write_bytes(b"x")
    >>> name = cache_name(p, 16000)
    >>> name.startswith("03-C-1-1-") and name.endswith(".wav") and name != cache_name(p, 8000)
    True
    """
    st = os.stat(path) if st is None else st
    key = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{sample_rate}"
    return f"{Path(path).stem}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.wav"


def at_rate(path: str | os.PathLike, sample_rate: int, cache_dir: str | os.PathLike) -> str:
    """A path whose audio is ``path``'s at ``sample_rate``: ``path`` itself if its header says it
    is at that rate already, else its resampled mono copy in ``cache_dir`` (written on first use).

    Raises:
        AudioError: the source is unreadable or unusable (:func:`xlser.data.audio.load_audio`).
        DiskFullError: the copy could not be written (the cache folder's disk is full).
    """
    path = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        raise AudioError(f"{path}: audio file does not exist") from e
    memo = (path, st.st_size, st.st_mtime_ns, sample_rate)
    if memo in _AT_RATE:
        return path
    dst = Path(cache_dir) / cache_name(path, sample_rate, st)
    if dst.exists():
        return str(dst)
    try:
        rate = sf.info(path).samplerate  # the header only
    except (RuntimeError, sf.LibsndfileError) as e:
        raise AudioError(f"{path}: cannot read audio header ({e}); is the file corrupt?") from e
    if rate == sample_rate:
        _AT_RATE.add(memo)
        return path
    wave = load_audio(path, sample_rate)  # (S,) checked, mono, resampled
    dst.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(dst, lambda tmp: sf.write(tmp, wave.numpy(), sample_rate, "FLOAT", format="WAV"))
    return str(dst)
