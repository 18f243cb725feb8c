"""EMO-DB (German; Burkhardt et al., 2005) -> 4-class utterances.

``download.zip`` unzips to ``erkennung.txt, erklaerung.txt, lablaut/, labsilb/, silb/, wav/``; the
audio is ``wav/SSTTTEV.wav`` (535 files, 16 kHz mono). Files are found by name anywhere under the root:
chars 0-1 speaker, 2-4 text code, 5 emotion letter, 6 version. Labels: W->angry, F->happy, T->sad,
N->neutral; L (boredom), E (disgust), A (fear) are dropped. 4-class: 339 files, 10 speakers.

EMO-DB 2.0 (audformat, Zenodo 16273947) adds 281 low-agreement files; scanning its ``wav/`` gives other
counts than the paper's 339.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from xlser.data.corpora._common import CorpusSpec, Scan, layout_error, walk_files

NAME, TITLE, LANGUAGE = "emodb", "EMO-DB", "de"
EMOTION_MAP = {"W": "angry", "F": "happy", "T": "sad", "N": "neutral"}
PAPER_SPLIT = (266, 35, 38)
"""The paper's 4-class (train, val, test) sizes (§3.1)."""
DROPPED = {"L": "boredom", "E": "disgust", "A": "fear"}
LAYOUT = (
    "the EMO-DB download.zip layout: ROOT/wav/03a01Fa.wav ... (535 files named SSTTTEV.wav: speaker, "
    "text code, emotion letter W/L/E/A/F/T/N, version) beside erkennung.txt, erklaerung.txt, lablaut/, "
    "labsilb/, silb/"
)
_NAME_RE = re.compile(r"^(\d\d)([a-z]\d\d)([A-Za-z])([a-z])\.wav$", re.IGNORECASE)


def scan(root: Path, exclude: Sequence[Path] = ()) -> Scan:
    """Find ``SSTTTEV.wav`` files under ``root``; keep W/F/T/N, drop L/E/A, flag unknown letters."""
    out = Scan()
    for path in walk_files(root, exclude):
        m = _NAME_RE.match(path.name)
        if not m:
            continue
        spk, _text, letter, _version = m.groups()
        out.add_by_letter(
            path,
            f"{NAME}_{path.stem}",
            f"{NAME}:{spk}",
            letter,
            EMOTION_MAP,
            DROPPED,
            NAME,
            LANGUAGE,
            f"unknown EMO-DB emotion letter {letter!r} (char 6 of SSTTTEV.wav; expected one of "
            "W L E A F T N)",
        )
    if not out.items and not out.dropped and not out.skipped:
        raise layout_error(TITLE, root, LAYOUT)
    return out


CORPUS = CorpusSpec(
    name=NAME,
    title=TITLE,
    language=LANGUAGE,
    layout=LAYOUT,
    scan=scan,
    paper_sizes=PAPER_SPLIT,
    labels=EMOTION_MAP,
    dropped=tuple(DROPPED),
)
