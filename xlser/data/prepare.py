"""``prepare``: turn one real corpus, as distributed, into a 4-class manifest.

::

    python -m xlser prepare {meld,esd,emodb,cafe,urdu} ROOT --out FILE.csv
        [--seed 0] [--split paper|speaker|official] [--skip-bad] [--overwrite]
        [--cache-dir DIR] [--workers N] [--max-duration SECONDS]

Steps (:func:`prepare_corpus`): refuse an existing ``--out`` without ``--overwrite``; scan ROOT
recursively (:mod:`xlser.data.corpora`; a wrong layout is an error naming the expected one); MELD:
extract ``.mp4`` audio once into the cache folder (default ``<out dir>/meld_audio/``); read every
file's duration from its header; decode every kept file once to reject silent, constant or
non-finite audio (:func:`xlser.data.audio.signal_problem`); assign splits (:mod:`xlser.data.splits`); validate; write
atomically. A manifest is only written when every kept file is usable.

Bad input. Corrupt, empty, too short (< :data:`xlser.data.audio.MIN_SECONDS`), silent or constant
(:data:`xlser.data.audio.SILENCE_PEAK`), non-finite (NaN/inf samples) or missing audio, an unknown or
conflicting label, or a malformed CSV row stop ``prepare`` with an error naming the files,
unless ``--skip-bad``: then they are left out and listed, with the reason, in ``FILE.skipped.csv``
beside the manifest (unusable audio has kind ``corrupt``; the reason says which problem) (columns :data:`~xlser.data.corpora._common.SKIPPED_COLUMNS`). Clips longer than
``--max-duration`` are left out and listed there too (kind ``too_long``) without needing ``--skip-bad``.

Counts: the random splits are computed over the usable files. MELD keeps its official split, so with
``--skip-bad`` its manifest holds 8244 / 896 / 2211 decodable utterances while the paper counted the
CSV's 8245 / 897 / 2211 rows (``dia125_utt3`` is corrupt, ``dia110_utt7`` missing). ``python -m xlser
tasks`` reports both: the manifest's samples, and rows = samples + the train entries of the
``FILE.skipped.csv`` of kinds :data:`~xlser.data.corpora._common.SKIP_KINDS_MEDIA`.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from xlser.data.audio import (
    FIX_BAD_AUDIO,
    MIN_SECONDS,
    AudioError,
    audio_duration,
    read_checked,
)
from xlser.data.corpora import CORPORA, get_corpus
from xlser.data.corpora._common import (
    SKIP_KINDS_MEDIA,
    SKIPPED_COLUMNS,
    Item,
    LayoutError,
    Skipped,
    encodable,
    first_duplicates,
    portable_copy,
)
from xlser.data.manifest import (
    COLUMNS,
    atomic_write_text,
    counts_table,
    validate_manifest,
    write_manifest,
)
from xlser.data.splits import random_split, speaker_split
from xlser.errors import UsageError, XlserError

SPLIT_CHOICES = ("paper", "speaker", "official")
_MAX_LISTED = 10


class PrepareError(XlserError, ValueError):
    """Unusable files or labels were found and ``skip_bad`` is off; the message lists them."""


@dataclass
class PrepareResult:
    """What :func:`prepare_corpus` wrote.

    Attributes:
        manifest: the manifest path.
        frame: the manifest rows (absolute paths), as validated and written.
        skipped: the entries left out (also in ``skipped_path``), each with a reason.
        skipped_path: ``FILE.skipped.csv`` when anything was skipped, else ``None``.
        stats: ``rows`` (4-class utterances found), ``usable`` (written), ``dropped`` (other emotions),
            ``excluded`` (files ignored on purpose), and for MELD ``extracted`` / ``reused``.
    """

    manifest: Path
    frame: pd.DataFrame
    skipped: list[Skipped] = field(default_factory=list)
    skipped_path: Path | None = None
    stats: dict = field(default_factory=dict)


def skipped_path_for(manifest: str | os.PathLike) -> Path:
    """``meld.csv`` -> ``meld.skipped.csv`` (the skipped list beside a manifest)."""
    p = Path(manifest)
    stem = p.name[: -len(p.suffix)] if p.suffix else p.name
    return p.with_name(f"{stem}.skipped.csv")


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _durations(paths: list[Path], workers: int) -> list[float | str]:
    """Header duration of each path, or the error message."""

    def one(p: Path) -> float | str:
        try:
            return audio_duration(p)
        except AudioError as e:
            return str(e)
        except OSError as e:
            return f"{p}: cannot open ({e})"

    if len(paths) < 64 or workers <= 1:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, paths, chunksize=64))


def _signal_problems(paths: list[Path], workers: int) -> list[str | None]:
    """Decode each file once: ``None`` when its signal is usable, else why not (silent, constant,
    NaN/inf samples; :func:`xlser.data.audio.read_checked`)."""

    def one(p: Path) -> str | None:
        try:
            read_checked(p)
        except AudioError as e:
            return str(e).removeprefix(f"{p}: ").removesuffix(f"; {FIX_BAD_AUDIO}")
        except OSError as e:
            return f"cannot open ({e})"
        return None

    if len(paths) < 64 or workers <= 1:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, paths, chunksize=16))


def _listed(entries: list[Skipped]) -> list[str]:
    """The first :data:`_MAX_LISTED` entries as ``  path: reason`` lines, and how many more."""
    lines = [f"  {s.path}: {s.reason}" for s in entries[:_MAX_LISTED]]
    if len(entries) > _MAX_LISTED:
        lines.append(f"  ... and {len(entries) - _MAX_LISTED} more")
    return lines


def _format_bad(bad: list[Skipped], skipped_file: Path) -> str:
    kinds = Counter(s.kind for s in bad)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    return (
        f"{len(bad)} unusable file(s) or row(s) ({summary}):\n"
        + "\n".join(_listed(bad))
        + f"\npass --skip-bad (skip_bad=True) to leave them out; they are then listed in {skipped_file}"
    )


def prepare_corpus(
    corpus: str,
    root: str | os.PathLike,
    out: str | os.PathLike,
    seed: int = 0,
    split: str = "paper",
    skip_bad: bool = False,
    overwrite: bool = False,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    max_duration: float | None = None,
    progress: bool = True,
) -> PrepareResult:
    """Read ``root`` (one corpus as distributed) and write a 4-class manifest to ``out``.

    Args:
        corpus: ``meld``, ``esd``, ``emodb``, ``cafe`` or ``urdu``.
        root: the unzipped corpus (any folder above its files).
        out: manifest path (``.csv``); ``FILE.skipped.csv`` goes beside it.
        seed: seed of the random / speaker splits.
        split: ``paper`` (MELD: official; others: seeded stratified with the paper's sizes, scaled),
            ``speaker`` (speaker-independent) or ``official`` (MELD, ESD only). See
            :mod:`xlser.data.splits`.
        skip_bad: leave unusable files out (listed in ``FILE.skipped.csv``) instead of failing.
        overwrite: replace an existing ``out``.
        cache_dir: where extracted audio (MELD) and UTF-8-named stand-ins for files with undecodable
            folder names go; default ``<out dir>/<corpus>_audio``.
        workers: parallel ffmpeg processes / header readers (default ``min(8, cpus)``).
        max_duration: leave out clips longer than this many seconds (listed as ``too_long``).
        progress: show a progress bar during extraction (only on a terminal).

    Raises:
        FileNotFoundError: ``root`` is missing, or (:class:`LayoutError`) holds no such corpus.
        FileExistsError: ``out`` exists and ``overwrite`` is off.
        ValueError: unusable files without ``skip_bad`` (:class:`PrepareError`), a bad option, two
            copies of one utterance under ``root``.
    """
    spec = get_corpus(corpus)
    root, out = Path(root), Path(out)
    if split not in SPLIT_CHOICES:
        raise UsageError(f"split must be one of {list(SPLIT_CHOICES)}, got {split!r}")
    if split not in spec.splits:
        raise UsageError(
            f"{spec.title} has no official split; use --split paper (seeded, stratified, the paper's "
            f"sizes) or --split speaker"
        )
    if max_duration is not None and not max_duration > 0:
        raise UsageError(f"max_duration must be a positive number of seconds, got {max_duration}")
    if not root.exists():
        raise FileNotFoundError(
            f"corpus root {root} does not exist; for {spec.title} expected {spec.layout}"
        )
    if not root.is_dir():
        raise LayoutError(
            f"corpus root {root} is a file, not a folder; unzip/untar it first. For {spec.title} "
            f"expected {spec.layout}"
        )
    if out.is_dir():
        raise UsageError(
            f"--out {out} is a folder; give a manifest file name such as {out / corpus}.csv"
        )
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite (overwrite=True) to replace it")
    workers = workers or default_workers()
    cache = Path(cache_dir) if cache_dir is not None else out.parent / f"{spec.name}_audio"
    skipped_file = skipped_path_for(out)

    scan = spec.scan(root, [cache, out.parent / f"{spec.name}_audio"])
    dup = first_duplicates(scan.items)
    if dup:
        a, b = dup
        raise UsageError(
            f"{spec.title}: utterance {a.utt_id} found twice under {root}: {a.path} and {b.path}; "
            "point ROOT at one copy of the corpus (one release)"
        )
    stats: dict = {
        "rows": len(scan.items),
        "dropped": dict(scan.dropped),
        "excluded": dict(scan.excluded),
    }
    skipped = list(scan.skipped)
    items = scan.items
    if spec.materialize is not None:
        items, more, extra = spec.materialize(items, cache, workers=workers, progress=progress)
        skipped += more
        stats.update(extra)
    else:
        missing = [it for it in items if it.path is None]
        skipped += [
            Skipped.for_item(it, spec.name, spec.language, "missing", f"not found ({it.expected})")
            for it in missing
        ]
        items = [it for it in items if it.path is not None]

    # files whose folder names are not UTF-8 (CaFE zips) get a UTF-8-named stand-in in the cache
    items = [
        it if encodable(it.path) else replace(it, path=portable_copy(it.path, cache))
        for it in items
    ]
    # durations from the headers; unusable audio becomes a skipped entry
    kept: list[tuple[Item, float]] = []
    for it, dur in zip(items, _durations([it.path for it in items], workers)):
        if isinstance(dur, str):
            skipped.append(Skipped.for_item(it, spec.name, spec.language, "corrupt", dur))
        elif dur < MIN_SECONDS:
            skipped.append(
                Skipped.for_item(
                    it,
                    spec.name,
                    spec.language,
                    "too_short",
                    f"{dur:.3f} s long; training needs at least {MIN_SECONDS} s",
                )
            )
        elif max_duration is not None and dur > max_duration:
            skipped.append(
                Skipped.for_item(
                    it,
                    spec.name,
                    spec.language,
                    "too_long",
                    f"{dur:.1f} s > --max-duration {max_duration}",
                )
            )
        else:
            kept.append((it, dur))
    # the samples themselves: silent, constant or non-finite audio is unusable too
    problems = _signal_problems([it.path for it, _ in kept], workers)
    for (it, _), problem in zip(kept, problems):
        if problem is not None:
            skipped.append(Skipped.for_item(it, spec.name, spec.language, "corrupt", problem))
    kept = [k for k, problem in zip(kept, problems) if problem is None]
    bad = [s for s in skipped if s.kind != "too_long"]
    if bad and not skip_bad:
        raise PrepareError(f"{spec.title} at {root}: " + _format_bad(bad, skipped_file))
    if not kept:
        raise UsageError(
            f"{spec.title} at {root}: no usable 4-class utterance left; nothing to write"
        )

    rows = []
    for it, dur in kept:
        rows.append(
            {
                "utt_id": it.utt_id,
                "path": str(Path(it.path).absolute()),
                "corpus": spec.name,
                "language": spec.language,
                "speaker": it.speaker,
                "emotion": it.emotion,
                "split": it.split or "",
                "duration_s": round(dur, 4),
            }
        )
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.sort_values("utt_id", kind="stable").reset_index(drop=True)
    if split == "speaker":
        frame["split"] = speaker_split(frame, spec.paper_sizes, seed)
    elif split == "official" or spec.paper_is_official:
        pass  # the scan set each item's official split
    else:
        frame["split"] = random_split(frame, spec.paper_sizes, seed)
    validate_manifest(frame, source=out)

    if skipped:
        _write_skipped(skipped, skipped_file)
    elif skipped_file.exists():
        skipped_file.unlink()  # a stale list from an earlier run would mislead `tasks`
    write_manifest(frame, out, overwrite=overwrite)
    stats["usable"] = len(frame)
    return PrepareResult(out, frame, skipped, skipped_file if skipped else None, stats)


def _write_skipped(skipped: list[Skipped], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(SKIPPED_COLUMNS), lineterminator="\n")
    w.writeheader()
    for s in skipped:
        w.writerow(s.as_row())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, buf.getvalue())


def read_skipped(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``FILE.skipped.csv`` (empty frame with the columns when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=list(SKIPPED_COLUMNS))
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def format_report(result: PrepareResult, title: str = "") -> str:
    """The summary ``prepare`` prints: counts per split x emotion, speakers, what was left out."""
    df, st = result.frame, result.stats
    lines = [f"wrote {result.manifest}: {len(df)} utterances, {df['speaker'].nunique()} speakers"]
    lines.append(counts_table(df).to_string())
    spk = df.groupby("split")["speaker"].nunique()
    lines.append(
        "speakers: " + ", ".join(f"{s} {spk[s]}" for s in ("train", "val", "test") if s in spk)
    )
    media = sum(1 for s in result.skipped if s.kind in SKIP_KINDS_MEDIA)
    name = title or df["corpus"].iloc[0]
    lines.append(
        f"{name}: {st.get('rows', len(df))} 4-class utterances found, {len(df)} usable"
        + (f", {media} with unusable or capped audio" if media else "")
    )
    if "extracted" in st:
        lines.append(f"audio: {st['extracted']} extracted, {st['reused']} reused from the cache")
    if st.get("dropped"):
        lines.append(
            "dropped (not 4-class): "
            + ", ".join(f"{k} {v}" for k, v in sorted(st["dropped"].items()))
        )
    for what, n in sorted(st.get("excluded", {}).items()):
        lines.append(f"excluded: {n} {what}")
    if result.skipped:
        kinds = Counter(s.kind for s in result.skipped)
        lines.append(
            f"skipped {len(result.skipped)} ("
            + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
            + f"), listed in {result.skipped_path}"
        )
        lines += _listed(result.skipped)
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    result = prepare_corpus(
        args.corpus,
        args.root,
        args.out,
        seed=args.seed,
        split=args.split,
        skip_bad=args.skip_bad,
        overwrite=args.overwrite,
        cache_dir=args.cache_dir,
        workers=args.workers,
        max_duration=args.max_duration,
    )
    print(format_report(result, CORPORA[args.corpus].title))
    return 0


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="build a 4-class manifest from one real corpus tree",
        description=(
            "Read ROOT (an unzipped corpus, exactly as distributed) and write a manifest of its "
            "happy/angry/sad/neutral utterances. Splits: MELD official (dev -> val); ESD (Mandarin "
            "0001-0010), EMO-DB, CaFE, URDU seeded and stratified with the paper's sizes, scaled to "
            "the files found."
        ),
    )
    p.add_argument("corpus", choices=list(CORPORA), help="which corpus ROOT holds")
    p.add_argument(
        "root", help="the corpus folder (e.g. MELD.Raw, 'Emotion Speech Dataset', CaFE_48k)"
    )
    p.add_argument("--out", required=True, help="manifest CSV to write")
    p.add_argument("--seed", type=int, default=0, help="seed of the random splits (default 0)")
    p.add_argument(
        "--split",
        choices=SPLIT_CHOICES,
        default="paper",
        help="paper: the paper's sizes (MELD: official); speaker: speaker-independent; "
        "official: the corpus's own split (MELD, ESD)",
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out corrupt/missing/silent/unlabelled files and list them in FILE.skipped.csv",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument(
        "--cache-dir",
        default=None,
        help="where MELD's extracted audio goes (default: <out dir>/<corpus>_audio)",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="parallel ffmpeg processes (default min(8, cpus))"
    )
    p.add_argument(
        "--max-duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="leave out longer clips (MELD has ~5-minute mis-cut clips); they are listed as too_long",
    )
    p.set_defaults(func=_run)
