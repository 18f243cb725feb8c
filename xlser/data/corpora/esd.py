"""ESD (Zhou et al., 2022), Mandarin speakers 0001-0010 -> 4-class utterances.

The Google Drive zip unzips to ``Emotion Speech Dataset/`` with speaker folders ``0001/ ... 0020/``, each
holding ``{spk}.txt`` and ``Neutral/ Angry/ Happy/ Sad/ Surprise/`` with ``{spk}_{6-digit index}.wav``
(16 kHz mono). An older release adds ``train/ evaluation/ test/`` below each emotion folder; both are
accepted, at any depth below the root.

* The label is the emotion folder (Angry->angry, Happy->happy, Sad->sad, Neutral->neutral; Surprise is
  dropped), the nearest ancestor folder that is not a split subfolder. Transcript labels are never read
  (their encodings are mixed).
* Only speakers **0001-0010 (Mandarin)** are kept, as ``language=zh``; 0011-0020 are English and are
  left out (counted under ``excluded``), never tagged zh.
* The official split (``--split official``): per speaker and emotion, index within the 350-block
  1-20 -> val (ESD "evaluation"), 21-50 -> test, 51-350 -> train. In the split-subfolder layout the
  subfolder gives it (``evaluation`` -> val). The paper did not use it: ``--split paper`` is a seeded
  stratified 11200/1400/1400 (see :mod:`xlser.data.splits`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from xlser.data.corpora._common import CorpusSpec, Item, Scan, layout_error, walk_files

NAME, TITLE, LANGUAGE = "esd", "ESD", "zh"
EMOTION_FOLDERS = {"angry": "angry", "happy": "happy", "sad": "sad", "neutral": "neutral"}
DROPPED_FOLDERS = {"surprise": "surprise"}
SPLIT_FOLDERS = {"train": "train", "evaluation": "val", "test": "test"}
PAPER_SPLIT = (11200, 1400, 1400)
"""The paper's 4-class (train, val, test) sizes (§3.1), not ESD's official 300/20/30."""
MANDARIN = tuple(f"{i:04d}" for i in range(1, 11))
ENGLISH = tuple(f"{i:04d}" for i in range(11, 21))
LAYOUT = (
    "the ESD layout ('Emotion Speech Dataset/' from the Google Drive zip): speaker folders 0001-0020 "
    "(0001-0010 Mandarin) holding Neutral/ Angry/ Happy/ Sad/ Surprise/ with files 0001_000351.wav "
    "(optionally in train/ evaluation/ test/ subfolders)"
)
_NAME_RE = re.compile(r"^(\d{4})_(\d{6})\.wav$", re.IGNORECASE)


def official_split(index: int) -> str:
    """ESD's official split from the 6-digit global index (350 utterances per emotion block).

    >>> [official_split(i) for i in (1, 20, 21, 50, 51, 350, 351, 371, 1420, 1421)]
    ['val', 'val', 'test', 'test', 'train', 'train', 'val', 'test', 'val', 'test']
    """
    k = (index - 1) % 350 + 1
    return "val" if k <= 20 else "test" if k <= 50 else "train"


def scan(root: Path, exclude: Sequence[Path] = ()) -> Scan:
    """Find ``{spk}_{index}.wav`` under ``root``; keep Mandarin speakers' 4 emotions."""
    out = Scan()
    english = 0
    for path in walk_files(root, exclude):
        m = _NAME_RE.match(path.name)
        if not m:
            continue
        spk, index = m.group(1), int(m.group(2))
        if spk in ENGLISH:
            english += 1
            continue
        if spk not in MANDARIN:
            out.excluded[f"files of speakers outside 0001-0020 (e.g. {path.name})"] += 1
            continue
        folder = path.parent
        split = SPLIT_FOLDERS.get(folder.name.lower())
        if split is not None:
            folder = folder.parent
        split = split or official_split(index)
        label = folder.name.lower()
        speaker = f"{NAME}:{spk}"
        if label in EMOTION_FOLDERS:
            out.items.append(
                Item(f"{NAME}_{path.stem}", path, speaker, EMOTION_FOLDERS[label], split)
            )
        elif label in DROPPED_FOLDERS:
            out.dropped[DROPPED_FOLDERS[label]] += 1
        else:
            reason = (
                f"ESD emotion folder {folder.name!r} is not one of Neutral Angry Happy Sad Surprise"
            )
            out.skip(path, "unknown_label", reason, NAME, LANGUAGE, speaker)
    if english:
        out.excluded["files of English speakers 0011-0020 (the paper uses Mandarin 0001-0010)"] = (
            english
        )
    if not out.items and not out.dropped and not out.skipped:
        found = (
            f"Found {english} files of the English speakers 0011-0020 only; the paper uses the "
            "Mandarin speakers 0001-0010"
            if english
            else ""
        )
        raise layout_error(TITLE, root, LAYOUT, found)
    return out


CORPUS = CorpusSpec(
    name=NAME,
    title=TITLE,
    language=LANGUAGE,
    layout=LAYOUT,
    scan=scan,
    paper_sizes=PAPER_SPLIT,
    labels=EMOTION_FOLDERS,
    dropped=tuple(DROPPED_FOLDERS),
    splits=("paper", "speaker", "official"),
)
