"""Paper vectors: embedding from the change log, and the nearest-neighbour index files.

The database (``paper_vectors``) holds every paper's vector and is the source of
truth; the files under ``data_dir/index/vectors/`` are a derived cache for fast
search, updated incrementally from the change log and rebuildable from the
database at any time. They are plain ``.npy`` arrays (memory-mapped, no pickle)
and one JSON state file::

    state.json          model id, dim, generation, slots used, live count, change-log watermark
    vectors.<g>.npy     float16 (capacity, dim): the vectors, as stored in the database
    codes.<g>.npy       uint8 (capacity, 128): 1024 sign bits of random projections (np.packbits)
    ids.<g>.npy         S64 (capacity,): paper id of each slot
    alive.<g>.npy       uint8 (capacity,): 0 marks a deleted or superseded slot (tombstone)

Two steps keep them current, and on a team server they run in different places:

* **embedding** (:meth:`VectorIndex.embed`, the ``index-sync`` job on whichever
  worker claims it) writes vectors of new or changed papers to ``paper_vectors``
  and logs a ``vector`` change for each in ``paper_changes``; its cursor in the
  change log is kept in the database (checkpoint :data:`EMBEDDING_KEY`), so it is
  done once for all nodes and any worker continues where another stopped;
* **following** (:meth:`VectorIndex.follow`, every node for its own data dir)
  copies the database's vectors into the files from the change log; it needs no
  model, so a web node never embeds documents.

Updates append to the unused tail of the arrays and tombstone replaced slots,
then publish the new slot count by replacing ``state.json`` (readers never see a
half-written row). When the arrays are full, or tombstones pass a quarter of the
slots, the files are rebuilt from the database under the next generation number.

Search is exact (float32 dot products with every live vector) up to
``exact_limit`` vectors. Above it, a Hamming scan of the sign codes (faiss's
``hammings`` if installed, numpy otherwise) picks every vector within the
distance of the ``rerank``-th closest, and those are re-scored exactly; above
``prefix_limit`` a scan of the codes' first 256 bits narrows the field first.
Results are ordered by score, ties by paper id, and every candidate set depends
only on the set of vectors, never on slot order, so a rebuilt index answers
exactly as the incrementally updated one.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.errors import StorageError
from paperfeed.models import utc_now
from paperfeed.progress import NullProgress, Progress
from paperfeed.search.changelog import VECTOR_CHANGE, ChangeCursor, log_origin
from paperfeed.search.embed import Embedder, passage, text_hash
from paperfeed.storage import Storage
from paperfeed.storage.values import instant_text
from paperfeed.storage.vectors import Candidate, VectorRow

FORMAT = 1
#: Up to this many vectors, search is an exact scan (20k x 384 float32: 30 MB, ~1 ms).
EXACT_LIMIT = 20_000
#: Above this many, the Hamming scan runs in two stages (see :meth:`VectorIndex.search`).
PREFIX_LIMIT = 250_000
PREFIX_BITS = 256
PREFIX_POOL = 30  # first-stage pool: this many times the re-rank pool
#: Candidates re-scored exactly after the Hamming scan.
RERANK = 1000
#: Bits of the sign code of each vector (128 bytes).
CODE_BITS = 1024
ID_BYTES = 64
_COMPACT_FRACTION = 0.25
_COMPACT_MIN = 1024  # tombstones tolerated whatever the fraction (small indexes)
_CANDIDATE_PAGE = 2000
_SCORE_MARGIN = 1e-4  # > float32 rounding of a 384-term dot product of unit vectors
_CHANGES_PER_STEP = 10_000  # change-log rows applied (and published) per step
#: Checkpoint holding the embedding step's cursor in the change log (shared by all nodes).
EMBEDDING_KEY = "search:embedding"
#: A follower this many changes behind (or a quarter of its vectors) rebuilds instead.
_FOLLOW_REBUILD_MIN = 50_000


class IndexBusy(StorageError):
    """Another process is updating the same vector index."""


@dataclass(slots=True)
class _Snapshot:
    """Arrays of one published state, for searching."""

    key: tuple[int, int, int]
    state: dict[str, Any]
    ids: np.ndarray  # S64 (slots,)
    vectors: np.ndarray  # float16 (slots, dim), memory-mapped
    codes: np.ndarray  # uint8 (slots, CODE_BITS/8)
    dead: np.ndarray  # slot numbers of tombstones
    dense: np.ndarray | None  # float32 copy for exact search
    prefix: np.ndarray | None  # contiguous first PREFIX_BITS of the codes (large indexes)


class VectorIndex:
    def __init__(
        self,
        storage: Storage,
        directory: Path,
        *,
        exact_limit: int = EXACT_LIMIT,
        rerank: int = RERANK,
        prefix_limit: int = PREFIX_LIMIT,
        lock_timeout: float = 0.0,
    ) -> None:
        self.storage = storage
        self.directory = Path(directory)
        self.exact_limit = exact_limit
        self.rerank = rerank
        self.prefix_limit = prefix_limit
        self.lock_timeout = lock_timeout
        self._snapshot: _Snapshot | None = None

    # -- state -----------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.directory / "state.json"

    def read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.state_path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StorageError(
                f"vector index state {self.state_path} is unreadable ({exc}):"
                " run paperfeed index rebuild"
            ) from exc
        return state if state.get("format") == FORMAT else None

    @property
    def model_id(self) -> str | None:
        """Model of the vectors the index holds: queries must be embedded with it."""
        state = self.read_state()
        return state.get("model_id") if state else None

    @property
    def target_model_id(self) -> str | None:
        """The model the database's vectors are made with (being switched to, while an
        unfinished ``paperfeed embed`` runs), else :attr:`model_id`: the model a sync
        should embed with."""
        shared = self.embedding_state()
        if shared and shared.get("model_id"):
            return str(shared["model_id"])
        state = self.read_state()
        return state.get("model_id") if state else None

    def embedding_state(self) -> dict[str, Any] | None:
        """The embedding step's checkpoint: ``model_id``, ``complete`` (False while a
        first embedding or a model switch runs), ``origin`` and its change cursor."""
        found = self.storage.checkpoints.get(EMBEDDING_KEY)
        return found[0] if found else None

    def _save_embedding_state(self, state: dict[str, Any]) -> None:
        with self.storage.db.transaction() as tx:
            self.storage.checkpoints.save(tx, EMBEDDING_KEY, state, done=bool(state["complete"]))

    def _files(self, generation: int) -> dict[str, Path]:
        return {
            name: self.directory / f"{name}.{generation}.npy"
            for name in ("vectors", "codes", "ids", "alive")
        }

    def _write_state(self, state: dict[str, Any]) -> None:
        state = {**state, "format": FORMAT, "updated_at": instant_text(utc_now())}
        with tempfile.NamedTemporaryFile(
            "w", dir=self.directory, prefix=".state.", suffix=".json", delete=False
        ) as handle:
            json.dump(state, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # temp files are 0600; readers may be other users
        os.replace(handle.name, self.state_path)

    @contextmanager
    def _locked(self, name: str = ".lock") -> Iterator[None]:
        """One writer per index directory (a web worker's scheduler and a CLI run);
        ``.embed.lock`` likewise keeps one process per node embedding."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / name).open("a+") as handle:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise IndexBusy(
                            f"another process is updating the vector index in {self.directory};"
                            " try again when it has finished"
                        ) from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                self._snapshot = None

    # -- embedding ---------------------------------------------------------------------

    def sync(
        self,
        embedder: Embedder,
        *,
        progress: Progress | None = None,
        batch_size: int | None = None,
        force: bool = False,
    ) -> int:
        """Embed papers whose vector is missing or stale (:meth:`embed`), then bring
        this node's files up to date (:meth:`follow`). Returns the number embedded."""
        embedded = self.embed(embedder, progress=progress, batch_size=batch_size, force=force)
        self.follow(progress=progress)
        return embedded

    def embed(
        self,
        embedder: Embedder,
        *,
        progress: Progress | None = None,
        batch_size: int | None = None,
        force: bool = False,
    ) -> int:
        """Write vectors for papers whose vector is missing or stale to the database.

        Follows the change log from the cursor kept in the database; the first time,
        after a model switch or for another database it checks every paper (each
        batch committed, so an interrupted run loses at most one batch and the next
        resumes). Each vector written is logged as a ``vector`` change, which is how
        every node's :meth:`follow` learns of it. ``force`` re-embeds every paper.
        Returns the number of papers embedded.
        """
        progress = progress or NullProgress()
        batch_size = batch_size or getattr(embedder, "batch_size_hint", 64)
        with self._locked(".embed.lock"):
            shared = self.embedding_state()
            origin = log_origin(self.storage)
            if force or not self._can_continue(shared, embedder, origin):
                cursor = ChangeCursor.at_head(self.storage)  # before the scan: replays overlap
                switching = {"model_id": embedder.model_id, "dim": embedder.dim, "origin": origin}
                self._save_embedding_state({**switching, "complete": False, **cursor.as_dict()})
                embedded = self._embed_all(embedder, progress, batch_size, force=force)
                self._save_embedding_state({**switching, "complete": True, **cursor.as_dict()})
                return embedded
            assert shared is not None
            cursor = ChangeCursor.from_dict(shared)
            embedded = 0
            while changes := cursor.pending(self.storage, limit=_CHANGES_PER_STEP):
                # Our own ``vector`` records need no embedding.
                changed = list(
                    dict.fromkeys(r["paper_id"] for r in changes if r["kind"] != VECTOR_CHANGE)
                )
                embedded += self._embed_changed(embedder, changed, progress, batch_size)
                cursor.advance(changes)
                self._save_embedding_state({**shared, **cursor.as_dict()})
            return embedded

    def _can_continue(
        self, shared: dict[str, Any] | None, embedder: Embedder, origin: str | None
    ) -> bool:
        """Whether embedding can go on from the change log (same model, same database,
        the last full pass finished)."""
        return (
            shared is not None
            and shared.get("complete") is True
            and shared.get("model_id") == embedder.model_id
            and shared.get("dim") == embedder.dim
            and shared.get("origin") == origin
            and int(shared.get("watermark", 0)) <= self.storage.papers.last_change_seq()
        )

    def follow(self, *, progress: Progress | None = None) -> dict[str, Any]:
        """Bring this node's files up to date with the database's vectors (embeds nothing).

        Applies the change log from the files' cursor. Rebuilds from the database
        instead when there are no files yet (a new node), they were built for
        another database or model (a finished model switch), or they are so far
        behind that reading every vector is quicker. Raises :class:`IndexBusy` when
        another process of this node is writing the files.
        """
        progress = progress or NullProgress()
        with self._locked():
            state = self.read_state()
            model_id = self._model_to_follow(state)
            if model_id is None and state is None:
                return {"vectors": 0}
            head = self.storage.papers.last_change_seq()
            if state is None or not self._files_current(state, model_id, head):
                cursor = ChangeCursor.at_head(self.storage)  # before the scan: replays overlap
                self._rebuild(model_id, cursor, progress)
                return {"rebuilt": True, "vectors": int((self.read_state() or {}).get("live", 0))}
            cursor = ChangeCursor.from_dict(state)
            applied = 0
            while changes := cursor.pending(self.storage, limit=_CHANGES_PER_STEP):
                changed = list(dict.fromkeys(row["paper_id"] for row in changes))
                cursor.advance(changes)
                state = self._apply(state, changed, cursor, progress)
                applied += len(changed)
            return {"applied": applied, "vectors": int(state.get("live", 0))}

    def _model_to_follow(self, state: dict[str, Any] | None) -> str | None:
        """The model whose vectors the files should hold: the embedding step's once its
        pass is complete; during a switch the files keep the model they have; a new
        node with nothing to go by takes the model with the most stored vectors."""
        shared = self.embedding_state()
        if shared and shared.get("complete") and shared.get("model_id"):
            return str(shared["model_id"])
        if state and state.get("model_id"):
            return str(state["model_id"])
        if shared and shared.get("model_id"):
            return str(shared["model_id"])
        counts = self.storage.vectors.counts()
        return max(counts, key=lambda m: (counts[m], m)) if counts else None

    def _files_current(self, state: dict[str, Any], model_id: str | None, head: int) -> bool:
        """Whether the files can be brought up to date from the change log."""
        watermark = int(state.get("watermark", 0))
        behind = head - watermark
        return (
            state.get("model_id") == model_id
            and state.get("origin") == log_origin(self.storage)
            and watermark <= head
            and behind <= max(_FOLLOW_REBUILD_MIN, int(state.get("live", 0)) * _COMPACT_FRACTION)
        )

    def _embed_all(
        self, embedder: Embedder, progress: Progress, batch_size: int, *, force: bool = False
    ) -> int:
        store = self.storage.vectors
        total = store.count_candidates(embedder.model_id, every=force)
        progress.start("Embedding papers", total=total)
        embedded, after = 0, ""
        while True:
            page = store.candidates(
                embedder.model_id, after_id=after, limit=_CANDIDATE_PAGE, every=force
            )
            if not page:
                break
            embedded += self._embed(embedder, page, progress, batch_size, force=force)
            after = page[-1].paper_id
        progress.finish()
        return embedded

    def _embed_changed(
        self, embedder: Embedder, paper_ids: Sequence[str], progress: Progress, batch_size: int
    ) -> int:
        if not paper_ids:
            return 0
        store = self.storage.vectors
        progress.start("Embedding changed papers", total=None)
        embedded = 0
        for start in range(0, len(paper_ids), _CANDIDATE_PAGE):
            page = store.candidates(
                embedder.model_id, paper_ids=paper_ids[start : start + _CANDIDATE_PAGE]
            )
            embedded += self._embed(embedder, page, progress, batch_size)
        progress.finish()
        return embedded

    def _embed(
        self,
        embedder: Embedder,
        page: list[Candidate],
        progress: Progress,
        batch_size: int,
        *,
        force: bool = False,
    ) -> int:
        """Embed one page of candidates, a transaction per batch."""
        store = self.storage.vectors
        todo: list[tuple[Candidate, str, str]] = []
        unchanged: list[tuple[str, str]] = []
        empty: list[str] = []
        for candidate in page:
            text = passage(candidate.title, candidate.abstract)
            digest = text_hash(text)
            if not text:
                if candidate.model_id is not None:  # had a vector: it goes
                    empty.append(candidate.paper_id)
            elif (
                not force
                and candidate.model_id == embedder.model_id
                and candidate.text_hash == digest
            ):
                unchanged.append((candidate.paper_id, candidate.paper_hash))
            else:
                todo.append((candidate, text, digest))
        if unchanged or empty:
            with self.storage.db.transaction() as tx:
                store.mark_current(tx, unchanged)
                store.delete(tx, empty)
                self._log_vector_changes(tx, empty)
            progress.advance(len(unchanged) + len(empty))
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            vectors = embedder.embed_documents([text for _, text, _ in batch])
            at = instant_text(utc_now()) or ""
            rows = [
                VectorRow(c.paper_id, embedder.model_id, digest, c.paper_hash, vector)
                for (c, _, digest), vector in zip(batch, vectors, strict=True)
            ]
            with self.storage.db.transaction() as tx:
                store.upsert(tx, rows, at)
                self._log_vector_changes(tx, [row.paper_id for row in rows])
            progress.advance(len(batch))
        return len(todo)

    def _log_vector_changes(self, tx: Any, paper_ids: Sequence[str]) -> None:
        """Tell every node's :meth:`follow` (and other derived caches) that these
        papers' stored vectors changed, in the transaction that changed them."""
        if paper_ids:
            at = instant_text(utc_now()) or ""
            self.storage.papers.record_changes(tx, paper_ids, VECTOR_CHANGE, at)

    # -- the files ------------------------------------------------------------------------

    def rebuild(self, *, progress: Progress | None = None, model_id: str | None = None) -> None:
        """Write the files afresh from the vectors in the database.

        ``model_id`` defaults to the model :meth:`follow` would keep (the embedding
        step's, else the files' own, else the model with the most stored vectors).
        """
        with self._locked():
            cursor = ChangeCursor.at_head(self.storage)
            if model_id is None:
                model_id = self._model_to_follow(self.read_state())
            self._rebuild(model_id, cursor, progress or NullProgress())

    def _rebuild(
        self, model_id: str | None, cursor: ChangeCursor, progress: Progress,
        dim: int | None = None,
    ) -> None:  # fmt: skip
        """New files from the database's vectors of ``model_id``; ``cursor`` is where
        the database stood (taken before reading, so later changes get replayed)."""
        state = self.read_state() or {}
        generation = int(state.get("generation", 0)) + 1
        count = self.storage.vectors.counts().get(model_id, 0) if model_id else 0
        if count:
            dim = self._model_dim(model_id)  # type: ignore[arg-type]
        elif dim is None:
            dim = int(state.get("dim") or 0)
        files = self._files(generation)
        capacity = max(1024, int(count * 1.25) + 1)
        arrays = self._create(files, capacity, dim)
        progress.start("Writing the vector index", total=count)
        slots = 0
        if model_id and count:
            for ids, matrix in self.storage.vectors.iterate(model_id):
                if slots + len(ids) > capacity:  # vectors added since counting: grow
                    arrays = self._grow(files, arrays, slots, capacity * 2, dim)
                    capacity *= 2
                self._write_rows(arrays, slots, ids, matrix)
                slots += len(ids)
                progress.advance(len(ids))
        for array in arrays.values():
            array.flush()
        progress.finish()
        self._write_state(
            {"model_id": model_id, "dim": dim, "generation": generation, "capacity": capacity,
             "slots": slots, "live": slots, "origin": log_origin(self.storage),
             **cursor.as_dict()}
        )  # fmt: skip
        self._remove_other_generations(generation)

    def write_arrays(self, model_id: str, ids: Sequence[str], matrix: np.ndarray) -> None:
        """Replace the files with these vectors, bypassing the database (benchmarks at
        a million synthetic papers). The next sync sees no matching database origin
        and rebuilds from the database."""
        with self._locked():
            state = self.read_state() or {}
            generation = int(state.get("generation", 0)) + 1
            capacity = max(1024, len(ids))
            arrays = self._create(self._files(generation), capacity, int(matrix.shape[1]))
            for start in range(0, len(ids), 100_000):
                chunk = slice(start, start + 100_000)
                self._write_rows(arrays, start, ids[chunk], matrix[chunk])
            for array in arrays.values():
                array.flush()
            self._write_state(
                {"model_id": model_id, "dim": int(matrix.shape[1]), "generation": generation,
                 "capacity": capacity, "slots": len(ids), "live": len(ids), "origin": None,
                 "watermark": 0, "gaps": []}
            )  # fmt: skip
            self._remove_other_generations(generation)

    def _model_dim(self, model_id: str) -> int:
        for _, matrix in self.storage.vectors.iterate(model_id, batch_size=1):
            return int(matrix.shape[1])
        return 0

    def _create(self, files: dict[str, Path], capacity: int, dim: int) -> dict[str, np.ndarray]:
        self.directory.mkdir(parents=True, exist_ok=True)
        shapes: dict[str, tuple[tuple[int, ...], Any]] = {
            "vectors": ((capacity, dim), np.float16),
            "codes": ((capacity, CODE_BITS // 8), np.uint8),
            "ids": ((capacity,), f"S{ID_BYTES}"),
            "alive": ((capacity,), np.uint8),
        }
        return {
            name: np.lib.format.open_memmap(files[name], mode="w+", dtype=dtype, shape=shape)
            for name, (shape, dtype) in shapes.items()
        }

    def _grow(
        self, files: dict[str, Path], arrays: dict[str, np.ndarray], used: int, capacity: int,
        dim: int,
    ) -> dict[str, np.ndarray]:  # fmt: skip
        kept = {name: np.array(array[:used]) for name, array in arrays.items()}
        del arrays
        grown = self._create(files, capacity, dim)
        for name, values in kept.items():
            grown[name][:used] = values
        return grown

    @staticmethod
    def _write_rows(
        arrays: dict[str, np.ndarray], start: int, ids: Sequence[str], matrix: np.ndarray
    ) -> None:
        end = start + len(ids)
        encoded = [paper_id.encode("utf-8") for paper_id in ids]
        if any(len(value) > ID_BYTES for value in encoded):
            raise StorageError(f"a paper id is longer than {ID_BYTES} bytes: cannot index it")
        arrays["vectors"][start:end] = matrix
        arrays["codes"][start:end] = sign_codes(matrix)
        arrays["ids"][start:end] = encoded
        arrays["alive"][start:end] = 1

    def _remove_other_generations(self, generation: int) -> None:
        keep = {path.name for path in self._files(generation).values()}
        for path in self.directory.glob("*.npy"):
            if path.name not in keep:
                path.unlink(missing_ok=True)  # readers keep their mappings of unlinked files

    def _apply(
        self, state: dict[str, Any], changed: Sequence[str], cursor: ChangeCursor,
        progress: Progress,
    ) -> dict[str, Any]:  # fmt: skip
        """Apply changed papers to the files: tombstone their old slots, append their
        vectors; returns the new state (published with ``cursor``)."""
        model_id = state["model_id"]
        slots, capacity = int(state["slots"]), int(state["capacity"])
        vectors = self.storage.vectors.vectors_for(changed, model_id) if model_id else {}
        files = self._files(int(state["generation"]))
        arrays = {name: np.load(path, mmap_mode="r+") for name, path in files.items()}
        wanted = np.array([i.encode("utf-8") for i in changed], dtype=arrays["ids"].dtype)
        old = np.flatnonzero(
            np.isin(arrays["ids"][:slots], wanted) & (arrays["alive"][:slots] == 1)
        )
        # A paper whose vector is unchanged (its upvotes changed, say) keeps its slot;
        # so does one re-embedded by a model switch still running: the files keep
        # answering with the old model until the switch is complete (then rebuilt).
        missing = [i for i in changed if i not in vectors]
        switched = self.storage.vectors.models_for(missing) if missing else {}
        for slot in old:
            paper_id = arrays["ids"][slot].decode("utf-8")
            stored = vectors.get(paper_id)
            if (stored is not None and np.array_equal(stored, arrays["vectors"][slot])) or (
                stored is None and switched.get(paper_id, model_id) != model_id
            ):
                vectors.pop(paper_id, None)
                old = old[old != slot]
        dead_after = slots - int(state["live"]) + len(old)
        if slots + len(vectors) > capacity or (
            dead_after > _COMPACT_FRACTION * slots and dead_after > _COMPACT_MIN
        ):
            del arrays
            self._rebuild(model_id, cursor, progress)
            return self.read_state() or {}
        arrays["alive"][old] = 0
        ids = sorted(vectors)  # appended in id order: the same change gives the same slots
        if ids:
            self._write_rows(arrays, slots, ids, np.stack([vectors[i] for i in ids]))
        for array in arrays.values():
            array.flush()
        state = {
            **state, "slots": slots + len(ids), "live": int(state["live"]) - len(old) + len(ids),
            **cursor.as_dict(),
        }  # fmt: skip
        self._write_state(state)
        return state

    # -- search --------------------------------------------------------------------------

    def _load(self) -> _Snapshot | None:
        try:
            stat = self.state_path.stat()
        except FileNotFoundError:
            self._snapshot = None
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self._snapshot is not None and self._snapshot.key == key:
            return self._snapshot
        state = self.read_state()
        if state is None or not state.get("slots"):
            self._snapshot = None
            return None
        slots = int(state["slots"])
        files = self._files(int(state["generation"]))
        try:
            arrays = {name: np.load(path, mmap_mode="r") for name, path in files.items()}
        except FileNotFoundError:  # replaced by a rebuild between our two reads: retry
            self._snapshot = None
            return self._load() if self.state_path.stat().st_ino != stat.st_ino else None
        dead = np.flatnonzero(np.asarray(arrays["alive"][:slots]) == 0)
        dense = prefix = None
        codes = arrays["codes"][:slots]
        if int(state["live"]) <= self.exact_limit:
            dense = np.asarray(arrays["vectors"][:slots], dtype=np.float32)
        else:
            # In memory (128 MB at 1M): gathering rows of a fresh mapping page-faults.
            codes = np.array(codes)
            if int(state["live"]) > self.prefix_limit:
                prefix = np.ascontiguousarray(codes[:, : PREFIX_BITS // 8])
        self._snapshot = _Snapshot(
            key, state, arrays["ids"][:slots], arrays["vectors"][:slots], codes, dead, dense,
            prefix,
        )  # fmt: skip
        return self._snapshot

    def search(
        self, query: np.ndarray, k: int, *, exclude: Collection[str] = ()
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest papers to ``query`` as ``(paper_id, cosine)``, best first,
        ties broken by paper id; ``exclude`` ids are left out."""
        snapshot = self._load()
        if snapshot is None or k <= 0:
            return []
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if query.shape[0] != snapshot.vectors.shape[1]:
            raise ValueError(
                f"query has {query.shape[0]} dimensions, the index {snapshot.vectors.shape[1]}"
            )
        if not np.any(query):  # nothing the model knew (a static model's unknown words)
            return []
        live = int(snapshot.state["live"])
        fetch = min(k + len(exclude), live)
        if fetch <= 0:
            return []
        if snapshot.dense is not None:
            approximate = snapshot.dense @ query
            approximate[snapshot.dead] = -np.inf
            threshold = np.partition(approximate, len(approximate) - fetch)[-fetch]
            # BLAS sums may differ in the last bits with a row's position: take a
            # margin's worth more and let the exact per-row scores below decide.
            candidates = np.flatnonzero(approximate >= threshold - _SCORE_MARGIN)
            rows = snapshot.dense[candidates]
        else:
            pool = min(max(fetch, self.rerank), live)
            code = sign_codes(query)[0]
            if snapshot.prefix is None:
                distances = hamming_distances(snapshot.codes, code)
                distances[snapshot.dead] = CODE_BITS + 1
                candidates = _within(distances, pool, CODE_BITS)
            else:
                # Two stages: the first 256 bits of every code pick a wide pool, all
                # 1024 bits of those pick the re-ranked few (4x less to scan at 1M).
                distances = hamming_distances(snapshot.prefix, code[: PREFIX_BITS // 8])
                distances[snapshot.dead] = PREFIX_BITS + 1
                wide = _within(distances, min(PREFIX_POOL * pool, live), PREFIX_BITS)
                distances = hamming_distances(snapshot.codes[wide], code)
                candidates = wide[_within(distances, pool, CODE_BITS)]
            rows = snapshot.vectors[candidates]
        scores = exact_scores(rows, query)
        ids = snapshot.ids[candidates]
        order = np.lexsort((ids, -scores))[:fetch]
        excluded = set(exclude)
        hits: list[tuple[str, float]] = []
        for position in order:
            paper_id = ids[position].decode("utf-8")
            if paper_id not in excluded:
                hits.append((paper_id, float(scores[position])))
                if len(hits) == k:
                    break
        return hits

    def vector(self, paper_id: str) -> np.ndarray | None:
        """The paper's stored vector (float32) if it was made by the index's model."""
        found = self.storage.vectors.get(paper_id)
        if found is None or found[0] != self.model_id:
            return None
        return found[1].astype(np.float32)

    def status(self) -> dict[str, Any]:
        state = self.read_state() or {}
        seq = self.storage.papers.last_change_seq()
        files = self._files(int(state["generation"])) if state.get("generation") else {}
        live = int(state.get("live", 0))
        return {
            "directory": str(self.directory),
            "model_id": state.get("model_id"),
            "dim": state.get("dim"),
            "papers": live,
            "slots": int(state.get("slots", 0)),
            "tombstones": int(state.get("slots", 0)) - live,
            "search": "exact"
            if live <= self.exact_limit
            else "hamming+rerank"
            if live <= self.prefix_limit
            else "prefix+hamming+rerank",
            "watermark": state.get("watermark"),
            "gaps": len(state.get("gaps", [])),
            "last_change_seq": seq,
            "changes_behind": seq - int(state.get("watermark") or 0) if state else seq,
            "target_model_id": _switching_to(self.embedding_state(), state),
            "embedding": _embedding_summary(self.embedding_state(), seq),
            "updated_at": state.get("updated_at"),
            "file_bytes": {
                name: path.stat().st_size for name, path in files.items() if path.exists()
            },
            "vectors_in_database": self.storage.vectors.counts(),
        }


def _switching_to(shared: dict[str, Any] | None, state: dict[str, Any]) -> str | None:
    """The model an unfinished embedding pass is switching the database to, if any."""
    if shared and not shared.get("complete") and shared.get("model_id") != state.get("model_id"):
        return str(shared.get("model_id"))
    return None


def _embedding_summary(shared: dict[str, Any] | None, head: int) -> dict[str, Any]:
    """Where the shared embedding step stands (the same on every node)."""
    if not shared:
        return {"started": False}
    watermark = int(shared.get("watermark") or 0)
    return {
        "model_id": shared.get("model_id"),
        "complete": bool(shared.get("complete")),
        "watermark": watermark,
        "changes_behind": max(head - watermark, 0),
    }


def _within(distances: np.ndarray, count: int, bits: int) -> np.ndarray:
    """Positions of every distance up to that of the ``count``-th smallest: all
    equally distant ones, not ``count`` of them, so which are kept never depends
    on their order (tombstones carry ``bits + 1`` and stay out)."""
    histogram = np.bincount(distances, minlength=bits + 2)[: bits + 1]
    radius = int(np.searchsorted(np.cumsum(histogram), count))
    return np.flatnonzero(distances <= radius)


def exact_scores(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Dot products computed row by row in float64: unlike a BLAS product, a row's
    score does not depend on where the row sits, so any index order gives the same."""
    return (np.asarray(rows, dtype=np.float64) * query.astype(np.float64)).sum(axis=1)


@functools.cache
def _projection(dim: int, bits: int = CODE_BITS) -> np.ndarray:
    """A fixed (dim, bits) matrix of +1/-1 from SHA-256 in counter mode: the same on
    every machine and numpy version (no random generator involved)."""
    needed = (dim * bits + 255) // 256
    stream = b"".join(
        hashlib.sha256(f"paperfeed sign projection v1 {dim} {bits} {i}".encode()).digest()
        for i in range(needed)
    )
    signs = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))[: dim * bits]
    return np.where(signs.reshape(dim, bits) == 1, 1.0, -1.0)


def sign_codes(matrix: np.ndarray) -> np.ndarray:
    """:data:`CODE_BITS` bits per vector: the signs of +1/-1 projections, packed.

    More bits than dimensions estimate angles better (recall@10 0.98 instead of
    0.90 at 300k vectors drawn like MiniLM's, same re-rank depth). Computed in
    float64 from float16 inputs of norm <= 1, every projection is exact whatever
    the summation order, so a vector's code never depends on its batch.
    """
    matrix = np.atleast_2d(np.asarray(matrix))
    projection = _projection(matrix.shape[1])
    out = np.empty((len(matrix), CODE_BITS // 8), dtype=np.uint8)
    for start in range(0, len(matrix), 8192):  # bounds the float64 temporaries
        block = np.asarray(matrix[start : start + 8192], dtype=np.float16).astype(np.float64)
        out[start : start + 8192] = np.packbits(block @ projection > 0, axis=1)
    return out


def _hamming_numpy(codes: np.ndarray, query_code: np.ndarray) -> np.ndarray:
    width = codes.shape[1]
    out = np.zeros(len(codes), dtype=np.int32)
    chunk = 65_536  # rows per step: keeps the temporaries in cache
    for start in range(0, len(codes), chunk):
        block = np.bitwise_xor(codes[start : start + chunk], query_code)
        counts = np.bitwise_count(block.view(np.uint64) if width % 8 == 0 else block)
        out[start : start + chunk] = counts.sum(axis=1, dtype=np.int32)
    return out


def _hamming_faiss(codes: np.ndarray, query_code: np.ndarray) -> np.ndarray:
    import faiss

    codes = np.ascontiguousarray(codes)
    query_code = np.ascontiguousarray(query_code[None, :])
    out = np.empty(len(codes), dtype=np.int32)
    faiss.hammings(
        faiss.swig_ptr(query_code), faiss.swig_ptr(codes), 1, len(codes), codes.shape[1],
        faiss.swig_ptr(out),
    )  # fmt: skip
    return out


def _pick_hamming() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return _hamming_numpy
    return _hamming_faiss


_hamming_impl: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


def hamming_distances(codes: np.ndarray, query_code: np.ndarray) -> np.ndarray:
    """Hamming distance from ``query_code`` to every row of ``codes`` (int32).

    faiss's popcount loop is about 3x faster than numpy's; numpy is the fallback."""
    global _hamming_impl
    if _hamming_impl is None:
        _hamming_impl = _pick_hamming()
    return _hamming_impl(codes, query_code)
