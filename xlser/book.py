"""Helpers for the book's first cell: the profile switch, where data lives, and the smoke corpus.

Chapters run with their own folder as working directory; these helpers resolve everything against the
repository root (the folder holding ``_config.yml``), or ``XLSER_DATA`` for the data folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from xlser.config import ExperimentConfig, profile


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``_config.yml`` and ``xlser/``;
    else the checkout this package was imported from (an editable install); else ``start``."""
    here = Path(start or Path.cwd()).resolve()
    package_checkout = Path(__file__).resolve().parents[1]
    for p in (*(here, *here.parents), package_checkout):
        if (p / "_config.yml").is_file() and (p / "xlser").is_dir():
            return p
    return here


def data_dir() -> Path:
    """``XLSER_DATA`` if set, else ``<repo>/data``."""
    return Path(os.environ.get("XLSER_DATA") or repo_root() / "data")


def smoke_manifest(seed: int = 0) -> Path:
    """The embedded synthetic corpus's manifest, generated on first use (seeded, deterministic)."""
    from xlser.data.synthetic import ensure_synthetic

    out = data_dir() / ("synth" if seed == 0 else f"synth_seed{seed}")
    return ensure_synthetic(out / "manifest.csv", seed=seed)


def experiment(prof: str | None = None, **overrides: Any) -> ExperimentConfig:
    """The chapter's config: ``XLSER_PROFILE``'s defaults (or ``prof``) with absolute data paths.

    In ``smoke`` the manifest is the synthetic corpus (created if missing); in ``full`` it is
    ``<data>/manifests`` (made with ``python -m xlser prepare``), unless overridden.
    """
    prof = prof or profile()
    if prof == "smoke":
        overrides.setdefault("data.manifests", [str(smoke_manifest())])
        overrides.setdefault("data.synthesize_if_missing", False)
    else:
        overrides.setdefault("data.manifests", [str(data_dir() / "manifests")])
    overrides.setdefault("output_dir", str(repo_root() / "runs" / prof))
    return ExperimentConfig.from_profile(prof, **overrides)
