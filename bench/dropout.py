"""Throughput of the trainer's training step on the smoke run: torch's dropout vs ``xlser.dropout``.

Two :class:`xlser.trainer.Trainer` objects on the smoke profile (task en-de, Proposed, the shipped
``xlser-tiny`` encoder, the frozen-CNN feature cache on, as smoke runs use it), one with
``train.dropout_impl="torch"`` (``nn.Dropout``, SDPA attention with its own dropout) and one with
``"fast"`` (16-bit masks cut from 64-bit draws, :mod:`xlser.dropout`), run the same hierarchical
batches in alternating rounds. Prints steps/s of each and their ratio.

One thread and process CPU time by default (robust on a shared machine); ``--threads 2 --clock wall``
for the other way.

Usage: ``.venv/bin/python bench/dropout.py [--steps 5] [--repeats 3]``
"""

from __future__ import annotations

import argparse

from _common import emit, setup
from train_step import first_batches, steps_per_second

from xlser.book import experiment
from xlser.experiment import task_data
from xlser.trainer import Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=5, help="steps per round (default 5)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    args = ap.parse_args()
    setup(args.threads)
    cfg = experiment("smoke", system="proposed")
    data = task_data(cfg, progress=False)
    trainers = {
        impl: Trainer(
            experiment("smoke", system="proposed", **{"train.dropout_impl": impl}),
            data=data,
            progress=False,
        )
        for impl in ("torch", "fast")
    }
    batches = first_batches(trainers["torch"], args.steps)

    sps = steps_per_second(trainers, batches, args.repeats, args.clock)
    print(
        f"smoke training step (cached CNN features), batch {cfg.batch_size} x "
        f"{cfg.data.max_seconds} s crops, {args.threads} thread(s), {args.clock} clock, "
        f"{args.steps} steps x {args.repeats} rounds"
    )
    for k, v in sps.items():
        print(f"{k:>6} dropout: {v:.2f} steps/s ({1 / v:.3f} s per step)")
    ratio = sps["fast"] / sps["torch"]
    print(f"fast / torch speed: {ratio:.2f}x")
    emit(
        {
            "bench": "dropout",
            "baseline": "torch dropout (nn.Dropout, SDPA dropout)",
            "candidate": "xlser.dropout (16-bit masks)",
            "metric": f"steps per {args.clock}-clock second (median of rounds); "
            "ratio = candidate / baseline",
            "ratio": round(ratio, 3),
            "steps_per_s": {k: round(v, 3) for k, v in sps.items()},
            "batch": cfg.batch_size,
            "crop_s": cfg.data.max_seconds,
            "steps": args.steps,
            "repeats": args.repeats,
            "threads": args.threads,
        }
    )


if __name__ == "__main__":
    main()
