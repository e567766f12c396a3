"""The contract every source follows.

A source yields :class:`SourceBatch` objects. The ingest pipeline commits each
batch's records *and* its ``checkpoint`` in one transaction, so a run killed at
any point resumes from the last committed batch: pass the stored checkpoint
back as ``resume`` and the source continues after it. Sources never touch
storage themselves; parsing stays separate from saving.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from paperfeed.models import PaperRecord


@dataclass(slots=True)
class SourceBatch:
    records: list[PaperRecord]
    # JSON-serialisable state that lets the source continue *after* this batch.
    checkpoint: dict[str, Any] | None = None
    # Expected total number of records, when the source knows it (progress bars).
    total: int | None = None
    notes: list[str] = field(default_factory=list)


class Source(Protocol):
    """A resumable producer of paper records."""

    #: Name under which checkpoints are stored, e.g. ``arxiv-oai:cs:2024-01-01``.
    checkpoint_key: str

    def batches(self, resume: dict[str, Any] | None = None) -> Iterator[SourceBatch]: ...
