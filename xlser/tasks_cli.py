"""``tasks``: Table 1 (the nine tasks and their training sets) computed from manifests.

::

    python -m xlser tasks --manifests DIR [DIR|FILE ...] [--json]

For each task: source, non-target languages, target, and the multilingual training set (source +
non-target languages, ``train`` split) as ``#Samples`` and ``#Spk`` from the manifests
(:func:`xlser.tasks.table1`), beside the paper's numbers (:data:`xlser.tasks.PAPER_TABLE1`).

``#Rows`` adds the train entries that ``prepare --skip-bad`` left out for unusable audio (kinds
missing / corrupt / too_short / too_long in each manifest's ``FILE.skipped.csv``). The paper counted
MELD's CSV rows (8245 train, including the corrupt ``dia125_utt3``), so on the real corpora ``#Rows``
is the column that reproduces 20165 / 20011 / 9231, and ``#Samples`` (what training sees) is one less
when MELD's manifest was prepared with ``--skip-bad``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from xlser import LANGUAGES
from xlser.data.corpora._common import SKIP_KINDS_MEDIA
from xlser.data.manifest import manifest_paths, read_manifests
from xlser.tasks import PAPER_TABLE1, TASKS, parse_task, table1, training_languages


def _skipped_train(paths: list[Path]) -> pd.DataFrame:
    from xlser.data.prepare import read_skipped, skipped_path_for

    frames = [read_skipped(skipped_path_for(p)) for p in paths]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["language", "split", "kind"])
    df = pd.concat(frames, ignore_index=True)
    return df[(df["split"] == "train") & df["kind"].isin(SKIP_KINDS_MEDIA)]


def table1_report(manifests: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Table 1 from manifest files/folders, with ``n_rows`` and the paper's numbers beside.

    Columns: task, source, non_target, target, n_samples, n_speakers, n_rows, paper_samples,
    paper_speakers.
    """
    paths = manifest_paths(manifests)
    df = read_manifests(paths)
    table = table1(df)
    skipped = _skipped_train(paths)
    extra = []
    for name in table["task"]:
        langs = training_languages(parse_task(name), "proposed")
        extra.append(int(skipped["language"].isin(langs).sum()))
    table["n_rows"] = table["n_samples"] + extra
    table["paper_samples"] = [PAPER_TABLE1[t][0] for t in table["task"]]
    table["paper_speakers"] = [PAPER_TABLE1[t][1] for t in table["task"]]
    table.attrs["languages"] = sorted(set(df["language"]), key=LANGUAGES.index)
    table.attrs["manifests"] = [str(p) for p in paths]
    return table


def format_table(table: pd.DataFrame) -> str:
    shown = table.rename(
        columns={
            "non_target": "non-target",
            "n_samples": "#Samples",
            "n_speakers": "#Spk",
            "n_rows": "#Rows",
            "paper_samples": "paper #Samples",
            "paper_speakers": "paper #Spk",
        }
    )
    lines = [shown.to_string(index=False)]
    lines.append(
        "#Samples/#Spk: train rows of the source + non-target languages in the manifests; #Rows adds "
        "train entries left out for unusable audio (FILE.skipped.csv); paper: Mi, Ma & Toda, Table 1."
    )
    present = table.attrs.get("languages", [])
    missing = [lang for lang in LANGUAGES if lang not in present]
    if missing:
        lines.append(f"note: no manifest rows for language(s) {missing}; their counts are 0")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    table = table1_report(args.manifests)
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=2))
    else:
        print(format_table(table))
    return 0


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "tasks",
        help="Table 1: the nine tasks' training sets from manifests, beside the paper's",
        description=(
            f"Print the nine tasks ({', '.join(TASKS)}) with source, non-target and target languages "
            "and the training set's #samples and #speakers computed from the manifests, beside the "
            "paper's Table 1."
        ),
    )
    p.add_argument(
        "--manifests",
        nargs="+",
        required=True,
        metavar="PATH",
        help="a folder of manifest CSVs (FILE.skipped.csv lists are read beside them) or files",
    )
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    p.set_defaults(func=_run)
