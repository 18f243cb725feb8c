"""Inference with a finished run: equals the trainer's evaluation, resampling, windows, bad files.

The run is trained here by ``run_experiment`` (one step) on a small hand-made corpus of tones, with
the tiny *random* encoder: its frozen base is not in ``model.safetensors``, so the predictions match
the run's own ``predictions.csv`` only if it is rebuilt exactly as the trainer built it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file, save_file
from scipy.signal import resample_poly

import xlser
from xlser import EMOTIONS
from xlser.cli import main
from xlser.config import ExperimentConfig, ModelConfig, load_config, save_config
from xlser.data.manifest import write_manifest
from xlser.encoder import EncoderNotFoundError, tiny_wav2vec2_config
from xlser.experiment import run_experiment
from xlser.predict import PROB_COLUMNS, RunFolderError, find_audio, load_run, window_starts

SR = 16000


def tone(f0: float, seconds: float, seed: int) -> np.ndarray:
    """A voiced-ish tone: harmonics of ``f0`` with vibrato and a little noise, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 6)) + 0.05 * rng.standard_normal(t.size)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Four training languages (one train and one val clip per emotion), eight German test clips."""
    root = tmp_path_factory.mktemp("tones")
    rows = []
    langs = ("en", "zh", "fr", "ur")
    plan = [(lang, split, 1) for lang in langs for split in ("train", "val")] + [("de", "test", 2)]
    for lang, split, n in plan:
        for e, emo in enumerate(EMOTIONS):
            for k in range(n):
                i = len(rows)
                path = root / f"{lang}-{i:03d}.wav"
                sf.write(str(path), tone(110 + 60 * e + 7 * k, 0.6 + 0.1 * k, i), SR, "PCM_16")
                rows.append((f"{lang}-{i:03d}", str(path), lang, f"{lang}:s{e}", emo, split))
    df = pd.DataFrame(rows, columns=["utt_id", "path", "language", "speaker", "emotion", "split"])
    df["corpus"], df["duration_s"] = df["language"], [sf.info(p).duration for p in df["path"]]
    return write_manifest(df, root / "manifest.csv")


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """(run folder, target test rows): one step of ``proposed`` (it has the speaker adversary)."""
    cfg = ExperimentConfig.from_profile(
        "smoke",
        task="en-de",
        system="proposed",
        seed=3,
        **{
            "data.manifests": [str(corpus)],
            "data.synthesize_if_missing": False,
            "model.encoder": "tiny",
            "sampler.replacement": True,
            "sampler.num_batches": 1,
            "train.max_steps": 1,
            "train.eval_every": 10_000,
        },
    )
    run_dir = tmp_path_factory.mktemp("run") / "en-de-proposed"
    run_experiment(cfg, run_dir, progress=False)
    rows = pd.read_csv(corpus)
    test = rows[(rows["language"] == "de") & (rows["split"] == "test")]
    test = test.assign(path=[str(corpus.parent / p) for p in test["path"]])
    return run_dir, test.reset_index(drop=True)


@pytest.fixture(scope="module")
def run(trained):
    return load_run(trained[0], device="cpu")


def probs(df: pd.DataFrame) -> np.ndarray:
    return df[list(PROB_COLUMNS)].to_numpy(dtype=np.float64)  # (N, 4)


def test_predictions_equal_the_trainers_evaluation(trained, run):
    run_dir, test = trained
    # the trainer's own test evaluation, as run_experiment wrote it (rows aligned with embeddings)
    written = pd.read_csv(run_dir / "predictions.csv")
    embeddings = load_file(str(run_dir / "embeddings.safetensors"))["embeddings"].numpy()
    target = written["is_target"].to_numpy()
    ref, ref_e = written[target].set_index("utt_id"), embeddings[target]
    df = run.predict(test["path"].tolist(), return_embeddings=True)
    assert len(df) == len(test) == len(ref) == 8
    order = [ref.index.get_loc(u) for u in test["utt_id"]]
    # the trainer evaluates from its float16 cache of CNN features (xlser.frontend), predict runs
    # the whole encoder in float32: equal up to that rounding (measured: 7e-6 on probabilities)
    np.testing.assert_allclose(probs(df), probs(ref.iloc[order]), atol=5e-5)
    np.testing.assert_allclose(np.stack(df["embedding"]), ref_e[order], atol=5e-4)
    assert df["pred"].tolist() == ref["pred"].iloc[order].tolist()
    assert np.allclose(probs(df).sum(1), 1.0) and (df["n_windows"] == 1).all()
    assert run.model.speaker_head is None  # the adversary's tensors were in the file, not loaded
    assert any(k.startswith("speaker_head.") for k in load_file(str(run_dir / "model.safetensors")))


def test_single_path_and_array_agree(trained, run):
    path = trained[1]["path"].iloc[0]
    by_path = run.predict(path)
    wave, sr = sf.read(path, dtype="float32")
    by_array = run.predict(wave, sample_rate=sr)
    assert by_path["input"].tolist() == [path] and by_array["input"].tolist() == ["<array>"]
    np.testing.assert_allclose(probs(by_path), probs(by_array), atol=1e-6)
    with pytest.raises(ValueError, match="sample_rate"):
        run.predict(wave)


def test_44k1_stereo_gives_the_mono_16k_prediction(trained, run, tmp_path):
    test = trained[1]
    mono = run.predict(test["path"].tolist())
    top2 = np.sort(probs(mono), axis=1)[:, -2:]
    i = int(np.argmax(top2[:, 1] - top2[:, 0]))  # the clip with the clearest top label
    x, _ = sf.read(test["path"].iloc[i], dtype="float32")
    x44 = resample_poly(x.astype(np.float64), 441, 160)  # scipy, not the library's resampler
    noise = 0.3 * np.random.default_rng(0).standard_normal(x44.size)
    stereo = np.stack([x44 + noise, x44 - noise], axis=1).astype(np.float32)  # mean: x44
    p = tmp_path / "stereo44k.wav"
    sf.write(str(p), stereo, 44100, "FLOAT")
    got = run.predict(p)
    assert got["pred"].iloc[0] == mono["pred"].iloc[i]
    np.testing.assert_allclose(probs(got)[0], probs(mono)[i], atol=2e-3)
    # the same audio as an array, channels last or first
    a = run.predict(stereo, sample_rate=44100)
    b = run.predict(torch.from_numpy(stereo.T.copy()), sample_rate=44100)
    np.testing.assert_allclose(probs(a), probs(got), atol=1e-6)
    np.testing.assert_allclose(probs(b), probs(got), atol=1e-6)
    # the left channel alone differs: the channels are averaged, not one of them picked
    left = run.predict(stereo[:, 0], sample_rate=44100)
    assert (
        np.abs(probs(left) - probs(got)).max() > 10 * np.abs(probs(got)[0] - probs(mono)[i]).max()
    )


def test_window_starts_cover_the_audio():
    for n, win, hop in [(160_000, 32_000, 16_000), (170_001, 32_000, 16_000), (5, 10, 5)]:
        starts = window_starts(n, win, hop)
        assert starts[0] == 0 and starts[-1] == max(n - win, 0)
        assert all(0 < b - a <= hop for a, b in zip(starts, starts[1:]))


def test_long_file_in_windows(trained, run, tmp_path):
    path = trained[1]["path"].iloc[1]
    x, _ = sf.read(path, dtype="float32")
    clip = run.predict(x, sample_rate=SR)
    long = np.tile(x, 4)  # the clip four times over
    window = len(x) / SR
    tiled = load_run(trained[0], device="cpu", overrides={"data.eval_max_seconds": window})
    assert (tiled.window_s, tiled.hop_s) == (window, window / 2)  # hop: half the window
    tiled.hop_s = window  # windows at the clip's boundaries: each window is the clip
    out = tiled.predict(long, sample_rate=SR)
    assert out["n_windows"].iloc[0] == 4
    np.testing.assert_allclose(probs(out), probs(clip), atol=1e-6)
    assert out["pred"].iloc[0] == clip["pred"].iloc[0]
    # overlapping windows: the mean of each window's own prediction
    tiled.hop_s = window / 2
    out = tiled.predict(long, sample_rate=SR, return_embeddings=True)
    n = len(x)
    parts = [
        tiled.predict(long[s : s + n], sample_rate=SR, return_embeddings=True)
        for s in window_starts(long.size, n, n // 2)
    ]
    assert out["n_windows"].iloc[0] == len(parts) == 7
    np.testing.assert_allclose(probs(out)[0], np.mean([probs(q)[0] for q in parts], 0), atol=1e-6)
    emb = np.mean([q["embedding"].iloc[0] for q in parts], 0)
    np.testing.assert_allclose(out["embedding"].iloc[0], emb, atol=1e-5)
    assert (run.window_s, run.hop_s) == (10.0, 5.0)  # the run has no eval_max_seconds


def test_cli_lists_bad_files_and_predicts_the_rest(trained, tmp_path, capsys):
    test = trained[1]
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    x, _ = sf.read(test["path"].iloc[0], dtype="float32")
    sf.write(str(folder / "a.wav"), x, SR)
    sf.write(str(folder / "sub" / "b.FLAC"), x, SR)
    sf.write(str(folder / "c.mp3"), x, SR)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "corrupt.ogg").write_bytes(b"OggS" + bytes(range(256)) * 4)
    sf.write(str(folder / "silent.wav"), np.zeros(0, np.float32), SR)
    (folder / "notes.txt").write_text("not audio")  # not searched in a folder...
    listed = tmp_path / "listed.wav"  # ...but a file given by name is tried
    listed.write_text("not audio either")
    out = tmp_path / "preds.csv"
    argv = ["predict", str(trained[0]), str(folder), str(listed), str(tmp_path / "missing.wav")]
    rc = main([*argv, "--json", "--out", str(out)])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert rc == 1
    predicted = {p.split("/")[-1] for p in pd.read_csv(out)["input"]}
    assert predicted == {"a.wav", "b.FLAC", "c.mp3"}
    assert [r["input"].split("/")[-1] for r in report["predictions"]] == [
        "a.wav",
        "c.mp3",
        "b.FLAC",
    ]
    failed = {f["input"].split("/")[-1]: f["error"] for f in report["failed"]}
    assert set(failed) == {"empty.wav", "corrupt.ogg", "silent.wav", "listed.wav", "missing.wav"}
    assert "no samples" in failed["silent.wav"] and "no such file" in failed["missing.wav"]
    assert "corrupt.ogg" in captured.err and "5 input(s) failed, 3 predicted" in captured.err
    # a.wav and b.FLAC hold the same samples: same prediction; the table output works too
    a, b = (report["predictions"][i] for i in (0, 2))
    assert a["pred"] == b["pred"] and a["prob_sad"] == pytest.approx(b["prob_sad"], abs=1e-6)
    assert main(["predict", str(trained[0]), str(folder / "a.wav")]) == 0
    assert "a.wav" in capsys.readouterr().out
    assert main([*argv[:3], "--out", str(out)]) == 2  # exists: not replaced without --overwrite
    assert "--overwrite" in capsys.readouterr().err


def test_find_audio_reports_an_empty_folder(tmp_path):
    files, failed = find_audio([tmp_path])
    assert files == [] and failed == [(str(tmp_path), failed[0][1])]
    assert ".wav" in failed[0][1]


def test_not_a_run_folder(tmp_path, capsys):
    with pytest.raises(RunFolderError, match=r"not a finished xlser run.*python -m xlser train"):
        load_run(tmp_path)
    with pytest.raises(RunFolderError, match="does not exist"):
        load_run(tmp_path / "nowhere")
    save_config(ExperimentConfig.from_profile("smoke"), tmp_path / "config.yaml")
    with pytest.raises(RunFolderError, match="not a finished xlser run folder"):
        load_run(tmp_path)  # a config alone is not a run
    (tmp_path / "run.json").write_text(json.dumps({"xlser_run": 1}))  # run_experiment's marker
    with pytest.raises(RunFolderError, match=r"has not finished.*metrics\.json.*--config"):
        load_run(tmp_path)
    assert main(["predict", str(tmp_path), str(tmp_path)]) == 2
    assert "has not finished" in capsys.readouterr().err


def copy_run(run_dir, dst, **model_keys):
    """A copy of the run folder whose config sets ``model.<key>`` as given."""
    dst.mkdir()
    for f in ("model.safetensors", "metrics.json"):
        shutil.copy(run_dir / f, dst / f)
    cfg = load_config(run_dir / "config.yaml")
    for k, v in model_keys.items():
        setattr(cfg.model, k, v)
    save_config(cfg, dst / "config.yaml")
    return dst


def test_moved_encoder_folder_names_path_and_key(trained, run, tmp_path):
    # an encoder folder holding the same tiny architecture, with pretrained-style weights
    from transformers import Wav2Vec2Model

    torch.manual_seed(0)
    enc = tmp_path / "w2v2-tiny"
    Wav2Vec2Model._from_config(tiny_wav2vec2_config(ModelConfig())).save_pretrained(enc)
    x, _ = sf.read(trained[1]["path"].iloc[0], dtype="float32")
    for keys, key in [
        ({"encoder": str(enc)}, "model.encoder"),
        ({"encoder": "auto", "checkpoints": {"en": str(enc)}}, "model.checkpoints.en"),
    ]:
        run_dir = copy_run(trained[0], tmp_path / key, **keys)
        before = load_run(run_dir, device="cpu").predict(x, sample_rate=SR)
        moved = enc.rename(tmp_path / "moved")
        with pytest.raises(EncoderNotFoundError) as err:
            load_run(run_dir)
        assert str(enc) in str(err.value) and f"{key}=" in str(err.value)
        again = load_run(run_dir, device="cpu", overrides={key: str(moved)})
        after = again.predict(x, sample_rate=SR)
        np.testing.assert_allclose(probs(after), probs(before), atol=1e-6)
        moved.rename(enc)
    # the folder's weights, not the seed's random draw, are the frozen base
    assert np.abs(probs(before) - probs(run.predict(x, sample_rate=SR))).max() > 1e-4


def test_tensors_must_fit_the_model(trained, tmp_path):
    tensors = load_file(str(trained[0] / "model.safetensors"))
    for name, change, bad in [
        ("extra", lambda t: t.update({"head.weight": torch.zeros(2)}), "head.weight"),
        ("missing", lambda t: t.pop("emotion_head.weight"), "emotion_head.weight"),
    ]:
        run_dir = copy_run(trained[0], tmp_path / name)
        t = dict(tensors)
        change(t)
        save_file(t, str(run_dir / "model.safetensors"))
        with pytest.raises(RunFolderError, match=bad.replace(".", r"\.")):
            load_run(run_dir)


def test_import_xlser_stays_light():
    code = "import sys, xlser; assert 'torch' not in sys.modules; print(xlser.EMOTIONS[0])"
    assert subprocess.run([sys.executable, "-c", code], check=True, capture_output=True).stdout
    assert xlser.load_run is load_run
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        _ = xlser.nonsense
