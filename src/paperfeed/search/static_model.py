"""The bulk embedding model: static token vectors distilled from the default model.

model2vec's recipe, computed here with our own ONNX runtime so no PyTorch and no
extra download is needed:

1. every WordPiece token of the vocabulary (except ``[unused*]`` and the special
   tokens) is embedded alone, as the text ``[CLS] token [SEP]``, by the default
   model, mean-pooled over the three positions;
2. PCA of those token vectors to ``dims`` dimensions (signs fixed so the build is
   deterministic);
3. each token vector is scaled by its SIF weight ``a / (a + p(rank))`` with ``p``
   Zipf's law over the token's rank (WordPiece vocabularies are in frequency order);
4. a text's vector is the mean of its tokens' vectors, L2-normalised.

A document then costs one tokenisation and a table look-up instead of a
transformer pass: thousands of papers per second on one core instead of ten.
The vectors live in a different space from the default model's, so they carry
their own model id and queries against them are embedded with this model too.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.progress import NullProgress, Progress
from paperfeed.search.minilm import MiniLMEncoder, build_tokenizer, file_sha256, vocabulary

#: Bump when the recipe changes: it is part of the model id, so vectors get re-made.
RECIPE_VERSION = 1
DEFAULT_DIMS = 256
SIF_COEFFICIENT = 1e-4
#: Tokens per text read by the static model (it has no attention cost per token).
MAX_TOKENS = 512
_SKIPPED_TOKEN = re.compile(r"^\[(?:unused\d+|PAD|UNK|CLS|SEP|MASK)\]$")
_BUILD_BATCH = 512
_WORD_CACHE = 500_000  # words -> token ids kept (~100 MB); cleared when full


def static_model_id(base_model_id: str, dims: int = DEFAULT_DIMS) -> str:
    """E.g. ``<default model id>/static-pca256-sif-v1``: the lineage stays readable."""
    return f"{base_model_id}/static-pca{dims}-sif-v{RECIPE_VERSION}"


def kept_token_ids() -> list[int]:
    """Ids of the tokens that get a vector, in rank (= id) order."""
    return [i for i, token in enumerate(vocabulary()) if not _SKIPPED_TOKEN.match(token)]


def distill(
    encoder: MiniLMEncoder,
    *,
    dims: int = DEFAULT_DIMS,
    token_ids: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """The (vocabulary x dims) float32 table; rows of skipped tokens are zero.

    ``token_ids`` restricts the build to some tokens (tests use a few hundred);
    the default is the whole kept vocabulary.
    """
    progress = progress or NullProgress()
    vocab_size = len(vocabulary())
    ids = np.array(sorted(set(token_ids)) if token_ids is not None else kept_token_ids())
    cls_id, sep_id = 101, 102
    token_vectors = np.zeros((len(ids), encoder.dim), dtype=np.float32)
    progress.start("Distilling the bulk model (one pass per token)", total=len(ids))
    for start in range(0, len(ids), _BUILD_BATCH):
        chunk = ids[start : start + _BUILD_BATCH]
        batch = np.stack(
            [np.full(len(chunk), cls_id), chunk, np.full(len(chunk), sep_id)], axis=1
        ).astype(np.int64)
        token_vectors[start : start + len(chunk)] = encoder.encode_ids(
            batch, np.ones_like(batch), normalize=False
        )
        progress.advance(len(chunk))
    progress.finish()
    # Raw (unnormalised) means, as model2vec: their norms carry how much a token says
    # (measured: normalising them first lost 2% MRR on title -> abstract retrieval).
    reduced = _pca(token_vectors.astype(np.float64), min(dims, len(ids) - 1, encoder.dim))
    ranks = np.arange(2, len(ids) + 2, dtype=np.float64)
    probability = (1.0 / ranks) / np.sum(1.0 / ranks)
    weights = SIF_COEFFICIENT / (SIF_COEFFICIENT + probability)
    table = np.zeros((vocab_size, reduced.shape[1]), dtype=np.float32)
    table[ids] = (reduced * weights[:, None]).astype(np.float32)
    return table


def _pca(matrix: np.ndarray, dims: int) -> np.ndarray:
    """Project onto the top ``dims`` principal axes, each axis's sign fixed (largest
    loading positive) so the same input always gives the same table."""
    centered = matrix - matrix.mean(axis=0)
    covariance = centered.T @ centered / max(1, len(matrix) - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    axes = eigenvectors[:, np.argsort(eigenvalues)[::-1][:dims]]
    signs = np.sign(axes[np.argmax(np.abs(axes), axis=0), np.arange(axes.shape[1])])
    return centered @ (axes * np.where(signs == 0, 1.0, signs))


class StaticEmbedder:
    """Embedder over a distilled token table: mean of token vectors, normalised."""

    #: Papers per database transaction in a sync: this model is fast, commits are not.
    batch_size_hint = 2048

    def __init__(self, table: np.ndarray, model_id: str) -> None:
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.model_id = model_id
        self.dim = int(table.shape[1])
        self.tokenizer = build_tokenizer(MAX_TOKENS)
        self.tokenizer.no_padding()
        self._words: dict[str, list[int]] = {}

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # One document at a time: its rows summed in token order, so a text's vector
        # never depends on its batch-mates (and no multi-threaded BLAS call: on a
        # busy box OpenBLAS's threads made a batched product 30x slower at times).
        for index, ids in enumerate(self._token_ids(texts)):
            if ids:
                out[index] = self.table[ids].sum(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's WordPiece ids (first :data:`MAX_TOKENS`).

        The tokenizer splits on whitespace before anything else, so each distinct
        whitespace-separated word is tokenised once and cached: 3-10x faster than
        tokenising whole texts, with the same ids (a word's pieces do not depend on
        its neighbours).
        """
        cache = self._words
        missing = {word for text in texts for word in text.split() if word not in cache}
        if len(cache) + len(missing) > _WORD_CACHE:
            cache.clear()
            missing = {word for text in texts for word in text.split()}
        if missing:
            words = list(missing)
            for word, encoding in zip(
                words, self.tokenizer.encode_batch(words, add_special_tokens=False), strict=True
            ):
                cache[word] = encoding.ids
        return [
            list(itertools.chain.from_iterable(cache[word] for word in text.split()))[:MAX_TOKENS]
            for text in texts
        ]

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


# -- the cached table under data_dir/models/ ---------------------------------------------


def model_directory(models_dir: Path, dims: int = DEFAULT_DIMS) -> Path:
    return models_dir / f"static-minilm-pca{dims}-v{RECIPE_VERSION}"


def load_static(directory: Path, base_model_id: str) -> StaticEmbedder | None:
    """The cached model if it is complete, intact and made from ``base_model_id``."""
    meta_path, table_path = directory / "meta.json", directory / "embeddings.npy"
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("base_model_id") != base_model_id or not table_path.is_file():
        return None
    if file_sha256(table_path) != meta.get("sha256"):
        return None  # damaged or half-written: the caller rebuilds it
    table = np.load(table_path, allow_pickle=False)
    return StaticEmbedder(table, meta["model_id"])


def build_static(
    directory: Path,
    encoder: MiniLMEncoder,
    base_model_id: str,
    *,
    dims: int = DEFAULT_DIMS,
    token_ids: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> StaticEmbedder:
    """Distil and save the table (atomically: a crash leaves no half model behind)."""
    table = distill(encoder, dims=dims, token_ids=token_ids, progress=progress)
    model_id = static_model_id(base_model_id, dims)
    if token_ids is not None:  # a partial vocabulary (tests) must not pass for the real model
        model_id += f"+{len(set(token_ids))}-tokens"
    directory.mkdir(parents=True, exist_ok=True)
    table_path = directory / "embeddings.npy"
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".npy", delete=False) as handle:
        np.save(handle, table, allow_pickle=False)
    os.chmod(handle.name, 0o644)  # temp files are 0600; readers may be other users
    os.replace(handle.name, table_path)
    meta = {
        "model_id": model_id,
        "base_model_id": base_model_id,
        "dims": int(table.shape[1]),
        "recipe": f"model2vec-style distillation v{RECIPE_VERSION}: single-token passes,"
        f" PCA {dims}, SIF a={SIF_COEFFICIENT} over Zipf ranks, mean pooling",
        "tokens": int(np.count_nonzero(np.abs(table).sum(axis=1))),
        "sha256": file_sha256(table_path),
    }
    _write_json(directory / "meta.json", meta)
    return StaticEmbedder(table, model_id)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, suffix=".json", delete=False, encoding="utf-8"
    ) as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.chmod(handle.name, 0o644)  # temp files are 0600; readers may be other users
    os.replace(handle.name, path)
