"""Speakers of the synthetic world: the cues a speaker adversary could learn and remove.

A speaker is a sex, an F0 level, a vocal-tract length (a factor on all formants), a speaking rate,
a voice quality (spectral tilt, breathiness, open quotient) and a personal way of expressing each
emotion (``style``). Sources are listed in the book's appendix *The synthetic world*.

>>> spk = draw_speakers("synth-de", 4, 0.5, SpeakerKnobs(), ["happy"], np.random.default_rng(0))
>>> [s.id for s in spk]
['synth-de:f01', 'synth-de:m02', 'synth-de:f03', 'synth-de:m04']
>>> all(165 <= s.f0_hz <= 255 for s in spk if s.sex == "f")
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xlser.world.emotion import Emotion


@dataclass
class SpeakerKnobs:
    """Between- and within-speaker variation (U = no source, a moderate choice)."""

    f0_mean_hz: dict[str, float] = field(default_factory=lambda: {"m": 120.0, "f": 210.0})
    """Typical speaking F0 (Traunmüller & Eriksson, V)."""
    f0_sd_hz: dict[str, float] = field(default_factory=lambda: {"m": 20.0, "f": 25.0})
    """Between-talker SD of mean F0; inside the 19-27 Hz of Hillenbrand's vowdata (V)."""
    f0_span_hz: dict[str, list[float]] = field(
        default_factory=lambda: {"m": [85.0, 155.0], "f": [165.0, 255.0]}
    )
    """Talker means are clipped to the typical span (Baken 2000, S)."""
    f0_knee_hz: float = 300.0
    """F0 above this is compressed smoothly (:func:`~xlser.world.prosody.soft_ceiling`): the top of
    women's Mandarin tone range (Wu 1992, S), the highest F0 of ordinary speech in our sources."""
    f0_ceiling_hz: float = 600.0
    """What compressed F0 approaches but never reaches (U: about an octave above the knee)."""
    f0_floor_hz: float = 55.0
    """Lowest F0 (creak below; U)."""
    female_formant_scale: float = 1 / 0.86
    """Women's formants = men's / 0.86 (female/male VTL 0.86, Yang 1996, S); data: F1 x1.18, F2 x1.16 (V)."""
    formant_sd: float = 0.06
    """Log-SD of a talker's formant factor; spread across talkers is 5-12 % (vowdata, V)."""
    rate_sd: float = 0.08
    """Log-SD of a talker's rate factor (between-speaker rate SD: not found, U)."""
    female_rate: float = 0.96
    """Women speak slightly slower (Jacewicz & Fox 2010, V direction; magnitude U)."""
    tilt_sd_db: float = 2.0
    """SD of a talker's source-tilt offset at 3 kHz, dB (U)."""
    breathiness: dict[str, float] = field(default_factory=lambda: {"m": 0.15, "f": 0.3})
    """Mean breathiness (0-1); women breathier (common finding, U)."""
    breathiness_sd: float = 0.08
    open_quotient: dict[str, float] = field(default_factory=lambda: {"m": 0.5, "f": 0.6})
    """Glottal open quotient of modal voice (U; KLGLOTT88-style source)."""
    jitter_pct: float = 0.6
    """Cycle-to-cycle period SD, % of the period (healthy voices below ~1 %, U)."""
    shimmer_pct: float = 3.0
    """Cycle-to-cycle amplitude SD, % (U)."""
    style_sd: float = 0.2
    """Log-SD of a speaker's own factor on each emotion effect (individual expressiveness, U)."""
    utterance_f0_sd_st: float = 1.0
    """Within-speaker, between-utterance SD of F0 level, semitones (U)."""
    utterance_rate_sd: float = 0.05
    """Within-speaker, between-utterance log-SD of rate (phrase length effects, Quené 2008; U)."""


@dataclass
class Speaker:
    """One drawn speaker (not a config: :func:`draw_speakers` makes these from the knobs)."""

    id: str
    sex: str
    f0_hz: float
    formant_scale: float
    rate: float
    tilt_db: float
    breathiness: float
    open_quotient: float
    style: dict[str, dict[str, float]]


def draw_speakers(
    corpus: str,
    n: int,
    female_share: float,
    knobs: SpeakerKnobs,
    emotions: list[str],
    rng: np.random.Generator,
) -> list[Speaker]:
    """``n`` speakers of ``corpus``, about ``n * female_share`` of them women (ids ``corpus:f01``)."""
    out = []
    for i in range(n):  # women spread evenly over the list: f, m, f, m ... for a share of 0.5
        sex = (
            "f"
            if np.floor((i + 1) * female_share + 0.5) > np.floor(i * female_share + 0.5)
            else "m"
        )
        lo, hi = knobs.f0_span_hz[sex]
        f0 = float(
            np.clip(knobs.f0_mean_hz[sex] + knobs.f0_sd_hz[sex] * rng.standard_normal(), lo, hi)
        )
        vtl = (knobs.female_formant_scale if sex == "f" else 1.0) * np.exp(
            knobs.formant_sd * rng.standard_normal()
        )
        rate = (knobs.female_rate if sex == "f" else 1.0) * np.exp(
            knobs.rate_sd * rng.standard_normal()
        )
        breath = knobs.breathiness[sex] + knobs.breathiness_sd * rng.standard_normal()
        style = {
            e: {k: float(np.exp(knobs.style_sd * rng.standard_normal())) for k in _FIELDS}
            for e in emotions
        }
        out.append(
            Speaker(
                id=f"{corpus}:{sex}{i + 1:02d}",
                sex=sex,
                f0_hz=f0,
                formant_scale=float(vtl),
                rate=float(rate),
                tilt_db=float(knobs.tilt_sd_db * rng.standard_normal()),
                breathiness=float(np.clip(breath, 0.0, 1.0)),
                open_quotient=knobs.open_quotient[sex],
                style=style,
            )
        )
    return out


_FIELDS = tuple(Emotion.__dataclass_fields__)
