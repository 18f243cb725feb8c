"""``tsne``: Fig. 2's subset (exact counts, seeded, independent of row order), silhouettes and the
speaker probe on constructed embeddings whose structure is known, strict JSON, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fake_runs import write_run

from xlser import EMOTIONS
from xlser.tsne import (
    embedding_scores,
    figure2,
    scores_table,
    select_utterances,
    silhouette,
    speaker_probe,
)

LANGS = ("en", "zh", "fr", "ur", "de")  # en-de: target de


def make_frame(per_group=10, short=("ur", "sad", 3)) -> pd.DataFrame:
    """``per_group`` test utterances per (language, emotion), one group shorter; 2 speakers each."""
    rows = []
    for lang in LANGS:
        for emo in EMOTIONS:
            n = short[2] if (lang, emo) == short[:2] else per_group
            for i in range(n):
                rows.append(
                    {
                        "utt_id": f"{lang}_{emo}_{i:03d}",
                        "language": lang,
                        "speaker": f"{lang}_spk{i % 2}",
                        "emotion": emo,
                        "split": "test",
                        "is_target": lang == "de",
                        "pred": emo,
                    }
                )
    return pd.DataFrame(rows)


def test_subset_has_exact_counts_per_emotion_and_language_and_is_seeded():
    df = make_frame()
    idx = select_utterances(df, per_emotion=6, seed=0)
    counts = df.iloc[idx].groupby(["language", "emotion"]).size()
    expected = {(x, e): (3 if (x, e) == ("ur", "sad") else 6) for x in LANGS for e in EMOTIONS}
    assert counts.to_dict() == expected
    assert len(set(idx)) == len(idx) == 19 * 6 + 3  # no repeats
    assert np.array_equal(idx, select_utterances(df, per_emotion=6, seed=0))
    assert not np.array_equal(idx, select_utterances(df, per_emotion=6, seed=1))
    # the same utterances whatever the CSV's row order
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    ids = set(df.iloc[idx]["utt_id"])
    assert set(shuffled.iloc[select_utterances(shuffled, 6, seed=0)]["utt_id"]) == ids
    # one group's draw does not depend on the others: dropping a language keeps the rest
    no_en = df[df["language"] != "en"].reset_index(drop=True)
    kept = set(no_en.iloc[select_utterances(no_en, 6, seed=0)]["utt_id"])
    assert kept == {u for u in ids if not u.startswith("en_")}
    assert np.array_equal(select_utterances(df, None), np.arange(len(df)))
    with pytest.raises(ValueError, match="--per-emotion"):
        select_utterances(df, 0)


def clustered(df: pd.DataFrame, by: str, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """Embeddings: one orthogonal direction per value of column ``by``, plus small noise."""
    values = sorted(set(df[by]))
    rng = np.random.default_rng(seed)
    base = np.eye(max(16, len(values)))[[values.index(v) for v in df[by]]]
    return (base + noise * rng.standard_normal(base.shape)).astype(np.float32)  # (N, 16)


def test_silhouettes_on_perfect_emotion_clusters():
    df = make_frame()
    emb = clustered(df, "emotion")
    s = embedding_scores(emb, df)
    assert s["target"] == "de" and s["n"] == len(df) and s["n_target"] == 40
    assert s["silhouette"]["emotion"] > 0.95
    assert s["silhouette_target"]["emotion"] > 0.95
    assert s["silhouette"]["language"] < 0.05  # languages are mixed inside each cluster
    assert s["silhouette"]["speaker"] < 0.05
    lang = embedding_scores(clustered(df, "language"), df)["silhouette"]
    assert lang["language"] > 0.95 and lang["emotion"] < 0.05
    assert silhouette(emb[:5], ["a"] * 5) is None  # one group: undefined


def test_speaker_probe_finds_speaker_information_and_reports_chance():
    df = make_frame()
    train = df[~df["is_target"]]
    emb = clustered(train, "speaker")
    p = speaker_probe(emb, train["speaker"], seed=0)
    assert p["n_speakers"] == 8 and p["n"] == len(train) and p["n_dropped"] == 0
    assert p["accuracy"] == pytest.approx(1.0)
    counts = train["speaker"].value_counts()
    assert p["chance_majority"] == pytest.approx(counts.max() / counts.sum())
    assert p["chance_uniform"] == pytest.approx(1 / 8)
    blind = speaker_probe(clustered(train, "emotion"), train["speaker"], seed=0)
    assert blind["accuracy"] < 0.4  # emotion-only embeddings: about chance (1/8), far below 1
    single = speaker_probe(np.eye(3), ["a", "b", "b"])  # 'a' has one utterance: left out
    assert single["n_dropped"] == 1 and single["accuracy"] is None


def test_figure2_writes_png_svg_and_strict_json(tmp_path):
    df = make_frame()
    run = tmp_path / "run"
    emb = clustered(df, "emotion", noise=0.05)
    write_run(run, "en-de", "proposed", 0, 80.0, 79.0, embeddings=emb, frame=df)
    r = figure2(run, seed=0)
    assert [f.name for f in r.files] == ["tsne.png", "tsne.svg", "tsne.json"]
    assert len(r.points) == 19 * 6 + 3 and np.isfinite(r.points[["x", "y"]].to_numpy()).all()
    text = (run / "tsne.json").read_text()
    scores = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert scores["run"]["system"] == "proposed" and scores["subset"]["n"] == len(r.points)
    assert scores["tsne"]["perplexity"] == 30.0
    assert scores["silhouette"]["emotion"] > 0.8
    assert (run / "tsne.png").stat().st_size > 1000
    # in 2-D, each emotion's target points sit nearer each other than other emotions' points
    pts = r.points[r.points["language"] == "de"]
    cent = pts.groupby("emotion")[["x", "y"]].mean()
    within = np.mean(
        [
            np.linalg.norm(p[["x", "y"]].to_numpy() - cent.loc[p["emotion"]].to_numpy())
            for _, p in pts.iterrows()
        ]
    )
    between = np.mean(
        [np.linalg.norm(a - b) for a in cent.to_numpy() for b in cent.to_numpy() if (a != b).any()]
    )
    assert within < between


def test_cli_tsne_all_and_a_missing_run(tmp_path, capsys, monkeypatch):
    import xlser.cli

    monkeypatch.setattr(xlser.cli, "COMMANDS", ("xlser.tsne",))
    main = xlser.cli.main

    df = make_frame(per_group=4, short=("ur", "sad", 4))
    run = tmp_path / "run"
    write_run(run, "en-de", "wo_adv", 1, 80.0, 79.0, embeddings=clustered(df, "speaker"), frame=df)
    assert main(["tsne", str(run), "--all", "--out", str(tmp_path / "fig")]) == 0
    out = capsys.readouterr().out
    assert "80 utterances" in out and "speaker probe accuracy 1.000" in out
    assert (tmp_path / "fig" / "tsne_all.json").is_file()
    assert main(["tsne", str(tmp_path / "nope")]) == 2
    assert "not a finished run folder" in capsys.readouterr().err


def test_scores_table_compares_runs_and_probes_the_upper_bound_on_its_own_language(tmp_path):
    df = make_frame(per_group=4, short=("ur", "sad", 4))
    de = (df["language"] == "de").to_numpy()
    emb_p, emb_u = clustered(df, "emotion"), clustered(df[de], "speaker")
    langs = ["en", "zh", "fr", "ur"]
    p, u = tmp_path / "p", tmp_path / "u"
    write_run(p, "en-de", "proposed", 0, embeddings=emb_p, frame=df, training_languages=langs)
    write_run(
        u, "en-de", "upper_bound", 0, embeddings=emb_u, frame=df[de], training_languages=["de"]
    )
    t = scores_table([p, u])
    assert t["system"].tolist() == ["proposed", "upper_bound"]
    assert t.loc[0, "silhouette_emotion"] > 0.95 and t.loc[0, "speaker_probe"] < 0.4
    assert t.loc[1, "speaker_probe"] == pytest.approx(1.0)  # probed on de, its training language
    assert t.loc[1, "speaker_chance"] == pytest.approx(0.5)  # 2 speakers, 8 utterances each
    assert pd.isna(t.loc[1, "silhouette_language"])  # one language: undefined
