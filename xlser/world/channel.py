"""Recording channels: each synthetic corpus sounds like where its real counterpart was recorded.

MELD is cut from a TV sitcom (background voices, music, laughter, broadcast processing), ESD and
CaFE were recorded in studios, EMO-DB in an anechoic chamber, URDU comes from TV talk shows on
YouTube (the corpora's own documentation). What the sources do **not** give is any
number: SNRs, reverberation times, bandwidths and compression below are moderate choices (U) that
only keep the qualitative order (anechoic/studio clean, broadcast noisy, sitcom noisiest).

A channel is: speech level -> room (exponential-decay reverberation) -> additive noise at the
corpus's noise floor -> band limits and a microphone tilt -> dynamic-range compression. The noise
floor is a property of the recording (room, microphone, broadcast), so it does not follow the
speaker: loud (angry) speech has a better SNR than quiet (sad) speech, as in a real recording.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy import fft, signal


@dataclass
class Channel:
    """One corpus's recording chain (all magnitudes U unless stated)."""

    description: str = ""
    level_dbfs: float = -28.0
    """Active speech level of neutral speech (RMS, dB re full scale)."""
    level_sd_db: float = 1.5
    """Utterance-to-utterance gain variation (mouth-microphone distance)."""
    rt60_s: float = 0.0
    """Reverberation time; 0 = anechoic."""
    drr_db: float = 8.0
    """Direct-to-reverberant ratio."""
    snr_db: list[float] = field(default_factory=lambda: [40.0, 50.0])
    """Noise floor, as the range (uniform, per utterance) of the SNR of *neutral* speech at
    ``level_dbfs``: the floor is ``level_dbfs - snr`` dBFS whatever the emotion's loudness."""
    noise: dict[str, float] = field(default_factory=lambda: {"pink": 1.0})
    """Noise mixture weights: ``pink`` (hiss/room), ``babble`` (background talkers), ``music``."""
    highpass_hz: float = 50.0
    lowpass_hz: float | None = None
    """Upper band limit; ``None``: the full 8 kHz."""
    tilt_db: float = 0.0
    """Microphone / equaliser shelf above 2 kHz, dB."""
    compression: float = 0.0
    """Dynamic-range compression: 0 none, 0.5 halves level differences (in dB) within an utterance."""


def default_channels() -> dict[str, Channel]:
    return {
        "en": Channel(
            "sitcom TV soundtrack: set reverberation, background voices, music/laughter, broadcast "
            "band limit and compression (laugh track, music and SNR: unverified)",
            level_dbfs=-26.0, rt60_s=0.35, snr_db=[5.0, 20.0],
            noise={"babble": 0.5, "music": 0.3, "pink": 0.2},
            highpass_hz=100.0, lowpass_hz=6500.0, tilt_db=-2.0, compression=0.5,
        ),
        "zh": Channel("ESD: studio, professional devices (V); clean (U)", rt60_s=0.15, snr_db=[35.0, 45.0], tilt_db=1.0),
        "de": Channel("EMO-DB: anechoic chamber, Sennheiser MKH 40 (V)", rt60_s=0.0, snr_db=[40.0, 50.0]),
        "fr": Channel("CaFE: studio room (U)", rt60_s=0.2, snr_db=[35.0, 45.0], tilt_db=-1.0),
        "ur": Channel(
            "URDU: TV talk shows via YouTube, spontaneous; noise level U",
            level_dbfs=-26.0, rt60_s=0.3, snr_db=[10.0, 25.0], noise={"babble": 0.3, "pink": 0.7},
            highpass_hz=120.0, lowpass_hz=5000.0, tilt_db=-3.0, compression=0.5,
        ),
    }  # fmt: skip


def apply_channel(
    speech: np.ndarray, sr: int, ch: Channel, gain_db: float, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """Record ``speech`` (active RMS 1) at ``ch.level_dbfs + gain_db`` over the corpus's noise
    floor; return (wave, the utterance's SNR in dB)."""
    level_db = ch.level_dbfs + gain_db + ch.level_sd_db * rng.standard_normal()
    x = speech * 10 ** (level_db / 20)
    if ch.rt60_s > 0:
        x = signal.fftconvolve(x, _room(sr, ch.rt60_s, ch.drr_db, rng))[: len(x)]
    floor_db = ch.level_dbfs - float(rng.uniform(*ch.snr_db))  # independent of the speech
    noise = _noise(len(x), sr, ch.noise, rng)
    x = x + noise * 10 ** (floor_db / 20) / (np.sqrt(np.mean(noise**2)) + 1e-12)
    snr = level_db - floor_db
    x = signal.sosfilt(_band(sr, ch.highpass_hz, ch.lowpass_hz), x)
    if ch.tilt_db:
        x = x + (10 ** (ch.tilt_db / 20) - 1) * signal.sosfilt(_band(sr, 2000.0, None), x)
    if ch.compression:
        x = _compress(x, sr, ch.compression)
    return x, snr


def _room(sr: int, rt60: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Direct sound + exponentially decaying noise tail (-60 dB at ``rt60``) at ``drr_db``."""
    t = np.arange(int(sr * min(rt60, 0.6))) / sr
    tail = rng.standard_normal(len(t)) * np.exp(-6.91 * t / rt60)
    tail[: int(0.002 * sr)] = 0.0
    tail *= 10 ** (-drr_db / 20) / np.sqrt(np.sum(tail**2))
    tail[0] = 1.0
    return tail


def _noise(n: int, sr: int, mix: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    for kind in sorted(mix):
        x = {"pink": _pink, "babble": _babble, "music": _music}[kind](n, sr, rng)
        out += mix[kind] * x / (np.sqrt(np.mean(x**2)) + 1e-12)
    return out


def _pink(n: int, sr: int, rng: np.random.Generator, slope: float = 0.5, k: int = 1) -> np.ndarray:
    """Noise with power spectrum 1/f^(2 slope) (0.5: pink); ``k > 1`` gives ``k`` rows."""
    m = fft.next_fast_len(n, real=True)
    f = np.maximum(fft.rfftfreq(m, 1 / sr), 20.0)
    x = fft.irfft(fft.rfft(rng.standard_normal((k, m))) / f**slope, m)[:, :n]
    return x[0] if k == 1 else x


def _babble(n: int, sr: int, rng: np.random.Generator, talkers: int = 5) -> np.ndarray:
    """Speech-shaped noise, each talker amplitude-modulated at a syllabic rate (~4 Hz)."""
    t = np.arange(n) / sr
    rate, phase = rng.uniform(3, 5, (talkers, 1)), rng.uniform(0, 2 * np.pi, (talkers, 1))
    env = np.maximum(0.0, np.sin(2 * np.pi * rate * t + phase))
    out = (_pink(n, sr, rng, slope=1.0, k=talkers) * env).sum(0)
    return signal.sosfilt(_band(sr, 150.0, 4000.0), out)


def _music(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Chords of three harmonic tones, a new chord every 0.5-1 s, each with a decay."""
    out, start = np.zeros(n), 0
    while start < n:
        length = min(int(sr * rng.uniform(0.5, 1.0)), n - start)
        t = np.arange(length) / sr
        for note in rng.integers(45, 75, size=3):  # MIDI notes, ~110-600 Hz
            f0 = 440.0 * 2 ** ((note - 69) / 12)
            h = np.arange(1, 5)[:, None]
            out[start : start + length] += (np.sin(2 * np.pi * f0 * h * t) / h).sum(0) * np.exp(
                -2.0 * t
            )
        start += length
    return out


def _compress(x: np.ndarray, sr: int, amount: float) -> np.ndarray:
    """Gain (envelope / max envelope) ** -amount from a 20 ms RMS envelope (at most +12 dB)."""
    hop = int(0.01 * sr)
    frames = np.sqrt(np.convolve(x**2, np.ones(2 * hop) / (2 * hop), mode="same")[::hop]) + 1e-9
    gain = np.minimum((frames / frames.max()) ** -amount, 4.0)
    return x * np.interp(np.arange(len(x)), np.arange(len(gain)) * hop, gain)


@functools.lru_cache(maxsize=64)
def _band(sr: int, lo: float | None, hi: float | None) -> np.ndarray:
    if lo and hi:
        return signal.butter(4, [lo, hi], btype="bandpass", fs=sr, output="sos")
    if lo:
        return signal.butter(2, lo, btype="highpass", fs=sr, output="sos")
    return signal.butter(4, hi, btype="lowpass", fs=sr, output="sos")
