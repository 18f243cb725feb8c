"""The synthetic multilingual emotional-speech world of the ``smoke`` profile.

A small, honest toy with the structure of the real problem: five languages, each its own corpus
with its own recording channel; speakers with their own voices; four emotions carried by prosody
and voice quality, partly shared across languages and partly language-specific. Every knob is a
field of :class:`WorldConfig`, and every value cites ``shared/spec/synthetic-world.md`` (V = read
in the source, S = secondary, U = unverified, a moderate choice). No knob was tuned so that any
system wins.

The pieces, one module each: :mod:`~xlser.data.world_corpus` (sizes, speakers, splits),
:mod:`~xlser.data.world_speakers`, :mod:`~xlser.data.world_language` (vowels, consonants,
rhythm, melody), :mod:`~xlser.data.world_emotion`, :mod:`~xlser.data.world_prosody` (timing and
F0), :mod:`~xlser.data.world_voice` (source-filter synthesis), :mod:`~xlser.data.world_channel`
and :mod:`~xlser.data.world_probe` (the acoustic-statistics probe).

>>> world = build_world(WorldConfig(scale="tiny"), seed=0)
>>> len(world.plan), world.plan.language.unique().tolist()
(120, ['en', 'zh', 'de', 'fr', 'ur'])
>>> wave, info = render_utterance(world, 0)
>>> wave.dtype, 1.0 <= len(wave) / 16000 <= 3.0
(dtype('int16'), True)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import math
import multiprocessing
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from xlser import EMOTIONS, LANGUAGES, SPLITS, __version__
from xlser.data.manifest import COLUMNS as MANIFEST_COLUMNS
from xlser.data.world_channel import Channel, apply_channel, default_channels
from xlser.data.world_corpus import (
    CorpusDesign,
    assign_speakers,
    default_designs,
    emotion_counts,
    split_counts,
)
from xlser.data.world_emotion import (
    Emotion,
    EmotionDialect,
    at_intensity,
    default_dialects,
    default_emotions,
    dialect_profile,
)
from xlser.data.world_language import Consonant, Phonetics, default_consonants, default_phonetics
from xlser.data.world_probe import spectral_stats  # noqa: F401  (re-exported for the book)
from xlser.data.world_prosody import (
    add_aspiration,
    f0_anchors,
    f0_track,
    plan_syllables,
    stress_ratio,
    vowel_spans,
)
from xlser.data.world_speakers import Speaker, SpeakerKnobs, draw_speakers
from xlser.data.world_voice import NEUTRAL_TILT_DB, Voice, render

Scale = Literal["smoke", "tiny"]


@dataclass
class WorldConfig:
    """Every knob of the synthetic world (spec: ``shared/spec/synthetic-world.md``)."""

    seed: int = 0
    """Default seed of :func:`synthesize`; the smoke profile's corpus is seed 0."""
    scale: Scale = "smoke"
    """``smoke``: the designs' sizes (~900 utterances); ``tiny``: ``tiny_per_class`` per language
    x emotion, for tests."""
    languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
    """Languages to synthesise (a subset keeps the others' designs unused)."""
    tiny_per_class: dict[str, int] = field(
        default_factory=lambda: {"train": 4, "val": 1, "test": 1}
    )
    sample_rate: int = 16000
    """The manifest contract's rate (16 kHz mono 16-bit)."""
    min_seconds: float = 1.0
    max_seconds: float = 3.0
    """Utterance length limits (URDU clips are 1-3 s, corpora.md §5)."""
    speech_seconds: list[float] = field(default_factory=lambda: [0.8, 2.4])
    """Range of the planned speech length at neutral rate; emotion rate then stretches it (U)."""
    pause_seconds: list[float] = field(default_factory=lambda: [0.1, 0.25])
    """Range of the leading and trailing silence (U)."""
    designs: dict[str, CorpusDesign] = field(default_factory=default_designs)
    """Corpus sizes, class shares, splits, speakers, expressiveness (world_corpus)."""
    phonetics: dict[str, Phonetics] = field(default_factory=default_phonetics)
    """Vowels, consonants, rhythm and melody (world_language, spec §3)."""
    consonants: dict[str, Consonant] = field(default_factory=default_consonants)
    channels: dict[str, Channel] = field(default_factory=default_channels)
    """Recording channel per language's corpus (world_channel, spec §5)."""
    emotions: dict[str, Emotion] = field(default_factory=default_emotions)
    """Shared emotion profile (world_emotion, spec §1)."""
    dialects: dict[str, EmotionDialect] = field(default_factory=default_dialects)
    """Sourced language-specific deviations (spec §2b)."""
    dialect_sd: float = 0.3
    """Log-SD of the random per-language factor on each emotion effect, drawn once per world.
    Cross-cultural recognition falls with distance (Scherer et al. 2001: 74 % in-group to 52 %,
    spec §2a), so dialects differ; the size is U."""
    speakers: SpeakerKnobs = field(default_factory=SpeakerKnobs)

    def validate(self) -> None:
        """Cross-field checks; raise ``ValueError`` naming the key."""
        for lang in self.languages:
            if lang not in LANGUAGES:
                raise ValueError(f"world.languages: {lang!r} is not one of {list(LANGUAGES)}")
            for table in ("designs", "phonetics", "channels", "dialects"):
                if lang not in getattr(self, table):
                    raise ValueError(f"world.{table} has no entry for language {lang!r}")
            ph = self.phonetics[lang]
            for c in ph.onsets + ph.codas:
                if c not in self.consonants:
                    raise ValueError(
                        f"world.phonetics.{lang}: consonant {c!r} not in world.consonants"
                    )
        missing = [e for e in EMOTIONS if e not in self.emotions]
        if missing:
            raise ValueError(f"world.emotions lacks {missing}")
        if not 0 < self.min_seconds < self.max_seconds:
            raise ValueError("world: need 0 < min_seconds < max_seconds")

    def describe(self, what: Literal["languages", "emotions"] = "languages") -> pd.DataFrame:
        """Knob table for the book: one row per language, or per (language, emotion) with the
        emotion profile after the sourced dialect changes (before the random per-world part)."""
        if what == "emotions":
            rows = []
            for lang in self.languages:
                prof = dialect_profile(
                    self.emotions, self.dialects[lang], 0.0, np.random.default_rng(0)
                )
                for emo in EMOTIONS:
                    rows.append({"language": lang, "emotion": emo, **dataclasses.asdict(prof[emo])})
            return pd.DataFrame(rows).set_index(["language", "emotion"]).round(2)
        rows = []
        for lang in self.languages:
            d, ph, ch = self.designs[lang], self.phonetics[lang], self.channels[lang]
            rows.append(
                {
                    "language": lang,
                    "corpus": d.corpus,
                    "mirrors": d.mirrors.split(" (")[0],
                    "utterances": d.size,
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


@dataclass
class World:
    """A drawn world: its speakers, each language's emotion profile and the utterance plan."""

    config: WorldConfig
    seed: int
    speakers: dict[str, list[Speaker]]
    profiles: dict[str, dict[str, Emotion]]
    stress_ratios: dict[str, float]
    """Stressed/unstressed vowel-length ratio per language (calibrated to its nPVI-V)."""
    plan: pd.DataFrame
    """One row per utterance: utt_id, language, corpus, emotion, split, speaker (index)."""

    def profile_table(self) -> pd.DataFrame:
        """The drawn emotion profiles (sourced dialect x random per-world factor), as
        :meth:`WorldConfig.describe` ``("emotions")`` shows the sourced part alone."""
        rows = [
            {"language": lang, "emotion": e, **dataclasses.asdict(self.profiles[lang][e])}
            for lang in self.profiles
            for e in EMOTIONS
        ]
        return pd.DataFrame(rows).set_index(["language", "emotion"]).round(2)


def build_world(config: WorldConfig | None = None, seed: int | None = None) -> World:
    """Draw speakers, dialect profiles and the utterance plan from ``seed`` (default ``config.seed``)."""
    config = config or WorldConfig()
    config.validate()
    seed = config.seed if seed is None else seed
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    speakers, profiles, rows = {}, {}, []
    for lang in config.languages:
        d = config.designs[lang]
        speakers[lang] = draw_speakers(
            d.corpus, d.n_speakers, d.female_share, config.speakers, list(EMOTIONS), rng
        )
        profiles[lang] = dialect_profile(
            config.emotions, config.dialects[lang], config.dialect_sd, rng
        )
        for emo, n_emo in _emotion_counts(config, d).items():
            per_split = (
                dict(config.tiny_per_class)
                if config.scale == "tiny"
                else split_counts(n_emo, d.split_fractions)
            )
            splits = np.repeat(list(per_split), list(per_split.values()))
            rng.shuffle(splits)
            who = assign_speakers(d, len(splits), d.n_speakers, rng)
            rows += [(lang, d.corpus, emo, s, int(k)) for s, k in zip(splits, who)]
    plan = pd.DataFrame(rows, columns=["language", "corpus", "emotion", "split", "speaker"])
    plan.insert(0, "utt_id", [f"{c}-{i:04d}" for i, c in enumerate(plan["corpus"])])
    ratios = {lang: stress_ratio(config.phonetics[lang]) for lang in config.languages}
    return World(config, seed, speakers, profiles, ratios, plan)


def _emotion_counts(config: WorldConfig, d: CorpusDesign) -> dict[str, int]:
    if config.scale == "tiny":
        return dict.fromkeys(EMOTIONS, sum(config.tiny_per_class.values()))
    return emotion_counts(d)


def render_utterance(world: World, index: int) -> tuple[np.ndarray, dict]:
    """Plan row ``index`` as 16-bit samples, and what was drawn for it. Its random numbers come
    from ``SeedSequence(seed, spawn_key=(0, index))`` alone, so any order or process gives the
    same audio."""
    cfg, row = world.config, world.plan.iloc[index]
    rng = np.random.default_rng(np.random.SeedSequence(world.seed, spawn_key=(0, index)))
    lang, sr = row.language, cfg.sample_rate
    d, ph, knobs = cfg.designs[lang], cfg.phonetics[lang], cfg.speakers
    spk = world.speakers[lang][row.speaker]

    voiced, intensity = row.emotion, 0.0
    if rng.random() < d.label_noise:
        voiced = str(rng.choice([e for e in EMOTIONS if e != row.emotion]))
    if voiced != "neutral":
        intensity = _beta(rng, d.intensity_mean, d.intensity_sd)
    emo = at_intensity(world.profiles[lang][voiced], intensity, spk.style[voiced])

    rate = spk.rate * emo["rate"] * math.exp(knobs.utterance_rate_sd * rng.standard_normal())
    lead, trail = rng.uniform(*cfg.pause_seconds, size=2)
    n_syll = max(2, round(rng.uniform(*cfg.speech_seconds) * ph.syllable_rate))
    max_speech = cfg.max_seconds - lead - trail - 0.05
    syllables = plan_syllables(ph, n_syll, rate, max_speech, world.stress_ratios[lang], rng)
    add_aspiration(syllables, cfg.consonants)
    speech_s = sum(sum(s.durations) for s in syllables)
    n = 160 * math.ceil(max(cfg.min_seconds, lead + speech_s + trail) * sr / 160)
    n = min(n, int(cfg.max_seconds * sr))

    anchors = f0_anchors(syllables, vowel_spans(syllables, lead), ph, emo, rng)
    level = 12 * math.log2(spk.f0_hz / 100) + ph.f0_offset_st + emo["f0_level_st"]
    level += knobs.utterance_f0_sd_st * rng.standard_normal()
    f0 = f0_track(np.arange(n) / sr, anchors, level, ph, n / sr, rng)
    voice = Voice(
        open_quotient=float(np.clip(spk.open_quotient + 0.3 * emo["breathiness"], 0.3, 0.9)),
        jitter=knobs.jitter_pct / 100 * emo["jitter"],
        shimmer=knobs.shimmer_pct / 100 * emo["shimmer"],
        tilt_db=NEUTRAL_TILT_DB - emo["tilt_db"] - spk.tilt_db,
        breathiness=float(np.clip(spk.breathiness + emo["breathiness"], 0.0, 1.0)),
        formant_scale=spk.formant_scale,
        centralisation=emo["centralisation"],
    )
    speech = render(syllables, lead, n, f0, sr, voice, ph, cfg.consonants, rng)
    wave, snr = apply_channel(speech, sr, cfg.channels[lang], emo["energy_db"], rng)
    peak = float(np.max(np.abs(wave)))
    if peak > 0.98:  # a rare safety net (3 of the 900 smoke utterances): scale down, never clip
        wave *= 0.98 / peak
    info = {
        "utt_id": row.utt_id,
        "sex": spk.sex,
        "voiced_emotion": voiced,
        "intensity": round(intensity, 3),
        "f0_mean_hz": round(float(np.mean(f0)), 1),
        "syllables": len(syllables),
        "syllable_rate": round(len(syllables) / speech_s, 2),
        "snr_db": round(snr, 1),
        "peak": round(min(peak, 0.98), 3),
    }
    return np.round(wave * 32767).astype(np.int16), info


def _beta(rng: np.random.Generator, mean: float, sd: float) -> float:
    """A draw in (0, 1) with the given mean and SD (a Beta distribution)."""
    k = mean * (1 - mean) / sd**2 - 1
    return float(rng.beta(mean * k, (1 - mean) * k))


def synthesize(
    out_dir: str | Path,
    world: WorldConfig | None = None,
    seed: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    workers: int | None = None,
) -> Path:
    """Write the synthetic corpus to ``out_dir`` and return the path of its ``manifest.csv``.

    Files: ``wav/<language>/<utt_id>.wav`` (16 kHz mono PCM-16), ``metadata.csv`` (what each
    utterance drew: sex, voiced emotion, intensity, F0, SNR ...), ``world.json`` (config and seed)
    and, written last and atomically, ``manifest.csv``. The same ``seed`` gives byte-identical
    files, whatever ``workers`` (processes; default: the CPU count, 1 for fewer than 200
    utterances).

    Raises:
        FileExistsError: ``out_dir`` is not empty and ``overwrite`` is False.
    """
    from tqdm.auto import tqdm

    from xlser.data.manifest import atomic_write_text, write_manifest

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{out} is not empty; pass overwrite=True (CLI: --overwrite) to synthesise into it"
            )
        for name in ("manifest.csv", "metadata.csv", "world.json"):  # the manifest goes first
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "wav", ignore_errors=True)
    w = build_world(world, seed)
    n = len(w.plan)
    chunks = [range(i, min(i + 25, n)) for i in range(0, n, 25)]
    workers = workers or (min(_cpus(), len(chunks)) if n >= 200 else 1)
    job = functools.partial(_write_chunk, w, out)
    rows = []
    with (
        tqdm(total=n, desc="synth", unit="utt", disable=not progress) as bar,
        contextlib.ExitStack() as stack,
    ):
        if workers == 1:
            results = map(job, chunks)
        else:  # fork on Linux: works from notebooks, stdin and unguarded scripts alike
            ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=ctx))
            results = pool.map(job, chunks)
        for chunk_rows in results:
            rows += chunk_rows
            bar.update(len(chunk_rows))
    table = pd.DataFrame(rows)
    info = table.drop(columns=list(MANIFEST_COLUMNS[1:]))
    atomic_write_text(out / "metadata.csv", info.to_csv(index=False, lineterminator="\n"))
    meta = {"xlser": __version__, "seed": w.seed, "world": dataclasses.asdict(w.config)}
    atomic_write_text(out / "world.json", json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return write_manifest(table[list(MANIFEST_COLUMNS)], out / "manifest.csv", overwrite=True)


def ensure_synthetic(
    manifest: str | Path, world: WorldConfig | None = None, seed: int | None = None
) -> Path:
    """``manifest`` (a ``.csv`` path, or the folder that is to hold ``manifest.csv``), synthesised
    into its folder first when it does not exist. An interrupted synthesis leaves no manifest (it is
    written last), so the synthesis simply starts again."""
    path = Path(manifest)
    if not path.exists():
        out = path.parent if path.suffix.lower() == ".csv" else path
        synthesize(out, world, seed=seed, overwrite=out.exists())
    return path


def _write_chunk(w: World, out: Path, indices: range) -> list[dict]:
    """Render and write plan rows ``indices``; return their manifest + metadata rows."""
    import soundfile as sf

    rows, sr = [], w.config.sample_rate
    for i in indices:
        row = w.plan.iloc[i]
        wave, info = render_utterance(w, i)
        rel = Path("wav") / row.language / f"{row.utt_id}.wav"
        (out / rel.parent).mkdir(parents=True, exist_ok=True)
        sf.write(out / rel, wave, sr, subtype="PCM_16")
        speaker = w.speakers[row.language][row.speaker].id
        rows.append(
            {"utt_id": row.utt_id, "path": rel.as_posix(), "corpus": row.corpus}
            | {"language": row.language, "speaker": speaker, "emotion": row.emotion}
            | {"split": row.split, "duration_s": len(wave) / sr, **info}
        )
    return rows


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth",
        help="write the synthetic multilingual emotional-speech corpus",
        description="Write the synthetic corpus (16 kHz WAVs + manifest.csv) of the smoke profile.",
    )
    p.add_argument("--out", required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--seed", type=int, default=None, help="world seed (default: the config's, 0)")
    p.add_argument(
        "--scale", choices=["smoke", "tiny"], default=None, help="corpus size (default smoke)"
    )
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty folder")
    p.add_argument(
        "--config", default=None, help="YAML/JSON experiment config whose `world` to use"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    world = WorldConfig()
    if args.config:
        from xlser.config import load_config

        world = load_config(args.config).world
    if args.scale:
        world = dataclasses.replace(world, scale=args.scale)
    path = synthesize(
        args.out, world, seed=args.seed, overwrite=args.overwrite, progress=not args.quiet
    )
    df = pd.read_csv(path)
    counts = (
        df.groupby(["language", "split"]).size().unstack().reindex(columns=SPLITS, fill_value=0)
    )
    print(counts.loc[[lang for lang in LANGUAGES if lang in counts.index]].to_string())
    print(f"wrote {len(df)} utterances ({df.duration_s.sum() / 60:.1f} min) and {path}")
    return 0
