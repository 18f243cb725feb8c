"""One experiment, end to end: the task's data, the sampler, the run folder, resuming, testing.

:func:`run_experiment` trains one (task, system, seed) with :class:`~xlser.trainer.Trainer`,
restores the best validation model, tests it on the target and writes a self-describing run folder:

===========================  ===============================================================
``run.json``                 the marker, written first: this folder is an xlser run
``config.yaml``              the whole :class:`~xlser.config.ExperimentConfig`
``log.jsonl``                training and validation records (no duplicates after a resume)
``checkpoint.json`` + dir    the resume point (safetensors + JSON; removed when finished)
``model.safetensors``        the selected model's trainable tensors (the base is the encoder)
``trainer_state.json``       steps, best step, history
``predictions.csv``          every test utterance of the target and training languages
``embeddings.safetensors``   their pooled embeddings ``e`` (row-aligned with predictions.csv)
``metrics.json``             written last: target UAR, macro-F1, confusion, ``test_n``, encoder
===========================  ===============================================================

Ownership: xlser writes only into an empty folder or one holding its marker, and ``overwrite``
removes only the files in this table (:data:`RUN_FILES`), never others.

Several processes (``torchrun``, :mod:`xlser.distributed`): rank 0 alone checks and writes the run
folder; the other ranks train and evaluate with it and write nothing. ``metrics.json`` records
``world_size``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import asdict as dc_asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from xlser import EMOTIONS, __version__, distributed
from xlser.config import ConfigError, ExperimentConfig, asdict, world_manifest
from xlser.data.manifest import manifest_paths, read_manifests
from xlser.encoder import display_name
from xlser.errors import DataError, XlserError
from xlser.io import (
    CorruptFileError,
    atomic_save_tensors,
    atomic_write_text,
    read_json,
    read_tensors,
    write_json,
)
from xlser.sampler import ClassBalancedBatchSampler, HierarchicalBatchSampler
from xlser.systems import SYSTEM_SPECS
from xlser.tasks import parse_task, training_languages
from xlser.trainer import TaskData, Trainer, TrainerState, resolve_device, seed_everything

__all__ = [
    "RUN_FILES",
    "RunFolderError",
    "is_run_folder",
    "make_batch_sampler",
    "run_experiment",
    "task_data",
]

MARKER = "run.json"
RUN_FILES = (
    MARKER,
    "config.yaml",
    "log.jsonl",
    "checkpoint.json",
    "model.safetensors",
    "trainer_state.json",
    "predictions.csv",
    "embeddings.safetensors",
    "metrics.json",
    *(f"{stem}.{ext}" for stem in ("tsne", "tsne_all") for ext in ("png", "svg", "json")),
)
"""Every file xlser writes into a run folder (plus ``checkpoint-<step>/`` folders); the
``tsne*`` files are written later by ``python -m xlser tsne``."""


class RunFolderError(XlserError, ValueError):
    """A run folder cannot be used as asked; the message names the folder and the fix."""


# ----------------------------------------------------------------------------- data


def task_data(cfg: ExperimentConfig, progress: bool = True) -> TaskData:
    """Select the rows a run uses, checked before anything is trained or written.

    Train and validation rows come from the system's training languages (paper §3.2), test rows
    from the target. The smoke corpus is synthesised first if it is missing, but only into the
    profile's own location for its world (never into a folder named by a user-set manifest).

    Checked here, before the run folder is touched: every manifest row's audio file exists and
    its header is readable and long enough (headers only; the front-end cache reads every row),
    the train split and the target's test split are not empty; a training language without a
    validation split is a warning. Raises :class:`~xlser.errors.DataError` naming the files or
    split and the fix.
    """
    from xlser.data.audio import check_headers

    if cfg.data.synthesize_if_missing and cfg.data.world is not None:
        own = world_manifest(cfg.data.world)
        if [str(own)] == [str(Path(m)) for m in cfg.data.manifests] and not own.exists():
            from xlser.world.synthesis import ensure_synthetic

            ensure_synthetic(own, cfg.data.world, progress=progress)
    files = manifest_paths(cfg.data.manifests)
    df = read_manifests(files)
    task = parse_task(cfg.task)
    langs = training_languages(task, cfg.system)
    where = [str(f) for f in files]
    missing = sorted(set(langs + (task.target,)) - set(df["language"]))
    if missing:
        raise DataError(
            f"no manifest rows for language(s) {missing} in {where}; prepare the corpora for "
            "them (python -m xlser prepare ...) or change data.manifests"
        )
    bad = check_headers(df["path"])
    if bad:
        source = {}  # which manifest lists each bad file (read again only on this error path)
        for f in files:
            source.update(dict.fromkeys(read_manifests([f])["path"], f))
        lines = [f"  {p} (listed in {source.get(p, where)}): {why}" for p, why in bad[:10]]
        more = [f"  ... and {len(bad) - 10} more"] if len(bad) > 10 else []
        raise DataError(
            f"{len(bad)} manifest row(s) point to missing or unreadable audio:\n"
            + "\n".join(lines + more)
            + "\nrestore the files, or rebuild the manifest without them (python -m xlser "
            "prepare ... --skip-bad --overwrite), or delete their rows"
        )
    split = df["split"]
    train = df[df["language"].isin(langs) & (split == "train")].reset_index(drop=True)
    val = df[df["language"].isin(langs) & (split == "val")].reset_index(drop=True)
    test = df[(df["language"] == task.target) & (split == "test")].reset_index(drop=True)
    others = [lang for lang in langs if lang != task.target]
    reference = df[df["language"].isin(others) & (split == "test")].reset_index(drop=True)
    if not len(train):
        raise DataError(
            f"no train rows for language(s) {list(langs)} in {where}; the manifests' split "
            "column needs 'train' rows (python -m xlser prepare assigns train/val/test)"
        )
    if not len(test):
        raise DataError(
            f"task {task.name}: the target {task.target!r} has no test rows in {where}; "
            "a zero-shot run needs the target's test split (python -m xlser prepare assigns "
            "train/val/test; --split paper gives every corpus a test split)"
        )
    no_val = sorted(set(langs) - set(val["language"]))
    if no_val:
        warnings.warn(
            f"training language(s) {no_val} have no validation rows in {where}: model "
            f"selection uses the others only ({sorted(set(val['language']))})",
            stacklevel=2,
        )
    cache_dir = files[0].parent / ".xlser-cache" if files else None
    speakers = sorted(train["speaker"].unique())
    return TaskData(train, val, test, speakers, cache_dir, reference, df)


def make_batch_sampler(
    cfg: ExperimentConfig,
    train: pd.DataFrame,
    seed: int,
    rank: int | None = None,
    world_size: int | None = None,
):
    """The system's sampler (paper §2.2): hierarchical for multilingual systems, else
    class-balanced batches of one language (or plain random batches, as configured).

    Under DDP every rank draws the same global batch of ``cfg.batch_size`` and keeps the strided
    slice ``batch[rank::world_size]``, ``cfg.batch_size / world_size`` rows (``rank`` and
    ``world_size`` default to this process's, :mod:`xlser.distributed`).
    """
    s, spec = cfg.sampler, SYSTEM_SPECS[cfg.system]
    rank = distributed.rank() if rank is None else rank
    world_size = distributed.world_size() if world_size is None else world_size
    if cfg.batch_size % world_size:
        raise ConfigError(
            f"the global batch of {cfg.batch_size} (sampler.n_languages x sampler.n_emotions x "
            f"sampler.n_per_pair = {s.n_languages} x {s.n_emotions} x {s.n_per_pair}) cannot be "
            f"split evenly over {world_size} processes; start a number of processes that divides "
            f"{cfg.batch_size} (torchrun --nproc_per_node), or change the sampler"
        )
    shard = {"rank": rank, "world_size": world_size}
    kind = s.multilingual if spec.multilingual else s.single_language
    if kind == "hierarchical":
        return HierarchicalBatchSampler(
            train["language"].tolist(),
            train["emotion"].tolist(),
            s.n_languages,
            s.n_emotions,
            s.n_per_pair,
            num_batches=s.num_batches,
            seed=seed,
            replacement=s.replacement,
            **shard,
        )
    if kind == "class_balanced":
        return ClassBalancedBatchSampler(
            train["emotion"].tolist(),
            s.n_emotions,
            s.n_languages * s.n_per_pair,
            num_batches=s.num_batches,
            seed=seed,
            replacement=s.replacement,
            **shard,
        )
    return _RandomBatches(len(train), cfg.batch_size, seed, **shard)


class _RandomBatches:
    """Plain shuffled batches of ``batch_size``, seeded per epoch; the last one may be short.

    Under DDP every rank shuffles alike and keeps ``batch[rank::world_size]``; a short last batch
    that does not split evenly over the ranks is left out (equal shares keep DDP's average of the
    ranks' mean losses the global-batch mean)."""

    def __init__(
        self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, 0
        self.rank, self.world_size = rank, world_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + bool(rest and rest % self.world_size == 0)

    def __iter__(self):
        order = np.random.default_rng((self.seed, self.epoch)).permutation(self.n)
        for i in range(len(self) * self.batch_size)[:: self.batch_size]:
            yield order[i : i + self.batch_size][self.rank :: self.world_size].tolist()


# ----------------------------------------------------------------------------- run folders


def is_run_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds xlser's run marker."""
    try:
        return "xlser_run" in read_json(Path(folder) / MARKER)
    except (OSError, CorruptFileError, TypeError):
        return False


def _claim(run_dir: Path, cfg: ExperimentConfig, overwrite: bool) -> str:
    """Check the folder before the first write: ``"new"``, ``"resume"`` or ``"done"``."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is a file; --out must be a folder")
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return "new"
    if not is_run_folder(run_dir):
        raise RunFolderError(
            f"{run_dir} is not empty and is not an xlser run folder (no {MARKER}); xlser "
            "writes runs only into empty folders or its own: choose another --out"
        )
    if overwrite:
        remove_run(run_dir)
        return "new"
    saved = run_dir / "config.yaml"
    if saved.is_file():
        from xlser.config import load_config

        try:
            old = asdict(load_config(saved))
        except (ConfigError, ValueError) as e:
            raise RunFolderError(f"{saved}: cannot read it ({e}); pass --overwrite") from e
        diff = _differences(old, asdict(cfg))
        if diff:
            state = "a finished" if (run_dir / "metrics.json").is_file() else "an interrupted"
            raise RunFolderError(
                f"{run_dir} holds {state} run with another config ({'; '.join(diff[:8])}); "
                "pass --overwrite to replace it, or choose another --out"
            )
    if (run_dir / "metrics.json").is_file():
        return "done"
    return "resume" if (run_dir / "checkpoint.json").is_file() else "new"


RESULT_NEUTRAL = frozenset({"output_dir", "data.num_workers", "data.resample_cache"})
"""Keys that do not change what a run computes (where it is written; how many processes read the
audio; whether a 48 kHz file's 16 kHz samples are read from a copy or resampled again, the same
samples either way): a finished or interrupted run with other values of these is the same run."""


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b and f"{prefix}{k}" not in RESULT_NEUTRAL:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def remove_run(run_dir: Path) -> None:
    """Delete what xlser wrote in ``run_dir`` (:data:`RUN_FILES`, checkpoint folders) only."""
    for name in ("metrics.json", *RUN_FILES):  # metrics first: never a stale "finished"
        with contextlib.suppress(FileNotFoundError):
            (run_dir / name).unlink()
    for d in run_dir.glob("checkpoint-*"):
        if d.is_dir() and (d / "state.json").exists():
            shutil.rmtree(d)


# ----------------------------------------------------------------------------- checkpoints


class Checkpointer:
    """Hook: saves the trainer's full state as safetensors + JSON (no pickle) and restores it.

    ``checkpoint.json`` points to the newest complete ``checkpoint-<step>/`` folder; it is
    replaced atomically after the folder is written, so a kill at any moment leaves a usable
    checkpoint. RNG states (torch CPU and CUDA, numpy, Python) are saved and restored: on CPU a
    resumed run gives the same result as an uninterrupted one (tested); on GPU, the same up to
    the nondeterminism of CUDA kernels.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_checkpoint(self, trainer: Trainer) -> None:
        rngs = distributed.all_gather_object(_rng_state())  # every rank's generators
        if not distributed.is_main():
            return  # rank 0 writes
        step = trainer.state.step
        folder = self.run_dir / f"checkpoint-{step}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        atomic_save_tensors(folder / "trainable.safetensors", trainer.trainable_state())
        if trainer.best is not None:
            atomic_save_tensors(folder / "best.safetensors", trainer.best)
        opt_tensors, opt_meta = _flatten_optimizer(trainer.optimizer.state_dict())
        atomic_save_tensors(folder / "optimizer.safetensors", opt_tensors)
        state = {
            "xlser": __version__,
            "trainer": dc_asdict(trainer.state),
            "optimizer": opt_meta,
            "scaler": trainer.scaler.state_dict(),
            "rng": rngs[0],
            "rng_by_rank": rngs,
            "has_best": trainer.best is not None,
        }
        write_json(folder / "state.json", state)
        write_json(self.run_dir / "checkpoint.json", {"folder": folder.name, "step": step})
        for old in self.run_dir.glob("checkpoint-*"):
            if old != folder and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)

    def restore(self, trainer: Trainer) -> None:
        fix = "pass --overwrite to start the run afresh"
        pointer = read_json(self.run_dir / "checkpoint.json", fix)
        folder = self.run_dir / pointer["folder"]
        state = read_json(folder / "state.json", fix)
        if state.get("xlser") != __version__:
            raise RunFolderError(
                f"{folder}: written by xlser {state.get('xlser')}, this is {__version__}; "
                f"{fix} (checkpoints are not carried across versions)"
            )
        load_trainable(trainer.model, read_tensors(folder / "trainable.safetensors", fix), folder)
        trainer.best = read_tensors(folder / "best.safetensors", fix) if state["has_best"] else None
        opt = _unflatten_optimizer(read_tensors(folder / "optimizer.safetensors", fix), state)
        trainer.optimizer.load_state_dict(opt)
        trainer.scaler.load_state_dict(state["scaler"])
        trainer.state = TrainerState(**state["trainer"])
        rngs, r = state.get("rng_by_rank", [state["rng"]]), distributed.rank()
        if len(rngs) == distributed.world_size() or r == 0:
            _set_rng_state(rngs[r])
        else:  # resumed with more processes than it was written by: fresh streams for the rest
            seed_everything(distributed.rank_seed(trainer.cfg.seed + trainer.state.step))


def load_trainable(model: torch.nn.Module, tensors: dict, where: str | Path) -> None:
    """Load trainable tensors into ``model``, checking names both ways (an unexpected name, or a
    missing trainable one, raises naming them; frozen base weights come from the encoder)."""
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    unexpected, missing = sorted(set(tensors) - trainable), sorted(trainable - set(tensors))
    if unexpected or missing:
        raise RunFolderError(
            f"{where}: weights do not match the model built from the config "
            f"(unexpected: {unexpected[:6]}{'...' if len(unexpected) > 6 else ''}; missing: "
            f"{missing[:6]}{'...' if len(missing) > 6 else ''}); was it written by another "
            "config or xlser version?"
        )
    model.load_state_dict(tensors, strict=False)


def _flatten_optimizer(sd: dict) -> tuple[dict, dict]:
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for name, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{name}"] = v
            else:
                scalars[f"{pid}.{name}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict, state: dict) -> dict:
    out: dict[int, dict] = {}
    for key, v in [*tensors.items(), *state["optimizer"]["scalars"].items()]:
        pid, name = key.split(".", 1)
        out.setdefault(int(pid), {})[name] = v
    return {"state": out, "param_groups": state["optimizer"]["param_groups"]}


def _cuda_rng_states() -> list:
    """Every GPU's generator; under DDP this process's GPU only (touching the others would open
    a CUDA context on each of them from every process)."""
    if not torch.cuda.is_available():
        return []
    if distributed.is_distributed():
        return [torch.cuda.get_rng_state().tolist()]
    return [s.tolist() for s in torch.cuda.get_rng_state_all()]


def _rng_state() -> dict:
    np_state = np.random.get_state()
    py = random.getstate()
    return {
        "torch": torch.get_rng_state().tolist(),
        "cuda": _cuda_rng_states(),
        "numpy": [np_state[0], np_state[1].tolist(), *map(float, np_state[2:])],
        "python": [py[0], list(py[1]), py[2]],
    }


def _set_rng_state(s: dict) -> None:
    torch.set_rng_state(torch.tensor(s["torch"], dtype=torch.uint8))
    cuda = [torch.tensor(x, dtype=torch.uint8) for x in s["cuda"]]
    if cuda and torch.cuda.is_available():
        if distributed.is_distributed():
            torch.cuda.set_rng_state(cuda[0])  # this process's GPU
        else:
            torch.cuda.set_rng_state_all(cuda)
    name, keys, pos, has_gauss, gauss = s["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), int(pos), int(has_gauss), gauss))
    random.setstate((s["python"][0], tuple(s["python"][1]), s["python"][2]))


class JsonlLogger:
    """Hook: append every logged step and every validation to ``run_dir/log.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _write(self, rec: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")

    def on_step_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        self._write(logs)

    def on_eval_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self._write(metrics)

    def truncate(self, step: int) -> None:
        """Keep the records of steps up to ``step`` (the resume point): no duplicates."""
        if not self.path.exists():
            return
        keep = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                if json.loads(line).get("step", 0) <= step:
                    keep.append(line)
        atomic_write_text(self.path, "".join(k + "\n" for k in keep))


# ----------------------------------------------------------------------------- the experiment


def run_experiment(
    cfg: ExperimentConfig,
    run_dir: str | Path,
    progress: bool = True,
    overwrite: bool = False,
    hooks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train one (task, system, seed), restore the best validation model, test on the target.

    Everything is checked before the first write (config, data, run folder). A finished run with
    the same config is not run again (its metrics are returned); one with another config is an
    error naming the differences. An interrupted run continues from its last checkpoint (inside
    an epoch too) to the same result as an uninterrupted one; ``overwrite`` starts afresh,
    removing only the files xlser wrote.

    Under ``torchrun`` every rank calls this (:mod:`xlser.distributed`): rank 0 checks and writes
    the folder, every rank trains and tests, every rank returns the metrics once they are
    written. ``hooks`` run on rank 0 only.
    """
    from xlser.config import save_config

    cfg.validate()
    run_dir = Path(run_dir)
    distributed.init_from_env(resolve_device(cfg.train.device))  # several processes: join them
    main = distributed.is_main()
    status = distributed.on_main(lambda: _claim(run_dir, cfg, overwrite))
    if status == "done":
        return read_json(run_dir / "metrics.json", "pass --overwrite to run it again")
    # rank 0 first: it may synthesise the smoke corpus, the other ranks then read it
    data = distributed.main_first(lambda: task_data(cfg, progress and main))
    ckpt, logger = Checkpointer(run_dir), JsonlLogger(run_dir / "log.jsonl")
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    if main and status == "new":
        write_json(run_dir / MARKER, {"xlser_run": 1, "xlser": __version__})
        save_config(cfg, run_dir / "config.yaml", overwrite=True)
        (run_dir / "log.jsonl").unlink(missing_ok=True)
    hooks = [logger, ckpt, *hooks] if main else [ckpt]  # the checkpoint gathers every rank's RNG
    trainer = Trainer(cfg, data, hooks=hooks, progress=progress)
    if status == "resume":
        ckpt.restore(trainer)  # every rank reads the checkpoint rank 0 wrote
        if main:
            logger.truncate(trainer.state.step)
    try:
        state = trainer.fit()
        if trainer.best is not None:
            load_trainable(trainer.model, trainer.best, "the best validation model")
        metrics = _test(trainer, cfg, data, run_dir)
    finally:
        trainer.close()  # the loader's workers

    def finish() -> dict[str, Any]:
        atomic_save_tensors(run_dir / "model.safetensors", trainer.trainable_state())
        write_json(run_dir / "trainer_state.json", dc_asdict(state))
        write_json(run_dir / "metrics.json", metrics)  # last: its presence means "finished"
        (run_dir / "checkpoint.json").unlink(missing_ok=True)
        for d in run_dir.glob("checkpoint-*"):
            shutil.rmtree(d, ignore_errors=True)
        return metrics

    # rank 0 writes; every rank waits for it and returns the metrics it wrote (its wall_s)
    return distributed.on_main(finish)


def _test(trainer: Trainer, cfg: ExperimentConfig, data: TaskData, run_dir: Path) -> dict:
    """Test on the target; write predictions and embeddings of every language's test split
    (rank 0; every rank predicts its share under DDP)."""
    from sklearn.metrics import confusion_matrix

    rows = pd.concat([data.test, data.reference], ignore_index=True)
    out = trainer.predict(rows)
    n = len(data.test)
    target = {k: v[:n] for k, v in out.items()}
    test = trainer.evaluate(data.test, target)
    task = parse_task(cfg.task)
    if distributed.is_main():
        preds = rows[["utt_id", "language", "speaker", "emotion", "split"]].copy()
        preds["is_target"] = np.arange(len(rows)) < n
        preds["pred"] = [EMOTIONS[i] for i in out["pred"]]
        for i, e in enumerate(EMOTIONS):
            preds[f"prob_{e}"] = out["probs"][:, i].round(6)
        csv = preds.to_csv(index=False, lineterminator="\n")
        atomic_write_text(run_dir / "predictions.csv", csv)
        embeddings = {"embeddings": torch.from_numpy(out["embeddings"])}
        atomic_save_tensors(run_dir / "embeddings.safetensors", embeddings)
    y = [EMOTIONS.index(e) for e in data.test["emotion"]]
    val = next((h for h in reversed(trainer.state.history) if h.get("kind") == "val"
                and h["step"] == trainer.state.best_step), None)  # fmt: skip
    info = getattr(trainer.model, "info", None)
    return {
        "task": task.name,
        "source": task.source,
        "target": task.target,
        "system": cfg.system,
        "seed": cfg.seed,
        "profile": cfg.profile,
        "steps": trainer.state.step,
        "best_step": trainer.state.best_step,
        "wall_s": round(trainer.state.wall_s, 2),
        "n_train": len(data.train),
        "n_speakers": len(data.speakers),
        "test_n": n,
        "encoder": display_name(info.name) if info is not None else cfg.model.encoder,
        "training_languages": list(training_languages(task, cfg.system)),
        "uar": test["uar"],
        "macro_f1": test["macro_f1"],
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "confusion": confusion_matrix(y, target["pred"], labels=range(len(EMOTIONS))).tolist(),
        "labels": list(EMOTIONS),
        "val": val,
        "world_size": distributed.world_size(),
        "xlser_version": __version__,
    }
