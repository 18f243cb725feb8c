"""``prepare``: bad input names the file or the expected layout, ``--skip-bad`` writes the skipped
list, never a partial manifest, ``--overwrite``, seeded splits, MELD mp4 extraction and cache reuse,
and the CLI wrapper (one-line errors, exit code 2)."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest
from corpus_trees import (
    MELD_KEPT,
    MELD_ROWS,
    make_cafe,
    make_emodb,
    make_esd,
    make_meld,
    make_mp4,
    make_urdu,
    write_audio,
    write_empty_wav,
    write_garbage,
)

import xlser.cli
from xlser.data import ffmpeg
from xlser.data.corpora import LayoutError
from xlser.data.manifest import read_manifest
from xlser.data.prepare import PrepareError, prepare_corpus, read_skipped, skipped_path_for


def cli(argv, monkeypatch):
    """Run ``python -m xlser`` in-process with only this issue's commands registered."""
    monkeypatch.setattr(xlser.cli, "COMMANDS", ("xlser.data.prepare", "xlser.tasks_cli"))
    return xlser.cli.main(argv)


def prep(corpus, root, out, **kw):
    return prepare_corpus(corpus, root, out, progress=False, **kw)


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("trees")
    return {
        "esd": make_esd(base / "esd"),
        "emodb": make_emodb(base / "emodb"),
        "cafe": make_cafe(base / "cafe"),
        "urdu": make_urdu(base / "urdu"),
    }


# ------------------------------------------------------------------------------ layout errors


def test_missing_root_names_expected_layout(tmp_path, monkeypatch, capsys):
    rc = cli(
        ["prepare", "meld", str(tmp_path / "nope"), "--out", str(tmp_path / "m.csv")], monkeypatch
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "Traceback" not in err
    assert "does not exist" in err and "train_sent_emo.csv" in err and "train_splits/" in err


def test_wrong_layout_meld_names_everything_expected(tmp_path, trees):
    with pytest.raises(LayoutError) as e:
        prep("meld", trees["esd"], tmp_path / "m.csv")
    msg = str(e.value)
    for part in (
        "not a MELD tree",
        "train_sent_emo.csv not found",
        "dev_sent_emo.csv",
        "test_sent_emo.csv",
        "train_splits/",
        "dev_splits_complete/",
        "output_repeated_splits_test/",
        "MELD.Raw",
        "train/ dev/ test/",
    ):
        assert part in msg


def test_meld_unextracted_inner_tarball_hint(tmp_path):
    root, _ = make_meld(tmp_path / "tree", mp4=False)
    raw = root / "MELD.Raw"
    (raw / "train_sent_emo.csv").unlink()
    for f in (raw / "train_splits").iterdir():
        f.unlink()
    (raw / "train_splits").rmdir()
    (raw / "train.tar.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(LayoutError, match=r"train_sent_emo.csv not found \(found .*train.tar.gz"):
        prep("meld", root, tmp_path / "m.csv")


@pytest.mark.parametrize(
    "corpus, other, expected",
    [
        ("esd", "emodb", "expected the ESD layout"),
        ("emodb", "urdu", "expected the EMO-DB download.zip layout"),
        ("cafe", "esd", "expected the CaFE layout"),
        ("urdu", "cafe", "expected the URDU-Dataset layout"),
    ],
)
def test_wrong_layout_errors(tmp_path, trees, corpus, other, expected):
    with pytest.raises(LayoutError, match=expected):
        prep(corpus, trees[other], tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_root_is_an_archive_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "download.zip").write_bytes(b"PK")
    rc = cli(
        ["prepare", "emodb", str(tmp_path / "download.zip"), "--out", str(tmp_path / "e.csv")],
        monkeypatch,
    )
    assert rc == 2 and "is a file, not a folder; unzip" in capsys.readouterr().err


def test_official_split_only_where_it_exists(tmp_path, trees):
    with pytest.raises(ValueError, match="EMO-DB has no official split"):
        prep("emodb", trees["emodb"], tmp_path / "e.csv", split="official")


# --------------------------------------------------------------------------- bad files, skip-bad


def emodb_with_bad_files(tmp_path):
    root = make_emodb(tmp_path / "emodb")
    write_garbage(root / "wav" / "11a01Wa.wav")  # corrupt
    write_empty_wav(root / "wav" / "12a01Fa.wav")  # header, no samples
    write_audio(root / "wav" / "13a01Ta.wav", seconds=0.01)  # too short for wav2vec2
    write_audio(root / "wav" / "14a01Xa.wav", seconds=0.2)  # unknown emotion letter
    return root


def test_bad_files_error_names_each_file_and_writes_nothing(tmp_path, monkeypatch, capsys):
    root = emodb_with_bad_files(tmp_path)
    out = tmp_path / "out" / "emodb.csv"
    with pytest.raises(PrepareError) as e:
        prep("emodb", root, out)
    msg = str(e.value)
    assert "4 unusable" in msg and "--skip-bad" in msg
    for name in ("11a01Wa.wav", "12a01Fa.wav", "13a01Ta.wav", "14a01Xa.wav"):
        assert name in msg
    assert "unknown EMO-DB emotion letter 'X'" in msg and "no samples" in msg
    assert not out.exists() and not skipped_path_for(out).exists()
    assert not out.parent.exists() or not list(out.parent.iterdir())  # no temp files either
    rc = cli(["prepare", "emodb", str(root), "--out", str(out)], monkeypatch)
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: EMO-DB") and "11a01Wa.wav" in err


def test_skip_bad_writes_skipped_list(tmp_path, monkeypatch, capsys):
    root = emodb_with_bad_files(tmp_path)
    out = tmp_path / "out" / "emodb.csv"
    rc = cli(["prepare", "emodb", str(root), "--out", str(out), "--skip-bad"], monkeypatch)
    printed = capsys.readouterr().out
    assert rc == 0 and "skipped 4" in printed and "emodb.skipped.csv" in printed
    df = read_manifest(out, check_files=True)
    assert len(df) == 36
    sk = read_skipped(skipped_path_for(out))
    assert skipped_path_for(out).name == "emodb.skipped.csv"
    kinds = dict(zip(sk["path"].map(os.path.basename), sk["kind"]))
    assert kinds == {
        "11a01Wa.wav": "corrupt",
        "12a01Fa.wav": "corrupt",
        "13a01Ta.wav": "too_short",
        "14a01Xa.wav": "unknown_label",
    }
    assert (sk["reason"] != "").all()
    row = sk[sk["kind"] == "too_short"].iloc[0]
    assert (row["utt_id"], row["speaker"], row["emotion"]) == ("emodb_13a01Ta", "emodb:13", "sad")


def test_silent_constant_and_nan_audio_is_refused_or_skipped_and_listed(tmp_path):
    """A silent, DC-only or NaN wav has a valid header: prepare decodes every kept file to find it."""
    import numpy as np
    import soundfile as sf

    root = make_emodb(tmp_path / "emodb")
    sf.write(str(root / "wav" / "11a01Wa.wav"), np.zeros(4000, np.float32), 16000)
    sf.write(str(root / "wav" / "12a01Fa.wav"), np.full(4000, 0.2, np.float32), 16000)
    nan = np.full(4000, np.nan, np.float32)
    sf.write(str(root / "wav" / "13a01Ta.wav"), nan, 16000, subtype="FLOAT")
    out = tmp_path / "out" / "emodb.csv"
    with pytest.raises(PrepareError) as e:
        prep("emodb", root, out)
    msg = str(e.value)
    assert "3 unusable file(s) or row(s) (3 corrupt)" in msg and "--skip-bad" in msg
    assert f"{root / 'wav' / '11a01Wa.wav'}: audio is silent" in msg
    assert f"{root / 'wav' / '12a01Fa.wav'}: audio is constant (0.2 in every sample" in msg
    assert f"{root / 'wav' / '13a01Ta.wav'}: audio contains 4000 NaN or infinite" in msg
    assert not out.exists()
    res = prep("emodb", root, out, skip_bad=True)
    assert (res.stats["rows"], res.stats["usable"]) == (36 + 3, 36)
    assert not res.frame["utt_id"].isin(["emodb_11a01Wa", "emodb_12a01Fa", "emodb_13a01Ta"]).any()
    sk = read_skipped(skipped_path_for(out))
    reasons = dict(zip(sk["path"].map(os.path.basename), sk["reason"]))
    assert set(reasons) == {"11a01Wa.wav", "12a01Fa.wav", "13a01Ta.wav"}
    assert (sk["kind"] == "corrupt").all() and "silent" in reasons["11a01Wa.wav"]
    assert "--skip-bad" not in " ".join(reasons.values())  # the reason, not the CLI's advice


def test_failed_run_keeps_the_existing_manifest(tmp_path, trees):
    out = tmp_path / "emodb.csv"
    prep("emodb", trees["emodb"], out)
    before = out.read_bytes()
    root = emodb_with_bad_files(tmp_path)
    with pytest.raises(PrepareError):
        prep("emodb", root, out, overwrite=True)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_urdu_conflicting_folder_and_letter(tmp_path):
    root = make_urdu(tmp_path / "urdu")
    write_audio(root / "URDU-Dataset-master" / "Sad" / "SM1_F99_H0101.wav", seconds=0.2, sr=44100)
    with pytest.raises(
        PrepareError, match=r"SM1_F99_H0101.wav: file letter 'H' means happy .* 'Sad'"
    ):
        prep("urdu", root, tmp_path / "u.csv")


def test_meld_unknown_emotion_names_csv_line(tmp_path):
    rows = [*MELD_ROWS, ("dev", 5, 0, "confused", "Joey", "Huh?")]
    root, folders = make_meld(tmp_path / "tree", mp4=False, rows=rows)
    with pytest.raises(PrepareError, match=r"dev_sent_emo.csv:5: unknown MELD emotion 'confused'"):
        prep("meld", root, tmp_path / "m.csv")


# ------------------------------------------------------------------------------------ overwrite


def test_overwrite(tmp_path, trees, monkeypatch, capsys):
    out = tmp_path / "cafe.csv"
    argv = ["prepare", "cafe", str(trees["cafe"]), "--out", str(out)]
    assert cli(argv, monkeypatch) == 0
    first = out.read_bytes()
    mtime = out.stat().st_mtime_ns
    capsys.readouterr()
    assert cli([*argv, "--seed", "1"], monkeypatch) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert out.stat().st_mtime_ns == mtime
    assert cli([*argv, "--seed", "1", "--overwrite"], monkeypatch) == 0
    assert out.read_bytes() != first  # another seed, another split


def test_stale_skipped_list_removed_on_clean_overwrite(tmp_path):
    root = emodb_with_bad_files(tmp_path)
    out = tmp_path / "emodb.csv"
    prep("emodb", root, out, skip_bad=True)
    assert skipped_path_for(out).exists()
    for name in ("11a01Wa.wav", "12a01Fa.wav", "13a01Ta.wav", "14a01Xa.wav"):
        (root / "wav" / name).unlink()
    res = prep("emodb", root, out, overwrite=True)
    assert res.skipped_path is None and not skipped_path_for(out).exists()


# ------------------------------------------------------------------------------- splits, seeds


def test_paper_split_scaled_stratified_and_seeded(tmp_path, trees):
    a = prep("urdu", trees["urdu"], tmp_path / "a.csv", seed=0).frame
    b = prep("urdu", trees["urdu"], tmp_path / "b.csv", seed=0).frame
    c = prep("urdu", trees["urdu"], tmp_path / "c.csv", seed=1).frame
    # 48 files: val round(20*48/400)=2, test round(80*48/400)=10
    assert a["split"].value_counts().to_dict() == {"train": 36, "test": 10, "val": 2}
    assert a.equals(b)
    assert not a["split"].equals(c["split"])
    tab = pd.crosstab(a["emotion"], a["split"])
    assert tab["test"].sum() == 10 and tab["test"].max() - tab["test"].min() <= 1


def test_speaker_split_through_prepare(tmp_path, trees):
    df = prep("esd", trees["esd"], tmp_path / "e.csv", split="speaker", seed=3).frame
    per = df.groupby("speaker")["split"].nunique()
    assert (per == 1).all() and set(df["split"]) == {"train", "val", "test"}


def test_esd_paper_split_ignores_official(tmp_path, trees):
    df = prep("esd", trees["esd"], tmp_path / "e.csv").frame
    # 120 files: 96 / 12 / 12, stratified (3 per emotion in val and test)
    assert df["split"].value_counts().to_dict() == {"train": 96, "val": 12, "test": 12}
    assert (pd.crosstab(df["emotion"], df["split"])["val"] == 3).all()


# ---------------------------------------------------------------------- MELD media and extraction


def test_meld_mp4_extraction_is_cached(tmp_path, monkeypatch):
    root, folders = make_meld(tmp_path / "tree", mp4=True)
    make_mp4(folders["dev"] / "dia0_utt1.mp4")  # .wav twin exists: the .wav is used, no extraction
    out = tmp_path / "out" / "meld.csv"
    calls = []
    real = ffmpeg.extract_audio
    monkeypatch.setattr(
        ffmpeg, "extract_audio", lambda *a, **k: calls.append(a[0]) or real(*a, **k)
    )
    res = prep("meld", root, out, workers=2)
    assert res.stats["extracted"] == 1 and res.stats["reused"] == 0
    assert [p.name for p in calls] == ["dia3_utt0.mp4"]
    wav = tmp_path / "out" / "meld_audio" / "train" / "dia3_utt0.wav"
    assert wav.is_file() and not [p for p in wav.parent.iterdir() if p.name.startswith(".")]
    mtime = wav.stat().st_mtime_ns
    time.sleep(0.01)
    res2 = prep("meld", root, out, overwrite=True)
    assert res2.stats["extracted"] == 0 and res2.stats["reused"] == 1 and len(calls) == 1
    assert wav.stat().st_mtime_ns == mtime
    assert res2.frame.equals(res.frame)
    # the manifest's path is relative to its folder, so the output folder can move
    assert "meld_audio/train/dia3_utt0.wav" in out.read_text()


def test_meld_interrupted_extraction_never_counts_as_done(tmp_path):
    src = make_mp4(tmp_path / "a.mp4")
    dst = tmp_path / "cache" / "a.wav"
    dst.parent.mkdir()
    (dst.parent / ".a.wav.deadbeef.part").write_bytes(b"RIFF")  # left by a killed run
    assert not ffmpeg.is_done(src, dst)
    report = ffmpeg.extract_many([(src, dst)], workers=1, progress=False)
    assert report.extracted == 1 and ffmpeg.is_done(src, dst)
    bad = write_garbage(tmp_path / "b.mp4")
    report = ffmpeg.extract_many([(bad, tmp_path / "cache" / "b.wav")], workers=1, progress=False)
    assert report.extracted == 0 and "b.mp4: ffmpeg cannot extract audio" in report.failed[bad]
    assert not (tmp_path / "cache" / "b.wav").exists()
    assert not list((tmp_path / "cache").glob(".b.wav.*"))


def test_meld_broken_media_skip_bad_and_row_counts(tmp_path):
    root, folders = make_meld(tmp_path / "tree", mp4=False)
    (folders["dev"] / "dia0_utt0.wav").unlink()  # like dev dia110_utt7: missing
    (folders["train"] / "dia0_utt0.wav").unlink()
    write_garbage(folders["train"] / "dia0_utt0.mp4")  # like train dia125_utt3: corrupt
    out = tmp_path / "meld.csv"
    with pytest.raises(PrepareError) as e:
        prep("meld", root, out)
    msg = str(e.value)
    assert "dia0_utt0.mp4: ffmpeg cannot extract audio" in msg
    assert "dev_splits_complete/dia0_utt0.mp4" in msg and "not found" in msg
    assert not out.exists()
    res = prep("meld", root, out, skip_bad=True)
    assert res.frame["split"].value_counts().to_dict() == {"train": 4, "val": 1, "test": 4}
    sk = read_skipped(res.skipped_path)
    assert sorted(zip(sk["split"], sk["kind"])) == [("train", "corrupt"), ("val", "missing")]
    assert set(sk["utt_id"]) == {"meld_train_dia0_utt0", "meld_val_dia0_utt0"}
    assert res.stats["rows"] == sum(MELD_KEPT.values())  # CSV rows, as the paper counted


def test_meld_max_duration_reports_long_clips(tmp_path, monkeypatch, capsys):
    root, folders = make_meld(tmp_path / "tree", mp4=False)
    write_audio(folders["test"] / "dia0_utt0.wav", seconds=1.0)  # a mis-cut clip, scaled down
    out = tmp_path / "meld.csv"
    argv = ["prepare", "meld", str(root), "--out", str(out), "--max-duration", "0.6"]
    assert cli(argv, monkeypatch) == 0  # capping needs no --skip-bad
    assert "too_long 1" in capsys.readouterr().out
    assert "meld_test_dia0_utt0" not in set(read_manifest(out)["utt_id"])
    sk = read_skipped(skipped_path_for(out))
    assert list(sk["kind"]) == ["too_long"] and "1.0 s > --max-duration 0.6" in sk["reason"][0]


def test_cli_prints_counts_table_and_speakers(tmp_path, trees, monkeypatch, capsys):
    out = tmp_path / "esd.csv"
    assert (
        cli(
            ["prepare", "esd", str(trees["esd"]), "--out", str(out), "--split", "official"],
            monkeypatch,
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "120 utterances, 3 speakers" in text
    assert "happy  angry  sad  neutral  total" in text
    assert "excluded: 50 files of English speakers" in text and "surprise 30" in text
