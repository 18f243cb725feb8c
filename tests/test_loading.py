"""Waveform loading for the GPU path: persistent workers give the same batches as reading in the
training process, epochs seed the crops, resampling once gives the same samples as resampling on
every read, pinned batches keep their values, and the trainer's result does not depend on the
number of workers."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from xlser.config import ConfigError, ExperimentConfig
from xlser.data.audio import AudioError, Batch, SERDataset, load_audio
from xlser.data.resampled import at_rate, cache_name
from xlser.train import Trainer, task_data
from xlser.trainer import WaveformInputs, num_workers


@pytest.fixture
def manifest(tiny_world):
    return tiny_world


def cfg_for(manifest, **kw):
    over = {
        "data.manifests": [str(manifest)],
        "data.synthesize_if_missing": False,
        "data.max_seconds": 0.5,  # shorter than most utterances: the crops are random
        "model.frontend_cache": "off",
        "train.eval_every": 10_000,
        "train.log_every": 1,
    }
    over.update(kw)
    return ExperimentConfig.from_profile("smoke", **over)


def batches_of(inputs, rows, idx, epoch):
    return [(b.input_values.clone(), b.utt_id) for b in inputs.train_batches(rows, idx, epoch)]


def test_persistent_workers_give_the_in_process_batches_and_epochs_seed_the_crops(manifest):
    d = task_data(cfg_for(manifest))
    idx = [[0, 5, 9, 14], [3, 1, 2]]
    cpu = torch.device("cpu")
    main = WaveformInputs(d.train, d.speakers, cfg_for(manifest, **{"data.num_workers": 0}), cpu)
    pool = WaveformInputs(d.train, d.speakers, cfg_for(manifest, **{"data.num_workers": 2}), cpu)
    first = batches_of(pool, d.train, idx, epoch=0)
    loader = pool._loaders["train"][0]
    workers = loader._iterator._workers  # started once
    for epoch in (0, 1):
        a, b = batches_of(main, d.train, idx, epoch), batches_of(pool, d.train, idx, epoch)
        for (xa, ua), (xb, ub) in zip(a, b, strict=True):
            assert ua == ub
            torch.testing.assert_close(xa, xb, rtol=0, atol=0)
    assert pool._loaders["train"][0] is loader and loader._iterator._workers == workers
    assert all(w.is_alive() for w in workers)
    e0, e1 = batches_of(main, d.train, idx, 0), batches_of(main, d.train, idx, 1)
    assert not torch.equal(e0[0][0], e1[0][0])  # another epoch, other crops
    torch.testing.assert_close(first[0][0], e0[0][0], rtol=0, atol=0)
    # an item is the dataset's (position, epoch) read directly
    ds = SERDataset(d.train, d.speakers, 16000, 0.5, train=True, seed=0)
    w = ds[(int(main.position[d.train["utt_id"].iloc[5]]), 1)]["waveform"]
    ds_all = SERDataset(main.rows, d.speakers, 16000, 0.5, train=True, seed=0)
    pos = int(main.position[d.train["utt_id"].iloc[5]])
    torch.testing.assert_close(ds_all[(pos, 1)]["waveform"], w, rtol=0, atol=0)
    pool.close()
    assert not pool._loaders


def test_eval_batches_follow_length_order_and_rows_from_elsewhere_get_a_loader(manifest):
    cfg = cfg_for(manifest, **{"data.num_workers": 1})
    d = task_data(cfg)
    inputs = WaveformInputs(d.train, d.speakers, cfg, torch.device("cpu"))  # val/test unknown
    rows = pd.concat([d.test, d.val]).iloc[:7].reset_index(drop=True)
    assert len(rows) == 7
    got = list(inputs.eval_batches(rows, 3))
    order = np.concatenate([np.asarray(i) for i, _ in got])
    assert sorted(order) == list(range(7)) and len(got) == 3
    durations = rows["duration_s"].to_numpy()[order]
    assert (np.diff(durations) >= 0).all()
    for idx, batch in got:
        assert batch.utt_id == rows["utt_id"].iloc[idx].tolist()
        n = int(batch.lengths[0])
        ref = load_audio(rows["path"].iloc[idx[0]], 16000)
        ref = (ref - ref.mean()) / torch.sqrt(ref.var(unbiased=False) + 1e-7)
        torch.testing.assert_close(batch.input_values[0, :n], ref)
    assert "eval" not in inputs._loaders  # rows outside its table: a one-off loader


@pytest.mark.parametrize("system", ["baseline2", "proposed"])
def test_training_does_not_depend_on_the_number_of_workers(manifest, system):
    """Two epochs on waveform batches, validated mid-epoch, with 0 and 2 workers: equal losses
    and equal validation metrics (the workers read the same crops)."""
    hist = {}
    for w in (0, 2):
        cfg = cfg_for(
            manifest,
            system=system,
            **{"data.num_workers": w, "train.eval_every": 3, "train.max_steps": 7,
               "model.spec_augment": False},
        )  # fmt: skip
        t = Trainer(cfg, task_data(cfg), progress=False)
        t.fit()
        t.close()
        hist[w] = t.state.history
    assert [h["kind"] for h in hist[0]] == [h["kind"] for h in hist[2]]
    assert sum(h["kind"] == "val" for h in hist[0]) >= 2
    for a, b in zip(hist[0], hist[2], strict=True):
        for k, v in a.items():
            if isinstance(v, float):
                assert b[k] == pytest.approx(v, rel=1e-5, abs=1e-6), k
            else:
                assert b[k] == v, k


def test_num_workers_auto_and_validation(monkeypatch):
    cfg = ExperimentConfig.from_profile("full")
    assert cfg.data.num_workers is None
    assert num_workers(cfg, torch.device("cpu")) == 0
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert num_workers(cfg, torch.device("cuda")) == 4
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert num_workers(cfg, torch.device("cuda")) == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")  # torchrun: 8 processes share 16 cores
    assert num_workers(cfg, torch.device("cuda")) == 1
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    cfg.data.num_workers = 3
    assert num_workers(cfg, torch.device("cpu")) == 3
    cfg.data.num_workers = -1
    with pytest.raises(ConfigError, match="data.num_workers"):
        cfg.validate()


def write48k(path, seconds=0.7, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(48000 * seconds)) / 48000
    x = 0.3 * np.sin(2 * np.pi * 220 * t)[:, None] + 0.05 * rng.standard_normal((len(t), channels))
    sf.write(path, x.astype(np.float32), 48000, subtype="PCM_24")
    return path


def test_resampling_once_gives_the_samples_of_resampling_every_read(tmp_path):
    src = write48k(tmp_path / "01-C-1-1.wav")
    cache = tmp_path / "cache"
    copy = at_rate(src, 16000, cache)
    assert copy != str(src) and os.path.dirname(copy) == str(cache)
    assert sf.info(copy).samplerate == 16000 and sf.info(copy).channels == 1
    torch.testing.assert_close(load_audio(copy, 16000), load_audio(src, 16000), rtol=0, atol=0)
    mtime = os.stat(copy).st_mtime_ns
    assert at_rate(src, 16000, cache) == copy and os.stat(copy).st_mtime_ns == mtime  # once
    # the crop of the copy equals the crop of the source (same generator draw)
    a = load_audio(copy, 16000, 0.2, generator=np.random.default_rng(3))
    b = load_audio(src, 16000, 0.2, generator=np.random.default_rng(3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    # an edited source gets a new copy; the old one is left in xlser's cache folder
    write48k(src, seconds=0.9, seed=1)
    os.utime(src, ns=(mtime + 10**9, mtime + 10**9))
    new = at_rate(src, 16000, cache)
    assert new != copy and os.path.basename(new) == cache_name(src, 16000)
    assert load_audio(new, 16000).numel() == 16000 * 0.9
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [os.path.basename(copy), os.path.basename(new)]
    )  # no temporary files left


def test_a_file_at_the_rate_is_read_in_place_and_bad_sources_are_named(tmp_path):
    p = tmp_path / "a16.wav"
    sf.write(p, (0.1 * np.sin(np.arange(8000) / 5)).astype(np.float32), 16000)
    cache = tmp_path / "cache"
    assert at_rate(p, 16000, cache) == str(p) and not cache.exists()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(AudioError, match="bad.wav"):
        at_rate(bad, 16000, cache)
    silent = tmp_path / "silent48.wav"
    sf.write(silent, np.zeros(4800, np.float32), 48000)
    with pytest.raises(AudioError, match="silent48.wav.*silent"):
        at_rate(silent, 16000, cache)
    with pytest.raises(AudioError, match="missing.wav.*does not exist"):
        at_rate(tmp_path / "missing.wav", 16000, cache)
    assert not cache.exists() or not list(cache.iterdir())


def test_dataset_with_a_resample_folder_reads_the_same_items(tmp_path):
    rows = pd.DataFrame(
        {
            "utt_id": ["a", "b"],
            "path": [str(write48k(tmp_path / "a.wav")), str(write48k(tmp_path / "b.wav", 1.1))],
            "corpus": "cafe",
            "language": "fr",
            "speaker": ["s1", "s2"],
            "emotion": ["happy", "sad"],
            "split": "train",
            "duration_s": [0.7, 1.1],
        }
    )
    plain = SERDataset(rows, sample_rate=16000, max_seconds=0.5, train=True, seed=4)
    cached = SERDataset(rows, sample_rate=16000, max_seconds=0.5, train=True, seed=4,
                        resample_dir=tmp_path / "r")  # fmt: skip
    for key in [(0, 0), (1, 0), (1, 5), 1]:
        torch.testing.assert_close(cached[key]["waveform"], plain[key]["waveform"], rtol=0, atol=0)
    assert len(list((tmp_path / "r").iterdir())) == 2


def test_pinned_batch_keeps_its_values():
    if not torch.cuda.is_available():
        pytest.skip("pinning page-locked memory needs a CUDA driver")
    b = Batch(torch.randn(2, 5), torch.ones(2, 5, dtype=torch.long), torch.tensor([5, 5]),
              torch.tensor([0, 1]), torch.tensor([0, 0]), torch.tensor([1, -100]), ["x", "y"])  # fmt: skip
    p = b.pin_memory()
    assert p.input_values.is_pinned() and p.utt_id == ["x", "y"]
    torch.testing.assert_close(p.input_values, b.input_values, rtol=0, atol=0)
    from xlser.frontend import FeatureBatch

    f = FeatureBatch(torch.randn(2, 3, 4), torch.tensor([3, 2]), b.emotion, b.language,
                     b.speaker, ["x", "y"])  # fmt: skip
    q = f.pin_memory()
    assert q.features.is_pinned() and q.n_frames.is_pinned() and q.utt_id == ["x", "y"]
    torch.testing.assert_close(q.features, f.features, rtol=0, atol=0)


def test_compile_refuses_fast_dropout_and_auto_keeps_torch_dropout(manifest):
    with pytest.raises(ConfigError, match="train.compile.*dropout_impl"):
        cfg_for(manifest, **{"train.compile": True, "train.dropout_impl": "fast"}).validate()
    from xlser.dropout import FastDropout

    cfg = cfg_for(manifest, **{"train.compile": True})  # auto: torch's dropout, traceable
    t = Trainer(cfg, task_data(cfg), progress=False)
    assert not any(isinstance(m, FastDropout) for m in t.model.modules())
    assert any(isinstance(m, torch.nn.Dropout) for m in t.model.modules())


@pytest.mark.slow
def test_compiled_forward_equals_eager(manifest):
    """``train.compile`` compiles every Transformer layer of the same model: eval-mode
    predictions equal eager ones, and a training step runs and moves the parameters."""
    base = {"model.frontend_cache": "auto", "train.dropout_impl": "torch"}
    eager = Trainer(cfg_for(manifest, **base), task_data(cfg_for(manifest)), progress=False)
    rows = eager.data.test
    a = eager.predict(rows)  # before the shared model's layers are compiled in place
    cfg = cfg_for(manifest, **base, **{"train.compile": True})
    comp = Trainer(cfg, task_data(cfg), model=eager.model, progress=False)
    layers = comp.model.encoder.encoder.layers
    assert all(layer._compiled_call_impl is not None for layer in layers)
    b = comp.predict(rows)
    np.testing.assert_allclose(b["logits"], a["logits"], rtol=1e-4, atol=1e-4)
    before = {k: v.clone() for k, v in comp.trainable_state().items()}
    idx = [next(iter(comp.batch_sampler))]
    terms = comp.train_step(next(comp.inputs.train_batches(comp.data.train, idx, 0)))
    assert torch.isfinite(terms["loss"])
    assert any(not torch.equal(v, before[k]) for k, v in comp.trainable_state().items())


def test_loss_scaling_unscales_before_clipping(manifest):
    """fp16 training scales the loss (``torch.amp.GradScaler``); the step must unscale the
    gradients before clipping them, so a power-of-two scale leaves the update unchanged. (CPU
    runs in fp32, so the scaler is switched on by hand here, with a clip that binds.)"""
    over = {"model.spec_augment": False, "train.grad_clip": 0.05, "sampler.replacement": True}
    trained = []
    for scale in (None, 2.0**10):
        torch.manual_seed(0)
        cfg = cfg_for(manifest, **over)
        t = Trainer(cfg, task_data(cfg), progress=False)
        assert not t.scaler.is_enabled()  # fp32 on a CPU
        if scale is not None:
            t.scaler = torch.amp.GradScaler("cpu", init_scale=scale)
        idx = [next(iter(t.batch_sampler))]
        batch = next(t.inputs.train_batches(t.data.train, idx, 0))
        torch.manual_seed(1)  # the same dropout masks in both steps
        t.train_step(batch)
        total = torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(p.grad) for p in t.params if p.grad is not None])
        )
        trained.append((t.trainable_state(), float(total)))
    (a, norm_a), (b, norm_b) = trained
    assert norm_a == pytest.approx(norm_b, rel=1e-5)  # unscaled, clipped gradients alike
    assert norm_a == pytest.approx(0.05, rel=1e-3)  # the clip bound
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-7)


def test_bad_audio_read_by_a_worker_is_raised_in_the_trainer_naming_the_file(manifest, tmp_path):
    """A worker's AudioError reaches the training process as an AudioError naming the file."""
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    cfg = cfg_for(manifest, **{"data.num_workers": 2})
    d = task_data(cfg)
    rows = d.train.copy()
    rows.loc[3, "path"] = str(silent)
    inputs = WaveformInputs(rows, d.speakers, cfg, torch.device("cpu"))
    with pytest.raises(AudioError, match=f"{silent}: audio is silent"):
        list(inputs.train_batches(rows, [[0, 1], [2, 3]], epoch=0))
    inputs.close()


# ------------------------------------------------------------------ length-sorted sub-batches


def test_split_by_length_keeps_every_utterance_and_trims_padding():
    from xlser.data.audio import collate
    from xlser.frontend import FeatureBatch

    lengths = [800, 3000, 1200, 5000, 400, 2600, 4100]
    items = [
        {"waveform": torch.randn(n), "emotion": i % 4, "language": i % 3, "speaker": i,
         "utt_id": f"u{i}"}
        for i, n in enumerate(lengths)
    ]  # fmt: skip
    b = collate(items)
    parts = b.split_by_length(3)
    assert [len(p) for p in parts] == [3, 2, 2]
    assert sorted(u for p in parts for u in p.utt_id) == sorted(b.utt_id)
    assert [int(p.lengths.max()) for p in parts] == [p.input_values.shape[1] for p in parts]
    assert [p.utt_id for p in parts] == [["u4", "u0", "u2"], ["u5", "u1"], ["u6", "u3"]]
    for p in parts:
        for j, u in enumerate(p.utt_id):
            i = b.utt_id.index(u)
            torch.testing.assert_close(
                p.input_values[j], b.input_values[i, : p.input_values.shape[1]]
            )
            assert p.emotion[j] == b.emotion[i] and p.speaker[j] == b.speaker[i]
    padded = sum(p.input_values.numel() for p in parts)
    assert padded == 3 * 1200 + 2 * 3000 + 2 * 5000 < b.input_values.numel() == 7 * 5000
    f = FeatureBatch(torch.randn(7, 9, 4), torch.tensor([2, 9, 3, 9, 1, 5, 6]), b.emotion,
                     b.language, b.speaker, b.utt_id)  # fmt: skip
    fp = f.split_by_length(2)
    assert [p.features.shape[:2] for p in fp] == [(4, 5), (3, 9)]  # frames 1,2,3,5 | 6,9,9
    assert sorted(u for p in fp for u in p.utt_id) == sorted(f.utt_id)


@pytest.mark.parametrize("cache", ["auto", "off"])
def test_length_chunks_give_the_same_loss_and_gradients_on_masked_inputs(manifest, cache):
    """Eq. 12 does not depend on the order of the utterances, and masked attention does not see
    padding: three length-sorted sub-batches give the one-pass loss and gradients (dropout,
    SpecAugment and LayerDrop off, so both see the same computation). On waveforms this needs a
    CNN whose normalisation ignores padding (layer norm per frame; a group-norm CNN such as
    wav2vec2-base's, or the shipped tiny encoders', normalises over the padded time axis)."""
    import copy

    cnn = (
        {}
        if cache == "auto"
        else {"model.encoder": "tiny", "model.tiny_feat_extract_norm": "layer"}
    )
    over = {
        **cnn,
        "data.max_seconds": None,  # whole utterances: lengths spread
        "model.frontend_cache": cache,
        "model.attention_mask": "always",
        "model.spec_augment": False,
        "model.layerdrop": 0.0,
        "model.speaker_dropout": 0.0,
        "peft.lora_dropout": 0.0,
        "train.dropout_impl": "torch",
        "train.grad_clip": None,
        "sampler.replacement": True,
    }
    grads, losses = [], []
    base = None
    for k in (1, 3):
        cfg = cfg_for(manifest, **over, **{"model.length_chunks": k})
        t = Trainer(cfg, task_data(cfg), model=copy.deepcopy(base), progress=False)
        base = base or copy.deepcopy(t.model)
        for m in t.model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
            if isinstance(getattr(m, "dropout", None), float):
                m.dropout = 0.0
        idx = [next(iter(t.batch_sampler))]
        batch = next(t.inputs.train_batches(t.data.train, idx, 0))
        n = batch.n_frames if cache == "auto" else batch.lengths
        assert len(set(n.tolist())) > 3  # lengths spread
        terms = t.train_step(batch)
        losses.append({k: float(v) for k, v in terms.items()})
        grads.append(
            {n: p.grad.clone() for n, p in t.model.named_parameters() if p.grad is not None}
        )
    for key in losses[0]:
        assert losses[1][key] == pytest.approx(losses[0][key], rel=1e-4, abs=1e-5), key
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-3, atol=1e-5)
