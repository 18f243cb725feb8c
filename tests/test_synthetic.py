"""The synthetic world: determinism, sizes, the file contract, the CLI, and that it is learnable.

The tiny scale serves the contract tests; the smoke scale is synthesised once (module fixture)
for the size and learnability checks.
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
from xlser.data.synthetic import WorldConfig, build_world, ensure_synthetic, synthesize
from xlser.data.world_corpus import emotion_counts, split_counts
from xlser.data.world_language import default_phonetics
from xlser.data.world_probe import probe_accuracy, probe_features, transfer_matrix
from xlser.data.world_prosody import plan_syllables, stress_ratio
from xlser.data.world_speakers import SpeakerKnobs, draw_speakers

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


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[pd.DataFrame, np.ndarray]:
    """The smoke corpus's manifest and the probe features of every utterance."""
    out = tmp_path_factory.mktemp("smoke")
    df = read_manifest(synthesize(out, seed=0, progress=False), check_files=True)
    X = probe_features(df.path)
    return df, X


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
        assert 1.0 <= row.duration_s <= 3.0
        wave = sf.read(row.path, dtype="int16")[0]
        assert 0 < np.abs(wave.astype(int)).max() < 32767  # sound, and no clipping
    meta = pd.read_csv(tiny / "metadata.csv")
    assert meta.utt_id.tolist() == df.utt_id.tolist()


def test_smoke_counts_mirror_the_real_corpora(smoke):
    df, _ = smoke
    designs = WorldConfig().designs
    assert 700 <= len(df) <= 1000
    for lang in LANGUAGES:
        d, sub = designs[lang], df[df.language == lang]
        for emo, n in emotion_counts(d).items():
            got = sub[sub.emotion == emo].split.value_counts().reindex(SPLITS, fill_value=0)
            assert got.to_dict() == split_counts(n, d.split_fractions), (lang, emo)
            assert got["train"] >= 6, (lang, emo)  # every sampler pool has K=3 twice over
        assert sub.speaker.nunique() <= d.n_speakers
        if lang != "en":  # acted corpora: every speaker is used
            assert sub.speaker.nunique() == d.n_speakers
    en, fr = df[df.language == "en"], df[df.language == "fr"]
    assert (en.emotion == "neutral").mean() > 0.5  # MELD is neutral-heavy
    assert (fr.emotion == "neutral").sum() * 2 == (fr.emotion == "sad").sum()  # CaFE
    assert (
        df[df.language.isin(["en", "zh"])].shape[0]
        > df[df.language.isin(["de", "fr", "ur"])].shape[0]
    )


def test_refuses_non_empty_dir_without_overwrite(tmp_path):
    world = WorldConfig(
        scale="tiny", languages=["de"], tiny_per_class={"train": 1, "val": 0, "test": 0}
    )
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="overwrite") as e:
        synthesize(tmp_path, world, progress=False)
    assert str(tmp_path) in str(e.value)
    assert not (tmp_path / "manifest.csv").exists()
    stale = tmp_path / "wav" / "de" / "stale.wav"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")
    path = synthesize(tmp_path, world, progress=False, overwrite=True)
    assert len(read_manifest(path, check_files=True)) == 4
    assert not stale.exists() and (tmp_path / "notes.txt").exists()


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


# ----------------------------------------------------------------------------- config


def test_world_config_round_trips_through_the_config_loader():
    assert from_dict(asdict(WorldConfig()), WorldConfig) == WorldConfig()
    cfg = ExperimentConfig.from_profile("smoke", **{"world.channels.en.snr_db": [0.0, 5.0]})
    assert cfg.world.channels["en"].snr_db == [0.0, 5.0]
    assert cfg.world.channels["en"].rt60_s == WorldConfig().channels["en"].rt60_s
    with pytest.raises(ConfigError, match="smoke"):
        ExperimentConfig.from_profile("smoke", **{"world.scale": "huge"})
    with pytest.raises(ValueError, match="xx"):
        WorldConfig(languages=["xx"]).validate()
    table = WorldConfig().describe()
    assert list(table.index) == list(LANGUAGES) and table.loc["en", "speakers"] == 24
    emo = WorldConfig().describe("emotions")
    assert emo.loc[("de", "angry"), "f0_level_st"] > 0 > emo.loc[("de", "sad"), "f0_level_st"]


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


def test_emotion_and_language_are_learnable_and_transfer_imperfectly(smoke):
    """A linear probe on :func:`spectral_stats`, 5-fold cross-validated within each language
    (chance 0.25). English is designed weaker (MELD-like: low intensity, label noise, noisy channel);
    the acted corpora are clearly learnable. Language ID (chance 0.2) is easy: channels differ too."""
    df, X = smoke
    cross = transfer_matrix(X, df.emotion, df.language)
    within = {lang: cross.loc[lang, lang] for lang in LANGUAGES}
    lid = probe_accuracy(X, df.language)
    print(
        f"\nin-language emotion (5-fold balanced acc): { {k: round(v, 3) for k, v in within.items()} }"
    )
    print(f"language ID (5-fold balanced acc): {lid:.3f}")
    print("train (rows) -> test (columns), balanced acc; diagonal = in-language CV:")
    print(cross.round(2).to_string())
    for lang in ("zh", "de", "fr", "ur"):
        assert within[lang] > 0.45, (lang, within[lang])
    assert within["en"] > 0.33, within["en"]
    assert lid > 0.8
