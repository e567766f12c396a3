"""The map of the field: every embedded paper at a 2-D position, in named
neighbourhoods. A derived cache of the database, like the search indexes.

The papers' vectors (``paper_vectors``, the default model's, or whatever model
the vector index holds) are projected by :mod:`paperfeed.explore.projection`.
Files under ``data_dir/index/map/``, plain ``.npy`` arrays and JSON (no pickle)::

    state.json           format, generation, model id, change-log cursor, slots,
                         live count, the neighbourhoods (names, centres, sizes)
    anchors.<g>.npy      float16 (A, dim): vectors of the papers the projection was fitted on
    anchor_xy.<g>.npy    float32 (A, 2): their fitted positions
    xy.<g>.npy           float32 (capacity, 2): position of each slot
    ids.<g>.npy          S64 (capacity,): paper id of each slot
    cluster.<g>.npy      int16 (capacity,): neighbourhood of each slot
    alive.<g>.npy        uint8 (capacity,): 0 marks a deleted or moved paper

``sync`` follows the ``paper_changes`` log after the vector index has embedded
the changes: a new or changed paper is placed among its nearest fitted papers
and joins the nearest neighbourhood; its old slot becomes a tombstone. Nothing
already on the map moves. The projection is fitted again (``rebuild``, or by
itself once a small corpus has more than doubled since the fit) from the
database, under a new generation, while readers keep the old files.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.errors import StorageError
from paperfeed.models import utc_now
from paperfeed.progress import NullProgress, Progress
from paperfeed.search.changelog import ChangeCursor, log_origin
from paperfeed.storage import Storage
from paperfeed.storage.values import instant_text

from .projection import (
    FIT_SAMPLE,
    assign,
    cluster,
    cluster_count,
    fit_projection,
    label_text,
    method_for,
    name_clusters,
    place,
)

FORMAT = 1
ID_BYTES = 64
_CHANGES_PER_STEP = 10_000
_COMPACT_FRACTION = 0.25
#: Papers whose vector is not there yet (embedding pending) are retried, up to this many.
MAX_WAITING = 100_000


class MapBusy(StorageError):
    """Another process is updating the map."""


def priority(paper_ids: Sequence[str]) -> np.ndarray:
    """A fixed pseudo-random rank per paper: the anchors are the papers with the
    lowest ranks, and a zoomed-out map draws the lowest-ranked papers in view, so
    which papers stand for the rest never depends on the order they arrived in."""
    return np.array(
        [int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest()) for i in paper_ids],
        dtype=np.uint64,
    )


@dataclass(slots=True)
class Neighbourhood:
    id: int
    words: list[str]
    x: float
    y: float
    papers: int

    @property
    def name(self) -> str:
        return label_text(self.words)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "words": self.words, "x": round(self.x, 4),
                "y": round(self.y, 4), "papers": self.papers}  # fmt: skip


@dataclass(slots=True)
class MapSnapshot:
    """A published map, arranged for drawing: live papers in rank order."""

    key: tuple[int, int, int]
    state: dict[str, Any]
    neighbourhoods: list[Neighbourhood]
    xy: np.ndarray  # float32 (live, 2), lowest rank first
    ids: np.ndarray  # S64 (live,)
    cluster: np.ndarray  # int16 (live,)
    sorted_ids: np.ndarray  # S64 (live,): ids in byte order, for look-ups
    sorted_positions: np.ndarray  # int64: position in the rank order of each sorted id
    #: Views' cache (the whole-map window): computed once per published map.
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def papers(self) -> int:
        return len(self.ids)

    def in_window(self, x0: float, x1: float, y0: float, y1: float, limit: int) -> np.ndarray:
        """Positions (rank order) of up to ``limit`` papers inside the window: the
        lowest-ranked, i.e. a stable random sample when more are in view."""
        x, y = self.xy[:, 0], self.xy[:, 1]
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        return np.flatnonzero(inside)[:limit]

    def locate(self, paper_ids: Sequence[str]) -> dict[str, int]:
        """Rank-order positions of those of ``paper_ids`` on the map."""
        if not paper_ids or not len(self.sorted_ids):
            return {}
        wanted = np.array([i.encode("utf-8")[:ID_BYTES] for i in paper_ids], dtype="S64")
        found = np.searchsorted(self.sorted_ids, wanted)
        found = np.minimum(found, len(self.sorted_ids) - 1)
        hits = self.sorted_ids[found] == wanted
        return {paper_ids[i]: int(self.sorted_positions[found[i]]) for i in np.flatnonzero(hits)}


class FieldMap:
    """The map files of one database in ``directory``; ``model_id`` says which
    model's vectors to draw (the vector index's)."""

    def __init__(
        self,
        storage: Storage,
        directory: Path,
        model_id: Callable[[], str | None],
        *,
        fit_sample: int = FIT_SAMPLE,
    ) -> None:
        self.storage = storage
        self.directory = Path(directory)
        self.model_id = model_id
        self.fit_sample = fit_sample
        self._snapshot: MapSnapshot | None = None

    # -- state -------------------------------------------------------------------------

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
                f"map state {self.state_path} is unreadable ({exc}): run paperfeed map rebuild"
            ) from exc
        return state if state.get("format") == FORMAT else None

    def _files(self, generation: int) -> dict[str, Path]:
        names = ("anchors", "anchor_xy", "xy", "ids", "cluster", "alive")
        return {name: self.directory / f"{name}.{generation}.npy" for name in names}

    def _write_state(self, state: dict[str, Any]) -> None:
        state = {**state, "format": FORMAT, "updated_at": instant_text(utc_now())}
        with tempfile.NamedTemporaryFile(
            "w", dir=self.directory, prefix=".state.", suffix=".json", delete=False
        ) as handle:
            json.dump(state, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, self.state_path)

    @contextmanager
    def _locked(self, timeout: float = 0.0) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".lock").open("a+") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise MapBusy(
                            f"another process is updating the map in {self.directory}"
                        ) from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                self._snapshot = None

    # -- keeping up --------------------------------------------------------------------

    def sync(self, progress: Progress | None = None) -> dict[str, Any]:
        """Bring the map up to date with the change log (building it when there is
        none, it belongs to another model or database, or a small corpus has more
        than doubled since the last fit)."""
        progress = progress or NullProgress()
        model_id = self.model_id()
        if model_id is None:
            return {"skipped": True, "message": "no paper has a vector yet: nothing to map"}
        try:
            with self._locked():
                state = self.read_state()
                if not self._can_follow(state, model_id):
                    return self._rebuild(model_id, progress)
                assert state is not None
                live = int(state["live"])
                wanted_fit = min(self.fit_sample, live + int(state.get("pending", 0)))
                if int(state["fitted"]) * 2 < wanted_fit:
                    return self._rebuild(model_id, progress)
                return self._follow(state, model_id, progress)
        except MapBusy as exc:
            return {"skipped": True, "message": str(exc)}

    def rebuild(self, progress: Progress | None = None) -> dict[str, Any]:
        """Fit the projection again and redraw every paper (``paperfeed map rebuild``)."""
        model_id = self.model_id()
        if model_id is None:
            return {"skipped": True, "message": "no paper has a vector yet: nothing to map"}
        with self._locked(timeout=5.0):
            return self._rebuild(model_id, progress or NullProgress())

    def _can_follow(self, state: dict[str, Any] | None, model_id: str) -> bool:
        return (
            state is not None
            and state.get("model_id") == model_id
            and state.get("origin") == log_origin(self.storage)
            and int(state.get("watermark", 0)) <= self.storage.papers.last_change_seq()
        )

    def _follow(self, state: dict[str, Any], model_id: str, progress: Progress) -> dict[str, Any]:
        cursor = ChangeCursor.from_dict(state)
        placed = removed = 0
        waiting = list(state.get("waiting", []))
        first = True
        while True:
            changes = cursor.pending(self.storage, limit=_CHANGES_PER_STEP)
            if not changes and not (first and waiting):
                break
            if first:
                progress.start("Updating the map", total=None)
            first = False
            changed = list(dict.fromkeys([*waiting, *(row["paper_id"] for row in changes)]))
            cursor.advance(changes)
            state, done, gone, waiting = self._apply(state, changed, model_id, cursor)
            placed += done
            removed += gone
            progress.advance(len(changed))
            if not changes:
                break
        if not first:
            progress.finish()
        return {"placed": placed, "replaced": removed, "waiting": len(waiting),
                "papers": int(state["live"])}  # fmt: skip

    def _apply(
        self, state: dict[str, Any], changed: list[str], model_id: str, cursor: ChangeCursor
    ) -> tuple[dict[str, Any], int, int, list[str]]:
        generation = int(state["generation"])
        files = self._files(generation)
        arrays = {name: np.load(files[name], mmap_mode="r+") for name in
                  ("xy", "ids", "cluster", "alive")}  # fmt: skip
        slots, capacity = int(state["slots"]), int(state["capacity"])
        vectors = self.storage.vectors.vectors_for(changed, model_id)
        existing = self._existing(changed)
        waiting = [pid for pid in changed if pid in existing and pid not in vectors]
        wanted = np.array([pid.encode("utf-8")[:ID_BYTES] for pid in changed], dtype="S64")
        old = np.flatnonzero(
            np.isin(arrays["ids"][:slots], wanted) & (arrays["alive"][:slots] == 1)
        )
        dead_after = slots - int(state["live"]) + len(old)
        if slots + len(vectors) > capacity or dead_after > _COMPACT_FRACTION * max(slots, 1) + 1024:
            del arrays
            state = self._compact(state, files)
            return self._apply(state, changed, model_id, cursor)
        arrays["alive"][old] = 0
        ids = sorted(vectors)
        if ids:
            anchors = np.load(files["anchors"], mmap_mode="r")
            anchor_xy = np.load(files["anchor_xy"], mmap_mode="r")
            matrix = np.stack([vectors[i] for i in ids]).astype(np.float32)
            xy = place(matrix, np.asarray(anchors, dtype=np.float32), np.asarray(anchor_xy))
            centres = np.array(
                [[n["x"], n["y"]] for n in state["neighbourhoods"]], dtype=np.float32
            )
            labels = assign(xy, centres)
            end = slots + len(ids)
            arrays["xy"][slots:end] = xy
            arrays["ids"][slots:end] = [i.encode("utf-8") for i in ids]
            arrays["cluster"][slots:end] = labels
            arrays["alive"][slots:end] = 1
        for array in arrays.values():
            array.flush()
        live = int(state["live"]) - len(old) + len(ids)
        state = {**state, "slots": slots + len(ids), "live": live,
                 "waiting": waiting[:MAX_WAITING], "pending": len(waiting),
                 **cursor.as_dict()}  # fmt: skip
        state["neighbourhoods"] = _recount(
            state["neighbourhoods"], arrays["cluster"], arrays["alive"], state["slots"]
        )
        self._write_state(state)
        return state, len(ids), len(old), waiting

    def _compact(self, state: dict[str, Any], files: dict[str, Path]) -> dict[str, Any]:
        """Copy the live slots into new files twice their size (no refit)."""
        slots = int(state["slots"])
        alive = np.load(files["alive"], mmap_mode="r")[:slots] == 1
        keep = {name: np.load(files[name], mmap_mode="r")[:slots][alive] for name in
                ("xy", "ids", "cluster")}  # fmt: skip
        live = int(alive.sum())
        generation = int(state["generation"]) + 1
        new_files = self._files(generation)
        capacity = max(1024, live * 2)
        arrays = self._create(new_files, capacity)
        for name, values in keep.items():
            arrays[name][:live] = values
        arrays["alive"][:live] = 1
        for name in ("anchors", "anchor_xy"):
            np.save(new_files[name], np.load(files[name]))
        for array in arrays.values():
            array.flush()
        state = {**state, "generation": generation, "slots": live, "live": live,
                 "capacity": capacity}  # fmt: skip
        self._write_state(state)
        self._remove_other_generations(generation)
        return state

    def _create(self, files: dict[str, Path], capacity: int) -> dict[str, np.ndarray]:
        self.directory.mkdir(parents=True, exist_ok=True)
        shapes: dict[str, tuple[tuple[int, ...], Any]] = {
            "xy": ((capacity, 2), np.float32),
            "ids": ((capacity,), f"S{ID_BYTES}"),
            "cluster": ((capacity,), np.int16),
            "alive": ((capacity,), np.uint8),
        }
        return {
            name: np.lib.format.open_memmap(files[name], mode="w+", dtype=dtype, shape=shape)
            for name, (shape, dtype) in shapes.items()
        }

    def _remove_other_generations(self, generation: int) -> None:
        keep = {path.name for path in self._files(generation).values()}
        for path in self.directory.glob("*.npy"):
            if path.name not in keep:
                path.unlink(missing_ok=True)  # readers keep their mappings

    def _rebuild(self, model_id: str, progress: Progress) -> dict[str, Any]:
        started = time.perf_counter()
        cursor = ChangeCursor.at_head(self.storage)  # before reading: later changes replay
        store = self.storage.vectors
        all_ids = self._vector_ids(model_id)
        if not all_ids:
            return {"skipped": True, "message": "no paper has a vector yet: nothing to map"}
        ranks = priority(all_ids)
        chosen = np.argsort(ranks, kind="stable")[: self.fit_sample]
        anchor_ids = sorted(all_ids[i] for i in chosen)
        found = store.vectors_for(anchor_ids, model_id)
        anchor_ids = [i for i in anchor_ids if i in found]
        anchors = np.stack([found[i] for i in anchor_ids]).astype(np.float32)
        progress.start(f"Fitting the map on {len(anchor_ids):,} papers", total=None)
        anchor_xy = fit_projection(anchors)
        progress.finish()
        anchor_slot = {paper_id: n for n, paper_id in enumerate(anchor_ids)}
        state = self.read_state() or {}
        generation = int(state.get("generation", 0)) + 1
        files = self._files(generation)
        capacity = max(1024, int(len(all_ids) * 1.25) + 1)
        arrays = self._create(files, capacity)
        np.save(files["anchors"], anchors.astype(np.float16))
        np.save(files["anchor_xy"], anchor_xy)
        progress.start("Placing papers on the map", total=len(all_ids))
        slots = 0
        for ids, matrix in store.iterate(model_id):
            if slots + len(ids) > capacity:  # vectors added since counting: grow
                kept = {name: np.array(array[:slots]) for name, array in arrays.items()}
                capacity *= 2
                arrays = self._create(files, capacity)
                for name, values in kept.items():
                    arrays[name][:slots] = values
            xy = place(matrix.astype(np.float32), anchors, anchor_xy)
            for row, paper_id in enumerate(ids):  # fitted papers keep their fitted position
                at = anchor_slot.get(paper_id)
                if at is not None:
                    xy[row] = anchor_xy[at]
            end = slots + len(ids)
            arrays["xy"][slots:end] = xy
            arrays["ids"][slots:end] = [i.encode("utf-8") for i in ids]
            arrays["alive"][slots:end] = 1
            slots = end
            progress.advance(len(ids))
        progress.finish()
        xy_all = np.asarray(arrays["xy"][:slots])
        labels, centres = cluster(xy_all, cluster_count(slots))
        arrays["cluster"][:slots] = labels
        for array in arrays.values():
            array.flush()
        ids_all = [raw.decode("utf-8") for raw in arrays["ids"][:slots]]
        names = name_clusters(self._titles(ids_all, labels), len(centres))
        sizes = np.bincount(labels, minlength=len(centres))
        neighbourhoods = [
            {"id": k, "words": names[k], "x": float(centres[k][0]), "y": float(centres[k][1]),
             "papers": int(sizes[k])}
            for k in range(len(centres))
        ]  # fmt: skip
        waiting = self._without_vectors(model_id)
        self._write_state(
            {"model_id": model_id, "generation": generation, "capacity": capacity,
             "slots": slots, "live": slots, "fitted": len(anchor_ids), "method": method_for(len(anchor_ids)),
             "fitted_at": instant_text(utc_now()), "origin": log_origin(self.storage),
             "neighbourhoods": neighbourhoods, "waiting": waiting, "pending": len(waiting),
             "build_seconds": round(time.perf_counter() - started, 1), **cursor.as_dict()}
        )  # fmt: skip
        self._remove_other_generations(generation)
        return {"rebuilt": True, "papers": slots, "fitted": len(anchor_ids),
                "neighbourhoods": len(neighbourhoods)}  # fmt: skip

    def _existing(self, paper_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(paper_ids), 500):
            chunk = paper_ids[start : start + 500]
            rows = self.storage.db.query(
                f"SELECT id FROM papers WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )
            found.update(row["id"] for row in rows)
        return found

    def _without_vectors(self, model_id: str) -> list[str]:
        """Papers not embedded yet (by ``model_id``): mapped once their vector exists."""
        rows = self.storage.db.query(
            "SELECT id FROM papers WHERE id NOT IN"
            " (SELECT paper_id FROM paper_vectors WHERE model_id = ?) ORDER BY id LIMIT ?",
            (model_id, MAX_WAITING),
        )
        return [row["id"] for row in rows]

    def _vector_ids(self, model_id: str) -> list[str]:
        rows = self.storage.db.query(
            "SELECT paper_id FROM paper_vectors WHERE model_id = ? ORDER BY paper_id", (model_id,)
        )
        return [row["paper_id"] for row in rows]

    def _titles(self, ids: list[str], labels: np.ndarray) -> Iterator[tuple[int, str]]:
        """``(neighbourhood, title)`` of every mapped paper, in id order (keyset scan)."""
        label_of = dict(zip(ids, labels.tolist(), strict=True))
        after = ""
        while True:
            rows = self.storage.db.query(
                "SELECT id, title FROM papers WHERE id > ? ORDER BY id LIMIT 5000", (after,)
            )
            if not rows:
                return
            for row in rows:
                label = label_of.get(row["id"])
                if label is not None:
                    yield label, row["title"] or ""
            after = rows[-1]["id"]

    # -- reading -----------------------------------------------------------------------

    def snapshot(self) -> MapSnapshot | None:
        """The published map, loaded once per state (one stat per call)."""
        try:
            stat = self.state_path.stat()
        except FileNotFoundError:
            self._snapshot = None
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        current = self._snapshot
        if current is not None and current.key == key:
            return current
        state = self.read_state()
        if state is None or not state.get("slots"):
            return None
        files = self._files(int(state["generation"]))
        slots = int(state["slots"])
        try:
            alive = np.load(files["alive"], mmap_mode="r")[:slots] == 1
            xy = np.asarray(np.load(files["xy"], mmap_mode="r")[:slots][alive])
            ids = np.asarray(np.load(files["ids"], mmap_mode="r")[:slots][alive])
            labels = np.asarray(np.load(files["cluster"], mmap_mode="r")[:slots][alive])
        except FileNotFoundError:  # a rebuild replaced the files between our reads
            return None
        decoded = [raw.decode("utf-8") for raw in ids]
        order = np.argsort(priority(decoded), kind="stable")
        ids_ranked = ids[order]
        by_id = np.argsort(ids_ranked, kind="stable")
        snapshot = MapSnapshot(
            key=key,
            state=state,
            neighbourhoods=[Neighbourhood(**n) for n in state.get("neighbourhoods", [])],
            xy=np.ascontiguousarray(xy[order]),
            ids=ids_ranked,
            cluster=labels[order],
            sorted_ids=ids_ranked[by_id],
            sorted_positions=by_id,
        )
        self._snapshot = snapshot
        return snapshot

    def status(self) -> dict[str, Any]:
        state = self.read_state() or {}
        head = self.storage.papers.last_change_seq()
        return {
            "directory": str(self.directory),
            "built": bool(state),
            "model_id": state.get("model_id"),
            "papers": int(state.get("live", 0)),
            "fitted_on": state.get("fitted"),
            "method": state.get("method"),
            "fitted_at": state.get("fitted_at"),
            "neighbourhoods": len(state.get("neighbourhoods", [])),
            "waiting_for_vectors": int(state.get("pending", 0)),
            "watermark": state.get("watermark"),
            "changes_behind": max(head - int(state.get("watermark") or 0), 0) if state else head,
            "build_seconds": state.get("build_seconds"),
            "updated_at": state.get("updated_at"),
        }


def _recount(
    neighbourhoods: list[dict[str, Any]], labels: np.ndarray, alive: np.ndarray, slots: int
) -> list[dict[str, Any]]:
    live = np.asarray(labels[:slots])[np.asarray(alive[:slots]) == 1]
    sizes = np.bincount(live.astype(np.int64), minlength=len(neighbourhoods))
    return [{**n, "papers": int(sizes[n["id"]])} for n in neighbourhoods]
