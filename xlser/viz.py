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
    ax.grid(False)
    ax.set_title(title)
    fig.tight_layout()
    return fig


SOURCE_COLORS: tuple[str, ...] = ("#8c8c8c", "#4c72b0", "#dd8452", "#55a868", "#8172b3")
"""Colours of the sources compared by :func:`plot_shares` and :func:`plot_positive_counts`."""


def plot_shares(panels: dict[str, pd.DataFrame], ylabel: str = "share of utterances") -> plt.Figure:
    """Grouped bars comparing category shares across sources, one panel per table.

    Each table has the categories as rows (e.g. languages) and the sources as columns (e.g. the
    training set and the batches of two samplers); values are shares in [0, 1].
    """
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.8 * len(panels) + 1.6, 3.2), squeeze=False, sharey=True
    )
    for ax, (title, t) in zip(axes.flat, panels.items()):
        x, n = np.arange(len(t)), t.shape[1]
        width = 0.8 / n
        for j, col in enumerate(t.columns):
            offset = (j - (n - 1) / 2) * width
            color = SOURCE_COLORS[j % len(SOURCE_COLORS)]
            ax.bar(x + offset, t[col].to_numpy(), width, label=str(col), color=color)
        ax.set_xticks(x, [str(i) for i in t.index])
        ax.set_title(title)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def plot_positive_counts(counts: pd.DataFrame, by: str = "sampler") -> plt.Figure:
    """Same-language and cross-lingual positives per anchor: share of anchors with each count.

    ``counts`` has one row per anchor, integer columns ``same_language`` and ``cross_lingual``, and
    a group column ``by`` (e.g. the sampler); each group gets its own bars, and its legend entry
    gives the share of its anchors with no positive of that kind.
    """
    groups = list(dict.fromkeys(counts[by]))
    width = 0.8 / len(groups)
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.4), sharey=True)
    for ax, col in zip(axes, ("same_language", "cross_lingual")):
        top = int(counts[col].max())
        x = np.arange(top + 1)
        for j, g in enumerate(groups):
            v = counts.loc[counts[by] == g, col].to_numpy().astype(int)
            share = np.bincount(v, minlength=top + 1) / max(len(v), 1)
            offset = (j - (len(groups) - 1) / 2) * width
            color = SOURCE_COLORS[(j + 1) % len(SOURCE_COLORS)]
            ax.bar(x + offset, share, width, color=color, label=f"{g} (none: {share[0]:.1%})")
        kind = col.replace("_", "-")
        ax.set_xlabel(f"{kind} positives of an anchor")
        ax.set_title(f"{kind} positives")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.legend(loc="upper right")
    axes[0].set_ylabel("share of anchors")
    fig.tight_layout()
    return fig


CURVE_COLORS: tuple[str, ...] = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
"""Colours of the runs drawn by :func:`plot_curves` and :func:`plot_bars` (in order of appearance)."""
_DASHES = ("-", "--", ":", "-.")
_LANGUAGE_MARKERS = dict(zip(LANGUAGES, ("o", "s", "^", "D", "v")))


def plot_curves(
    df: pd.DataFrame,
    x: str,
    y: str,
    hue: str,
    style: str | None = None,
    col: str | None = None,
    title: str | None = None,
    ylabel: str | None = None,
) -> plt.Figure:
    """Lines from a long-format table: colour by ``hue``, dash by ``style``, one panel per ``col``.

    Rows that share ``(col, hue, style, x)`` (e.g. several seeds) are averaged. Colours and dashes
    follow the order in which values first appear in ``df``.
    """
    panels = list(dict.fromkeys(df[col])) if col else [None]
    hues = list(dict.fromkeys(df[hue]))
    styles = list(dict.fromkeys(df[style])) if style else [None]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + 1.8, 3.3), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        d = df if col is None else df[df[col] == panel]
        for i, h in enumerate(hues):
            for j, s in enumerate(styles):
                sel = d[(d[hue] == h) & ((d[style] == s) if style else True)]
                if sel.empty:
                    continue
                line = sel.groupby(x)[y].mean()
                color, dash = CURVE_COLORS[i % len(CURVE_COLORS)], _DASHES[j % len(_DASHES)]
                ax.plot(line.index, line.to_numpy(), color=color, linestyle=dash, lw=1.6)
        ax.set_xlabel(x)
        ax.set_title(str(panel) if panel is not None else (title or ""))
    axes[0, 0].set_ylabel(ylabel or y)
    handles = [
        plt.Line2D([], [], color=CURVE_COLORS[i % len(CURVE_COLORS)], lw=2, label=str(h))
        for i, h in enumerate(hues)
    ]
    if style:
        handles += [
            plt.Line2D([], [], color="k", linestyle=_DASHES[j % len(_DASHES)], label=str(s))
            for j, s in enumerate(styles)
        ]
    axes[0, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title and col:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_embeddings_2d(
    panels: dict[str, tuple[np.ndarray, Sequence[str], Sequence[str]]], normalize: bool = True
) -> plt.Figure:
    """Embeddings in 2-D, colour = emotion, marker = language; one panel per ``title: (E, emo, lang)``.

    ``E`` is ``(N, D)``; with ``normalize`` rows are L2-normalised first (cosine geometry), and
    ``D > 2`` is projected on its first two principal components (each panel its own PCA).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels) + 1.6, 3.3), squeeze=False)
    for ax, (title, (emb, emotions, languages)) in zip(axes.flat, panels.items()):
        z = np.asarray(emb, dtype=float)
        if normalize:
            z = z / np.linalg.norm(z, axis=1, keepdims=True).clip(1e-12)
        if z.shape[1] > 2:
            zc = z - z.mean(0)
            z = zc @ np.linalg.svd(zc, full_matrices=False)[2][:2].T
        emotions, languages = np.asarray(emotions), np.asarray(languages)
        for lang in dict.fromkeys(languages):
            for emo in dict.fromkeys(emotions):
                m = (languages == lang) & (emotions == emo)
                ax.scatter(
                    z[m, 0], z[m, 1], s=28, color=EMOTION_COLORS.get(emo, "k"),
                    marker=_LANGUAGE_MARKERS.get(lang, "o"), edgecolor="white", linewidth=0.5,
                )  # fmt: skip
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [
        plt.Line2D([], [], ls="", marker="o", color=EMOTION_COLORS.get(e, "k"), label=str(e))
        for e in dict.fromkeys(np.asarray(emotions))
    ] + [
        plt.Line2D([], [], ls="", marker=_LANGUAGE_MARKERS.get(g, "o"), color="k", label=str(g))
        for g in dict.fromkeys(np.asarray(languages))
    ]
    axes[0, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def plot_bars(
    df: pd.DataFrame,
    x: str,
    y: str,
    hue: str,
    col: str | None = None,
    chance: dict[str, float] | None = None,
    ylabel: str | None = None,
    sharey: bool = True,
) -> plt.Figure:
    """Grouped bars of the mean of ``y`` per ``(x, hue)``, with every repeated row as a dot.

    Repeated rows (e.g. seeds) are drawn individually so their spread stays visible. ``chance``
    maps ``hue`` values to a chance level, drawn as a dashed line in that hue's colour, or ``col``
    values to a chance level for the whole panel (grey); one panel per ``col`` value.
    """
    panels = list(dict.fromkeys(df[col])) if col else [None]
    xs, hues = list(dict.fromkeys(df[x])), list(dict.fromkeys(df[hue]))
    width = 0.8 / len(hues)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.6 * len(panels) + 1.8, 3.3), squeeze=False, sharey=sharey
    )
    for ax, panel in zip(axes.flat, panels):
        d = df if col is None else df[df[col] == panel]
        for j, h in enumerate(hues):
            color = CURVE_COLORS[j % len(CURVE_COLORS)]
            offset = (j - (len(hues) - 1) / 2) * width
            for i, xv in enumerate(xs):
                v = d.loc[(d[x] == xv) & (d[hue] == h), y].to_numpy(dtype=float)
                if len(v):
                    ax.bar(i + offset, v.mean(), width, color=color, alpha=0.75)
                    ax.scatter(np.full(len(v), i + offset), v, s=12, color="k", zorder=3)
            if chance and h in chance:
                ax.axhline(chance[h], color=color, ls="--", lw=1)
        if chance and panel in chance:
            ax.axhline(chance[panel], color="#555555", ls="--", lw=1)
        ax.set_xticks(np.arange(len(xs)), [str(v) for v in xs])
        ax.set_xlabel(x)
        if panel is not None:
            ax.set_title(str(panel))
    axes[0, 0].set_ylabel(ylabel or y)
    handles = [
        plt.Rectangle(
            (0, 0), 1, 1, color=CURVE_COLORS[j % len(CURVE_COLORS)], alpha=0.75, label=str(h)
        )
        for j, h in enumerate(hues)
    ]
    if chance:
        handles.append(plt.Line2D([], [], color="k", ls="--", lw=1, label="chance"))
    axes[0, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
