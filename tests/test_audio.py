"""Audio I/O and batching: mono mix, resampling, crops, padding masks, and errors naming the file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from xlser.data.audio import AudioError, SERDataset, audio_duration, collate, load_audio


def write(path, x, sr=16000, subtype="PCM_16"):
    sf.write(str(path), x, sr, subtype=subtype)
    return path


def test_stereo_is_mixed_to_mono(tmp_path):
    left = 0.5 * np.ones(16000, dtype=np.float32)
    right = -0.25 * np.ones(16000, dtype=np.float32)
    p = write(tmp_path / "s.wav", np.stack([left, right], 1), subtype="FLOAT")
    w = load_audio(p)
    assert w.shape == (16000,) and torch.allclose(w, torch.full((16000,), 0.125))


def test_resample_44k1_to_16k_keeps_a_sine(tmp_path):
    sr, f = 44100, 440.0
    t = np.arange(sr) / sr
    p = write(tmp_path / "a.wav", 0.5 * np.sin(2 * np.pi * f * t).astype(np.float32), sr, "FLOAT")
    w = load_audio(p, sample_rate=16000).numpy()
    assert abs(len(w) - 16000) <= 1
    spec = np.abs(np.fft.rfft(w[2000:14000]))
    peak = np.argmax(spec) * 16000 / 12000
    assert abs(peak - f) < 2.0  # the tone survives at the same frequency


def test_crops(tmp_path):
    x = np.arange(48000, dtype=np.float32) / 48000
    p = write(tmp_path / "long.wav", x, 16000, "FLOAT")
    start = load_audio(p, max_seconds=1.0, crop="start")
    assert start.shape == (16000,) and start[0] == 0
    g1, g2 = np.random.default_rng(1), np.random.default_rng(1)
    a, b = (
        load_audio(p, max_seconds=1.0, generator=g1),
        load_audio(p, max_seconds=1.0, generator=g2),
    )
    assert torch.equal(a, b) and a.shape == (16000,)
    # a random crop is a contiguous window of the original
    i = int(round(float(a[0]) * 48000))
    assert torch.allclose(a, torch.from_numpy(x[i : i + 16000]))
    assert load_audio(p, max_seconds=10.0).shape == (48000,)


def test_errors_name_the_file(tmp_path):
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(AudioError, match="corrupt.wav"):
        load_audio(bad)
    with pytest.raises(AudioError, match="corrupt.wav"):
        audio_duration(bad)
    short = write(tmp_path / "short.wav", np.zeros(160, dtype=np.float32))
    with pytest.raises(AudioError, match=r"short.wav: audio is 0.010 s long"):
        load_audio(short)
    empty = write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32))
    with pytest.raises(AudioError, match="empty.wav"):
        load_audio(empty)
    with pytest.raises(AudioError, match="missing.wav"):
        load_audio(tmp_path / "missing.wav")


def test_duration_from_header(tmp_path):
    p = write(tmp_path / "d.wav", np.zeros(24000, dtype=np.float32), 48000)
    assert audio_duration(p) == pytest.approx(0.5)


def test_collate_pads_and_masks():
    items = [
        {"waveform": torch.randn(n), "emotion": e, "language": 2, "speaker": s, "utt_id": str(n)}
        for n, e, s in [(5, 0, 1), (8, 3, 0), (3, 1, 2)]
    ]
    b = collate(items, normalize=False)
    assert b.input_values.shape == (3, 8) and b.attention_mask.shape == (3, 8)
    assert b.lengths.tolist() == [5, 8, 3]
    assert b.attention_mask.sum(1).tolist() == [5, 8, 3]
    assert b.attention_mask[0].tolist() == [1] * 5 + [0] * 3
    assert torch.equal(b.input_values[0, :5], items[0]["waveform"])
    assert (b.input_values[2, 3:] == 0).all()
    assert b.emotion.tolist() == [0, 3, 1] and b.speaker.tolist() == [1, 0, 2]
    assert b.utt_id == ["5", "8", "3"]


def test_collate_normalizes_over_real_samples_only():
    items = [
        {
            "waveform": 3 + 2 * torch.randn(n),
            "emotion": 0,
            "language": 0,
            "speaker": 0,
            "utt_id": "x",
        }
        for n in (400, 1000)
    ]
    b = collate(items)
    real = b.input_values[0, :400]
    assert abs(float(real.mean())) < 1e-5 and abs(float(real.std(unbiased=False)) - 1) < 1e-3
    assert (b.input_values[0, 400:] == 0).all()


def test_dataset_indices_and_unknown_label(tmp_path):
    p = write(tmp_path / "a.wav", 0.1 * np.ones(3200, dtype=np.float32))
    df = pd.DataFrame(
        [
            dict(
                utt_id="u1",
                path=str(p),
                corpus="c",
                language="fr",
                speaker="c:1",
                emotion="sad",
                split="train",
                duration_s=0.2,
            )
        ]
    )
    ds = SERDataset(df, speakers=["c:0", "c:1"])
    item = ds[0]
    assert (item["emotion"], item["language"], item["speaker"]) == (2, 3, 1)
    assert SERDataset(df, speakers=["c:9"])[0]["speaker"] == -100  # unseen speaker: ignored by CE
    df.loc[0, "emotion"] = "bored"
    with pytest.raises(ValueError, match="unknown emotion 'bored'"):
        SERDataset(df)
