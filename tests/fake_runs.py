"""Hand-made run folders (metrics.json, predictions.csv, embeddings.safetensors) for the grid, report
and t-SNE tests: the files a finished ``run_experiment`` leaves, with chosen contents, no training.
Not a conftest: tests import it by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from xlser import EMOTIONS
from xlser.metrics import macro_f1, uar
from xlser.tasks import parse_task, training_languages


def metrics_dict(task: str, system: str, seed: int, uar_: float, f1: float, **extra) -> dict:
    t = parse_task(task)
    return {
        "task": task,
        "source": t.source,
        "target": t.target,
        "system": system,
        "seed": seed,
        "profile": "smoke",
        "steps": 10,
        "best_step": 5,
        "wall_s": 1.5,
        "n_train": 100,
        "n_speakers": 8,
        "test_n": 40,
        "encoder": "tiny",
        "uar": uar_,
        "macro_f1": f1,
        "test_accuracy": uar_,
        "confusion": [[10, 0, 0, 0], [0, 10, 0, 0], [0, 0, 10, 0], [0, 0, 0, 10]],
        "world_size": 1,
        "xlser_version": "test",
        **extra,
    }


def write_run(
    folder: Path,
    task: str,
    system: str,
    seed: int,
    uar_: float | None = None,
    f1: float | None = None,
    target_true: list[int] | None = None,
    target_pred: list[int] | None = None,
    embeddings: np.ndarray | None = None,
    frame: pd.DataFrame | None = None,
    **metrics: object,
) -> Path:
    """Write a finished run folder. With ``target_true``/``target_pred`` (emotion indices of the
        target's test utterances ``<target>_u<i>``), predictions.csv holds them and UAR/F1 default to
        their values; ``frame`` replaces predictions.csv altogether (rows aligned with ``embeddings``);
    ``metrics`` adds or replaces keys of metrics.json."""
    folder.mkdir(parents=True, exist_ok=True)
    t = parse_task(task)
    extra = {}
    if target_true is not None:
        y, p = np.asarray(target_true), np.asarray(target_pred)
        uar_ = uar(y, p) if uar_ is None else uar_
        f1 = macro_f1(y, p) if f1 is None else f1
        cm = np.zeros((4, 4), int)
        np.add.at(cm, (y, p), 1)
        extra = {"confusion": cm.tolist(), "test_n": len(y)}
        rows = [
            {
                "utt_id": f"{t.target}_u{i:04d}",
                "language": t.target,
                "speaker": f"{t.target}_s{i % 3}",
                "emotion": EMOTIONS[yi],
                "split": "test",
                "is_target": True,
                "pred": EMOTIONS[pi],
            }
            for i, (yi, pi) in enumerate(zip(y, p))
        ]
        src = training_languages(t, system)[0]
        rows += [
            {
                "utt_id": f"{src}_u{i:04d}",
                "language": src,
                "speaker": f"{src}_s{i % 2}",
                "emotion": EMOTIONS[i % 4],
                "split": "test",
                "is_target": False,
                "pred": EMOTIONS[i % 4],
            }
            for i in range(8)
        ]
        frame = pd.DataFrame(rows)
        for e in EMOTIONS:
            frame[f"prob_{e}"] = (frame["pred"] == e).astype(float)
    if frame is not None:
        frame.to_csv(folder / "predictions.csv", index=False)
    if embeddings is not None:
        from safetensors.numpy import save_file

        save_file(
            {"embeddings": np.asarray(embeddings, np.float32)},
            str(folder / "embeddings.safetensors"),
        )
    m = metrics_dict(task, system, seed, uar_, f1, **(extra | metrics))
    (folder / "metrics.json").write_text(json.dumps(m, indent=2))
    return folder


def grid_folder(out: Path, task: str, system: str, seed: int) -> Path:
    return out / "runs" / task / system / f"seed{seed}"
