"""MELD (Friends TV series, English; video) -> 4-class utterances (Poria et al., 2019).

``MELD.Raw.tar.gz`` gives ``MELD.Raw/`` with ``train_sent_emo.csv`` (from ``train.tar.gz``),
``dev_sent_emo.csv``, ``test_sent_emo.csv`` and the media folders ``train_splits/``,
``dev_splits_complete/``, ``output_repeated_splits_test/`` of ``dia{D}_utt{U}.mp4``. The CSVs and the
media folders are found by name anywhere under the root, so the ``train/ dev/ test/`` wrappers (EmoBox,
Kaggle ``MELD-RAW/MELD.Raw/...``) work too; media directly in folders named ``train/ dev/ test/`` are
a last resort when no official media folder exists.

* Rows: the three CSVs (UTF-8, CRLF, quoted fields), read with the ``csv`` module; the key is
  (split, Dialogue_ID, Utterance_ID) because Dialogue_ID restarts in every split; ``dev`` -> ``val``.
  Emotion joy->happy, anger->angry, sadness->sad, neutral->neutral; surprise, fear, disgust are dropped.
  Speaker: the ``Speaker`` column (C1 mojibake fixed), as ``meld:<name>``.
* Media lookup per row, in this order: ``dia{D}_utt{U}`` with ``.wav``, ``.flac``, ``.mp4`` in the
  split's media folders and their ``wav/``/``flac/`` subfolders (pre-extracted audio wins); then the
  same with the ``final_videos_test`` prefix. Prefixed files are only a fallback, never extra
  utterances; media without a CSV row are ignored (counted). Dot-files are skipped.
* ``.mp4`` media are extracted once to 16 kHz mono WAV in the cache folder (:func:`materialize`).
* Known broken media: ``train_splits/dia125_utt3.mp4`` is corrupt and ``dev_splits_complete/
  dia110_utt7.mp4`` is missing; both rows are reported (``--skip-bad`` leaves them out and lists them in
  ``FILE.skipped.csv``, so 8245/897/2211 CSV rows give 8244/896/2211 decodable utterances). A few clips
  are mis-cut to ~5 min (test dia220_utt0, dia38_utt4; train dia309_utt0): ``--max-duration`` caps them.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from xlser.data.corpora._common import (
    CorpusError,
    CorpusSpec,
    Item,
    LayoutError,
    Scan,
    Skipped,
    fix_c1_mojibake,
    walk,
)

NAME, TITLE, LANGUAGE = "meld", "MELD", "en"
SPLITS = ("train", "val", "test")
CSV_NAMES = {"train": "train_sent_emo.csv", "val": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
MEDIA_DIRS = {
    "train": "train_splits",
    "val": "dev_splits_complete",
    "test": "output_repeated_splits_test",
}
FALLBACK_DIRS = {"train": "train", "val": "dev", "test": "test"}
TARBALLS = {"train": "train.tar.gz", "val": "dev.tar.gz", "test": "test.tar.gz"}
EXTENSIONS = (".wav", ".flac", ".mp4")
AUDIO_SUBDIRS = ("wav", "flac")
PREFIX = "final_videos_test"
EMOTION_MAP = {"joy": "happy", "anger": "angry", "sadness": "sad", "neutral": "neutral"}
DROPPED = ("surprise", "fear", "disgust")
PAPER_SPLIT = (8245, 897, 2211)
"""The paper's 4-class (train, val, test) sizes (§3.1): the official split's; train 8245 is what
Table 1's sample counts leave after the other four training splits (8245 CSV rows)."""
REQUIRED_COLUMNS = ("Speaker", "Emotion", "Dialogue_ID", "Utterance_ID")
HEADER = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime"
LAYOUT = (
    "MELD.Raw with train_sent_emo.csv, dev_sent_emo.csv, test_sent_emo.csv and the folders "
    "train_splits/, dev_splits_complete/, output_repeated_splits_test/ of dia{D}_utt{U}.mp4 (or the "
    "train/ dev/ test/ variants: MELD.Raw/train/train_splits/ with train/train_sent_emo.csv, ...)"
)
_MEDIA_RE = re.compile(rf"^({PREFIX})?dia(\d+)_utt(\d+)(\.wav|\.flac|\.mp4)$", re.IGNORECASE)


def _found_tree(root: Path, exclude: Sequence[Path]):
    csvs: dict[str, list[Path]] = defaultdict(list)
    dirs: dict[str, list[Path]] = defaultdict(list)
    tarballs: dict[str, Path] = {}
    names = set(CSV_NAMES.values())
    dir_names = set(MEDIA_DIRS.values()) | set(FALLBACK_DIRS.values())
    tar_names = set(TARBALLS.values())
    for dirpath, dirnames, filenames in walk(root, exclude):
        for d in dirnames:
            if d in dir_names:
                dirs[d].append(dirpath / d)
        for f in filenames:
            if f in names:
                csvs[f].append(dirpath / f)
            elif f in tar_names:
                tarballs[f] = dirpath / f
    return csvs, dirs, tarballs


def _media_index(folders: Sequence[Path]) -> dict[tuple[bool, int, int], dict[str, Path]]:
    """(prefixed, D, U) -> {ext: first path} over ``folders`` and their wav/ flac/ subfolders."""
    index: dict[tuple[bool, int, int], dict[str, Path]] = defaultdict(dict)
    for folder in folders:
        for sub in (folder, *(folder / s for s in AUDIO_SUBDIRS)):
            if not sub.is_dir():
                continue
            for f in sorted(sub.iterdir()):
                if f.name.startswith("."):
                    continue
                m = _MEDIA_RE.match(f.name)
                if m and f.is_file():
                    key = (m.group(1) is not None, int(m.group(2)), int(m.group(3)))
                    index[key].setdefault(m.group(4).lower(), f)
    return index


def _has_media(folder: Path) -> bool:
    for sub in (folder, *(folder / s for s in AUDIO_SUBDIRS)):
        if sub.is_dir() and any(_MEDIA_RE.match(f.name) for f in sub.iterdir()):
            return True
    return False


def lookup_media(index: dict, dialogue: int, utterance: int) -> Path | None:
    """The media for one row: plain name before the ``final_videos_test`` one; .wav, .flac, .mp4."""
    for prefixed in (False, True):
        by_ext = index.get((prefixed, dialogue, utterance), {})
        for ext in EXTENSIONS:
            if ext in by_ext:
                return by_ext[ext]
    return None


def read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """``(header, [(line number, row), ...])`` of a MELD CSV (UTF-8, ``newline=""``, CRLF, quotes)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            rows = []
            for rec in reader:
                if not any(c.strip() for c in rec):
                    continue
                rows.append((reader.line_num, dict(zip(header, rec))))
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path}: not UTF-8 ({e}); MELD CSVs are UTF-8") from e
    except csv.Error as e:
        raise CorpusError(f"{path}: not a readable CSV ({e})") from e
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CorpusError(
            f"{path}: missing column(s) {missing}; a MELD CSV has the header {HEADER}"
        )
    return header, rows


def scan(root: Path, exclude: Sequence[Path] = ()) -> Scan:
    """Read the three CSVs and match each 4-class row to its media (``None`` when missing)."""
    csvs, dirs, tarballs = _found_tree(root, exclude)
    problems = []
    media: dict[str, list[Path]] = {}
    for split in SPLITS:
        name = CSV_NAMES[split]
        tarball = tarballs.get(TARBALLS[split])
        hint = f" (found {tarball}: extract it there with tar -xzf)" if tarball else ""
        if not csvs.get(name):
            problems.append(f"{name} not found{hint}")
        elif len(csvs[name]) > 1:
            copies = ", ".join(str(p) for p in csvs[name])
            problems.append(f"{name} found more than once ({copies}); point ROOT at one MELD.Raw")
        media[split] = dirs.get(MEDIA_DIRS[split]) or [
            d for d in dirs.get(FALLBACK_DIRS[split], []) if _has_media(d)
        ]
        if not media[split]:
            problems.append(f"media folder {MEDIA_DIRS[split]}/ not found{hint}")
    if problems:
        raise LayoutError(f"{root}: not a MELD tree: {'; '.join(problems)}. Expected {LAYOUT}")

    out = Scan()
    for split in SPLITS:
        media_dirs = media[split]
        index = _media_index(media_dirs)
        used: set[tuple[bool, int, int]] = set()
        csv_path = csvs[CSV_NAMES[split]][0]
        _, rows = read_csv_rows(csv_path)
        seen: dict[tuple[int, int], int] = {}
        for line, row in rows:
            where = f"{csv_path}:{line}"
            try:
                d, u = int(row["Dialogue_ID"].strip()), int(row["Utterance_ID"].strip())
            except (ValueError, AttributeError):
                out.skipped.append(
                    Skipped(
                        where,
                        "bad_row",
                        f"Dialogue_ID {row.get('Dialogue_ID')!r} / Utterance_ID "
                        f"{row.get('Utterance_ID')!r} are not integers",
                        corpus=NAME,
                        language=LANGUAGE,
                        split=split,
                    )
                )
                continue
            for prefixed in (False, True):
                used.add((prefixed, d, u))
            if (d, u) in seen:
                out.skipped.append(
                    Skipped(
                        where,
                        "bad_row",
                        f"(Dialogue_ID, Utterance_ID) = ({d}, {u}) repeats line {seen[(d, u)]}",
                        corpus=NAME,
                        language=LANGUAGE,
                        split=split,
                    )
                )
                continue
            seen[(d, u)] = line
            raw = (row.get("Emotion") or "").strip().lower()
            speaker_name = " ".join(fix_c1_mojibake(row.get("Speaker") or "").split())
            utt_id = f"{NAME}_{split}_dia{d}_utt{u}"
            if raw in DROPPED:
                out.dropped[raw] += 1
                continue
            if raw not in EMOTION_MAP or not speaker_name:
                what = (
                    f"unknown MELD emotion {row.get('Emotion')!r} (expected one of "
                    f"{sorted([*EMOTION_MAP, *DROPPED])})"
                    if raw not in EMOTION_MAP
                    else "empty Speaker"
                )
                out.skipped.append(
                    Skipped(
                        where,
                        "unknown_label" if raw not in EMOTION_MAP else "bad_row",
                        what,
                        utt_id=utt_id,
                        corpus=NAME,
                        language=LANGUAGE,
                        speaker=f"{NAME}:{speaker_name}" if speaker_name else "",
                        split=split,
                    )
                )
                continue
            path = lookup_media(index, d, u)
            expected = str(media_dirs[0] / f"dia{d}_utt{u}.mp4")
            out.items.append(
                Item(utt_id, path, f"{NAME}:{speaker_name}", EMOTION_MAP[raw], split, expected)
            )
        unused = Counter()
        for key in index:
            if key not in used:
                unused["final_videos_test-prefixed" if key[0] else "plain"] += 1
        if unused["plain"]:
            out.excluded[f"{split} media without a CSV row (ignored)"] += unused["plain"]
        if unused["final_videos_test-prefixed"]:
            out.excluded[f"{split} final_videos_test* media without a CSV row (ignored)"] += unused[
                "final_videos_test-prefixed"
            ]
    return out


def materialize(
    items: list[Item], cache_dir: Path, workers: int = 4, progress: bool = True
) -> tuple[list[Item], list[Skipped], dict]:
    """Extract every ``.mp4`` item to ``cache_dir/<split>/dia{D}_utt{U}.wav`` (16 kHz mono), once.

    Items with ``.wav``/``.flac`` media are used as they are. Items whose extraction fails come back
    as ``corrupt`` :class:`Skipped` entries; items without media as ``missing`` ones.
    Returns ``(usable items, skipped, {"extracted": n, "reused": n})``.
    """
    from xlser.data.ffmpeg import extract_many

    skipped: list[Skipped] = []
    jobs: list[tuple[Path, Path]] = []
    target: dict[str, Path] = {}
    for it in items:
        if it.path is not None and it.path.suffix.lower() == ".mp4":
            dst = cache_dir / (it.split or "unsplit") / f"{it.utt_id.split('_', 2)[2]}.wav"
            target[it.utt_id] = dst
            jobs.append((it.path, dst))
    report = extract_many(jobs, workers=workers, progress=progress)
    usable = []
    for it in items:
        if it.path is None:
            skipped.append(
                Skipped.for_item(
                    it,
                    NAME,
                    LANGUAGE,
                    "missing",
                    f"media file not found (looked for {it.expected})",
                )
            )
            continue
        if it.utt_id in target:
            if it.path in report.failed:
                skipped.append(
                    Skipped.for_item(it, NAME, LANGUAGE, "corrupt", report.failed[it.path])
                )
                continue
            it = Item(it.utt_id, target[it.utt_id], it.speaker, it.emotion, it.split, str(it.path))
        usable.append(it)
    return usable, skipped, {"extracted": report.extracted, "reused": report.reused}


CORPUS = CorpusSpec(
    name=NAME,
    title=TITLE,
    language=LANGUAGE,
    layout=LAYOUT,
    scan=scan,
    paper_sizes=PAPER_SPLIT,
    labels=EMOTION_MAP,
    dropped=DROPPED,
    splits=("paper", "speaker", "official"),
    paper_is_official=True,
    materialize=materialize,
)
