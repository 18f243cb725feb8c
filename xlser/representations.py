"""What a frozen encoder's layers know: mean-pooled embeddings per layer and linear probes.

The paper embeds an utterance as the mean of wav2vec 2.0's last-layer frames (eq. 4) and trains on
top of it. Before any training, a *linear probe* asks what such an embedding already holds: a
logistic regression trained on frozen, mean-pooled features of one layer predicts emotion, speaker
or language, and its cross-validated balanced accuracy is the answer (chance = 1 / classes).

:func:`layer_embeddings` runs the frozen encoder once and keeps every layer's pooled output::

    wave ─CNN (alone per utterance)─▶ (T_i, C) ─pad─▶ (B, T, C) ─proj─▶ (B, T, D)
         ─pos. conv + LN─▶ layer 0 ─▶ ... ─▶ layer L      each (B, T, D) ─masked mean─▶ (B, D)

Exact: the CNN runs on each utterance alone (:meth:`xlser.frontend.FrontendCache._compute`), and
padded frames are masked in attention and in pooling, so an utterance's embedding does not depend
on its batch. :func:`probe_table` turns embeddings of several encoders into one table.

>>> import torch
>>> from xlser.config import ModelConfig
>>> from xlser.encoder import load_encoder
>>> _ = torch.manual_seed(0)
>>> encoder, _ = load_encoder(ModelConfig(encoder="tiny"), "en")
>>> feats = [torch.randn(40, 32), torch.randn(25, 32)]  # CNN output of two utterances
>>> layer_embeddings(encoder, features=feats).shape  # (L + 1, N, D)
(3, 2, 64)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from xlser.frontend import FrontendCache, pad_frames
from xlser.world.probe import probe_accuracy

__all__ = [
    "cnn_embeddings",
    "cnn_features",
    "layer_embeddings",
    "masked_mean",
    "masked_mean_std",
    "probe_table",
    "probe_targets",
]

TARGETS = ("emotion", "speaker", "language")


def cnn_features(
    encoder: nn.Module, rows: pd.DataFrame, normalize: bool = True, progress: bool = False
) -> list[Tensor]:
    """The frozen CNN's output ``[(T_i, C)]`` (float16) of every file in ``rows["path"]``, each
    utterance through the CNN alone (no padding inside the CNN's group norm)."""
    if "path" not in rows:
        raise KeyError("rows needs a 'path' column (a manifest: xlser.data.manifest.read_manifest)")
    return FrontendCache._compute(encoder, rows, 16000, normalize, progress)


def cnn_embeddings(features: list[Tensor]) -> np.ndarray:
    """Mean over frames of each CNN output: ``[(T_i, C)]`` -> ``(N, C)`` float32."""
    return np.stack([f.float().mean(0).numpy() for f in features])


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean over the valid frames (the paper's eq. 4): ``(B, T, D)``, ``(B, T)`` -> ``(B, D)``."""
    m = mask[..., None].to(h.dtype)  # (B, T, 1)
    return (h * m).sum(1) / m.sum(1)


def masked_mean_std(h: Tensor, mask: Tensor) -> Tensor:
    """Statistics pooling, mean and standard deviation over valid frames: -> ``(B, 2D)``."""
    mean = masked_mean(h, mask)  # (B, D)
    var = masked_mean((h - mean[:, None]) ** 2, mask)  # (B, D)
    return torch.cat([mean, var.clamp_min(0).sqrt()], 1)


@torch.no_grad()
def layer_embeddings(
    encoder: nn.Module,
    rows: pd.DataFrame | None = None,
    batch_size: int = 32,
    features: list[Tensor] | None = None,
    normalize: bool = True,
    pool: Callable[[Tensor, Tensor], Tensor] = masked_mean,
) -> np.ndarray:
    """Pooled frames of every Transformer layer (masked mean by default), frozen, in eval mode.

    Args:
        encoder: a ``Wav2Vec2Model`` (any size; its mode is restored afterwards).
        rows: manifest rows (``path`` column) to embed; or give ``features``.
        batch_size: utterances per Transformer pass (the result does not depend on it).
        features: precomputed CNN outputs ``[(T_i, C)]`` (:func:`cnn_features`).
        normalize: zero-mean, unit-variance audio per utterance (the checkpoint's
            ``do_normalize``; only used with ``rows``).
        pool: ``(B, T, D)`` frames and ``(B, T)`` mask -> ``(B, P)``; :func:`masked_mean`
            (``P = D``) or e.g. :func:`masked_mean_std` (``P = 2D``).

    Returns:
        ``(L + 1, N, P)`` float32: index 0 is the input of the first Transformer layer (CNN ->
        feature projection -> positional convolution -> layer norm), index ``l`` the output of
        layer ``l``; with the default ``pool``, the last is the paper's eq. 4 embedding.
    """
    if features is None:
        if rows is None:
            raise ValueError("layer_embeddings needs rows (with a 'path' column) or features")
        features = cnn_features(encoder, rows, normalize)
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    out = []
    for i in range(0, len(features), batch_size):
        x, n = pad_frames([f.float() for f in features[i : i + batch_size]])  # (B, T, C), (B,)
        x, n = x.to(device), n.to(device)
        mask = torch.arange(x.shape[1], device=device)[None] < n[:, None]  # (B, T) True = frame
        h, _ = encoder.feature_projection(x)  # (B, T, D)
        hs = encoder.encoder(h, attention_mask=mask, output_hidden_states=True).hidden_states
        out.append(torch.stack([pool(s, mask) for s in hs]).float().cpu())  # (L + 1, B, P)
    encoder.train(was_training)
    return torch.cat(out, 1).numpy()  # (L + 1, N, P)


def probe_targets(rows: pd.DataFrame, target: str, min_per_class: int = 5):
    """Groups to probe ``target`` in: ``[(name, row positions, labels)]``.

    ``emotion`` and ``speaker`` are probed within each language (speakers belong to one language;
    an emotion probe across languages would partly learn the languages), ``language`` across all
    rows. Classes with fewer than ``min_per_class`` rows (the folds) are left out.
    """
    if target not in TARGETS:
        raise ValueError(f"probe target {target!r} is not one of {list(TARGETS)}")
    if target not in rows:
        raise KeyError(f"rows have no {target!r} column (a manifest has {list(TARGETS)})")
    labels = rows[target].astype(str).to_numpy()
    groups = (
        [("all", np.ones(len(rows), bool))]
        if target == "language"
        else [(g, (rows["language"] == g).to_numpy()) for g in rows["language"].unique()]
    )
    out = []
    for name, sel in groups:
        counts = pd.Series(labels[sel]).value_counts()
        keep = sel & np.isin(labels, counts.index[counts >= min_per_class])
        if len(np.unique(labels[keep])) >= 2:
            out.append((name, np.flatnonzero(keep), labels[keep]))
    return out


def probe_table(
    encoder_by_name: Mapping[str, nn.Module | np.ndarray],
    rows: pd.DataFrame,
    targets: Iterable[str] = TARGETS,
    folds: int = 5,
    seed: int = 0,
    cnn: bool = True,
) -> pd.DataFrame:
    """Linear-probe balanced accuracy of every layer of every encoder, per target.

    Args:
        encoder_by_name: ``{name: encoder}``; a value may instead be precomputed embeddings:
            an array ``(L + 1, N, D)`` from :func:`layer_embeddings`, or a dict
            ``{"cnn": (N, C), "layers": (L + 1, N, D)}``.
        rows: the utterances (``path``, ``emotion``, ``speaker``, ``language`` columns), in the
            order of any precomputed embeddings.
        targets: any of ``emotion``, ``speaker``, ``language`` (see :func:`probe_targets`).
        folds, seed: stratified k-fold cross-validation of the probe
            (:func:`xlser.world.probe.probe_accuracy`: standardised logistic regression).
        cnn: also probe the mean of the CNN output (layer ``"cnn"``).

    Returns:
        One row per (encoder, layer) and a last row ``("chance", "")``; one column per target:
        balanced accuracy, averaged over the languages for ``emotion`` and ``speaker``.
    """
    rows = rows.reset_index(drop=True)
    targets = list(targets)
    groups = {t: probe_targets(rows, t, folds) for t in targets}
    for t, g in groups.items():
        if not g:
            raise ValueError(f"no group of rows has two {t} classes with >= {folds} rows each")
    records = []
    for name, enc in encoder_by_name.items():
        for layer, X in _embeddings(enc, rows, cnn).items():
            rec = {"encoder": name, "layer": layer}
            for t in targets:
                accs = [
                    probe_accuracy(X[idx], y, seed=seed, folds=folds) for _, idx, y in groups[t]
                ]
                rec[t] = float(np.mean(accs))
            records.append(rec)
    chance = {t: float(np.mean([1 / len(np.unique(y)) for _, _, y in groups[t]])) for t in targets}
    records.append({"encoder": "chance", "layer": "", **chance})
    return pd.DataFrame(records).set_index(["encoder", "layer"])


def _embeddings(enc, rows: pd.DataFrame, cnn: bool) -> dict[str, np.ndarray]:
    """``{"cnn": (N, C), "L0": (N, D), ...}`` of an encoder or of precomputed embeddings."""
    if isinstance(enc, nn.Module):
        feats = cnn_features(enc, rows)
        enc = {"cnn": cnn_embeddings(feats), "layers": layer_embeddings(enc, features=feats)}
    if not isinstance(enc, Mapping):
        enc = {"layers": np.asarray(enc)}
    layers = np.asarray(enc["layers"])
    if layers.ndim != 3 or layers.shape[1] != len(rows):
        raise ValueError(f"embeddings of shape {layers.shape} do not match {len(rows)} rows")
    out = {"cnn": np.asarray(enc["cnn"])} if cnn and "cnn" in enc else {}
    return out | {f"L{i}": layers[i] for i in range(len(layers))}
