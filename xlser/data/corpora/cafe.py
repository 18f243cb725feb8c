"""CaFE (Canadian French Emotional speech) -> 4-class utterances (Gournay et al., 2018).

Zenodo record 1478765: ``CaFE_48k.zip`` (48 kHz WAV) or ``CaFE_192k_1.zip`` + ``CaFE_192k_2.zip``
(192 kHz / 24-bit; neutral files are AIFF). Emotion folders ``Colère/{Faible,Fort}/``, ``Joie/...``,
``Neutre/`` ... hold ``AA-E-I-S.wav``. Files are found by name anywhere under the root, so a
``CaFE_48k/`` level or both 192k parts side by side are fine.

**The label comes from the filename letter, never the folder**: the zip stores folder names in a DOS
code page, so "Colère" arrives as ``ColŠre``, ``ColКre``, raw bytes or NFD. C->angry, J->happy,
T->sad, N->neutral; D (disgust), P (fear), S (surprise) are dropped. Neutral files have 4 fields in the
48k release (``01-N-1-3.wav``) and 3 in the 192k one (``01-N-3.aiff``); both get the ``utt_id``
``cafe_01-N-1-3``, so the two releases share ids (but one root must hold one release).
4-class: 504 files (C144 J144 T144 N72), 12 actors, 42 each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from xlser.data.corpora._common import CorpusSpec, Scan, layout_error, walk_files

NAME, TITLE, LANGUAGE = "cafe", "CaFE", "fr"
EMOTION_MAP = {"C": "angry", "J": "happy", "T": "sad", "N": "neutral"}
PAPER_SPLIT = (420, 42, 42)
"""The paper's 4-class (train, val, test) sizes (§3.1)."""
DROPPED = {"D": "disgust", "P": "fear", "S": "surprise"}
LAYOUT = (
    "the CaFE layout (Zenodo 1478765, CaFE_48k.zip or CaFE_192k_1/2.zip): emotion folders such as "
    "Colère/Fort/01-C-2-1.wav, Joie/Faible/04-J-1-6.wav, Neutre/01-N-1-3.wav (192k: 01-N-3.aiff); "
    "files named AA-E-I-S.wav with actor AA 01-12 and emotion letter C/D/J/N/P/S/T"
)
_NAME_RE = re.compile(r"^(\d\d)-([A-Za-z])-(?:([12])-)?([1-6])\.(wav|aiff?)$", re.IGNORECASE)


def scan(root: Path, exclude: Sequence[Path] = ()) -> Scan:
    """Find ``AA-E-I-S.{wav,aif,aiff}`` under ``root``; the label is the letter E."""
    out = Scan()
    for path in walk_files(root, exclude):
        m = _NAME_RE.match(path.name)
        if not m:
            continue
        actor, letter, intensity, sentence, _ext = m.groups()
        letter = letter.upper()
        if intensity is None and letter != "N":
            continue  # only neutral files have 3 fields; anything else is not a CaFE file name
        speaker = f"{NAME}:{actor}"
        utt = f"{NAME}_{actor}-{letter}-{intensity or '1'}-{sentence}"
        out.add_by_letter(
            path,
            utt,
            speaker,
            letter,
            EMOTION_MAP,
            DROPPED,
            NAME,
            LANGUAGE,
            f"unknown CaFE emotion letter {letter!r} (AA-E-I-S; expected one of C D J N P S T)",
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
