"""``report``: Table 2 over seeds, beside the paper's, with the uncertainty of every difference.

::

    python -m xlser report results/smoke [--out DIR] [--manifests data/manifests]

Reads a grid folder (its run folders, :func:`xlser.grid.collect_results`) or a ``results.csv``, and
gives:

* **Table 2**: every task × system as mean ± std over seeds (sample std, ``ddof=1``) of the target
  test UAR and macro-F1 (%), the number of seeds, and the *Average* row (the mean of the task means;
  its std is over seeds of the per-seed average across those tasks). The paper's numbers (Mi, Ma &
  Toda, 2026: real corpora, one run per cell) stand in the columns marked *paper*.
* **Differences**: Proposed − Baseline 2, Proposed − w/o SCL, Proposed − w/o ADV per task and on
  average, with two uncertainties that answer different questions:

  - *seeds*: the seed-paired differences ``d_s = A_s − B_s`` (same task, same seed), mean ± std and
    a t-based 95% CI (``n ≥ 2`` seeds): training noise (initialisation, batch order).
  - *test*: a paired bootstrap over the target's test utterances (both systems scored on the same
    resampled utterances, 1000 resamples, seeded; tasks sharing a target share the resamples, so the
    Average is resampled consistently): the finite test set's noise.

  A difference is *within noise* when a 95% CI it has contains 0.
* **Resolution**: the UAR standard error a test set can resolve at the observed recalls,
  :func:`uar_standard_error`.
* **Table 1** from the manifests (when given), beside the paper's.

Missing cells of a partial grid are shown as "—".
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xlser import EMOTIONS, LANGUAGES
from xlser.config import SYSTEMS
from xlser.errors import XlserError
from xlser.paper import PAPER_TABLE2
from xlser.systems import SYSTEM_SPECS
from xlser.tasks import TASKS, parse_task

METRICS: tuple[str, ...] = ("uar", "macro_f1")
COMPARISONS: tuple[tuple[str, str], ...] = (
    ("proposed", "baseline2"),
    ("proposed", "wo_scl"),
    ("proposed", "wo_adv"),
)
"""(A, B) pairs whose difference A − B the report gives: the gain over Baseline 2, the ablations' drops."""
AVERAGE = "Average"
DASH = "—"
_PAPER_INDEX = {"uar": 0, "macro_f1": 1}


class ReportError(XlserError, ValueError):
    """Results that cannot be reported as asked; the message names the file or column and the fix."""


# ----------------------------------------------------------------------------- statistics
def uar_standard_error(confusion: Any) -> float:
    """Binomial standard error of UAR (percentage points) at the observed per-class recalls.

    ``SE(UAR) = sqrt(sum_c p_c (1 - p_c) / n_c) / C`` over the ``C`` classes with ``n_c > 0`` test
    utterances (rows of ``confusion`` = true class). Two runs whose UARs differ by less than about
    2 SE are not told apart by this test set.

    >>> round(uar_standard_error([[8, 2], [5, 5]]), 3)  # sqrt(.8*.2/10 + .5*.5/10) / 2
    10.124
    """
    cm = np.asarray(confusion, dtype=float)
    n = cm.sum(axis=1)
    keep = n > 0
    p = np.diag(cm)[keep] / n[keep]
    return 100.0 * float(np.sqrt(np.sum(p * (1 - p) / n[keep])) / keep.sum())


def t_interval(values: Any, level: float = 0.95) -> tuple[float, float]:
    """Two-sided t confidence interval of the mean (NaNs when fewer than 2 values).

    >>> [round(x, 3) for x in t_interval([1.0, 3.0])]  # mean 2, SE 1, t(0.975, 1) = 12.706
    [-10.706, 14.706]
    """
    from scipy import stats

    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return (math.nan, math.nan)
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return (float(x.mean() - half), float(x.mean() + half))


def bootstrap_metrics(
    y_true: Any, y_pred: Any, index: np.ndarray, n_classes: int = len(EMOTIONS)
) -> dict[str, np.ndarray]:
    """UAR and macro-F1 (%) of every resample: row ``b`` of ``index`` (``(B, n)`` utterance
    indices) scores utterances ``index[b]``. Same definitions as :mod:`xlser.metrics` (UAR over the
    classes present in the truth, macro-F1 over those in truth or prediction)."""
    c = n_classes
    codes = np.asarray(y_true, dtype=np.int64) * c + np.asarray(y_pred, dtype=np.int64)  # (n,)
    b = index.shape[0]
    flat = codes[index] + (c * c) * np.arange(b)[:, None]  # (B, n)
    cm = np.bincount(flat.ravel(), minlength=b * c * c).reshape(b, c, c).astype(float)  # (B, C, C)
    tp = np.diagonal(cm, axis1=1, axis2=2)  # (B, C)
    support, predicted = cm.sum(2), cm.sum(1)  # (B, C)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, np.nan)
        f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), np.nan)
    return {"uar": 100 * np.nanmean(recall, axis=1), "macro_f1": 100 * np.nanmean(f1, axis=1)}


def _labels(values: pd.Series, where: str) -> np.ndarray:
    """Emotion names or indices -> indices into EMOTIONS."""
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.int64)
    bad = sorted(set(values) - set(EMOTIONS))
    if bad:
        raise ReportError(f"{where}: unknown emotion label(s) {bad}; expected {list(EMOTIONS)}")
    return values.map({e: i for i, e in enumerate(EMOTIONS)}).to_numpy(dtype=np.int64)


class _Bootstrap:
    """Per-run bootstrap metric arrays from predictions.csv, resamples shared per target language."""

    def __init__(self, root: Path | None, n_boot: int, seed: int) -> None:
        self.root, self.n_boot, self.seed = root, n_boot, seed
        self.utts: dict[str, np.ndarray] = {}  # target -> sorted utt ids
        self.index: dict[str, np.ndarray] = {}  # target -> (B, n)
        self.cache: dict[str, dict[str, np.ndarray] | None] = {}

    def __call__(self, run: str | None, target: str) -> dict[str, np.ndarray] | None:
        if self.root is None or not isinstance(run, str) or self.n_boot < 1:
            return None
        if run not in self.cache:
            self.cache[run] = self._load(self.root / run / "predictions.csv", target)
        return self.cache[run]

    def _load(self, path: Path, target: str) -> dict[str, np.ndarray] | None:
        if not path.is_file():
            return None
        df = pd.read_csv(path)
        if "is_target" in df:
            df = df[df["is_target"].astype(str).str.lower().isin(["true", "1"])]
        else:
            df = df[df["language"] == target]
        df = df.sort_values("utt_id", kind="stable")
        utts = df["utt_id"].astype(str).to_numpy()
        if target not in self.utts:
            self.utts[target] = utts
            lang = LANGUAGES.index(target) if target in LANGUAGES else len(LANGUAGES)
            rng = np.random.default_rng([self.seed, lang])
            self.index[target] = rng.integers(0, len(utts), size=(self.n_boot, len(utts)))
        elif not np.array_equal(self.utts[target], utts):
            raise ReportError(
                f"{path}: its target ({target}) test utterances differ from another run's of the "
                "same target; a paired comparison needs the same test set (same manifests)"
            )
        y = _labels(df["emotion"], f"{path} column emotion")
        p = _labels(df["pred"], f"{path} column pred")
        return bootstrap_metrics(y, p, self.index[target])


# ----------------------------------------------------------------------------- loading
def load_results(
    results_or_dir: str | os.PathLike | pd.DataFrame,
) -> tuple[pd.DataFrame, Path | None]:
    """The results table and the folder its ``run`` paths are relative to.

    A grid folder with ``runs/`` is rebuilt from its run folders; else its ``results.csv``; or a
    CSV file; or a DataFrame (``attrs["root"]`` may name its folder).
    """
    from xlser.grid import RESULTS, collect_results

    if isinstance(results_or_dir, pd.DataFrame):
        root = results_or_dir.attrs.get("root")
        return results_or_dir.copy(), Path(root) if root else None
    path = Path(results_or_dir)
    if path.is_dir() and (path / "runs").is_dir():
        return collect_results(path), path
    csv = path / RESULTS if path.is_dir() else path
    if not csv.is_file():
        raise FileNotFoundError(
            f"{path}: neither a grid folder (with runs/ or {RESULTS}) nor a results CSV; give the "
            "folder passed to `python -m xlser grid --out`"
        )
    return pd.read_csv(csv), csv.parent


# ----------------------------------------------------------------------------- the report
@dataclass
class Report:
    """Table 2 (``cells``), the differences and, optionally, Table 1, as tidy frames."""

    cells: pd.DataFrame
    """One row per task (and ``Average``) × system: n_seeds, seeds, <metric>_mean, <metric>_std,
    uar_se (test-set SE of one run's UAR, mean over seeds), paper_<metric> (the paper's)."""
    differences: pd.DataFrame
    """One row per task (and ``Average``) × comparison × metric: n_seeds, mean, std, t_lo, t_hi,
    boot_lo, boot_hi (95%), within_noise (True/False/NaN when no CI), paper (the paper's A − B)."""
    table1: pd.DataFrame | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def table(self, metric: str = "uar", paper: bool = True) -> pd.DataFrame:
        """Table 2 for display: rows tasks + Average, a ``mean ± std`` column per system (``—``
        when missing), each followed by the paper's column when ``paper``."""
        tasks = [t for t in dict.fromkeys(self.cells["task"]) if t != AVERAGE] + [AVERAGE]
        n_common = self.info.get("n_seeds_common")
        out = pd.DataFrame(index=pd.Index(tasks, name="Task"))
        for s in SYSTEMS:
            label = SYSTEM_SPECS[s].label
            col, pcol = [], []
            for t in tasks:
                r = self.cells[(self.cells["task"] == t) & (self.cells["system"] == s)].iloc[0]
                ours = _pm(r[f"{metric}_mean"], r[f"{metric}_std"], r["n_seeds"], n_common)
                theirs = _num(r[f"paper_{metric}"], sign=False)
                if t == AVERAGE and 0 < r["n_tasks"] < len(TASKS):
                    ours, theirs = (f"{x} ({_tasks(r['n_tasks'])})" for x in (ours, theirs))
                col.append(ours)
                pcol.append(theirs)
            out[label] = col
            if paper:
                out[f"{label} (paper)"] = pcol
        return out

    def to_markdown(self) -> str:
        """Table 2 (UAR, F1) beside the paper's, the differences, the resolution and Table 1."""
        i = self.info
        seeds = ", ".join(str(s) for s in i.get("seeds", []))
        parts = [
            f"## Table 2: target-language test UAR and macro-F1 (%), mean ± std over seeds\n\n"
            f"This grid: profile `{i.get('profile')}`, {i.get('n_runs', 0)} finished runs, seeds "
            f"{{{seeds}}}; cells show mean ± std over seeds (n = number of seeds where it differs "
            f"from {i.get('n_seeds_common')}); — = not run. Columns marked *(paper)* are **the "
            f"paper's numbers** (Mi, Ma & Toda, 2026, Table 2: real corpora, wav2vec 2.0 Base, one "
            f"run per cell), shown for comparison only."
        ]
        if i.get("profile") == "smoke":
            parts.append(
                "The smoke profile trains tiny encoders on a synthetic corpus: its numbers show "
                "that the pipeline works and how the systems behave there, not the "
                "paper's results."
            )
        for metric, name in (("uar", "UAR"), ("macro_f1", "Macro-F1")):
            parts.append(f"### {name} (%)\n\n" + _md_table(self.table(metric)))
        parts.append(self._differences_markdown())
        res = self.cells[(self.cells["system"] == "proposed") & (self.cells["task"] != AVERAGE)]
        res = res.dropna(subset=["uar_se"])
        if len(res):
            cells = ", ".join(f"{t} {v:.1f}" for t, v in zip(res["task"], res["uar_se"]))
            parts.append(
                "### Test-set resolution\n\nStandard error of one run's UAR from the test set "
                "alone (binomial per class at Proposed's observed recalls, percentage points): "
                f"{cells}. Differences much smaller than about twice these are not resolved by "
                "the test sets; the paired bootstrap above makes this precise for each pair."
            )
        if self.table1 is not None:
            from xlser.tasks_cli import format_table

            parts.append(
                "### Table 1: training sets from the manifests, beside the paper's\n\n```\n"
                + format_table(self.table1)
                + "\n```"
            )
        return "\n\n".join(parts) + "\n"

    def _differences_markdown(self) -> str:
        d = self.differences
        lines = [
            "### Differences (A − B, percentage points)\n\n"
            "Seeds: mean ± std of the seed-paired differences and a t-based 95% CI. Test: paired "
            "bootstrap 95% CI over the target's test utterances "
            f"({self.info.get('n_boot')} resamples, seed {self.info.get('boot_seed')}). "
            "*within noise*: a 95% CI contains 0. *paper*: the same difference in the paper's "
            "Table 2 (one run per cell, no uncertainty given)."
        ]
        for a, b in COMPARISONS:
            la, lb = SYSTEM_SPECS[a].label, SYSTEM_SPECS[b].label
            rows = []
            for t in dict.fromkeys(d["task"]):
                u = d[(d["task"] == t) & (d["a"] == a) & (d["b"] == b) & (d["metric"] == "uar")]
                f = d[
                    (d["task"] == t) & (d["a"] == a) & (d["b"] == b) & (d["metric"] == "macro_f1")
                ]
                if u.empty:
                    continue
                u, f = u.iloc[0], f.iloc[0]
                label = t
                if t == AVERAGE and u["n_tasks"] < len(TASKS):
                    label = f"{AVERAGE} ({_tasks(u['n_tasks'])})"
                rows.append(
                    {
                        "Task": label,
                        "UAR Δ (seeds)": _pm(u["mean"], u["std"], u["n_seeds"], None, True, True),
                        "95% CI seeds": _ci(u["t_lo"], u["t_hi"]),
                        "95% CI test": _ci(u["boot_lo"], u["boot_hi"]),
                        "UAR": _verdict(u["within_noise"]),
                        "UAR Δ (paper)": _num(u["paper"]),
                        "F1 Δ": _pm(f["mean"], f["std"], f["n_seeds"], None, True, True),
                        "F1": _verdict(f["within_noise"]),
                        "F1 Δ (paper)": _num(f["paper"]),
                    }
                )
            if rows:
                lines.append(f"#### {la} − {lb}\n\n" + _md_table(pd.DataFrame(rows), index=False))
        return "\n\n".join(lines)

    def write(self, out_dir: str | os.PathLike) -> list[Path]:
        """``table2.md``, ``table2.csv``, ``differences.csv`` (+ ``table1.csv``) in ``out_dir``."""
        from xlser.io import atomic_write_text

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = {
            "table2.md": self.to_markdown(),
            "table2.csv": self.cells.to_csv(index=False, lineterminator="\n"),
            "differences.csv": self.differences.to_csv(index=False, lineterminator="\n"),
        }
        if self.table1 is not None:
            files["table1.csv"] = self.table1.to_csv(index=False, lineterminator="\n")
        for name, text in files.items():
            atomic_write_text(out / name, text)
        return [out / n for n in files]


def report(
    results_or_dir: str | os.PathLike | pd.DataFrame,
    manifests: list[str | os.PathLike] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Report:
    """Table 2 over seeds beside the paper's, the differences with their uncertainty, Table 1."""
    df, root = load_results(results_or_dir)
    need = {"task", "system", "seed", *METRICS}
    if missing := need - set(df.columns):
        raise ReportError(f"results lack column(s) {sorted(missing)}; rebuild them with `grid`")
    profiles = sorted(set(df["profile"].dropna())) if "profile" in df else []
    if len(profiles) > 1:
        raise ReportError(
            f"results mix profiles {profiles}; report one grid folder (one profile) at a time"
        )
    df = df.copy()
    df["seed"] = df["seed"].astype(int)
    dup = df[df.duplicated(["task", "system", "seed"], keep=False)]
    if len(dup):
        raise ReportError(
            f"results hold (task, system, seed) more than once: {dup.iloc[0].to_dict()}"
        )
    tasks = [*TASKS, *sorted(set(df["task"]) - set(TASKS))]  # all nine: missing cells show "—"
    cells = _cells(df, tasks)
    boot = _Bootstrap(root, n_boot, seed)
    diffs = _differences(df, tasks, boot)
    n_seeds = cells.loc[cells["task"] != AVERAGE, "n_seeds"]
    info = {
        "profile": profiles[0] if profiles else None,
        "n_runs": len(df),
        "seeds": sorted(set(df["seed"])),
        "n_seeds_common": int(n_seeds[n_seeds > 0].mode().max()) if (n_seeds > 0).any() else 0,
        "n_boot": n_boot,
        "boot_seed": seed,
        "root": str(root) if root else None,
    }
    t1 = None
    if manifests:
        from xlser.tasks_cli import table1_report

        t1 = table1_report(manifests)
    return Report(cells=cells, differences=diffs, table1=t1, info=info)


def _paper(task: str, system: str, metric: str) -> float:
    return PAPER_TABLE2.get(task, {}).get(system, (math.nan, math.nan))[_PAPER_INDEX[metric]]


def _pivot(df: pd.DataFrame, system: str) -> dict[str, pd.DataFrame]:
    """``{metric: task × seed}`` (and ``run``: the run folders) of one system."""
    sub = df[df["system"] == system]
    cols = [*METRICS, "confusion", "run"]
    return {c: sub.pivot(index="task", columns="seed", values=c) for c in cols if c in sub}


def _seeds(p: dict[str, pd.DataFrame], task: str) -> list[int]:
    if task not in p["uar"].index:
        return []
    row = p["uar"].loc[task]
    return sorted(int(k) for k in row.index[row.notna()])


def _cells(df: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    rows = []
    for s in SYSTEMS:
        p = _pivot(df, s)
        present = [t for t in tasks if _seeds(p, t)]
        for t in tasks:
            seeds = _seeds(p, t)
            row: dict[str, Any] = {"task": t, "system": s, "n_tasks": 1, "n_seeds": len(seeds)}
            row["seeds"] = " ".join(map(str, seeds))
            for m in METRICS:
                v = p[m].loc[t, seeds].to_numpy(float) if seeds else np.array([])
                row[f"{m}_mean"] = float(v.mean()) if len(v) else math.nan
                row[f"{m}_std"] = float(v.std(ddof=1)) if len(v) > 1 else math.nan
                row[f"paper_{m}"] = _paper(t, s, m)
            conf = p["confusion"].loc[t, seeds] if seeds and "confusion" in p else []
            ses = [uar_standard_error(json.loads(c)) for c in conf if _is_json_list(c)]
            row["uar_se"] = float(np.mean(ses)) if ses else math.nan
            rows.append(row)
        # Average: the mean of the task means; its std over the seeds every present task has.
        complete = (
            sorted(set.intersection(*(set(_seeds(p, t)) for t in present))) if present else []
        )
        avg: dict[str, Any] = {"task": AVERAGE, "system": s, "n_tasks": len(present)}
        avg |= {"n_seeds": len(complete), "seeds": " ".join(map(str, complete))}
        for m in METRICS:
            means = [r[f"{m}_mean"] for r in rows if r["system"] == s and r["task"] in present]
            avg[f"{m}_mean"] = float(np.mean(means)) if means else math.nan
            per_seed = p[m].loc[present, complete].to_numpy(float).mean(0) if complete else []
            avg[f"{m}_std"] = float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else math.nan
            paper = [_paper(t, s, m) for t in present or TASKS]  # all nine when none ran
            avg[f"paper_{m}"] = float(np.mean(paper)) if paper else math.nan
        avg["uar_se"] = math.nan
        rows.append(avg)
    out = pd.DataFrame(rows)
    order = {t: i for i, t in enumerate([*tasks, AVERAGE])}
    key = out["task"].map(order) * len(SYSTEMS) + out["system"].map(SYSTEMS.index)
    return out.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def _paper_diff(task: str, a: str, b: str, metric: str) -> float:
    return _paper(task, a, metric) - _paper(task, b, metric)


def _differences(df: pd.DataFrame, tasks: list[str], boot: _Bootstrap) -> pd.DataFrame:
    rows = []
    for a, b in COMPARISONS:
        pa, pb = _pivot(df, a), _pivot(df, b)
        paired = {t: sorted(set(_seeds(pa, t)) & set(_seeds(pb, t))) for t in tasks}
        common = [t for t in tasks if paired[t]]
        for m in METRICS:
            task_mean, task_boot = {}, {}
            for t in tasks:
                seeds = paired[t]
                d = (pa[m].loc[t, seeds] - pb[m].loc[t, seeds]).to_numpy(float) if seeds else []
                bd = _boot_diff(boot, pa, pb, t, seeds, m) if seeds else None
                task_mean[t], task_boot[t] = (float(np.mean(d)) if seeds else math.nan), bd
                head = {"task": t, "a": a, "b": b, "metric": m, "n_tasks": 1}
                rows.append(head | _stats(d, bd) | {"paper": _paper_diff(t, a, b, m)})
            # Average over the tasks both systems have: the mean of the task means; the seeds'
            # CI over the seeds every such task has; the bootstrap of the task average.
            complete = sorted(set.intersection(*(set(paired[t]) for t in common))) if common else []
            d = [np.mean([pa[m].loc[t, k] - pb[m].loc[t, k] for t in common]) for k in complete]
            boots = [task_boot[t] for t in common]
            bd = np.mean(boots, axis=0) if boots and all(x is not None for x in boots) else None
            st = _stats(d, bd)
            if common:
                st["mean"] = float(np.mean([task_mean[t] for t in common]))
            paper = [_paper_diff(t, a, b, m) for t in common]
            head = {"task": AVERAGE, "a": a, "b": b, "metric": m, "n_tasks": len(common)}
            rows.append(head | st | {"paper": float(np.mean(paper)) if paper else math.nan})
    return pd.DataFrame(rows)


def _boot_diff(
    boot: _Bootstrap, pa: dict, pb: dict, task: str, seeds: list[int], metric: str
) -> np.ndarray | None:
    """Bootstrap distribution (B,) of the seed-mean difference A − B, or None without predictions."""
    if "run" not in pa or "run" not in pb:
        return None
    target = parse_task(task).target
    diffs = []
    for k in seeds:
        xa, xb = boot(pa["run"].loc[task, k], target), boot(pb["run"].loc[task, k], target)
        if xa is None or xb is None:
            return None
        diffs.append(xa[metric] - xb[metric])
    return np.mean(diffs, axis=0)


def _stats(d: Any, boot: np.ndarray | None) -> dict[str, Any]:
    """n, mean, std, t-CI of seed-paired differences ``d``; percentile CI of ``boot``; verdict."""
    d = np.asarray(d, dtype=float)
    t_lo, t_hi = t_interval(d)
    b_lo, b_hi = (
        (float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5)))
        if boot is not None
        else (math.nan, math.nan)
    )
    cis = [(lo, hi) for lo, hi in ((t_lo, t_hi), (b_lo, b_hi)) if not math.isnan(lo)]
    return {
        "n_seeds": len(d),
        "mean": float(d.mean()) if len(d) else math.nan,
        "std": float(d.std(ddof=1)) if len(d) > 1 else math.nan,
        "t_lo": t_lo,
        "t_hi": t_hi,
        "boot_lo": b_lo,
        "boot_hi": b_hi,
        "within_noise": any(lo <= 0 <= hi for lo, hi in cis) if cis else math.nan,
    }


# ----------------------------------------------------------------------------- formatting
def _is_json_list(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("[")


def _num(v: float, sign: bool = True) -> str:
    return DASH if pd.isna(v) else f"{v:+.2f}" if sign else f"{v:.2f}"


def _pm(
    mean: float, std: float, n: int, n_common: int | None, show_n: bool = False, sign: bool = False
) -> str:
    """``mean ± std`` (2 decimals), ``(n=k)`` when asked or when k differs from ``n_common``."""
    if pd.isna(mean):
        return DASH
    s = (f"{mean:+.2f}" if sign else f"{mean:.2f}") + ("" if pd.isna(std) else f" ± {std:.2f}")
    if show_n or (n_common and n != n_common):
        s += f" (n={int(n)})"
    return s


def _tasks(n: int) -> str:
    return f"{int(n)} task" + ("" if n == 1 else "s")


def _ci(lo: float, hi: float) -> str:
    return DASH if pd.isna(lo) else f"[{lo:+.2f}, {hi:+.2f}]"


def _verdict(v: Any) -> str:
    if isinstance(v, float) and math.isnan(v):
        return DASH
    return "within noise" if bool(v) else "resolved"


def _md_table(df: pd.DataFrame, index: bool = True) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    d = df.reset_index() if index else df
    head = [str(c) for c in d.columns]
    body = [[str(v) for v in row] for row in d.itertuples(index=False)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- CLI
def register_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="Table 2 over seeds beside the paper's, differences with their uncertainty",
        description=(
            "Print and write Table 2 (mean ± std over seeds of UAR and macro-F1, the paper's "
            "numbers beside, labelled), Proposed − Baseline 2 and the ablations' drops with "
            "seed-paired and test-bootstrap 95% CIs, and Table 1 when --manifests is given. "
            "Writes table2.md, table2.csv and differences.csv."
        ),
    )
    p.add_argument("results", metavar="DIR", help="grid folder (`grid --out`) or a results CSV")
    p.add_argument("--out", help="folder for the written tables (default: DIR)")
    p.add_argument(
        "--manifests", nargs="+", metavar="PATH", help="manifest folders/files: add Table 1"
    )
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (0: none)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    r = report(args.results, manifests=args.manifests, n_boot=args.resamples, seed=args.seed)
    path = Path(args.results)
    out = Path(args.out) if args.out else (path if path.is_dir() else path.parent)
    print(r.to_markdown())
    written = r.write(out)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
