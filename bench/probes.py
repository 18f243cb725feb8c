"""What pretraining bought: frozen-feature linear probes per layer, random init vs pretrained.

For each of the four tiny encoders xlser pretrained (``model.encoder="xlser-tiny"``, one per source
language: en, zh, de, fr; :mod:`xlser.pretrain`) and for the same architecture with random weights
(``model.encoder="tiny"``, a few seeds), every layer's mean-pooled output on a balanced subset of
the smoke corpus (``--per-class`` utterances per emotion and language, all five languages) is
probed with a standardised logistic regression, k-fold cross-validated
(:func:`xlser.representations.probe_table`): emotion and speaker within each language (mean over
the languages), language across them. Scores are balanced accuracies; the ``chance`` row is 1 /
classes.

Features are computed once per encoder and kept in memory only. The JSON line's ``ratio`` is the
emotion probe at the last layer, pretrained (mean of the four) over random (mean of the seeds).

Threads: one, for torch and for the BLAS under scikit-learn (on a shared, oversubscribed machine
two threads per small operator were several times slower in our runs).

Usage: ``.venv/bin/python bench/probes.py [--per-class 60] [--random-seeds 0 1] [--folds 5]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from _common import REPO, emit, setup
from threadpoolctl import threadpool_limits

from xlser.config import ModelConfig
from xlser.data.manifest import read_manifest
from xlser.encoder import load_encoder
from xlser.representations import cnn_embeddings, cnn_features, layer_embeddings, probe_table

SOURCES = ("en", "zh", "de", "fr")


def balanced_subset(manifest, per_class: int, seed: int) -> pd.DataFrame:
    """``per_class`` random utterances of every (language, emotion), all splits."""
    df = read_manifest(manifest)
    small = df.groupby(["language", "emotion"]).size()
    if small.min() < per_class:
        raise ValueError(
            f"{manifest}: only {small.min()} utterances of {small.idxmin()}; lower --per-class"
        )
    sub = df.groupby(["language", "emotion"], sort=False).sample(per_class, random_state=seed)
    return sub.reset_index(drop=True)


def embed(encoder, rows) -> dict[str, np.ndarray]:
    encoder.eval()
    feats = cnn_features(encoder, rows)  # [(T_i, C)]
    return {"cnn": cnn_embeddings(feats), "layers": layer_embeddings(encoder, features=feats)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifest", default=str(REPO / "data" / "synth" / "manifest.csv"))
    p.add_argument("--per-class", type=int, default=60)
    p.add_argument("--random-seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="subset and CV folds")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    setup(args.threads)
    threadpool_limits(args.threads)
    t0, c0 = time.perf_counter(), time.process_time()

    rows = balanced_subset(args.manifest, args.per_class, args.seed)
    embeddings: dict[str, dict[str, np.ndarray]] = {}
    for lang in SOURCES:
        encoder, _ = load_encoder(ModelConfig(encoder="xlser-tiny"), lang)
        embeddings[f"pretrained {lang}"] = embed(encoder, rows)
    for s in args.random_seeds:
        torch.manual_seed(s)
        encoder, _ = load_encoder(ModelConfig(encoder="tiny"), "en")
        embeddings[f"random seed {s}"] = embed(encoder, rows)
    t_embed = time.perf_counter() - t0
    table = probe_table(embeddings, rows, folds=args.folds, seed=args.seed)

    n_lang = rows["language"].nunique()
    print(
        f"frozen-feature linear probes per layer, random init vs pretrained: {len(rows)} "
        f"utterances ({args.per_class} per emotion x {n_lang} languages), {args.folds}-fold CV, "
        "balanced accuracy (emotion and speaker: mean over the languages of within-language "
        "probes; language: across languages)"
    )
    with pd.option_context("display.width", 120):
        print(table.round(3).to_string())
    kind = np.array([e.split()[0] for e in table.index.get_level_values(0)])
    layer = table.index.get_level_values(1)
    means = table.groupby([kind, layer], sort=False).mean().drop("chance", level=0)
    print("\nmean over encoders of each kind:")
    print(means.round(3).to_string())

    last = f"L{len(next(iter(embeddings.values()))['layers']) - 1}"
    pre, rnd = means.loc[("pretrained", last)], means.loc[("random", last)]
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"\nwall {wall:.0f} s (embedding {t_embed:.0f} s), CPU {cpu:.0f} s, {args.threads} thread"
    )
    emit(
        {
            "bench": "probes",
            "baseline": f"tiny wav2vec2, random init (seeds {args.random_seeds})",
            "candidate": f"xlser-tiny pretrained encoders {list(SOURCES)}",
            "metric": f"{args.folds}-fold balanced accuracy of a linear emotion probe on the "
            f"mean-pooled last layer ({last}); ratio = pretrained / random",
            "ratio": round(float(pre["emotion"] / rnd["emotion"]), 3),
            "pretrained": pre.round(4).to_dict(),
            "random": rnd.round(4).to_dict(),
            "chance": table.loc[("chance", "")].round(4).to_dict(),
            "utterances": len(rows),
            "per_class": args.per_class,
            "languages": n_lang,
            "folds": args.folds,
            "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
        }
    )


if __name__ == "__main__":
    main()
