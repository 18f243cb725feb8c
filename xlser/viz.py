"""The book's figures: one house style, functions that return a ``matplotlib`` ``Figure``."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from xlser import EMOTIONS, LANGUAGES

EMOTION_COLORS = dict(zip(EMOTIONS, ("#e6a700", "#c8102e", "#1f5fa8", "#7f7f7f")))
LANGUAGE_COLORS = dict(zip(LANGUAGES, ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860")))


def set_style() -> None:
    """The house style (set once in each chapter's first cell)."""
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "figure.figsize": (7.0, 3.6),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
            "legend.frameon": False,
        }
    )


def plot_counts(manifest: pd.DataFrame, split: str | None = "train") -> plt.Figure:
    """Utterances per language, stacked by emotion (one split, or all with ``split=None``)."""
    df = manifest if split is None else manifest[manifest["split"] == split]
    t = pd.crosstab(df["language"], df["emotion"])
    t = t.reindex(
        index=[x for x in LANGUAGES if x in t.index], columns=[e for e in EMOTIONS if e in t]
    )
    fig, ax = plt.subplots()
    bottom = np.zeros(len(t))
    for emo in t.columns:
        ax.bar(t.index, t[emo], bottom=bottom, label=emo, color=EMOTION_COLORS[emo])
        bottom += t[emo].to_numpy()
    ax.set_ylabel("utterances")
    ax.set_title(f"{split or 'all'} split: utterances per language and emotion")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def plot_spectrograms(
    waves: Sequence[np.ndarray], titles: Sequence[str], sr: int = 16000, ncols: int = 4
) -> plt.Figure:
    """Log-power spectrograms (0-5 kHz) of a few waveforms, one panel each."""
    n = len(waves)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.3 * nrows), squeeze=False)
    for ax, w, title in zip(axes.flat, waves, titles):
        ax.specgram(w, NFFT=512, Fs=sr, noverlap=352, cmap="magma", scale="dB", vmin=-120)
        ax.set_ylim(0, 5000)
        ax.set_title(title, fontsize=9)
        ax.grid(False)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("Hz")
    fig.tight_layout()
    return fig


def plot_matrix(
    m: pd.DataFrame, title: str, fmt: str = ".2f", vmin: float = 0.0, vmax: float = 1.0
) -> plt.Figure:
    """A labelled heatmap of a small matrix (e.g. a train-language × test-language score table)."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    sns.heatmap(m.astype(float), annot=True, fmt=fmt, vmin=vmin, vmax=vmax, cmap="viridis", ax=ax)
    ax.set_title(title)
    fig.tight_layout()
    return fig
