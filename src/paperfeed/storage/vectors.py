"""Paper embeddings (``paper_vectors``): the database copy the ANN files are rebuilt from.

Vectors are stored as little-endian float16 bytes (768 bytes for 384 dimensions):
half of float32, and cosine scores move by less than 1e-3. SQLite stores them as
BLOB, PostgreSQL as BYTEA (psycopg hands back ``bytes``; ``memoryview`` is accepted too).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from paperfeed.storage.base import Database, Row, Transaction

_CHUNK = 500  # ids per IN (...) list
_VECTOR_DTYPE = np.dtype("<f2")


def _params(model_id: str, every: bool) -> tuple[str, ...]:
    return ("", "") if every else (model_id,)


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=_VECTOR_DTYPE).tobytes()


def vector_from_bytes(blob: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype=_VECTOR_DTYPE)


@dataclass(slots=True)
class VectorRow:
    """One embedding to write."""

    paper_id: str
    model_id: str
    text_hash: str
    paper_hash: str
    vector: np.ndarray  # (dim,), any float dtype; stored as float16


@dataclass(slots=True)
class Candidate:
    """A paper whose vector may be missing or stale, with what is needed to decide."""

    paper_id: str
    title: str
    abstract: str
    paper_hash: str
    model_id: str | None  # of the stored vector, None when there is none
    text_hash: str | None


_STALE_FROM = (
    " FROM papers p LEFT JOIN paper_vectors v ON v.paper_id = p.id"
    " WHERE (v.paper_id IS NULL OR v.model_id <> ? OR v.paper_hash <> p.content_hash)"
)


# Always true, so the statements above take the same parameters.
_ALL_FROM = " FROM papers p LEFT JOIN paper_vectors v ON v.paper_id = p.id WHERE ? = ?"


class VectorStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- what needs embedding ------------------------------------------------------------

    def candidates(
        self,
        model_id: str,
        *,
        after_id: str = "",
        limit: int = 1000,
        paper_ids: Sequence[str] | None = None,
        every: bool = False,
    ) -> list[Candidate]:
        """Papers without a vector from ``model_id`` or changed since it was made.

        Without ``paper_ids``: one page of the whole table in id order after
        ``after_id`` (keyset paging keeps each query cheap at a million papers).
        With ``paper_ids``: those papers only (a sync following the change log).
        Whether the embedded text really changed is decided by the caller from
        ``text_hash``: a new upvote count changes ``paper_hash`` but not the text.
        ``every`` lists current papers too (re-embedding everything).
        """
        select = "SELECT p.id, p.title, p.abstract, p.content_hash, v.model_id, v.text_hash" + (
            _ALL_FROM if every else _STALE_FROM
        )
        rows: list[Row] = []
        with self.db.transaction(readonly=True) as tx:
            if paper_ids is None:
                rows = tx.query(
                    select + " AND p.id > ? ORDER BY p.id LIMIT ?",
                    (*_params(model_id, every), after_id, limit),
                )
            else:
                unique = sorted(set(paper_ids))
                for start in range(0, len(unique), _CHUNK):
                    chunk = unique[start : start + _CHUNK]
                    marks = ", ".join("?" * len(chunk))
                    rows += tx.query(
                        select + f" AND p.id IN ({marks}) ORDER BY p.id",
                        (*_params(model_id, every), *chunk),
                    )
        return [
            Candidate(r["id"], r["title"], r["abstract"], r["content_hash"], r["model_id"],
                      r["text_hash"])
            for r in rows
        ]  # fmt: skip

    def count_candidates(self, model_id: str, *, every: bool = False) -> int:
        sql = "SELECT COUNT(*)" + (_ALL_FROM if every else _STALE_FROM)
        return int(self.db.scalar(sql, _params(model_id, every)) or 0)

    # -- writes --------------------------------------------------------------------------

    def upsert(self, tx: Transaction, rows: Sequence[VectorRow], at: str) -> None:
        tx.executemany(
            "INSERT INTO paper_vectors"
            " (paper_id, model_id, text_hash, paper_hash, dim, vector, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (paper_id) DO UPDATE SET model_id = excluded.model_id,"
            " text_hash = excluded.text_hash, paper_hash = excluded.paper_hash,"
            " dim = excluded.dim, vector = excluded.vector, created_at = excluded.created_at",
            [
                (r.paper_id, r.model_id, r.text_hash, r.paper_hash, int(r.vector.shape[-1]),
                 vector_bytes(r.vector), at)
                for r in rows
            ],
        )  # fmt: skip

    def mark_current(self, tx: Transaction, pairs: Sequence[tuple[str, str]]) -> None:
        """Record ``(paper_id, paper_hash)``: the paper changed but its embedded text did not."""
        tx.executemany(
            "UPDATE paper_vectors SET paper_hash = ? WHERE paper_id = ?",
            [(paper_hash, paper_id) for paper_id, paper_hash in pairs],
        )

    def delete(self, tx: Transaction, paper_ids: Sequence[str]) -> None:
        tx.executemany("DELETE FROM paper_vectors WHERE paper_id = ?", [(i,) for i in paper_ids])

    def delete_all(self) -> int:
        with self.db.transaction() as tx:
            return tx.execute("DELETE FROM paper_vectors")

    # -- reads ---------------------------------------------------------------------------

    def get(self, paper_id: str) -> tuple[str, np.ndarray] | None:
        """``(model_id, float16 vector)`` of a paper, if it has one."""
        row = self.db.query_one(
            "SELECT model_id, vector FROM paper_vectors WHERE paper_id = ?", (paper_id,)
        )
        return None if row is None else (row["model_id"], vector_from_bytes(row["vector"]))

    def vectors_for(self, paper_ids: Sequence[str], model_id: str) -> dict[str, np.ndarray]:
        """Float16 vectors from ``model_id`` of those of ``paper_ids`` that have one."""
        found: dict[str, np.ndarray] = {}
        unique = sorted(set(paper_ids))
        with self.db.transaction(readonly=True) as tx:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                for row in tx.query(
                    f"SELECT paper_id, vector FROM paper_vectors"
                    f" WHERE model_id = ? AND paper_id IN ({marks})",
                    (model_id, *chunk),
                ):
                    found[row["paper_id"]] = vector_from_bytes(row["vector"])
        return found

    def models_for(self, paper_ids: Sequence[str]) -> dict[str, str]:
        """The model of each stored vector among ``paper_ids`` (papers without one left out)."""
        found: dict[str, str] = {}
        unique = sorted(set(paper_ids))
        with self.db.transaction(readonly=True) as tx:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                for row in tx.query(
                    f"SELECT paper_id, model_id FROM paper_vectors WHERE paper_id IN ({marks})",
                    chunk,
                ):
                    found[row["paper_id"]] = row["model_id"]
        return found

    def iterate(
        self, model_id: str, *, batch_size: int = 20_000
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        """All vectors of ``model_id`` in paper-id order, as ``(ids, float16 matrix)`` pages."""
        after = ""
        while True:
            rows = self.db.query(
                "SELECT paper_id, vector FROM paper_vectors WHERE model_id = ? AND paper_id > ?"
                " ORDER BY paper_id LIMIT ?",
                (model_id, after, batch_size),
            )
            if not rows:
                return
            ids = [row["paper_id"] for row in rows]
            matrix = np.stack([vector_from_bytes(row["vector"]) for row in rows])
            yield ids, matrix
            after = ids[-1]

    def counts(self) -> dict[str, int]:
        """Vectors per model id."""
        rows = self.db.query(
            "SELECT model_id, COUNT(*) AS n FROM paper_vectors GROUP BY model_id ORDER BY model_id"
        )
        return {row["model_id"]: int(row["n"]) for row in rows}
