"""The all-MiniLM-L6-v2 encoder: the ONNX graph computes the sentence-transformers model (checked
against a plain NumPy evaluation of the same weights), the same vector for a message however it
is batched, and vectors that carry meaning."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from safetensors.numpy import load_file

from bot.nlp.encoder import model_directory, shared_encoder

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MESSAGES = [
    "the other agency closed the case last week and I still think the family needs support",
    "not resolved",
    "ASC-100042",
    "",
]


@pytest.fixture(scope="module")
def encoder():
    return shared_encoder()


def numpy_minilm(ids: list[int]) -> np.ndarray:
    """BERT as sentence-transformers runs all-MiniLM-L6-v2, one message, written out in NumPy."""
    directory = model_directory()
    w = load_file(str(directory / "model.safetensors"))
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    heads, eps = config["num_attention_heads"], config["layer_norm_eps"]

    def norm(x, prefix):
        mean, variance = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + eps) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

    def dense(x, prefix):
        return x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]

    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
    x = norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    size = x.shape[1] // heads
    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}"
        q, k, v = (dense(x, f"{p}.attention.self.{n}").reshape(len(ids), heads, size).transpose(1, 0, 2) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(size)
        attention = np.exp(scores - scores.max(-1, keepdims=True))
        attention /= attention.sum(-1, keepdims=True)
        context = (attention @ v).transpose(1, 0, 2).reshape(len(ids), -1)
        x = norm(dense(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        h = dense(x, f"{p}.intermediate.dense")
        gelu = 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))
        x = norm(dense(gelu, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def test_the_graph_computes_the_model_as_numpy_does(encoder):
    for message in MESSAGES[:3]:
        expected = numpy_minilm(encoder.tokenizer.encode(message).ids)
        np.testing.assert_allclose(encoder.encode([message])[0], expected, atol=1e-5)


def test_a_message_gets_the_same_vector_alone_and_padded_in_a_batch(encoder):
    together = encoder.encode(MESSAGES)
    for message, vector in zip(MESSAGES, together):
        np.testing.assert_allclose(encoder.encode([message])[0], vector, atol=1e-5)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_paraphrases_are_near_and_unrelated_messages_far(encoder):
    disagree, paraphrase, unrelated = encoder.encode(
        [
            "I disagree with the decision to close the case",
            "I don't agree with their decision to close this case",
            "book me a table for two at an Italian restaurant",
        ]
    )
    assert float(disagree @ paraphrase) > 0.8
    assert float(disagree @ unrelated) < 0.2
