"""The manifest contract: validation errors name line, column, value and fix; writes are atomic."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from xlser.data.manifest import (
    COLUMNS,
    ManifestError,
    counts_table,
    read_manifest,
    read_manifests,
    validate_manifest,
    write_manifest,
)


def rows(n=4, corpus="toy"):
    emos = ["happy", "angry", "sad", "neutral"]
    return pd.DataFrame(
        [
            dict(
                utt_id=f"{corpus}_{i}",
                path=f"wav/{i}.wav",
                corpus=corpus,
                language="de",
                speaker=f"{corpus}:{i % 2}",
                emotion=emos[i % 4],
                split="train",
                duration_s=1.5,
            )
            for i in range(n)
        ]
    )


def test_valid_frame_passes():
    validate_manifest(rows())


@pytest.mark.parametrize(
    "col, value, needle",
    [
        ("language", "cn", "line 3, column 'language': value 'cn' is not one of"),
        ("emotion", "joy", "line 3, column 'emotion': value 'joy' is not one of"),
        (
            "split",
            "dev",
            "line 3, column 'split': value 'dev' is not one of ['train', 'val', 'test']",
        ),
        ("speaker", "7", "line 3, column 'speaker': value '7' must be namespaced as 'toy:<id>'"),
        ("speaker", "other:7", "must be namespaced as 'toy:<id>'"),
        ("duration_s", -1.0, "line 3, column 'duration_s': value -1.0 must be a positive"),
        ("utt_id", "toy_0", "line 3, column 'utt_id': value 'toy_0' is a duplicate"),
        ("path", "", "line 3, column 'path': value '' is empty"),
    ],
)
def test_errors_name_line_column_value_and_fix(col, value, needle):
    df = rows()
    df[col] = df[col].astype(object)
    df.at[1, col] = value
    with pytest.raises(ManifestError) as e:
        validate_manifest(df, source="m.csv")
    assert needle in str(e.value) and str(e.value).startswith("m.csv: ")


def test_missing_column():
    with pytest.raises(ManifestError, match="missing column.*'split'"):
        validate_manifest(rows().drop(columns=["split"]))


def test_write_read_round_trip_relative_paths(tmp_path):
    (tmp_path / "wav").mkdir()
    df = rows()
    df["path"] = [str(tmp_path / "wav" / f"{i}.wav") for i in range(len(df))]
    for p in df["path"]:
        open(p, "wb").close()
    out = write_manifest(df, tmp_path / "m.csv")
    text = out.read_text()
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert "wav/0.wav" in text and str(tmp_path) not in text  # relative to the manifest folder
    back = read_manifest(out, check_files=True)
    assert list(back["path"]) == [os.path.realpath(p) for p in df["path"]]
    assert back["duration_s"].tolist() == [1.5] * 4


def test_write_is_atomic_and_never_partial(tmp_path):
    bad = rows()
    bad.at[2, "emotion"] = "bored"
    with pytest.raises(ManifestError):
        write_manifest(bad, tmp_path / "m.csv")
    assert list(tmp_path.iterdir()) == []  # neither the manifest nor a temp file
    write_manifest(rows(), tmp_path / "m.csv")
    with pytest.raises(FileExistsError, match="overwrite"):
        write_manifest(rows(), tmp_path / "m.csv")


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="xlser synth"):
        read_manifest(tmp_path / "nope.csv")
    p = tmp_path / "m.csv"
    write_manifest(rows(), p)
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(p, check_files=True)
    p.write_text("")
    with pytest.raises(ManifestError, match=f"^{p}: the file is empty; a manifest starts with"):
        read_manifest(p)


def test_read_manifests_rejects_cross_file_duplicates(tmp_path):
    write_manifest(rows(), tmp_path / "a.csv")
    write_manifest(rows(), tmp_path / "b.csv")
    with pytest.raises(ManifestError, match="more than one manifest"):
        read_manifests([tmp_path / "a.csv", tmp_path / "b.csv"])
    write_manifest(rows(corpus="other"), tmp_path / "b.csv", overwrite=True)
    assert len(read_manifests([tmp_path / "a.csv", tmp_path / "b.csv"])) == 8


def test_counts_table_totals():
    t = counts_table(rows(8))
    assert t.loc["train", "happy"] == 2 and t.loc["total", "total"] == 8
    assert list(t.columns) == ["happy", "angry", "sad", "neutral", "total"]
