"""Audio I/O: read with ``soundfile``, mix to mono, resample to 16 kHz, crop, batch with padding.

torchaudio >= 2.9 needs torchcodec for ``torchaudio.load``, so files are read with ``soundfile``
and only resampling uses torchaudio (``torchaudio.functional.resample``).

Sanity. Every file read (:func:`load_audio`, hence training, the front-end cache and prediction)
and every file ``prepare`` keeps must hold a usable signal: at least :data:`MIN_SECONDS` long,
no NaN or infinite sample, and not silent or constant (:func:`signal_problem`, threshold
:data:`SILENCE_PEAK`). Per-utterance normalisation would otherwise blow a silent file's
rounding noise up to unit variance and train on it. :func:`check_headers` checks, from the
headers alone, that a manifest's files exist and are readable, fast enough to run before every
training run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from xlser import EMOTIONS, LANGUAGES
from xlser.errors import XlserError

MIN_SECONDS = 0.025
"""Shorter audio is rejected: wav2vec2's CNN needs 400 samples (25 ms at 16 kHz) for one frame.
(MELD's shortest clips are about 0.064 s long; they are kept.)"""


SILENCE_PEAK = 1e-4
"""A (mono-mixed) file whose samples span less than this, peak to peak, holds no signal (full
scale is 1.0; -80 dBFS, about 3 steps of 16-bit PCM). If every sample is also within this of
zero the file is *silent* (digital silence, a recording that never started); otherwise it is
*constant* (a DC offset and nothing else). Real recordings span far more: even a quiet room
recorded at 16 bits has a noise floor near -60 dBFS, and the synthetic world mixes a noise floor
into every utterance (its quietest smoke-world file spans 0.094, peak to peak)."""

FIX_BAD_AUDIO = (
    "replace the file, or rebuild the manifest without it (python -m xlser prepare ... "
    "--skip-bad --overwrite) or delete its row"
)
"""The fix every error about a manifest's audio suggests."""


class AudioError(XlserError, ValueError):
    """Corrupt, empty, unreadable, too-short, silent, constant or non-finite audio; the message
    names the file."""


def audio_duration(path: str | os.PathLike) -> float:
    """Duration in seconds from the file header, without decoding the samples."""
    try:
        with sf.SoundFile(str(path)) as f:  # opening reads the header only
            frames, sr = f.frames, f.samplerate
    except (RuntimeError, sf.LibsndfileError) as e:
        raise AudioError(f"{path}: cannot read audio header ({e}); is the file corrupt?") from e
    if frames == 0:
        raise AudioError(f"{path}: audio file has no samples")
    return frames / sr


def signal_problem(wave: np.ndarray | torch.Tensor) -> str | None:
    """Why a mono waveform ``(S,)`` is unusable, or ``None``: non-finite samples, or a peak-to-peak
    span below :data:`SILENCE_PEAK` (silent when every sample is that close to zero, else
    constant).

    >>> signal_problem(np.zeros(800))
    'audio is silent (every sample within 0.0001 of zero, below -80 dBFS; largest 0)'
    >>> signal_problem(np.full(800, 0.3))
    'audio is constant (0.3 in every sample, peak to peak 0: a DC offset, no signal)'
    >>> signal_problem(np.array([0.0, np.nan, 0.5]))
    'audio contains 1 NaN or infinite sample(s) of 3'
    >>> signal_problem(0.1 * np.sin(np.arange(800.0))) is None
    True
    """
    w = torch.as_tensor(wave)
    if not torch.isfinite(w).all():
        n = int((~torch.isfinite(w)).sum())
        return f"audio contains {n} NaN or infinite sample(s) of {w.numel()}"
    lo, hi = float(w.min()), float(w.max())
    if hi - lo >= SILENCE_PEAK:
        return None
    peak = max(abs(lo), abs(hi))
    if peak < SILENCE_PEAK:
        return (
            f"audio is silent (every sample within {SILENCE_PEAK:g} of zero, below -80 dBFS; "
            f"largest {peak:.2g})"
        )
    return (
        f"audio is constant ({float(w.double().mean()):.3g} in every sample, peak to peak "
        f"{hi - lo:.2g}: a DC offset, no signal)"
    )


def read_checked(
    path: str | os.PathLike, min_seconds: float = MIN_SECONDS
) -> tuple[np.ndarray, int]:
    """Decode ``path`` to a mono float32 ``(S,)`` array and its rate, raising :class:`AudioError`
    (naming the file and the fix) for unreadable, empty, too short (``min_seconds``), non-finite,
    silent or constant audio."""
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (S, C)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise AudioError(f"{path}: cannot decode audio ({e}); is the file corrupt?") from e
    if data.size == 0:
        raise AudioError(f"{path}: audio file has no samples")
    if len(data) < min_seconds * sr:  # before the signal check: one sample is short, not constant
        raise AudioError(
            f"{path}: audio is {len(data) / sr:.3f} s long; at least {min_seconds} s is needed; "
            f"{FIX_BAD_AUDIO}"
        )
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]  # (S,)
    problem = signal_problem(mono)
    if problem is not None:
        raise AudioError(f"{path}: {problem}; {FIX_BAD_AUDIO}")
    return mono, sr


def load_audio(
    path: str | os.PathLike,
    sample_rate: int = 16000,
    max_seconds: float | None = None,
    crop: str = "random",
    generator: np.random.Generator | None = None,
    min_seconds: float = MIN_SECONDS,
) -> torch.Tensor:
    """Read ``path`` as a mono float32 waveform at ``sample_rate``.

    Args:
        path: any format libsndfile reads (WAV, FLAC, OGG, AIFF).
        sample_rate: target rate; other rates are resampled with torchaudio.
        max_seconds: crop longer audio to this length (``None``: no crop).
        crop: ``"random"`` (training; uses ``generator``) or ``"start"``.
        generator: numpy generator for the random crop offset.
        min_seconds: shorter audio raises :class:`AudioError`.

    Raises:
        AudioError: unreadable, empty, too short, non-finite, silent or constant audio
            (:func:`read_checked`), naming the file.

    Returns:
        waveform of shape ``(S,)``.
    """
    mono, sr = read_checked(path, min_seconds)
    wave = torch.from_numpy(np.ascontiguousarray(mono))  # (S,) mono mix
    if sr != sample_rate:
        import torchaudio.functional as AF

        wave = AF.resample(wave, orig_freq=sr, new_freq=sample_rate)
    if wave.numel() < min_seconds * sample_rate:
        raise AudioError(
            f"{path}: audio is {wave.numel() / sample_rate:.3f} s long; at least {min_seconds} s "
            f"is needed; {FIX_BAD_AUDIO}"
        )
    if max_seconds is not None and wave.numel() > max_seconds * sample_rate:
        n = int(max_seconds * sample_rate)
        if crop == "random":
            g = generator if generator is not None else np.random.default_rng()
            start = int(g.integers(0, wave.numel() - n + 1))
        elif crop == "start":
            start = 0
        else:
            raise ValueError(f"crop must be 'random' or 'start', got {crop!r}")
        wave = wave[start : start + n]
    return wave.contiguous()


def label_index(values: Sequence[str], vocabulary: Sequence[str], what: str) -> list[int]:
    """Map labels to indices of ``vocabulary``; an unknown label raises naming it and the choices."""
    lookup = {v: i for i, v in enumerate(vocabulary)}
    out = []
    for v in values:
        if v not in lookup:
            raise ValueError(f"unknown {what} {v!r}; expected one of {list(vocabulary)}")
        out.append(lookup[v])
    return out


class SERDataset(torch.utils.data.Dataset):
    """Manifest rows as training items: waveform plus emotion, language and speaker indices.

    Args:
        manifest: a frame read by :func:`xlser.data.manifest.read_manifest` (absolute paths).
        speakers: speaker vocabulary for the adversary (default: the frame's sorted speakers).
        sample_rate, max_seconds: see :func:`load_audio`.
        train: random crops (seeded per epoch and item) when True; crops from the start otherwise.
        seed: base seed for the random crops.
        resample_dir: where to keep a copy at ``sample_rate`` of each file recorded at another
            rate (:func:`xlser.data.resampled.at_rate`); ``None`` resamples on every read.

    An item is read by index, or by ``(index, epoch)``: the epoch seeds the item's random crop, so
    one ``DataLoader`` with persistent workers can serve every epoch (a worker's copy of the
    dataset never sees :meth:`set_epoch`).
    """

    def __init__(
        self,
        manifest: pd.DataFrame,
        speakers: Sequence[str] | None = None,
        sample_rate: int = 16000,
        max_seconds: float | None = None,
        train: bool = False,
        seed: int = 0,
        resample_dir: str | os.PathLike | None = None,
    ) -> None:
        self.rows = manifest.reset_index(drop=True)
        self.speakers = (
            list(speakers) if speakers is not None else sorted(self.rows["speaker"].unique())
        )
        spk = {s: i for i, s in enumerate(self.speakers)}
        self.emotion = label_index(self.rows["emotion"], EMOTIONS, "emotion")
        self.language = label_index(self.rows["language"], LANGUAGES, "language")
        self.speaker = [spk.get(s, -100) for s in self.rows["speaker"]]  # -100: ignored by CE
        self.paths, self.utt_ids = self.rows["path"].tolist(), self.rows["utt_id"].tolist()
        self.sample_rate, self.max_seconds, self.train, self.seed = (
            sample_rate,
            max_seconds,
            train,
            seed,
        )
        self.resample_dir = resample_dir
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        i, epoch = key if isinstance(key, tuple) else (key, self.epoch)
        g = np.random.default_rng((self.seed, epoch, i)) if self.train else None
        path = self.paths[i]
        if self.resample_dir is not None:
            from xlser.data.resampled import at_rate

            path = at_rate(path, self.sample_rate, self.resample_dir)
        wave = load_audio(
            path,
            self.sample_rate,
            self.max_seconds,
            crop="random" if self.train else "start",
            generator=g,
        )
        return {
            "waveform": wave,
            "emotion": self.emotion[i],
            "language": self.language[i],
            "speaker": self.speaker[i],
            "utt_id": self.utt_ids[i],
        }


@dataclass
class Batch:
    """A padded batch. Shapes: ``input_values (B, S)``, ``attention_mask (B, S)``, the rest ``(B,)``."""

    input_values: torch.Tensor
    attention_mask: torch.Tensor
    lengths: torch.Tensor
    emotion: torch.Tensor
    language: torch.Tensor
    speaker: torch.Tensor
    utt_id: list[str]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        return map_tensors(self, lambda v: v.to(device, non_blocking=non_blocking))

    def __len__(self) -> int:
        return len(self.utt_id)

    def split_by_length(self, k: int) -> list[Batch]:
        """``k`` sub-batches by ascending length, each trimmed to its longest waveform
        (:func:`split_by_length`)."""
        return split_by_length(self, self.lengths, k)

    def pin_memory(self) -> Batch:
        """Page-locked copies (``DataLoader(pin_memory=True)`` calls this), so that
        ``to(cuda, non_blocking=True)`` overlaps the copy with compute."""
        return map_tensors(self, torch.Tensor.pin_memory)


def map_tensors(batch, fn):
    """A copy of a batch dataclass with ``fn`` applied to each of its tensor fields."""
    return type(batch)(**{k: fn(v) if torch.is_tensor(v) else v for k, v in vars(batch).items()})


def split_by_length(batch, lengths: torch.Tensor, k: int) -> list:
    """A padded batch dataclass as ``k`` sub-batches by ascending ``lengths``
    (:func:`length_chunks`): every tensor and list field keeps the sub-batch's rows, and tensors
    padded along dim 1 (``(B, S)``, ``(B, T, C)``) are trimmed to the sub-batch's longest."""
    out = []
    for idx in length_chunks(lengths, k):
        width = int(lengths[idx.to(lengths.device)].max())
        rows = idx.tolist()
        fields = {}
        for name, v in vars(batch).items():
            if torch.is_tensor(v):
                v = v[idx.to(v.device)]
                v = v[:, :width] if v.dim() > 1 else v
            elif isinstance(v, list):
                v = [v[i] for i in rows]
            fields[name] = v
        out.append(type(batch)(**fields))
    return out


def length_chunks(lengths: torch.Tensor, k: int) -> list[torch.Tensor]:
    """Indices of ``k`` near-equal groups of a batch, by ascending length (ties keep batch order).

    >>> [c.tolist() for c in length_chunks(torch.tensor([5, 1, 4, 2, 3, 6]), 3)]
    [[1, 3], [4, 2], [0, 5]]
    """
    order = torch.argsort(lengths.cpu(), stable=True)  # (B,)
    return [c for c in order.tensor_split(min(k, len(order))) if len(c)]


def collate(items: Sequence[dict], normalize: bool = True) -> Batch:
    """Pad waveforms with zeros to the longest in the batch.

    ``normalize`` applies zero-mean/unit-variance per utterance over its real samples (as the
    base checkpoints' ``Wav2Vec2FeatureExtractor`` with ``do_normalize=True``); padding stays 0.
    """
    lengths = torch.tensor([it["waveform"].numel() for it in items])  # (B,)
    B, S = len(items), int(lengths.max())
    x = torch.zeros(B, S)  # (B, S)
    for b, it in enumerate(items):
        w = it["waveform"]
        if normalize:
            w = (w - w.mean()) / torch.sqrt(w.var(unbiased=False) + 1e-7)
        x[b, : w.numel()] = w
    mask = (torch.arange(S)[None, :] < lengths[:, None]).long()  # (B, S)
    return Batch(
        input_values=x,
        attention_mask=mask,
        lengths=lengths,
        emotion=torch.tensor([it["emotion"] for it in items]),
        language=torch.tensor([it["language"] for it in items]),
        speaker=torch.tensor([it["speaker"] for it in items]),
        utt_id=[it["utt_id"] for it in items],
    )


_HEADERS: dict[str, tuple[int, int, float]] = {}
"""Files whose header :func:`check_headers` read: (size, mtime, seconds). A second check in the
same process (a grid, a notebook) costs one ``stat`` per unchanged file."""


def check_headers(
    paths: Sequence[str | os.PathLike], min_seconds: float = MIN_SECONDS
) -> list[tuple[str, str]]:
    """``(path, reason)`` for each file that is missing, has no readable audio header, no samples
    or fewer than ``min_seconds``; headers only, no decoding (the smoke world's 5,201 files take
    about 0.2 s; unchanged files are remembered per process)."""
    bad = []
    for p in map(str, paths):
        try:
            st = os.stat(p)
        except FileNotFoundError:
            bad.append((p, "does not exist"))
            continue
        except OSError as e:
            bad.append((p, f"cannot open ({e.strerror})"))
            continue
        known = _HEADERS.get(p)
        if known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
            seconds = known[2]
        else:
            try:
                seconds = audio_duration(p)
            except AudioError as e:
                bad.append((p, str(e).removeprefix(f"{p}: ")))
                continue
            _HEADERS[p] = (st.st_size, st.st_mtime_ns, seconds)
        if seconds < min_seconds:
            bad.append((p, f"audio is {seconds:.3f} s long; at least {min_seconds} s is needed"))
    return bad


def check_readable(paths: Sequence[str | os.PathLike]) -> list[tuple[Path, str]]:
    """Return ``(path, reason)`` for every file whose audio header cannot be read."""
    return [(Path(p), reason) for p, reason in check_headers(paths, min_seconds=0.0)]
