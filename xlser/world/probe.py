"""A hand-made acoustic probe: utterance-level spectral and prosodic statistics.

:func:`spectral_stats` turns a waveform into a fixed-length vector: log-mel band means and
standard deviations (spectral envelope, tilt, channel), frame-energy statistics (loudness and its
dynamics) and an autocorrelation F0 estimate's level, spread and voicing (melody), plus duration.
A linear classifier on these is the yardstick of "is this learnable from acoustics at all?" for
the synthetic world, and a baseline for the real corpora.

>>> sr = 16000
>>> t = np.arange(sr) / sr
>>> x = 0.1 * np.sign(np.sin(2 * np.pi * 150 * t))  # a 150 Hz buzz
>>> s = dict(zip(STAT_NAMES, spectral_stats(x, sr)))
>>> round(2 ** (s["f0_mean_st"] / 12) * 100)
150
"""

from __future__ import annotations

import functools

import numpy as np

N_MELS = 40
FRAME, HOP, NFFT = 400, 160, 512  # 25 ms / 10 ms at 16 kHz
STAT_NAMES: tuple[str, ...] = (
    *(f"mel{i}_mean" for i in range(N_MELS)),
    *(f"mel{i}_std" for i in range(N_MELS)),
    "energy_mean", "energy_std", "energy_p10", "energy_p90", "active_share",
    "f0_mean_st", "f0_std_st", "f0_range_st", "voiced_share", "duration_s",
)  # fmt: skip


def spectral_stats(wave: np.ndarray, sr: int = 16000) -> np.ndarray:
    """Statistics vector (:data:`STAT_NAMES`) of a mono wave (float or int16)."""
    wave = np.asarray(wave)
    x = wave / 32768.0 if wave.dtype.kind == "i" else wave.astype(np.float64)
    x = np.pad(x, (0, max(0, FRAME - len(x))))
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP] * np.hanning(FRAME)
    power = np.abs(np.fft.rfft(frames, NFFT)) ** 2
    logmel = np.log(power @ _mel_bank(sr).T + 1e-10)
    energy = 10 * np.log10(power.sum(1) + 1e-10)
    active = energy > energy.max() - 30
    f0, voiced = _f0(x, sr, active)
    st = 12 * np.log2(f0[voiced] / 100) if voiced.sum() > 1 else np.zeros(2)
    return np.concatenate(
        [
            logmel[active].mean(0),
            logmel[active].std(0),
            [
                energy[active].mean(),
                energy[active].std(),
                *np.percentile(energy, [10, 90]),
                active.mean(),
            ],
            [st.mean(), st.std(), np.ptp(np.percentile(st, [10, 90])), voiced.mean(), len(x) / sr],
        ]
    )


def _f0(x: np.ndarray, sr: int, active: np.ndarray, fmin: float = 60.0, fmax: float = 450.0):
    """Per-frame F0 from the normalised autocorrelation peak (32 ms frames); voiced if peak > 0.5."""
    win = 2 * NFFT  # zero-padded FFT: no circular wrap-around
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, NFFT)), NFFT)[::HOP][
        : len(active)
    ]
    frames = frames - frames.mean(1, keepdims=True)
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames, win)) ** 2, win)[:, : NFFT // 2]
    ac /= ac[:, :1] + 1e-12
    lo, hi = int(sr / fmax), int(sr / fmin)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    peak = ac[np.arange(len(ac)), lag]
    return sr / lag, active & (peak > 0.5)


@functools.lru_cache(maxsize=4)
def _mel_bank(sr: int, n_mels: int = N_MELS, fmin: float = 50.0) -> np.ndarray:
    """Triangular mel filters (HTK mel scale) on the ``NFFT`` rfft bins."""

    def mel(f):
        return 2595 * np.log10(1 + np.asarray(f) / 700)

    edges = 700 * (10 ** (np.linspace(mel(fmin), mel(sr / 2), n_mels + 2) / 2595) - 1)
    bins = np.fft.rfftfreq(NFFT, 1 / sr)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))


def probe_features(paths, sr: int = 16000) -> np.ndarray:
    """:func:`spectral_stats` of every file in ``paths`` (mono 16 kHz), stacked ``(N, len(STAT_NAMES))``."""
    import soundfile as sf

    return np.stack([spectral_stats(sf.read(str(p), dtype="int16")[0], sr) for p in paths])


def _probe():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))


def probe_accuracy(X: np.ndarray, y, seed: int = 0, folds: int = 5) -> float:
    """Balanced accuracy of a linear probe (standardised logistic regression), k-fold cross-validated."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return float(balanced_accuracy_score(y, cross_val_predict(_probe(), X, y, cv=cv)))


def transfer_matrix(X: np.ndarray, emotions, languages, seed: int = 0):
    """Emotion probe trained on one language (rows), tested on another (columns); balanced accuracy.

    The diagonal is the in-language k-fold score (:func:`probe_accuracy`); off-diagonal cells train
    on all of the row language and test on all of the column language.
    """
    import pandas as pd
    from sklearn.metrics import balanced_accuracy_score

    emotions, languages = np.asarray(emotions), np.asarray(languages)
    langs = list(dict.fromkeys(languages))
    out = pd.DataFrame(index=langs, columns=langs, dtype=float)
    out.index.name, out.columns.name = "train", "test"
    for a in langs:
        sa = languages == a
        clf = _probe().fit(X[sa], emotions[sa])
        for b in langs:
            sb = languages == b
            out.loc[a, b] = (
                probe_accuracy(X[sa], emotions[sa], seed)
                if a == b
                else balanced_accuracy_score(emotions[sb], clf.predict(X[sb]))
            )
    return out
