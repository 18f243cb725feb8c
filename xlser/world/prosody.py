"""Prosody of a synthetic utterance: syllables, their timing (rhythm) and the F0 contour (melody).

Rhythm: a language's syllable rate sets the mean syllable duration and %V the vocalic share of
it. Vowel durations vary by intrinsic length, Mandarin tone (T2, T3 long, T4 short; Jongman et al.
2006, S), random jitter, phrase-final lengthening, and stress: stressed vowels (English, German and
Urdu every other syllable, French phrase-final syllables, Mandarin full vs neutral-tone syllables)
are longer by the ratio that brings the language to its nPVI-V (:func:`stress_ratio`).

Melody, in semitones re 100 Hz: the speaker's level + the emotion's shift, a declining baseline,
pitch accents (English/German H* falls, Urdu L*H rises, French phrase-final rises) or Mandarin's
four Chao tones, scaled by the emotion's range (tone latitude, Ross et al. 1992), and a boundary
movement on the last syllable (Murray & Arnott's "pitch changes"; Mandarin boundary tones).

>>> from xlser.world.language import default_phonetics
>>> {k: round(stress_ratio(ph), 2) for k, ph in default_phonetics().items()}
{'en': 1.8, 'de': 1.79, 'fr': 2.02, 'zh': 1.58, 'ur': 1.24}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xlser.world.language import Phonetics

CHAO: dict[int, tuple[float, float, float]] = {
    0: (3, 2.5, 2), 1: (5, 5, 5), 2: (3, 3.8, 5), 3: (2, 1, 4), 4: (5, 3, 1)
}  # fmt: skip
"""Chao tone letters at vowel start / middle / end: 55, 35, 214 (21 when not final), 51 (Chao);
0 is the neutral tone of light syllables (short, mid-falling; U)."""
TONE_LENGTH: dict[int, float] = {0: 1.0, 1: 1.0, 2: 1.1, 3: 1.15, 4: 0.85}
"""Relative vowel duration per tone (order from Jongman et al. 2006, S; sizes U). The neutral tone's
shortness comes from :func:`stress_ratio` (light vs full syllables)."""
FINAL_LENGTHENING = 1.3
"""Phrase-final vowel lengthening (U)."""
DURATION_JITTER = 0.12
"""Log-SD of random vowel and consonant duration variation (U)."""


@dataclass
class Syllable:
    onset: str | None
    vowel: str
    coda: str | None
    stressed: bool
    tone: int
    """1-4 for Mandarin, 0 elsewhere."""
    durations: tuple[float, float, float]
    """Onset, vowel, coda (s); 0 where absent."""


def plan_syllables(
    ph: Phonetics, n: int, rate: float, max_s: float, ratio: float, rng: np.random.Generator
) -> list[Syllable]:
    """Up to ``n`` syllables of language ``ph`` at rate factor ``rate``, at most ``max_s`` long;
    ``ratio`` is the stressed/unstressed vowel-length ratio (:func:`stress_ratio`)."""
    mean = 1.0 / (ph.syllable_rate * rate)  # mean syllable duration (s)
    stressed, tone, vowel, base, jit = _draw(ph, n, rng)
    weight = np.where(stressed, ratio, 1.0)
    v_dur = mean * ph.vowel_share * base * weight / weight.mean()
    # consonant time per syllable is (1 - %V) of the mean, 60:40 onset:coda, shared by those present
    c_dur = mean * (1 - ph.vowel_share) / (0.6 * ph.onset_prob + 0.4 * ph.coda_prob)
    onsets = [
        ph.onsets[i] if rng.random() < ph.onset_prob else None
        for i in rng.integers(len(ph.onsets), size=n)
    ]
    codas = [
        ph.codas[i] if rng.random() < ph.coda_prob else None
        for i in rng.integers(len(ph.codas), size=n)
    ]
    vowels = list(ph.vowels)
    out, total = [], 0.0
    for i in range(n):
        d = (
            c_dur * 0.6 * jit[1, i] if onsets[i] else 0.0,
            v_dur[i],
            c_dur * 0.4 * jit[2, i] if codas[i] else 0.0,
        )
        if out and total + sum(d) + (FINAL_LENGTHENING - 1) * d[1] > max_s:
            break
        out.append(
            Syllable(onsets[i], vowels[vowel[i]], codas[i], bool(stressed[i]), int(tone[i]), d)
        )
        total += sum(d)
    on, v, co = out[-1].durations
    out[-1].durations = (on, v * FINAL_LENGTHENING, co)
    return out


def stress_ratio(ph: Phonetics, n: int = 12, reps: int = 300) -> float:
    """The stressed/unstressed vowel-length ratio that gives language ``ph`` its nPVI-V.

    Intrinsic vowel length, tone length and jitter already vary vowel durations; the ratio adds
    what is missing, found by bisection on ``reps`` simulated ``n``-syllable utterances (fixed
    seed, so it is a deterministic function of the knobs). 1 if the target is already reached."""
    rng = np.random.default_rng(0)
    draws = [_draw(ph, n, rng) for _ in range(reps)]
    stressed = np.stack([d[0] for d in draws])
    base = np.stack([d[3] for d in draws])
    base[:, -1] *= FINAL_LENGTHENING

    def npvi(r: float) -> float:
        v = base * np.where(stressed, r, 1.0)
        return 200 * np.mean(np.abs(np.diff(v)) / (v[:, 1:] + v[:, :-1]))

    lo, hi = 1.0, 6.0
    if not stressed.any() or npvi(lo) >= ph.npvi_v:
        return 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if npvi(mid) < ph.npvi_v else (lo, mid)
    return (lo + hi) / 2


def _draw(ph: Phonetics, n: int, rng: np.random.Generator):
    """Stress, tone, vowel index, duration factor without stress, and consonant jitter."""
    stressed = _stress_pattern(ph, n, rng)
    tone = np.zeros(n, int)
    if ph.intonation == "tone":  # full syllables carry tones 1-4, light ones the neutral tone 0
        tone = np.where(stressed, rng.integers(1, 5, size=n), 0)
    vowel = rng.integers(len(ph.vowels), size=n)
    length = np.array([row[3] for row in ph.vowels.values()])[vowel]
    jit = np.exp(DURATION_JITTER * rng.standard_normal((3, n)))
    base = length * np.array([TONE_LENGTH[k] for k in tone]) * jit[0]
    return stressed, tone, vowel, base, jit


def add_aspiration(syllables: list[Syllable], consonants: dict) -> None:
    """Lengthen onsets and codas by their consonant's aspiration (aspirated stops)."""
    for syl in syllables:
        on, v, co = syl.durations
        on += consonants[syl.onset].aspiration_s if syl.onset else 0.0
        co += consonants[syl.coda].aspiration_s if syl.coda else 0.0
        syl.durations = (on, v, co)


def vowel_spans(syllables: list[Syllable], start: float) -> list[tuple[float, float]]:
    """(start, end) time of every vowel when the first syllable begins at ``start`` (s)."""
    spans, t = [], start
    for syl in syllables:
        on, v, co = syl.durations
        spans.append((t + on, t + on + v))
        t += on + v + co
    return spans


def _stress_pattern(ph: Phonetics, n: int, rng: np.random.Generator) -> np.ndarray:
    if ph.intonation in ("stress_fall", "stress_rise"):  # alternating, random phase
        return (np.arange(n) + rng.integers(2)) % 2 == 0
    if ph.intonation == "phrase_final":  # accentual phrases of 3-4 syllables, last one accented
        ends = np.cumsum(rng.integers(3, 5, size=n))
        stressed = np.zeros(n, bool)
        stressed[ends[ends <= n] - 1] = True
        return stressed
    return rng.random(n) >= ph.light_syllable_prob  # tone language: full vs light syllables


def f0_anchors(
    syllables: list[Syllable],
    vowel_spans: list[tuple[float, float]],
    ph: Phonetics,
    emo: dict,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and pitch (st, relative to the utterance level) at 10/50/90 % of every vowel:
    accents or tones plus the boundary movement."""
    times, values = [], []
    last = len(syllables) - 1
    for i, (syl, (t0, t1)) in enumerate(zip(syllables, vowel_spans)):
        if ph.intonation == "tone":
            chao = (2, 1, 1) if syl.tone == 3 and i < last else CHAO[syl.tone]
            shape = (np.asarray(chao) - 3) * ph.tone_step_st * emo["f0_range"]
        else:
            amp = ph.accent_st * emo["f0_range"] * rng.uniform(0.7, 1.3)
            shape = amp * _accent_shape(ph, syl, i == last)
        if i == last:
            shape = shape + np.array([0.0, 0.5, 1.0]) * emo["boundary_st"]
        times += [t0 + f * (t1 - t0) for f in (0.1, 0.5, 0.9)]
        values += list(shape)
    return np.asarray(times), np.asarray(values, dtype=float)


def _accent_shape(ph: Phonetics, syl: Syllable, final: bool) -> np.ndarray:
    if not syl.stressed:
        return np.zeros(3)
    if ph.intonation == "stress_fall":
        return np.array([0.3, 1.0, 0.3])
    if ph.intonation == "stress_rise":
        return np.array([-0.3, 0.3, 1.0])
    return np.array([0.0, 0.4, 1.0]) if not final else np.array([0.3, 0.0, -0.5])


def f0_track(
    t: np.ndarray,
    anchors: tuple[np.ndarray, np.ndarray],
    level_st: float,
    ph: Phonetics,
    duration: float,
    rng: np.random.Generator,
    knee_hz: float = 300.0,
    ceiling_hz: float = 600.0,
    floor_hz: float = 55.0,
) -> np.ndarray:
    """F0 (Hz) at times ``t``: level + anchors (interpolated) + declination + slow random drift,
    through :func:`soft_ceiling` (no plateau) and a floor."""
    st = level_st + np.interp(t, *anchors)
    st -= ph.declination_st_per_s * (t - duration / 2)
    for _ in range(2):  # slow wander, 0.3 st
        st += 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t + rng.uniform(0, 2 * np.pi))
    f0 = soft_ceiling(100.0 * 2.0 ** (st / 12.0), knee_hz, ceiling_hz)
    return np.maximum(f0, floor_hz)


def soft_ceiling(f: np.ndarray, knee: float, ceiling: float) -> np.ndarray:
    """Identity below ``knee``; above it ``knee + (ceiling - knee) * tanh((f - knee) / (ceiling -
    knee))``: smooth (slope 1 at the knee), non-decreasing, never above ``ceiling``.

    >>> soft_ceiling(np.array([200.0, 300.0, 450.0, 5000.0]), 300.0, 600.0).round(1).tolist()
    [200.0, 300.0, 438.6, 600.0]
    """
    f = np.asarray(f, dtype=float)
    span = ceiling - knee
    return np.where(f > knee, knee + span * np.tanh((f - knee) / span), f)
