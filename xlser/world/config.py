"""Every knob of the synthetic world in one dataclass, :class:`WorldConfig`.

The world never imports :mod:`xlser.config`; the experiment config holds a ``WorldConfig`` (smoke
profile only) under ``data.world``. Each field's docstring names its source (V = read in the
source, S = a secondary source, U = unverified: a moderate choice); the book's appendix *The
synthetic world* lists them with bibliography keys.

>>> cfg = WorldConfig()
>>> cfg.dialect_strength, cfg.max_seconds
(1.0, 4.0)
>>> cfg.validate()
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from xlser import EMOTIONS, LANGUAGES
from xlser.errors import XlserError
from xlser.world.channel import Channel, default_channels
from xlser.world.corpus import CorpusDesign, default_designs, split_plan
from xlser.world.emotion import (
    Emotion,
    EmotionDialect,
    default_dialects,
    default_emotions,
    dialect_profile,
)
from xlser.world.language import Consonant, Phonetics, default_consonants, default_phonetics
from xlser.world.speakers import SpeakerKnobs

Scale = Literal["smoke", "tiny"]
WORLD_VERSION = 2
"""Bumped whenever the same config and seed would render different audio."""


class WorldConfigError(XlserError, ValueError):
    """A world knob is invalid; the message names the key (``world.<key>``) and what is allowed."""


@dataclass
class WorldConfig:
    """Every knob of the synthetic world."""

    seed: int = 0
    """Default seed of :func:`~xlser.world.synthesis.synthesize`; the smoke corpus is seed 0."""
    scale: Scale = "smoke"
    """``smoke``: the designs' sizes; ``tiny``: ``tiny_per_class`` per language x emotion (tests)."""
    languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
    """Languages to synthesise (a subset keeps the others' designs unused)."""
    tiny_per_class: dict[str, int] = field(
        default_factory=lambda: {"train": 4, "val": 1, "test": 1}
    )
    sample_rate: int = 16000
    """The manifest contract's rate (16 kHz mono 16-bit)."""
    min_seconds: float = 1.0
    max_seconds: float = 4.0
    """Utterance length limits. The length plan (:func:`~xlser.world.synthesis.plan_length`)
    fits every utterance, slow sad ones included, inside ``max_seconds``: nothing is cut."""
    speech_seconds: list[float] = field(default_factory=lambda: [0.8, 2.4])
    """Range of the planned speech length at neutral rate; emotion rate then stretches it (U)."""
    pause_seconds: list[float] = field(default_factory=lambda: [0.1, 0.25])
    """Range of the leading and trailing silence (U)."""
    dialect_strength: float = 1.0
    """How far each language bends the shared emotion profile: 0 = every language expresses
    emotions with the same cues; 1 = the sourced directions (``dialects``) with random
    per-language magnitudes of log-SD ``dialect_sd``; 2 = twice as far (in log space for factors).
    The default 1 is a moderate bend: listeners recognise vocal emotion best in their own culture
    and worse with cultural distance (Scherer, Banse & Wallbott 2001: 74 % for German listeners of
    German actors, 52-69 % elsewhere; Elfenbein & Ambady 2002; Laukka & Elfenbein 2021), but well
    above chance everywhere, so the bend changes magnitudes, never directions. ``bench/dialect.py``
    measures what each value does to a linear probe's cross-language accuracy."""
    dialect_sd: float = 0.3
    """Log-SD of the random per-language factor on each emotion effect (at strength 1), drawn once
    per world (U)."""
    designs: dict[str, CorpusDesign] = field(default_factory=default_designs)
    """Corpus sizes, class shares, splits, speakers, expressiveness (:mod:`xlser.world.corpus`)."""
    phonetics: dict[str, Phonetics] = field(default_factory=default_phonetics)
    """Vowels, consonants, rhythm and melody (:mod:`xlser.world.language`)."""
    consonants: dict[str, Consonant] = field(default_factory=default_consonants)
    channels: dict[str, Channel] = field(default_factory=default_channels)
    """Recording channel per language's corpus (:mod:`xlser.world.channel`)."""
    emotions: dict[str, Emotion] = field(default_factory=default_emotions)
    """Shared emotion profile (:mod:`xlser.world.emotion`)."""
    dialects: dict[str, EmotionDialect] = field(default_factory=default_dialects)
    """Sourced language-specific deviations (:mod:`xlser.world.emotion`)."""
    speakers: SpeakerKnobs = field(default_factory=SpeakerKnobs)

    def validate(self) -> None:
        """Cross-field checks; raise :class:`WorldConfigError` naming the key."""
        for lang in self.languages:
            if lang not in LANGUAGES:
                raise WorldConfigError(f"world.languages: {lang!r} is not one of {list(LANGUAGES)}")
            for table in ("designs", "phonetics", "channels", "dialects"):
                if lang not in getattr(self, table):
                    raise WorldConfigError(f"world.{table} has no entry for language {lang!r}")
            ph = self.phonetics[lang]
            for c in ph.onsets + ph.codas:
                if c not in self.consonants:
                    raise WorldConfigError(
                        f"world.phonetics.{lang}: consonant {c!r} not in world.consonants"
                    )
        missing = [e for e in EMOTIONS if e not in self.emotions]
        if missing:
            raise WorldConfigError(f"world.emotions lacks {missing}")
        if not 0 < self.min_seconds < self.max_seconds:
            raise WorldConfigError("world: need 0 < min_seconds < max_seconds")
        longest = self.speech_seconds[1] + 2 * self.pause_seconds[1]
        if longest >= self.max_seconds:
            raise WorldConfigError(
                f"world.max_seconds={self.max_seconds} leaves no room for speech_seconds "
                f"{self.speech_seconds} and pauses {self.pause_seconds}; raise it"
            )
        if not (self.dialect_strength >= 0 and np.isfinite(self.dialect_strength)):
            raise WorldConfigError(
                f"world.dialect_strength must be a finite number >= 0 (0 = no language-specific "
                f"emotion cues), got {self.dialect_strength}"
            )
        if self.dialect_sd < 0:
            raise WorldConfigError(f"world.dialect_sd must be >= 0, got {self.dialect_sd}")

    def describe(self, what: Literal["languages", "emotions"] = "languages") -> pd.DataFrame:
        """Knob table for the book: one row per language, or per (language, emotion) with the
        emotion profile after the sourced dialect changes at ``dialect_strength`` (before the
        random per-world part)."""
        if what == "emotions":
            rows = []
            for lang in self.languages:
                prof = dialect_profile(
                    self.emotions,
                    self.dialects[lang],
                    0.0,
                    np.random.default_rng(0),
                    self.dialect_strength,
                )
                for emo in EMOTIONS:
                    rows.append({"language": lang, "emotion": emo, **dataclasses.asdict(prof[emo])})
            return pd.DataFrame(rows).set_index(["language", "emotion"]).round(2)
        rows = []
        for lang in self.languages:
            d, ph, ch = self.designs[lang], self.phonetics[lang], self.channels[lang]
            plan = split_plan(d)
            rows.append(
                {
                    "language": lang,
                    "corpus": d.corpus,
                    "mirrors": d.mirrors.split(" (")[0],
                    **{f"{s} utts": sum(plan[s].values()) for s in plan},
                    "speakers": d.n_speakers,
                    "vowels": len(ph.vowels),
                    "syll/s": ph.syllable_rate,
                    "nPVI-V": ph.npvi_v,
                    "intonation": ph.intonation,
                    "intensity": d.intensity_mean,
                    "SNR dB": "-".join(f"{x:g}" for x in ch.snr_db),
                    "RT60 s": ch.rt60_s,
                    "band Hz": f"{ch.highpass_hz:g}-{ch.lowpass_hz or self.sample_rate / 2:g}",
                }
            )
        return pd.DataFrame(rows).set_index("language")
