"""``python -m xlser train``: train and test one (task, system, seed) into a run folder.

Under ``torchrun --nproc_per_node=N -m xlser train ...`` the N processes train one run together
(DistributedDataParallel, :mod:`xlser.distributed`); rank 0 writes the folder and prints.

The library pieces live in :mod:`xlser.trainer` (the loop) and :mod:`xlser.experiment` (data, run
folder, resuming); their public names are re-exported here for existing callers.
"""

from __future__ import annotations

from pathlib import Path

from xlser import distributed
from xlser.experiment import (  # noqa: F401  (re-exports)
    JsonlLogger,
    make_batch_sampler,
    run_experiment,
    task_data,
)
from xlser.trainer import (  # noqa: F401  (re-exports)
    NonFiniteLossError,
    TaskData,
    Trainer,
    TrainerState,
    resolve_device,
    seed_everything,
)


def register_cli(subparsers) -> None:
    from xlser.cli import add_config_arguments

    p = subparsers.add_parser(
        "train",
        help="train and test one (task, system, seed); writes a run folder",
        description="Train one system on one task with one seed (paper eq. 12), select on the "
        "training languages' validation splits, test on the target. A finished run folder "
        "(metrics.json present) with the same config is not trained again.",
    )
    add_config_arguments(p)
    p.add_argument("--out", help="run folder (default: OUTPUT_DIR/TASK/SYSTEM/seedN)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh in a run folder xlser wrote (removes only xlser's files)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    from xlser.cli import config_from_args

    cfg = config_from_args(args)
    out = (
        Path(args.out)
        if args.out
        else Path(cfg.output_dir) / cfg.task / cfg.system / f"seed{cfg.seed}"
    )
    try:
        m = run_experiment(cfg, out, progress=not args.quiet, overwrite=args.overwrite)
        main = distributed.is_main()
    finally:
        distributed.shutdown()  # torchrun: leave the process group (no-op for one process)
    if not main:
        return 0
    print(
        f"{out}: {m['task']} {m['system']} seed {m['seed']}: target UAR {m['uar']:.1f} %, "
        f"macro-F1 {m['macro_f1']:.1f} % on {m['test_n']} utterances "
        f"({m['steps']} steps, best step {m['best_step']}, {m['wall_s']:.1f} s)"
    )
    return 0
