"""``report``: Table 2 arithmetic over seeds, seed-paired and bootstrap differences, the paper's
columns, missing cells; all against hand-made results and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fake_runs import grid_folder, write_run
from scipy import stats

from xlser.metrics import macro_f1, uar
from xlser.paper import PAPER_TABLE2
from xlser.report import (
    AVERAGE,
    bootstrap_metrics,
    report,
    t_interval,
    uar_standard_error,
)

# (task, system, seed) -> (UAR, F1)
HAND = {
    ("en-de", "proposed", 0): (80.0, 78.0),
    ("en-de", "proposed", 1): (84.0, 80.0),
    ("en-de", "proposed", 2): (82.0, 82.0),
    ("en-de", "baseline2", 0): (70.0, 69.0),
    ("en-de", "baseline2", 1): (72.0, 70.0),
    ("en-de", "baseline2", 2): (77.0, 74.0),
    ("zh-de", "proposed", 0): (60.0, 59.0),
    ("zh-de", "proposed", 1): (66.0, 61.0),
    ("zh-de", "proposed", 2): (63.0, 60.0),
    ("zh-de", "baseline2", 0): (61.0, 58.0),
    ("zh-de", "baseline2", 1): (62.0, 57.0),
    ("zh-de", "baseline2", 2): (63.0, 56.0),
    ("en-de", "wo_scl", 0): (75.0, 74.0),  # one seed only
    ("en-de", "wo_adv", 1): (81.0, 80.0),  # no seed in common with... proposed has seed 1
}


def hand_results(profile="smoke") -> pd.DataFrame:
    rows = [
        {"task": t, "system": s, "seed": k, "uar": u, "macro_f1": f, "profile": profile}
        for (t, s, k), (u, f) in HAND.items()
    ]
    return pd.DataFrame(rows)


def cell(r, task, system):
    c = r.cells
    return c[(c["task"] == task) & (c["system"] == system)].iloc[0]


def diff(r, task, a, b, metric="uar"):
    d = r.differences
    sel = (d["task"] == task) & (d["a"] == a) & (d["b"] == b) & (d["metric"] == metric)
    return d[sel].iloc[0]


def test_cells_are_mean_and_sample_std_over_seeds_with_the_paper_beside():
    r = report(hand_results())
    c = cell(r, "en-de", "proposed")
    assert c["n_seeds"] == 3 and c["seeds"] == "0 1 2"
    assert c["uar_mean"] == pytest.approx(82.0) and c["uar_std"] == pytest.approx(2.0)
    assert c["macro_f1_mean"] == pytest.approx(80.0) and c["macro_f1_std"] == pytest.approx(2.0)
    assert (c["paper_uar"], c["paper_macro_f1"]) == PAPER_TABLE2["en-de"]["proposed"]
    one = cell(r, "en-de", "wo_scl")
    assert one["uar_mean"] == 75.0 and math.isnan(one["uar_std"])
    missing = cell(r, "fr-zh", "upper_bound")
    assert missing["n_seeds"] == 0 and math.isnan(missing["uar_mean"])
    assert missing["paper_uar"] == PAPER_TABLE2["fr-zh"]["upper_bound"][0]

    # Average: mean of the task means; std over seeds of the per-seed task average
    avg = cell(r, AVERAGE, "proposed")
    assert avg["n_tasks"] == 2 and avg["n_seeds"] == 3
    assert avg["uar_mean"] == pytest.approx((82.0 + 63.0) / 2)
    per_seed = [(80 + 60) / 2, (84 + 66) / 2, (82 + 63) / 2]
    assert avg["uar_std"] == pytest.approx(np.std(per_seed, ddof=1))
    paper = [PAPER_TABLE2[t]["proposed"][0] for t in ("en-de", "zh-de")]
    assert avg["paper_uar"] == pytest.approx(np.mean(paper))
    no_runs = cell(r, AVERAGE, "baseline1")  # the paper's average over all nine tasks
    assert no_runs["paper_uar"] == pytest.approx(
        np.mean([v["baseline1"][0] for v in PAPER_TABLE2.values()])
    )


def test_display_table_shows_missing_cells_and_labels_the_paper():
    r = report(hand_results())
    t = r.table("uar")
    assert t.loc["en-de", "Proposed"] == "82.00 ± 2.00"
    assert t.loc["en-de", "Proposed (paper)"] == f"{PAPER_TABLE2['en-de']['proposed'][0]:.2f}"
    assert t.loc["en-de", "w/o SCL"] == "75.00 (n=1)"  # n differs from the usual 3
    assert t.loc["fr-de", "Proposed"] == "—" and t.loc["en-de", "Upper bound"] == "—"
    assert t.loc["Average", "Proposed"] == "72.50 ± 2.50 (2 tasks)"  # seeds: 70, 75, 72.5
    assert list(t.index) == [*PAPER_TABLE2, AVERAGE]  # all nine tasks, partial grid or not
    md = r.to_markdown()
    assert "**the paper's numbers**" in md and "Proposed (paper)" in md
    assert "not the paper's results" in md  # the smoke profile is said to be synthetic


def test_seed_paired_differences_and_t_interval():
    r = report(hand_results())
    d = diff(r, "en-de", "proposed", "baseline2")
    paired = np.array([80 - 70, 84 - 72, 82 - 77], float)  # 10, 12, 5
    assert d["n_seeds"] == 3
    assert d["mean"] == pytest.approx(paired.mean()) and d["std"] == pytest.approx(
        paired.std(ddof=1)
    )
    half = stats.t.ppf(0.975, 2) * paired.std(ddof=1) / np.sqrt(3)
    assert (d["t_lo"], d["t_hi"]) == pytest.approx((paired.mean() - half, paired.mean() + half))
    assert d["t_lo"] > 0 and bool(d["within_noise"]) is False  # [0.04, 17.96]
    assert d["paper"] == pytest.approx(
        PAPER_TABLE2["en-de"]["proposed"][0] - PAPER_TABLE2["en-de"]["baseline2"][0]
    )
    z = diff(r, "zh-de", "proposed", "baseline2")  # -1, 4, 0: CI contains 0
    assert z["mean"] == pytest.approx(1.0) and bool(z["within_noise"]) is True
    # Average over the two tasks: per-seed means of the paired differences
    a = diff(r, AVERAGE, "proposed", "baseline2")
    per_seed = (paired + np.array([-1, 4, 0])) / 2
    assert a["n_tasks"] == 2 and a["mean"] == pytest.approx(per_seed.mean())
    assert (a["t_lo"], a["t_hi"]) == pytest.approx(t_interval(per_seed))
    # w/o SCL has seed 0 only: one pair, no std, no CI, no verdict without predictions
    s = diff(r, "en-de", "proposed", "wo_scl")
    assert s["n_seeds"] == 1 and s["mean"] == 5.0 and math.isnan(s["t_lo"])
    assert isinstance(s["within_noise"], float) and math.isnan(s["within_noise"])
    w = diff(r, "en-de", "proposed", "wo_adv")
    assert w["n_seeds"] == 1 and w["mean"] == pytest.approx(84.0 - 81.0)
    none = diff(r, "fr-de", "proposed", "baseline2")
    assert none["n_seeds"] == 0 and math.isnan(none["mean"])


def test_t_interval_by_hand():
    lo, hi = t_interval([1.0, 2.0, 3.0])  # mean 2, std 1, t(0.975, 2) = 4.302653
    assert (lo, hi) == pytest.approx((2 - 4.302653 / np.sqrt(3), 2 + 4.302653 / np.sqrt(3)))
    assert all(math.isnan(x) for x in t_interval([5.0]))


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_bootstrap_metrics_match_sklearn_on_every_resample():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 50)  # class 3 never in the truth
    p = rng.integers(0, 4, 50)  # ... but predicted: counts in macro-F1, not in UAR
    index = np.vstack([np.arange(50), rng.integers(0, 50, (5, 50))])
    got = bootstrap_metrics(y, p, index)
    for b, idx in enumerate(index):
        assert got["uar"][b] == pytest.approx(uar(y[idx], p[idx]))
        assert got["macro_f1"][b] == pytest.approx(macro_f1(y[idx], p[idx]))


def test_uar_standard_error_by_hand():
    cm = [[9, 1, 0, 0], [2, 6, 2, 0], [0, 0, 20, 0], [5, 0, 0, 15]]
    p, n = np.array([0.9, 0.6, 1.0, 0.75]), np.array([10, 10, 20, 20])
    assert uar_standard_error(cm) == pytest.approx(100 * np.sqrt(np.sum(p * (1 - p) / n)) / 4)
    assert uar_standard_error([[3, 1], [0, 0]]) == pytest.approx(
        100 * np.sqrt(0.75 * 0.25 / 4)
    )  # an empty class does not count


def _bootstrap_grid(out, acc_b, seeds=(0, 1)):
    """Proposed is right on every target utterance; Baseline 2 on a share ``acc_b`` of them."""
    y = np.repeat(np.arange(4), 30)  # 120 target test utterances
    for k in seeds:
        rng = np.random.default_rng(10 + k)
        wrong = rng.random(len(y)) >= acc_b
        p_b = np.where(wrong, (y + 1) % 4, y)
        write_run(
            grid_folder(out, "en-de", "proposed", k),
            "en-de",
            "proposed",
            k,
            target_true=y,
            target_pred=y,
        )
        write_run(
            grid_folder(out, "en-de", "baseline2", k),
            "en-de",
            "baseline2",
            k,
            target_true=y,
            target_pred=p_b,
        )
        write_run(
            grid_folder(out, "en-de", "wo_adv", k),
            "en-de",
            "wo_adv",
            k,
            target_true=y,
            target_pred=y,
        )


def test_paired_bootstrap_excludes_zero_for_a_real_gap_and_is_deterministic(tmp_path):
    out = tmp_path / "g"
    _bootstrap_grid(out, acc_b=0.7)
    r = report(out)
    d = diff(r, "en-de", "proposed", "baseline2")
    assert d["n_seeds"] == 2 and d["mean"] > 20
    assert 0 < d["boot_lo"] < d["mean"] < d["boot_hi"]
    assert bool(d["within_noise"]) is False
    again = diff(report(out), "en-de", "proposed", "baseline2")
    assert (again["boot_lo"], again["boot_hi"]) == (d["boot_lo"], d["boot_hi"])
    other = diff(report(out, seed=1), "en-de", "proposed", "baseline2")
    assert (other["boot_lo"], other["boot_hi"]) != (d["boot_lo"], d["boot_hi"])
    # identical predictions: every resample's difference is 0, so the CI is [0, 0]: within noise
    same = diff(r, "en-de", "proposed", "wo_adv")
    assert (same["boot_lo"], same["boot_hi"]) == (0.0, 0.0) and bool(same["within_noise"]) is True
    # the Average of one task is that task
    avg = diff(r, AVERAGE, "proposed", "baseline2")
    assert (avg["boot_lo"], avg["boot_hi"]) == pytest.approx((d["boot_lo"], d["boot_hi"]))


def test_bootstrap_ci_is_the_percentile_interval_of_the_paired_resamples(tmp_path):
    out = tmp_path / "g"
    _bootstrap_grid(out, acc_b=0.9, seeds=(0,))
    r = report(out, n_boot=200, seed=5)
    d = diff(r, "en-de", "proposed", "baseline2")
    # recompute by hand: the same resamples of the target's utterances (sorted by utt_id)
    rows = pd.read_csv(grid_folder(out, "en-de", "baseline2", 0) / "predictions.csv")
    rows = rows[rows["is_target"]].sort_values("utt_id")
    y = rows["emotion"].map({"happy": 0, "angry": 1, "sad": 2, "neutral": 3}).to_numpy()
    p = rows["pred"].map({"happy": 0, "angry": 1, "sad": 2, "neutral": 3}).to_numpy()
    idx = np.random.default_rng([5, 2]).integers(0, len(y), (200, len(y)))  # de: LANGUAGES[2]
    deltas = [uar(y[i], y[i]) - uar(y[i], p[i]) for i in idx]
    assert (d["boot_lo"], d["boot_hi"]) == pytest.approx(
        (np.percentile(deltas, 2.5), np.percentile(deltas, 97.5))
    )


def test_report_refuses_mixed_profiles_and_writes_its_files(tmp_path):
    mixed = pd.concat([hand_results("smoke"), hand_results("full").assign(seed=7)])
    with pytest.raises(ValueError, match="mix profiles"):
        report(mixed)
    out = tmp_path / "g"
    _bootstrap_grid(out, acc_b=0.7)
    files = report(out).write(tmp_path / "rep")
    assert sorted(f.name for f in files) == ["differences.csv", "table2.csv", "table2.md"]
    t2 = pd.read_csv(tmp_path / "rep" / "table2.csv")
    assert len(t2) == (9 + 1) * 6  # every task (and the Average) × system, missing ones too


def test_cli_report(tmp_path, capsys, monkeypatch):
    import xlser.cli

    monkeypatch.setattr(xlser.cli, "COMMANDS", ("xlser.report",))
    main = xlser.cli.main

    out = tmp_path / "g"
    _bootstrap_grid(out, acc_b=0.7)
    assert main(["report", str(out), "--resamples", "100"]) == 0
    text = capsys.readouterr().out
    assert "| en-de |" in text and "Proposed − Baseline 2" in text
    assert (out / "table2.md").read_text().startswith("## Table 2")
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "neither a grid folder" in capsys.readouterr().err
