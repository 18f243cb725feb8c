"""Languages of the synthetic world: what a language sounds like, apart from emotion and channel.

A language is a vowel inventory (formant targets), a consonant set, a syllable shape, a rhythm
(syllable rate, nPVI-V, %V) and a melody (stress accents, phrase-final rises or lexical tones).
Sources: the book's appendix *The synthetic world*. Only the English vowels (Hillenbrand et al. 1995,
men) are measured values; the German, French, Mandarin and Urdu tables are **approximations**
written from the qualitative descriptions in §3 (length contrast, front rounded and nasal vowels,
Mandarin /a ɔ e i u y/, Urdu 7 long + 7 short) and typical textbook values; no table was checked.

Formants are those of an adult man; speakers scale them (:mod:`xlser.world.speakers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

VOWEL_COLUMNS: tuple[str, ...] = ("F1", "F2", "F3", "length", "nasal")
"""Columns of a vowel table row: formants (Hz, men), relative duration, nasal flag (0/1)."""


@dataclass
class Consonant:
    """A consonant class; textbook acoustics (Kent & Read), not checked here (U)."""

    kind: Literal["stop", "fricative", "nasal", "approximant"] = "stop"
    voiced: bool = False
    noise_hz: float = 3000.0
    """Centre of the burst / frication noise band."""
    noise_bw_hz: float = 2000.0
    noise_db: float = -10.0
    """Noise level relative to the vowel level."""
    aspiration_s: float = 0.0
    """Aspiration after a stop release (aspirated stops of Mandarin and Urdu)."""


def default_consonants() -> dict[str, Consonant]:
    S, F, N, A = "stop", "fricative", "nasal", "approximant"
    return {
        "p": Consonant(S, False, 1000, 1600, -16),
        "t": Consonant(S, False, 4000, 3000, -12),
        "k": Consonant(S, False, 2000, 1200, -12),
        "pʰ": Consonant(S, False, 1000, 1600, -16, 0.06),
        "tʰ": Consonant(S, False, 4000, 3000, -12, 0.06),
        "kʰ": Consonant(S, False, 2000, 1200, -12, 0.06),
        "ʈ": Consonant(S, False, 2800, 1600, -12),  # retroflex: lower burst (U)
        "ʈʰ": Consonant(S, False, 2800, 1600, -12, 0.06),
        "b": Consonant(S, True, 1000, 1600, -20),
        "d": Consonant(S, True, 4000, 3000, -16),
        "ɖ": Consonant(S, True, 2800, 1600, -16),
        "g": Consonant(S, True, 2000, 1200, -16),
        "ts": Consonant(S, False, 6000, 2500, -10, 0.04),
        "tsʰ": Consonant(S, False, 6000, 2500, -10, 0.08),
        "f": Consonant(F, False, 5000, 5000, -22),
        "s": Consonant(F, False, 6000, 2500, -10),
        "ʃ": Consonant(F, False, 3000, 1500, -8),
        "ʂ": Consonant(F, False, 3500, 1800, -9),
        "ɕ": Consonant(F, False, 4500, 2200, -9),
        "x": Consonant(F, False, 1500, 1500, -16),
        "h": Consonant(F, False, 1500, 3000, -22),
        "ʁ": Consonant(F, True, 1200, 1200, -20),
        "m": Consonant(N),
        "n": Consonant(N),
        "ŋ": Consonant(N),
        "l": Consonant(A),
        "r": Consonant(A),
        "j": Consonant(A),
        "w": Consonant(A),
    }


@dataclass
class Phonetics:
    """One language's sound pattern (rhythm classes, nPVI-V, syllable rates, vowels)."""

    name: str = ""
    vowels: dict[str, list[float]] = field(default_factory=dict)
    """IPA -> ``[F1, F2, F3, length, nasal]`` (:data:`VOWEL_COLUMNS`)."""
    onsets: list[str] = field(default_factory=list)
    codas: list[str] = field(default_factory=list)
    onset_prob: float = 0.85
    coda_prob: float = 0.4
    """Share of closed syllables; stress-timed languages have more complex syllables (U)."""
    syllable_rate: float = 6.0
    """Syllables per second (Pellegrino et al. 2011)."""
    npvi_v: float = 50.0
    """Target normalised pairwise variability of vowel durations (Grabe & Low 2002)."""
    vowel_share: float = 0.42
    """%V / 100: share of vocalic time (Ramus et al. 1999, U)."""
    light_syllable_prob: float = 0.0
    """Tone languages: share of light (neutral-tone) syllables (U)."""
    intonation: Literal["stress_fall", "stress_rise", "phrase_final", "tone"] = "stress_fall"
    """Where pitch moves: H* falls on stressed syllables, L*H rises, phrase-final rises, or lexical tones."""
    accent_st: float = 4.0
    """Size of a pitch accent (semitones) in neutral speech (U)."""
    tone_step_st: float = 2.0
    """Semitones per Chao level: the 1-5 scale spans 8 st in connected speech (between Wu 1992's
    ~13 st on isolated words and ≥1.5x English accents, Chen 1974; U)."""
    f0_offset_st: float = 0.0
    """Language-wide shift of F0 level (Keating & Kuo 2012: Mandarin higher in prose, V; size U)."""
    declination_st_per_s: float = 1.0
    """Fall of the F0 baseline over an utterance (U)."""


def default_phonetics() -> dict[str, Phonetics]:
    """The five languages. Rhythm numbers: nPVI-V (S), syllable rates (V except French U); Urdu has
    no source, so it gets values between German and French (U)."""
    return {
        "en": Phonetics(
            name="English",
            vowels=_EN_VOWELS,
            onsets="p t k b d g f s ʃ h m n l r w j".split(),
            codas="t d k s n m ŋ l r".split(),
            coda_prob=0.5,
            syllable_rate=6.19,
            npvi_v=57.2,
            vowel_share=0.401,
            intonation="stress_fall",
            accent_st=4.0,
        ),
        "de": Phonetics(
            name="German",
            vowels=_DE_VOWELS,
            onsets="p t k b d g ts f s ʃ h m n l ʁ j".split(),
            codas="t k s x n m ŋ l ʁ".split(),
            coda_prob=0.55,
            syllable_rate=5.97,
            npvi_v=59.7,
            vowel_share=0.40,
            intonation="stress_fall",
            accent_st=3.5,
        ),
        "fr": Phonetics(
            name="French",
            vowels=_FR_VOWELS,
            onsets="p t k b d g f s ʃ m n l ʁ w j".split(),
            codas="ʁ l t s".split(),
            coda_prob=0.25,
            syllable_rate=7.18,
            npvi_v=43.5,
            vowel_share=0.436,
            intonation="phrase_final",
            accent_st=3.0,
        ),
        "zh": Phonetics(
            name="Mandarin",
            vowels=_ZH_VOWELS,
            onsets="p pʰ t tʰ k kʰ ts tsʰ f s ʂ ɕ x m n l".split(),
            codas="n ŋ".split(),
            onset_prob=0.9,
            coda_prob=0.35,
            light_syllable_prob=0.15,
            syllable_rate=5.18,
            npvi_v=27.0,
            vowel_share=0.45,
            intonation="tone",
            accent_st=0.0,
            f0_offset_st=1.0,
        ),
        "ur": Phonetics(
            name="Urdu",
            vowels=_UR_VOWELS,
            onsets="p pʰ t tʰ ʈ ʈʰ k kʰ b d ɖ g s ʃ h m n l r j".split(),
            codas="n m r l t k".split(),
            coda_prob=0.4,
            syllable_rate=5.8,
            npvi_v=45.0,
            vowel_share=0.42,
            intonation="stress_rise",
            accent_st=3.5,
        ),
    }


# Hillenbrand et al. (1995), men: F1/F2 V. F3 and lengths (tense 1.1 / lax 0.8) are
# approximate (U); /ɝ/ keeps its low F3 (r-colouring).
_EN_VOWELS = {
    "i": [343, 2323, 3000, 1.1, 0], "ɪ": [429, 2034, 2680, 0.8, 0], "e": [476, 2090, 2690, 1.1, 0],
    "ɛ": [588, 1803, 2600, 0.8, 0], "æ": [591, 1930, 2600, 1.1, 0], "ɑ": [756, 1309, 2540, 1.1, 0],
    "ɔ": [656, 1023, 2460, 1.1, 0], "o": [498, 910, 2440, 1.1, 0], "ʊ": [469, 1123, 2430, 0.8, 0],
    "u": [380, 992, 2340, 1.1, 0], "ʌ": [621, 1181, 2550, 0.8, 0], "ɝ": [475, 1379, 1690, 1.1, 0],
}  # fmt: skip
# German: long/short pairs, duration the main cue (Strange et al. 2007, V); long:short = 2 (U).
# Formants approximate (U; Pätzold & Simpson 1997 not checked).
_DE_VOWELS = {
    "iː": [280, 2250, 2900, 1.4, 0], "ɪ": [380, 1950, 2600, 0.7, 0], "eː": [330, 2100, 2700, 1.4, 0],
    "ɛ": [520, 1750, 2550, 0.7, 0], "aː": [700, 1300, 2500, 1.4, 0], "a": [680, 1350, 2500, 0.7, 0],
    "oː": [350, 750, 2400, 1.4, 0], "ɔ": [520, 1000, 2400, 0.7, 0], "uː": [290, 700, 2300, 1.4, 0],
    "ʊ": [380, 950, 2300, 0.7, 0], "yː": [280, 1700, 2100, 1.4, 0], "ʏ": [370, 1500, 2200, 0.7, 0],
    "øː": [350, 1450, 2150, 1.4, 0], "œ": [500, 1400, 2300, 0.7, 0], "ə": [450, 1450, 2500, 0.6, 0],
}  # fmt: skip
# French: front rounded and nasal vowels (U); no length contrast. Formants approximate (U).
_FR_VOWELS = {
    "i": [290, 2250, 3000, 1, 0], "e": [360, 2100, 2700, 1, 0], "ɛ": [500, 1800, 2500, 1, 0],
    "a": [650, 1400, 2500, 1, 0], "ɔ": [500, 950, 2400, 1, 0], "o": [370, 800, 2300, 1, 0],
    "u": [300, 750, 2200, 1, 0], "y": [280, 1750, 2100, 1, 0], "ø": [360, 1450, 2200, 1, 0],
    "œ": [500, 1400, 2350, 1, 0], "ə": [470, 1400, 2400, 0.8, 0], "ɛ̃": [550, 1600, 2500, 1.1, 1],
    "ɑ̃": [600, 1000, 2500, 1.1, 1], "ɔ̃": [450, 800, 2400, 1.1, 1],
}  # fmt: skip
# Mandarin: /a ɔ e i u y/ (Wang et al. 2020, V) plus /ɤ/; formants approximate (U; Zee & Lee 2001
# not checked). Tone-dependent durations are in the prosody module.
_ZH_VOWELS = {
    "a": [800, 1300, 2600, 1, 0], "ɔ": [550, 900, 2500, 1, 0], "e": [450, 2000, 2650, 1, 0],
    "i": [280, 2250, 3100, 1, 0], "u": [320, 650, 2400, 1, 0], "y": [280, 1900, 2200, 1, 0],
    "ɤ": [480, 1150, 2500, 1, 0],
}  # fmt: skip
# Urdu: 7 long + 7 short (Fatima & Aden, V). Long vowels approximate (U); each short vowel is its long
# partner pulled 15 % towards schwa, at 0.6 of the duration (our simplification, U).
_UR_LONG = {
    "iː": [300, 2250, 2900], "eː": [420, 2050, 2650], "ɛː": [580, 1850, 2550], "aː": [750, 1300, 2500],
    "ɔː": [580, 950, 2450], "oː": [430, 850, 2400], "uː": [320, 800, 2350],
}  # fmt: skip
_UR_VOWELS = {k: [*v, 1.3, 0] for k, v in _UR_LONG.items()} | {
    k[:-1]: [round(f + 0.15 * (s - f)) for f, s in zip(v, (500, 1500, 2500))] + [0.65, 0]
    for k, v in _UR_LONG.items()
}
