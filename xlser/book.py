"""Helpers for the book's first cell: the profile switch, where data lives, and the smoke corpus.

Chapters run with their own folder as working directory; paths resolve against the repository root
(the folder holding ``_config.yml``), or ``XLSER_DATA`` for the data folder
(:func:`xlser.config.data_dir`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xlser.config import ExperimentConfig, data_dir, default_manifests, profile, repo_root

__all__ = ["data_dir", "experiment", "repo_root", "smoke_manifest"]


def smoke_manifest(seed: int = 0, progress: bool = False) -> Path:
    """The embedded synthetic corpus's manifest, generated on first use (seeded, deterministic).
    No progress bar by default: in a notebook it is a widget, which an offline page cannot draw."""
    from xlser.world.synthesis import ensure_synthetic

    if seed == 0:
        return ensure_synthetic(default_manifests("smoke")[0], seed=seed, progress=progress)
    path = data_dir() / f"synth_seed{seed}" / "manifest.csv"
    return ensure_synthetic(path, seed=seed, progress=progress)


def experiment(prof: str | None = None, **overrides: Any) -> ExperimentConfig:
    """The chapter's config: ``XLSER_PROFILE``'s defaults (or ``prof``) with absolute data paths.

    In ``smoke`` the synthetic corpus is created if missing; in ``full`` the manifests are
    ``<data>/manifests`` (made with ``python -m xlser prepare``), unless overridden.
    """
    prof = prof or profile()
    if prof == "smoke" and "data.manifests" not in overrides:
        smoke_manifest()
    overrides.setdefault("output_dir", str(repo_root() / "runs" / prof))
    return ExperimentConfig.from_profile(prof, **overrides)
