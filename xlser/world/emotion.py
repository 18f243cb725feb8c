"""Emotion in the synthetic world: a shared prosody/voice-quality profile, bent per language.

Every emotion is a set of deviations from neutral speech (:class:`Emotion`). The shared profile
(:func:`default_emotions`) follows the cross-study directions of Murray & Arnott (1993), Scherer
(2003) and Juslin & Laukka (2003), with Mozziconacci's (1998) numbers where a number exists
(see the book's appendix *The synthetic world*). Each language then bends it
(:class:`EmotionDialect`): a sourced part (e.g. English varies pitch more, Mandarin varies rate and
phonation more, Mandarin boundary tones) and a random part drawn once per world
(:func:`dialect_profile`), so a classifier trained on one language transfers imperfectly. One knob,
``dialect_strength``, turns the whole bending: 0 gives every language the shared profile, 1 the
sourced directions with the drawn magnitudes, 2 twice as far (in log space for factors).

Two kinds of fields: *additive* ones (semitones, dB, fractions; 0 is neutral) and *multiplicative*
ones (factors; 1 is neutral). An utterance of intensity ``I`` uses ``I * value`` for the first and
``value ** I`` for the second (:func:`at_intensity`), so ``I = 0`` is neutral speech.

>>> p = at_intensity(default_emotions()["sad"], 0.5)
>>> round(p["rate"], 3), p["f0_level_st"]
(0.883, -0.75)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

MULTIPLICATIVE: tuple[str, ...] = ("f0_range", "rate", "jitter", "shimmer")
"""Fields that are factors (neutral = 1); every other :class:`Emotion` field is additive (neutral = 0)."""


@dataclass
class Emotion:
    """Deviation of one emotion from neutral speech, at full intensity."""

    f0_level_st: float = 0.0
    """Shift of the speaker's F0 level, semitones (M&A "pitch average")."""
    f0_range: float = 1.0
    """Factor on pitch-accent and tone excursions (Mozziconacci's range in st, relative to neutral 5 st)."""
    rate: float = 1.0
    """Factor on syllable rate (Mozziconacci's rate factor)."""
    energy_db: float = 0.0
    """Change of speech level, dB (M&A "intensity"; magnitude: no source found)."""
    tilt_db: float = 0.0
    """Change of high-frequency energy of the voice source at 3 kHz, dB; + is brighter (Scherer/J&L)."""
    breathiness: float = 0.0
    """Added aspiration noise and open quotient, in units of the 0-1 breathiness scale (M&A voice quality)."""
    jitter: float = 1.0
    """Factor on cycle-to-cycle F0 perturbation."""
    shimmer: float = 1.0
    """Factor on cycle-to-cycle amplitude perturbation."""
    centralisation: float = 0.0
    """Pull of F1/F2 towards the neutral vowel (schwa): + slurred, - tense/precise (M&A articulation)."""
    boundary_st: float = 0.0
    """Pitch movement over the last syllable, semitones: + rising, - falling (M&A "pitch changes")."""


def default_emotions() -> dict[str, Emotion]:
    """The shared profile. Verbal M&A grades map to semitones as slightly 1.5, much 4,
    very much 6 (our mapping; it gives happy - sad = 5.5 st, inside the 3.2-10.4 st of the three
    Brazilian Portuguese actresses). dB magnitudes have no source (unverified choices)."""
    return {
        "neutral": Emotion(),
        "happy": Emotion(
            f0_level_st=4.0,  # M&A "much higher" (S); J&L up (U)
            f0_range=2.0,  # Mozziconacci joy 10 st vs neutral 5 st (S); M&A "much wider"
            rate=1.20,  # Mozziconacci joy (S); M&A "faster or slower"
            energy_db=3.0,  # M&A "higher"; magnitude unsourced
            tilt_db=3.0,  # Scherer / J&L: HF energy up (U)
            breathiness=0.2,  # M&A "breathy, blaring"
            boundary_st=2.0,  # M&A "smooth, upward inflections"
        ),
        "angry": Emotion(
            f0_level_st=6.0,  # M&A "very much higher" (S)
            f0_range=2.0,  # Mozziconacci anger 10 st vs 5 st (S); M&A "much wider"
            rate=1.27,  # Mozziconacci anger (S); M&A "slightly faster"
            energy_db=6.0,  # M&A "higher"; magnitude unsourced
            tilt_db=6.0,  # Scherer / J&L: HF energy up (U); tense voice
            breathiness=0.1,  # M&A "breathy, chest tone"
            centralisation=-0.1,  # M&A articulation "tense"
            boundary_st=-1.0,  # M&A "abrupt on stressed syllables"; our reading: clipped fall
        ),
        "sad": Emotion(
            f0_level_st=-1.5,  # M&A "slightly lower", J&L down; Mozziconacci disagrees (higher)
            f0_range=0.8,  # M&A "slightly narrower", J&L down; Mozziconacci disagrees (7 st)
            rate=0.78,  # Mozziconacci sadness (S); M&A "slightly slower"
            energy_db=-4.0,  # M&A "lower"; magnitude unsourced
            tilt_db=-4.0,  # J&L: HF energy down (U)
            breathiness=0.3,  # Mozziconacci: sadness needs voice-quality cues; lax voice (our choice)
            jitter=1.3,  # unsourced (moderate)
            shimmer=1.3,  # unsourced (moderate)
            centralisation=0.25,  # M&A articulation "slurring"
            boundary_st=-2.0,  # M&A "downward inflections"
        ),
    }


@dataclass
class EmotionDialect:
    """How one language bends the shared profile (cross-cultural studies; see the appendix)."""

    scale: dict[str, float] = field(default_factory=dict)
    """Factor on the *effect* of a field for every emotion (1 = shared; missing keys = 1)."""
    overrides: dict[str, dict[str, float]] = field(default_factory=dict)
    """``{emotion: {field: value}}`` replacing shared values (applied before ``scale``)."""


def default_dialects() -> dict[str, EmotionDialect]:
    """Per-language deviations. Directions are sourced; the factors 1.3/0.8/0.6 are
    moderate choices (no magnitudes in the sources)."""
    phonation = {"tilt_db": 1.3, "breathiness": 1.3, "jitter": 1.3, "shimmer": 1.3}
    return {
        # Wang, Lee & Ma (2018): emotion-vs-neutral pitch variation larger in English (V abstract).
        "en": EmotionDialect(scale={"f0_range": 1.3}),
        # Wang, Lee & Ma (2018): rate and phonation variation larger in Mandarin, pitch smaller;
        # Liu & Pell (2012): happiness "moderate" F0; boundary tones (2010 study, V): happy high
        # rising, angry high falling, sad/neutral low.
        "zh": EmotionDialect(
            scale={"f0_range": 0.8, "rate": 1.3, **phonation},
            overrides={
                "happy": {"f0_level_st": 2.4, "boundary_st": 3.0},
                "angry": {"boundary_st": -4.0},
                "sad": {"boundary_st": -2.0},
            },
        ),
        "de": EmotionDialect(),  # the shared profile (EMO-DB is the source of many of its numbers)
        "fr": EmotionDialect(),
        "ur": EmotionDialect(),
    }


def dialect_profile(
    shared: dict[str, Emotion],
    dialect: EmotionDialect,
    sd: float,
    rng: np.random.Generator,
    strength: float = 1.0,
) -> dict[str, Emotion]:
    """One language's profile: shared -> overrides -> ``scale`` -> random factor ``exp(sd * z)``
    per (emotion, field), all of it at ``strength`` (0: the shared profile; the random draws are
    made whatever the strength, so the rest of the world does not depend on it). Effects only
    grow or shrink; no direction flips (J&L: directions are shared across studies), and neutral
    stays neutral.

    >>> shared = default_emotions()
    >>> zh = dialect_profile(shared, default_dialects()["zh"], 0.3, np.random.default_rng(0), 0.0)
    >>> zh == {k: shared[k] for k in sorted(shared)}
    True
    """
    out = {}
    for name in sorted(shared):
        base = dataclasses.asdict(shared[name])
        values = base | dialect.overrides.get(name, {})
        for key in sorted(values):
            z = rng.standard_normal()
            target = _toward(key, base[key], values[key], strength)  # override, partly
            k = (dialect.scale.get(key, 1.0) * float(np.exp(sd * z))) ** strength
            values[key] = _scale_effect(key, target, k)
        out[name] = Emotion(**values)
    return out


def _toward(key: str, shared: float, override: float, strength: float) -> float:
    """``shared`` moved ``strength`` of the way to ``override`` (geometrically for factors)."""
    if key in MULTIPLICATIVE:
        return float(shared * (override / shared) ** strength)
    return float(shared + strength * (override - shared))


def at_intensity(emotion: Emotion, intensity: float, style: dict[str, float] | None = None) -> dict:
    """Field values for one utterance: the effect scaled by ``intensity`` (0 = neutral) and by a
    speaker's own ``style`` factors (``{field: factor}``)."""
    out = {}
    for key, value in dataclasses.asdict(emotion).items():
        k = intensity * (style or {}).get(key, 1.0)
        out[key] = _scale_effect(key, value, k)
    return out


def _scale_effect(key: str, value: float, k: float) -> float:
    return float(value**k) if key in MULTIPLICATIVE else float(value * k)
