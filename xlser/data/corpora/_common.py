"""Shared pieces of the corpus loaders: what a scan returns, the tree walk, the layout error.

A loader's ``scan(root, exclude)`` walks the unzipped corpus recursively from ``root`` (never a fixed
depth), recognises files by name (or, for MELD, by CSV), and returns a :class:`Scan`: the 4-class
utterances it keeps (:class:`Item`), the files it had to leave out with a reason (:class:`Skipped`),
and counts of what it dropped on purpose (other emotions, English ESD speakers, ...).
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xlser.errors import XlserError

SKIP_KINDS_MEDIA: tuple[str, ...] = ("missing", "corrupt", "too_short", "too_long")
"""Kinds of skipped entries that are real labelled utterances whose audio is unusable (or capped).
They count as corpus *rows* (the paper counted MELD's CSV rows), not as decodable samples."""

SKIP_KINDS_LABEL: tuple[str, ...] = ("unknown_label", "conflicting_label", "bad_row")
"""Kinds of skipped entries whose label or metadata could not be read."""

SKIPPED_COLUMNS: tuple[str, ...] = (
    "path",
    "kind",
    "reason",
    "utt_id",
    "corpus",
    "language",
    "speaker",
    "emotion",
    "split",
)
"""Header of ``FILE.skipped.csv``, written beside a manifest by ``prepare --skip-bad``."""


class LayoutError(XlserError, FileNotFoundError):
    """The corpus root does not hold the expected layout; the message says what was expected where."""


class CorpusError(XlserError, ValueError):
    """A corpus file cannot be read (encoding, CSV, columns); the message names the file."""


@dataclass
class Item:
    """One kept 4-class utterance found by a scan.

    ``path`` is the audio (or, for MELD, the media) file; ``None`` when the media is missing, and then
    ``expected`` names where it was looked for. ``split`` is the corpus's official split when it has
    one (MELD; ESD's 300/20/30), else ``None``.
    """

    utt_id: str
    path: Path | None
    speaker: str
    emotion: str
    split: str | None = None
    expected: str = ""


@dataclass
class Skipped:
    """A file (or CSV row) left out of the manifest, with the reason; one row of ``FILE.skipped.csv``."""

    path: str
    kind: str
    reason: str
    utt_id: str = ""
    corpus: str = ""
    language: str = ""
    speaker: str = ""
    emotion: str = ""
    split: str = ""

    def as_row(self) -> dict[str, str]:
        return {c: printable(str(getattr(self, c))) for c in SKIPPED_COLUMNS}

    @classmethod
    def for_item(cls, item: Item, corpus: str, language: str, kind: str, reason: str) -> Skipped:
        where = str(item.path) if item.path is not None else item.expected
        return cls(
            path=where,
            kind=kind,
            reason=reason,
            utt_id=item.utt_id,
            corpus=corpus,
            language=language,
            speaker=item.speaker,
            emotion=item.emotion,
            split=item.split or "",
        )


@dataclass
class Scan:
    """What a loader found under a root.

    Attributes:
        items: kept 4-class utterances.
        skipped: files or rows that could not be used (unknown label, missing media, ...).
        dropped: raw label -> count of utterances dropped on purpose (not one of the 4 classes).
        excluded: description -> count of files ignored on purpose (English ESD speakers, MELD media
            without a CSV row, ...).
    """

    items: list[Item] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    excluded: Counter = field(default_factory=Counter)

    def skip(
        self, path: Path, kind: str, reason: str, corpus: str, language: str, speaker: str
    ) -> None:
        """Record one unusable file (a row of ``FILE.skipped.csv``)."""
        self.skipped.append(
            Skipped(str(path), kind, reason, corpus=corpus, language=language, speaker=speaker)
        )

    def add_by_letter(
        self,
        path: Path,
        utt_id: str,
        speaker: str,
        letter: str,
        kept: dict[str, str],
        dropped: dict[str, str],
        corpus: str,
        language: str,
        unknown: str,
    ) -> None:
        """Keep (``kept[letter]`` is the emotion), drop (``dropped[letter]`` names the class) or skip
        one file by the emotion letter of its name; ``unknown`` explains an unknown letter."""
        if letter in kept:
            self.items.append(Item(utt_id, path, speaker, kept[letter]))
        elif letter in dropped:
            self.dropped[dropped[letter]] += 1
        else:
            self.skip(path, "unknown_label", unknown, corpus, language, speaker)


def is_hidden(name: str) -> bool:
    """Dot-files (AppleDouble ``._x.wav``, ``.DS_Store``) and macOS zip debris (``__MACOSX``)."""
    return name.startswith(".") or name == "__MACOSX"


def walk(root: Path, exclude: Iterable[Path] = ()) -> Iterator[tuple[Path, list[str], list[str]]]:
    """``os.walk`` from ``root`` in sorted order, skipping hidden names and the ``exclude`` folders.

    Symlinked folders are followed once (a set of visited real paths breaks cycles).
    """
    skip = {os.path.realpath(p) for p in exclude}
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen or real in skip:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
        yield Path(dirpath), dirnames, sorted(f for f in filenames if not is_hidden(f))


def walk_files(root: Path, exclude: Iterable[Path] = ()) -> Iterator[Path]:
    """Every non-hidden file under ``root`` (recursively, sorted)."""
    for dirpath, _, filenames in walk(root, exclude):
        for f in filenames:
            yield dirpath / f


def encodable(path: Path | str) -> bool:
    """Whether ``path`` can be written to a UTF-8 manifest and opened by soundfile.

    Folder names extracted from a zip without conversion may hold raw bytes (CaFE's "Colère"); Python
    shows them as lone surrogates, which neither UTF-8 nor libsndfile accept.
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """``text`` with undecodable file-name bytes (lone surrogates) shown as U+FFFD, for CSVs and messages."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def portable_copy(path: Path, links_dir: Path) -> Path:
    """A UTF-8-named stand-in for ``path`` in ``links_dir``: a hard link (no extra space), else a copy.

    Only used for files whose path is not valid UTF-8. The file name itself must be ASCII (true for all
    five corpora); an existing stand-in of the same size is reused.
    """
    links_dir.mkdir(parents=True, exist_ok=True)
    target = links_dir / path.name
    if target.exists() and target.stat().st_size == path.stat().st_size:
        return target
    tmp = links_dir / f".{path.name}.{os.getpid()}.part"
    tmp.unlink(missing_ok=True)
    try:
        os.link(path, tmp)
    except OSError:
        shutil.copy2(path, tmp)
    os.replace(tmp, target)
    return target


def fix_c1_mojibake(text: str) -> str:
    """Map C1 control characters (U+0080-U+009F) back to the cp1252 characters they stand for.

    MELD's CSVs inside the tarball carry e.g. U+0092 for ’ and U+0085 for …

    >>> fix_c1_mojibake("I\\x92m fine\\x85")
    'I’m fine…'
    """
    if not any("\x80" <= c <= "\x9f" for c in text):
        return text
    out = []
    for c in text:
        if "\x80" <= c <= "\x9f":
            try:
                c = bytes([ord(c)]).decode("cp1252")
            except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d are undefined in cp1252
                pass
        out.append(c)
    return "".join(out)


def layout_error(title: str, root: Path, layout: str, found: str = "") -> LayoutError:
    """A :class:`LayoutError` that says which corpus layout was expected under ``root``."""
    msg = f"{root}: no {title} files found; expected {layout}"
    if found:
        msg += f". {found}"
    return LayoutError(msg)


def first_duplicates(items: list[Item]) -> tuple[Item, Item] | None:
    """The first pair of items sharing a ``utt_id`` (two copies of one file under the root)."""
    seen: dict[str, Item] = {}
    for it in items:
        if it.utt_id in seen:
            return seen[it.utt_id], it
        seen[it.utt_id] = it
    return None


@dataclass(frozen=True)
class CorpusSpec:
    """One corpus as ``prepare`` sees it: the entry its module adds to the registry.

    Attributes:
        name: the CLI name and ``corpus`` column value (``meld``).
        title: the corpus's usual name (``MELD``), for messages.
        language: the ``language`` column value.
        layout: the expected distributed layout, quoted in error messages.
        scan: ``scan(root, exclude) -> Scan``.
        paper_sizes: the paper's (train, val, test) sizes after the 4-class filter (Mi et al.,
            2026, §3.1); ``--split paper`` scales them to the files found.
        labels: the corpus's raw label (letter, folder or CSV value) -> one of
            :data:`xlser.EMOTIONS`; the 4-class label map.
        dropped: raw labels of the classes left out on purpose (counted, not skipped).
        splits: the ``--split`` values this corpus accepts.
        paper_is_official: the paper used the corpus's official split (MELD).
        materialize: optional ``materialize(items, cache_dir, workers, progress) -> (items, skipped,
            stats)`` turning media into readable audio (MELD: MP4 -> 16 kHz WAV).
    """

    name: str
    title: str
    language: str
    layout: str = field(repr=False)
    scan: Callable[[Path, Sequence[Path]], Scan] = field(repr=False)
    paper_sizes: tuple[int, int, int]
    labels: Mapping[str, str]
    dropped: tuple[str, ...] = ()
    splits: tuple[str, ...] = ("paper", "speaker")
    paper_is_official: bool = False
    materialize: Callable[..., tuple[list[Item], list[Skipped], dict]] | None = field(
        default=None, repr=False
    )

    def __post_init__(self) -> None:
        from xlser import EMOTIONS

        if sorted(set(self.labels.values())) != sorted(EMOTIONS):
            raise ValueError(f"CorpusSpec {self.name}: labels must map onto {EMOTIONS}")
        if len(self.paper_sizes) != 3 or min(self.paper_sizes) < 0:
            raise ValueError(f"CorpusSpec {self.name}: paper_sizes is (train, val, test)")
