"""``torch.compile`` of the Transformer layers (``train.compile``) vs eager, on the smoke run's step.

Two :class:`xlser.train.Trainer` objects on the smoke profile (task en-de, Proposed, the shipped
``xlser-tiny`` encoder, cached CNN features as smoke runs train), both with torch's dropout
(``train.dropout_impl="torch"``: the compiled graph cannot trace :mod:`xlser.dropout`'s 16-bit
views), one with ``train.compile=true`` (each Transformer layer compiled:
:func:`xlser.trainer.compile_layers`), run the same hierarchical batches in alternating rounds
after one warm-up round. The first compiled step's time (tracing and code generation) is printed
apart: it is paid once per process and shape family. (Compiling the whole forward instead breaks
its graph once per layer at HF's LayerDrop test, ``torch.rand([]) < p``, and dynamo then
recompiles the pieces until its limit: 0.21x on this step. SpecAugment's numpy masks sit outside
the layers.) ``--no-spec-augment`` times both ways without SpecAugment.

Clock and threads as in ``bench/forward.py`` (one thread, process CPU time by default).

Usage: ``.venv/bin/python bench/compile.py [--steps 4] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import time

from _common import emit, setup
from train_step import first_batches, steps_per_second

from xlser.book import experiment
from xlser.train import Trainer, task_data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=4, help="steps per round (default 4)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    ap.add_argument(
        "--no-spec-augment",
        action="store_true",
        help="both ways without SpecAugment (HF computes its masks in numpy: a graph break)",
    )
    args = ap.parse_args()
    setup(args.threads)
    over = {"system": "proposed", "train.dropout_impl": "torch"}
    if args.no_spec_augment:
        over["model.spec_augment"] = False
    data = task_data(experiment("smoke", **over))
    trainers = {
        "eager": Trainer(experiment("smoke", **over), data=data, progress=False),
        "compiled": Trainer(
            experiment("smoke", **over, **{"train.compile": True}), data=data, progress=False
        ),
    }
    batches = first_batches(trainers["eager"], args.steps)
    t = time.perf_counter()
    trainers["compiled"].train_step(batches[0])  # tracing and code generation
    compile_s = time.perf_counter() - t
    sps = steps_per_second(trainers, batches, args.repeats, args.clock)
    ratio = sps["compiled"] / sps["eager"]
    print(
        f"smoke training step (cached CNN features, batch 36), "
        f"{args.threads} thread(s), {args.clock} clock, {args.steps} steps x {args.repeats} rounds"
    )
    print(f"  first compiled step (compile): {compile_s:.1f} s wall")
    for k, v in sps.items():
        print(f"  {k:>8}: {1e3 / v:.0f} ms per step")
    print(f"compiled / eager speed: {ratio:.2f}x")
    emit(
        {
            "bench": "compile",
            "baseline": "eager (train.dropout_impl=torch)",
            "candidate": "train.compile=true (torch.compile of each Transformer layer, dynamic)",
            "metric": f"steps per {args.clock}-clock second (median of rounds after a warm-up "
            "round); ratio = candidate / baseline",
            "ratio": round(ratio, 3),
            "steps_per_s": {k: round(v, 3) for k, v in sps.items()},
            "compile_s": round(compile_s, 1),
            "spec_augment": not args.no_spec_augment,
            "batch": 36,
            "steps": args.steps,
            "repeats": args.repeats,
            "threads": args.threads,
        }
    )


if __name__ == "__main__":
    main()
