"""A small corpus with known numbers for the trend, author and category tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.library import Library
from paperfeed.models import PaperRecord, SourceFacts

#: (id, feed day, title, authors, categories)
CORPUS: list[tuple[str, str, str, list[str], list[str]]] = [
    # March 2025: weeks of the 3rd, 10th and 24th
    ("2503.00001", "2025-03-03", "Diffusion models for images", ["José García", "Ada Lovelace"], ["cs.CV", "cs.LG"]),
    ("2503.00002", "2025-03-04", "Graph networks at scale", ["Alan Turing"], ["cs.LG"]),
    ("2503.00003", "2025-03-11", "Latent diffusion for video", ["Jose Garcia", "Grace Hopper"], ["cs.CV"]),
    ("2503.00004", "2025-03-12", "Flow matching made simple", ["Grace Hopper"], ["cs.LG", "stat.ML"]),
    ("2503.00005", "2025-03-25", "Robot grasping with language", ["Alan Turing", "J. García"], ["cs.RO"]),
    # April 2025: weeks of the 7th and 14th
    ("2504.00001", "2025-04-07", "Diffusion policies for robots", ["JOSÉ GARCÍA"], ["cs.RO", "cs.LG"]),
    ("2504.00002", "2025-04-08", "Flow matching for audio", ["Ada Lovelace"], ["cs.SD", "cs.LG"]),
    ("2504.00003", "2025-04-15", "Flow matching and diffusion unified", ["Xiao José García"], ["cs.LG"]),
    ("2504.00004", "2025-04-16", "Sparse attention kernels", ["Alan Turing"], ["cs.LG"]),
    # May 2025: one paper
    ("2505.00001", "2025-05-05", "Consistency models", ["Ada Lovelace"], ["cs.LG"]),
]  # fmt: skip


def corpus_records() -> list[PaperRecord]:
    records = []
    for arxiv_id, day, title, authors, categories in CORPUS:
        listed = date.fromisoformat(day)
        published = datetime(listed.year, listed.month, listed.day, 12, tzinfo=UTC)
        values: dict[str, Any] = dict(
            source="arxiv", arxiv_id=arxiv_id, version=1, title=title,
            abstract=f"We study {title.lower()}.", authors=authors, categories=categories,
            published_at=published, updated_at=published, listed_on=listed,
            facts=SourceFacts(source="arxiv", external_id=arxiv_id),
        )  # fmt: skip
        records.append(PaperRecord(**values))
    return records


@pytest.fixture
def corpus_library(library: Library) -> Library:
    IngestPipeline(library.storage).ingest_records(corpus_records())
    library.sync_search(embed=False)
    return library
