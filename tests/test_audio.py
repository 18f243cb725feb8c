"""Audio I/O and batching: mono mix, resampling, crops, padding masks, errors naming the file,
the signal sanity check (silent, constant, NaN/inf) and the fast header check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

import xlser.data.audio as audio
from xlser.data.audio import (
    SILENCE_PEAK,
    AudioError,
    SERDataset,
    audio_duration,
    check_headers,
    collate,
    load_audio,
    signal_problem,
)


def write(path, x, sr=16000, subtype="PCM_16"):
    sf.write(str(path), x, sr, subtype=subtype)
    return path


def test_stereo_is_mixed_to_mono(tmp_path):
    left = 0.5 * np.sin(np.arange(16000, dtype=np.float32))
    right = -0.25 * np.sin(np.arange(16000, dtype=np.float32))
    p = write(tmp_path / "s.wav", np.stack([left, right], 1), subtype="FLOAT")
    w = load_audio(p)
    assert w.shape == (16000,) and torch.allclose(w, torch.from_numpy(left / 4), atol=1e-7)


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
    short = write(tmp_path / "short.wav", 0.1 * np.sin(np.arange(160, dtype=np.float32)))
    with pytest.raises(AudioError, match=r"short.wav: audio is 0.010 s long"):
        load_audio(short)
    one = write(tmp_path / "one.wav", np.array([0.5], dtype=np.float32))
    with pytest.raises(AudioError, match=r"one.wav: audio is 0.000 s long; at least 0.025 s"):
        load_audio(one)  # too short, not "constant"
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
    p = write(tmp_path / "a.wav", 0.1 * np.sin(np.arange(3200, dtype=np.float32)))
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


# ------------------------------------------------------------------------- signal sanity


def tone(n=16000, amp=0.1):
    return (amp * np.sin(2 * np.pi * 220 * np.arange(n) / 16000)).astype(np.float32)


@pytest.mark.parametrize(
    ("name", "x", "subtype", "needle"),
    [
        (
            "zeros.wav",
            np.zeros(16000, np.float32),
            "PCM_16",
            r"audio is silent \(every sample within 0.0001 of zero",
        ),
        # 1 step of 16-bit PCM (3e-5) at every other sample: rounding noise, not a recording
        ("lsb.wav", np.tile([0.0, 1 / 32768], 8000).astype(np.float32), "PCM_16", "silent"),
        (
            "dc.wav",
            np.full(16000, 0.25, np.float32),
            "PCM_16",
            r"audio is constant \(0.25 in every",
        ),
        ("nan.wav", np.full(16000, np.nan, np.float32), "FLOAT", "16000 NaN or infinite"),
        ("inf.wav", np.r_[tone(15999), np.inf].astype(np.float32), "FLOAT", "1 NaN or infinite"),
    ],
)
def test_silent_constant_and_non_finite_audio_is_refused_naming_file_and_fix(
    tmp_path, name, x, subtype, needle
):
    p = write(tmp_path / name, x, subtype=subtype)
    with pytest.raises(AudioError, match=needle) as e:
        load_audio(p)
    assert str(e.value).startswith(f"{p}: ") and "--skip-bad" in str(e.value)


def test_quiet_but_real_audio_passes_and_stereo_is_checked_after_the_mix(tmp_path):
    # a -70 dBFS noise floor (about 10 steps of 16-bit PCM) is quiet, not silent
    rng = np.random.default_rng(0)
    floor = (10 ** (-70 / 20) * rng.standard_normal(16000)).astype(np.float32)
    assert load_audio(write(tmp_path / "quiet.wav", floor)).abs().max() > SILENCE_PEAK
    x = tone()
    opposite = write(tmp_path / "anti.wav", np.stack([x, -x], 1), subtype="FLOAT")
    with pytest.raises(AudioError, match="silent"):  # the model hears the mono mix: nothing
        load_audio(opposite)
    assert signal_problem(x) is None and signal_problem(np.float32(0.5) + x) is None


def test_signal_problem_thresholds_are_the_documented_ones():
    wobble = np.tile([0.5, -0.5], 400)  # mean 0, peak to peak 1
    below, above = 0.98 * SILENCE_PEAK * wobble, 1.02 * SILENCE_PEAK * wobble
    assert "silent" in signal_problem(below) and signal_problem(above) is None
    # a DC offset with a wobble below the threshold is constant: the span is peak to peak
    assert "constant (0.3 in every sample" in signal_problem(0.3 + below)
    assert signal_problem(0.3 + above) is None
    # a lone click in digital silence is a signal (the check is on the peaks, not the RMS)
    assert signal_problem(np.r_[np.zeros(799), 2 * SILENCE_PEAK]) is None


# ------------------------------------------------------------------------------ header check


def test_check_headers_names_missing_corrupt_empty_and_short_files(tmp_path):
    good = write(tmp_path / "good.wav", tone())
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    empty = write(tmp_path / "empty.wav", np.zeros(0, np.float32))
    short = write(tmp_path / "short.wav", tone(160))
    missing = tmp_path / "missing.wav"
    bad = dict(check_headers([good, corrupt, empty, short, missing]))
    assert set(bad) == {str(corrupt), str(empty), str(short), str(missing)}
    assert bad[str(missing)] == "does not exist"
    assert bad[str(empty)] == "audio file has no samples"
    assert bad[str(short)] == "audio is 0.010 s long; at least 0.025 s is needed"
    assert "cannot read audio header" in bad[str(corrupt)]


def test_check_headers_rereads_a_file_that_changed(tmp_path):
    p = write(tmp_path / "a.wav", tone())
    assert check_headers([p]) == [] and str(p) in audio._HEADERS
    p.write_bytes(b"not audio any more")  # new size and mtime: the remembered header is stale
    assert [q for q, _ in check_headers([p])] == [str(p)]
