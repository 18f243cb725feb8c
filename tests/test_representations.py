"""Per-layer embeddings of a frozen encoder and the linear-probe table (xlser.representations)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from xlser.config import ModelConfig
from xlser.encoder import load_encoder
from xlser.representations import (
    cnn_embeddings,
    cnn_features,
    layer_embeddings,
    masked_mean_std,
    probe_table,
    probe_targets,
)


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    enc, _ = load_encoder(ModelConfig(encoder="tiny"), "en")
    return enc.eval()


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """Six short WAV files of different lengths (0.6-1.6 s), as manifest rows."""
    folder = tmp_path_factory.mktemp("wav")
    rng = np.random.default_rng(0)
    out = []
    for i, seconds in enumerate([1.0, 0.6, 1.6, 0.8, 1.3, 0.7]):
        t = np.arange(int(16000 * seconds)) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (120 + 40 * i) * t) + 0.02 * rng.standard_normal(len(t))
        path = folder / f"u{i}.wav"
        sf.write(path, wave.astype(np.float32), 16000, subtype="PCM_16")
        out.append({"utt_id": f"u{i}", "path": str(path), "language": "en"})
    return pd.DataFrame(out)


def test_shapes(encoder, rows):
    feats = cnn_features(encoder, rows)
    assert [tuple(f.shape) for f in feats][:2] == [(49, 32), (29, 32)]  # (S - 400) // 320 + 1
    emb = layer_embeddings(encoder, rows, batch_size=4)
    assert emb.shape == (3, 6, 64) and emb.dtype == np.float32  # (L + 1, N, D)
    assert cnn_embeddings(feats).shape == (6, 32)
    np.testing.assert_allclose(cnn_embeddings(feats)[1], feats[1].float().mean(0).numpy())
    encoder.train()  # the mode is restored; dropout does not act inside
    try:
        np.testing.assert_array_equal(layer_embeddings(encoder, features=feats, batch_size=4), emb)
        assert encoder.training
    finally:
        encoder.eval()


def test_alone_equals_padded_batch(encoder, rows):
    """An utterance embedded alone equals the same utterance inside a padded batch (masking)."""
    feats = cnn_features(encoder, rows)
    batched = layer_embeddings(encoder, features=feats, batch_size=len(feats))  # one padded batch
    assert max(len(f) for f in feats) > len(feats[1])  # u1 is padded there
    for i in range(len(feats)):
        alone = layer_embeddings(encoder, features=[feats[i]])
        np.testing.assert_allclose(alone[:, 0], batched[:, i], atol=1e-5, rtol=0)


def test_last_layer_is_the_model_output(encoder, rows):
    """Index L is the masked mean of ``Wav2Vec2Model``'s own last hidden state for one utterance
    (whose CNN runs alone in both)."""
    feats = cnn_features(encoder, rows.iloc[:1])
    x = torch.from_numpy(sf.read(rows.path[0], dtype="float32")[0])
    x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
    with torch.no_grad():
        ref = encoder(x[None]).last_hidden_state.mean(1)[0]  # (D,)
    emb = layer_embeddings(encoder, features=feats)
    np.testing.assert_allclose(emb[-1, 0], ref.numpy(), atol=2e-3)  # float16 CNN cache


def test_layer0_depends_on_padding_only_through_the_mask(encoder, rows):
    """Without the mask a padded batch would differ: the check above is not vacuous."""
    feats = cnn_features(encoder, rows.iloc[:2])
    from xlser.frontend import pad_frames

    x, _ = pad_frames([f.float() for f in feats])  # (2, T, C)
    with torch.no_grad():
        h, _ = encoder.feature_projection(x)
        unmasked = encoder.encoder(h, output_hidden_states=True).hidden_states[-1][1]
    alone = layer_embeddings(encoder, features=feats[1:2])[-1, 0]
    assert np.abs(unmasked[: len(feats[1])].mean(0).numpy() - alone).max() > 1e-3


def test_statistics_pooling_ignores_padding(encoder, rows):
    h = torch.randn(2, 7, 3)  # (B, T, D)
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])  # (B, T)
    got = masked_mean_std(h, mask).numpy()  # (B, 2D)
    valid = h[1, :4].numpy()
    np.testing.assert_allclose(got[1], np.r_[valid.mean(0), valid.std(0)], atol=1e-6)
    feats = cnn_features(encoder, rows)
    both = layer_embeddings(encoder, features=feats, pool=masked_mean_std)  # (L + 1, N, 2D)
    np.testing.assert_allclose(both[..., :64], layer_embeddings(encoder, features=feats), atol=1e-6)
    alone = layer_embeddings(encoder, features=feats[1:2], pool=masked_mean_std)
    np.testing.assert_allclose(alone[:, 0], both[:, 1], atol=1e-5, rtol=0)


def test_probe_separable_is_perfect_and_noise_is_chance():
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame(
        {
            "language": np.repeat(["en", "de"], n // 2),
            "emotion": np.tile(["angry", "happy", "sad", "neutral"], n // 4),
            "speaker": np.tile(["a", "b", "c"], n // 3),
        }
    )
    onehot = pd.get_dummies(df).to_numpy(float)  # (N, 4 + 3 + 2): one column per class
    sep = 10 * onehot + rng.normal(size=(3, n, onehot.shape[1]))  # (L + 1, N, D)
    noise = rng.normal(size=sep.shape)
    table = probe_table({"separable": sep, "noise": noise}, df, folds=5)
    assert table.loc["separable"].to_numpy().min() == pytest.approx(1.0)
    assert table.loc[("chance", "")].to_dict() == pytest.approx(
        {"emotion": 1 / 4, "speaker": 1 / 3, "language": 1 / 2}
    )
    assert (table.loc["noise"].to_numpy() < 0.75).all()
    assert list(table.index.get_level_values(1)[:3]) == ["L0", "L1", "L2"]


def test_probe_groups():
    df = pd.DataFrame(
        {"language": ["en"] * 7 + ["de"] * 5, "speaker": ["a"] * 5 + ["b"] * 2 + ["c"] * 5}
    )
    groups = probe_targets(df, "speaker")
    assert groups == []  # en keeps one speaker with >= 5 rows, de has one speaker
    df["emotion"] = ["x", "y"] * 3 + ["x"] + ["x", "y", "y", "x", "y"]
    (en, idx, y), (de, _, _) = probe_targets(df, "emotion", min_per_class=2)
    assert (en, de, idx.tolist(), "".join(y)) == ("en", "de", list(range(7)), "xyxyxyx")
    assert probe_targets(df, "emotion", min_per_class=4) == []  # one class left: no probe
    with pytest.raises(ValueError, match="not one of"):
        probe_targets(df, "gender")
    with pytest.raises(ValueError, match="speaker"):
        probe_table({"x": np.zeros((1, 12, 2))}, df, targets=["speaker"])
    with pytest.raises(ValueError, match="do not match"):
        probe_table({"x": np.zeros((1, 3, 2))}, df, targets=["emotion"], folds=3)
