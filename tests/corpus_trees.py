"""Tiny stand-in trees of the five real corpora, in their distributed layouts (as each corpus distributes them).

Each ``make_*`` writes short audio files (0.2-0.3 s) with soundfile and returns the root to pass to
``prepare`` plus what a correct loader must find. Not a conftest: tests import it by name.
"""

from __future__ import annotations

import csv
import os
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf

SECONDS = 0.25


def write_audio(path, seconds=SECONDS, sr=16000, channels=1, fmt=None, subtype=None, freq=220.0):
    """A sine of ``seconds`` at ``sr`` to ``path`` (WAV unless the suffix or ``fmt`` says otherwise)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    x = (0.1 * np.sin(2 * np.pi * freq * t)).astype("float32")
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    sf.write(str(path), x, sr, format=fmt, subtype=subtype)
    return path


def write_garbage(path, n=2000):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes())
    return path


def write_empty_wav(path, sr=16000):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(0, dtype="float32"), sr)
    return path


def make_mp4(path, seconds=0.3, sr=48000, channels=2):
    """A real tiny MP4 (H.264 video + AAC audio) made with the ffmpeg binary from imageio-ffmpeg."""
    from xlser.data.ffmpeg import find_ffmpeg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    layout = "stereo" if channels == 2 else "mono"
    cmd = [
        find_ffmpeg(), "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate={sr}",
        "-f", "lavfi", "-i", f"color=c=black:s=16x16:d={seconds}",
        "-af", f"aformat=channel_layouts={layout}",
        "-c:a", "aac", "-c:v", "libx264", "-shortest", str(path),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return path


# ----------------------------------------------------------------------------------------------
# MELD

MELD_HEADER = [
    "Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
    "Season", "Episode", "StartTime", "EndTime",
]  # fmt: skip

# (split, D, U, emotion, speaker, utterance); dialogue ids restart in every split
MELD_ROWS = [
    (
        "train",
        0,
        0,
        "neutral",
        "Chandler",
        "also I was the point person on my company\x92s transition",
    ),
    ("train", 0, 1, "joy", "Monica", "Oh, my God, that\x92s great\x85"),
    ("train", 0, 2, "surprise", "Ross", "What?!"),
    ("train", 1, 0, "anger", "The Interviewer", "You must\x92ve had your hands full."),
    ("train", 1, 1, "sadness", "Rachel", "No, no, no."),
    ("train", 2, 0, "fear", "Joey", "Uh-oh."),
    ("train", 2, 1, "disgust", "Phoebe", "Eww, gross."),
    ("train", 3, 0, "joy", "Chandler", "Yeah!"),
    ("dev", 0, 0, "neutral", "Phoebe", "Oh, okay."),
    ("dev", 0, 1, "joy", "Joey", "Hey!"),
    ("dev", 1, 0, "surprise", "Ross", "Really?"),
    ("test", 0, 0, "anger", "Ross", "Stop it, stop it!"),
    ("test", 0, 1, "sadness", "Monica", "I know."),
    ("test", 1, 0, "neutral", "Rachel", "Fine."),
    ("test", 2, 0, "joy", "Chandler", "Great, great."),
]
MELD_KEPT = {"train": 5, "val": 2, "test": 4}
MELD_DROPPED = {"surprise": 2, "fear": 1, "disgust": 1}
MELD_MP4_ROW = ("train", 3, 0)  # the one row whose media is a real .mp4

CSV_FILES = {"train": "train_sent_emo.csv", "dev": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
MEDIA_DIRS = {
    "train": "train_splits",
    "dev": "dev_splits_complete",
    "test": "output_repeated_splits_test",
}


def write_meld_csv(path, rows):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(MELD_HEADER)
        for i, (_, d, u, emo, spk, text) in enumerate(rows, start=1):
            sent = {"joy": "positive", "neutral": "neutral"}.get(emo, "negative")
            w.writerow([i, text, spk, emo, sent, d, u, 3, 19, "00:14:15,055", "00:14:17,140"])
    return path


def make_meld(root, layout="raw", wav_subdir=False, mp4=True, rows=MELD_ROWS):
    """MELD.Raw in one of the layouts: ``raw`` (MELD.Raw/…), ``train-subdir`` (MELD.Raw/train/…),
    ``kaggle`` (MELD-RAW/MELD.Raw/{train,dev,test}/…). Media are 16 kHz WAVs at the media stems
    (in ``<split-dir>/wav/`` when ``wav_subdir``), except one real .mp4 when ``mp4``.

    Returns (root to pass, {split: media folder}).
    """
    root = Path(root)
    base = root / ("MELD-RAW/MELD.Raw" if layout == "kaggle" else "MELD.Raw")
    base.mkdir(parents=True, exist_ok=True)
    (base / "README.txt").write_text("MELD\n")
    folders = {}
    for split in ("train", "dev", "test"):
        wrap = (
            base / split
            if layout == "kaggle" or (layout == "train-subdir" and split == "train")
            else base
        )
        write_meld_csv(wrap / CSV_FILES[split], [r for r in rows if r[0] == split])
        folders[split] = wrap / MEDIA_DIRS[split]
        folders[split].mkdir(parents=True, exist_ok=True)
    for split, d, u, *_ in rows:
        folder = folders[split]
        stem = f"dia{d}_utt{u}"
        if split == "test" and (d, u) == (1, 0):
            stem = "final_videos_test" + stem  # only the prefixed name exists: fallback rule
        if mp4 and (split, d, u) == MELD_MP4_ROW:
            make_mp4(folder / f"{stem}.mp4")
        else:
            write_audio(
                (folder / "wav" if wav_subdir else folder) / f"{stem}.wav", freq=200 + 10 * d + u
            )
    # extras: a prefixed twin of a plain file (plain wins), media without CSV rows, dot-files
    write_garbage(folders["test"] / "final_videos_testdia2_utt0.mp4")
    write_garbage(folders["test"] / "final_videos_testdia101_utt0.mp4")
    write_audio(folders["dev"] / "dia66_utt9.wav")
    write_garbage(folders["train"] / "._dia0_utt0.mp4")
    write_garbage(folders["train"] / ".dia0_utt1.wav")
    return root, folders


# ----------------------------------------------------------------------------------------------
# ESD

ESD_BLOCK = {"Neutral": 0, "Angry": 350, "Happy": 700, "Sad": 1050, "Surprise": 1400}
ESD_OFFSETS = (1, 2, 21, 22, 51, 52, 53, 54, 55, 56)  # 2 evaluation, 2 test, 6 train per emotion
ESD_EMOTION = {"Neutral": "neutral", "Angry": "angry", "Happy": "happy", "Sad": "sad"}


def _esd_split(k):
    return "evaluation" if k <= 20 else "test" if k <= 50 else "train"


def make_esd(root, layout="flat", mandarin=("0001", "0002", "0003"), english=("0011",)):
    """``Emotion Speech Dataset/{spk}/{Emotion}/[{train,evaluation,test}/]{spk}_{index}.wav``."""
    base = Path(root) / "Emotion Speech Dataset"
    for spk in (*mandarin, *english):
        (base / spk).mkdir(parents=True, exist_ok=True)
        (base / spk / f"{spk}.txt").write_bytes("0001_000001\t打开\t中立\n".encode("utf-16"))
        for emo, start in ESD_BLOCK.items():
            for k in ESD_OFFSETS:
                folder = base / spk / emo
                if layout == "split":
                    folder = folder / _esd_split(k)
                write_audio(folder / f"{spk}_{start + k:06d}.wav", seconds=0.2)
    return Path(root)


# ----------------------------------------------------------------------------------------------
# EMO-DB

EMODB_SPEAKERS = ("03", "08", "09", "10")
EMODB_LETTERS = "WWWFFTTNNLEA"  # 9 kept (W3 F2 T2 N2), 3 dropped per speaker
EMODB_TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10", "a01", "a02")


def make_emodb(root):
    """``ROOT/wav/SSTTTEV.wav`` beside erkennung.txt (Latin-1), lablaut/, silb/ ..."""
    root = Path(root)
    (root / "wav").mkdir(parents=True, exist_ok=True)
    (root / "erkennung.txt").write_bytes(
        "Satz erkannt Natürlichkeit\n03a01Fa 90,5 4,1\n".encode("latin-1")
    )
    (root / "erklaerung.txt").write_bytes("Erklärung\n".encode("latin-1"))
    for d in ("lablaut", "labsilb", "silb"):
        (root / d).mkdir(exist_ok=True)
        (root / d / "03a01Fa.lab").write_text("x\n")
    names = []
    for spk in EMODB_SPEAKERS:
        for i, (letter, text) in enumerate(zip(EMODB_LETTERS, EMODB_TEXTS)):
            version = "ab"[i % 2]
            names.append(f"{spk}{text}{letter}{version}.wav")
    for n in names:
        write_audio(root / "wav" / n, seconds=0.2)
    return root


# ----------------------------------------------------------------------------------------------
# CaFE

CAFE_FOLDERS = {
    "C": "Colère", "D": "Dégoût", "J": "Joie", "N": "Neutre", "P": "Peur", "S": "Surprise", "T": "Tristesse",
}  # fmt: skip
CAFE_ACTORS = ("01", "02", "03", "04")
CAFE_SENTENCES = (1, 2)
MOJIBAKE = {
    "cp1252": {"Colère": "ColŠre", "Dégoût": "D‚go–t"},
    "cp866": {"Colère": "ColКre", "Dégoût": "DВgoЦt"},
}


def cafe_folder(letter, mojibake):
    name = CAFE_FOLDERS[letter]
    if mojibake in MOJIBAKE:
        name = MOJIBAKE[mojibake].get(name, name)
    return name


def make_cafe(root, release="48k", mojibake="cp1252", actors=CAFE_ACTORS):
    """CaFE trees. ``48k``: CaFE_48k/Emotion/{Faible,Fort}/AA-E-I-S.wav, Neutre/AA-N-1-S.wav (48 kHz).
    ``192k``: CaFE_192k_1/ and CaFE_192k_2/ (half the actors each), neutral AA-N-S.aiff (192 kHz,
    24-bit). ``mojibake``: ``cp1252``/``cp866`` folder names, ``bytes`` (raw undecodable bytes for
    Colère), or ``none``.
    Returns the root; 4-class: 14 per actor (C/J/T 2x2 + N 2).
    """
    root = Path(root)
    sr = 48000 if release == "48k" else 192000
    for ai, actor in enumerate(actors):
        base = root / (
            "CaFE_48k" if release == "48k" else f"CaFE_192k_{1 if ai < len(actors) / 2 else 2}"
        )
        for letter in "CDJNPST":
            for s in CAFE_SENTENCES:
                if letter == "N":
                    if release == "48k":
                        p = base / cafe_folder("N", mojibake) / f"{actor}-N-1-{s}.wav"
                        write_audio(p, seconds=0.2, sr=sr)
                    else:
                        p = base / "Neutre" / f"{actor}-N-{s}.aiff"
                        write_audio(p, seconds=0.2, sr=sr, fmt="AIFF", subtype="PCM_24")
                    continue
                for i, level in ((1, "Faible"), (2, "Fort")):
                    name = f"{actor}-{letter}-{i}-{s}.wav"
                    if mojibake == "bytes" and letter == "C":
                        folder = os.fsencode(base) + b"/Col\x8are/" + level.encode()
                        os.makedirs(folder, exist_ok=True)
                        tmp = write_audio(root / f".tmp-{name}", seconds=0.2, sr=sr)
                        os.rename(os.fsencode(tmp), folder + b"/" + name.encode())
                    else:
                        write_audio(
                            base / cafe_folder(letter, mojibake) / level / name, seconds=0.2, sr=sr
                        )
    return root


# ----------------------------------------------------------------------------------------------
# URDU

URDU_SPEAKERS = ("SM1", "SM2", "SM3", "SF1", "SF2", "SM7")
URDU_INDICES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 99, 100)  # unpadded: A01 ... A010, A099, A0100


def make_urdu(root):
    """``URDU-Dataset-master/{Angry,Happy,Neutral,Sad}/S?n_Fk_E0m.wav`` at 44.1 kHz; 12 per folder."""
    base = Path(root) / "URDU-Dataset-master"
    base.mkdir(parents=True, exist_ok=True)
    (base / "README.md").write_text("# URDU-Dataset\n38 speakers in sub-folders\n")
    counters = Counter()
    for folder, letter in (("Angry", "A"), ("Happy", "H"), ("Neutral", "N"), ("Sad", "S")):
        for j, m in enumerate(URDU_INDICES):
            spk = URDU_SPEAKERS[j % len(URDU_SPEAKERS)]
            counters[spk] += 1
            write_audio(
                base / folder / f"{spk}_F{counters[spk]}_{letter}0{m}.wav", seconds=0.2, sr=44100
            )
    return Path(root)
