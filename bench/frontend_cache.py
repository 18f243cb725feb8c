"""Cached frozen-CNN outputs vs recomputing them every step, on the smoke run.

Two :class:`xlser.train.Trainer` objects on the smoke profile (task en-de, Proposed, the shipped
``xlser-tiny`` encoder): one with ``model.frontend_cache="auto"`` (the frozen CNN's output of every
manifest row computed once, :mod:`xlser.frontend`), one with ``"off"`` (waveform batches from a
``DataLoader``, the CNN run every step). Each round, each trainer draws the same hierarchical
batches through its own inputs (cached features, or files read and cropped) and trains on them;
the rounds alternate, and the medians give the speed-up. Target: at least 2x.

Also printed: the cache's size (in memory and on disk), the one-off time to build it (the cached
trainer's set-up less the other's, into a temporary folder that is removed afterwards), the number
of steps after which it has paid for itself, and an estimate of the cache's size for the real
corpora on wav2vec2-base (from modelled durations sized like the paper's splits, not measured).

Clock and threads as in ``bench/forward.py`` (one thread, process CPU time; ``num_workers`` is 0
in the smoke profile, so all the work is in this process).

Usage: ``.venv/bin/python bench/frontend_cache.py [--batches 4] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import tempfile
from pathlib import Path

import numpy as np
from _common import CLOCKS, emit, interleaved, median, setup

from xlser.book import experiment
from xlser.train import Trainer, task_data

TARGET_RATIO = 2.0
BASE_CNN_CHANNELS, FRAMES_PER_S, FP16_BYTES = 512, 49.0, 2  # wav2vec2-base's CNN output


def full_corpora_estimate() -> tuple[float, float]:
    """(hours of audio, GiB of float16 wav2vec2-base CNN features) for every split of the five
    corpora, from modelled durations sized like the paper's splits (not measured ones)."""
    from memory import modelled_durations

    from xlser.data.splits import PAPER_SIZES

    rng = np.random.default_rng(0)
    secs = sum(float(modelled_durations(c, sum(n), rng).sum()) for c, n in PAPER_SIZES.items())
    gib = secs * FRAMES_PER_S * BASE_CNN_CHANNELS * FP16_BYTES / 2**30
    return secs / 3600, gib


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=4, help="batches per round (default 4)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    args = ap.parse_args()
    setup(args.threads)
    now = CLOCKS[args.clock]
    cfgs = {
        "cached": experiment("smoke", system="proposed"),
        "off": experiment("smoke", system="proposed", **{"model.frontend_cache": "off"}),
    }
    data = task_data(cfgs["off"], progress=False)
    with tempfile.TemporaryDirectory(prefix="xlser-bench-") as tmp:
        trainers, setup_s = {}, {}
        for key in ("off", "cached"):  # the cache is built into tmp, cold
            t = now()
            d = dataclasses.replace(data, cache_dir=Path(tmp))
            trainers[key] = Trainer(cfgs[key], data=d, progress=False)
            setup_s[key] = now() - t
        files = list(Path(tmp).glob("frontend-*.safetensors"))
        disk = sum(f.stat().st_size for f in files)
    cache = trainers["cached"].inputs.cache
    mem = sum(f.numel() * f.element_size() for f in cache.features)
    build_s = setup_s["cached"] - setup_s["off"]
    idx = list(itertools.islice(iter(trainers["off"].batch_sampler), args.batches))

    def run(tr: Trainer):
        for batch in tr.inputs.train_batches(data.train, idx, 0):
            tr.train_step(batch)

    times = interleaved(
        {k: (lambda tr=tr: run(tr)) for k, tr in trainers.items()},
        repeats=args.repeats,
        warmup=1,
        clock=args.clock,
    )
    step = {k: median(v) / args.batches for k, v in times.items()}
    ratio = step["off"] / step["cached"]
    breakeven = build_s / (step["off"] - step["cached"]) if step["off"] > step["cached"] else None
    cfg = cfgs["cached"]
    hours, full_gib = full_corpora_estimate()
    print(
        f"smoke run: {cfg.batch_size} utterances per step, {cfg.data.max_seconds:g} s crops, "
        f"{args.batches} batches x {args.repeats} rounds, {args.threads} thread(s), "
        f"{args.clock} clock"
    )
    print(f"  CNN every step: {1e3 * step['off']:.0f} ms per step (files read, CNN run)")
    print(f"  cached CNN    : {1e3 * step['cached']:.0f} ms per step -> {ratio:.2f}x faster")
    print(
        f"  cache: {len(cache)} utterances, {mem / 2**20:.1f} MiB in memory, "
        f"{disk / 2**20:.1f} MiB on disk (float16), built in {build_s:.1f} s once "
        f"(pays for itself after {breakeven:.0f} steps)"
        if breakeven
        else f"  cache: {len(cache)} utterances, {mem / 2**20:.1f} MiB, built in {build_s:.1f} s"
    )
    print(
        f"  the five corpora on wav2vec2-base (modelled durations, {hours:.1f} h of audio): "
        f"about {full_gib:.1f} GiB per CNN (one per source checkpoint)"
    )
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"target: >= {TARGET_RATIO:g}x: {verdict}")
    emit(
        {
            "bench": "frontend_cache",
            "baseline": "model.frontend_cache=off (CNN every step, waveform batches)",
            "candidate": "model.frontend_cache=auto (cached frozen-CNN features)",
            "metric": f"{args.clock}-clock seconds per training step incl. batch preparation "
            "(median of rounds); ratio = baseline / candidate",
            "ratio": round(ratio, 2),
            "target": TARGET_RATIO,
            "target_met": ratio >= TARGET_RATIO,
            "step_s": step,
            "batch": cfg.batch_size,
            "crop_s": cfg.data.max_seconds,
            "batches": args.batches,
            "repeats": args.repeats,
            "threads": args.threads,
            "cache_utterances": len(cache),
            "cache_mib_memory": round(mem / 2**20, 2),
            "cache_mib_disk": round(disk / 2**20, 2),
            "build_s": round(build_s, 2),
            "breakeven_steps": round(breakeven) if breakeven else None,
            "full_corpora_estimate": {"hours": round(hours, 1), "gib_per_cnn": round(full_gib, 2)},
        }
    )


if __name__ == "__main__":
    main()
