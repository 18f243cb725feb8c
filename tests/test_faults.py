"""Faults a run meets on the synthetic corpus: bad data found before the run folder is written,
a NaN in a training batch, and the same seed giving the same run twice."""

from __future__ import annotations

import json
import math
import shutil
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from xlser.config import ExperimentConfig
from xlser.data.manifest import read_manifest, write_manifest
from xlser.errors import DataError
from xlser.experiment import run_experiment, task_data
from xlser.io import CorruptFileError
from xlser.trainer import NonFiniteLossError, Trainer


@pytest.fixture
def world(tiny_world):
    return tiny_world


def cfg_for(manifest, **kw):
    over = {
        "data.manifests": [str(manifest)],
        "data.synthesize_if_missing": False,
        "data.max_seconds": 1.0,
        "train.eval_every": 10_000,
        "train.log_every": 1,
        "sampler.replacement": True,  # tiny pools
    }
    over.update(kw)
    return ExperimentConfig.from_profile("smoke", **over)


def edited(world, tmp_path, edit):
    """A copy of the world's manifest (absolute paths) after ``edit(frame)``."""
    df = read_manifest(world)
    edit(df)
    out = tmp_path / "data" / "mine.csv"
    write_manifest(df, out)
    return out


def drop_rows(**match):
    """An edit for :func:`edited`: drop the rows whose columns equal ``match``."""

    def edit(df):
        hit = np.logical_and.reduce([df[k] == v for k, v in match.items()])
        df.drop(df.index[hit], inplace=True)

    return edit


# ---------------------------------------------------------------- data checked before any write


def test_missing_and_unreadable_audio_stop_the_run_before_its_folder(world, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "garbage.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    sf.write(str(bad / "empty.wav"), np.zeros(0, np.float32), 16000)
    gone = tmp_path / "gone" / "deleted.wav"

    def edit(df):
        df.loc[3, "path"] = str(gone)
        df.loc[5, "path"] = str(bad / "garbage.wav")
        df.loc[7, "path"] = str(bad / "empty.wav")

    manifest = edited(world, tmp_path, edit)
    with pytest.raises(DataError) as e:
        run_experiment(cfg_for(manifest, system="proposed"), tmp_path / "run", progress=False)
    msg = str(e.value)
    assert msg.startswith("3 manifest row(s) point to missing or unreadable audio:")
    assert f"{gone} (listed in {manifest}): does not exist" in msg
    assert f"{bad / 'garbage.wav'} (listed in {manifest}): cannot read audio header" in msg
    assert f"{bad / 'empty.wav'} (listed in {manifest}): audio file has no samples" in msg
    assert "--skip-bad --overwrite), or delete their rows" in msg
    assert not (tmp_path / "run").exists()  # found before the training budget or any write


def test_header_check_of_a_smoke_sized_manifest_is_fast(world, tmp_path):
    """5,201 files (the smoke world's size) in well under a second; the second time, a stat each."""
    import os

    from xlser.data.audio import _HEADERS, check_headers

    files = read_manifest(world)["path"].tolist()
    paths = [tmp_path / f"{i}.wav" for i in range(5201)]
    for i, p in enumerate(paths):  # distinct names (each header read), real wav files
        os.link(files[i % len(files)], p)
    _HEADERS.clear()
    t = time.process_time()
    assert check_headers(paths) == []
    cold = time.process_time() - t
    t = time.process_time()
    assert check_headers(paths) == []
    warm = time.process_time() - t
    assert cold < 1.5 and warm < 0.3, (cold, warm)  # CPU seconds (measured: ~0.2 and ~0.03)


def test_empty_train_split_names_the_languages_and_the_fix(world, tmp_path):
    def edit(df):
        df.loc[(df.language == "en") & (df.split == "train"), "split"] = "val"

    manifest = edited(world, tmp_path, edit)
    with pytest.raises(DataError, match=r"no train rows for language\(s\) \['en'\] in .*mine.csv"):
        task_data(cfg_for(manifest, task="en-de", system="baseline1"), progress=False)


def test_target_without_test_rows_names_the_task_and_the_fix(world, tmp_path):
    manifest = edited(world, tmp_path, drop_rows(language="de", split="test"))
    with pytest.raises(DataError) as e:
        run_experiment(cfg_for(manifest, task="en-de"), tmp_path / "run", progress=False)
    assert "task en-de: the target 'de' has no test rows" in str(e.value)
    assert "--split paper gives every corpus a test split" in str(e.value)
    assert not (tmp_path / "run").exists()


def test_a_language_without_any_rows_names_it_and_the_fix(world, tmp_path):
    manifest = edited(world, tmp_path, drop_rows(language="de"))
    with pytest.raises(
        DataError, match=r"no manifest rows for language\(s\) \['de'\] in .*prepare"
    ):
        task_data(cfg_for(manifest, task="en-de", system="proposed"), progress=False)


def test_a_training_language_without_validation_rows_is_a_warning(world, tmp_path):
    manifest = edited(world, tmp_path, drop_rows(language="zh", split="val"))
    with pytest.warns(UserWarning, match=r"training language\(s\) \['zh'\] have no validation"):
        d = task_data(cfg_for(manifest, task="en-de", system="proposed"), progress=False)
    assert set(d.val.language) == {"en", "fr", "ur"} and "zh" in set(d.train.language)


def test_silent_audio_in_a_manifest_is_named_when_the_front_end_cache_reads_it(world, tmp_path):
    """Headers cannot show silence; the first full read (the front-end cache) names the file."""
    from xlser.data.audio import AudioError

    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(16000, np.float32), 16000)

    def edit(df):
        df.loc[2, "path"] = str(silent)

    manifest = edited(world, tmp_path, edit)
    cfg = cfg_for(manifest, system="baseline1", **{"train.max_steps": 1})
    with pytest.raises(AudioError) as e:
        Trainer(cfg, task_data(cfg, progress=False), progress=False)
    msg = str(e.value)
    assert msg.startswith(f"{silent}: audio is silent") and "--skip-bad" in msg
    assert msg.endswith("(found while building the front-end cache)")
    assert not list((manifest.parent / ".xlser-cache").glob("*.safetensors"))  # nothing cached


# ------------------------------------------------------------------------------------ NaN loss


def poison_step(monkeypatch, step: int) -> None:
    """Training step ``step`` (1-based) sees one NaN input value; the others are untouched."""
    step_train = Trainer.train_step

    def poisoned(self, batch):
        if self.state.step == step - 1:
            name = "features" if hasattr(batch, "features") else "input_values"
            x = getattr(batch, name).clone()
            x.view(-1)[0] = float("nan")
            setattr(batch, name, x)
        return step_train(self, batch)

    monkeypatch.setattr(Trainer, "train_step", poisoned)


def test_a_nan_in_a_batch_stops_the_run_naming_steps_and_terms_and_keeps_the_checkpoint(
    world, tmp_path, monkeypatch
):
    over = {"train.max_steps": 8, "train.log_every": 2, "train.checkpoint_every": 2}
    cfg = cfg_for(world, system="proposed", **over)
    poison_step(monkeypatch, 5)
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError) as e:
        run_experiment(cfg, run, progress=False)
    msg = str(e.value)
    assert "en-de proposed seed 0: loss term(s) ['ce', 'scl', 'adv', 'loss']" in msg
    assert "became non-finite between steps 5 and 6" in msg and "last checkpoint was kept" in msg
    assert json.loads((run / "checkpoint.json").read_text())["step"] == 4
    assert not (run / "metrics.json").exists()
    from safetensors.torch import load_file

    kept = load_file(run / "checkpoint-4" / "trainable.safetensors")
    assert kept and all(torch.isfinite(t).all() for t in kept.values())
    logged = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if r["kind"] == "train"] == [2, 4]
    assert all(math.isfinite(r["loss"]) for r in logged)
    monkeypatch.undo()  # the fault is gone: the run resumes from the kept checkpoint and ends
    m = run_experiment(cfg, run, progress=False)
    assert m["steps"] == 8 and math.isfinite(m["uar"])


# --------------------------------------------------------------------------------- determinism


def test_same_seed_twice_gives_the_same_run_and_another_seed_does_not(world, tmp_path):
    """On CPU, with dropout masks from xlser.dropout (torch's global generator, seeded per run),
    SpecAugment (numpy's) and the sampler's own generator."""
    from safetensors.torch import load_file

    over = {"train.max_steps": 2, "train.eval_every": 1}
    cfg = cfg_for(world, system="proposed", **over)
    assert cfg.train.dropout_impl == "auto"  # fast masks on CPU (LoRA and speaker-head dropout)
    a = run_experiment(cfg, tmp_path / "a", progress=False)
    b = run_experiment(cfg, tmp_path / "b", progress=False)
    drop = ("wall_s",)
    assert {k: v for k, v in a.items() if k not in drop} == {
        k: v for k, v in b.items() if k not in drop
    }
    for name in ("predictions.csv", "log.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    ta, tb = (load_file(tmp_path / r / "model.safetensors") for r in "ab")
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
    c = cfg_for(world, system="proposed", seed=1, **{**over, "train.max_steps": 1})
    run_experiment(c, tmp_path / "c", progress=False)
    tc = load_file(tmp_path / "c" / "model.safetensors")
    assert any(not torch.equal(ta[k], tc[k]) for k in ta)  # the test can see a difference


# ------------------------------------------------------------------------ damaged run folders


def test_truncated_metrics_or_checkpoint_names_the_file_and_suggests_overwrite(world, tmp_path):
    cfg = cfg_for(world, system="baseline1", **{"train.max_steps": 2})
    done = tmp_path / "done"
    run_experiment(cfg, done, progress=False)
    metrics = done / "metrics.json"
    metrics.write_text(metrics.read_text()[:30])
    with pytest.raises(CorruptFileError, match=f"^{metrics}: not valid JSON.*pass --overwrite"):
        run_experiment(cfg, done, progress=False)

    class Stop:
        def on_step_end(self, trainer, logs):
            if logs["step"] == 3:
                raise KeyboardInterrupt

    cut = tmp_path / "cut"
    over = {"train.max_steps": 4, "train.checkpoint_every": 2}
    cfg4 = cfg_for(world, system="baseline1", **over)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg4, cut, progress=False, hooks=[Stop()])
    weights = cut / "checkpoint-2" / "trainable.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(CorruptFileError, match=f"^{weights}: .*pass --overwrite"):
        run_experiment(cfg4, cut, progress=False)
    m = run_experiment(cfg4, cut, progress=False, overwrite=True)  # the suggested fix works
    assert m["steps"] == 4
    shutil.rmtree(cut)


def test_a_checkpoint_due_before_the_next_log_never_saves_unchecked_weights(
    world, tmp_path, monkeypatch
):
    # checkpoint every step, log every 2: the step-5 checkpoint would hold the NaN step's weights
    over = {"train.max_steps": 8, "train.log_every": 2, "train.checkpoint_every": 1}
    cfg = cfg_for(world, system="proposed", **over)
    poison_step(monkeypatch, 5)
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match="between steps 5 and 5"):
        run_experiment(cfg, run, progress=False)
    from safetensors.torch import load_file

    assert json.loads((run / "checkpoint.json").read_text())["step"] == 4
    assert not (run / "checkpoint-5").exists()
    kept = load_file(run / "checkpoint-4" / "trainable.safetensors")
    assert all(torch.isfinite(t).all() for t in kept.values())
