"""Corpus loaders on stand-in trees in the real distributed layouts: labels, speakers,
languages, official splits, and the variant layouts each loader must accept."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from corpus_trees import (
    CAFE_ACTORS,
    EMODB_SPEAKERS,
    MELD_DROPPED,
    MELD_KEPT,
    URDU_SPEAKERS,
    make_cafe,
    make_emodb,
    make_esd,
    make_meld,
    make_urdu,
    write_audio,
    write_meld_csv,
)

from xlser.data.audio import load_audio
from xlser.data.corpora import CORPORA, LayoutError, get_corpus
from xlser.data.corpora._common import fix_c1_mojibake
from xlser.data.corpora.esd import official_split
from xlser.data.manifest import read_manifest
from xlser.data.prepare import prepare_corpus


def prep(corpus, root, tmp_path, **kw):
    return prepare_corpus(corpus, root, tmp_path / "out" / f"{corpus}.csv", progress=False, **kw)


def check_contract(res, corpus, language):
    df = res.frame
    assert (df["corpus"] == corpus).all()
    assert (df["language"] == language).all()
    assert df["speaker"].str.startswith(f"{corpus}:").all()
    assert df["utt_id"].str.startswith(f"{corpus}_").all()
    assert df["utt_id"].is_unique
    back = read_manifest(res.manifest, check_files=True)  # the reader every consumer uses
    assert len(back) == len(df)
    assert set(back["split"]) <= {"train", "val", "test"}


def test_registry():
    assert list(CORPORA) == ["meld", "esd", "emodb", "cafe", "urdu"]
    assert [c.language for c in CORPORA.values()] == ["en", "zh", "de", "fr", "ur"]
    with pytest.raises(ValueError, match="unknown corpus 'iemocap'"):
        get_corpus("iemocap")


# ---------------------------------------------------------------------------------------- MELD


@pytest.mark.parametrize("layout", ["raw", "train-subdir", "kaggle"])
def test_meld_layouts_labels_speakers_official_split(tmp_path, layout):
    root, _ = make_meld(tmp_path / "tree", layout=layout, mp4=False)
    res = prep("meld", root, tmp_path)
    check_contract(res, "meld", "en")
    df = res.frame.set_index("utt_id")
    assert df["split"].value_counts().to_dict() == MELD_KEPT  # official split, dev -> val
    assert res.stats["dropped"] == MELD_DROPPED
    # joy -> happy, anger -> angry, sadness -> sad; dialogue ids restart per split (key has the split)
    assert df.loc["meld_train_dia0_utt1", "emotion"] == "happy"
    assert df.loc["meld_train_dia1_utt0", "emotion"] == "angry"
    assert df.loc["meld_train_dia1_utt1", "emotion"] == "sad"
    assert df.loc["meld_train_dia0_utt0", "speaker"] == "meld:Chandler"
    assert df.loc["meld_val_dia0_utt0", "speaker"] == "meld:Phoebe"
    assert df.loc["meld_test_dia0_utt0", "speaker"] == "meld:Ross"
    assert df.loc["meld_train_dia1_utt0", "speaker"] == "meld:The Interviewer"
    # prefixed file only as a fallback; the plain name wins when both exist
    assert df.loc["meld_test_dia1_utt0", "path"].endswith("final_videos_testdia1_utt0.wav")
    assert df.loc["meld_test_dia2_utt0", "path"].endswith("/dia2_utt0.wav")
    assert not any("._" in p or "/." in p for p in df["path"])
    assert df["duration_s"].between(0.24, 0.26).all()
    excluded = res.stats["excluded"]
    assert excluded["val media without a CSV row (ignored)"] == 1
    assert excluded["test final_videos_test* media without a CSV row (ignored)"] == 1


def test_meld_wav_subfolder_variant_and_extension_order(tmp_path):
    root, folders = make_meld(tmp_path / "tree", wav_subdir=True, mp4=False)
    # a .flac and an .mp4 twin beside the wav/ copy: .wav comes first
    write_audio(folders["train"] / "dia0_utt0.flac", seconds=0.5)
    res = prep("meld", root, tmp_path)
    df = res.frame.set_index("utt_id")
    assert len(df) == sum(MELD_KEPT.values())
    assert df.loc["meld_train_dia0_utt0", "path"].endswith("train_splits/wav/dia0_utt0.wav")
    (folders["train"] / "wav" / "dia0_utt0.wav").unlink()
    res = prep("meld", root, tmp_path, overwrite=True)
    assert res.frame.set_index("utt_id").loc["meld_train_dia0_utt0", "path"].endswith(".flac")


def test_meld_csv_quirks(tmp_path):
    rows = [
        ("train", 0, 0, "Joy", "Chandler\x92s Dad", 'She said, "hi", then left\x85'),
        ("train", 0, 1, "neutral", "  Ross  ", "x"),
    ]
    path = write_meld_csv(tmp_path / "train_sent_emo.csv", rows)
    raw = path.read_bytes()
    assert b"\r\n" in raw and b'"She said, ""hi"", then left' in raw  # CRLF and quoting as shipped
    from xlser.data.corpora.meld import read_csv_rows

    header, recs = read_csv_rows(path)
    assert header[0] == "Sr No." and len(recs) == 2
    assert recs[0][1]["Utterance"] == 'She said, "hi", then left\x85'
    assert recs[0][1]["StartTime"] == "00:14:15,055"
    assert fix_c1_mojibake(recs[0][1]["Utterance"]).endswith("left…")
    assert fix_c1_mojibake("Chandler\x92s Dad") == "Chandler’s Dad"


def test_meld_mp4_extracted_to_16k_mono(tmp_path):
    root, _ = make_meld(tmp_path / "tree", mp4=True)
    res = prep("meld", root, tmp_path)
    row = res.frame.set_index("utt_id").loc["meld_train_dia3_utt0"]
    assert row["path"].endswith("meld_audio/train/dia3_utt0.wav")
    import soundfile as sf

    info = sf.info(row["path"])
    assert (info.samplerate, info.channels) == (16000, 1)
    assert row["duration_s"] == pytest.approx(0.3, abs=0.05)
    assert load_audio(row["path"]).numel() == pytest.approx(0.3 * 16000, abs=800)


# ----------------------------------------------------------------------------------------- ESD


@pytest.mark.parametrize("layout", ["flat", "split"])
def test_esd_mandarin_only_labels_official_split(tmp_path, layout):
    root = make_esd(tmp_path / "tree", layout=layout)
    res = prep("esd", root, tmp_path, split="official")
    check_contract(res, "esd", "zh")
    df = res.frame
    assert sorted(df["speaker"].unique()) == ["esd:0001", "esd:0002", "esd:0003"]
    assert not df["utt_id"].str.startswith("esd_0011_").any()  # English speaker never taken as zh
    assert res.stats["excluded"] == {
        "files of English speakers 0011-0020 (the paper uses Mandarin 0001-0010)": 50
    }
    assert res.stats["dropped"] == {"surprise": 30}
    assert Counter(df["emotion"]) == {"happy": 30, "angry": 30, "sad": 30, "neutral": 30}
    by = df.set_index("utt_id")
    assert by.loc["esd_0001_000351", "emotion"] == "angry"
    assert by.loc["esd_0002_000701", "emotion"] == "happy"
    assert by.loc["esd_0003_001051", "emotion"] == "sad"
    assert by.loc["esd_0001_000001", "emotion"] == "neutral"
    # official: per speaker x emotion, index 1-20 val, 21-50 test, 51-350 train
    assert df["split"].value_counts().to_dict() == {"train": 72, "val": 24, "test": 24}
    assert by.loc["esd_0001_000351", "split"] == "val"
    assert by.loc["esd_0001_000371", "split"] == "test"
    assert by.loc["esd_0001_001101", "split"] == "train"


def test_esd_official_split_rule():
    assert official_split(1) == official_split(1420) == "val"
    assert official_split(21) == official_split(1421) == official_split(1071) == "test"
    assert official_split(51) == official_split(1451) == official_split(350) == "train"


def test_esd_english_only_is_a_layout_error(tmp_path):
    root = make_esd(tmp_path / "tree", mandarin=(), english=("0011", "0012"))
    with pytest.raises(LayoutError, match="English speakers 0011-0020 only.*Mandarin"):
        prep("esd", root, tmp_path)


# -------------------------------------------------------------------------------------- EMO-DB


def test_emodb_labels_and_speakers(tmp_path):
    root = make_emodb(tmp_path / "download")
    res = prep("emodb", root, tmp_path)
    check_contract(res, "emodb", "de")
    df = res.frame
    assert sorted(df["speaker"].unique()) == [f"emodb:{s}" for s in EMODB_SPEAKERS]
    assert Counter(df["emotion"]) == {"angry": 12, "happy": 8, "sad": 8, "neutral": 8}
    assert res.stats["dropped"] == {"boredom": 4, "disgust": 4, "fear": 4}
    by = df.set_index("utt_id")
    assert by.loc["emodb_03a01Wa", "emotion"] == "angry"
    assert by.loc["emodb_08a05Fb", "emotion"] == "happy"
    assert by.loc["emodb_09b01Tb", "emotion"] == "sad"
    assert by.loc["emodb_10b09Na", "emotion"] == "neutral"


# ---------------------------------------------------------------------------------------- CaFE


@pytest.mark.parametrize("mojibake", ["cp1252", "cp866", "none"])
def test_cafe_48k_label_from_filename_letter(tmp_path, mojibake):
    root = make_cafe(tmp_path / "CaFE", mojibake=mojibake)
    assert (
        any("Col" in n and n != "Colère" for n in os.listdir(root / "CaFE_48k"))
        or mojibake == "none"
    )
    res = prep("cafe", root, tmp_path)
    check_contract(res, "cafe", "fr")
    df = res.frame
    assert sorted(df["speaker"].unique()) == [f"cafe:{a}" for a in CAFE_ACTORS]
    assert Counter(df["emotion"]) == {"angry": 16, "happy": 16, "sad": 16, "neutral": 8}
    assert res.stats["dropped"] == {"disgust": 16, "fear": 16, "surprise": 16}
    assert df.groupby("speaker").size().eq(14).all()
    by = df.set_index("utt_id")
    assert by.loc["cafe_01-N-1-2", "emotion"] == "neutral"  # 48k: 4-field neutral names
    assert by.loc["cafe_02-C-2-1", "emotion"] == "angry"


def test_cafe_folder_name_is_never_the_label(tmp_path):
    root = make_cafe(tmp_path / "CaFE", mojibake="none", actors=("01",))
    # a happy file misplaced in the anger folder is still happy
    write_audio(root / "CaFE_48k" / "Colère" / "Fort" / "05-J-2-3.wav", seconds=0.2, sr=48000)
    res = prep("cafe", root, tmp_path)
    assert res.frame.set_index("utt_id").loc["cafe_05-J-2-3", "emotion"] == "happy"


def test_cafe_192k_aiff_variant_two_parts(tmp_path):
    root = make_cafe(tmp_path / "CaFE", release="192k")
    assert (root / "CaFE_192k_1/Neutre/01-N-1.aiff").is_file()
    res = prep("cafe", root, tmp_path)
    check_contract(res, "cafe", "fr")
    df = res.frame.set_index("utt_id")
    assert len(df) == 56
    # 3-field neutral names get the same utt_id as the 48k release
    assert df.loc["cafe_03-N-1-2", "path"].endswith("CaFE_192k_2/Neutre/03-N-2.aiff")
    assert df.loc["cafe_03-N-1-2", "duration_s"] == pytest.approx(0.2)


def test_cafe_48k_and_192k_in_one_root_is_an_error(tmp_path):
    make_cafe(tmp_path / "CaFE", actors=("01",))
    make_cafe(tmp_path / "CaFE", release="192k", actors=("01",))
    with pytest.raises(ValueError, match="found twice.*one release"):
        prep("cafe", tmp_path / "CaFE", tmp_path)


def test_cafe_undecodable_folder_bytes_get_a_utf8_stand_in(tmp_path):
    root = make_cafe(tmp_path / "CaFE", mojibake="bytes", actors=("01", "02"))
    res = prep("cafe", root, tmp_path)
    df = read_manifest(res.manifest, check_files=True)
    assert len(df) == 28
    angry = df[df["emotion"] == "angry"]
    assert len(angry) == 8
    assert all("cafe_audio" in p for p in angry["path"])  # hard link / copy in the cache folder
    assert load_audio(angry["path"].iloc[0]).numel() > 0
    text = res.manifest.read_text(encoding="utf-8")  # the manifest is valid UTF-8
    assert "cafe_01-C-1-1" in text


# ---------------------------------------------------------------------------------------- URDU


def test_urdu_unpadded_names_labels_speakers(tmp_path):
    root = make_urdu(tmp_path / "zip")
    res = prep("urdu", root, tmp_path)
    check_contract(res, "urdu", "ur")
    df = res.frame
    assert len(df) == 48
    assert sorted(df["speaker"].unique()) == sorted(f"urdu:{s}" for s in URDU_SPEAKERS)
    assert Counter(df["emotion"]) == {e: 12 for e in ("angry", "happy", "neutral", "sad")}
    ids = set(df["utt_id"])
    assert {"urdu_SM1_F1_A01", "urdu_SF1_F2_A010", "urdu_SF2_F2_A099", "urdu_SM7_F2_A0100"} <= ids
    by = df.set_index("utt_id")
    assert by.loc["urdu_SM1_F3_H01", "emotion"] == "happy"
    assert by.loc["urdu_SM1_F5_N01", "emotion"] == "neutral"
    assert by.loc["urdu_SM1_F7_S01", "emotion"] == "sad"
