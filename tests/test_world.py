"""The synthetic world: determinism, sizes, the file contract, ownership, the CLI, the dialect
axis, the F0 ceiling and length plan on rendered audio, and that it is learnable.

The tiny scale serves the contract tests; the smoke scale's plan (no audio) serves the size checks;
rendering is limited to the utterances each property is about.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from xlser import EMOTIONS, LANGUAGES, SPLITS
from xlser.cli import main
from xlser.config import ConfigError, ExperimentConfig, asdict, from_dict
from xlser.data.manifest import read_manifest
from xlser.world.channel import Channel, apply_channel
from xlser.world.config import WorldConfig, WorldConfigError
from xlser.world.corpus import split_plan
from xlser.world.emotion import default_emotions
from xlser.world.language import default_phonetics
from xlser.world.probe import probe_accuracy, transfer_matrix
from xlser.world.prosody import plan_syllables, soft_ceiling, stress_ratio
from xlser.world.speakers import SpeakerKnobs, draw_speakers
from xlser.world.synthesis import (
    build_world,
    ensure_synthetic,
    pretraining_pool,
    render_utterance,
    synthesize,
)

TINY = WorldConfig(scale="tiny")


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    synthesize(out, TINY, seed=0, progress=False)
    return out


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_bytes_serial_or_parallel(tiny, tmp_path):
    synthesize(tmp_path, TINY, seed=0, progress=False, workers=2)
    assert _hashes(tmp_path) == _hashes(tiny)


def test_different_seed_gives_different_audio(tiny, tmp_path):
    synthesize(tmp_path, TINY, seed=1, progress=False)
    a, b = _hashes(tiny), _hashes(tmp_path)
    wavs = [k for k in a if k.endswith(".wav")]
    assert wavs and all(a[k] != b.get(k) for k in wavs)


# ----------------------------------------------------------------------------- file contract


def test_tiny_counts_and_audio_format(tiny):
    df = read_manifest(tiny / "manifest.csv", check_files=True)
    counts = df.groupby(["language", "emotion", "split"]).size()
    expected = {
        (lang, e, s): TINY.tiny_per_class[s] for lang in LANGUAGES for e in EMOTIONS for s in SPLITS
    }
    assert counts.to_dict() == expected
    assert (df.speaker.str.split(":").str[0] == df.corpus).all()
    assert (df.corpus == "synth-" + df.language).all()
    for row in df.itertuples():
        info = sf.info(row.path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames / 16000 == pytest.approx(row.duration_s, abs=1e-4)
        assert 1.0 <= row.duration_s <= TINY.max_seconds
        wave = sf.read(row.path, dtype="int16")[0]
        assert 0 < np.abs(wave.astype(int)).max() < 32767  # sound, and no clipping
    meta = pd.read_csv(tiny / "metadata.csv")
    assert meta.utt_id.tolist() == df.utt_id.tolist()


def test_every_utterance_passes_the_audio_sanity_check_with_a_wide_margin(tiny):
    """The noise floor keeps even the quietest file far above the silence threshold."""
    from xlser.data.audio import SILENCE_PEAK, read_checked

    spans = []
    for path in read_manifest(tiny / "manifest.csv")["path"]:
        wave, _ = read_checked(path)  # raises for silent, constant or non-finite audio
        spans.append(float(wave.max() - wave.min()))
    assert min(spans) > 100 * SILENCE_PEAK


def test_smoke_plan_sizes_mirror_the_real_corpora_and_resolve_a_few_uar_points():
    world = build_world()
    plan, designs = world.plan, WorldConfig().designs
    for lang in LANGUAGES:
        d, sub = designs[lang], plan[plan.language == lang]
        got = sub.groupby(["split", "emotion"]).size()
        for split, per_emotion in split_plan(d).items():
            for emo, n in per_emotion.items():
                assert got.get((split, emo), 0) == n, (lang, split, emo)
        assert (sub[sub.split == "train"].emotion.value_counts() >= 6).all()  # K=3 twice over
        if lang != "en":  # acted corpora: every speaker is used
            assert sub.speaker.nunique() == d.n_speakers
    for target in ("de", "fr", "zh"):  # >= 100 per emotion: UAR standard error <= ~2.5 points
        test = plan[(plan.language == target) & (plan.split == "test")]
        assert test.emotion.value_counts().min() >= 100
        assert 100 * np.sqrt(0.25 * 0.75 / 100) / 2 <= 2.5  # binomial SE of the mean of 4 recalls
    real = {"de": (266, 35), "fr": (420, 42), "ur": (300, 20)}  # the real corpora's sizes
    for lang, (n_train, n_val) in real.items():
        sub = plan[plan.language == lang].split.value_counts()
        assert (sub["train"], sub["val"]) == (n_train, n_val)
    train = plan[plan.split == "train"].language.value_counts()
    assert min(train["en"], train["zh"]) > max(train["de"], train["fr"], train["ur"])


def test_synth_never_touches_a_folder_it_did_not_write(tmp_path):
    world = WorldConfig(
        scale="tiny", languages=["de"], tiny_per_class={"train": 1, "val": 0, "test": 0}
    )
    mine = tmp_path / "wav" / "mine" / "my_recording.wav"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"RIFF my audio")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="no xlser world") as e:
            synthesize(tmp_path, world, progress=False, overwrite=overwrite)
        assert str(tmp_path) in str(e.value)
    assert mine.read_bytes() == b"RIFF my audio"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["mine", "my_recording.wav", "wav"]


def test_overwrite_removes_only_what_xlser_wrote(tmp_path):
    world = WorldConfig(
        scale="tiny", languages=["de"], tiny_per_class={"train": 1, "val": 0, "test": 0}
    )
    synthesize(tmp_path, world, progress=False)
    with pytest.raises(FileExistsError, match="overwrite"):
        synthesize(tmp_path, world, progress=False)
    user = [tmp_path / "notes.txt", tmp_path / "wav" / "de" / "my_take.wav"]
    for f in user:
        f.write_text("keep me")
    path = synthesize(tmp_path, world, progress=False, overwrite=True, seed=1)
    assert len(read_manifest(path, check_files=True)) == 4
    assert all(f.read_text() == "keep me" for f in user)


def test_ensure_synthetic_takes_a_manifest_file_or_its_folder(tmp_path):
    world = WorldConfig(
        scale="tiny", languages=["de"], tiny_per_class={"train": 1, "val": 0, "test": 0}
    )
    path = ensure_synthetic(tmp_path / "a" / "manifest.csv", world)
    assert len(read_manifest(path, check_files=True)) == 4
    mtime = path.stat().st_mtime_ns
    assert ensure_synthetic(path, world) == path and path.stat().st_mtime_ns == mtime  # kept
    folder = ensure_synthetic(tmp_path / "b", world)  # a folder: synthesised into it, not beside
    assert len(read_manifest(folder / "manifest.csv")) == 4
    assert not (tmp_path / "manifest.csv").exists() and not (tmp_path / "wav").exists()


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(["synth", "--out", str(out), "--seed", "0", "--scale", "tiny", "--quiet"]) == 0
    assert len(read_manifest(out / "manifest.csv", check_files=True)) == 120
    assert "wrote 120 utterances" in capsys.readouterr().out
    assert main(["synth", "--out", str(out), "--scale", "tiny", "--quiet"]) == 2  # not empty
    assert "--overwrite" in capsys.readouterr().err
    zero = tmp_path / "zero"
    args = ["synth", "--out", str(zero), "--scale", "tiny", "--quiet"]
    assert main([*args, "--set", "world.dialect_strength=0"]) == 0
    assert '"dialect_strength": 0.0' in (zero / "world.json").read_text()
    neg = ["synth", "--out", str(tmp_path / "neg"), "--scale", "tiny", "--quiet"]
    assert main([*neg, "--set", "world.dialect_strength=-1"]) == 2
    assert not (tmp_path / "neg").exists()  # validated before the first write
    assert "dialect_strength" in capsys.readouterr().err


# ----------------------------------------------------------------------------- config


def test_world_config_round_trips_through_the_config_loader():
    assert from_dict(asdict(WorldConfig()), WorldConfig) == WorldConfig()
    cfg = ExperimentConfig.from_profile("smoke", **{"data.world.channels.en.snr_db": [0.0, 5.0]})
    assert cfg.data.world.channels["en"].snr_db == [0.0, 5.0]
    assert cfg.data.world.channels["en"].rt60_s == WorldConfig().channels["en"].rt60_s
    assert ExperimentConfig.from_profile("full").data.world is None  # the full profile has none
    with pytest.raises(ConfigError, match="smoke"):
        ExperimentConfig.from_profile("smoke", **{"data.world.scale": "huge"})
    with pytest.raises(ValueError, match="xx"):
        WorldConfig(languages=["xx"]).validate()
    with pytest.raises(WorldConfigError, match="dialect_strength"):
        WorldConfig(dialect_strength=-0.5).validate()
    table = WorldConfig().describe()
    assert list(table.index) == list(LANGUAGES) and table.loc["en", "speakers"] == 24
    emo = WorldConfig().describe("emotions")
    assert emo.loc[("de", "angry"), "f0_level_st"] > 0 > emo.loc[("de", "sad"), "f0_level_st"]


# ----------------------------------------------------------------------------- the dialect axis


def test_dialect_strength_zero_gives_every_language_the_shared_profile():
    shared = default_emotions()
    world = build_world(WorldConfig(dialect_strength=0.0))
    for lang in LANGUAGES:
        assert world.profiles[lang] == {e: shared[e] for e in sorted(shared)}, lang
    moved = build_world(WorldConfig(dialect_strength=1.0)).profiles
    assert moved["zh"] != moved["de"]  # the default bends the languages apart


def test_dialect_strength_scales_the_bending_in_log_space():
    p1, p2 = (build_world(WorldConfig(dialect_strength=s)).profiles for s in (1.0, 2.0))
    shared = default_emotions()
    for lang in ("en", "fr"):  # no sourced overrides: pure scaling of every effect
        for emo in ("happy", "sad"):
            a, b, base = p1[lang][emo], p2[lang][emo], shared[emo]
            # additive fields: effect * k**s; factors: base ** (k**s)
            if base.energy_db:
                k = a.energy_db / base.energy_db
                assert b.energy_db / base.energy_db == pytest.approx(k**2, rel=1e-9)
            if base.rate != 1:
                k = np.log(a.rate) / np.log(base.rate)
                assert np.log(b.rate) / np.log(base.rate) == pytest.approx(k**2, rel=1e-9)


def test_corpus_design_does_not_depend_on_the_dialect_strength():
    plans = [build_world(WorldConfig(dialect_strength=s)).plan for s in (0.0, 1.0, 2.0)]
    assert all(p.equals(plans[0]) for p in plans[1:])


# ----------------------------------------------------------------------------- rendered audio


def test_f0_has_a_soft_ceiling_not_a_plateau_on_rendered_audio():
    f = np.linspace(50, 2000, 2000)
    g = soft_ceiling(f, 300.0, 600.0)
    assert np.all(np.diff(g) > 0) and g.max() <= 600 and np.array_equal(g[f <= 300], f[f <= 300])
    world = build_world()
    knobs = world.config.speakers
    risky = world.plan[(world.plan.language == "fr") & (world.plan.emotion == "angry")]
    f0_max = [render_utterance(world, i)[1]["f0_max_hz"] for i in risky.index[:40]]
    assert max(f0_max) < knobs.f0_ceiling_hz
    assert sum(f > knobs.f0_knee_hz for f in f0_max) > 0  # compressed, not clipped
    assert len(set(np.round(f0_max))) > 30  # no common plateau value


def test_length_plan_fits_every_utterance_without_a_cut():
    world = build_world()
    cfg = world.config
    slow = world.plan[world.plan.emotion == "sad"].groupby("language").head(12)
    for i in slow.index:
        wave, info = render_utterance(world, i)
        assert info["syllables_cut"] == 0
        assert info["planned_s"] * cfg.sample_rate <= len(wave) <= cfg.max_seconds * cfg.sample_rate


def test_noise_floor_does_not_follow_the_speech_level():
    sr, n = 16000, 16000
    speech = np.r_[np.zeros(n // 2), np.random.default_rng(0).standard_normal(n // 2)]
    ch = Channel(rt60_s=0.0, level_sd_db=0.0, snr_db=[30.0, 30.0], compression=0.0)
    quiet, snr_q = apply_channel(speech, sr, ch, 0.0, np.random.default_rng(1))
    loud, snr_l = apply_channel(speech, sr, ch, 10.0, np.random.default_rng(1))
    floor_q, floor_l = (np.sqrt(np.mean(x[1000 : n // 2 - 1000] ** 2)) for x in (quiet, loud))
    assert floor_l == pytest.approx(floor_q, rel=1e-6)
    assert snr_l - snr_q == pytest.approx(10.0)


def test_pretraining_pool_is_its_own_speakers_and_deterministic():
    small = WorldConfig()
    small.designs["de"].pretrain_utterances = 6
    w, waves = pretraining_pool("de", small)
    assert len(waves) == 6 and all(x.dtype == np.float32 for x in waves)
    assert set(w.plan.split) == {"pretrain"}
    ser = set(build_world(small).plan.utt_id)
    assert not set(w.plan.utt_id) & ser
    assert all(":" in s.id and s.id.startswith("synth-de-pool") for s in w.speakers["de"])
    _, again = pretraining_pool("de", small)
    assert all(np.array_equal(a, b) for a, b in zip(waves, again))


# ----------------------------------------------------------------------------- the world's parts


def test_rhythm_matches_the_languages_npvi_and_rate():
    rng = np.random.default_rng(0)
    for lang, ph in default_phonetics().items():
        ratio, npvi, rates = stress_ratio(ph), [], []
        for _ in range(300):
            syl = plan_syllables(ph, 12, 1.0, 10.0, ratio, rng)
            v = np.array([s.durations[1] for s in syl])
            npvi.append(200 * np.mean(np.abs(np.diff(v)) / (v[1:] + v[:-1])))
            rates.append(len(syl) / sum(sum(s.durations) for s in syl))
        assert np.mean(npvi) == pytest.approx(ph.npvi_v, abs=3), lang
        assert np.mean(rates) == pytest.approx(ph.syllable_rate, rel=0.05), lang


def test_speakers_follow_the_spec():
    spk = draw_speakers(
        "synth-x", 200, 0.5, SpeakerKnobs(), list(EMOTIONS), np.random.default_rng(0)
    )
    f = [s for s in spk if s.sex == "f"]
    m = [s for s in spk if s.sex == "m"]
    assert len(f) == len(m) == 100
    assert np.mean([s.f0_hz for s in m]) == pytest.approx(120, abs=8)
    assert np.mean([s.f0_hz for s in f]) == pytest.approx(210, abs=8)
    ratio = np.mean([s.formant_scale for s in f]) / np.mean([s.formant_scale for s in m])
    assert ratio == pytest.approx(1 / 0.86, abs=0.03)
    world = build_world(TINY)
    assert world.plan.utt_id.is_unique


# ----------------------------------------------------------------------------- learnability


@pytest.mark.slow
def test_emotion_is_learnable_and_transfers_imperfectly(tmp_path):
    """A linear probe on :func:`spectral_stats`, 5-fold cross-validated within each language
    (chance 0.25), on 40 utterances per emotion and language of the smoke world."""
    world = build_world()
    keep = world.plan.groupby(["language", "emotion"]).head(40)
    rows = [(render_utterance(world, i)[0], world.plan.loc[i]) for i in keep.index]
    from xlser.world.probe import spectral_stats

    X = np.stack([spectral_stats(w) for w, _ in rows])
    emotions = np.array([r.emotion for _, r in rows])
    languages = np.array([r.language for _, r in rows])
    cross = transfer_matrix(X, emotions, languages)
    print("\n" + cross.round(2).to_string())
    for lang in ("zh", "de", "fr"):
        assert cross.loc[lang, lang] > 0.45, (lang, cross.loc[lang, lang])
    assert probe_accuracy(X, languages) > 0.8
