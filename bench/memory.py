"""Activation memory kept for backward on wav2vec2-base, and the padding of hierarchical batches.

Part 1 (deterministic, machine-independent). One training-mode forward of the SER model with PEFT on
a random-init wav2vec2-base (:func:`xlser.model.build_model`; LayerDrop off so every layer runs),
under :func:`torch.autograd.graph.saved_tensors_hooks`: the bytes of every tensor autograd saves for
backward, counted once per storage, leaving out the parameters, buffers and the input waveform. Four
variants: CNN front end frozen (``encoder.freeze_feature_encoder()``) or not, fp32 or bf16 (CPU
autocast). "Not frozen" is what ``apply_peft`` leaves: its CNN weights do not train, but HF's
feature encoder still marks its input as requiring grad, so autograd keeps the CNN's activations.
A fifth row sets attention dropout to 0, which lets CPU SDPA use its fused kernel (the
math kernel it falls back to with dropout keeps the ``T x T`` attention matrices; CUDA's fused
kernels keep none, dropout or not). Reported per audio-second at each clip length (attention
grows with its square); bf16 copies of weights are a per-step cost, listed apart.

Part 2. The padding fraction (zero samples / all samples of the padded tensors) of 3 x 4 x 3
hierarchical batches (:class:`xlser.sampler.HierarchicalBatchSampler`) over one epoch of each of the
paper's three multilingual training sets, and of validation batches of 16. The durations are
*modelled*, not measured: per corpus, a distribution with the corpus's typical length, sized like
the paper's Table 1 splits (MELD: log-normal, mean 3.2 s, long tail to tens of seconds; ESD ~2.9 s;
EMO-DB ~2.8 s; CaFE ~4.3 s; URDU uniform 1-3 s); emotions are drawn independently of length.
Variants: whole utterances vs the 10 s training crop; each 36-batch run as one padded tensor vs as
length-sorted chunks of 12; validation in manifest order vs sorted by duration.

Usage: ``.venv/bin/python bench/memory.py [--seconds 3 10] [--skip-activations]``
"""

from __future__ import annotations

import argparse
import contextlib
import math

import numpy as np
import torch
from _common import emit, setup

from xlser.config import ExperimentConfig
from xlser.data.splits import PAPER_SIZES
from xlser.model import build_model
from xlser.sampler import HierarchicalBatchSampler

SR = 16000
MB = 2**20

# ----------------------------------------------------------------------------- part 1


class SavedBytes:
    """``saved_tensors_hooks`` that sum the bytes of saved tensors, once per storage.

    Parameters, buffers and the input (``exclude``) are left out; cast copies of parameters (a saved
    tensor with a parameter's shape but another dtype: autocast's bf16 weights) are summed apart,
    as ``weight_copies``: they are a per-step cost, not activations.
    """

    def __init__(self, exclude: list[torch.Tensor], params: list[torch.Tensor]) -> None:
        self.exclude = {t.untyped_storage().data_ptr() for t in exclude}
        self.param_shapes = {(tuple(p.shape), p.dtype) for p in params}
        self.shapes = {shape for shape, _ in self.param_shapes}
        self.activations: dict[int, int] = {}
        self.weight_copies: dict[int, int] = {}
        self.keep: list[torch.Tensor] = []  # hold them: no storage is freed and its address reused

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr and ptr not in self.exclude:
            shape = tuple(t.shape)
            is_copy = shape in self.shapes and (shape, t.dtype) not in self.param_shapes
            (self.weight_copies if is_copy else self.activations)[ptr] = st.nbytes()
            self.keep.append(t)
        return t

    @staticmethod
    def unpack(t: torch.Tensor) -> torch.Tensor:
        return t


def base_model(n_speakers: int = 12) -> torch.nn.Module:
    """The full profile's model on a random-init wav2vec2-base (no download), LayerDrop off."""
    cfg = ExperimentConfig.from_profile(
        "full",
        **{
            "model.encoder": "facebook/wav2vec2-base",
            "model.random_init": True,
            "model.layerdrop": 0.0,  # every layer runs: the count is deterministic
        },
    )
    torch.manual_seed(0)
    return build_model(cfg, n_speakers=n_speakers).train()


def configure(model: torch.nn.Module, frozen_cnn: bool, attention_dropout: float) -> None:
    """Frozen CNN (``freeze_feature_encoder``) or HF's default (it keeps the CNN's backward graph
    even though ``apply_peft`` froze its weights); attention dropout of every layer."""
    fe = model.encoder.feature_extractor
    if frozen_cnn:
        model.encoder.freeze_feature_encoder()
    else:
        fe._requires_grad = True  # HF's default: the CNN input is marked as requiring grad
    for m in model.modules():
        if type(m).__name__.endswith("Attention") and hasattr(m, "dropout"):
            m.dropout = attention_dropout


def saved_bytes(model: torch.nn.Module, seconds: float, bf16: bool) -> tuple[int, int]:
    """(activation bytes, weight-copy bytes) autograd keeps after one forward of one clip."""
    x = torch.randn(1, int(seconds * SR), generator=torch.Generator().manual_seed(0))
    params = list(model.parameters())
    hooks = SavedBytes([*params, *model.buffers(), x], params)
    amp = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with torch.autograd.graph.saved_tensors_hooks(hooks.pack, hooks.unpack), amp:
        out = model(x, torch.tensor([x.shape[1]]))
    result = sum(hooks.activations.values()), sum(hooks.weight_copies.values())
    del out, hooks
    return result


VARIANTS = (  # (CNN frozen, bf16, attention dropout)
    (False, False, 0.1),
    (False, True, 0.1),
    (True, False, 0.1),
    (True, True, 0.1),
    (True, True, 0.0),
)


def activations(seconds: tuple[float, ...]) -> list[dict]:
    model = base_model()
    p_drop = model.encoder.config.attention_dropout
    rows = []
    for frozen, bf16, drop in VARIANTS:
        drop = p_drop if drop else 0.0
        configure(model, frozen, drop)
        got = [saved_bytes(model, s, bf16) for s in seconds]
        rows.append(
            {
                "cnn": "frozen" if frozen else "not frozen",
                "precision": "bf16" if bf16 else "fp32",
                "attention_dropout": drop,
                "activations_mb": {f"{s:g}s": round(a / MB, 1) for s, (a, _) in zip(seconds, got)},
                "mb_per_audio_s": {
                    f"{s:g}s": round(a / MB / s, 2) for s, (a, _) in zip(seconds, got)
                },
                "weight_copies_mb": round(got[0][1] / MB, 1),
            }
        )
    return rows


# ----------------------------------------------------------------------------- part 2


def lognormal(rng: np.random.Generator, n: int, mean: float, sigma: float) -> np.ndarray:
    """``n`` log-normal draws with the given mean (``mu = ln(mean) - sigma^2 / 2``)."""
    return rng.lognormal(math.log(mean) - sigma**2 / 2, sigma, n)


def modelled_durations(corpus: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Modelled clip durations in seconds (not measured ones) of ``n`` clips of ``corpus``."""
    if corpus == "meld":  # TV dialogue turns: short typical, long tail (tens of seconds)
        d = lognormal(rng, n, 3.2, 0.75)
    elif corpus == "esd":  # read sentences, narrow spread
        d = rng.normal(2.9, 0.6, n)
    elif corpus == "emodb":
        d = lognormal(rng, n, 2.8, 0.45)
    elif corpus == "cafe":
        d = lognormal(rng, n, 4.3, 0.3)
    elif corpus == "urdu":
        d = rng.uniform(1.0, 3.0, n)
    else:
        raise ValueError(f"no duration model for corpus {corpus!r}")
    return np.clip(d, 0.3, 60.0)


CORPUS_LANGUAGE = {"meld": "en", "esd": "zh", "emodb": "de", "cafe": "fr", "urdu": "ur"}
TRAINING_SETS = {  # target -> the multilingual systems' training languages (source + non-target)
    "de": ("en", "zh", "fr", "ur"),
    "fr": ("en", "zh", "de", "ur"),
    "zh": ("en", "de", "fr", "ur"),
}


def corpus_table(seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Per language: modelled train/val durations and random emotions, Table 1-sized."""
    rng = np.random.default_rng(seed)
    out = {}
    for corpus, lang in CORPUS_LANGUAGE.items():
        n_train, n_val, _ = PAPER_SIZES[corpus]
        out[lang] = {
            "train": modelled_durations(corpus, n_train, rng),
            "val": modelled_durations(corpus, n_val, rng),
            "emotion": rng.integers(0, 4, n_train),
        }
    return out


def pad_fraction(chunks: list[np.ndarray]) -> float:
    """Zero samples / all samples when each chunk of durations is one padded tensor."""
    real = sum(float(c.sum()) for c in chunks)
    padded = sum(len(c) * float(c.max()) for c in chunks)
    return 1 - real / padded


def padding(seed: int = 0, chunk: int = 12, eval_batch: int = 16) -> list[dict]:
    table = corpus_table(seed)
    rows = []
    for target, langs in TRAINING_SETS.items():
        dur = np.concatenate([table[lang]["train"] for lang in langs])
        lang_of = np.concatenate([[lang] * len(table[lang]["train"]) for lang in langs])
        emo = np.concatenate([table[lang]["emotion"] for lang in langs])
        sampler = HierarchicalBatchSampler(lang_of, emo, 3, 4, 3, seed=seed)
        batches = [dur[np.asarray(b)] for b in sampler]  # one epoch, (36,) each
        cropped = [np.minimum(b, 10.0) for b in batches]

        def sorted_chunks(bs, k=chunk):
            return [c for b in bs for c in np.array_split(np.sort(b), len(b) // k)]

        val = np.concatenate([table[lang]["val"] for lang in langs])
        in_order = [val[i : i + eval_batch] for i in range(0, len(val), eval_batch)]
        by_length = np.sort(val)
        sorted_val = [by_length[i : i + eval_batch] for i in range(0, len(val), eval_batch)]
        rows.append(
            {
                "target": target,
                "train_languages": list(langs),
                "n_train": len(dur),
                "batches": len(batches),
                "train_whole": pad_fraction(batches),
                "train_crop10": pad_fraction(cropped),
                "train_crop10_sorted_chunks": pad_fraction(sorted_chunks(cropped)),
                "val_in_order": pad_fraction(in_order),
                "val_sorted": pad_fraction(sorted_val),
                "mean_s": float(dur.mean()),
                "max_s": float(dur.max()),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, nargs="+", default=[3.0, 10.0])
    ap.add_argument("--skip-activations", action="store_true", help="padding fractions only")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    setup(args.threads)
    record: dict = {"bench": "memory"}
    if not args.skip_activations:
        secs = tuple(args.seconds)
        print(
            "activation memory kept for backward: wav2vec2-base (random init) + PEFT, train mode, "
            f"one clip of {' s and '.join(f'{s:g}' for s in secs)} s; saved-tensor bytes once "
            "per storage, without parameters, the input and cast weight copies"
        )
        rows = activations(secs)
        head = "".join(f"{f'MiB/s @{s:g}s':>12}" for s in secs)
        print(f"{'CNN':>11} {'precision':>9} {'attn drop':>9}{head} {'weight copies':>14}")
        for r in rows:
            per_s = "".join(f"{v:>12.1f}" for v in r["mb_per_audio_s"].values())
            print(
                f"{r['cnn']:>11} {r['precision']:>9} {r['attention_dropout']:>9g}{per_s} "
                f"{r['weight_copies_mb']:>10.1f} MiB"
            )
        print(
            "(attention dropout > 0 sends CPU SDPA to its math kernel, which keeps the T x T "
            "attention matrices; the fused kernel (dropout 0 on CPU; CUDA flash/mem-efficient, "
            "with dropout too) keeps none)"
        )
        base, cand = rows[0], rows[3]  # not frozen fp32 vs frozen bf16, same attention path
        key = f"{secs[0]:g}s"
        ratio = base["mb_per_audio_s"][key] / cand["mb_per_audio_s"][key]
        print(
            f"per audio-second at {key}: not frozen fp32 {base['mb_per_audio_s'][key]:.1f} MiB vs "
            f"frozen bf16 {cand['mb_per_audio_s'][key]:.1f} MiB: {ratio:.2f}x less; "
            f"with the fused attention kernel {rows[4]['mb_per_audio_s'][key]:.1f} MiB"
        )
        key2 = f"{secs[-1]:g}s"
        gib = [r["mb_per_audio_s"][key2] * 360 / 1024 for r in (base, cand, rows[4])]
        print(
            f"a 36 x {secs[-1]:g} s batch keeps about {gib[0]:.1f} / {gib[1]:.1f} / {gib[2]:.1f} "
            "GiB of activations (the three rows above)"
        )
        record.update(
            baseline="fp32, CNN not frozen (HF keeps its backward graph)",
            candidate="bf16 autocast, CNN frozen (freeze_feature_encoder)",
            metric=f"MiB of saved activations per audio-second at {key}; ratio = baseline / candidate",
            ratio=round(ratio, 2),
            seconds=list(secs),
            activations=rows,
        )
    print("\npadding fraction of one epoch's batches, modelled durations (Table 1 sizes):")
    pads = padding()
    print(
        f"{'target':>6} {'train n':>8} {'whole':>7} {'crop 10s':>9} {'+sorted 3x12':>13} "
        f"{'val order':>10} {'val sorted':>11}"
    )
    for p in pads:
        print(
            f"{p['target']:>6} {p['n_train']:>8} {100 * p['train_whole']:>6.1f}% "
            f"{100 * p['train_crop10']:>8.1f}% {100 * p['train_crop10_sorted_chunks']:>12.1f}% "
            f"{100 * p['val_in_order']:>9.1f}% {100 * p['val_sorted']:>10.1f}%"
        )
    print(
        "(durations are modelled per corpus, not measured; 'whole': no crop; 'crop 10s': the "
        "training crop; '+sorted 3x12': each batch run as 3 length-sorted chunks of 12)"
    )
    if "ratio" not in record:
        whole = float(np.mean([p["train_whole"] for p in pads]))
        crop = float(np.mean([p["train_crop10"] for p in pads]))
        record.update(
            baseline="padding fraction, whole utterances",
            candidate="padding fraction, 10 s crop",
            metric="mean padding fraction over the three training sets; ratio = baseline / candidate",
            ratio=round(whole / crop, 2),
        )
    record.update(batch="3x4x3", eval_batch=16, padding=pads)
    emit(record)


if __name__ == "__main__":
    main()
