"""URDU (Latif et al. 2018) -> 4-class utterances.

GitHub ``siddiquelatif/URDU-Dataset`` ("Download ZIP" gives ``URDU-Dataset-master/``) holds
``Angry/ Happy/ Neutral/ Sad/`` with 100 WAVs each (44.1 kHz), flat. File names
``S{G}{n}_F{k}_{E}0{m}.wav`` (e.g. ``SM1_F1_A01``, ``SF1_F10_H010``, ``SM7_F28_H0100``: the index m is
*not* zero-padded). The label is the letter E: A->angry, H->happy, N->neutral, S->sad (nothing to
drop). When the file sits in an emotion folder, folder and letter must agree (they do for all 400
real files); a disagreement is reported as ``conflicting_label``. Speaker: the prefix ``SM1``/``SF9``
(29 distinct ids in the release, not the README's 38).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from xlser.data.corpora._common import CorpusSpec, Item, Scan, layout_error, walk_files

NAME, TITLE, LANGUAGE = "urdu", "URDU", "ur"
EMOTION_MAP = {"A": "angry", "H": "happy", "N": "neutral", "S": "sad"}
PAPER_SPLIT = (300, 20, 80)
"""The paper's (train, val, test) sizes (§3.1)."""
FOLDERS = {"angry": "angry", "happy": "happy", "neutral": "neutral", "sad": "sad"}
LAYOUT = (
    "the URDU-Dataset layout (github.com/siddiquelatif/URDU-Dataset, 'Download ZIP' -> "
    "URDU-Dataset-master/): Angry/ Happy/ Neutral/ Sad/ holding files named like SM1_F1_A01.wav "
    "(speaker S{M|F}{n}, file counter F{k}, emotion letter A/H/N/S, then 0 and an unpadded index)"
)
_NAME_RE = re.compile(r"^(S[MF]\d+)_F(\d+)_([A-Za-z])0(\d+)\.wav$", re.IGNORECASE)


def scan(root: Path, exclude: Sequence[Path] = ()) -> Scan:
    """Find ``S?n_Fk_E0m.wav`` under ``root``; the label is the letter, checked against the folder."""
    out = Scan()
    for path in walk_files(root, exclude):
        m = _NAME_RE.match(path.name)
        if not m:
            continue
        spk, _k, letter, _m = m.groups()
        spk, letter = spk.upper(), letter.upper()
        speaker = f"{NAME}:{spk}"
        if letter not in EMOTION_MAP:
            reason = f"unknown URDU emotion letter {letter!r} (expected one of A H N S)"
            out.skip(path, "unknown_label", reason, NAME, LANGUAGE, speaker)
            continue
        emotion = EMOTION_MAP[letter]
        folder = FOLDERS.get(path.parent.name.lower())
        if folder is not None and folder != emotion:
            reason = f"file letter {letter!r} means {emotion} but the file is in folder {path.parent.name!r}"
            out.skip(path, "conflicting_label", reason, NAME, LANGUAGE, speaker)
            continue
        out.items.append(Item(f"{NAME}_{path.stem}", path, speaker, emotion))
    if not out.items and not out.skipped:
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
)
