"""A small explicit training loop with named hooks (SpeechBrain ``Brain``-style), for every system.

Loss (paper eq. 12): ``L = CE + w_scl * SCL + w_adv * ADV`` on one hierarchical batch; a system switches
SCL and ADV off (:mod:`xlser.systems`). Model selection uses the validation splits of the *training*
languages only (zero-shot; the Upper bound uses the target's), and the selected model is tested on the
target's test split.

Hooks: pass objects with any of ``on_fit_start(trainer)``, ``on_step_end(trainer, logs)``,
``on_eval_end(trainer, metrics)``, ``on_fit_end(trainer)``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from xlser import EMOTIONS
from xlser.adversarial import adversarial_terms, dann_coeff
from xlser.config import PROFILES, ExperimentConfig
from xlser.data.audio import SERDataset, collate, label_index
from xlser.data.manifest import manifest_paths, read_manifests
from xlser.losses import LanguageAwareSupConLoss
from xlser.metrics import emotion_metrics
from xlser.sampler import ClassBalancedBatchSampler, HierarchicalBatchSampler
from xlser.systems import SYSTEM_SPECS
from xlser.tasks import parse_task, training_languages

CHECKPOINT = "checkpoint.pt"
"""End-of-epoch checkpoint in a run folder; removed once ``metrics.json`` is written."""


@dataclass
class TaskData:
    """Manifest rows of one (task, system): train/val on the training languages, test on the target."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    speakers: list[str]
    """Training speakers (the adversary's classes), corpus-namespaced and sorted."""


def task_data(cfg: ExperimentConfig) -> TaskData:
    """Select the rows a run uses; synthesise the smoke corpus first if configured and missing."""
    if cfg.data.synthesize_if_missing and cfg.data.manifests:
        from xlser.data.synthetic import ensure_synthetic

        ensure_synthetic(cfg.data.manifests[0], cfg.world, seed=cfg.world.seed)
    files = manifest_paths(cfg.data.manifests)
    df = read_manifests(files)
    task = parse_task(cfg.task)
    langs = training_languages(task, cfg.system)
    missing = sorted(set(langs + (task.target,)) - set(df["language"]))
    if missing:
        raise ValueError(
            f"no manifest rows for language(s) {missing} in {[str(f) for f in files]}; "
            f"prepare the corpora for them (python -m xlser prepare ...) or change data.manifests"
        )
    train = df[df["language"].isin(langs) & (df["split"] == "train")].reset_index(drop=True)
    val = df[df["language"].isin(langs) & (df["split"] == "val")].reset_index(drop=True)
    test = df[(df["language"] == task.target) & (df["split"] == "test")].reset_index(drop=True)
    return TaskData(train, val, test, sorted(train["speaker"].unique()))


def make_batch_sampler(cfg: ExperimentConfig, train: pd.DataFrame, seed: int):
    """The system's sampler (spec §4): hierarchical for multilingual systems, class-balanced else."""
    s, spec = cfg.sampler, SYSTEM_SPECS[cfg.system]
    kind = s.multilingual if spec.multilingual else s.single_language
    num_batches = s.num_batches
    if kind == "hierarchical":
        return HierarchicalBatchSampler(
            train["language"].tolist(),
            train["emotion"].tolist(),
            s.n_languages,
            s.n_emotions,
            s.n_per_pair,
            num_batches=num_batches,
            seed=seed,
            replacement=s.replacement,
        )
    if kind == "class_balanced":
        return ClassBalancedBatchSampler(
            train["emotion"].tolist(),
            s.n_emotions,
            s.n_languages * s.n_per_pair,
            num_batches=num_batches,
            seed=seed,
            replacement=s.replacement,
        )
    g = torch.Generator().manual_seed(seed)  # plain random batches of the same size
    return torch.utils.data.BatchSampler(
        torch.utils.data.RandomSampler(train, generator=g), cfg.batch_size, drop_last=False
    )


def seed_everything(seed: int) -> None:
    """Seed every global generator a run draws from: torch (init, dropout, LayerDrop), numpy (HF's
    SpecAugment masks) and Python's ``random``. Data order and crops use their own seeded generators."""
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class TrainerState:
    step: int = 0
    epoch: int = 0
    best_metric: float = -math.inf
    best_step: int = 0
    bad_evals: int = 0
    wall_s: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Train one (task, system, seed) and evaluate it.

    Args:
        cfg: the experiment.
        model: an :class:`xlser.model.SERModel` (built by :func:`xlser.model.build_model` if None).
        data: the run's rows (:func:`task_data` if None).
        run_dir: where ``config.yaml``, ``model.safetensors``, ``trainer_state.json``,
            ``metrics.json`` and ``log.jsonl`` go (``None``: nothing is written).
        hooks: objects with ``on_fit_start``/``on_step_end``/``on_eval_end``/``on_fit_end``.
    """

    def __init__(
        self,
        cfg: ExperimentConfig,
        model: torch.nn.Module | None = None,
        data: TaskData | None = None,
        run_dir: str | Path | None = None,
        hooks: Sequence[Any] = (),
        progress: bool = True,
    ) -> None:
        cfg.validate()
        self.cfg, self.spec = cfg, SYSTEM_SPECS[cfg.system]
        seed_everything(cfg.seed)
        self.data = data if data is not None else task_data(cfg)
        self.device = resolve_device(cfg.train.device)
        if model is None:
            from xlser.model import build_model

            model = build_model(cfg, n_speakers=len(self.data.speakers) if self.spec.use_adv else 0)
        self.model = model.to(self.device)
        self.scl = LanguageAwareSupConLoss(
            cfg.loss.temperature,
            cfg.loss.cross_lingual_pos_weight,
            cfg.loss.pos_norm,
            cfg.loss.anchor_reduce,
        )
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.params,
            lr=cfg.train.lr,
            weight_decay=cfg.train.weight_decay,
            eps=cfg.train.adam_eps,
        )
        d = cfg.data
        self.train_set = SERDataset(
            self.data.train,
            self.data.speakers,
            d.sample_rate,
            d.max_seconds,
            train=True,
            seed=cfg.seed,
        )
        self.batch_sampler = make_batch_sampler(cfg, self.data.train, cfg.seed)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.hooks, self.progress = list(hooks), progress
        self.state = TrainerState()
        self.best: dict[str, torch.Tensor] | None = None
        self.adv_loss_weight = cfg.loss.w_adv

    # ------------------------------------------------------------------ one step
    def compute_loss(self, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 12 on one batch; returns the total and each term (as floats, for logging)."""
        cfg, spec = self.cfg, self.spec
        out = self.model(batch.input_values, batch.lengths, batch.attention_mask)
        ce = F.cross_entropy(out.emotion_logits.float(), batch.emotion)
        loss, terms = ce, {"ce": ce}
        if spec.use_scl and cfg.loss.w_scl:
            z = out.projections if out.projections is not None else out.embeddings
            scl = self.scl(z, batch.emotion, batch.language)
            loss = loss + cfg.loss.w_scl * scl
            terms["scl"] = scl
        if spec.use_adv and cfg.loss.w_adv and out.speaker_logits is not None:
            adv = F.cross_entropy(out.speaker_logits.float(), batch.speaker, ignore_index=-100)
            loss = loss + self.adv_loss_weight * adv
            terms["adv"] = adv
        terms["loss"] = loss
        values = torch.stack([v.detach().float() for v in terms.values()]).tolist()  # one sync
        return loss, dict(zip(terms, values))

    def _set_adversary_schedule(self, progress: float) -> None:
        sched = dann_coeff(progress) if self.cfg.loss.grl_schedule == "dann" else 1.0
        terms = adversarial_terms(self.cfg.loss.adv_weight_mode, self.cfg.loss.w_adv, sched)
        self.adv_loss_weight = terms.loss_weight
        if hasattr(self.model, "set_grl_coeff"):
            self.model.set_grl_coeff(terms.grl_coeff)

    def _autocast(self):
        p = self.cfg.train.precision
        if p == "fp32" or self.device.type != "cuda":
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast("cuda", dtype=torch.bfloat16 if p == "bf16" else torch.float16)

    def train_step(self, batch) -> dict[str, float]:
        self.model.train()
        batch = batch.to(self.device)
        with self._autocast():
            loss, logs = self.compute_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.train.grad_clip)
        self.optimizer.step()
        self.state.step += 1
        return logs

    # ------------------------------------------------------------------ loops
    def _loader(self, epoch: int):
        self.train_set.set_epoch(epoch)
        if hasattr(self.batch_sampler, "set_epoch"):
            self.batch_sampler.set_epoch(epoch)
        return torch.utils.data.DataLoader(
            self.train_set,
            batch_sampler=self.batch_sampler,
            num_workers=self.cfg.data.num_workers,
            collate_fn=lambda items: collate(items, self.cfg.data.normalize),
        )

    def fit(self) -> TrainerState:
        """Train until ``max_steps``/``max_epochs`` or early stopping; keep the best model."""
        t = self.cfg.train
        steps_per_epoch = len(self.batch_sampler)
        total = t.max_steps or t.max_epochs * steps_per_epoch
        self._call("on_fit_start")
        start = time.time()
        bar = tqdm(
            total=total,
            initial=self.state.step,
            desc=f"{self.cfg.task} {self.cfg.system}",
            disable=not self.progress,
        )
        stop = self.state.bad_evals >= t.patience  # a resumed run may have stopped already
        while not stop and self.state.step < total:
            for batch in self._loader(self.state.epoch):
                self._set_adversary_schedule(self.state.step / max(total, 1))
                logs = self.train_step(batch)
                bar.update(1)
                bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()})
                logs = {"step": self.state.step, "epoch": self.state.epoch, **logs}
                self.state.history.append(logs)
                self._call("on_step_end", logs)
                if t.eval_every and self.state.step % t.eval_every == 0:
                    stop = self._validate()
                if stop or self.state.step >= total:
                    break
            self.state.epoch += 1
            if not t.eval_every and not stop:
                stop = self._validate()
            if self.run_dir is not None:
                self.state.wall_s += time.time() - start
                start = time.time()
                self.save_checkpoint(self.run_dir / CHECKPOINT)
        bar.close()
        self.state.wall_s += time.time() - start
        self.wall_s = self.state.wall_s
        self._call("on_fit_end")
        return self.state

    def save_checkpoint(self, path: Path) -> None:
        """Everything needed to continue after this epoch (atomic: temp file + rename)."""
        ckpt = {
            "trainable": self.trainable_state(),
            "optimizer": self.optimizer.state_dict(),
            "state": vars(self.state),
            "best": self.best,
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": np.random.get_state(),  # HF's SpecAugment masks draw from numpy
        }
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save(ckpt, tmp)
        os.replace(tmp, path)

    def load_checkpoint(self, path: Path) -> None:
        """Continue from :meth:`save_checkpoint`'s file: same batches and results as without a stop."""
        ckpt = torch.load(path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(ckpt["trainable"], strict=False)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.state = TrainerState(**ckpt["state"])
        self.best = ckpt["best"]
        torch.set_rng_state(ckpt["torch_rng"].cpu())
        np.random.set_state(ckpt["numpy_rng"])

    def _validate(self) -> bool:
        """Evaluate on the training languages' val split; return True to stop early."""
        if not len(self.data.val):
            return False
        m = self.evaluate(self.data.val)
        key = self.cfg.train.select_metric
        score = -m["loss"] if key == "loss" else m[key]
        self._call("on_eval_end", {"step": self.state.step, **m})
        if score > self.state.best_metric:
            self.state.best_metric, self.state.best_step, self.state.bad_evals = (
                score,
                self.state.step,
                0,
            )
            self.best = {k: v.detach().clone() for k, v in self.trainable_state().items()}
            return False
        self.state.bad_evals += 1
        return self.state.bad_evals >= self.cfg.train.patience

    def trainable_state(self) -> dict[str, torch.Tensor]:
        names = {n for n, p in self.model.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.model.state_dict().items() if k in names}

    @torch.no_grad()
    def predict(self, rows: pd.DataFrame, batch_size: int = 16) -> dict[str, np.ndarray]:
        """Emotion predictions, logits and embeddings for ``rows`` (no crop unless configured)."""
        self.model.eval()
        d = self.cfg.data
        ds = SERDataset(rows, self.data.speakers, d.sample_rate, d.eval_max_seconds, train=False)
        order = np.argsort(rows["duration_s"].to_numpy())  # length-sorted batches: less padding
        logits, embs = np.zeros((len(rows), len(EMOTIONS)), np.float32), None
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            batch = collate([ds[int(j)] for j in idx], d.normalize).to(self.device)
            with self._autocast():
                out = self.model(batch.input_values, batch.lengths, batch.attention_mask)
            e = out.embeddings.float().cpu().numpy()
            embs = np.zeros((len(rows), e.shape[1]), np.float32) if embs is None else embs
            logits[idx], embs[idx] = out.emotion_logits.float().cpu().numpy(), e
        return {"logits": logits, "pred": logits.argmax(1), "embeddings": embs}

    def evaluate(self, rows: pd.DataFrame) -> dict[str, float]:
        """UAR, macro-F1, accuracy (%) and mean CE loss on ``rows``."""
        out = self.predict(rows)
        y = np.array(label_index(rows["emotion"], EMOTIONS, "emotion"))
        m = emotion_metrics(y, out["pred"])
        m["loss"] = float(F.cross_entropy(torch.from_numpy(out["logits"]), torch.from_numpy(y)))
        return m

    def _call(self, name: str, *args) -> None:
        for h in self.hooks:
            fn = getattr(h, name, None)
            if fn is not None:
                fn(self, *args)


def write_json(path: Path, obj: Any) -> None:
    from xlser.data.manifest import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


class JsonlLogger:
    """Hook: append every step's and every validation's logs to ``run_dir/log.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_fit_start(self, trainer: Trainer) -> None:
        self.path.touch()  # appends on resume

    def _write(self, rec: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")

    def on_step_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if logs["step"] % trainer.cfg.train.log_every == 0:
            self._write({"kind": "train", **logs})

    def on_eval_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self._write({"kind": "val", **metrics})


def run_experiment(
    cfg: ExperimentConfig,
    run_dir: str | Path,
    progress: bool = True,
    overwrite: bool = False,
    hooks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train one (task, system, seed), restore the best validation model, test on the target.

    Writes ``config.yaml``, ``model.safetensors`` (trainable tensors), ``trainer_state.json``,
    ``log.jsonl`` and, last, ``metrics.json``. A finished run (``metrics.json`` present) is not run
    again: its metrics are returned, so an interrupted grid resumes where it stopped. An interrupted
    run continues from its last end-of-epoch ``checkpoint.pt`` (same config required), with the same
    batches and results as an uninterrupted one; ``overwrite=True`` starts afresh.
    """
    from safetensors.torch import save_file

    from xlser.config import save_config

    run_dir = Path(run_dir)
    done = run_dir / "metrics.json"
    if done.exists() and not overwrite:
        return json.loads(done.read_text())
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / CHECKPOINT
    resume = ckpt.exists() and not overwrite
    if resume:
        from xlser.config import asdict, load_config

        if asdict(load_config(run_dir / "config.yaml")) != asdict(cfg):
            raise ValueError(
                f"{run_dir} holds an interrupted run with another config; pass overwrite=True "
                "(CLI: --overwrite) to start afresh, or choose another run folder"
            )
    else:
        ckpt.unlink(missing_ok=True)
        (run_dir / "log.jsonl").unlink(missing_ok=True)
        save_config(cfg, run_dir / "config.yaml", overwrite=True)
    logger = JsonlLogger(run_dir / "log.jsonl")
    trainer = Trainer(cfg, run_dir=run_dir, hooks=[logger, *hooks], progress=progress)
    if resume:
        trainer.load_checkpoint(ckpt)
    state = trainer.fit()
    if trainer.best is not None:
        trainer.model.load_state_dict(trainer.best, strict=False)
    test = trainer.evaluate(trainer.data.test)
    task = parse_task(cfg.task)
    tensors = {k: v.detach().cpu().contiguous() for k, v in trainer.trainable_state().items()}
    save_file(tensors, str(run_dir / "model.safetensors"))
    write_json(run_dir / "trainer_state.json", vars(state))
    metrics = {
        "task": task.name,
        "source": task.source,
        "target": task.target,
        "system": cfg.system,
        "seed": cfg.seed,
        "profile": cfg.profile,
        "steps": state.step,
        "best_step": state.best_step,
        "wall_s": round(trainer.wall_s, 2),
        "n_train": len(trainer.data.train),
        "n_speakers": len(trainer.data.speakers),
        **{f"test_{k}": v for k, v in test.items()},
        "uar": test["uar"],
        "macro_f1": test["macro_f1"],
    }
    write_json(done, metrics)
    ckpt.unlink(missing_ok=True)
    return metrics


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["loss.w_adv=0.5", "data.manifests=[a.csv, b.csv]"]`` -> dotted overrides (YAML values)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE (e.g. loss.w_adv=0.5), got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train and test one (task, system, seed); writes a run folder",
        description="Train one system on one task with one seed (paper eq. 12), select on the "
        "training languages' validation splits, test on the target. A finished run folder "
        "(metrics.json present) is not trained again.",
    )
    p.add_argument("--profile", choices=PROFILES, default=None, help="default: XLSER_PROFILE")
    p.add_argument("--config", help="YAML/JSON config file (its profile wins over --profile)")
    p.add_argument("--task", help="e.g. en-de (source-target)")
    p.add_argument("--system", help="baseline1, baseline2, proposed, wo_scl, wo_adv, upper_bound")
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config override"
    )
    p.add_argument("--out", help="run folder (default: OUTPUT_DIR/TASK/SYSTEM/seedN)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh even if the run folder holds a finished or interrupted run",
    )
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    from xlser.book import experiment
    from xlser.config import load_config

    over = parse_overrides(args.set)
    for key in ("task", "system", "seed"):
        if getattr(args, key) is not None:
            over[key] = getattr(args, key)
    cfg = load_config(args.config, **over) if args.config else experiment(args.profile, **over)
    out = (
        Path(args.out)
        if args.out
        else Path(cfg.output_dir) / cfg.task / cfg.system / f"seed{cfg.seed}"
    )
    m = run_experiment(cfg, out, overwrite=args.overwrite)
    print(
        f"{out}: {m['task']} {m['system']} seed {m['seed']}: target UAR {m['uar']:.2f} %, "
        f"macro-F1 {m['macro_f1']:.2f} % ({m['steps']} steps, best step {m['best_step']})"
    )
    return 0
