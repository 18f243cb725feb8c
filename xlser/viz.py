"""The book's figures: one house style, functions that return a ``matplotlib`` ``Figure``.

Every figure is at most :data:`PAGE_WIDTH` inches wide, legends included, so that it is shown at
its natural size in the book's content column (about 700 px) and its 9-10 pt text stays readable.
Multi-panel figures wrap onto several rows instead of growing wider.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from xlser import EMOTIONS, LANGUAGES

EMOTION_COLORS = dict(zip(EMOTIONS, ("#e6a700", "#c8102e", "#1f5fa8", "#7f7f7f")))
LANGUAGE_COLORS = dict(zip(LANGUAGES, ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860")))

PAGE_WIDTH = 6.5
"""Width in inches of every figure: the content column (~700 px) at the house dpi of 110."""


def set_style() -> None:
    """The house style (set once in each chapter's first cell)."""
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "figure.figsize": (PAGE_WIDTH, 3.4),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
            "axes.titlesize": 10.5,
            "axes.labelsize": 10,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "figure.titlesize": 11,
        }
    )


def panel_grid(
    n: int, ncols: int = 2, panel_height: float = 2.6, width: float = PAGE_WIDTH, **kwargs
) -> tuple[plt.Figure, np.ndarray]:
    """A page-wide figure with ``n`` panels on rows of at most ``ncols``; axes as a 2-D array.

    The figure uses constrained layout, so :func:`legend_below` or a spare panel can hold the legend
    without widening it. Panels past ``n`` are left for the caller (see :func:`finish_grid`).
    """
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    return plt.subplots(
        nrows,
        ncols,
        figsize=(width, panel_height * nrows),
        squeeze=False,
        layout="constrained",
        **kwargs,
    )


def finish_grid(fig: plt.Figure, axes: np.ndarray, n: int, handles: Sequence | None = None) -> None:
    """Hide the unused panels after the first ``n``; put the legend in the first of them if there
    is one, else below the panels."""
    spare = list(axes.flat)[n:]
    for ax in spare:
        ax.axis("off")
    if not handles:
        return
    if spare:
        spare[0].legend(handles=handles, loc="center")
    else:
        legend_below(fig, handles)


def legend_below(fig: plt.Figure, handles: Sequence, ncol: int | None = None) -> None:
    """One legend for the whole figure, centred below its panels, in as many columns as fit the
    figure's width (at most 4)."""
    if ncol is None:
        longest = max(len(h.get_label()) for h in handles)
        ncol = max(1, min(len(handles), 4, 84 // (longest + 7)))  # ~84 characters per row
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol)


def plot_counts(manifest: pd.DataFrame, split: str | None = "train") -> plt.Figure:
    """Utterances per language, stacked by emotion (one split, or all with ``split=None``)."""
    df = manifest if split is None else manifest[manifest["split"] == split]
    t = pd.crosstab(df["language"], df["emotion"])
    t = t.reindex(
        index=[x for x in LANGUAGES if x in t.index], columns=[e for e in EMOTIONS if e in t]
    )
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 3.2), layout="constrained")
    bottom = np.zeros(len(t))
    for emo in t.columns:
        ax.bar(t.index, t[emo], bottom=bottom, label=emo, color=EMOTION_COLORS[emo])
        bottom += t[emo].to_numpy()
    ax.set_xlabel("language")
    ax.set_ylabel("utterances")
    ax.set_title(f"{split or 'all'} split: utterances per language and emotion")
    fig.legend(loc="outside right upper")
    return fig


def plot_spectrograms(
    waves: Sequence[np.ndarray], titles: Sequence[str], sr: int = 16000, ncols: int = 2
) -> plt.Figure:
    """Log-power spectrograms (0-5 kHz) of a few waveforms, one panel each, ``ncols`` per row."""
    n = len(waves)
    fig, axes = panel_grid(n, ncols, panel_height=2.2, sharey=True)
    for ax, w, title in zip(axes.flat, waves, titles):
        ax.specgram(w, NFFT=512, Fs=sr, noverlap=352, cmap="magma", scale="dB", vmin=-120)
        ax.set_ylim(0, 5000)
        ax.set_title(title)
        ax.grid(False)
    finish_grid(fig, axes, n)
    for ax in axes[:, 0]:
        ax.set_ylabel("frequency (Hz)")
    for ax in axes[-1, :]:
        ax.set_xlabel("time (s)")
    return fig


def plot_matrix(
    m: pd.DataFrame, title: str, fmt: str = ".2f", vmin: float = 0.0, vmax: float = 1.0
) -> plt.Figure:
    """A labelled heatmap of a small matrix (e.g. a train-language × test-language score table)."""
    import seaborn as sns

    side = min(PAGE_WIDTH, 2.6 + 0.45 * m.shape[1])
    fig, ax = plt.subplots(figsize=(side, 0.8 * side), layout="constrained")
    sns.heatmap(
        m.astype(float), annot=True, fmt=fmt, vmin=vmin, vmax=vmax, cmap="viridis", ax=ax,
        annot_kws={"fontsize": 9},
    )  # fmt: skip
    ax.grid(False)
    ax.set_title(title)
    if max(len(str(c)) for c in m.columns) * m.shape[1] > 40:  # long labels: slant them
        ax.tick_params(axis="x", labelrotation=40)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    return fig


SOURCE_COLORS: tuple[str, ...] = ("#8c8c8c", "#4c72b0", "#dd8452", "#55a868", "#8172b3")
"""Colours of the sources compared by :func:`plot_shares` and :func:`plot_positive_counts`."""


def plot_shares(panels: dict[str, pd.DataFrame], ylabel: str = "share of utterances") -> plt.Figure:
    """Grouped bars comparing category shares across sources, one panel per table (two per row).

    Each table has the categories as rows (e.g. languages) and the sources as columns (e.g. the
    training set and the batches of two samplers); values are shares in [0, 1].
    """
    fig, axes = panel_grid(len(panels), 2, panel_height=2.8, sharey=True)
    handles = []
    for ax, (title, t) in zip(axes.flat, panels.items()):
        x, n = np.arange(len(t)), t.shape[1]
        width = 0.8 / n
        handles = []
        for j, col in enumerate(t.columns):
            offset = (j - (n - 1) / 2) * width
            color = SOURCE_COLORS[j % len(SOURCE_COLORS)]
            handles.append(
                ax.bar(x + offset, t[col].to_numpy(), width, label=str(col), color=color)
            )
        ax.set_xticks(x, [str(i) for i in t.index])
        ax.set_title(title)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    finish_grid(fig, axes, len(panels), handles)
    return fig


def plot_positive_counts(counts: pd.DataFrame, by: str = "sampler") -> plt.Figure:
    """Same-language and cross-lingual positives per anchor: share of anchors with each count.

    ``counts`` has one row per anchor, integer columns ``same_language`` and ``cross_lingual``, and
    a group column ``by`` (e.g. the sampler); each group gets its own bars, and its legend entry
    gives the share of its anchors with no positive of that kind. The two panels are stacked.
    """
    groups = list(dict.fromkeys(counts[by]))
    width = 0.8 / len(groups)
    fig, axes = panel_grid(2, 1, panel_height=2.5, sharey=True)
    for ax, col in zip(axes.flat, ("same_language", "cross_lingual")):
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
        ax.set_ylabel("share of anchors")
        ax.set_title(f"{kind} positives")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.legend(loc="best")
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
    ncols: int = 2,
) -> plt.Figure:
    """Lines from a long-format table: colour by ``hue``, dash by ``style``, one panel per ``col``
    (``ncols`` per row).

    Rows that share ``(col, hue, style, x)`` (e.g. several seeds) are averaged. Colours and dashes
    follow the order in which values first appear in ``df``.
    """
    panels = list(dict.fromkeys(df[col])) if col else [None]
    hues = list(dict.fromkeys(df[hue]))
    styles = list(dict.fromkeys(df[style])) if style else [None]
    height = 3.0 if len(panels) == 1 else 2.6
    fig, axes = panel_grid(len(panels), ncols, panel_height=height)
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
    for ax in axes[:, 0]:
        ax.set_ylabel(y if ylabel is None else ylabel)
    handles = [
        plt.Line2D([], [], color=CURVE_COLORS[i % len(CURVE_COLORS)], lw=2, label=str(h))
        for i, h in enumerate(hues)
    ]
    if style:
        handles += [
            plt.Line2D([], [], color="k", linestyle=_DASHES[j % len(_DASHES)], label=str(s))
            for j, s in enumerate(styles)
        ]
    if title and col:
        fig.suptitle(title)
    finish_grid(fig, axes, len(panels), handles)
    return fig


def plot_embeddings_2d(
    panels: dict[str, tuple[np.ndarray, Sequence[str], Sequence[str]]],
    normalize: bool = True,
    ncols: int = 2,
) -> plt.Figure:
    """Embeddings in 2-D, colour = emotion, marker = language; one panel per ``title: (E, emo, lang)``
    (``ncols`` per row).

    ``E`` is ``(N, D)``; with ``normalize`` rows are L2-normalised first (cosine geometry), and
    ``D > 2`` is projected on its first two principal components (each panel its own PCA).
    """
    n = len(panels)
    fig, axes = panel_grid(n, ncols, panel_height=PAGE_WIDTH / max(1, min(ncols, n)) * 0.8)
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
                    z[m, 0], z[m, 1], s=30, color=EMOTION_COLORS.get(emo, "k"),
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
    finish_grid(fig, axes, n, handles)
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
    ncols: int = 2,
) -> plt.Figure:
    """Grouped bars of the mean of ``y`` per ``(x, hue)``, with every repeated row as a dot; one
    panel per ``col`` value (``ncols`` per row).

    Repeated rows (e.g. seeds) are drawn individually so their spread stays visible. ``chance``
    maps ``hue`` values to a chance level, drawn as a dashed line in that hue's colour, or ``col``
    values to a chance level for the whole panel (grey).
    """
    panels = list(dict.fromkeys(df[col])) if col else [None]
    xs, hues = list(dict.fromkeys(df[x])), list(dict.fromkeys(df[hue]))
    width = 0.8 / len(hues)
    height = 3.0 if len(panels) == 1 else 2.6
    fig, axes = panel_grid(len(panels), ncols, panel_height=height, sharey=sharey)
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
    for ax in axes[:, 0]:
        ax.set_ylabel(y if ylabel is None else ylabel)
    handles = [
        plt.Rectangle(
            (0, 0), 1, 1, color=CURVE_COLORS[j % len(CURVE_COLORS)], alpha=0.75, label=str(h)
        )
        for j, h in enumerate(hues)
    ]
    if chance:
        handles.append(plt.Line2D([], [], color="k", ls="--", lw=1, label="chance"))
    finish_grid(fig, axes, len(panels), handles)
    return fig


def plot_training(
    history: pd.DataFrame, val: pd.DataFrame, window: int = 10, metric: str = "uar"
) -> plt.Figure:
    """A run's loss terms per step (raw and a rolling mean) and a validation metric, 2 × 2 panels.

    ``history`` is indexed by step with any of the columns ``ce``, ``scl``, ``adv`` (the ``train``
    records of a run's ``trainer_state.json`` history); ``val`` has columns ``step`` and
    ``metric`` (a UAR in %, e.g. ``uar`` or ``uar_mean``).
    """
    names = {"ce": "emotion CE", "scl": "SupCon (λ = 2.5)", "adv": "speaker CE (adversary)"}
    keys = [k for k in names if k in history and history[k].notna().any()]
    fig, axes = panel_grid(len(keys) + 1, 2, panel_height=2.4)
    handles = []
    for ax, key in zip(axes.flat, keys):
        raw = ax.plot(history.index, history[key], alpha=0.4, color=CURVE_COLORS[0], label="step")
        mean = history[key].rolling(window, min_periods=1).mean()
        smooth = ax.plot(mean.index, mean, color=CURVE_COLORS[1], label=f"mean of {window}")
        handles = [*raw, *smooth]
        ax.set_title(names[key])
        ax.set_xlabel("step")
    ax = axes.flat[len(keys)]
    ax.plot(val["step"], val[metric], marker="o", color=CURVE_COLORS[2])
    ax.set_title(f"validation {metric} (training languages)")
    ax.set_xlabel("step")
    ax.set_ylabel(f"{metric} (%)")
    ax.set_ylim(0, 100)
    finish_grid(fig, axes, len(keys) + 1, handles)
    return fig
