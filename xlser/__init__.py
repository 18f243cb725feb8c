"""xlser: zero-shot cross-lingual speech emotion recognition, after Mi, Ma & Toda (Interspeech 2026).

The library is the single source of code for the book: chapters import it, never copy it.
Heavy submodules (torch, transformers) are imported lazily by the modules that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

EMOTIONS: tuple[str, ...] = ("happy", "angry", "sad", "neutral")
"""The four emotion classes of the paper (§3.1), in the index order used everywhere."""

LANGUAGES: tuple[str, ...] = ("en", "zh", "de", "fr", "ur")
"""The five languages: MELD (en), ESD Mandarin (zh), EMO-DB (de), CaFE (fr), URDU (ur)."""

SPLITS: tuple[str, ...] = ("train", "val", "test")

__all__ = ["EMOTIONS", "LANGUAGES", "SPLITS", "__version__", "load_run"]


def __getattr__(name: str):
    """``xlser.load_run`` (:func:`xlser.predict.load_run`), imported on first use (torch loads)."""
    if name == "load_run":
        from xlser.predict import load_run

        return load_run
    raise AttributeError(f"module 'xlser' has no attribute {name!r}")
