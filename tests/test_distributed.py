"""DDP on two gloo processes on CPU (:mod:`xlser.distributed`): the sampler's shards partition each
global batch; the all-gather keeps gradients; eq. 12's loss and every trainable gradient of a
2-process step equal the 1-process ones on the same global batch (SupCon with cross-lingual weights
and the speaker adversary included); sharded evaluation equals one process's; LayerDrop skipping
different layers on the two ranks neither hangs nor lets the ranks' weights drift apart; a
2-process ``run_experiment`` writes one run folder with ``world_size: 2``."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist

from xlser import EMOTIONS, LANGUAGES, distributed
from xlser.config import ConfigError, ExperimentConfig
from xlser.experiment import make_batch_sampler
from xlser.frontend import FeatureBatch
from xlser.trainer import TaskData, Trainer

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")

WORLD = 2
TRAIN_LANGS = ("en", "zh", "fr", "ur")  # en-de's training languages (Proposed)
N_ROWS, N_FRAMES, N_CHANNELS = 64, 24, 32  # the feature table: cached CNN features (N, T, C)


# ----------------------------------------------------------------------------- fixtures


def _train_rows() -> pd.DataFrame:
    """4 languages x 4 emotions x 4 utterances, 2 speakers per language."""
    rows = [
        {"utt_id": f"{lang}{e}{k}", "language": lang, "emotion": emo, "speaker": f"{lang}_s{k % 2}"}
        for lang in TRAIN_LANGS
        for e, emo in enumerate(EMOTIONS)
        for k in range(4)
    ]
    df = pd.DataFrame(rows)
    df["i"] = np.arange(len(df))  # row of the feature table
    return df


def _features() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(N_ROWS, N_FRAMES, N_CHANNELS, generator=g)  # (N, T, C)
    n_frames = torch.randint(N_FRAMES // 2, N_FRAMES + 1, (N_ROWS,), generator=g)  # (N,)
    return feats, n_frames


def _batch(rows: pd.DataFrame, idx, speakers: list[str]) -> FeatureBatch:
    """The rows ``idx`` as a padded batch of cached features (as the front-end cache makes)."""
    sel = rows.iloc[list(idx)]
    feats, n_frames = _features()
    i = torch.tensor(sel["i"].tolist())  # (b,) rows of the feature table
    n = n_frames[i]
    return FeatureBatch(
        features=feats[i, : int(n.max())],  # (b, T_b, C)
        n_frames=n,
        emotion=torch.tensor([EMOTIONS.index(e) for e in sel["emotion"]]),
        language=torch.tensor([LANGUAGES.index(lang) for lang in sel["language"]]),
        speaker=torch.tensor([speakers.index(s) for s in sel["speaker"]]),
        utt_id=sel["utt_id"].tolist(),
    )


class _FeatureInputs:
    """Evaluation batches from the feature table (the trainer's ``inputs`` without audio)."""

    def __init__(self, speakers: list[str]) -> None:
        self.speakers = speakers

    def eval_batches(self, rows: pd.DataFrame, batch_size: int):
        for i in range(0, len(rows), batch_size):
            idx = np.arange(i, min(i + batch_size, len(rows)))
            yield idx, _batch(rows, idx, self.speakers)


def _cfg(**over) -> ExperimentConfig:
    base = {
        "task": "en-de",
        "system": "proposed",
        "model.frontend_cache": "off",  # no audio: batches are built from the feature table
        "model.layerdrop": 0.0,
        "model.spec_augment": False,
        "model.speaker_dropout": 0.0,
        "peft.lora_dropout": 0.0,
        "train.dropout_impl": "torch",
        "train.grad_clip": None,  # compare raw gradients (clipping could hide a scale error)
    }
    return ExperimentConfig.from_profile("smoke", **{**base, **over})


def _no_dropout(model: torch.nn.Module) -> None:
    """The encoder's hidden, activation and attention dropout off (deterministic comparison)."""
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if isinstance(getattr(m, "dropout", None), float):
            m.dropout = 0.0


def _trainer(cfg: ExperimentConfig, rows: pd.DataFrame, deterministic: bool = True) -> Trainer:
    speakers = sorted(rows["speaker"].unique())
    data = TaskData(rows, rows.iloc[:0], rows.iloc[:0], speakers)
    t = Trainer(cfg, data, progress=False)
    if deterministic:
        _no_dropout(t.model)
    t.inputs = _FeatureInputs(speakers)
    return t


def _grads(t: Trainer) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in t.model.named_parameters() if p.requires_grad}


# ----------------------------------------------------------------------------- two processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, fn, port: int, out: str, *args) -> None:
    """One torchrun-like process: the environment torchrun sets, then ``fn``."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    distributed.init_from_env(torch.device("cpu"), timeout_s=600)  # a loaded machine is slow
    try:
        torch.save(fn(rank, *args), Path(out) / f"rank{rank}.pt")
    finally:
        distributed.shutdown()


def _spawn(fn, out: Path, *args) -> list:
    """Run ``fn(rank, *args)`` in two gloo processes; each rank's return value."""
    torch.multiprocessing.spawn(_entry, (fn, _free_port(), str(out), *args), nprocs=WORLD)
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


def _worker(rank: int) -> dict:
    """Everything the fast tests check, in one pair of processes (start-up dominates)."""
    res: dict = {"world_size": distributed.world_size(), "rank": distributed.rank()}
    # all_gather_with_grad: the backward sums every rank's gradient w.r.t. this rank's rows
    x = torch.full((2, 3), float(rank + 1), requires_grad=True)
    y = distributed.all_gather_with_grad(x)  # (4, 3)
    w = torch.arange(12.0).view(4, 3)
    (w * y).sum().backward()
    res["gathered"], res["x_grad"] = y.detach(), x.grad

    # one training step of Proposed (CE + SupCon + speaker adversary) on this rank's share
    rows = _train_rows()
    t = _trainer(_cfg(), rows)
    local = next(iter(t.batch_sampler))
    res["local_batch"] = local
    terms = t.train_step(_batch(rows, local, t.data.speakers))
    res["terms"] = {k: distributed.mean_over_ranks(v).item() for k, v in terms.items()}
    res["grads"] = _grads(t)
    res["ddp"] = type(t.ddp).__name__

    # sharded evaluation, gathered on every rank
    res["predict"] = t.predict(rows)

    # the same step with each rank's share run as 3 length-sorted sub-batches (one DDP forward)
    t = _trainer(_cfg(**{"model.length_chunks": 3}), rows)
    t.train_step(_batch(rows, local, t.data.speakers))
    res["chunk_grads"] = _grads(t)

    # LayerDrop 0.5 with dropout on: the ranks skip different layers (recorded per step)
    t = _trainer(_cfg(**{"model.layerdrop": 0.5}), rows, deterministic=False)
    calls: list[int] = []
    for i, layer in enumerate(t.model.encoder.encoder.layers):
        layer.register_forward_hook(lambda *_, i=i: calls.append(i))
    ran = []
    for epoch in range(3):  # 2 batches an epoch
        t.batch_sampler.set_epoch(epoch)
        for local in t.batch_sampler:
            calls.clear()
            t.train_step(_batch(rows, local, t.data.speakers))
            ran.append(tuple(calls))
    res["layers_ran"] = ran
    res["params_after"] = {k: v.clone() for k, v in t.trainable_state().items()}
    return res


@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    return _spawn(_worker, tmp_path_factory.mktemp("ddp"))


@pytest.fixture(scope="module")
def one_process():
    """The same step with one process on the whole global batch."""
    rows = _train_rows()
    t = _trainer(_cfg(), rows)
    glob = next(iter(t.batch_sampler))
    terms = t.train_step(_batch(rows, glob, t.data.speakers))
    return {
        "global_batch": glob,
        "terms": {k: v.item() for k, v in terms.items()},
        "grads": _grads(t),
        "predict": t.predict(rows),
    }


# ----------------------------------------------------------------------------- tests


def test_processes_join_one_group(ddp):
    assert [(r["rank"], r["world_size"]) for r in ddp] == [(0, 2), (1, 2)]
    assert {r["ddp"] for r in ddp} == {"DistributedDataParallel"}


def test_all_gather_keeps_gradients(ddp):
    """y = cat(x_0, x_1); L_r = sum(w * y) on each rank: dL/dx_r summed over both ranks = 2 w_r."""
    w = torch.arange(12.0).view(4, 3)
    for r, res in enumerate(ddp):
        assert torch.equal(
            res["gathered"], torch.cat([torch.full((2, 3), 1.0), torch.full((2, 3), 2.0)])
        )
        assert torch.equal(res["x_grad"], WORLD * w[2 * r : 2 * r + 2])


def test_trainer_shards_partition_the_global_batch(ddp, one_process):
    glob = one_process["global_batch"]
    shards = [r["local_batch"] for r in ddp]
    assert [len(s) for s in shards] == [18, 18] and len(glob) == 36
    assert shards == [glob[0::2], glob[1::2]]


def test_two_process_loss_equals_one_process(ddp, one_process):
    ref = one_process["terms"]
    assert set(ref) == {"ce", "scl", "adv", "loss"}  # SupCon and the adversary are on
    for res in ddp:  # the ranks' mean: every rank logs the same global-batch values
        for k, v in ref.items():
            assert res["terms"][k] == pytest.approx(v, rel=1e-5, abs=1e-6), k
    assert ref["loss"] == pytest.approx(ref["ce"] + ref["scl"] + 0.3 * ref["adv"], rel=1e-6)


def test_two_process_gradients_equal_one_process(ddp, one_process):
    ref = one_process["grads"]
    assert any(k.startswith("speaker_head.") for k in ref) and any("lora_" in k for k in ref)
    for res in ddp:
        assert res["grads"].keys() == ref.keys()
        for k, g in ref.items():
            assert g.abs().max() > 0 or "lora_A" in k, k  # LoRA A: 0 while B starts at 0
            torch.testing.assert_close(res["grads"][k], g, rtol=1e-4, atol=1e-6, msg=k)


def test_length_sorted_sub_batches_under_ddp_give_the_one_process_gradients(ddp, one_process):
    ref = one_process["grads"]
    for res in ddp:
        for k, g in ref.items():
            torch.testing.assert_close(res["chunk_grads"][k], g, rtol=1e-4, atol=1e-6, msg=k)


def test_sharded_evaluation_equals_one_process(ddp, one_process):
    ref = one_process["predict"]
    for res in ddp:
        for k in ("logits", "probs", "embeddings"):
            np.testing.assert_allclose(res["predict"][k], ref[k], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(res["predict"]["pred"], ref["pred"])


def test_layerdrop_ranks_skip_differently_and_stay_in_sync(ddp):
    ran = [r["layers_ran"] for r in ddp]
    assert ran[0] != ran[1]  # some step skipped a layer on one rank only (unused parameters)
    assert any(len(steps) < 2 for steps in ran[0] + ran[1])
    a, b = (r["params_after"] for r in ddp)
    for k in a:
        assert torch.equal(a[k], b[k]), k  # identical averaged gradients: identical weights


# ----------------------------------------------------------------------------- samplers


@pytest.mark.parametrize(
    ("system", "over"),
    [
        ("proposed", {}),  # hierarchical 3 x 4 x 3
        ("baseline1", {"sampler.replacement": True}),  # class-balanced, one language: 4 x 9
        ("baseline2", {"sampler.multilingual": "random"}),
    ],
)
@pytest.mark.parametrize("world", [2, 3, 4])
def test_sampler_shards_partition_global_batches(system, over, world):
    rows = _train_rows()
    cfg = _cfg(system=system, **over)
    glob = list(make_batch_sampler(cfg, rows, 0, 0, 1))
    glob = [g for g in glob if len(g) % world == 0]  # random: 64 = 36 + 28; 28 / 3 is left out
    shards = [list(make_batch_sampler(cfg, rows, 0, r, world)) for r in range(world)]
    assert all(len(s) == len(glob) for s in shards)
    for b, g in enumerate(glob):
        assert [s[b] for s in shards] == [g[r::world] for r in range(world)]
        assert {len(s[b]) for s in shards} == {len(g) // world}  # equal shares


def test_random_sampler_leaves_out_a_short_batch_that_cannot_be_shared():
    cfg = _cfg(system="baseline2", **{"sampler.multilingual": "random"})
    rows = _train_rows().iloc[:40]  # one batch of 36 and one of 4
    assert [len(b) for b in make_batch_sampler(cfg, rows, 0, 0, 1)] == [36, 4]
    assert [len(b) for b in make_batch_sampler(cfg, rows, 0, 1, 2)] == [18, 2]
    assert [len(b) for b in make_batch_sampler(cfg, rows, 0, 2, 3)] == [12]  # 4 over 3: dropped


def test_world_size_must_divide_the_batch():
    with pytest.raises(ConfigError, match="36.*cannot be split evenly over 5 processes"):
        make_batch_sampler(_cfg(), _train_rows(), 0, 0, 5)


def test_one_process_helpers_are_identities():
    x = torch.randn(3, 2)
    assert distributed.all_gather(x) is x and distributed.mean_over_ranks(x) is x
    assert distributed.all_gather_object("a") == ["a"] and distributed.on_main(lambda: 4) == 4
    assert distributed.rank_seed(5) == 5


# ----------------------------------------------------------------------------- a whole run


def _run_worker(rank: int, manifest: str, run_dir: str) -> dict:
    over = {
        "data.manifests": [manifest],
        "data.synthesize_if_missing": False,
        "data.max_seconds": 1.0,
        "train.max_steps": 4,
        "train.eval_every": 2,
        "train.log_every": 1,
    }
    cfg = ExperimentConfig.from_profile("smoke", task="en-de", system="proposed", **over)
    from xlser.experiment import run_experiment

    return run_experiment(cfg, run_dir, progress=False)


@pytest.mark.slow
def test_two_process_run_writes_one_run_folder(tmp_path):
    from xlser.world.synthesis import WorldConfig, synthesize

    manifest = synthesize(tmp_path / "synth", WorldConfig(scale="tiny"), seed=0, progress=False)
    runs = tmp_path / "runs"
    runs.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    m0, m1 = _spawn(_run_worker, out, str(manifest), str(runs / "r"))
    assert m0 == m1 and m0["world_size"] == 2 and m0["steps"] == 4
    assert [p.name for p in runs.iterdir()] == ["r"]  # no other rank wrote anywhere
    folder = runs / "r"
    assert json.loads((folder / "metrics.json").read_text()) == m0
    assert not list(folder.glob("checkpoint*"))
    log = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in log if r["kind"] == "train"]
    assert train_steps == [1, 2, 3, 4]  # rank 0 alone logs: no duplicates
    assert [r["step"] for r in log if r["kind"] == "val"] == [2, 4]
    preds = pd.read_csv(folder / "predictions.csv")
    assert preds.is_target.sum() == m0["test_n"] and preds.utt_id.is_unique
    assert sum(map(sum, m0["confusion"])) == m0["test_n"]
