"""The training loop, read top to bottom: inputs, forward, eq. 12, one step, fit, evaluate, checkpoint.

Loss (paper eq. 12) on one hierarchical batch::

    L = CE(emotion) + w_scl * SCL(e; emotion, language) + w_adv * CE(speaker behind the GRL)

A system switches SCL and ADV off (:mod:`xlser.systems`). Model selection and early stopping use the
validation splits of the *training* languages only (zero-shot; the Upper bound uses the target's).
What a run folder holds, and the task's data, are :mod:`xlser.experiment`'s business.

Hooks (SpeechBrain-style, named): objects with any of ``on_fit_start(trainer)``,
``on_step_end(trainer, logs)``, ``on_eval_end(trainer, metrics)``, ``on_checkpoint(trainer)``,
``on_fit_end(trainer)``.

Inputs: when the CNN is frozen (PEFT) its output is computed once per utterance and cached
(:mod:`xlser.frontend`, exact); otherwise waveform batches come from ``DataLoader`` objects kept
for the run (:class:`WaveformInputs`). ``model.length_chunks`` runs a batch as length-sorted
sub-batches with the loss on the whole batch (less padding).

Several processes (``torchrun``): each rank trains on its slice of every global batch inside
DistributedDataParallel, SupCon sees the global batch, evaluation is sharded and gathered
(:mod:`xlser.distributed` says why this equals one process on the same global batch).
"""

from __future__ import annotations

import functools
import math
import os
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from xlser import EMOTIONS, LANGUAGES, distributed
from xlser.adversarial import adversarial_terms, dann_coeff
from xlser.config import ExperimentConfig
from xlser.data.audio import Batch, SERDataset, collate, label_index
from xlser.dropout import use_fast_dropout
from xlser.frontend import FeatureBatch, FrontendCache, cache_valid, frames_for
from xlser.losses import LanguageAwareSupConLoss
from xlser.metrics import emotion_metrics
from xlser.model import SEROutput
from xlser.systems import SYSTEM_SPECS

__all__ = [
    "NonFiniteLossError",
    "TaskData",
    "Trainer",
    "TrainerState",
    "WaveformInputs",
    "compile_layers",
    "num_workers",
    "seed_everything",
]


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or infinite; the message names the steps and the term."""


@dataclass
class TaskData:
    """Manifest rows of one (task, system): train/val on the training languages, test on the target."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    speakers: list[str]
    """Training speakers (the adversary's classes), corpus-namespaced and sorted."""
    cache_dir: Path | None = None
    """Where front-end caches go (beside the manifest); ``None``: keep them in memory only."""
    reference: pd.DataFrame | None = None
    """Test rows of the training languages (for embeddings and t-SNE; never used to select)."""
    manifest: pd.DataFrame | None = None
    """Every row of the manifests: the front-end cache covers them all, so every run of a grid
    with the same encoder shares one cache."""


@dataclass
class TrainerState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    """Batches of ``epoch`` already trained (a resumed run skips them)."""
    best_metric: float | None = None
    best_step: int = 0
    bad_evals: int = 0
    wall_s: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Seed every global generator a run draws from: torch (init, dropout, LayerDrop), numpy (HF's
    SpecAugment masks) and Python's ``random``. Data order and crops have their own generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA if available, else CPU. With several ``torchrun`` processes a CUDA device
    is this process's GPU, ``cuda:LOCAL_RANK``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and distributed.env_world_size() > 1:
        return torch.device("cuda", distributed.local_rank())
    return device


# ----------------------------------------------------------------------------- inputs


def eval_order(rows: pd.DataFrame, batch_size: int) -> list[np.ndarray]:
    """Evaluation batches of ``rows`` (positions), in order of duration: little padding."""
    order = np.argsort(rows["duration_s"].to_numpy(), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class CachedInputs:
    """Batches of cached CNN features (:class:`~xlser.frontend.FeatureBatch`; in pinned memory
    when training on a GPU)."""

    def __init__(
        self, cache: FrontendCache, speakers: list[str], cfg: ExperimentConfig, pin: bool = False
    ):
        self.cache, self.seed, self.pin = cache, cfg.seed, pin
        self.speakers = {s: i for i, s in enumerate(speakers)}
        self.train_frames = frames_for(cfg.data.max_seconds, cfg.data.sample_rate)
        self.eval_frames = frames_for(cfg.data.eval_max_seconds, cfg.data.sample_rate)

    def train_batches(self, rows: pd.DataFrame, batches: list[list[int]], epoch: int):
        for b, idx in enumerate(batches):
            rng = np.random.default_rng((self.seed, epoch, b))  # this batch's crops
            batch = self.cache.batch(rows.iloc[idx], self.speakers, self.train_frames, rng)
            yield batch.pin_memory() if self.pin else batch

    def eval_batches(self, rows: pd.DataFrame, batch_size: int) -> Iterator[tuple[Any, Any]]:
        for idx in eval_order(rows, batch_size):
            yield idx, self.cache.batch(rows.iloc[idx], self.speakers, self.eval_frames)


def num_workers(cfg: ExperimentConfig, device: torch.device) -> int:
    """``data.num_workers``, with ``None`` resolved: 4 on a GPU (at most this process's share of
    the cores, less one, when ``torchrun`` starts several on the machine), 0 on a CPU (the
    workers would compete with the step for the same cores)."""
    if cfg.data.num_workers is not None:
        return cfg.data.num_workers
    if device.type != "cuda":
        return 0
    share = (os.cpu_count() or 1) // max(int(os.environ.get("LOCAL_WORLD_SIZE", "1")), 1)
    return min(4, max(share - 1, 0))


class _EpochBatches:
    """A batch sampler whose batches are replaced every epoch while its ``DataLoader``, and the
    loader's persistent workers, stay."""

    def __init__(self) -> None:
        self.batches: list[list] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class WaveformInputs:
    """Waveform batches from two ``DataLoader`` objects kept for the whole run, one for training
    crops and one for evaluation (``data.num_workers`` processes each read, resample and collate
    the files; they persist across epochs and validations; pinned memory on GPU).

    Items are the rows of ``rows`` (every split the trainer will see), looked up by ``utt_id``;
    a training item is ``(position, epoch)`` so that its random crop is seeded by the epoch
    without restarting the workers. Rows that are not in ``rows`` (a caller predicting on other
    data) get a loader of their own for that call."""

    def __init__(
        self,
        rows: pd.DataFrame,
        speakers: list[str],
        cfg: ExperimentConfig,
        device: torch.device,
        cache_dir: Path | None = None,
    ) -> None:
        self.speakers, self.cfg, self.pin = speakers, cfg, device.type == "cuda"
        self.workers = num_workers(cfg, device)
        self.collate = functools.partial(collate, normalize=cfg.data.normalize)  # picklable
        d = cfg.data
        self.resample_dir = (
            cache_dir / f"audio-{d.sample_rate}" if d.resample_cache and cache_dir else None
        )
        self.rows = rows.reset_index(drop=True)
        self.position = pd.Series(np.arange(len(self.rows)), index=self.rows["utt_id"].to_numpy())
        self._loaders: dict[str, tuple[torch.utils.data.DataLoader, _EpochBatches]] = {}

    def _dataset(self, rows: pd.DataFrame, train: bool) -> SERDataset:
        d = self.cfg.data
        crop = d.max_seconds if train else d.eval_max_seconds
        return SERDataset(rows, self.speakers, d.sample_rate, crop, train, self.cfg.seed,
                          self.resample_dir)  # fmt: skip

    def _loader(self, ds: SERDataset, sampler, persistent: bool):
        return torch.utils.data.DataLoader(
            ds,
            batch_sampler=sampler,
            num_workers=self.workers,
            collate_fn=self.collate,
            pin_memory=self.pin,
            persistent_workers=persistent and self.workers > 0,
            generator=torch.Generator(),  # its own: starting workers never draws the model's RNG
        )

    def _kept(self, which: str, batches: list[list]) -> torch.utils.data.DataLoader:
        if which not in self._loaders:
            sampler = _EpochBatches()
            ds = self._dataset(self.rows, train=which == "train")  # built on first use
            self._loaders[which] = (self._loader(ds, sampler, persistent=True), sampler)
        loader, sampler = self._loaders[which]
        sampler.batches = batches
        return loader

    def _positions(self, rows: pd.DataFrame) -> np.ndarray | None:
        ids = pd.Index(rows["utt_id"].to_numpy())
        known = ids.isin(self.position.index).all()
        return self.position.loc[ids].to_numpy() if known else None

    def train_batches(self, rows: pd.DataFrame, batches: list[list[int]], epoch: int):
        pos = self._positions(rows)
        if pos is None:  # rows from elsewhere: a one-off loader
            ds = self._dataset(rows, train=True)
            keyed = [[(i, epoch) for i in b] for b in batches]
            yield from self._loader(ds, keyed, persistent=False)
            return
        keyed = [[(int(pos[i]), epoch) for i in b] for b in batches]  # crops seeded by epoch
        yield from self._kept("train", keyed)

    def eval_batches(self, rows: pd.DataFrame, batch_size: int) -> Iterator[tuple[Any, Any]]:
        batches = [b.tolist() for b in eval_order(rows, batch_size)]
        pos = self._positions(rows)
        if pos is None:
            loader = self._loader(self._dataset(rows, train=False), batches, persistent=False)
        else:
            loader = self._kept("eval", [[int(pos[i]) for i in b] for b in batches])
        yield from zip(batches, loader)  # files read by the workers

    def close(self) -> None:
        """Stop the workers (a finished run's loaders are dropped)."""
        self._loaders.clear()


def compile_layers(model: torch.nn.Module) -> int:
    """``torch.compile`` each Transformer layer of ``model``'s encoder in place (regional
    compilation: the layers share one compiled graph; the loop over them stays eager, because HF's
    LayerDrop decides per layer from ``torch.rand([]) < p``, a data-dependent branch that would
    break a whole-model graph). Returns the number of layers compiled."""
    layers = model.encoder.encoder.layers
    for layer in layers:
        layer.compile(dynamic=True)
    return len(layers)


class _Net(torch.nn.Module):
    """The model on a batch of waveforms or of cached CNN features, as a tuple of
    :class:`~xlser.model.SEROutput`'s fields: the module DDP wraps (DDP reduces gradients only for
    calls of ``forward`` and looks for unused outputs in tuples)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Batch | FeatureBatch | list) -> tuple[torch.Tensor | None, ...]:
        if isinstance(batch, list):  # length-sorted sub-batches: outputs in their order
            outs = [self.forward(b) for b in batch]
            return tuple(None if o[0] is None else torch.cat(o) for o in zip(*outs))
        if isinstance(batch, FeatureBatch):
            out = self.model.forward_features(batch.features, batch.n_frames)
        else:
            out = self.model(batch.input_values, batch.lengths, batch.attention_mask)
        return tuple(getattr(out, f.name) for f in fields(out))


@dataclass
class _Labels:
    """The labels of length-sorted sub-batches, concatenated in their order (what eq. 12 reads)."""

    emotion: torch.Tensor
    language: torch.Tensor
    speaker: torch.Tensor

    @classmethod
    def of(cls, parts: list) -> _Labels:
        return cls(*(torch.cat([getattr(p, k) for p in parts]) for k in ("emotion", "language",
                                                                          "speaker")))  # fmt: skip


# ----------------------------------------------------------------------------- the trainer


class Trainer:
    """Train one (task, system, seed) and evaluate it.

    Args:
        cfg: the experiment.
        data: the run's rows (:func:`xlser.experiment.task_data`).
        model: an :class:`xlser.model.SERModel` (built by :func:`xlser.model.build_model` if None).
        hooks: objects with the named hook methods (module docstring).
        progress: show a progress bar.
    """

    def __init__(
        self,
        cfg: ExperimentConfig,
        data: TaskData,
        model: torch.nn.Module | None = None,
        hooks: Sequence[Any] = (),
        progress: bool = True,
    ) -> None:
        from xlser.experiment import make_batch_sampler

        cfg.validate()
        self.cfg, self.spec, self.data = cfg, SYSTEM_SPECS[cfg.system], data
        seed_everything(cfg.seed)
        self.device = resolve_device(cfg.train.device)
        distributed.init_from_env(self.device)  # several torchrun processes: join them
        if model is None:
            from xlser.model import build_model

            model = build_model(cfg, n_speakers=len(data.speakers) if self.spec.use_adv else 0)
        self.model = model.to(self.device)
        if cfg.train.dropout_impl == "fast" or (
            cfg.train.dropout_impl == "auto" and self.device.type == "cpu" and not cfg.train.compile
        ):
            use_fast_dropout(self.model)  # dropout was ~45 % of a CPU step
        self.net = _Net(self.model)
        self.ddp = distributed.wrap(self.net, self.device)  # None for one process
        if cfg.train.compile:
            compile_layers(self.model)
        if distributed.rank() > 0:  # dropout, SpecAugment, LayerDrop: independent across ranks
            seed_everything(distributed.rank_seed(cfg.seed))
        self.scl = LanguageAwareSupConLoss(
            cfg.loss.temperature,
            cfg.loss.cross_lingual_pos_weight,
            cfg.loss.pos_norm,
            cfg.loss.anchor_reduce,
        )
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        t = cfg.train
        self.optimizer = torch.optim.AdamW(
            self.params, lr=t.lr, weight_decay=t.weight_decay, eps=t.adam_eps
        )
        fp16 = t.precision == "fp16" and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16)  # fp16 needs loss scaling
        self.batch_sampler = make_batch_sampler(
            cfg, data.train, cfg.seed, distributed.rank(), distributed.world_size()
        )  # under DDP: this rank's slice of every global batch
        progress = progress and distributed.is_main()
        self.inputs = self._make_inputs(progress)
        self.hooks, self.progress = list(hooks), progress
        self.state = TrainerState()
        self.best: dict[str, torch.Tensor] | None = None
        self.adv_loss_weight = cfg.loss.w_adv

    def _make_inputs(self, progress: bool):
        enc = self.model.encoder
        if self.cfg.model.frontend_cache == "auto" and cache_valid(enc):
            d = self.data
            rows = (
                d.manifest
                if d.manifest is not None
                else pd.concat([d.train, d.val, d.test, d.reference])
            )
            cache = FrontendCache.load_or_build(
                enc, rows, d.cache_dir, self.cfg.data.sample_rate, self._normalize, progress
            )
            return CachedInputs(cache, d.speakers, self.cfg, pin=self.device.type == "cuda")
        d = self.data
        parts = (d.train, d.val, d.test, d.reference) if d.manifest is None else (d.manifest,)
        rows = pd.concat([x for x in parts if x is not None]).drop_duplicates("utt_id")
        return WaveformInputs(rows, d.speakers, self.cfg, self.device, d.cache_dir)

    @property
    def _normalize(self) -> bool:
        info = getattr(self.model, "info", None)
        return self.cfg.data.normalize and (info is None or info.do_normalize)

    # -------------------------------------------------------------- forward and eq. 12
    def forward(self, batch: Batch | FeatureBatch | list) -> SEROutput:
        """The model on a batch of waveforms or of cached CNN features, or on a list of
        sub-batches (outputs concatenated in list order); in training, through DDP's wrapper when
        several processes train."""
        net = self.ddp if self.ddp is not None and self.model.training else self.net
        return SEROutput(*net(batch))

    def objectives(self, out: SEROutput, batch) -> dict[str, torch.Tensor]:
        """Eq. 12's terms and their weighted sum ``loss`` (tensors; nothing is synced).

        Under DDP, ``batch`` is this rank's equal share of the global batch: CE and the
        adversary's CE are local means, which DDP's gradient average turns into global-batch
        means; SupCon gathers the global batch itself (:mod:`xlser.distributed`)."""
        cfg, spec = self.cfg, self.spec
        ce = F.cross_entropy(out.emotion_logits.float(), batch.emotion)
        terms = {"ce": ce}
        loss = ce
        if spec.use_scl and cfg.loss.w_scl:
            z = out.projections if out.projections is not None else out.embeddings
            terms["scl"] = self.scl(z.float(), batch.emotion, batch.language)
            loss = loss + cfg.loss.w_scl * terms["scl"]
        if spec.use_adv and cfg.loss.w_adv and out.speaker_logits is not None:
            terms["adv"] = F.cross_entropy(
                out.speaker_logits.float(), batch.speaker, ignore_index=-100
            )
            loss = loss + self.adv_loss_weight * terms["adv"]
        terms["loss"] = loss
        return terms

    def _autocast(self):
        p = self.cfg.train.precision
        if p == "fp32" or self.device.type != "cuda":
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast("cuda", dtype=torch.bfloat16 if p == "bf16" else torch.float16)

    def train_step(self, batch) -> dict[str, torch.Tensor]:
        """One optimiser step on ``batch``; returns the detached terms (no CPU-GPU sync)."""
        self.model.train()
        k = self.cfg.model.length_chunks
        if k > 1 and len(batch) > 1:  # fewer padded frames, same loss
            inputs = [p.to(self.device, non_blocking=True) for p in batch.split_by_length(k)]
            batch = _Labels.of(inputs)
        else:
            inputs = batch = batch.to(self.device, non_blocking=True)
        with self._autocast():
            terms = self.objectives(self.forward(inputs), batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(terms["loss"]).backward()
        if self.cfg.train.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.train.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.state.step += 1
        return {k: v.detach() for k, v in terms.items()}

    def _set_adversary_schedule(self, progress: float) -> None:
        sched = dann_coeff(progress) if self.cfg.loss.grl_schedule == "dann" else 1.0
        terms = adversarial_terms(self.cfg.loss.adv_weight_mode, self.cfg.loss.w_adv, sched)
        self.adv_loss_weight = terms.loss_weight
        if hasattr(self.model, "set_grl_coeff"):
            self.model.set_grl_coeff(terms.grl_coeff)

    # -------------------------------------------------------------- the loop
    @property
    def total_steps(self) -> int:
        t = self.cfg.train
        return t.max_steps if t.max_steps is not None else t.max_epochs * len(self.batch_sampler)

    def fit(self) -> TrainerState:
        """Train until ``max_steps``/``max_epochs`` or early stopping; keep the best model."""
        t, st, total = self.cfg.train, self.state, self.total_steps
        self._call("on_fit_start")
        start = time.time()
        bar = tqdm(total=total, initial=st.step, desc=f"{self.cfg.task} {self.cfg.system}",
                   disable=not self.progress)  # fmt: skip
        stop = st.bad_evals >= t.patience  # a resumed run may have stopped already
        pending: list[dict[str, torch.Tensor]] = []
        while not stop and st.step < total:
            if hasattr(self.batch_sampler, "set_epoch"):
                self.batch_sampler.set_epoch(st.epoch)
            batches = list(self.batch_sampler)[st.batch_in_epoch :]  # a resumed run skips some
            for batch in self.inputs.train_batches(self.data.train, batches, st.epoch):
                self._set_adversary_schedule(st.step / max(total, 1))
                pending.append(self.train_step(batch))
                st.batch_in_epoch += 1
                bar.update(1)
                if st.step % t.log_every == 0 or st.step >= total:
                    self._log(pending, bar)
                    pending = []
                if t.eval_every and st.step % t.eval_every == 0:
                    stop = self._validate()
                if stop or st.step >= total:
                    break
                if self._due_checkpoint():
                    if pending:  # never checkpoint weights whose losses were not checked
                        self._log(pending, bar)
                        pending = []
                    st.wall_s, start = st.wall_s + time.time() - start, time.time()
                    self._call("on_checkpoint")
            else:
                st.epoch, st.batch_in_epoch = st.epoch + 1, 0
                if not t.eval_every:
                    stop = self._validate()
                if pending:
                    self._log(pending, bar)
                    pending = []
                st.wall_s, start = st.wall_s + time.time() - start, time.time()
                self._call("on_checkpoint")
        if pending:
            self._log(pending, bar)
        if t.eval_every and st.step % t.eval_every and not stop:
            self._validate()  # the last steps are validated too
        bar.close()
        st.wall_s += time.time() - start
        self._call("on_fit_end")
        return st

    def _due_checkpoint(self) -> bool:
        every = self.cfg.train.checkpoint_every or self.cfg.train.eval_every
        return bool(every) and self.state.step % every == 0

    def _log(self, pending: list[dict[str, torch.Tensor]], bar) -> None:
        """Mean of each term since the last log: one sync every ``log_every`` steps."""
        names = list(pending[-1])
        values = torch.stack([torch.stack([p[k] for p in pending]).mean() for k in names])
        values = distributed.mean_over_ranks(values.float())  # global-batch means under DDP
        logs = dict(zip(names, values.float().cpu().tolist()))
        bad = [k for k, v in logs.items() if not math.isfinite(v)]
        if bad:
            raise NonFiniteLossError(
                f"{self.cfg.task} {self.cfg.system} seed {self.cfg.seed}: loss term(s) {bad} "
                f"became non-finite between steps {self.state.step - len(pending) + 1} and "
                f"{self.state.step}; the run stopped and its last checkpoint was kept. Lower "
                "train.lr, or check the inputs for NaN audio"
            )
        bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()})
        rec = {"kind": "train", "step": self.state.step, "epoch": self.state.epoch, **logs}
        self.state.history.append(rec)
        self._call("on_step_end", rec)

    def _validate(self) -> bool:
        """Evaluate on the training languages' val split; return True to stop early."""
        if not len(self.data.val):
            return False
        m = self.evaluate(self.data.val)
        key = self.cfg.train.select_metric
        score = -m["loss"] if key == "loss" else m[key]
        rec = {"kind": "val", "step": self.state.step, **m}
        self.state.history.append(rec)
        self._call("on_eval_end", rec)
        st = self.state
        if st.best_metric is None or score > st.best_metric:
            st.best_metric, st.best_step, st.bad_evals = score, st.step, 0
            self.best = {k: v.detach().clone() for k, v in self.trainable_state().items()}
            return False
        st.bad_evals += 1
        return st.bad_evals >= self.cfg.train.patience

    # -------------------------------------------------------------- evaluation
    @torch.no_grad()
    def predict(self, rows: pd.DataFrame, batch_size: int = 64) -> dict[str, np.ndarray]:
        """Emotion logits, probabilities, predictions and pooled embeddings for ``rows``.

        Under DDP each rank predicts every ``world_size``-th row and the parts are gathered:
        every rank returns all rows (and so computes the same metrics)."""
        self.model.eval()
        rows = rows.reset_index(drop=True)
        mine = np.arange(len(rows))[distributed.rank() :: distributed.world_size()]
        logits = np.zeros((len(rows), len(EMOTIONS)), np.float32)
        embs = None
        local = (mine, *self._predict(rows, mine, batch_size))
        for part, lg, e in distributed.all_gather_object(local):  # [local] for one process
            if e is not None:
                embs = np.zeros((len(rows), e.shape[1]), np.float32) if embs is None else embs
                logits[part], embs[part] = lg, e
        probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
        return {"logits": logits, "probs": probs, "pred": logits.argmax(1), "embeddings": embs}

    def _predict(self, rows: pd.DataFrame, which: np.ndarray, batch_size: int):
        """Logits ``(n, C)`` and embeddings ``(n, D)`` (None if ``n = 0``) of ``rows.iloc[which]``."""
        logits, embs = np.zeros((len(which), len(EMOTIONS)), np.float32), None
        part = rows.iloc[which].reset_index(drop=True)
        order, lg, em = [], [], []  # kept on the device: one copy at the end, no sync per batch
        for idx, batch in self.inputs.eval_batches(part, batch_size):
            batch = batch.to(self.device, non_blocking=True)
            with self._autocast():
                out = self.forward(batch)
            order.append(np.asarray(idx))
            lg.append(out.emotion_logits.float())
            em.append(out.embeddings.float())
        if order:
            idx = np.concatenate(order)
            logits[idx] = torch.cat(lg).cpu().numpy()
            embs = np.zeros((len(which), em[0].shape[1]), np.float32)
            embs[idx] = torch.cat(em).cpu().numpy()
        return logits, embs

    def evaluate(self, rows: pd.DataFrame, out: dict | None = None) -> dict[str, Any]:
        """UAR, macro-F1, accuracy (%), mean CE loss, and each language's UAR (``uar_<lang>``)
        and their mean ``uar_mean`` on ``rows``."""
        out = out if out is not None else self.predict(rows)
        y = np.array(label_index(rows["emotion"], EMOTIONS, "emotion"))
        m: dict[str, Any] = emotion_metrics(y, out["pred"])
        m["loss"] = float(F.cross_entropy(torch.from_numpy(out["logits"]), torch.from_numpy(y)))
        langs = rows["language"].to_numpy()
        per = {
            lang: emotion_metrics(y[langs == lang], out["pred"][langs == lang])["uar"]
            for lang in LANGUAGES
            if (langs == lang).any()
        }
        m.update({f"uar_{k}": v for k, v in per.items()})
        m["uar_mean"] = float(np.mean(list(per.values())))
        return m

    def close(self) -> None:
        """Stop the data loader's worker processes (they persist across epochs and validations;
        :func:`xlser.experiment.run_experiment` calls this when a run has been tested)."""
        close = getattr(self.inputs, "close", None)
        if close is not None:
            close()

    # -------------------------------------------------------------- state
    def trainable_state(self) -> dict[str, torch.Tensor]:
        names = {n for n, p in self.model.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.model.state_dict().items() if k in names}

    def _call(self, name: str, *args) -> None:
        for h in self.hooks:
            fn = getattr(h, name, None)
            if fn is not None:
                fn(self, *args)
