"""Evaluation metrics of the paper (§3.4): UAR (macro recall) and macro-F1, in %, via scikit-learn.

>>> round(uar([0, 0, 1, 1], [0, 1, 1, 1]), 2), round(macro_f1([0, 0, 1, 1], [0, 1, 1, 1]), 2)
(75.0, 73.33)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

from xlser import EMOTIONS


def uar(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Unweighted average recall (= balanced accuracy = macro recall) in %."""
    return 100.0 * float(balanced_accuracy_score(y_true, y_pred))


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Macro-averaged F1 in % over the classes present in ``y_true`` or ``y_pred``."""
    return 100.0 * float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def emotion_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    """UAR, macro-F1 and accuracy (all %) plus the number of utterances."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    return {
        "uar": uar(yt, yp),
        "macro_f1": macro_f1(yt, yp),
        "accuracy": 100.0 * float((yt == yp).mean()) if len(yt) else float("nan"),
        "n": int(len(yt)),
    }


def emotion_confusion(y_true: Sequence[int], y_pred: Sequence[int]) -> np.ndarray:
    """Row-normalised confusion matrix over the four emotions (rows: truth)."""
    cm = confusion_matrix(y_true, y_pred, labels=list(range(len(EMOTIONS)))).astype(float)
    return cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
