"""``tsne``: Fig. 2 of the paper, and the numbers behind the picture.

::

    python -m xlser tsne results/smoke/runs/en-de/proposed/seed0 [--out DIR] [--per-emotion 6]

The paper's Fig. 2 draws a t-SNE map of the pooled utterance embeddings ``e`` (eq. 4) of test
utterances of the target and the training languages (task en-de): 6 random test utterances per
emotion per language, coloured by emotion, marked by language. Here the target's points are drawn
larger with a dark edge. A 2-D map can mislead (t-SNE keeps neighbourhoods, not distances), so beside
the picture a JSON file gives numbers computed on the embeddings themselves, on *all* the run's test
utterances:

* silhouette scores (cosine) by emotion, language and speaker (1: tight, separated clusters; 0: none),
  and by emotion on the target's utterances alone;
* a speaker-leakage probe: cross-validated logistic-regression accuracy of the speaker from the
  embeddings of the training languages' test utterances, with chance (the majority speaker's share
  and 1/#speakers). The speaker-adversarial head (paper §2.3) is meant to lower it.

Reads the run folder's ``predictions.csv`` and ``embeddings.safetensors`` (row ``i`` = row ``i``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xlser import EMOTIONS, LANGUAGES
from xlser.errors import XlserError


class TsneError(XlserError, ValueError):
    """A run folder or option Fig. 2 cannot use; the message names it and the fix."""


PREDICTIONS = "predictions.csv"
EMBEDDINGS = "embeddings.safetensors"


def load_run(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, np.ndarray]:
    """A run folder's test ``predictions.csv`` rows and their embeddings ``(N, D)`` float32."""
    from xlser.io import read_tensors

    run = Path(run_dir)
    pred_path, emb_path = run / PREDICTIONS, run / EMBEDDINGS
    for p in (pred_path, emb_path):
        if not p.is_file():
            raise FileNotFoundError(
                f"{p} not found: {run} is not a finished run folder written by this version of "
                "xlser (train it with `python -m xlser train` or `grid`)"
            )
    pred = pd.read_csv(pred_path)
    tensors = read_tensors(emb_path, "train the run again")
    if "embeddings" not in tensors:
        raise TsneError(f"{emb_path} has no tensor 'embeddings' (has {sorted(tensors)})")
    emb = tensors["embeddings"].float().numpy()  # (N, D)
    if emb.ndim != 2 or len(emb) != len(pred):
        raise TsneError(
            f"{emb_path}: embeddings of shape {emb.shape} do not match the {len(pred)} rows of "
            f"{pred_path}; the run folder is incomplete, train it again"
        )
    missing = {"utt_id", "language", "speaker", "emotion"} - set(pred.columns)
    if missing:
        raise TsneError(f"{pred_path} lacks column(s) {sorted(missing)}")
    if "split" in pred:
        keep = (pred["split"] == "test").to_numpy()
        pred, emb = pred[keep].reset_index(drop=True), emb[keep]
    return pred, emb


def target_language(pred: pd.DataFrame) -> str | None:
    """The target language: the language of the ``is_target`` rows (None when there are none)."""
    if "is_target" not in pred:
        return None
    flags = pred["is_target"].astype(str).str.lower().isin(["true", "1"])
    langs = sorted(set(pred.loc[flags, "language"]))
    return langs[0] if len(langs) == 1 else None


def select_utterances(pred: pd.DataFrame, per_emotion: int | None = 6, seed: int = 0) -> np.ndarray:
    """Row positions of ``per_emotion`` random utterances per (language, emotion), sorted.

    Each (language, emotion) group draws without replacement with its own generator seeded by
    ``seed`` and the group's names, among its rows sorted by ``utt_id``: the choice does not depend
    on the CSV's row order or on the other groups. A group with fewer rows keeps all of them;
    ``per_emotion=None`` keeps every row.
    """
    if per_emotion is None:
        return np.arange(len(pred))
    if per_emotion < 1:
        raise TsneError(f"--per-emotion must be >= 1, got {per_emotion}")
    langs = [x for x in LANGUAGES if x in set(pred["language"])]
    langs += sorted(set(pred["language"]) - set(langs))
    emos = [e for e in EMOTIONS if e in set(pred["emotion"])]
    emos += sorted(set(pred["emotion"]) - set(emos))
    chosen = []
    for lang in langs:
        for emo in emos:
            group = pred.index[(pred["language"] == lang) & (pred["emotion"] == emo)]
            ids = pred.loc[group, "utt_id"].astype(str).to_numpy()
            rows = np.asarray(group)[np.argsort(ids, kind="stable")]
            rng = np.random.default_rng([seed, *map(ord, f"{lang}/{emo}")])
            k = min(per_emotion, len(rows))
            chosen.append(rows[rng.choice(len(rows), size=k, replace=False)])
    return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=int)


def perplexity_for(n: int) -> float:
    """t-SNE perplexity for ``n`` points: 30 (scikit-learn's default), at most ``(n - 1) / 3``.

    >>> perplexity_for(120), perplexity_for(31)
    (30.0, 10.0)
    """
    return float(min(30.0, (n - 1) / 3))


def tsne_2d(emb: np.ndarray, seed: int = 0, perplexity: float | None = None) -> np.ndarray:
    """scikit-learn t-SNE of ``emb`` ``(N, D)`` with cosine distances, PCA init -> ``(N, 2)``.

    Runs on one OpenMP thread: on a busy machine, Barnes-Hut's threads spin-wait and a
    120-point map took 17 s instead of 1.3 s (2 shared cores); a few thousand points take seconds.
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    n = len(emb)
    if n < 4:
        raise TsneError(f"t-SNE needs at least 4 utterances, got {n}; use --all or more data")
    perp = perplexity if perplexity is not None else perplexity_for(n)
    model = TSNE(2, perplexity=perp, metric="cosine", init="pca", random_state=seed)
    with threadpool_limits(1):
        return model.fit_transform(np.asarray(emb, dtype=np.float64))


def silhouette(emb: np.ndarray, labels: Any) -> float | None:
    """Cosine silhouette of ``labels`` on ``emb`` (None when undefined: < 2 or = n groups)."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels).astype(str)
    k = len(set(labels))
    if not 2 <= k <= len(labels) - 1:
        return None
    return float(silhouette_score(emb, labels, metric="cosine"))


def speaker_probe(emb: np.ndarray, speakers: Any, seed: int = 0, folds: int = 5) -> dict[str, Any]:
    """Cross-validated accuracy of a logistic-regression speaker classifier on ``emb``.

    Speakers with a single utterance are left out (they cannot be both trained and tested);
    stratified ``min(folds, fewest utterances of a speaker)``-fold CV, shuffled with ``seed``.
    Chance: the majority speaker's share and 1/#speakers.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    spk = np.asarray(speakers).astype(str)
    names, counts = np.unique(spk, return_counts=True)
    keep = np.isin(spk, names[counts >= 2])
    out: dict[str, Any] = {"n": int(keep.sum()), "n_dropped": int((~keep).sum())}
    names, counts = np.unique(spk[keep], return_counts=True)
    out |= {"n_speakers": len(names), "chance_majority": None, "chance_uniform": None}
    if len(names) < 2:
        return out | {"accuracy": None, "accuracy_std": None, "folds": 0}
    k = int(min(folds, counts.min()))
    cv = StratifiedKFold(k, shuffle=True, random_state=seed)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    acc = cross_val_score(clf, emb[keep], spk[keep], cv=cv, scoring="accuracy")
    return out | {
        "accuracy": float(acc.mean()),
        "accuracy_std": float(acc.std()),
        "folds": k,
        "chance_majority": float(counts.max() / counts.sum()),
        "chance_uniform": 1.0 / len(names),
    }


def embedding_scores(
    emb: np.ndarray,
    pred: pd.DataFrame,
    seed: int = 0,
    training_languages: list[str] | None = None,
) -> dict[str, Any]:
    """Silhouettes (cosine, on ``emb``) by emotion/language/speaker over all rows, by emotion on
    the target's rows, and the speaker probe on the training languages' rows (default: every
    language but the target; the Upper bound trains on the target)."""
    target = target_language(pred)
    is_target = (pred["language"] == target).to_numpy()
    sil = {c: silhouette(emb, pred[c]) for c in ("emotion", "language", "speaker")}
    tgt = {"emotion": silhouette(emb[is_target], pred.loc[is_target, "emotion"])}
    train = (
        pred["language"].isin(training_languages).to_numpy() if training_languages else ~is_target
    )
    probe = speaker_probe(emb[train], pred.loc[train, "speaker"], seed=seed)
    probe["languages"] = [x for x in LANGUAGES if x in set(pred.loc[train, "language"])]
    return {
        "target": target,
        "n": len(pred),
        "n_target": int(is_target.sum()),
        "silhouette": sil,
        "silhouette_target": tgt,
        "speaker_probe": probe,
    }


def plot_tsne(points: pd.DataFrame, target: str | None, title: str = ""):
    """Scatter of ``points`` (columns x, y, emotion, language): colour = emotion, marker = language;
    the target's points larger, with a dark edge. Page-wide (:data:`xlser.viz.PAGE_WIDTH`)."""
    import matplotlib.pyplot as plt

    from xlser.viz import _LANGUAGE_MARKERS, EMOTION_COLORS, PAGE_WIDTH

    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 4.4), layout="constrained")
    langs = [x for x in LANGUAGES if x in set(points["language"])]
    langs += sorted(set(points["language"]) - set(langs))
    emos = [e for e in EMOTIONS if e in set(points["emotion"])]
    for lang in sorted(langs, key=lambda x: x == target):  # the target on top
        is_t = lang == target
        for emo in emos:
            sel = points[(points["language"] == lang) & (points["emotion"] == emo)]
            ax.scatter(
                sel["x"], sel["y"], s=70 if is_t else 30, color=EMOTION_COLORS.get(emo, "k"),
                marker=_LANGUAGE_MARKERS.get(lang, "o"), alpha=1.0 if is_t else 0.6,
                edgecolor="black" if is_t else "white", linewidth=1.0 if is_t else 0.5,
                zorder=3 if is_t else 2,
            )  # fmt: skip
    handles = [
        plt.Line2D([], [], ls="", marker="o", color=EMOTION_COLORS.get(e, "k"), label=e)
        for e in emos
    ] + [
        plt.Line2D(
            [],
            [],
            ls="",
            marker=_LANGUAGE_MARKERS.get(x, "o"),
            color="0.35",
            markeredgecolor="black" if x == target else "white",
            label=f"{x} (target)" if x == target else x,
        )  # fmt: skip
        for x in langs
    ]
    fig.legend(handles=handles, loc="outside right upper")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_title(title)
    return fig


@dataclass
class TsneResult:
    """The map's points, the scores (as written to JSON), the figure and the files written."""

    points: pd.DataFrame
    scores: dict[str, Any]
    figure: Any = None
    files: list[Path] = field(default_factory=list)


def figure2(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    per_emotion: int | None = 6,
    seed: int = 0,
    formats: tuple[str, ...] = ("png", "svg"),
) -> TsneResult:
    """Fig. 2 of one run folder: t-SNE of ``per_emotion`` test utterances per emotion per language
    (``None``: all), saved as ``tsne.<fmt>`` (``tsne_all.<fmt>``) with ``.json`` scores beside, in
    ``out`` (default: the run folder); ``formats=()`` draws without writing anything."""
    from xlser.io import atomic_write, write_json

    run = Path(run_dir)
    pred, emb = load_run(run)
    idx = select_utterances(pred, per_emotion, seed)
    xy = tsne_2d(emb[idx], seed=seed)  # (n, 2)
    cols = [c for c in ("utt_id", "language", "speaker", "emotion", "pred") if c in pred]
    points = pred.iloc[idx][cols].reset_index(drop=True).assign(x=xy[:, 0], y=xy[:, 1])
    meta = _run_meta(run)
    target = target_language(pred)
    scores = {
        "run": meta,
        "subset": {"per_emotion": per_emotion, "seed": seed, "n": len(idx)},
        "tsne": {"perplexity": perplexity_for(len(idx)), "metric": "cosine", "seed": seed},
        **embedding_scores(emb, pred, seed, meta.get("training_languages")),
    }
    from xlser.systems import SYSTEM_SPECS

    spec = SYSTEM_SPECS.get(meta.get("system") or "")
    title = " — ".join(
        x
        for x in (
            meta.get("task"),
            spec.label if spec else meta.get("system"),
            f"seed {meta['seed']}" if meta.get("seed") is not None else None,
        )
        if x
    )
    fig = plot_tsne(points, target, title=f"t-SNE of pooled embeddings: {title}")
    result = TsneResult(points=points, scores=_strict(scores), figure=fig)
    if formats:
        dest = Path(out) if out is not None else run
        dest.mkdir(parents=True, exist_ok=True)
        stem = "tsne" if per_emotion is not None else "tsne_all"
        for fmt in formats:
            path = dest / f"{stem}.{fmt}"
            atomic_write(path, lambda tmp, f=fmt: fig.savefig(tmp, format=f, dpi=150))
            result.files.append(path)
        write_json(dest / f"{stem}.json", result.scores)  # strict: NaN became null
        result.files.append(dest / f"{stem}.json")
    return result


def scores_table(run_dirs: list[str | os.PathLike], seed: int = 0) -> pd.DataFrame:
    """:func:`embedding_scores` of several runs side by side (e.g. Proposed, w/o ADV, w/o SCL)."""
    rows = []
    for run in run_dirs:
        pred, emb = load_run(run)
        meta = _run_meta(Path(run))
        s = embedding_scores(emb, pred, seed, meta.pop("training_languages"))
        p = s["speaker_probe"]
        rows.append(
            meta
            | {f"silhouette_{k}": v for k, v in s["silhouette"].items()}
            | {"silhouette_target_emotion": s["silhouette_target"]["emotion"]}
            | {"speaker_probe": p["accuracy"], "speaker_chance": p["chance_majority"]}
        )
    return pd.DataFrame(rows)


def _run_meta(run: Path) -> dict[str, Any]:
    path = run / "metrics.json"
    m = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    keys = ("task", "system", "seed", "training_languages")
    return {k: m.get(k) for k in keys} | {"run_dir": str(run)}


def _strict(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tsne",
        help="Fig. 2: t-SNE of a run's test embeddings, with silhouettes and a speaker probe",
        description=(
            "Draw the t-SNE map of a run folder's pooled test embeddings (colour = emotion, "
            "marker = language, target highlighted) and write tsne.png/.svg and tsne.json "
            "(silhouette scores by emotion, language, speaker; speaker-leakage probe)."
        ),
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run folder")
    p.add_argument("--out", help="folder for the figure and JSON (default: RUN_DIR)")
    p.add_argument(
        "--per-emotion", type=int, default=6, help="utterances per emotion per language (6)"
    )
    p.add_argument("--all", action="store_true", help="every test utterance")
    p.add_argument("--seed", type=int, default=0, help="subset, t-SNE and probe seed")
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = figure2(args.run_dir, args.out, None if args.all else args.per_emotion, args.seed)
    plt.close(r.figure)
    s = r.scores
    sil, probe = s["silhouette"], s["speaker_probe"]

    def f(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    print(
        f"{r.files[0]}: {s['subset']['n']} utterances. Silhouette (cosine, all {s['n']} test "
        f"utterances): emotion {f(sil['emotion'])}, language {f(sil['language'])}, speaker "
        f"{f(sil['speaker'])}; speaker probe accuracy {f(probe['accuracy'])} "
        f"(chance {f(probe['chance_majority'])}); scores in {r.files[-1]}"
    )
    return 0
