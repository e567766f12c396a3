"""Keyword search over a small batch of papers held in memory: the papers one alert run
found new, matched against every followed search.

Why not the main index: a followed search asks "which of *these* papers match", and
the main index answers a query in time proportional to its whole posting lists (all
of arXiv), once per distinct search. An in-memory tantivy index of the batch, built
with the same schema, analyzers and query compiler as :mod:`paperfeed.search.keyword`,
answers with exactly the same matching rules in microseconds per query, whatever the
corpus size (measured in ``benchmarks/alerts.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import tantivy

from paperfeed.errors import InputError
from paperfeed.search.keyword import _register, build_schema, make_document, query_fields
from paperfeed.search.query import compile_query, parse_query
from paperfeed.storage.base import Row

#: tantivy's smallest writer heap is 15 MB; the batch needs far less.
_WRITER_HEAP = 15_000_000


class BatchIndex:
    """An in-memory index of ``rows`` (each with the ``INDEX_COLUMNS`` of
    :mod:`paperfeed.search.changelog`: id, title, abstract, authors, categories,
    feed_date, code_url, upvotes)."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.size = len(rows)
        self._index = tantivy.Index(build_schema())
        _register(self._index)
        self._fields = query_fields(self._index.schema)
        if rows:
            writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
            for row in rows:
                writer.add_document(make_document(row))
            writer.commit()
            writer.wait_merging_threads()
            self._index.reload()
        self._searcher = self._index.searcher()

    def top(self, query: str, limit: int) -> list[str]:
        """Ids of the best ``limit`` papers matching ``query`` (our search syntax, every
        word required), most relevant first; [] for a query search would refuse."""
        if self.size == 0 or limit <= 0:
            return []
        try:
            compiled = compile_query(parse_query(query).root, self._fields, "and")
        except InputError:
            return []
        # Read past the limit so equal scores (or unscored queries such as cat:) are
        # settled by id rather than by the order documents were added.
        result = self._searcher.search(compiled.query, min(limit + 64, self.size), count=False)
        hits = sorted(
            (
                (float(score), self._searcher.doc(address)["id"][0])
                for score, address in result.hits
            ),
            key=lambda hit: (-hit[0], hit[1]),
        )
        return [paper_id for _, paper_id in hits[:limit]]
