"""Shared by the keyword/service search tests: a small corpus with known answers and
a deterministic test embedder.

:class:`HashingEmbedder` is a test double of a *dependency* (the local embedding
model), not of our code: a real implementation of the ``Embedder`` protocol that
hashes a text's words into 64 dimensions, so papers sharing words get similar
vectors without loading a model. Everything else in these tests is the real thing:
databases, tantivy indexes, the vector index, the CLI in a subprocess.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.library import Library
from paperfeed.models import PaperRecord, SourceFacts


def record(arxiv_id: str | None, title: str, abstract: str, **overrides: Any) -> PaperRecord:
    values: dict[str, Any] = dict(
        source="arxiv",
        arxiv_id=arxiv_id,
        version=1 if arxiv_id else None,
        title=title,
        abstract=abstract,
        authors=["Ada Lovelace"],
        categories=["cs.LG"],
        published_at=datetime(2024, 10, 1, tzinfo=UTC),
        listed_on=date(2024, 10, 1),
        facts=SourceFacts(source="arxiv", external_id=arxiv_id) if arxiv_id else None,
    )
    values.update(overrides)
    return PaperRecord(**values)


#: Ten papers with distinct fields, so each query below has one right answer.
CORPUS: list[PaperRecord] = [
    record("2401.00001", "Denoising diffusion models for image synthesis",
           "We train diffusion models that generate images from noise.",
           authors=["Yann LeCun", "Ada Lovelace"], categories=["cs.CV", "cs.LG"],
           listed_on=date(2024, 1, 5), code_url="https://github.com/x/diffusion"),
    record("2401.00002", "Graph neural networks for molecules",
           "Message passing on molecular graphs predicts chemical properties.",
           authors=["Grace Hopper"], categories=["cs.LG", "q-bio.QM"],
           listed_on=date(2024, 1, 6)),
    record("2401.00003", "Neural graph rendering",
           "A renderer for scenes; diffusion of light is simulated on a graph.",
           authors=["Alan Turing"], categories=["cs.GR"], listed_on=date(2024, 1, 7)),
    record("2401.00004", "Sparse mixture of experts language models",
           "Routing tokens to experts scales language models cheaply.",
           authors=["Noam Shazeer", "Yann Dauphin"], categories=["cs.CL"],
           listed_on=date(2024, 2, 1), code_url="https://github.com/x/moe",
           facts=SourceFacts(source="huggingface", upvotes=40, featured_on=date(2024, 2, 1))),
    record("2401.00005", "Reinforcement learning from human feedback",
           "Language models are tuned with a reward model trained on preferences.",
           authors=["Lecun Yann"], categories=["cs.CL", "cs.LG"], listed_on=date(2024, 2, 2),
           facts=SourceFacts(source="huggingface", upvotes=90, featured_on=date(2024, 2, 2))),
    record("2401.00006", "Video generation with diffusion transformers",
           "Diffusion transformers generate long videos.",
           authors=["Ada Lovelace"], categories=["cs.CV"], listed_on=date(2024, 3, 1),
           facts=SourceFacts(source="huggingface", upvotes=15, featured_on=date(2024, 3, 1))),
    record("2401.00007", "Hinting at proofs with language models",
           "A model produces hints for theorem provers.",
           authors=["Geoffrey Hinton"], categories=["cs.LO"], listed_on=date(2024, 3, 2)),
    record("2401.00008", "Efficient attention with linear complexity",
           "Linear attention reduces the quadratic cost of transformers.",
           authors=["Ada Lovelace"], categories=["cs.LG"], listed_on=date(2024, 3, 3)),
    record("2401.00009", "A survey of self-supervised learning",
           "Contrastive and masked objectives for representation learning.",
           authors=["Alan Turing"], categories=["cs.LG", "stat.ML"],
           listed_on=date(2024, 3, 4)),
    record("2401.00010", "Protein structure prediction",
           "Folding proteins with attention over residues.",
           authors=["Grace Hopper"], categories=["q-bio.BM"], listed_on=date(2024, 3, 5),
           code_url="https://github.com/x/fold"),
]  # fmt: skip


def add(library: Library, *records: PaperRecord) -> None:
    IngestPipeline(library.storage).ingest_records(list(records))


def ids(results: Any) -> list[str]:
    hits = results.hits if hasattr(results, "hits") else results
    return [hit.paper.id for hit in hits]


_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Bag of words hashed into 64 dimensions, L2-normalised (see the module docstring)."""

    model_id = "test/hashing-bag-of-words-64"
    dim = 64

    def _one(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            vector[int.from_bytes(digest) % self.dim] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def embed_query(self, text: str) -> np.ndarray:
        return self._one(text)


def hashing_factory(settings: Any, *, bulk: bool = False, **_: Any) -> HashingEmbedder:
    return HashingEmbedder()


def no_model_factory(settings: Any, *, bulk: bool = False, **_: Any) -> None:
    return None
