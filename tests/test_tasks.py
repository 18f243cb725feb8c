"""``tasks``: Table 1 from manifests. With the real per-language train counts (MELD 8245, ESD 11200,
EMO-DB 266, CaFE 420, URDU 300) the formula gives the paper's 20165 / 20011 / 9231; MELD rows left
out by ``--skip-bad`` are counted in #Rows, not #Samples."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from corpus_trees import make_emodb, make_urdu

import xlser.cli
from xlser.data.manifest import manifest_paths, write_manifest
from xlser.data.prepare import prepare_corpus, skipped_path_for
from xlser.tasks import PAPER_TABLE1, TASKS
from xlser.tasks_cli import table1_report

# corpus, language, train, val, test, speakers
REAL = [
    ("meld", "en", 8245, 897, 2211, 20),
    ("esd", "zh", 11200, 1400, 1400, 10),
    ("emodb", "de", 266, 35, 38, 10),
    ("cafe", "fr", 420, 42, 42, 12),
    ("urdu", "ur", 300, 20, 80, 29),
]


def cli(argv, monkeypatch):
    monkeypatch.setattr(xlser.cli, "COMMANDS", ("xlser.data.prepare", "xlser.tasks_cli"))
    return xlser.cli.main(argv)


def hand_made(corpus, language, n_train, n_val, n_test, n_spk, drop_train=0):
    rows = []
    for split, n in (("train", n_train - drop_train), ("val", n_val), ("test", n_test)):
        for i in range(n):
            rows.append(
                {
                    "utt_id": f"{corpus}_{split}_{i}",
                    "path": f"/data/{corpus}/{split}/{i}.wav",
                    "corpus": corpus,
                    "language": language,
                    "speaker": f"{corpus}:{i % n_spk}",
                    "emotion": ("happy", "angry", "sad", "neutral")[i % 4],
                    "split": split,
                    "duration_s": 1.0,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def manifest_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("manifests")
    for corpus, lang, tr, va, te, spk in REAL:
        write_manifest(hand_made(corpus, lang, tr, va, te, spk), d / f"{corpus}.csv")
    return d


def test_table1_formula_reproduces_paper_samples(manifest_dir):
    t = table1_report([manifest_dir]).set_index("task")
    assert list(t.index) == list(TASKS)
    for task in TASKS:
        assert t.loc[task, "n_samples"] == PAPER_TABLE1[task][0]
        assert t.loc[task, "n_rows"] == t.loc[task, "n_samples"]
        assert t.loc[task, "paper_samples"] == PAPER_TABLE1[task][0]
        assert t.loc[task, "paper_speakers"] == PAPER_TABLE1[task][1]
    assert t.loc["en-de", "non_target"] == "zh, fr, ur"
    # speakers: distinct namespaced ids over the source + non-target train sets
    assert t.loc["en-de", "n_speakers"] == 20 + 10 + 12 + 29
    assert t.loc["en-zh", "n_speakers"] == 20 + 10 + 12 + 29
    assert t.loc["en-fr", "n_speakers"] == 20 + 10 + 10 + 29


def test_skip_bad_rows_counted_as_rows_not_samples(tmp_path):
    for corpus, lang, tr, va, te, spk in REAL:
        drop = 1 if corpus == "meld" else 0  # the corrupt dia125_utt3, left out by --skip-bad
        write_manifest(hand_made(corpus, lang, tr, va, te, spk, drop), tmp_path / f"{corpus}.csv")
    skipped = pd.DataFrame(
        [
            {"path": "train_splits/dia125_utt3.mp4", "kind": "corrupt", "reason": "moov atom not found",
             "utt_id": "meld_train_dia125_utt3", "corpus": "meld", "language": "en",
             "speaker": "meld:Ross", "emotion": "neutral", "split": "train"},
            {"path": "dev_splits_complete/dia110_utt7.mp4", "kind": "missing", "reason": "not found",
             "utt_id": "meld_val_dia110_utt7", "corpus": "meld", "language": "en",
             "speaker": "meld:Phoebe", "emotion": "neutral", "split": "val"},
        ]
    )  # fmt: skip
    skipped.to_csv(skipped_path_for(tmp_path / "meld.csv"), index=False)
    t = table1_report([tmp_path]).set_index("task")
    assert t.loc["en-de", "n_samples"] == 20164 and t.loc["en-de", "n_rows"] == 20165
    assert t.loc["en-fr", "n_rows"] == 20011 and t.loc["en-zh", "n_rows"] == 9231
    assert manifest_paths([tmp_path]) == sorted(tmp_path / f"{c[0]}.csv" for c in REAL)


def test_tasks_cli_table_and_json(manifest_dir, monkeypatch, capsys):
    assert cli(["tasks", "--manifests", str(manifest_dir)], monkeypatch) == 0
    text = capsys.readouterr().out
    assert "paper #Samples" in text and "20165" in text and "9231" in text
    assert cli(["tasks", "--manifests", str(manifest_dir), "--json"], monkeypatch) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["task"] for r in records] == list(TASKS)
    assert records[0]["n_samples"] == 20165 and records[0]["paper_samples"] == 20165
    files = [str(manifest_dir / "meld.csv"), str(manifest_dir / "emodb.csv")]
    assert cli(["tasks", "--manifests", *files, "--json"], monkeypatch) == 0
    records = {r["task"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["en-fr"]["n_samples"] == 8245 + 266


def test_tasks_on_prepared_manifests_notes_missing_languages(tmp_path, monkeypatch, capsys):
    prepare_corpus("emodb", make_emodb(tmp_path / "emodb"), tmp_path / "m" / "emodb.csv")
    prepare_corpus("urdu", make_urdu(tmp_path / "urdu"), tmp_path / "m" / "urdu.csv")
    assert cli(["tasks", "--manifests", str(tmp_path / "m")], monkeypatch) == 0
    text = capsys.readouterr().out
    assert "no manifest rows for language(s) ['en', 'zh', 'fr']" in text
    t = table1_report([tmp_path / "m"]).set_index("task")
    assert t.loc["en-fr", "n_samples"] == 28 + 36  # EMO-DB 36 -> 28 train, URDU 48 -> 36 train


def test_tasks_errors(tmp_path, monkeypatch, capsys):
    assert cli(["tasks", "--manifests", str(tmp_path / "none")], monkeypatch) == 2
    assert "no such manifest file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli(["tasks", "--manifests", str(tmp_path / "empty")], monkeypatch) == 2
    assert "no manifest *.csv" in capsys.readouterr().err
