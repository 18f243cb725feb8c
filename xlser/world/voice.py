"""Source-filter synthesis of one utterance (numpy), given its syllables, F0 and voice settings.

Source: a KLGLOTT88-like glottal flow derivative (``2τ - 3τ²`` in the open phase, then closed)
with cycle-to-cycle jitter and shimmer, a first-order spectral tilt, and aspiration noise that
is stronger while the glottis is open. Filter: a cascade of five formant resonators whose
frequencies glide between the vowel targets, applied frame by frame in the STFT domain (so
formants move smoothly and the whole utterance is one vectorised product). Consonants add band-
pass noise bursts and frication; nasals and approximants are weak voicing through their own
resonances.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import signal

from xlser.world.language import Consonant, Phonetics
from xlser.world.prosody import Syllable

NEUTRAL_TRACT_HZ = (500.0, 1500.0, 2500.0, 3500.0, 4500.0)
"""Formants of a uniform 17.5 cm tube, Fn = (2n-1)c/4L (Kent & Read, S): schwa and F4, F5."""
BANDWIDTHS_HZ = (60.0, 90.0, 150.0, 200.0, 250.0)
"""Formant bandwidths (Klatt-synthesiser-like defaults, U)."""
NASAL_MURMUR_HZ = (250.0, 1100.0, 2300.0)
"""Nasal-consonant resonances (textbook, U)."""
NEUTRAL_TILT_DB = 10.0
"""Source tilt filter attenuation at 3 kHz for modal voice (U)."""
FORMANT_TOKEN_SD = 0.03
"""Log-SD of a vowel token's formants around its target (U)."""
STRESS_GAIN = 10 ** (2 / 20)
"""Stressed vowels are 2 dB louder (U)."""
NFFT, HOP = 512, 128


@dataclass
class Voice:
    """Voice settings of one utterance (speaker x emotion x intensity)."""

    open_quotient: float
    jitter: float
    """Period SD as a fraction of the period."""
    shimmer: float
    tilt_db: float
    """Source attenuation at 3 kHz, dB."""
    breathiness: float
    formant_scale: float
    centralisation: float


def glottal_source(f0: np.ndarray, sr: int, v: Voice, rng: np.random.Generator) -> np.ndarray:
    """Glottal flow derivative at per-sample ``f0`` (Hz), with jitter, shimmer, tilt, aspiration."""
    cycles = np.cumsum(f0) / sr
    jitter = 1 + v.jitter * rng.standard_normal(int(cycles[-1]) + 2)
    cycles = np.cumsum(f0 * jitter[cycles.astype(int)]) / sr  # jittered periods
    k = cycles.astype(int)
    tau = (cycles - k) / v.open_quotient  # 0..1 while the glottis is open
    is_open = tau < 1.0
    pulses = np.where(is_open, 2 * tau - 3 * tau**2, 0.0)
    pulses *= 1 + v.shimmer * rng.standard_normal(k[-1] + 1)[k]
    pulses = tilt(pulses, sr, v.tilt_db)
    aspiration = rng.standard_normal(len(f0)) * (0.25 + 0.75 * is_open)
    level = 10 ** ((-28 + 24 * v.breathiness) / 20) * np.std(pulses)
    return pulses + level * aspiration


def tilt(x: np.ndarray, sr: int, atten_db: float, at_hz: float = 3000.0) -> np.ndarray:
    """One-pole low-pass ``(1-a) / (1 - a z^-1)`` attenuating ``at_hz`` by ``atten_db``."""
    g2 = 10 ** (-np.clip(atten_db, 0.1, 40.0) / 10)
    c = np.cos(2 * np.pi * at_hz / sr)
    p = 1 - g2 * c
    a = (p - np.sqrt(p**2 - (1 - g2) ** 2)) / (1 - g2)
    return signal.lfilter([1 - a], [1, -a], x)


def vocal_tract(x: np.ndarray, sr: int, times: np.ndarray, formants: np.ndarray, bws: np.ndarray):
    """Filter ``x`` by resonators whose frequencies/bandwidths (``(K, len(times))``) glide in time.

    Per STFT frame the cascade is all-pole, ``H = A(1) / A(z)`` with ``A`` the product of the
    resonators' ``1 - 2 r cos(θ) z^-1 + r² z^-2``; its spectrum is ``A(1) / FFT(A)``."""
    _, t, spec = signal.stft(x, fs=sr, nperseg=NFFT, noverlap=NFFT - HOP)
    a = np.ones((len(t), 1))
    for f_k, b_k in zip(formants, bws):
        r = np.exp(-np.pi * np.interp(t, times, b_k) / sr)[:, None]
        c = 2 * np.cos(2 * np.pi * np.interp(t, times, f_k) / sr)[:, None]
        a = (
            np.pad(a, ((0, 0), (0, 2)))
            - r * c * np.pad(a, ((0, 0), (1, 1)))
            + r**2 * np.pad(a, ((0, 0), (2, 0)))
        )
    h = a.sum(1, keepdims=True) / np.fft.rfft(a, NFFT)  # (frames, bins), unit gain at 0 Hz
    return signal.istft(spec * h.T, fs=sr, nperseg=NFFT, noverlap=NFFT - HOP)[1][: len(x)]


def render(
    syllables: list[Syllable],
    lead_s: float,
    n: int,
    f0: np.ndarray,
    sr: int,
    v: Voice,
    ph: Phonetics,
    consonants: dict[str, Consonant],
    rng: np.random.Generator,
) -> np.ndarray:
    """The speech wave (``n`` samples, active RMS 1) of ``syllables`` starting at ``lead_s``.

    Consonant durations include their aspiration (:func:`~xlser.world.prosody.add_aspiration`).
    """
    env, tracks, noises = _score(syllables, lead_s, n, sr, v, ph, consonants, rng)
    excitation = glottal_source(f0, sr, v, rng) * env[0]
    excitation += 0.3 * np.std(excitation) * rng.standard_normal(n) * env[1]  # stop aspiration
    speech = vocal_tract(excitation, sr, *tracks)
    vowel_rms = np.sqrt(np.mean(speech[env[0] > 0.5] ** 2)) + 1e-9
    active = (env[0] > 0.3) | (env[1] > 0.3)
    for start, stop, c in noises:  # bursts and frication, band-pass noise at the consonant's level
        stop = min(stop, n)
        speech[start:stop] += vowel_rms * _noise_burst(stop - start, sr, c, rng)
        active[start:stop] = True
    return speech / (np.sqrt(np.mean(speech[active] ** 2)) + 1e-9)


def _score(syllables, lead_s, n, sr, v: Voice, ph: Phonetics, consonants, rng):
    """Lay the syllables out in time: voicing and aspiration envelopes (``(2, n)``), formant and
    bandwidth tracks ``(times, F (5, T), B (5, T))`` and the noise spans ``(start, stop, consonant)``."""
    ms = np.zeros((2, n * 1000 // sr + 1))  # voicing, stop aspiration on a 1-ms grid
    times, formants, bws, noises = [], [], [], []
    t = lead_s
    for syl in syllables:
        for phone, dur, is_vowel in zip((syl.onset, syl.vowel, syl.coda), syl.durations, (0, 1, 0)):
            if phone is None:
                continue
            a, b = int(t * 1000), int((t + dur) * 1000)
            if is_vowel:
                F1, F2, F3, _, nasal = ph.vowels[phone]
                ms[0, a:b] = STRESS_GAIN if syl.stressed else 1.0
                fr = _vowel_formants((F1, F2, F3), v, rng)
                bw = np.array(BANDWIDTHS_HZ) * ([3, 1.5, 1, 1, 1] if nasal else 1)
                times += [t + 0.2 * dur, t + 0.8 * dur]  # steady state; glides in between
                formants += [fr, fr]
                bws += [bw, bw]
            else:
                c = consonants[phone]
                _consonant(ms, a, b, c, noises, sr)
                if c.kind == "nasal":
                    times.append(t + dur / 2)
                    formants.append(np.r_[NASAL_MURMUR_HZ, NEUTRAL_TRACT_HZ[3:]] * v.formant_scale)
                    bws.append(np.array(BANDWIDTHS_HZ) * 2)
            t += dur
    tracks = (np.asarray(times), np.array(formants).T, np.array(bws).T)
    return _smooth(ms, sr, n), tracks, noises


def _noise_burst(length: int, sr: int, c: Consonant, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS band-pass noise at ``c.noise_db``, with 4 ms ramps."""
    x = signal.sosfilt(_bandpass(sr, c.noise_hz, c.noise_bw_hz), rng.standard_normal(length))
    ramp = np.minimum(1.0, np.minimum(np.arange(length), np.arange(length)[::-1]) / (0.004 * sr))
    return x / (np.std(x) + 1e-9) * ramp * 10 ** (c.noise_db / 20)


def _vowel_formants(f123, v: Voice, rng: np.random.Generator) -> np.ndarray:
    f = np.r_[f123, NEUTRAL_TRACT_HZ[3:]]
    f[:3] += v.centralisation * (np.asarray(NEUTRAL_TRACT_HZ[:3]) - f[:3])
    f *= v.formant_scale * np.exp(FORMANT_TOKEN_SD * rng.standard_normal(5))
    return np.minimum(f, 7200.0)


def _consonant(ms: np.ndarray, a: int, b: int, c: Consonant, noises: list, sr: int) -> None:
    """Fill the 1-ms envelopes for one consonant and queue its noise (sample spans)."""
    if c.kind in ("nasal", "approximant"):
        ms[0, a:b] = 0.3 if c.kind == "nasal" else 0.5
        return
    if c.kind == "fricative":
        ms[0, a:b] = 0.2 if c.voiced else 0.0
        noises.append((a * sr // 1000, b * sr // 1000, c))
        return
    asp = int(c.aspiration_s * 1000)  # stop: closure, 12 ms burst, aspiration
    release = max(a + 1, b - asp - 12)
    ms[0, a:release] = 0.06 if c.voiced else 0.0
    ms[1, release + 12 : b] = 1.0
    noises.append((release * sr // 1000, (release + 12) * sr // 1000, c))


def _smooth(ms: np.ndarray, sr: int, n: int) -> np.ndarray:
    kernel = np.hanning(10) / np.hanning(10).sum()  # ~8 ms transitions
    grid = np.arange(ms.shape[1]) * sr / 1000
    return np.stack([np.interp(np.arange(n), grid, np.convolve(row, kernel, "same")) for row in ms])


@functools.lru_cache(maxsize=128)
def _bandpass(sr: int, centre: float, bw: float) -> np.ndarray:
    lo, hi = max(centre - bw / 2, 100.0), min(centre + bw / 2, 0.45 * sr)
    return signal.butter(2, [lo, hi], btype="bandpass", fs=sr, output="sos")
