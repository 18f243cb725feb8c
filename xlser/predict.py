"""Inference with a finished run: emotion probabilities for any audio (``python -m xlser predict``).

A run folder written by ``python -m xlser train`` describes itself: ``config.yaml`` rebuilds the
model (wav2vec 2.0 + PEFT, mean pooling and the emotion head: eq. 3, 4 and 11 of Mi et al., 2026),
``model.safetensors`` holds the trained tensors and ``metrics.json`` marks the run finished.
:func:`load_run` reads one; :meth:`Run.predict` takes a path, a list of paths or a waveform array:

* any sample rate and channel count: channels are averaged and the audio resampled to 16 kHz, as
  the training data were (:func:`xlser.data.audio.load_audio` for files);
* any length: audio longer than one window (the run's ``data.eval_max_seconds``, else
  :data:`WINDOW_S`) is cut into windows that overlap by half (:data:`HOP_S`), the last one flush
  with the end; the windows' probabilities and embeddings are averaged;
* every utterance or window is its own batch of one, unpadded, normalised per utterance when
  training normalised (``data.normalize`` and the checkpoint's ``do_normalize``): the numbers are
  the trainer's evaluation of the same audio (which reads the frozen CNN's output from a float16
  cache, :mod:`xlser.frontend`: equal up to that rounding).

The answer is a ``pandas.DataFrame``, one row per input, with the columns of a run's
``predictions.csv`` where they mean the same: ``input``, ``pred`` (top emotion), ``prob_happy``,
``prob_angry``, ``prob_sad``, ``prob_neutral`` (softmax of the emotion logits, order
:data:`xlser.EMOTIONS`), ``duration_s``, ``n_windows`` and, with ``return_embeddings=True``,
``embedding``: the pooled ``e`` of eq. 4, a float32 array ``(D,)`` per row
(``np.stack(df["embedding"])`` is ``(N, D)``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from xlser import EMOTIONS
from xlser.config import ExperimentConfig, load_config
from xlser.data.audio import MIN_SECONDS, AudioError, load_audio
from xlser.encoder import EncoderNotFoundError
from xlser.errors import UsageError
from xlser.experiment import RunFolderError, is_run_folder, load_trainable
from xlser.io import read_json, read_tensors
from xlser.model import SERModel, build_model

__all__ = [
    "AUDIO_SUFFIXES",
    "COLUMNS",
    "HOP_S",
    "PROB_COLUMNS",
    "WINDOW_S",
    "Run",
    "RunFolderError",
    "find_audio",
    "load_run",
    "window_starts",
]

SAMPLE_RATE = 16000
WINDOW_S, HOP_S = 10.0, 5.0
"""Default window and hop (seconds) for long audio, when the run has no ``eval_max_seconds``."""
AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3")
"""What :func:`find_audio` collects from a folder (all read with ``soundfile``)."""
PROB_COLUMNS: tuple[str, ...] = tuple(f"prob_{e}" for e in EMOTIONS)
COLUMNS: tuple[str, ...] = ("input", "pred", *PROB_COLUMNS, "duration_s", "n_windows")
"""The columns of :meth:`Run.predict`'s table (plus ``embedding`` on request)."""
NEEDED: tuple[str, ...] = ("config.yaml", "model.safetensors", "metrics.json")
"""What :func:`load_run` reads from a run folder (:mod:`xlser.experiment` lists all it holds)."""


def window_starts(n: int, window: int, hop: int) -> list[int]:
    """Starts of the windows covering ``n`` samples: every ``hop``, the last flush with the end.

    Example:
        >>> window_starts(100, 40, 20), window_starts(110, 40, 20), window_starts(30, 40, 20)
        ([0, 20, 40, 60], [0, 20, 40, 60, 70], [0])
    """
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, hop))
    return starts if starts[-1] == n - window else [*starts, n - window]


def to_mono_16k(x: Any, sample_rate: int) -> torch.Tensor:
    """Waveform ``(S,)``, ``(C, S)`` or ``(S, C)`` (channels: shorter axis) -> 16 kHz ``(S,)``."""
    w = x.detach().cpu() if torch.is_tensor(x) else torch.from_numpy(np.asarray(x))
    if not w.is_floating_point():  # integer PCM -> [-1, 1), as soundfile reads it
        w = w.double() / (torch.iinfo(w.dtype).max + 1)
    w = w.to(torch.float32)
    if w.ndim == 2:
        w = w.mean(dim=0 if w.shape[0] <= w.shape[1] else 1)  # (C, S) or (S, C) -> (S,)
    if w.ndim != 1:
        raise UsageError(
            f"a waveform must be (samples,) or 2-D with a channel axis, got {tuple(w.shape)}"
        )
    if sample_rate != SAMPLE_RATE:
        import torchaudio.functional as AF

        w = AF.resample(w, orig_freq=sample_rate, new_freq=SAMPLE_RATE)
    if w.numel() < MIN_SECONDS * SAMPLE_RATE:
        raise AudioError(f"the waveform is {w.numel()} samples at 16 kHz; {MIN_SECONDS} s needed")
    if not torch.isfinite(w).all():
        raise AudioError("the waveform contains NaN or infinite samples")
    return w.contiguous()


@dataclass
class Run:
    """A trained model and what it was trained on; :func:`load_run` makes one."""

    run_dir: Path
    cfg: ExperimentConfig
    metrics: dict[str, Any]
    model: SERModel
    device: torch.device
    window_s: float
    hop_s: float

    def predict(
        self,
        x: str | os.PathLike | Sequence[str | os.PathLike] | Any,
        sample_rate: int | None = None,
        return_embeddings: bool = False,
    ) -> pd.DataFrame:
        """Emotion probabilities of a file, a list of files, or a waveform with its ``sample_rate``.

        Raises :class:`xlser.data.audio.AudioError` naming the first unreadable file
        (:meth:`predict_files` collects such files instead).
        """
        if isinstance(x, (str, os.PathLike)) or (
            isinstance(x, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in x)
        ):
            paths = [x] if isinstance(x, (str, os.PathLike)) else list(x)
            rows = [self._row(str(p), load_audio(p, SAMPLE_RATE), return_embeddings) for p in paths]
        else:
            if sample_rate is None:
                raise UsageError("a waveform array needs its sample_rate, e.g. predict(x, 44100)")
            rows = [self._row("<array>", to_mono_16k(x, sample_rate), return_embeddings)]
        columns = [*COLUMNS, "embedding"] if return_embeddings else list(COLUMNS)
        return pd.DataFrame(rows, columns=columns)

    def predict_files(
        self, paths: Sequence[str | os.PathLike], progress: bool = False
    ) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
        """:meth:`predict` for files; unreadable ones are listed ``(path, reason)``, not raised.

        ``progress`` shows a bar when stderr is a terminal.
        """
        from tqdm.auto import tqdm

        rows, failed = [], []
        for p in tqdm(paths, desc="predict", unit="file", disable=None if progress else True):
            try:
                rows.append(self._row(str(p), load_audio(p, SAMPLE_RATE), False))
            except AudioError as e:
                failed.append((str(p), str(e).removeprefix(f"{p}: ")))
        return pd.DataFrame(rows, columns=list(COLUMNS)), failed

    @torch.no_grad()
    def _row(self, name: str, wave: torch.Tensor, return_embeddings: bool) -> dict[str, Any]:
        """One utterance ``(S,)`` at 16 kHz -> its table row (windows averaged)."""
        win, hop = round(self.window_s * SAMPLE_RATE), round(self.hop_s * SAMPLE_RATE)
        probs, embs = [], []
        for s in window_starts(wave.numel(), win, hop):
            x = wave[s : s + win]  # (S_w,)
            if self.normalize:  # zero mean, unit variance, as in training
                x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
            with self._autocast():
                out = self.model(x[None].to(self.device))  # (1, S_w) -> logits (1, C), e (1, D)
            probs.append(out.emotion_logits.float().softmax(-1)[0])  # (C,)
            embs.append(out.embeddings.float()[0])  # (D,)
        p = torch.stack(probs).mean(0).cpu().numpy()  # (W, C) -> (C,)
        row = {"input": name, "pred": EMOTIONS[int(p.argmax())], **dict(zip(PROB_COLUMNS, p))}
        row |= {"duration_s": wave.numel() / SAMPLE_RATE, "n_windows": len(probs)}
        if return_embeddings:
            row["embedding"] = torch.stack(embs).mean(0).cpu().numpy()  # (W, D) -> (D,)
        return row

    @property
    def normalize(self) -> bool:
        """As the trainer: ``data.normalize``, unless the checkpoint's ``do_normalize`` is off."""
        info = self.model.info
        return self.cfg.data.normalize and (info is None or info.do_normalize)

    def _autocast(self):
        """The trainer's evaluation precision: bf16/fp16 autocast on CUDA if set, else fp32."""
        p = self.cfg.train.precision
        if p == "fp32" or self.device.type != "cuda":
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast("cuda", dtype=torch.bfloat16 if p == "bf16" else torch.float16)

    def describe(self) -> pd.Series:
        """Task, system, training languages, encoder and the run's own test metrics."""
        from xlser.tasks import parse_task, training_languages

        m, task = self.metrics, parse_task(self.cfg.task)
        return pd.Series(
            {
                "task": task.name,
                "system": self.cfg.system,
                "seed": self.cfg.seed,
                "training languages": ", ".join(training_languages(task, self.cfg.system)),
                "target (never trained on)": task.target,
                "encoder": m.get("encoder", self.model.info.name if self.model.info else "?"),
                "test UAR %": m.get("uar"),
                "test macro-F1 %": m.get("macro_f1"),
                "window / hop s": f"{self.window_s:g} / {self.hop_s:g}",
                "xlser version": m.get("xlser_version", "?"),
            },
            name=str(self.run_dir),
        )


def load_run(
    run_dir: str | os.PathLike,
    device: str | torch.device | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Run:
    """Rebuild a finished run's model for inference (no trainer, no optimizer, no speaker head).

    Args:
        run_dir: A folder written by ``python -m xlser train`` (or ``run_experiment``).
        device: Default: CUDA when available, else CPU.
        overrides: Dotted config keys, e.g. ``{"model.checkpoints.en": "/models/w2v2"}`` when the
            encoder folder the run was trained on has moved.

    Raises:
        RunFolderError: Not a finished run folder, or its tensors do not fit the model.
        EncoderNotFoundError: The run's encoder checkpoint cannot be found; names the key to set.
    """
    run_dir = Path(run_dir)
    missing = [f for f in NEEDED if not (run_dir / f).is_file()]
    if missing:
        raise RunFolderError(_not_a_run(run_dir, missing))
    cfg = load_config(run_dir / "config.yaml", **dict(overrides or {}))
    try:
        # A random frozen base (encoder "tiny" or random_init) is not in model.safetensors: it is
        # redrawn from the seed, as the trainer drew it (seed first, then build_model).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model = build_model(cfg, n_speakers=0)
    except EncoderNotFoundError as e:
        from xlser.tasks import parse_task

        source = parse_task(cfg.task).source
        key = "model.encoder" if cfg.model.encoder != "auto" else f"model.checkpoints.{source}"
        raise EncoderNotFoundError(
            f"run {run_dir}: cannot rebuild its encoder: {e}\n  Set {key} to where the checkpoint "
            f"is now: load_run(run_dir, overrides={{'{key}': FOLDER}}) or "
            f"python -m xlser predict --set {key}=FOLDER ..."
        ) from e
    path = run_dir / "model.safetensors"
    tensors = read_tensors(path, "train the run again (python -m xlser train --overwrite)")
    # the speaker adversary (eq. 9) only shapes training: its head is not built for inference
    tensors = {k: v for k, v in tensors.items() if not k.startswith("speaker_head.")}
    try:
        load_trainable(model, tensors, path)
    except RuntimeError as e:  # same names, other shapes: config.yaml was edited
        raise RunFolderError(f"{path}: does not fit the model config.yaml builds: {e}") from e
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    window = cfg.data.eval_max_seconds or WINDOW_S
    hop = window / 2 if cfg.data.eval_max_seconds else HOP_S
    metrics = read_json(run_dir / "metrics.json")
    return Run(run_dir, cfg, metrics, model.to(device).eval(), torch.device(device), window, hop)


def _not_a_run(run_dir: Path, missing: list[str]) -> str:
    make = "python -m xlser train --profile smoke --task en-de --system proposed --out RUN_DIR"
    if not run_dir.is_dir():
        return f"run folder {run_dir} does not exist; make one with: {make}"
    if is_run_folder(run_dir) and (run_dir / "config.yaml").is_file():
        return (
            f"{run_dir} is a run that has not finished (no {', '.join(missing)}); finish it: "
            f"python -m xlser train --config {run_dir / 'config.yaml'} --out {run_dir}"
        )
    return (
        f"{run_dir} is not a finished xlser run folder (no {', '.join(missing)}); "
        f"make one with: {make}"
    )


def find_audio(inputs: Sequence[str | os.PathLike]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to predict: files as given, folders searched (recursively) for :data:`AUDIO_SUFFIXES`.

    Returns ``(files, failed)``; ``failed`` lists ``(input, reason)`` for what was not found.
    """
    files, failed = [], []
    for p in map(Path, inputs):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES)
            files += [f for f in found if f.is_file()]
            if not found:
                failed.append(
                    (str(p), f"no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
                )
        elif p.is_file():
            files.append(p)
        else:
            failed.append((str(p), "no such file or folder"))
    return files, failed


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="predict the emotions of audio files with a finished run",
        description="Emotion probabilities (happy, angry, sad, neutral) of audio files with a run "
        "folder written by 'train'. Folders are searched for .wav/.flac/.ogg/.mp3 files. Exit "
        "status 1 if some files could not be read (they are listed), 2 on usage or run errors.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--out", help="also write the predictions to this CSV file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. model.checkpoints.en=FOLDER")  # fmt: skip
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    import sys

    from xlser.cli import parse_overrides
    from xlser.io import atomic_write_text

    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    run = load_run(args.run_dir, args.device, parse_overrides(args.set))
    files, failed = find_audio(args.inputs)
    df, unreadable = run.predict_files(files, progress=True)
    failed += unreadable
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, df.to_csv(index=False))
    if args.json:
        records = json.loads(df.to_json(orient="records"))
        errors = [{"input": p, "error": why} for p, why in failed]
        report = {"run": str(run.run_dir), "predictions": records, "failed": errors}
        print(json.dumps(report, indent=2))
    elif len(df):
        print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for p, why in failed:
        print(f"failed: {p}: {why}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} input(s) failed, {len(df)} predicted", file=sys.stderr)
    return 1 if failed else 0
