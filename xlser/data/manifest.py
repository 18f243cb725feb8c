"""The manifest contract: one CSV row per utterance, the only thing downstream code reads.

Columns (in this order)::

    utt_id,path,corpus,language,speaker,emotion,split,duration_s

* ``language`` in :data:`xlser.LANGUAGES`, ``emotion`` in :data:`xlser.EMOTIONS`,
  ``split`` in :data:`xlser.SPLITS`;
* ``speaker`` is namespaced as ``corpus:id`` (e.g. ``emodb:03``), so ids never collide across corpora;
* a relative ``path`` resolves against the manifest's own folder.

The same reader serves the synthetic corpus and the real ones: nothing downstream knows which it got.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from xlser import EMOTIONS, LANGUAGES, SPLITS
from xlser.errors import XlserError
from xlser.io import atomic_write_text  # noqa: F401  (re-exported: callers import it from here)

COLUMNS: tuple[str, ...] = (
    "utt_id",
    "path",
    "corpus",
    "language",
    "speaker",
    "emotion",
    "split",
    "duration_s",
)
_ALLOWED = {"language": LANGUAGES, "emotion": EMOTIONS, "split": SPLITS}
_MAX_REPORTED = 10


class ManifestError(XlserError, ValueError):
    """A manifest breaks the contract; the message names the file, row, column, value and fix."""


def validate_manifest(
    df: pd.DataFrame, source: str | os.PathLike = "<manifest>", check_files: bool = False
) -> None:
    """Check ``df`` against the manifest contract; raise :class:`ManifestError` listing problems.

    Row numbers in messages are CSV line numbers (the header is line 1).
    ``check_files`` also checks that every (resolved) ``path`` exists.

    >>> import pandas as pd
    >>> bad = pd.DataFrame([dict(utt_id="a", path="a.wav", corpus="x", language="xx",
    ...     speaker="x:1", emotion="happy", split="train", duration_s=1.0)])
    >>> validate_manifest(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    xlser.data.manifest.ManifestError: <manifest>: line 2, column 'language': value 'xx' ...
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ManifestError(
            f"{source}: missing column(s) {missing}; a manifest needs exactly the header "
            f"{','.join(COLUMNS)}"
        )
    problems: list[str] = []

    def report(i: int, col: str, value: object, fix: str) -> None:
        problems.append(f"{source}: line {i + 2}, column {col!r}: value {value!r} {fix}")

    for col, allowed in _ALLOWED.items():
        bad = ~df[col].isin(allowed)
        for i in df.index[bad][:_MAX_REPORTED]:
            report(i, col, df.at[i, col], f"is not one of {list(allowed)}")
    for col in ("utt_id", "path", "corpus", "speaker"):
        empty = df[col].isna() | (df[col].astype(str).str.strip() == "")
        for i in df.index[empty][:_MAX_REPORTED]:
            report(i, col, df.at[i, col], "is empty; every row needs one")
    spk = df["speaker"].astype(str)
    unspaced = ~spk.str.contains(":", regex=False) | (
        spk.str.split(":", n=1).str[0] != df["corpus"].astype(str)
    )
    for i in df.index[unspaced][:_MAX_REPORTED]:
        report(
            i, "speaker", df.at[i, "speaker"], f"must be namespaced as '{df.at[i, 'corpus']}:<id>'"
        )
    dur = pd.to_numeric(df["duration_s"], errors="coerce")
    for i in df.index[~(dur > 0)][:_MAX_REPORTED]:
        report(i, "duration_s", df.at[i, "duration_s"], "must be a positive number of seconds")
    dup = df["utt_id"].duplicated(keep="first")
    for i in df.index[dup][:_MAX_REPORTED]:
        report(i, "utt_id", df.at[i, "utt_id"], "is a duplicate; utt_id must be unique")
    if check_files and not problems:
        root = Path(source).parent if str(source) != "<manifest>" else Path(".")
        for i, p in zip(df.index, df["path"]):
            if not resolve_path(p, root).is_file():
                report(i, "path", p, f"does not exist (resolved against {root})")
                if len(problems) >= _MAX_REPORTED:
                    break
    if problems:
        more = (
            ""
            if len(problems) <= _MAX_REPORTED
            else f"\n... and {len(problems) - _MAX_REPORTED} more"
        )
        raise ManifestError("\n".join(problems[:_MAX_REPORTED]) + more)


def resolve_path(path: str | os.PathLike, root: str | os.PathLike) -> Path:
    """Resolve a manifest ``path`` (absolute, or relative to the manifest folder ``root``)."""
    p = Path(path)
    return p if p.is_absolute() else Path(root) / p


def read_manifest(path: str | os.PathLike, check_files: bool = False) -> pd.DataFrame:
    """Read and validate one manifest; ``path`` values come back absolute.

    Raises:
        FileNotFoundError: the manifest does not exist (the message says how to make one).
        ManifestError: the content breaks the contract.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"manifest {path} not found; make one with `python -m xlser synth --out DIR` "
            "(synthetic) or `python -m xlser prepare CORPUS ROOT --out FILE.csv` (real corpora)"
        )
    try:
        df = pd.read_csv(
            path, dtype={"utt_id": str, "speaker": str, "corpus": str}, keep_default_na=False
        )
    except pd.errors.EmptyDataError as e:
        raise ManifestError(
            f"{path}: the file is empty; a manifest starts with the header {','.join(COLUMNS)} "
            "(rebuild it with python -m xlser prepare ... or synth)"
        ) from e
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path}: not a readable CSV ({e})") from e
    validate_manifest(df, source=path, check_files=check_files)
    df = df[list(COLUMNS)].copy()
    df["duration_s"] = df["duration_s"].astype(float)
    df["path"] = [str(resolve_path(p, path.parent).resolve()) for p in df["path"]]
    return df


def is_manifest(path: str | os.PathLike) -> bool:
    """True when ``path``'s first line is the manifest header (other CSVs may share a folder)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.readline().strip().lstrip("\ufeff") == ",".join(COLUMNS)
    except (OSError, UnicodeDecodeError):
        return False


def manifest_paths(items: Iterable[str | os.PathLike]) -> list[Path]:
    """Manifest files from files and folders.

    A folder stands for every ``*.csv`` in it whose header is the manifest header (so the
    ``*.skipped.csv`` lists of ``prepare`` and other tables beside the manifests are ignored).
    """
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f for f in p.glob("*.csv") if not f.name.startswith(".") and is_manifest(f)
            )
            if not found:
                raise FileNotFoundError(
                    f"no manifest *.csv in {p}; make them with `python -m xlser prepare CORPUS ROOT "
                    f"--out {p}/CORPUS.csv` or `python -m xlser synth --out {p}`"
                )
            paths += found
        elif p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(
                f"{p}: no such manifest file or folder; make manifests with `python -m xlser prepare "
                f"CORPUS ROOT --out {p if p.suffix != '.csv' else p.parent}/CORPUS.csv` (real corpora) or "
                "`python -m xlser synth --out DIR` (synthetic), or set data.manifests"
            )
    return list(dict.fromkeys(paths))


def read_manifests(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Read several manifests into one frame; ``utt_id`` must stay unique across them."""
    frames = [read_manifest(p) for p in paths]
    if not frames:
        raise ManifestError("no manifest given")
    df = pd.concat(frames, ignore_index=True)
    dup = df["utt_id"][df["utt_id"].duplicated()]
    if len(dup):
        raise ManifestError(
            f"utt_id {dup.iloc[0]!r} appears in more than one manifest; prefix utt_ids per corpus"
        )
    return df


def write_manifest(df: pd.DataFrame, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Validate ``df`` and write it atomically (temp file + rename) to ``path``.

    Paths under the manifest's folder are written relative to it, so the folder can move.
    An existing file is only replaced with ``overwrite=True``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} exists; pass overwrite=True (CLI: --overwrite) to replace it"
        )
    out = df[list(COLUMNS)].copy()
    validate_manifest(out, source=path)
    root = path.parent.resolve()
    out["path"] = [_relative_if_under(p, root) for p in out["path"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, out.to_csv(index=False, float_format="%.4f", lineterminator="\n"))
    return path


def _relative_if_under(p: str, root: Path) -> str:
    q = Path(p)
    if not q.is_absolute():
        return q.as_posix()
    try:
        return q.resolve().relative_to(root).as_posix()
    except ValueError:
        return q.as_posix()


def counts_table(df: pd.DataFrame, by: Sequence[str] = ("split", "emotion")) -> pd.DataFrame:
    """Counts per ``by[0]`` × ``by[1]`` with totals, in the contract's category order."""
    order = {"split": SPLITS, "emotion": EMOTIONS, "language": LANGUAGES}
    t = pd.crosstab(df[by[0]], df[by[1]], margins=True, margins_name="total")
    rows = [r for r in order.get(by[0], sorted(t.index)) if r in t.index] + ["total"]
    cols = [c for c in order.get(by[1], sorted(t.columns)) if c in t.columns] + ["total"]
    return t.loc[rows, cols]
