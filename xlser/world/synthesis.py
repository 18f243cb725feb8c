"""Synthesis of the smoke profile's multilingual emotional-speech world: plan, render, write.

A small, honest toy with the structure of the real problem: five languages, each its own corpus
with its own recording channel; speakers with their own voices; four emotions carried by prosody
and voice quality, partly shared across languages and partly language-specific (as far as
``dialect_strength`` says). Every knob is a field of :class:`~xlser.world.config.WorldConfig`
with its source; no knob was tuned so that any system wins.

The pieces, one module each: :mod:`~xlser.world.config` (the knobs), :mod:`~xlser.world.corpus`
(sizes, speakers, splits), :mod:`~xlser.world.speakers`, :mod:`~xlser.world.language` (vowels,
consonants, rhythm, melody), :mod:`~xlser.world.emotion`, :mod:`~xlser.world.prosody` (timing and
F0), :mod:`~xlser.world.voice` (source-filter synthesis), :mod:`~xlser.world.channel` and
:mod:`~xlser.world.probe` (the acoustic-statistics probe).

>>> world = build_world(WorldConfig(scale="tiny"), seed=0)
>>> len(world.plan), world.plan.language.unique().tolist()
(120, ['en', 'zh', 'de', 'fr', 'ur'])
>>> wave, info = render_utterance(world, 0)
>>> wave.dtype, 1.0 <= len(wave) / 16000 <= 4.0
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
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xlser import EMOTIONS, LANGUAGES, SPLITS, __version__
from xlser.data.manifest import COLUMNS as MANIFEST_COLUMNS
from xlser.world.channel import apply_channel
from xlser.world.config import WORLD_VERSION, WorldConfig
from xlser.world.corpus import CorpusDesign, assign_speakers, split_plan
from xlser.world.emotion import Emotion, at_intensity, dialect_profile
from xlser.world.language import Phonetics
from xlser.world.prosody import (
    add_aspiration,
    f0_anchors,
    f0_track,
    plan_syllables,
    stress_ratio,
    vowel_spans,
)
from xlser.world.speakers import Speaker, draw_speakers
from xlser.world.voice import NEUTRAL_TILT_DB, Voice, render

__all__ = [
    "World",
    "WorldConfig",
    "build_world",
    "ensure_synthetic",
    "plan_length",
    "pretraining_pool",
    "render_utterance",
    "synthesize",
]


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
    stream: int = 0
    """Random stream of the utterances: 0 for the SER corpus, others for pretraining pools."""

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
    """Draw speakers, dialect profiles and the utterance plan from ``seed`` (default ``config.seed``).

    The plan (utterance ids, speakers, splits) does not depend on ``dialect_strength``: the random
    draws are the same whatever its value."""
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
            config.emotions, config.dialects[lang], config.dialect_sd, rng, config.dialect_strength
        )
        plan = _split_plan(config, d)
        for emo in EMOTIONS:
            per_split = {split: plan[split][emo] for split in SPLITS}
            splits = np.repeat(list(per_split), list(per_split.values()))
            rng.shuffle(splits)
            who = assign_speakers(d, len(splits), d.n_speakers, rng)
            rows += [(lang, d.corpus, emo, s, int(k)) for s, k in zip(splits, who)]
    plan = pd.DataFrame(rows, columns=["language", "corpus", "emotion", "split", "speaker"])
    plan.insert(0, "utt_id", [f"{c}-{i:04d}" for i, c in enumerate(plan["corpus"])])
    ratios = {lang: stress_ratio(config.phonetics[lang]) for lang in config.languages}
    return World(config, seed, speakers, profiles, ratios, plan)


def pretraining_pool(
    language: str, config: WorldConfig | None = None, seed: int | None = None
) -> tuple[World, list[np.ndarray]]:
    """Unlabelled speech of ``language`` for self-supervised pretraining, float32 at 16 kHz.

    Its own ``pretrain_speakers`` speakers (in no SER split) say ``pretrain_utterances``
    utterances through the language's channel, with the corpus's mix of emotions and intensities,
    as natural speech has; the labels are never returned (the plan's ``emotion`` column is there
    for analysis only). Deterministic per (seed, language); independent of the SER corpus.
    """
    config = config or WorldConfig()
    config.validate()
    seed = config.seed if seed is None else seed
    if language not in config.languages:
        raise ValueError(f"language {language!r} is not in world.languages {config.languages}")
    k = list(LANGUAGES).index(language) + 10
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))
    d = config.designs[language]
    pool = dataclasses.replace(d, corpus=f"{d.corpus}-pool", main_speakers=0)
    speakers = draw_speakers(
        pool.corpus, d.pretrain_speakers, d.female_share, config.speakers, list(EMOTIONS), rng
    )
    # the language's emotion profile as a one-language world of this seed draws it: its sourced
    # dialect, with its own random part (the shipped encoders were pretrained on this pool)
    profile = build_world(dataclasses.replace(config, languages=[language]), seed).profiles
    shares = np.array([d.emotion_shares.get(e, 0.0) for e in EMOTIONS])
    n = d.pretrain_utterances
    plan = pd.DataFrame(
        {
            "utt_id": [f"{pool.corpus}-{i:04d}" for i in range(n)],
            "language": language,
            "corpus": pool.corpus,
            "emotion": rng.choice(list(EMOTIONS), size=n, p=shares / shares.sum()),
            "split": "pretrain",
            "speaker": rng.integers(d.pretrain_speakers, size=n),
        }
    )
    cfg = dataclasses.replace(config, designs={**config.designs, language: pool})
    ratios = {language: stress_ratio(config.phonetics[language])}
    w = World(cfg, seed, {language: speakers}, profile, ratios, plan, stream=k)
    return w, [render_utterance(w, i)[0].astype(np.float32) / 32768.0 for i in range(n)]


def _split_plan(config: WorldConfig, d: CorpusDesign) -> dict[str, dict[str, int]]:
    if config.scale == "tiny":
        return {s: dict.fromkeys(EMOTIONS, config.tiny_per_class[s]) for s in SPLITS}
    return split_plan(d)


def render_utterance(world: World, index: int) -> tuple[np.ndarray, dict]:
    """Plan row ``index`` as 16-bit samples, and what was drawn for it. Its random numbers come
    from ``SeedSequence(seed, spawn_key=(world.stream, index))`` alone, so any order or process
    gives the same audio."""
    cfg, row = world.config, world.plan.iloc[index]
    rng = np.random.default_rng(np.random.SeedSequence(world.seed, spawn_key=(world.stream, index)))
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
    wanted = max(2, round(rng.uniform(*cfg.speech_seconds) * ph.syllable_rate))
    n_syll, max_speech = plan_length(cfg, ph, wanted, rate, lead, trail)
    syllables = plan_syllables(ph, n_syll, rate, max_speech, world.stress_ratios[lang], rng)
    add_aspiration(syllables, cfg.consonants)
    speech_s = sum(sum(s.durations) for s in syllables)
    n = 160 * math.ceil(max(cfg.min_seconds, lead + speech_s + trail) * sr / 160)
    if n > cfg.max_seconds * sr:  # plan_length leaves room; this would be a bug, not a cut
        raise AssertionError(f"{row.utt_id}: planned {n / sr:.2f} s > max_seconds")

    anchors = f0_anchors(syllables, vowel_spans(syllables, lead), ph, emo, rng)
    level = 12 * math.log2(spk.f0_hz / 100) + ph.f0_offset_st + emo["f0_level_st"]
    level += knobs.utterance_f0_sd_st * rng.standard_normal()
    f0 = f0_track(
        np.arange(n) / sr,
        anchors,
        level,
        ph,
        n / sr,
        rng,
        knobs.f0_knee_hz,
        knobs.f0_ceiling_hz,
        knobs.f0_floor_hz,
    )
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
        "f0_max_hz": round(float(np.max(f0)), 1),
        "syllables": len(syllables),
        "syllables_cut": n_syll - len(syllables),  # 0: plan_length leaves room
        "planned_s": round(lead + speech_s + trail, 4),  # pauses included; the wave is as long
        "sentence_shortened": wanted - n_syll,
        "syllable_rate": round(len(syllables) / speech_s, 2),
        "snr_db": round(snr, 1),
        "peak": round(min(peak, 0.98), 3),
    }
    return np.round(wave * 32767).astype(np.int16), info


def plan_length(
    cfg: WorldConfig, ph: Phonetics, wanted: int, rate: float, lead: float, trail: float
) -> tuple[int, float]:
    """How many syllables to plan so the utterance fits ``max_seconds`` at its own rate.

    The sentence length is drawn at the neutral rate, so slow (sad) speech is longer, as when
    actors read one sentence in every emotion; a sentence too long to fit at this ``rate`` is a
    shorter sentence (fewer syllables, each complete), never a cut waveform. The budget assumes
    the slowest syllables the planner can draw (1.6x the mean: intrinsic length, stress, jitter,
    final lengthening and aspiration). Returns ``(syllables, speech budget in s)``."""
    budget = cfg.max_seconds - lead - trail - 0.05
    per_syllable = 1.6 / (ph.syllable_rate * rate)
    return max(2, min(wanted, int(budget / per_syllable))), budget


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

    Ownership: the marker ``world.json`` is written first; a non-empty ``out_dir`` without it is
    refused, with or without ``overwrite``, and ``overwrite`` removes only what xlser wrote
    (:func:`remove_world`), never other files.

    Raises:
        FileExistsError: ``out_dir`` is a file, is not empty and not an xlser world, or holds a
            world and ``overwrite`` is False.
    """
    from tqdm.auto import tqdm

    from xlser.data.manifest import write_manifest
    from xlser.io import atomic_write_text

    out = Path(out_dir)
    w = build_world(world, seed)  # validates the config before anything is written
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file; choose a folder for the synthetic corpus")
    if out.exists() and any(out.iterdir()):
        if not is_world_folder(out):
            raise FileExistsError(
                f"{out} is not empty and holds no xlser world (no {MARKER} written by xlser): "
                "xlser writes a synthetic corpus only into an empty folder or one it made; "
                "choose another --out"
            )
        if not overwrite:
            raise FileExistsError(
                f"{out} already holds a synthetic world; pass overwrite=True (CLI: --overwrite) "
                "to replace it (only the files xlser wrote there are removed)"
            )
        remove_world(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "xlser_world": WORLD_VERSION,
        "xlser": __version__,
        "seed": w.seed,
        "world": dataclasses.asdict(w.config),
    }  # the marker goes first: an interrupted synthesis is still known to be xlser's
    atomic_write_text(out / MARKER, json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
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
    return write_manifest(table[list(MANIFEST_COLUMNS)], out / "manifest.csv", overwrite=True)


MARKER = "world.json"
"""Written first into every folder :func:`synthesize` makes; ``overwrite`` needs it."""


def is_world_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a world xlser wrote (its :data:`MARKER` names ``xlser_world``)."""
    try:
        return "xlser_world" in json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def remove_world(folder: str | Path) -> int:
    """Delete what :func:`synthesize` wrote in ``folder`` and nothing else: the manifest, metadata
    and marker, and ``wav/<language>/<corpus>-<number>.wav`` files of the corpora the marker
    names (empty ``wav`` folders go too). Returns the number of files removed."""
    import re

    folder = Path(folder)
    world = json.loads((folder / MARKER).read_text(encoding="utf-8")).get("world", {})
    names = {
        lang: re.compile(re.escape(str(d.get("corpus", ""))) + r"-\d+\.wav")
        for lang, d in (world.get("designs") or {}).items()
    }
    removed = 0
    for name in ("manifest.csv", "metadata.csv"):  # the manifest goes first
        if (folder / name).is_file():
            (folder / name).unlink()
            removed += 1
    for lang, pattern in names.items():
        sub = folder / "wav" / lang
        for f in sub.glob("*.wav") if sub.is_dir() else ():
            if pattern.fullmatch(f.name) and f.is_file():
                f.unlink()
                removed += 1
        with contextlib.suppress(OSError):
            sub.rmdir()  # only if empty
    with contextlib.suppress(OSError):
        (folder / "wav").rmdir()
    (folder / MARKER).unlink()
    return removed + 1


def ensure_synthetic(
    manifest: str | Path,
    world: WorldConfig | None = None,
    seed: int | None = None,
    progress: bool = True,
) -> Path:
    """``manifest`` (a ``.csv`` path, or the folder that is to hold ``manifest.csv``), synthesised
    into its folder first when it does not exist. An interrupted synthesis leaves no manifest (it is
    written last), so the synthesis simply starts again; a folder that is not an xlser world is
    never written into (:func:`synthesize` refuses it). Concurrent callers (a grid's workers) are
    serialised by a lock file beside the folder (``.<name>.lock``)."""
    import fcntl

    path = Path(manifest)
    if path.exists():
        return path
    out = path.parent if path.suffix.lower() == ".csv" else path
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "a") as lock:  # grid workers start together
        fcntl.flock(lock, fcntl.LOCK_EX)  # one synthesises, the others wait and find it done
        if not path.exists():
            synthesize(out, world, seed=seed, overwrite=is_world_folder(out), progress=progress)
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
        description="Write the synthetic corpus (16 kHz WAVs + manifest.csv) of the smoke profile. "
        "Knobs: --set world.KEY=VALUE, e.g. --set world.dialect_strength=0.",
    )
    p.add_argument("--out", required=True, help="output folder (empty, or a world xlser wrote)")
    p.add_argument("--seed", type=int, default=None, help="world seed (default: the config's, 0)")
    p.add_argument(
        "--scale", choices=["smoke", "tiny"], default=None, help="corpus size (default smoke)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace a world xlser wrote there")
    p.add_argument("--config", default=None, help="YAML/JSON experiment config (its data.world)")
    p.add_argument("--set", action="append", default=[], metavar="world.KEY=VALUE",
                   help="a world knob (data.world.KEY works too)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    from xlser.cli import parse_overrides
    from xlser.config import ExperimentConfig, load_config

    over = {}
    for key, value in parse_overrides(args.set).items():
        key = key.removeprefix("data.").removeprefix("world.")
        over[f"data.world.{key}"] = value
    if args.scale:
        over["data.world.scale"] = args.scale
    cfg = load_config(args.config, **over) if args.config else None
    cfg = cfg or ExperimentConfig.from_profile("smoke", **over)
    world = cfg.data.world or WorldConfig()
    world.validate()
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
