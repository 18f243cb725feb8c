"""Does ``world.dialect_strength`` move what it names? The in- vs cross-language emotion-probe gap.

The synthetic world lets each language bend the shared emotion profile (``dialect_strength``: 0 =
every language expresses emotions with the same cues). A linear emotion probe on the world's
hand-made acoustic statistics (:func:`xlser.world.probe.spectral_stats`) is trained on one language
and tested on every language (:func:`xlser.world.probe.transfer_matrix`; the diagonal is k-fold
within the language). The *gap* is the mean in-language minus the mean cross-language balanced
accuracy.

Corpora differ in more than dialect: recording channel, emotion intensity, label noise. So the
sweep runs on an *equalised* world: every language gets the same clean channel (anechoic, 40-50 dB
SNR), the same intensity distribution and no label noise; only phonetics, speakers and the dialect
remain. It renders ``--per-class`` utterances per emotion and language (the same plan rows, and so
the same utterance seeds, in every condition) at strengths 0, 1 (the default) and 2, and, for
contrast, the default world (its own channels and intensities) at strength 1. Audio is rendered in
memory, never written. No size is asserted: the numbers are reported as they come out.

Usage: ``.venv/bin/python bench/dialect.py [--per-class 60] [--strengths 0 1 2] [--workers 2]``
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from _common import emit

from xlser.world.channel import Channel
from xlser.world.config import WorldConfig
from xlser.world.probe import spectral_stats, transfer_matrix
from xlser.world.synthesis import World, build_world, render_utterance

CLEAN = Channel("equalised: anechoic, clean", rt60_s=0.0, snr_db=[40.0, 50.0])
INTENSITY_MEAN, INTENSITY_SD = 0.85, 0.12
"""The same for every language in the equalised world (the corpus design's defaults)."""


def equalised(config: WorldConfig) -> WorldConfig:
    """``config`` with one clean channel, one intensity distribution and no label noise."""
    designs = {
        lang: dataclasses.replace(
            d, intensity_mean=INTENSITY_MEAN, intensity_sd=INTENSITY_SD, label_noise=0.0
        )
        for lang, d in config.designs.items()
    }
    channels = {lang: dataclasses.replace(CLEAN) for lang in config.channels}
    return dataclasses.replace(config, designs=designs, channels=channels)


def subset(world: World, per_class: int) -> np.ndarray:
    """Plan positions of the first ``per_class`` utterances of every (language, emotion)."""
    plan = world.plan.reset_index(drop=True)
    return plan.groupby(["language", "emotion"], sort=False).head(per_class).index.to_numpy()


def _stats(args: tuple[World, list[int]]) -> np.ndarray:
    world, indices = args
    sr = world.config.sample_rate
    return np.stack([spectral_stats(render_utterance(world, i)[0], sr) for i in indices])


def features(world: World, indices: np.ndarray, workers: int) -> np.ndarray:
    """``spectral_stats`` of the rendered utterances, ``(N, 51)``, in plan order."""
    chunks = [(world, c.tolist()) for c in np.array_split(indices, max(1, 4 * workers))]
    if workers <= 1:
        return np.concatenate([_stats(c) for c in chunks])
    with ProcessPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(_stats, chunks)))


def gap(matrix: pd.DataFrame) -> dict[str, float]:
    m = matrix.to_numpy(float)
    diag = np.eye(len(m), dtype=bool)
    inl, cross = float(m[diag].mean()), float(m[~diag].mean())
    return {"in-language": inl, "cross-language": cross, "gap": inl - cross}


def transfer(row: pd.Series) -> float:
    """Cross-language over in-language accuracy: 1 = transfers fully."""
    return float(row["cross-language"] / row["in-language"])


def cpu_seconds() -> float:
    """CPU time of this process and its finished workers (user + system)."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=60)
    p.add_argument("--strengths", type=float, nargs="+", default=[0.0, 1.0, 2.0])
    p.add_argument("--seed", type=int, default=0, help="world seed (the smoke corpus is 0)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = p.parse_args()
    t0 = time.perf_counter()

    default = WorldConfig(seed=args.seed)
    conditions = [
        (f"equalised, strength {s:g}", dataclasses.replace(equalised(default), dialect_strength=s))
        for s in args.strengths
    ]
    conditions.append(("default channels and intensities, strength 1", default))
    rows, matrices, plan_ids = [], {}, None
    for name, cfg in conditions:
        world = build_world(cfg)
        idx = subset(world, args.per_class)
        ids = world.plan.utt_id.to_numpy()[idx]
        if plan_ids is not None and not np.array_equal(ids, plan_ids):
            raise AssertionError("the plan changed with the condition; the comparison is invalid")
        plan_ids = ids
        X = features(world, idx, args.workers)  # (N, 51)
        plan = world.plan.iloc[idx]
        m = transfer_matrix(X, plan.emotion.to_numpy(), plan.language.to_numpy(), seed=args.seed)
        matrices[name] = m
        rows.append({"condition": name, "dialect_strength": cfg.dialect_strength, **gap(m)})
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)

    n_lang = len(default.languages)
    print(
        f"\nemotion-probe transfer (train row -> test column), balanced accuracy; "
        f"{args.per_class} utterances per emotion x {n_lang} languages, world seed {args.seed}"
    )
    for name, m in matrices.items():
        print(f"\n{name}\n{m.round(3).to_string()}")
    table = pd.DataFrame(rows).set_index("condition")
    print(
        "\nin-language (5-fold within a language) vs cross-language (train on one, test on "
        "another) balanced accuracy, means over languages / pairs; chance 0.25"
    )
    with pd.option_context("display.width", 120):
        print(table.round(3).to_string())
    wall, cpu = time.perf_counter() - t0, cpu_seconds()
    print(f"\nwall {wall:.0f} s, CPU {cpu:.0f} s (workers included), {args.workers} worker(s)")
    eq = table[table.index.str.startswith("equalised")]
    lo, hi = eq.iloc[0], eq.iloc[-1]
    emit(
        {
            "bench": "dialect",
            "baseline": f"equalised world, dialect_strength {lo.dialect_strength:g}",
            "candidate": f"equalised world, dialect_strength {hi.dialect_strength:g}",
            "metric": "balanced accuracy of a linear emotion probe on spectral_stats, in-language "
            "(k-fold) and cross-language; ratio = transfer ratio (cross / in) of the candidate "
            "over that of the baseline (< 1: transfer loses more as dialects diverge)",
            "ratio": round(float(transfer(hi) / transfer(lo)), 3),
            "gaps": {k: round(float(v), 4) for k, v in table.gap.items()},
            "in_language": {k: round(float(v), 4) for k, v in table["in-language"].items()},
            "cross_language": {k: round(float(v), 4) for k, v in table["cross-language"].items()},
            "per_class": args.per_class,
            "languages": n_lang,
            "utterances_per_condition": int(len(plan_ids)),
            "world_seed": args.seed,
            "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
        }
    )


if __name__ == "__main__":
    main()
