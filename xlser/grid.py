"""``grid``: every (task, system, seed) of the paper's Table 2, resumable, shardable, in parallel.

::

    python -m xlser grid --profile smoke --out results/smoke --seeds 0,1,2
    python -m xlser grid --profile full --out results/full --shard 2/4      # the 2nd of 4 machines

Each run trains in ``OUT/runs/<task>/<system>/seed<k>/`` (the run folder that ``train`` writes:
``metrics.json`` last, so its presence means *finished*). ``OUT/results.csv`` holds one row per
finished run and is **rebuilt from the run folders' metrics.json** (:func:`collect_results`) after
every run, never appended: a grid killed at any moment and started again with the same command ends
with exactly one row per (task, system, seed). Re-running skips finished runs; an interrupted run
resumes from its last checkpoint (:func:`xlser.train.run_experiment`).

Safety when several processes share ``OUT`` (shards on one file system, two terminals): the CSV is
written atomically (temp file, fsync, rename: :func:`xlser.io.atomic_write_text`) while holding an
exclusive ``fcntl.flock`` on ``OUT/.lock``, and each run folder is locked (``flock`` on the folder)
while it trains, so a run another process is training is left to it. Before anything is written, the arguments are checked
and every run folder that already holds a ``config.yaml`` must hold this grid's config (a folder
trained with other settings, e.g. another ``--max-steps``, is an error, not silently reused).

``--shard I/N`` (1-based, ``1 <= I <= N``) keeps runs ``I-1, I-1+N, I-1+2N, ...`` of the ordered grid
(task order of :data:`xlser.tasks.TASKS`, then :data:`xlser.config.SYSTEMS`, then seed): the N shards
partition the grid, and striding mixes cheap single-language runs with multilingual ones. On a
machine with several GPUs, start one shard per GPU into the same ``--out``::

    for i in 0 1 2 3; do
        CUDA_VISIBLE_DEVICES=$i python -m xlser grid --profile full --out results/full \\
            --seeds 0,1,2 --shard $((i + 1))/4 &
    done; wait

``--jobs J`` runs J runs side by side in worker processes (forked on Linux, spawned elsewhere or
once the calling process has used CUDA), each with ``cores // J`` torch threads.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from xlser.config import PROFILES, SYSTEMS
from xlser.errors import XlserError
from xlser.io import atomic_write_text, read_json
from xlser.tasks import TASKS

RESULTS = "results.csv"
LOCK = ".lock"
RESULT_COLUMNS: tuple[str, ...] = (
    "task",
    "source",
    "target",
    "system",
    "seed",
    "uar",
    "macro_f1",
    "test_accuracy",
    "steps",
    "best_step",
    "wall_s",
    "n_train",
    "n_speakers",
    "test_n",
    "encoder",
    "profile",
    "world_size",
    "confusion",
    "run",
)
"""Columns of ``results.csv``: metrics.json's keys (UAR, F1, accuracy in %), ``confusion`` as JSON
(rows = true, columns = predicted, order :data:`xlser.EMOTIONS`) and ``run``, the run folder
relative to the grid folder."""


class GridArgumentError(XlserError, ValueError):
    """A grid argument or grid folder is unusable; the message names it and the fix."""


class GridError(XlserError, RuntimeError):
    """Some runs of a grid failed; the others finished. ``results`` is the rebuilt table."""

    def __init__(self, message: str, results: pd.DataFrame, failures: dict[str, str]):
        super().__init__(message)
        self.results = results
        self.failures = failures


@dataclass(frozen=True)
class GridRun:
    """One cell-seed of Table 2."""

    task: str
    system: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.task}/{self.system}/seed{self.seed}"

    def folder(self, out: str | os.PathLike) -> Path:
        return Path(out) / "runs" / self.task / self.system / f"seed{self.seed}"


# ----------------------------------------------------------------------------- the grid
def parse_list(value: str | Sequence[str] | None, valid: Sequence[str], what: str) -> list[str]:
    """``"en-de,zh-de"`` (or a list) -> names in ``valid``'s order; ``None`` -> all of ``valid``.

    >>> parse_list("wo_adv,proposed", ("proposed", "wo_adv", "wo_scl"), "system")
    ['proposed', 'wo_adv']
    """
    if value is None:
        return list(valid)
    items = value.split(",") if isinstance(value, str) else list(value)
    items = [str(v).strip() for v in items if str(v).strip()]
    bad = [v for v in items if v not in valid]
    if bad or not items:
        raise GridArgumentError(
            f"--{what}s: unknown {what}(s) {bad or items}; choose from {', '.join(valid)} "
            "(comma-separated)"
        )
    return [v for v in valid if v in items]


def parse_seeds(value: str | Iterable[int] | None) -> list[int]:
    """``"0,1,2"`` (or ints) -> sorted distinct non-negative seeds; ``None`` -> ``[0]``.

    >>> parse_seeds("2,0,1,0")
    [0, 1, 2]
    """
    if value is None:
        return [0]
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        seeds = sorted({int(str(s).strip()) for s in items if str(s).strip()})
    except ValueError:
        raise GridArgumentError(
            f"--seeds expects comma-separated integers (e.g. 0,1,2), got {value!r}"
        ) from None
    if not seeds or seeds[0] < 0:
        raise GridArgumentError(
            f"--seeds expects non-negative integers (e.g. 0,1,2), got {value!r}"
        )
    return seeds


def parse_shard(value: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"I/N"`` (1-based) -> ``(I, N)``, checked; ``None`` -> no sharding.

    >>> parse_shard("2/4")
    (2, 4)
    """
    if value is None:
        return None
    if isinstance(value, str):
        i, sep, n = value.partition("/")
        try:
            shard = (int(i), int(n))
        except ValueError:
            shard = (0, 0) if sep else (-1, -1)
    else:
        shard = (int(value[0]), int(value[1]))
    if not 1 <= shard[0] <= shard[1]:
        raise GridArgumentError(
            f"--shard expects I/N with 1 <= I <= N (1-based: the shards of 4 machines are 1/4, "
            f"2/4, 3/4, 4/4), got {value!r}"
        )
    return shard


def grid_runs(
    tasks: Sequence[str] | None = None,
    systems: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    shard: tuple[int, int] | None = None,
) -> list[GridRun]:
    """The ordered grid (tasks, then systems, then seeds), or shard ``(I, N)``'s strided slice.

    >>> [r.key for r in grid_runs(["en-de"], ["proposed", "wo_adv"], [0, 1], shard=(2, 2))]
    ['en-de/proposed/seed1', 'en-de/wo_adv/seed1']
    """
    runs = [
        GridRun(t, s, k)
        for t in parse_list(tasks, TASKS, "task")
        for s in parse_list(systems, SYSTEMS, "system")
        for k in parse_seeds(seeds)
    ]
    if shard is not None:
        i, n = parse_shard(shard)
        runs = runs[i - 1 :: n]
    return runs


# ----------------------------------------------------------------------------- results.csv
def _order_key(task: str, system: str, seed: int) -> tuple:
    t = TASKS.index(task) if task in TASKS else len(TASKS)
    s = SYSTEMS.index(system) if system in SYSTEMS else len(SYSTEMS)
    return (t, task, s, system, seed)


def collect_results(out: str | os.PathLike) -> pd.DataFrame:
    """One row per finished run under ``out/runs`` (its ``metrics.json``), in grid order.

    A metrics.json whose task, system or seed disagree with its folder's names is an error.
    """
    out = Path(out)
    rows = []
    for path in sorted((out / "runs").glob("*/*/seed*/metrics.json")):
        run = path.parent
        try:
            seed = int(run.name[len("seed") :])
        except ValueError:
            continue
        m = read_json(path, f"move the folder {run} away to train that run again")
        where = (run.parent.parent.name, run.parent.name, seed)
        if (m.get("task"), m.get("system"), m.get("seed")) != where:
            raise GridArgumentError(
                f"{path} is for {m.get('task')}/{m.get('system')}/seed{m.get('seed')} but lies in "
                f"the folder of {where[0]}/{where[1]}/seed{seed}; move it to its own folder"
            )
        row: dict[str, Any] = {c: m.get(c) for c in RESULT_COLUMNS}
        if m.get("confusion") is not None:
            row["confusion"] = json.dumps(m["confusion"], separators=(",", ":"))
        row["run"] = run.relative_to(out).as_posix()
        rows.append(row)
    rows.sort(key=lambda r: _order_key(r["task"], r["system"], r["seed"]))
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing); waits for other holders."""
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def write_results(out: str | os.PathLike) -> pd.DataFrame:
    """Rebuild ``out/results.csv`` from the run folders, under ``out/.lock``; return the table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with locked(out / LOCK):
        for stale in out.glob(f".{RESULTS}.*.tmp"):  # left by a writer killed mid-write
            stale.unlink(missing_ok=True)
        df = collect_results(out)
        atomic_write_text(out / RESULTS, df.to_csv(index=False, lineterminator="\n"))
    return df


# ----------------------------------------------------------------------------- running
def _config_diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """``"key: old -> new"`` for every dotted key where two nested config dicts differ
    (``output_dir`` aside: it does not change a run's results)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [k for k in dict.fromkeys([*old, *new]) if k != "output_dir"]
        return [d for k in keys for d in _config_diff(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def _check_folder(cfg, run_dir: Path) -> None:
    """A run folder that holds a config must hold ``cfg`` (else its results are another grid's)."""
    from xlser.config import asdict, load_config

    path = run_dir / "config.yaml"
    if not path.is_file():
        return
    diff = _config_diff(asdict(load_config(path)), asdict(cfg))
    if diff:
        raise GridArgumentError(
            f"{path} was written with other settings ({'; '.join(diff[:6])}"
            f"{'; ...' if len(diff) > 6 else ''}); use another --out, or the settings that "
            "folder was trained with"
        )


def _train_one(cfg, run_dir: str) -> tuple[str, Any]:
    """Train one run unless another process holds its folder: ``("done", metrics)``,
    ``("busy", None)`` or ``("failed", message)``. Runs in a worker process with ``--jobs``."""
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "busy", None
        from xlser import train
        from xlser.cli import REPORTED

        try:
            return "done", train.run_experiment(cfg, folder, progress=False)
        except REPORTED as e:  # bad input: the message names the file or key and the fix
            return "failed", f"{type(e).__name__}: {e}"
        except Exception:  # a bug: keep the traceback; one failed run does not stop the grid
            return "failed", traceback.format_exc().rstrip()
    finally:
        os.close(fd)  # releases the lock


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _cuda_initialized() -> bool:
    """A process that has used CUDA cannot fork workers that use it (they spawn instead)."""
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_grid(
    out: str | os.PathLike,
    profile: str | None = None,
    tasks: str | Sequence[str] | None = None,
    systems: str | Sequence[str] | None = None,
    seeds: str | Sequence[int] | None = None,
    max_steps: int | None = None,
    shard: str | tuple[int, int] | None = None,
    jobs: int = 1,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Train every (task, system, seed) not finished yet in ``out/runs``; return ``results.csv``.

    ``tasks``/``systems``/``seeds``: lists or comma-separated strings (default: the nine tasks, the
    six systems, seed 0). ``overrides``: dotted config keys (as ``train --set``); ``max_steps`` sets
    ``train.max_steps``. ``shard``: ``"I/N"`` (1-based). ``jobs``: runs side by side in worker
    processes, each with ``cores // jobs`` torch threads. The returned table holds every finished
    run under ``out`` (also other shards'); ``attrs["grid"]`` counts this call's runs.
    Raises :class:`GridError` after the others finished when some runs failed.
    """
    from xlser.book import experiment
    from xlser.config import profile as env_profile

    prof = profile or env_profile()
    if prof not in PROFILES:
        raise GridArgumentError(f"--profile {prof!r} is not one of {list(PROFILES)}")
    if not isinstance(jobs, int) or jobs < 1:
        raise GridArgumentError(f"--jobs expects a positive integer, got {jobs!r}")
    from xlser.distributed import env_world_size

    if env_world_size() > 1:  # every rank would lock and skip runs alone
        raise GridArgumentError(
            "the grid does not run under torchrun yet: start one grid per GPU with --shard I/N "
            "(CUDA_VISIBLE_DEVICES=i), or train single runs with torchrun ... -m xlser train"
        )
    if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
        raise GridArgumentError(f"--max-steps expects a positive integer, got {max_steps!r}")
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise GridArgumentError(f"--out {out} is a file; give a folder for the grid")
    runs = grid_runs(tasks, systems, seeds, parse_shard(shard))
    over = dict(overrides or {})
    for key, option in (("task", "--tasks"), ("system", "--systems"), ("seed", "--seeds")):
        if key in over:
            raise GridArgumentError(f"--set {key}=... is chosen by the grid; use {option}")
    if "profile" in over:
        raise GridArgumentError("--set profile=... is chosen by the grid; use --profile")
    if max_steps is not None:
        over["train.max_steps"] = max_steps
    over.setdefault("output_dir", str(out / "runs"))
    configs = [
        experiment(prof, task=r.task, system=r.system, seed=r.seed, **over) for r in runs
    ]  # every config is built (and checked) before the first write
    todo = []
    for r, cfg in zip(runs, configs):
        _check_folder(cfg, r.folder(out))
        if not (r.folder(out) / "metrics.json").is_file():
            todo.append((r, cfg))

    counts = {"selected": len(runs), "finished_before": len(runs) - len(todo)}
    counts |= {"trained": 0, "failed": 0, "busy": 0}
    failures: dict[str, str] = {}
    write_results(out)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(runs), initial=counts["finished_before"], desc="grid", unit="run")

    def finished(r: GridRun, status: str, value: Any) -> None:
        counts["trained" if status == "done" else status] += 1
        if status == "failed":
            failures[r.key] = value
        if bar is not None:
            if status == "done":
                bar.set_postfix_str(f"{r.key} UAR {value['uar']:.1f}")
            else:
                bar.write(f"{r.key}: {status}{': ' + value if value else ''}")
            bar.update(1)
        if status == "done":
            write_results(out)

    try:
        if jobs == 1 or len(todo) <= 1:
            for r, cfg in todo:
                if bar is not None:
                    bar.set_postfix_str(f"training {r.key}")
                finished(r, *_train_one(cfg, str(r.folder(out))))
        else:
            method = "fork" if sys.platform == "linux" and not _cuda_initialized() else "spawn"
            threads = max(1, _cpus() // jobs)
            with ProcessPoolExecutor(
                min(jobs, len(todo)),
                mp_context=multiprocessing.get_context(method),
                initializer=_init_worker,
                initargs=(threads,),
            ) as pool:
                futures = {pool.submit(_train_one, cfg, str(r.folder(out))): r for r, cfg in todo}
                try:
                    for fut in as_completed(futures):
                        finished(futures[fut], *fut.result())
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        if bar is not None:
            bar.close()
    df = write_results(out)
    df.attrs["grid"] = counts
    if failures:
        lines = "\n".join(f"  {k}: {v}" for k, v in failures.items())
        raise GridError(
            f"{len(failures)} of {len(runs)} runs failed (the others are in {out / RESULTS}); "
            f"fix the cause and run the same command again:\n{lines}",
            df,
            failures,
        )
    return df


def summary_line(df: pd.DataFrame, out: str | os.PathLike) -> str:
    """``OUT/results.csv: N finished runs (this call: ...); mean target UAR ...``."""
    c = df.attrs.get("grid", {})
    this = (
        f" (this call: {c['trained']} trained, {c['finished_before']} already finished"
        + (f", {c['busy']} being trained by another process" if c.get("busy") else "")
        + (f", {c['failed']} failed" if c.get("failed") else "")
        + ")"
        if c
        else ""
    )
    uar = f"; mean target UAR {df['uar'].mean():.2f} %" if len(df) else ""
    return f"{Path(out) / RESULTS}: {len(df)} finished runs{this}{uar}"


# ----------------------------------------------------------------------------- CLI
def register_cli(subparsers: argparse._SubParsersAction) -> None:
    from xlser.cli import add_config_arguments

    p = subparsers.add_parser(
        "grid",
        help="train every (task, system, seed) of Table 2; resumable; writes OUT/results.csv",
        description=(
            "Train the nine tasks x six systems x seeds in OUT/runs/<task>/<system>/seed<k>/ "
            "(finished runs are skipped, interrupted ones resume) and rebuild OUT/results.csv "
            "from the run folders after every run."
        ),
    )
    p.add_argument("--out", required=True, help="grid folder (holds runs/ and results.csv)")
    p.add_argument("--tasks", help=f"comma-separated (default: all of {','.join(TASKS)})")
    p.add_argument("--systems", help=f"comma-separated (default: all of {','.join(SYSTEMS)})")
    p.add_argument("--seeds", default="0", help="comma-separated integers (default: 0)")
    p.add_argument("--max-steps", type=int, help="cap every run at N optimiser steps")
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="1-based: keep runs I, I+N, I+2N, ... of the ordered grid (e.g. 2/4)",
    )
    p.add_argument("--jobs", type=int, default=1, help="runs side by side (worker processes)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_arguments(p, run=False)  # --profile, --config, --set: the CLI's one policy
    p.set_defaults(func=_cli)


def grid_overrides(args: argparse.Namespace) -> tuple[str | None, dict[str, Any]]:
    """``--config FILE`` (its keys, without task/system/seed, which the grid sets; its profile,
    else full, as for ``train``) and then ``--set`` on top: the profile and the overrides every run
    of the grid gets."""
    from xlser.cli import parse_overrides
    from xlser.config import _merge, _undot, read_config_file

    prof, over = args.profile, {}
    if args.config:
        over = read_config_file(args.config)
        prof = over.pop("profile", "full")  # as load_config: the file's profile, else full
        for key in ("task", "system", "seed"):
            over.pop(key, None)
    _merge(over, _undot(parse_overrides(args.set)), "")
    return prof, over


def _cli(args: argparse.Namespace) -> int:
    start = time.time()
    prof, over = grid_overrides(args)
    try:
        df = run_grid(
            args.out,
            prof,
            args.tasks,
            args.systems,
            args.seeds,
            max_steps=args.max_steps,
            shard=args.shard,
            jobs=args.jobs,
            overrides=over,
            progress=not args.no_progress,
        )
    except GridError as e:
        print(summary_line(e.results, args.out))
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{summary_line(df, args.out)}; {time.time() - start:.0f} s")
    return 0
