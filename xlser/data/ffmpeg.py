"""Extract 16 kHz mono WAV audio from video files (MELD's ``.mp4``) with the ffmpeg binary.

The binary comes from the ``imageio-ffmpeg`` wheel (:func:`imageio_ffmpeg.get_ffmpeg_exe`, which also
honours ``IMAGEIO_FFMPEG_EXE``), else ``ffmpeg`` on ``PATH``. Extraction is atomic: ffmpeg writes a
hidden temp file beside the target, which is checked (readable, non-empty) and then renamed, so an
interrupted run never leaves a half file that a later run would take as done. A target newer than its
source counts as done and is not extracted again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

SAMPLE_RATE = 16000


class FFmpegError(RuntimeError):
    """ffmpeg failed on one file; the message names it and quotes ffmpeg's last error line."""


def find_ffmpeg() -> str:
    """Path of an ffmpeg binary: the ``imageio-ffmpeg`` one, else ``ffmpeg`` on ``PATH``."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        pass
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise FileNotFoundError(
            "no ffmpeg binary found to extract audio from .mp4; `pip install imageio-ffmpeg` "
            "(ships one) or put ffmpeg on PATH"
        )
    return exe


def is_done(src: str | os.PathLike, dst: str | os.PathLike) -> bool:
    """Whether ``dst`` exists, is non-empty and is not older than ``src``."""
    try:
        d = os.stat(dst)
    except FileNotFoundError:
        return False
    return d.st_size > 0 and d.st_mtime >= os.stat(src).st_mtime


def extract_audio(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    ffmpeg: str | None = None,
    sample_rate: int = SAMPLE_RATE,
    timeout: float = 600.0,
) -> Path:
    """Decode the first audio stream of ``src`` to a mono 16-bit WAV at ``sample_rate`` in ``dst``.

    All channels are mixed down (ffmpeg's ``-ac 1``). Raises :class:`FFmpegError` naming ``src``
    when ffmpeg fails or its output has no samples; nothing is left at ``dst`` then.
    """
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.part")
    cmd = [
        ffmpeg or find_ffmpeg(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(src),
        "-map",
        "0:a:0",
        "-vn",
        "-ac",
        "1",
        "-ar",
        str(sample_rate),
        "-c:a",
        "pcm_s16le",
        "-f",
        "wav",
        str(tmp),
    ]
    try:
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, errors="replace", timeout=timeout
            )
        except subprocess.TimeoutExpired as e:
            raise FFmpegError(f"{src}: ffmpeg took more than {timeout:.0f} s") from e
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            last = lines[-1] if lines else f"exit code {proc.returncode}"
            raise FFmpegError(f"{src}: ffmpeg cannot extract audio ({last})")
        try:
            frames = sf.info(str(tmp)).frames
        except (RuntimeError, sf.LibsndfileError) as e:
            raise FFmpegError(f"{src}: ffmpeg wrote unreadable audio ({e})") from e
        if frames == 0:
            raise FFmpegError(f"{src}: the audio stream has no samples")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


@dataclass
class ExtractReport:
    """What :func:`extract_many` did: counts, and ``failed`` mapping source -> reason."""

    extracted: int = 0
    reused: int = 0
    failed: dict[Path, str] = field(default_factory=dict)


def extract_many(
    jobs: Sequence[tuple[Path, Path]],
    workers: int = 4,
    progress: bool = True,
    ffmpeg: str | None = None,
) -> ExtractReport:
    """Run :func:`extract_audio` for every ``(src, dst)`` not already done, ``workers`` at a time.

    Failures do not stop the others; they are returned in ``report.failed``.
    """
    report = ExtractReport()
    todo = []
    for src, dst in jobs:
        if is_done(src, dst):
            report.reused += 1
        else:
            todo.append((Path(src), Path(dst)))
    if not todo:
        return report
    exe = ffmpeg or find_ffmpeg()
    from tqdm.auto import tqdm

    bar = tqdm(
        total=len(todo), desc="extracting audio", unit="file", disable=None if progress else True
    )
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(extract_audio, s, d, exe): s for s, d in todo}
        try:
            for fut in as_completed(futures):
                src = futures[fut]
                try:
                    fut.result()
                    report.extracted += 1
                except FFmpegError as e:
                    report.failed[src] = str(e)
                bar.update(1)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        finally:
            bar.close()
    return report
